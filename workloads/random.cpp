#include "workloads/random.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace nmp::workloads {
namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Marsaglia and Tsang's ziggurat (J. Stat. Software 5(8), 2000) with 128 layers, in the
// formulation of Doornik ("An improved ziggurat method", 2005): the layers' right edges x_i
// and the ratios x_(i+1) / x_i. R is the base layer's edge, V every layer's area.
struct Ziggurat {
  static constexpr int kLayers = 128;
  static constexpr double kR = 3.442619855899;
  static constexpr double kV = 9.91256303526217e-3;
  double x[kLayers + 1];
  double ratio[kLayers];
  Ziggurat() {
    double f = std::exp(-0.5 * kR * kR);
    x[0] = kV / f;  // the base layer, a rectangle and the tail, as wide as its area needs
    x[1] = kR;
    x[kLayers] = 0;
    for (int i = 2; i < kLayers; ++i) {
      x[i] = std::sqrt(-2 * std::log(kV / x[i - 1] + f));
      f = std::exp(-0.5 * x[i] * x[i]);
    }
    for (int i = 0; i < kLayers; ++i) ratio[i] = x[i + 1] / x[i];
  }
};

const Ziggurat& ziggurat() {
  static const Ziggurat z;
  return z;
}

// One draw's layer (its low 7 bits) and signed position in it (its high 53 bits, in [-1, 1)),
// and whether the position falls inside the layer's rectangle, where the normal is u x[layer]:
// the first test of every draw (the top 53 bits convert as a signed integer, the same value,
// so that a loop of these vectorizes).
struct LayerPoint {
  double u;
  int64_t layer;
  bool inside;
};
inline LayerPoint layer_point(uint64_t bits, const Ziggurat& z) {
  const double u = 2 * (static_cast<double>(static_cast<int64_t>(bits >> 11)) * 0x1.0p-53) - 1;
  const auto layer = static_cast<int64_t>(bits & (Ziggurat::kLayers - 1));
  return {u, layer, std::fabs(u) < z.ratio[layer]};
}

// normal_from's first test for n words side by side: value[j] = float(mean + std * v), v the
// normal word j gives when it falls inside its layer's rectangle (the same operations as one
// draw, no fused multiply-adds in this file), and inside[j] whether it does.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#endif
void first_tests(const uint64_t* __restrict words, size_t n, const Ziggurat& z, double mean,
                 double std, float* __restrict value, uint8_t* __restrict inside) {
  for (size_t j = 0; j < n; ++j) {
    const LayerPoint p = layer_point(words[j], z);
    value[j] = static_cast<float>(mean + std * (p.u * z.x[p.layer]));
    inside[j] = p.inside;
  }
}

// One xoshiro256** step of state `s`, its word into `word`: of one generator (T = uint64_t) or
// of every lane at once (T = Lanes, the operators acting lane by lane; by reference, since a
// vector returned by value would change the ABI between the clones). The multiplications by 5
// and 9 as shifts and adds, which vector units have for 64-bit lanes.
template <class T>
[[gnu::always_inline]] inline void xoshiro_step(T (&s)[4], T& word) {
  const T times5 = (s[1] << 2) + s[1];
  const T rotated = (times5 << 7) | (times5 >> 57);
  const T result = (rotated << 3) + rotated;
  const T t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = (s[3] << 45) | (s[3] >> 19);
  word = result;
}

// `steps` steps of every lane: out[k * kLanes + j] is lane j's word of step k. The lanes as
// one vector (GCC's and clang's vector extension: 512-bit registers where the host has them).
using Lanes = uint64_t __attribute__((vector_size(8 * Rng::kLanes)));
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#endif
void xoshiro_lanes(uint64_t (*state)[Rng::kLanes], uint64_t* __restrict out, size_t steps) {
  Lanes s[4];
  std::memcpy(s, state, sizeof s);
  for (size_t k = 0; k < steps; ++k) {
    Lanes word;
    xoshiro_step(s, word);
    std::memcpy(out + k * Rng::kLanes, &word, sizeof word);
  }
  std::memcpy(state, s, sizeof s);
}

