#include "workloads/random.hpp"

#include <algorithm>
#include <cmath>

namespace nmp::workloads {
namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

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
  for (uint64_t& s : s_) s = splitmix64(seed);
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return unit(next()); }

double Rng::normal() {
  auto draw = [this] { return next(); };
  return normal_from(draw);
}

template <class Draw>
double Rng::normal_from(Draw& draw) {
  const Ziggurat& z = ziggurat();
  const auto open_uniform = [&] { return unit(draw()) + 0x1.0p-54; };  // (0, 1), for logs
  for (;;) {
    const LayerPoint p = layer_point(draw(), z);
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
    if (f1 + unit(draw()) * (f0 - f1) < 1.0) return v;
  }
}

void Rng::fill_normal(float* out, size_t count, double mean, double std) {
  // The generator's words are drawn ahead, a block at a time, and every word's first test (the
  // one nearly every draw ends at) is made for the whole block at once; values then come from
  // the block in order, and a word outside its rectangle goes through normal_from, drawing what
  // it needs after it. Never more words than the values still to come need (each takes at
  // least one), so the state ends where `count` calls of normal() leave it.
  constexpr size_t kBlock = 256;
  const Ziggurat& z = ziggurat();
  uint64_t words[kBlock];
  float value[kBlock];
  uint8_t inside[kBlock];
  size_t at = 0, end = 0, made = 0;
  auto refill = [&] {
    end = std::min(kBlock, count - made);
    for (size_t w = 0; w < end; ++w) words[w] = next();
    first_tests(words, end, z, mean, std, value, inside);
    at = 0;
  };
  auto draw = [&] {
    if (at == end) refill();
    return words[at++];
  };
  while (made < count) {
    if (at == end) refill();
    // The run of words inside their rectangles, at most the values still to come.
    const size_t most = std::min(end - at, count - made);
    size_t run = 0;
    while (run < most && inside[at + run]) ++run;
    std::copy(value + at, value + at + run, out + made);
    at += run;
    made += run;
    if (made < count && run < most)
      out[made++] = static_cast<float>(mean + std * normal_from(draw));
  }
}

}  // namespace nmp::workloads
