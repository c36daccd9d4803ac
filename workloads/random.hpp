// A small, portable random number generator (xoshiro256**, seeded by splitmix64) so that the
// same seed gives the same tensors on every platform and standard library.
//
// Eight xoshiro256** generators run side by side (lanes), each seeded with four splitmix64
// words of the seed in turn: the stream is their words interleaved, step by step (word 8k + j
// is lane j's k-th), which one vector instruction sequence per step computes. Every platform
// gets the same words; the lanes only make them cheap (docs/configs.md#seeds). A normal value
// takes one word of the stream: its ziggurat layer and place in it, which is the value when it
// falls inside the layer's rectangle (98.8% of words); the others finish the ziggurat (tail,
// wedge test, or a fresh start) on a ninth generator set aside, seeded by the next four
// splitmix64 words.
//
// A source that yields several tensors (a recurrent layer's W, U and biases per direction, an
// attention cache's K and V) draws each from its own stream, derive_seed(seed, name, index):
// streams of different names, indices or seeds never share values (docs/configs.md#seeds).
//
// Example:
//   Rng rng(derive_seed(layer_seed, "W", direction));
//   const double x = rng.normal();
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nmp::workloads {

// The seed of stream `index` of the tensor named `stream` of a source seeded `seed`.
uint64_t derive_seed(uint64_t seed, std::string_view stream, uint64_t index = 0);

class Rng {
 public:
  static constexpr size_t kLanes = 8;
  explicit Rng(uint64_t seed);
  uint64_t next() {
    if (at_ == kBuffered) refill();
    return buffer_[at_++];
  }
  // out[i] = the next `count` words: as `count` calls of next(), in bulk.
  void fill_words(uint64_t* out, size_t count);
  double uniform();  // [0, 1) with 53 random bits
  double normal();   // standard normal, by the ziggurat method (one word per value)
  // out[i] = float(mean + std * normal()) for i < count: the same values, and the state left
  // the same, as `count` calls of normal(), about twice as fast.
  void fill_normal(float* out, size_t count, double mean, double std);
  // Trits drawn directly: each from 32 random bits u (a word's low half, then its high half)
  // as -1 if u < minus_below, 0 if u < zero_below, else +1 (thresholds out of 2^32, so
  // minus_below <= zero_below <= 2^32). Takes ceil(count / 2) words.
  void fill_trits(int8_t* out, size_t count, uint64_t minus_below, uint64_t zero_below);

 private:
  // [0, 1) from a word's top 53 bits.
  static double unit(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }
  // The normal value of a word: its layer point's, or the ziggurat finished aside.
  double finish_normal(uint64_t word);
  uint64_t next_aside();  // the generator aside, one xoshiro256** word at a time
  uint64_t aside_[4];
  static constexpr size_t kSteps = 8;  // steps of every lane per refill of the buffer
  static constexpr size_t kBuffered = kLanes * kSteps;
  void refill();
  alignas(64) uint64_t state_[4][kLanes];  // state_[i][j]: lane j's word i
  alignas(64) uint64_t buffer_[kBuffered];
  size_t at_ = kBuffered;  // the next word of buffer_ to give out
};

}  // namespace nmp::workloads