// Trits from the halves of `words` (low half first): fill_trits()'s rule, `count` of them.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#endif
void trits_of_words(const uint64_t* __restrict words, size_t count, uint64_t minus_below,
                    uint64_t zero_below, int8_t* __restrict out) {
  const auto trit = [&](uint64_t u) {
    return static_cast<int8_t>(int{u >= minus_below} + int{u >= zero_below} - 1);
  };
  const size_t pairs = count / 2;
  for (size_t w = 0; w < pairs; ++w) {
    out[2 * w] = trit(words[w] & 0xffffffffu);
    out[2 * w + 1] = trit(words[w] >> 32);
  }
  if (count % 2 != 0) out[count - 1] = trit(words[pairs] & 0xffffffffu);
}

}  // namespace

uint64_t derive_seed(uint64_t seed, std::string_view stream, uint64_t index) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a of the stream's name
  for (char c : stream) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ull;
  uint64_t x = seed ^ h;
  splitmix64(x);
  x ^= index * 0x9e3779b97f4a7c15ull;
  return splitmix64(x);
}

Rng::Rng(uint64_t seed) {
  for (size_t j = 0; j < kLanes; ++j) {
    for (auto& word : state_) word[j] = splitmix64(seed);
  }
  for (uint64_t& word : aside_) word = splitmix64(seed);
}

void Rng::refill() {
  xoshiro_lanes(state_, buffer_, kSteps);
  at_ = 0;
}

void Rng::fill_words(uint64_t* out, size_t count) {
  // What the buffer holds, then whole steps straight into `out`, then the rest by the buffer:
  // the same words in the same order as next() one by one.
  const size_t buffered = std::min(count, kBuffered - at_);
  std::copy(buffer_ + at_, buffer_ + at_ + buffered, out);
  at_ += buffered;
  size_t done = buffered;
  const size_t steps = (count - done) / kLanes;
  if (steps > 0) {
    xoshiro_lanes(state_, out + done, steps);
    done += steps * kLanes;
  }
  while (done < count) out[done++] = next();
}

double Rng::uniform() { return unit(next()); }

double Rng::normal() { return finish_normal(next()); }

uint64_t Rng::next_aside() {
  uint64_t word = 0;
  xoshiro_step(aside_, word);
  return word;
}

double Rng::finish_normal(uint64_t word) {
  const Ziggurat& z = ziggurat();
  const auto open_uniform = [&] { return unit(next_aside()) + 0x1.0p-54; };  // (0, 1), for logs
  for (LayerPoint p = layer_point(word, z);; p = layer_point(next_aside(), z)) {
    const double u = p.u;
    const auto i = static_cast<int>(p.layer);
    if (p.inside) return u * z.x[i];
    if (i == 0) {  // the tail beyond R (Marsaglia, 1964)
      double t = 0, y = 0;
      do {
        t = std::log(open_uniform()) / Ziggurat::kR;
        y = std::log(open_uniform());
      } while (-2 * y < t * t);
      return u < 0 ? t - Ziggurat::kR : Ziggurat::kR - t;
    }
    const double v = u * z.x[i];  // in the wedge: accept under the density
    const double f0 = std::exp(-0.5 * (z.x[i] * z.x[i] - v * v));
    const double f1 = std::exp(-0.5 * (z.x[i + 1] * z.x[i + 1] - v * v));
    if (f1 + unit(next_aside()) * (f0 - f1) < 1.0) return v;
  }
}

void Rng::fill_normal(float* out, size_t count, double mean, double std) {
  // Value i is word i's when it falls inside its layer's rectangle: a block of words drawn at
  // once and their first tests made side by side, straight into `out`; the few others are
  // finished one by one, in order, on the generator aside, as normal() finishes them.
  constexpr size_t kBlock = 256;
  const Ziggurat& z = ziggurat();
  uint64_t words[kBlock];
  uint8_t inside[kBlock];
  for (size_t made = 0; made < count; made += kBlock) {
    const size_t n = std::min(kBlock, count - made);
    fill_words(words, n);
    first_tests(words, n, z, mean, std, out + made, inside);
    for (size_t j = 0; j < n; ++j) {
      if (!inside[j]) out[made + j] = static_cast<float>(mean + std * finish_normal(words[j]));
    }
  }
}

void Rng::fill_trits(int8_t* out, size_t count, uint64_t minus_below, uint64_t zero_below) {
  constexpr size_t kBlockWords = 512;
  uint64_t words[kBlockWords];
  for (size_t made = 0; made < count;) {
    const size_t n = std::min(count - made, 2 * kBlockWords);
    fill_words(words, (n + 1) / 2);
    trits_of_words(words, n, minus_below, zero_below, out + made);
    made += n;
  }
}

}  // namespace nmp::workloads
