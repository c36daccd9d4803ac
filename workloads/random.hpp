// A small, portable random number generator (xoshiro256**, seeded by splitmix64) so that the
// same seed gives the same tensors on every platform and standard library.
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
  explicit Rng(uint64_t seed);
  uint64_t next();
  double uniform();  // [0, 1) with 53 random bits
  double normal();   // standard normal, by the ziggurat method (one draw per value, mostly)
  // out[i] = float(mean + std * normal()) for i < count: the same values, and the state left
  // the same, as `count` calls of normal(), about twice as fast.
  void fill_normal(float* out, size_t count, double mean, double std);

 private:
  // [0, 1) from a word's top 53 bits.
  static double unit(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }
  // normal() taking its words from draw().
  template <class Draw>
  double normal_from(Draw& draw);
  uint64_t s_[4];
};

}  // namespace nmp::workloads
