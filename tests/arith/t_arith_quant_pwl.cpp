#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "hw_models/arith/binary.hpp"
#include "hw_models/arith/intquant.hpp"
#include "hw_models/arith/pwl.hpp"

using namespace nmp::arith;

TEST_CASE("XNOR/popcount dot products equal the +-1 dot product", "[unit]") {
  std::mt19937 rng(3);
  for (size_t n : {1u, 63u, 64u, 65u, 200u, 1000u}) {
    std::vector<float> a(n), b(n);
    for (float& v : a) v = static_cast<float>(static_cast<int>(rng() % 201) - 100);
    for (float& v : b) v = static_cast<float>(static_cast<int>(rng() % 201) - 100);
    const BinaryTensor qa = quantize_sign(a.data(), n), qb = quantize_sign(b.data(), n);
    int64_t naive = 0;
    double abs_sum = 0;
    for (size_t i = 0; i < n; ++i) {
      naive += (a[i] >= 0 ? 1 : -1) * (b[i] >= 0 ? 1 : -1);
      REQUIRE(qa.value(i) == (a[i] >= 0 ? 1 : -1));
      abs_sum += std::fabs(a[i]);
    }
    REQUIRE(xnor_dot(qa.bits.data(), qb.bits.data(), n) == naive);
    REQUIRE(qa.scale == Approx(abs_sum / n));
  }
}

TEST_CASE("integer quantization: every mode stays in range and within half a step", "[unit]") {
  const int bits = GENERATE(2, 4, 8, 16);
  const bool symmetric = GENERATE(true, false);
  const auto granularity = GENERATE(IntGranularity::kPerTensor, IntGranularity::kPerRow);
  std::mt19937 rng(bits);
  std::normal_distribution<float> normal(0.5f, 2.0f);
  const size_t rows = 7, cols = 33;
  std::vector<float> x(rows * cols);
  for (float& v : x) v = normal(rng);
  x[5] = 0.0f;
  const IntQuantized q = quantize_int(x.data(), rows, cols, {bits, symmetric, granularity});
  const int32_t lo = -(1 << (bits - 1)), hi = (1 << (bits - 1)) - 1;
  for (size_t i = 0; i < x.size(); ++i) {
    REQUIRE(q.values[i] >= lo);
    REQUIRE(q.values[i] <= hi);
    const size_t g = granularity == IntGranularity::kPerTensor ? 0 : i / cols;
    // Round to nearest: within half a step (plus float rounding of the scale).
    REQUIRE(std::fabs(q.dequantize(i) - x[i]) <= q.step[g] * 0.5f * (1 + 1e-5f) + 1e-6f);
    if (symmetric) REQUIRE(q.values[i] != lo);  // absmax scaling reaches only +-qmax
  }
  REQUIRE(q.dequantize(5) == 0.0f);  // zero is exact in every mode
}

TEST_CASE("absmax is the largest magnitude, a NaN never winning", "[unit]") {
  // Random bit patterns (NaNs, infinities, subnormals, -0) in rows of every length up to 300
  // against fabs and a comparison element by element.
  std::mt19937_64 rng(9);
  for (int trial = 0; trial < 3000; ++trial) {
    const size_t n = rng() % 301;
    std::vector<float> row(n);
    for (float& v : row) {
      auto bits = static_cast<uint32_t>(rng());
      if (rng() % 4 == 0) bits &= 0x807fffffu;                    // zeros and subnormals
      if (rng() % 30 == 0) bits |= 0x7f800000u;                   // infinities and NaNs
      if (trial % 3 == 0 && rng() % 2 == 0) bits &= 0x3fffffffu;  // small magnitudes
      std::memcpy(&v, &bits, 4);
    }
    float want = 0.0f;
    for (const float v : row) {
      if (!std::isnan(v) && std::fabs(v) > want) want = std::fabs(v);
    }
    INFO("trial " << trial << " n " << n);
    const float got = absmax(row.data(), n);
    REQUIRE(std::memcmp(&got, &want, 4) == 0);
  }
}

TEST_CASE("symmetric quantization takes a NaN to 0 and leaves the rest as without it", "[unit]") {
  // absmax passes over the NaN, so the other values keep their scale; the NaN itself is 0, as
  // the vector unit's int8 conversion has it (not an undefined float-to-int conversion).
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> with = {1.5f, -3.0f, nan, 0.25f, 2.0f};
  const std::vector<float> without = {1.5f, -3.0f, 0.0f, 0.25f, 2.0f};
  for (const int bits : {4, 8, 16}) {
    const IntQuantized a =
        quantize_int(with.data(), 1, with.size(), {bits, true, IntGranularity::kPerTensor});
    const IntQuantized b =
        quantize_int(without.data(), 1, without.size(), {bits, true, IntGranularity::kPerTensor});
    REQUIRE(a.values == b.values);
    REQUIRE(a.values[2] == 0);
    REQUIRE(a.step == b.step);
  }
}

