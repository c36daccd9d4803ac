// The vector unit's arithmetic: fp32 against the host's IEEE floats, PWL functions against
// their tables' reported errors, reductions in their documented order.
#include <catch2/catch.hpp>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "hw_models/arith/minifloat.hpp"
#include "hw_models/arith/vector_math.hpp"

using namespace nmp::arith;

namespace {

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

float float_of(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

}  // namespace

TEST_CASE("fp32 decodes, encodes, adds and multiplies exactly as IEEE binary32", "[unit]") {
  // The host's float arithmetic is an independent implementation of the same rounding.
  std::mt19937_64 rng(21);
  for (int i = 0; i < 200000; ++i) {
    const auto a = static_cast<uint32_t>(rng()), b = static_cast<uint32_t>(rng());
    const float fa = float_of(a), fb = float_of(b);
    if (std::isnan(fa) || std::isnan(fb)) continue;
    REQUIRE(to_double(kFp32.decode(a)) == static_cast<double>(fa));
    const uint32_t sum = kFp32.encode(add(kFp32.decode(a), kFp32.decode(b)));
    const uint32_t product = kFp32.encode(mul(kFp32.decode(a), kFp32.decode(b)));
    if (!std::isnan(fa + fb)) REQUIRE(sum == bits_of(fa + fb));
    if (!std::isnan(fa * fb)) REQUIRE(product == bits_of(fa * fb));
    const double d =
        std::ldexp(static_cast<double>(rng() >> 11), static_cast<int>(rng() % 300) - 200);
    REQUIRE(kFp32.encode(from_double(d)) == bits_of(static_cast<float>(d)));
  }
}

TEST_CASE("an fp32 vector format takes a double that is a float as its bits, as rounding it would",
          "[unit]") {
  // VectorMath::from_double's shortcut against the exact rounding it stands for, on floats of
  // every exponent (subnormals, +-0, the largest) and on doubles between floats, saturations
  // counted alike.
  const VectorMath fast({"fp32", 64, 10, ""}), exact({"fp32", 64, 10, ""});
  std::mt19937_64 rng(22);
  std::vector<double> values = {0.0,
                                -0.0,
                                FLT_MAX,
                                -FLT_MAX,
                                FLT_MIN,
                                FLT_TRUE_MIN,
                                1e300,
                                -1e300,
                                std::numeric_limits<double>::infinity(),
                                std::numeric_limits<double>::quiet_NaN()};
  for (int i = 0; i < 100000; ++i) {
    const float f = float_of(static_cast<uint32_t>(rng()));
    if (!std::isnan(f)) values.push_back(f);
    values.push_back(
        std::ldexp(static_cast<double>(rng() >> 11), static_cast<int>(rng() % 300) - 200));
  }
  for (const double d : values) {
    INFO(d);
    const uint32_t got = fast.from_double(d), want = exact.round(from_double(d));
    if (std::isnan(d)) {
      REQUIRE(std::isnan(float_of(got)));
    } else {
      REQUIRE(got == want);
    }
  }
  REQUIRE(fast.saturations() == exact.saturations());
}

TEST_CASE("an integer accumulator converts to the vector format as its exact value rounded",
          "[unit]") {
  // VectorMath::from_int32 (the host's conversion for fp32) against rounding the integer's
  // exact value, in fp32, fp16 (where large sums saturate) and posit<16,1>: every power of two
  // and its neighbours, the extremes, and random values of every magnitude.
  std::mt19937_64 rng(23);
  std::vector<int32_t> values = {0, 1, -1, INT32_MAX, INT32_MIN, INT32_MIN + 1};
  for (int e = 0; e < 31; ++e) {
    for (const int64_t d : {-1, 0, 1}) {
      const int64_t v = (int64_t{1} << e) + d;
      if (v <= INT32_MAX) values.push_back(static_cast<int32_t>(v));
      values.push_back(static_cast<int32_t>(-v));
    }
  }
  for (int i = 0; i < 100000; ++i) {
    values.push_back(static_cast<int32_t>(static_cast<uint32_t>(rng()) >> (rng() % 32)) *
                     (rng() % 2 == 0 ? 1 : -1));
  }
  for (const char* format : {"fp32", "fp16", "posit<16,1>"}) {
    const VectorMath vm({format, 64, 10, ""}), exact({format, 64, 10, ""});
    size_t exact_conversions = 0;
    for (const int32_t v : values) {
      INFO(format << " " << v);
      const int64_t wide = v;
      const uint32_t want = exact.round(
          Unpacked::from_integer(wide < 0, static_cast<uint64_t>(wide < 0 ? -wide : wide), 0));
      REQUIRE(vm.from_int32(v) == want);
      exact_conversions += exact.to_double(want) == static_cast<double>(v);
    }
    REQUIRE(vm.saturations() == exact.saturations());
    // The values round: not every one converts exactly, nor none.
    REQUIRE(exact_conversions > 0);
    REQUIRE(exact_conversions < values.size());
  }
}

TEST_CASE("a direct PWL function's error is exactly what its table reports", "[unit]") {
  // In fp32 every grid input and every table output is exact, so the unit's worst error over
  // the table's whole input grid must equal the table's own max_abs_error().
  const auto f = GENERATE(VectorFunction::kSigmoid, VectorFunction::kTanh, VectorFunction::kGelu,
                          VectorFunction::kSilu);
  const uint32_t segments = GENERATE(16u, 64u);
  const VectorMath vm({"fp32", segments, 10, ""});
  const PwlTable& t = *vm.table(f);
  const double lsb = std::ldexp(1.0, -t.spec().input.frac_bits);
  double worst = 0;
  for (double x = t.spec().lo; x <= t.spec().hi; x += lsb) {
    const double y = vm.to_double(vm.apply(f, vm.from_double(x)));
    worst = std::max(worst, std::fabs(y - evaluate(f, x)));
  }
  INFO(to_string(f) << " with " << segments << " segments");
  REQUIRE(worst == t.max_abs_error());
  REQUIRE(worst > 0);
  if (segments == 64) REQUIRE(worst < 0.01);
}

TEST_CASE("range-reduced functions stay within their tables' relative error", "[unit]") {
  const int frac = 12;
  const VectorMath vm({"fp32", 64, frac, ""});
  const double grid = std::ldexp(1.0, -frac);
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> mantissa(1.0, 2.0);
  for (int i = 0; i < 20000; ++i) {
    const int e = static_cast<int>(rng() % 40) - 20;
    const double x = static_cast<float>(mantissa(rng) * std::ldexp(1.0, e));
    // 1/x: table error plus the input's rounding to the grid (slope <= 1), relative to 1/x.
    const double r = vm.to_double(vm.apply(VectorFunction::kReciprocal, vm.from_double(x)));
    const double r_bound = 2 * (vm.table(VectorFunction::kReciprocal)->max_abs_error() + grid / 2);
    REQUIRE(std::fabs(r * x - 1.0) <= r_bound + 1e-7);
    const double s = vm.to_double(vm.apply(VectorFunction::kRsqrt, vm.from_double(x)));
    const double s_bound = 2 * (vm.table(VectorFunction::kRsqrt)->max_abs_error() + grid / 4);
    REQUIRE(std::fabs(s * std::sqrt(x) - 1.0) <= s_bound + 1e-7);
    // exp on [-20, 8]: 2^f with f on the grid (error ln2 2^f grid/2 <= grid), times 2^i.
    const double z = std::ldexp(static_cast<double>(rng() % 28000), -10) - 20.0;
    const double ez = vm.to_double(vm.apply(VectorFunction::kExp, vm.from_double(z)));
    const double e_bound = vm.table(VectorFunction::kExp)->max_abs_error() + grid;
    REQUIRE(std::fabs(ez / std::exp(static_cast<float>(z)) - 1.0) <= e_bound + 1e-7);
  }
  // Edges: exp saturates, 1/0 and rsqrt of non-positives follow the format's specials.
  REQUIRE(vm.to_double(vm.apply(VectorFunction::kExp, vm.from_double(-1e9))) == 0.0);
  REQUIRE(std::isinf(vm.to_double(vm.apply(VectorFunction::kExp, vm.from_double(1e9)))));
  REQUIRE(std::isinf(vm.to_double(vm.apply(VectorFunction::kReciprocal, vm.from_double(0.0)))));
  REQUIRE(std::isnan(vm.to_double(vm.apply(VectorFunction::kRsqrt, vm.from_double(-1.0)))));
  REQUIRE(vm.to_double(vm.apply(VectorFunction::kGelu, vm.from_double(100.0))) == 100.0);
  REQUIRE(vm.to_double(vm.apply(VectorFunction::kSilu, vm.from_double(-100.0))) == 0.0);
}

TEST_CASE("squared ReLU is one exact multiply, rounded once", "[unit]") {
  const VectorMath vm({"fp32", 64, 12, ""});
  std::mt19937 rng(2);
  for (int i = 0; i < 10000; ++i) {
    const float x = float_of(rng() & 0x7fffffffu) * (rng() % 2 ? 1.0f : -1.0f);
    if (std::isnan(x)) continue;
    const float expected = x > 0 ? x * x : 0.0f;
    REQUIRE(vm.apply(VectorFunction::kSquaredRelu, bits_of(x)) == bits_of(expected));
  }
}

TEST_CASE("sums follow the documented lane order in every internal format", "[unit]") {
  std::mt19937 rng(4);
  for (uint32_t lanes : {1u, 3u, 8u, 64u}) {
    for (size_t n : {1u, 2u, 7u, 64u, 65u, 300u}) {
      std::vector<float> x(n);
      for (float& v : x)
        v = std::ldexp(static_cast<float>(static_cast<int>(rng() % 20001) - 10000),
                       -static_cast<int>(rng() % 20));
      // fp32 against host floats in the same order.
      std::vector<float> partial;
      for (size_t j = 0; j < lanes && j < n; ++j) {
        float s = x[j];
        for (size_t i = j + lanes; i < n; i += lanes) s = s + x[i];
        partial.push_back(s);
      }
      while (partial.size() > 1) {
        std::vector<float> next;
        for (size_t i = 0; i + 1 < partial.size(); i += 2)
          next.push_back(partial[i] + partial[i + 1]);
        if (partial.size() % 2) next.push_back(partial.back());
        partial = next;
      }
      const VectorMath vm({"fp32", 64, 12, ""});
      std::vector<uint32_t> patterns;
      for (float v : x) patterns.push_back(bits_of(v));
      REQUIRE(vm.sum(patterns, lanes) == bits_of(partial[0]));
    }
  }
}

TEST_CASE("the internal format is any number format, each op rounded once", "[unit]") {
  for (const char* name : {"fp16", "bf16", "posit<16,1>", "fixed<4,12>", "posit<8,0>"}) {
    const VectorMath vm({name, 32, 10, ""});
    const auto f = make_format(name);
    std::mt19937 rng(6);
    const uint32_t mask = (f->bits() == 32 ? 0 : (1u << f->bits())) - 1;
    for (int i = 0; i < 5000; ++i) {
      const uint32_t a = rng() & mask, b = rng() & mask;
      INFO(name << " " << a << " " << b);
      REQUIRE(vm.add(a, b) == f->add(a, b));
      REQUIRE(vm.mul(a, b) == f->mul(a, b));
      const uint32_t s = vm.apply(VectorFunction::kSigmoid, a);
      // The table's output value, rounded once into the format.
      const PwlTable& t = *vm.table(VectorFunction::kSigmoid);
      const int64_t in = t.spec().input.raw(t.spec().input.encode(f->decode(a)));
      if (!f->decode(a).is_nan()) {
        REQUIRE(s == f->from_double(std::ldexp(static_cast<double>(t.eval_raw(in)),
                                               -t.spec().output.frac_bits)));
      }
    }
    REQUIRE(vm.element_bytes() == static_cast<uint32_t>((f->bits() + 7) / 8));
  }
}

TEST_CASE("a format overflows exactly past its largest finite value", "[unit]") {
  for (const char* name : {"fp16", "bf16", "fp8_e4m3", "fp8_e5m2_sat", "posit<8,0>", "posit<16,1>",
                           "fixed<4,12>", "fixed<2,6,wrap>", "fp32"}) {
    INFO(name);
    const auto f = make_format(name);
    const Unpacked max = f->decode(f->max_finite_pattern());
    REQUIRE(!f->overflows(max));
    REQUIRE(!f->overflows(negate(max)));
    // One part in 2^40 more is beyond it; infinities and NaN are not finite results.
    const Unpacked above = mul(max, from_double(1 + std::ldexp(1.0, -40)));
    REQUIRE(f->overflows(above));
    REQUIRE(f->overflows(negate(above)));
    REQUIRE(!f->overflows(Unpacked::inf(false)));
    REQUIRE(!f->overflows(Unpacked::nan()));
    // The largest finite value is the largest pattern that decodes finite.
    REQUIRE(to_double(max) > 0);
  }
}

TEST_CASE("sums accumulate in the accumulator format and count saturations", "[unit]") {
  // 64 values of 0.5 in fixed<4,12>: the sum, 32, exceeds the format (max 7.9998).
  VectorMathSpec spec;
  spec.format = "fixed<4,12>";
  REQUIRE(default_accumulator_format(spec.format) == "fixed<20,12>");
  REQUIRE(default_accumulator_format("fp16") == "fp32");
  REQUIRE(default_accumulator_format("posit<16,1>") == "posit<32,1>");
  const VectorMath wide(spec);
  const std::vector<uint32_t> xs(64, wide.from_double(0.5));
  REQUIRE(to_double(wide.sum_wide(xs, 16)) == 32.0);
  REQUIRE(wide.saturations()[static_cast<size_t>(VectorOpClass::kReduce)] == 0);
  // The mean (32 x 1/64 in fixed<20,12>) is exact; the sum written out saturates.
  REQUIRE(wide.to_double(wide.mean(xs, 16)) == 0.5);
  REQUIRE(wide.to_double(wide.sum(xs, 16)) == wide.to_double(wide.format().max_finite_pattern()));
  REQUIRE(wide.saturations()[static_cast<size_t>(VectorOpClass::kReduce)] == 1);
  // Reciprocal of the sum: 1/32 from the wide sum.
  REQUIRE(wide.to_double(wide.reciprocal_of_sum(xs, 16)) == Approx(1.0 / 32).epsilon(1e-3));
  spec.accumulator_format = "fixed<4,12>";
  const VectorMath narrow(spec);
  REQUIRE(narrow.to_double(narrow.reciprocal_of_sum(xs, 16)) == Approx(1.0 / 8).epsilon(1e-2));
  REQUIRE(narrow.saturations()[static_cast<size_t>(VectorOpClass::kReduce)] > 0);
}

TEST_CASE("fp32 add, sub and mul in host floats equal the exact path, saturations included",
          "[unit]") {
  // An fp32 internal format takes the host's floats; the exact path (decode, exact arithmetic,
  // encode, NumberFormat::overflows) is the reference, on random patterns and on the values
  // where rounding, overflow, zeros' signs and NaN decide.
  VectorMathSpec spec;
  const VectorMath vm(spec);
  const auto fp32 = make_format("fp32");
  std::vector<uint32_t> special;
  for (float f : {0.0f,
                  -0.0f,
                  1.0f,
                  -1.0f,
                  FLT_MAX,
                  -FLT_MAX,
                  FLT_MIN,
                  -FLT_MIN,
                  std::nextafter(FLT_MAX, 0.0f),
                  std::ldexp(1.0f, 127),
                  std::ldexp(1.0f, 104),
                  std::ldexp(1.0f, 103),
                  std::ldexp(1.5f, 103),
                  std::ldexp(1.0f, 64),
                  std::ldexp(1.0f, -149),
                  -std::ldexp(1.0f, -149),
                  std::ldexp(1.0f, -126),
                  std::numeric_limits<float>::infinity(),
                  -std::numeric_limits<float>::infinity(),
                  std::numeric_limits<float>::quiet_NaN()}) {
    special.push_back(bits_of(f));
  }
  std::mt19937_64 rng(77);
  uint64_t expected_add = 0, expected_mul = 0;
  std::vector<uint32_t> as, bs;  // every pair, for the row loops below
  auto check = [&](uint32_t a, uint32_t b) {
    as.push_back(a), bs.push_back(b);
    const Unpacked x = fp32->decode(a), y = fp32->decode(b);
    const Unpacked sum = add(x, y), difference = sub(x, y), product = mul(x, y);
    REQUIRE(vm.add(a, b) == fp32->encode(sum));
    REQUIRE(vm.sub(a, b) == fp32->encode(difference));
    REQUIRE(vm.mul(a, b) == fp32->encode(product));
    expected_add += fp32->overflows(sum) + fp32->overflows(difference);
    expected_mul += fp32->overflows(product);
    REQUIRE(vm.saturations()[static_cast<size_t>(VectorOpClass::kAdd)] == expected_add);
    REQUIRE(vm.saturations()[static_cast<size_t>(VectorOpClass::kMul)] == expected_mul);
  };
  for (uint32_t a : special) {
    for (uint32_t b : special) check(a, b);
  }
  for (int i = 0; i < 300000; ++i) {
    const auto a = static_cast<uint32_t>(rng()), b = static_cast<uint32_t>(rng());
    check(a, b);
    // Near the top of the range, where sums and products overflow or just do not.
    const uint32_t top = 0x7e000000u | static_cast<uint32_t>(rng() & 0x00ffffff);
    const uint32_t sign = static_cast<uint32_t>(rng() & 0x80000000u);
    check(top | sign, special[static_cast<size_t>(rng() % special.size())]);
    check(top, 0x7f000000u | static_cast<uint32_t>(rng() & 0x00ffffff));
    check(top, 0x3f800000u | static_cast<uint32_t>(rng() & 0x00ffffff));
  }
  REQUIRE(expected_add > 1000);  // overflows were exercised
  REQUIRE(expected_mul > 1000);
  // native_row: the same bits and counts over rows of every pair, stored one byte off
  // alignment, and with the second operand one scalar (FLT_MAX: many overflow).
  const size_t n = as.size();
  std::vector<uint8_t> x(4 * n + 1), y(4 * n + 1), z(4 * n + 1), largest(5);
  std::memcpy(&x[1], as.data(), 4 * n);
  std::memcpy(&y[1], bs.data(), 4 * n);
  const uint32_t max_bits = bits_of(FLT_MAX);
  std::memcpy(&largest[1], &max_bits, 4);
  for (const auto op :
       {VectorMath::NativeOp::kAdd, VectorMath::NativeOp::kSub, VectorMath::NativeOp::kMul}) {
    for (const bool scalar : {false, true}) {
      const VectorMath rows(spec), one_by_one(spec);
      rows.native_row(op, &x[1], scalar ? &largest[1] : &y[1], scalar, &z[1], n);
      for (size_t i = 0; i < n; ++i) {
        const uint32_t b = scalar ? max_bits : bs[i];
        const uint32_t want = op == VectorMath::NativeOp::kAdd   ? one_by_one.add(as[i], b)
                              : op == VectorMath::NativeOp::kSub ? one_by_one.sub(as[i], b)
                                                                 : one_by_one.mul(as[i], b);
        uint32_t got;
        std::memcpy(&got, &z[1 + 4 * i], 4);
        INFO("pair " << i << " op " << static_cast<int>(op) << " scalar " << scalar);
        REQUIRE(got == want);
      }
      REQUIRE(rows.saturations() == one_by_one.saturations());
      REQUIRE(rows.saturations() != SaturationCounts{});
    }
  }
  const VectorMath fp16({"fp16", 64, 10, ""});
  REQUIRE_THROWS_AS(fp16.native_row(VectorMath::NativeOp::kAdd, &x[1], &y[1], false, &z[1], 1),
                    std::logic_error);
}

TEST_CASE("fp32 max, min and abs in host floats equal the exact path", "[unit]") {
  VectorMathSpec spec;
  const VectorMath vm(spec);
  const auto fp32 = make_format("fp32");
  std::mt19937_64 rng(78);
  std::vector<uint32_t> patterns = {bits_of(0.0f),
                                    bits_of(-0.0f),
                                    bits_of(FLT_MAX),
                                    bits_of(std::numeric_limits<float>::infinity()),
                                    bits_of(-std::numeric_limits<float>::infinity()),
                                    bits_of(std::numeric_limits<float>::quiet_NaN()),
                                    0xffc00001u};
  for (int i = 0; i < 2000; ++i) patterns.push_back(static_cast<uint32_t>(rng()));
  const uint32_t nan = fp32->encode(Unpacked::nan());
  for (uint32_t a : patterns) {
    Unpacked magnitude = fp32->decode(a);
    magnitude.neg = false;
    REQUIRE(vm.abs(a) == fp32->encode(magnitude));
    for (size_t j = 0; j < 40; ++j) {
      const uint32_t b = patterns[(j * 7919 + a) % patterns.size()];
      const Unpacked x = fp32->decode(a), y = fp32->decode(b);
      const bool either_nan = x.is_nan() || y.is_nan();
      REQUIRE(vm.max(a, b) == (either_nan ? nan : compare(x, y) >= 0 ? a : b));
      REQUIRE(vm.min(a, b) == (either_nan ? nan : compare(x, y) <= 0 ? a : b));
    }
  }
}