TEST_CASE("integer quantization rounds as nearbyint does, ties to even", "[unit]") {
  // The definition, computed apart: the scale from the range, then nearbyint, then clamp. The
  // inputs include exact ties (absmax 127 makes the symmetric scale 1, so k + 0.5 is a tie)
  // and, for the asymmetric mode, a range far from zero whose quotients in / step pass 2^22.
  const bool symmetric = GENERATE(true, false);
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> x(20000);
  for (float& v : x) v = normal(rng);
  x[0] = 127.0f;
  for (int k = -20; k < 20; ++k) x[static_cast<size_t>(k + 21)] = static_cast<float>(k) + 0.5f;
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::vector<float> far(1000);
  for (float& v : far) v = 1.0e6f + unit(rng);
  for (const std::vector<float>* in : {&x, &far}) {
    const IntQuantized q =
        quantize_int(in->data(), 1, in->size(), {8, symmetric, IntGranularity::kPerTensor});
    float amax = 0, lo = 0, hi = 0;
    for (const float v : *in) {
      amax = std::max(amax, std::fabs(v));
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    const float s = 127.0f / std::max(amax, 1e-5f);
    const float step = std::max(hi - lo, 1e-5f) / 255.0f;
    const float zp = std::nearbyint(-lo / step) - 128.0f;
    for (size_t i = 0; i < in->size(); ++i) {
      const float v = (*in)[i];
      const float expected = symmetric ? std::clamp(std::nearbyint(v * s), -128.0f, 127.0f)
                                       : std::clamp(std::nearbyint(v / step) + zp, -128.0f, 127.0f);
      INFO("i " << i << " x " << v);
      REQUIRE(q.values[i] == static_cast<int32_t>(expected));
    }
  }
}

TEST_CASE("PWL max error is what an independent evaluation finds", "[unit]") {
  const auto fn =
      GENERATE(PwlFunction::kSigmoid, PwlFunction::kTanh, PwlFunction::kExp, PwlFunction::kGelu,
               PwlFunction::kSilu, PwlFunction::kReciprocal, PwlFunction::kRsqrt);
  PwlSpec spec;
  spec.function = fn;
  spec.segments = 16;
  if (fn == PwlFunction::kExp) {
    spec.lo = -8;
    spec.hi = 0;
  }
  if (fn == PwlFunction::kReciprocal || fn == PwlFunction::kRsqrt) {
    spec.lo = 0.5;
    spec.hi = 2;
    spec.segments = 12;
  }
  const PwlTable t = PwlTable::build(spec);
  // The fixed-point evaluation written out from the table's coefficients.
  const int fx = spec.input.frac_bits, fc = spec.coeff.frac_bits, fy = spec.output.frac_bits;
  const int64_t lo = std::llround(std::ldexp(spec.lo, fx)),
                hi = std::llround(std::ldexp(spec.hi, fx));
  const int64_t width = (hi - lo) / spec.segments;
  double worst = 0;
  for (int64_t x = lo; x <= hi; ++x) {
    const int64_t seg = std::min<int64_t>((x - lo) / width, spec.segments - 1);
    const long double exact_y =
        (static_cast<long double>(t.slopes()[seg]) * x +
         static_cast<long double>(t.intercepts()[seg]) * std::ldexp(1.0L, fx)) /
        std::ldexp(1.0L, fc + fx - fy);
    long double y = std::nearbyint(exact_y);  // the current rounding mode is to-nearest-even
    y = std::clamp<long double>(y, spec.output.min_raw(), spec.output.max_raw());
    REQUIRE(t.eval_raw(x) == static_cast<int64_t>(y));
    worst = std::max(worst, std::fabs(std::ldexp(static_cast<double>(y), -fy) -
                                      evaluate(fn, std::ldexp(static_cast<double>(x), -fx))));
  }
  REQUIRE(t.max_abs_error() == worst);
}

TEST_CASE("PWL sigmoid and tanh beat the uniform chord tables of nonlinear.md", "[unit]") {
  // nonlinear.md (uniform PWL with saturation, dense grid): sigmoid 32 segments on +-8:
  // 0.0030; tanh 64 segments on +-8: 0.0060. Minimax lines, rounded to 2^-12 outputs, do
  // better, but not by more than the halving that minimax buys over chords.
  PwlSpec s;
  s.segments = 32;
  const double sig = PwlTable::build(s).max_abs_error();
  REQUIRE(sig < 0.0030);
  REQUIRE(sig > 0.0030 / 2.5);
  s.function = PwlFunction::kTanh;
  s.segments = 64;
  const double th = PwlTable::build(s).max_abs_error();
  REQUIRE(th < 0.0060);
  REQUIRE(th > 0.0060 / 2.5);
}

TEST_CASE("PWL tables built for an error target use the fewest segments that reach it", "[unit]") {
  PwlSpec s;
  s.function = PwlFunction::kTanh;
  const PwlTable t = PwlTable::build_for_error(s, 0.002);
  REQUIRE(t.max_abs_error() <= 0.002);
  s.segments = t.spec().segments / 2;
  REQUIRE(PwlTable::build(s).max_abs_error() > 0.002);
  REQUIRE_THROWS_AS(PwlTable::build_for_error(s, 1e-9, 1, 64), std::invalid_argument);
  PwlSpec bad;
  bad.segments = 7;  // 16 / 7 is not a whole number of 2^-11 steps
  REQUIRE_THROWS_AS(PwlTable::build(bad), std::invalid_argument);
  bad.segments = 8;
  bad.hi = 100;  // outside fixed<5,11>
  REQUIRE_THROWS_AS(PwlTable::build(bad), std::invalid_argument);
}
