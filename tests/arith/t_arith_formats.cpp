// Every number format against the independent slow reference (slow_reference.hpp): 8-bit
// formats exhaustively (all 256 patterns decoded, all 65,536 sums, products and quotients, all
// square roots), 16-bit formats exhaustively for decoding and on random samples for arithmetic,
// posit<32,2> on random samples; and the seeds' worked examples.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>

#include "hw_models/arith/convert.hpp"
#include "hw_models/arith/format.hpp"
#include "hw_models/arith/minifloat.hpp"
#include "hw_models/arith/posit.hpp"
#include "slow_reference.hpp"

using namespace nmp;
using slowref::Dyadic;
using slowref::Value;

namespace {

enum class Op { kAdd, kMul, kDiv, kSqrt };

struct Expect {
  bool nan = false;
  uint32_t pattern = 0;
};

struct Subject {
  std::unique_ptr<arith::NumberFormat> impl;
  slowref::Format ref;
  slowref::Sorted order;
  bool ieee = false;             // signed zeros, infinities
  bool infinity_is_nan = false;  // posits: x/0 is NaR
  bool has_nan = true;           // fixed point has none: a NaN result encodes as 0
};

Subject subject(const std::string& name, slowref::Format ref, bool ieee, bool list_table = true) {
  Subject s{arith::make_format(name), std::move(ref), {}, ieee, false};
  s.infinity_is_nan = name.rfind("posit", 0) == 0;
  s.has_nan = name.rfind("fixed", 0) != 0 && name.rfind("int", 0) != 0;
  s.order = list_table ? slowref::make_table(s.ref) : slowref::posit_order(s.ref);
  return s;
}

uint32_t sign_bit(const Subject& s) { return 1u << (s.ref.bits - 1); }

// What an infinite exact result becomes in the format.
Expect infinite(const Subject& s, bool negative) {
  if (s.infinity_is_nan || s.ref.overflow == slowref::Overflow::kToNaN) return {true, 0};
  if (s.ref.overflow == slowref::Overflow::kSaturate) {
    return {false, s.order.pattern(negative ? 0 : s.order.size - 1)};
  }
  return {false, negative ? s.ref.neg_inf_pattern : s.ref.pos_inf_pattern};
}

Expect zero(const Subject& s, bool negative) {
  return {false, s.ieee && negative ? sign_bit(s) : 0u};
}

Expect rounded(const Subject& s, const std::function<int(const Dyadic&)>& compare_x, bool neg) {
  const uint32_t p = slowref::round_by_search(s.ref, s.order, compare_x, neg);
  const Value v = s.ref.decode(p);
  if (v.kind == Value::kNaN) return {true, 0};
  // Underflow to zero keeps the sign of the exact value in IEEE formats.
  if (s.ieee && v.kind == Value::kFinite && v.v.zero()) return zero(s, neg);
  return {false, p};
}

Expect expected(const Subject& s, Op op, uint32_t a, uint32_t b) {
  const Value va = s.ref.decode(a), vb = s.ref.decode(b);
  const bool a_inf = va.kind == Value::kPosInf || va.kind == Value::kNegInf;
  const bool b_inf = vb.kind == Value::kPosInf || vb.kind == Value::kNegInf;
  const bool a_neg = va.kind == Value::kNegInf || (va.kind == Value::kFinite && va.v.neg) ||
                     (s.ieee && (a & sign_bit(s)));
  const bool b_neg = vb.kind == Value::kNegInf || (vb.kind == Value::kFinite && vb.v.neg) ||
                     (s.ieee && (b & sign_bit(s)));
  const bool a_zero = va.kind == Value::kFinite && va.v.zero();
  const bool b_zero = vb.kind == Value::kFinite && vb.v.zero();
  if (va.kind == Value::kNaN || (op != Op::kSqrt && vb.kind == Value::kNaN)) return {true, 0};
  switch (op) {
    case Op::kAdd: {
      if (a_inf && b_inf) return a_neg == b_neg ? infinite(s, a_neg) : Expect{true, 0};
      if (a_inf || b_inf) return infinite(s, a_inf ? a_neg : b_neg);
      const Dyadic sum = slowref::add(va.v, vb.v);
      if (sum.zero()) return zero(s, a_zero && b_zero && a_neg && b_neg);
      return rounded(
          s, [&](const Dyadic& t) { return slowref::cmp(sum, t); }, sum.neg);
    }
    case Op::kMul: {
      if ((a_inf && b_zero) || (b_inf && a_zero)) return {true, 0};
      if (a_inf || b_inf) return infinite(s, a_neg != b_neg);
      const Dyadic p = slowref::mul(va.v, vb.v);
      if (p.zero()) return zero(s, a_neg != b_neg);
      return rounded(
          s, [&](const Dyadic& t) { return slowref::cmp(p, t); }, p.neg);
    }
    case Op::kDiv: {
      if ((a_inf && b_inf) || (a_zero && b_zero)) return {true, 0};
      if (a_inf) return infinite(s, a_neg != b_neg);
      if (b_inf) return zero(s, a_neg != b_neg);
      if (b_zero) return infinite(s, a_neg != b_neg);
      if (a_zero) return zero(s, a_neg != b_neg);
      // sign(a/b - t) = sign(a - t b) x sign(b)
      const int sb = vb.v.neg ? -1 : 1;
      return rounded(
          s, [&](const Dyadic& t) { return slowref::cmp(va.v, slowref::mul(t, vb.v)) * sb; },
          va.v.neg != vb.v.neg);
    }
    case Op::kSqrt: {
      if (a_zero) return zero(s, a_neg);
      if (a_neg) return {true, 0};
      if (a_inf) return infinite(s, false);
      return rounded(
          s,
          [&](const Dyadic& t) {
            if (t.neg) return 1;
            return slowref::cmp(va.v, slowref::mul(t, t));
          },
          false);
    }
  }
  return {true, 0};
}

uint32_t actual(const Subject& s, Op op, uint32_t a, uint32_t b) {
  switch (op) {
    case Op::kAdd:
      return s.impl->add(a, b);
    case Op::kMul:
      return s.impl->mul(a, b);
    case Op::kDiv:
      return s.impl->div(a, b);
    case Op::kSqrt:
      return s.impl->sqrt(a);
  }
  return 0;
}

void check(const Subject& s, Op op, uint32_t a, uint32_t b) {
  Expect e = expected(s, op, a, b);
  if (e.nan && !s.has_nan) e = {false, 0};
  const uint32_t got = actual(s, op, a, b);
  if (e.nan) {
    if (!s.impl->decode(got).is_nan()) {
      FAIL(s.impl->name() << " op " << static_cast<int>(op) << " (" << a << ", " << b
                          << "): expected NaN, got pattern " << got);
    }
  } else if (got != e.pattern) {
    FAIL(s.impl->name() << " op " << static_cast<int>(op) << " (" << a << ", " << b
                        << "): expected pattern " << e.pattern << ", got " << got);
  }
}

void check_decode(const Subject& s, uint32_t p) {
  const Value r = s.ref.decode(p);
  const arith::Unpacked u = s.impl->decode(p);
  INFO(s.impl->name() << " pattern " << p);
  switch (r.kind) {
    case Value::kNaN:
      REQUIRE(u.is_nan());
      return;
    case Value::kPosInf:
    case Value::kNegInf:
      REQUIRE(u.is_inf());
      REQUIRE(u.neg == (r.kind == Value::kNegInf));
      return;
    case Value::kFinite:
      break;
  }
  REQUIRE(!u.is_nan());
  REQUIRE(!u.is_inf());
  if (r.v.zero()) {
    REQUIRE(u.is_zero());
    if (s.ieee) REQUIRE(u.neg == bool(p & sign_bit(s)));
    return;
  }
  REQUIRE(!u.sticky);
  const Dyadic mine = Dyadic::of(u.neg, u.sig, static_cast<int64_t>(u.scale) - 63);
  REQUIRE(slowref::cmp(mine, r.v) == 0);
  // Encoding the exact value gives the pattern back (the canonical zero for -0 in posits).
  REQUIRE(s.impl->encode(u) == p);
}

void exhaustive_8bit(const Subject& s, bool with_div) {
  for (uint32_t a = 0; a < 256; ++a) {
    check_decode(s, a);
    check(s, Op::kSqrt, a, 0);
    for (uint32_t b = 0; b < 256; ++b) {
      check(s, Op::kAdd, a, b);
      check(s, Op::kMul, a, b);
      if (with_div) check(s, Op::kDiv, a, b);
    }
  }
}

}  // namespace

TEST_CASE("posit<8,0>, <8,1>, <8,2>: every decode and every operation", "[unit]") {
  const int es = GENERATE(0, 1, 2);
  exhaustive_8bit(subject("posit<8," + std::to_string(es) + ">", slowref::posit(8, es), false),
                  true);
}

TEST_CASE("FP8 E4M3 and E5M2, plain and saturating: every decode and every operation", "[unit]") {
  struct F {
    const char* name;
    int e, m;
    bool e4m3, sat;
  };
  const F f = GENERATE(F{"fp8_e4m3", 4, 3, true, false}, F{"fp8_e4m3_sat", 4, 3, true, true},
                       F{"fp8_e5m2", 5, 2, false, false}, F{"fp8_e5m2_sat", 5, 2, false, true});
  exhaustive_8bit(subject(f.name, slowref::minifloat(f.name, f.e, f.m, f.e4m3, f.sat), true), true);
}

TEST_CASE("8-bit fixed point and int8: every decode and every operation", "[unit]") {
  struct F {
    const char* name;
    int i, f;
    bool trunc;
  };
  const F f = GENERATE(F{"fixed<2,6>", 2, 6, false}, F{"fixed<3,5>", 3, 5, false},
                       F{"fixed<2,6,trunc>", 2, 6, true}, F{"int8", 8, 0, false});
  exhaustive_8bit(subject(f.name, slowref::fixed(f.i, f.f, f.trunc, false), false), true);
}

TEST_CASE("wrap-around fixed point keeps the low bits of the exact result", "[unit]") {
  const auto impl = arith::make_format("fixed<2,6,wrap>");
  const slowref::Format ref = slowref::fixed(2, 6, false, true);
  for (uint32_t a = 0; a < 256; ++a) {
    for (uint32_t b = 0; b < 256; ++b) {
      // Sums are exact multiples of the LSB: the wrapped sum is the pattern sum mod 256.
      REQUIRE(impl->add(a, b) == ((a + b) & 0xff));
      // Products have 12 fraction bits: round to nearest-even at 6, then wrap.
      const int64_t pa = static_cast<int8_t>(a), pb = static_cast<int8_t>(b);
      const int64_t prod = pa * pb;  // units of 2^-12
      int64_t q = prod >> 6;         // floor
      const int64_t rem = prod - q * 64;
      if (rem > 32 || (rem == 32 && (q & 1))) ++q;
      REQUIRE(impl->mul(a, b) == (static_cast<uint32_t>(q) & 0xff));
    }
  }
  (void)ref;
}

TEST_CASE("16-bit formats: every pattern decodes to its defined value", "[unit]") {
  struct F {
    const char* name;
    std::function<slowref::Format()> ref;
    bool ieee;
  };
  const F f =
      GENERATE(F{"fp16", [] { return slowref::minifloat("fp16", 5, 10, false, false); }, true},
               F{"bf16", [] { return slowref::minifloat("bf16", 8, 7, false, false); }, true},
               F{"posit<16,1>", [] { return slowref::posit(16, 1); }, false},
               F{"posit<16,2>", [] { return slowref::posit(16, 2); }, false},
               F{"fixed<2,14>", [] { return slowref::fixed(2, 14, false, false); }, false});
  const Subject s = subject(f.name, f.ref(), f.ieee);
  for (uint32_t p = 0; p < 65536; ++p) check_decode(s, p);
}

TEST_CASE("16-bit formats: operations on random operands", "[unit]") {
  struct F {
    const char* name;
    std::function<slowref::Format()> ref;
    bool ieee;
  };
  const F f =
      GENERATE(F{"fp16", [] { return slowref::minifloat("fp16", 5, 10, false, false); }, true},
               F{"bf16", [] { return slowref::minifloat("bf16", 8, 7, false, false); }, true},
               F{"posit<16,1>", [] { return slowref::posit(16, 1); }, false},
               F{"fixed<2,14>", [] { return slowref::fixed(2, 14, false, false); }, false});
  const Subject s = subject(f.name, f.ref(), f.ieee);
  std::mt19937 rng(2024);
  for (int i = 0; i < 20000; ++i) {
    uint32_t a = rng() & 0xffff, b = rng() & 0xffff;
    if (i % 2) b = (a & 0xff00) | (rng() & 0x3ff);  // operands of close magnitude too
    check(s, Op::kAdd, a, b);
    check(s, Op::kMul, a, b);
    check(s, Op::kDiv, a, b);
    check(s, Op::kSqrt, a, 0);
  }
}

TEST_CASE("posit<32,2>: decoding and operations on random operands", "[unit]") {
  const Subject s = subject("posit<32,2>", slowref::posit(32, 2), false, false);
  std::mt19937 rng(32);
  for (int i = 0; i < 3000; ++i) {
    uint32_t a = rng(), b = rng();
    if (i % 3 == 0) b = (a & 0xffff0000u) | (rng() & 0xffff);
    if (i % 3 == 1) a = 0x40000000u ^ (rng() >> 4);  // near 1
    check_decode(s, a);
    check(s, Op::kAdd, a, b);
    check(s, Op::kMul, a, b);
    check(s, Op::kDiv, a, b);
    check(s, Op::kSqrt, a, 0);
  }
}

TEST_CASE("the quire accumulates products exactly and rounds once", "[unit]") {
  const int n = GENERATE(8, 16, 32);
  const int es = n == 8 ? 0 : n == 16 ? 1 : 2;
  const arith::PositFormat pf{n, es};
  const Subject s = subject("posit<" + std::to_string(n) + "," + std::to_string(es) + ">",
                            slowref::posit(n, es), false, n != 32);
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    const int len = 1 + static_cast<int>(rng() % 64);
    std::vector<uint32_t> x(len), y(len);
    arith::Quire q(pf);
    Dyadic exact;
    for (int i = 0; i < len; ++i) {
      x[i] = rng() & pf.mask();
      y[i] = rng() & pf.mask();
      if (x[i] == pf.nar()) x[i] = 0;
      if (y[i] == pf.nar()) y[i] = pf.maxpos();  // extremes go in too
      q.fma(x[i], y[i]);
      exact = slowref::add(exact, slowref::mul(s.ref.decode(x[i]).v, s.ref.decode(y[i]).v));
    }
    const uint32_t want =
        exact.zero() ? 0
                     : slowref::round_by_search(
                           s.ref, s.order, [&](const Dyadic& t) { return slowref::cmp(exact, t); },
                           exact.neg);
    REQUIRE(q.round() == want);
    REQUIRE(s.impl->fdp(x, y) == want);
  }
  arith::Quire nar(pf);
  nar.fma(pf.nar(), 1);
  REQUIRE(nar.round() == pf.nar());
  // posit<32,2>'s quire holds 512 bits, as the Posit Standard's does.
  if (n == 32) REQUIRE(arith::Quire(pf).bits() == 512);
}

TEST_CASE("the seeds' worked posit examples", "[unit]") {
  // Seed 003: posit<16,3> 0000110111011101 = 256^-3 x 2^5 x (1 + 221/256).
  const arith::PositFormat p16{16, 3};
  const arith::Unpacked v = p16.decode(0b0000110111011101);
  REQUIRE(arith::to_double(v) == std::ldexp(1.0 + 221.0 / 256.0, -24 + 5));
  // 694.20 as posit<32,2>: sign 0, regime 1110 (k = 2), exponent 01, fraction
  // 010110110001100110011... (694.2 = 2^9 x 1.3558...).
  const arith::PositFormat p32{32, 2};
  const uint32_t p = p32.encode(arith::from_double(694.20));
  REQUIRE((p >> 31) == 0);
  REQUIRE(((p >> 27) & 0xf) == 0b1110);
  REQUIRE(((p >> 25) & 0x3) == 0b01);
  REQUIRE(((p >> 4) & 0x1fffff) == 0b010110110001100110011);
  // The standard's rounding example: in posit<8,2>, 144179.2 lies between 65536 and 262144 but
  // above their encoding midpoint 131072, so it rounds to 262144.
  const arith::PositFormat p8{8, 2};
  REQUIRE(arith::to_double(p8.decode(p8.encode(arith::from_double(144179.2)))) == 262144.0);
}

TEST_CASE("posits compare as their patterns do as integers", "[unit]") {
  const int es = GENERATE(0, 1, 2);
  const arith::PositFormat p{8, es};
  for (uint32_t a = 0; a < 256; ++a) {
    for (uint32_t b = 0; b < 256; ++b) {
      int want;
      if (a == p.nar() || b == p.nar()) {
        want = a == b ? 0 : a == p.nar() ? -1 : 1;  // NaR is below every real
      } else {
        want = arith::compare(p.decode(a), p.decode(b));
      }
      REQUIRE(p.compare(a, b) == want);
    }
  }
}

TEST_CASE("posit<8,0> tables equal the exact operations", "[unit]") {
  const arith::PositFormat p8{8, 0};
  const auto& t = arith::Posit8Tables::get();
  for (uint32_t a = 0; a < 256; ++a) {
    REQUIRE((std::isnan(t.value(a)) ? a == 0x80 : t.value(a) == arith::to_double(p8.decode(a))));
    for (uint32_t b = 0; b < 256; ++b) {
      REQUIRE(t.add(a, b) == p8.add(a, b));
      REQUIRE(t.mul(a, b) == p8.mul(a, b));
    }
  }
}

TEST_CASE("format names parse, and unknown ones are rejected", "[unit]") {
  REQUIRE(arith::make_format("posit16_1")->name() == "posit<16,1>");
  REQUIRE(arith::make_format("posit<32, 2>")->bits() == 32);
  REQUIRE(arith::make_format("fixed<2,6>")->name() == "fixed<2,6>");
  REQUIRE(arith::make_format("fixed<4,12,trunc,wrap>")->name() == "fixed<4,12,trunc,wrap>");
  REQUIRE(arith::make_format("int8")->name() == "fixed<8,0>");
  REQUIRE(arith::make_format("fp8_e5m2_sat")->bits() == 8);
  for (const char* bad : {"posit<33,2>", "posit<8,5>", "fp7", "fixed<2>", "fixed<20,20>",
                          "fixed<2,6,round>", "int1", "posit8"}) {
    INFO(bad);
    REQUIRE_THROWS_AS(arith::make_format(bad), std::invalid_argument);
  }
}

TEST_CASE("encoding a float into a fixed-point format equals the unpacked-exact encoder",
          "[unit]") {
  std::mt19937_64 rng(13);
  for (const char* name : {"fixed<2,6>", "fixed<2,14>", "fixed<4,12>", "fixed<2,6,wrap>",
                           "fixed<2,6,trunc>", "fixed<16,16>", "fixed<1,31>", "int8"}) {
    INFO(name);
    const auto f = arith::make_format(name);
    std::vector<float> probes = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e30f, -1e30f, 1e-30f};
    auto around = [&](double v) {
      const auto x = static_cast<float>(v);
      probes.insert(probes.end(), {x, std::nextafter(x, INFINITY), std::nextafter(x, -INFINITY)});
    };
    // Every value and every midpoint (a tie) of the 8-bit formats, and of the wider ones those
    // near zero and near both ends; beyond the ends too.
    const double lsb = std::ldexp(1.0, f->lsb_scale());
    const double top = arith::to_double(f->decode(f->max_finite_pattern()));
    for (int64_t k = -5000; k <= 5000; ++k) {
      for (const double base : {0.0, top, -top}) {
        around(base + static_cast<double>(k) * lsb);
        around(base + (static_cast<double>(k) + 0.5) * lsb);
      }
    }
    for (int i = 0; i < 100000; ++i) {
      const auto bits = static_cast<uint32_t>(rng());
      float v = 0;
      std::memcpy(&v, &bits, 4);
      probes.push_back(v);
    }
    for (const float v : probes) {
      INFO("value " << v);
      REQUIRE(f->encode_float(v) == f->encode(arith::from_double(v)));
    }
  }
}

namespace {

// Every float exponent with a few mantissas and both signs, `randoms` random bit patterns (NaN,
// infinities and subnormals among them), and every 8191st float pattern (a sweep of all
// exponents and signs).
void add_float_sweep(std::vector<float>& probes, std::mt19937_64& rng, int randoms) {
  const auto add = [&](uint32_t bits) {
    float v = 0;
    std::memcpy(&v, &bits, 4);
    probes.push_back(v);
  };
  for (uint32_t e = 0; e < 256; ++e) {
    for (uint32_t m : {0u, 1u, 0x400000u, 0x7fffffu, 0x2aaaaau, 0x155555u}) {
      for (uint32_t s : {0u, 1u}) add(s << 31 | e << 23 | m);
    }
  }
  for (int i = 0; i < randoms; ++i) add(static_cast<uint32_t>(rng()));
  for (uint64_t bits = 0; bits < (uint64_t{1} << 32); bits += 8191)
    add(static_cast<uint32_t>(bits));
}

}  // namespace

TEST_CASE("encoding a float from its bits equals the unpacked-exact encoder at every boundary",
          "[unit]") {
  const arith::FloatFormat* formats[] = {&arith::kFp32,      &arith::kFp16,       &arith::kBf16,
                                         &arith::kFp8E4M3,   &arith::kFp8E4M3Sat, &arith::kFp8E5M2,
                                         &arith::kFp8E5M2Sat};
  std::mt19937_64 rng(11);
  for (const arith::FloatFormat* f : formats) {
    INFO(f->name);
    std::vector<float> probes;
    auto around = [&](float v) {
      probes.push_back(v);
      probes.push_back(std::nextafter(v, INFINITY));
      probes.push_back(std::nextafter(v, -INFINITY));
    };
    if (f->bits() <= 16) {
      // Every value of the format, and every midpoint between neighbours (the ties), each with
      // the floats just beside it: every rounding boundary, overflow to the next binade and
      // beyond the largest value included.
      const uint32_t count = 1u << f->bits();
      for (uint32_t p = 0; p < count; ++p) {
        const double v = arith::to_double(f->decode(p));
        if (std::isnan(v) || std::isinf(v)) continue;
        around(static_cast<float>(v));
        const uint32_t next = p + 1;
        if (next < count && !f->is_nan(next) && ((next ^ p) >> (f->bits() - 1)) == 0) {
          const double w = arith::to_double(f->decode(next));
          if (std::isfinite(w)) around(static_cast<float>((v + w) / 2));  // exact in float
        }
      }
      const double top = arith::to_double(f->decode(f->max_finite_pattern()));
      const double ulp = std::ldexp(1.0, f->max_scale() - f->man_bits);
      for (double v : {top + ulp / 2, top + ulp, -(top + ulp / 2), 2 * top})
        around(static_cast<float>(v));
    }
    add_float_sweep(probes, rng, 200000);
    size_t checked = 0;
    for (float v : probes) {
      INFO("value " << v);
      REQUIRE(f->encode_float(v) == f->encode(arith::from_double(v)));
      ++checked;
    }
    REQUIRE(checked > 700000);
  }
}

TEST_CASE("encoding a float into a posit from its bits equals the unpacked-exact encoder",
          "[unit]") {
  std::mt19937_64 rng(17);
  const std::vector<std::pair<int, int>> shapes = {{8, 0},  {8, 1},  {8, 2},  {6, 1}, {12, 3},
                                                   {16, 1}, {16, 2}, {24, 4}, {32, 2}};
  for (const auto& [n, es] : shapes) {
    const arith::PositFormat p{n, es};
    INFO("posit<" << n << "," << es << ">");
    std::vector<float> probes = {0.0f, -0.0f, INFINITY, -INFINITY, NAN};
    auto around = [&](double v) {
      const auto x = static_cast<float>(v);
      probes.insert(probes.end(), {x, std::nextafter(x, INFINITY), std::nextafter(x, -INFINITY)});
    };
    if (n <= 16) {
      // Every value, and every rounding boundary: the values of posit<n + 1, es>, whose odd
      // patterns are the encodings extended by a 1 bit (the ties), each with its neighbours.
      const arith::PositFormat wider{n + 1, es};
      for (uint32_t q = 0; q < (1u << (n + 1)); ++q) {
        if (q == wider.nar()) continue;
        around(arith::to_double(wider.decode(q)));
      }
    } else {
      for (int i = 0; i < 200000; ++i) around(arith::to_double(p.decode(rng() & p.mask())));
    }
    // Saturation at both ends and subnormals among the sweep's floats.
    add_float_sweep(probes, rng, 100000);
    size_t mismatches = 0;
    float first = 0;
    for (const float v : probes) {
      if (p.encode_float(v) != p.encode(arith::from_double(v)) && mismatches++ == 0) first = v;
    }
    INFO("first mismatch at " << first);
    REQUIRE(mismatches == 0);
    REQUIRE(probes.size() > 500000);
  }
}

TEST_CASE("encoding floats by bucket equals encoding them one by one", "[arith]") {
  // Every bucket of floats sharing their top 16 bits, at its first, second, middle and last
  // float, the rounding boundaries of each format (posit<n + 1, es>'s values and their
  // neighbours, which fall inside buckets), and random bit patterns.
  std::mt19937_64 rng(29);
  for (const char* name : {"posit<8,0>", "posit<8,1>", "posit<8,2>", "posit<6,1>", "posit<5,0>",
                           "posit<12,1>", "fp8_e4m3", "fp8_e5m2_sat", "fixed<2,6>"}) {
    INFO(name);
    const auto format = arith::make_format(name);
    std::vector<uint32_t> bits;
    for (uint32_t bucket = 0; bucket < (1u << 16); ++bucket) {
      for (const uint32_t low : {0u, 1u, 0x8000u, 0xffffu}) bits.push_back(bucket << 16 | low);
    }
    for (int i = 0; i < 300000; ++i) bits.push_back(static_cast<uint32_t>(rng()));
    std::vector<float> floats(bits.size());
    std::memcpy(floats.data(), bits.data(), 4 * bits.size());
    if (std::string(name).rfind("posit", 0) == 0) {
      const auto wider = arith::make_format("posit<" + std::to_string(format->bits() + 1) +
                                            std::string(name).substr(std::string(name).find(',')));
      for (uint32_t q = 0; q < (1u << wider->bits()); ++q) {
        const auto x = static_cast<float>(wider->to_double(q));
        floats.insert(floats.end(),
                      {x, std::nextafter(x, INFINITY), std::nextafter(x, -INFINITY), -x});
      }
    }
    std::vector<uint32_t> batched(floats.size());
    arith::encode_floats_by_bucket(*format, floats.data(), floats.size(), batched.data());
    std::vector<uint32_t> through_format(floats.size());
    format->encode_floats(floats.data(), floats.size(), through_format.data());
    size_t mismatches = 0;
    for (size_t i = 0; i < floats.size(); ++i) {
      const uint32_t expected = format->encode_float(floats[i]);
      if (batched[i] != expected || through_format[i] != expected) {
        if (mismatches++ == 0) {
          INFO("first mismatch at float bits " << std::hex << bits[std::min(i, bits.size() - 1)]
                                               << ", value " << floats[i]);
          CHECK(batched[i] == expected);
          CHECK(through_format[i] == expected);
        }
      }
    }
    REQUIRE(mismatches == 0);
  }
}

TEST_CASE("holds_exactly: a format holds every value of another, or not", "[arith]") {
  const auto holds = [](const char* to, const char* from) {
    return arith::holds_exactly(*arith::make_format(to), *arith::make_format(from));
  };
  // Narrower floats and posits inside fp32; fp8 inside fp16.
  for (const char* from : {"bf16", "fp16", "fp8_e4m3", "fp8_e5m2", "posit<8,0>", "fp32"})
    REQUIRE(holds("fp32", from));
  REQUIRE(holds("fp16", "fp8_e4m3"));
  REQUIRE(holds("fp16", "fp8_e5m2"));
  // bf16 lacks fp16's precision, fp16 bf16's range; a format wider than 16 bits only in itself.
  REQUIRE_FALSE(holds("bf16", "fp16"));
  REQUIRE_FALSE(holds("fp16", "bf16"));
  REQUIRE_FALSE(holds("bf16", "fp32"));
  // posit<16,1> reaches 2^28, beyond fp16; fp8_e4m3's 448 is no posit<8,0>.
  REQUIRE_FALSE(holds("fp16", "posit<16,1>"));
  REQUIRE_FALSE(holds("posit<8,0>", "fp8_e4m3"));
  // The check by patterns agrees with rounding each value through the other format in doubles.
  for (const auto& [to, from] : {std::pair{"fp16", "fp8_e4m3"},
                                 {"bf16", "fp16"},
                                 {"fp32", "posit<16,4>"},
                                 {"fp32", "posit<16,1>"},
                                 {"fp32", "fixed<2,14>"},
                                 {"fp32", "bf16"}}) {
    const auto t = arith::make_format(to), f = arith::make_format(from);
    bool all = true;
    for (uint32_t p = 0; p < (1u << f->bits()); ++p) {
      const double v = f->to_double(p);
      if (std::isnan(v)) continue;
      const double kept = t->to_double(t->from_double(v));
      all = all && kept == v && std::signbit(kept) == std::signbit(v);
    }
    REQUIRE(all == holds(to, from));
  }
}

TEST_CASE(
    "fp32 holds a format of up to 16 bits by its closed form exactly when every pattern "
    "says so",
    "[arith]") {
  // holds_exactly(fp32, X) answers from X's step and range; here every pattern of X goes
  // through fp32's encode and decode: every float format, every posit of 2-16 bits with es
  // 0-4, every fixed-point format of up to 16 bits (rounding and wrapping variants at 8 and 16
  // bits) and int2-int16.
  std::vector<std::string> names = {"fp16",         "bf16",     "fp8_e4m3",
                                    "fp8_e4m3_sat", "fp8_e5m2", "fp8_e5m2_sat"};
  for (int n = 2; n <= 16; ++n) {
    for (int es = 0; es <= 4; ++es)
      names.push_back("posit<" + std::to_string(n) + "," + std::to_string(es) + ">");
    names.push_back("int" + std::to_string(n));
  }
  for (int bits = 2; bits <= 16; ++bits) {
    for (int i = 1; i <= bits; ++i) {
      const std::string base = "fixed<" + std::to_string(i) + "," + std::to_string(bits - i);
      names.push_back(base + ">");
      if (bits == 8 || bits == 16) {
        for (const char* variant : {",trunc>", ",wrap>", ",trunc,wrap>"})
          names.push_back(base + variant);
      }
    }
  }
  const auto fp32 = arith::make_format("fp32");
  size_t held = 0;
  for (const std::string& name : names) {
    const auto from = arith::make_format(name);
    bool every = true;
    for (uint32_t p = 0; p < (uint32_t{1} << from->bits()) && every; ++p) {
      const arith::Unpacked value = from->decode(p);
      const arith::Unpacked kept = fp32->decode(fp32->encode(value));
      if (value.is_nan() || kept.is_nan()) {
        every = value.is_nan() == kept.is_nan();
        continue;
      }
      every = value.kind == kept.kind && value.neg == kept.neg &&
              (!value.is_finite_nonzero() || arith::compare(value, kept) == 0);
    }
    INFO(name);
    REQUIRE(arith::holds_exactly(*fp32, *from) == every);
    held += every;
  }
  // Both answers occur: posits with es 4 reach beyond fp32's range from 10 bits on.
  REQUIRE(held > 0);
  REQUIRE(held < names.size());
}

TEST_CASE("converting elements rounds every value as the slow reference does", "[arith]") {
  // Both of the converter's paths, between every pair of these formats of up to 16 bits, on
  // every pattern of the source: the value the slow reference decodes, rounded by its search
  // of the destination's values, and the finite values beyond the destination's largest
  // counted as saturations. (The test below compares the paths on fp32 sources too, against
  // decode and encode.)
  std::vector<Subject> subjects;
  subjects.push_back(subject("fp16", slowref::minifloat("fp16", 5, 10, false, false), true));
  subjects.push_back(subject("bf16", slowref::minifloat("bf16", 8, 7, false, false), true));
  subjects.push_back(subject("fp8_e4m3", slowref::minifloat("fp8_e4m3", 4, 3, true, false), true));
  subjects.push_back(
      subject("fp8_e4m3_sat", slowref::minifloat("fp8_e4m3_sat", 4, 3, true, true), true));
  subjects.push_back(subject("fp8_e5m2", slowref::minifloat("fp8_e5m2", 5, 2, false, false), true));
  subjects.push_back(subject("posit<8,0>", slowref::posit(8, 0), false));
  subjects.push_back(subject("posit<16,1>", slowref::posit(16, 1), false));
  subjects.push_back(subject("fixed<4,4>", slowref::fixed(4, 4, false, false), false));
  subjects.push_back(subject("int8", slowref::fixed(8, 0, false, false), false));
  for (const Subject& from : subjects) {
    const uint32_t count = uint32_t{1} << from.ref.bits, from_bytes = from.impl->element_bytes();
    std::vector<uint8_t> src(size_t{count} * from_bytes);
    for (uint32_t p = 0; p < count; ++p) std::memcpy(&src[size_t{p} * from_bytes], &p, from_bytes);
    for (const Subject& to : subjects) {
      INFO(from.impl->name() << " -> " << to.impl->name());
      const Dyadic largest = to.order.value(to.order.size - 1);
      std::vector<Expect> expected(count);
      uint64_t saturations = 0;
      for (uint32_t p = 0; p < count; ++p) {
        const Value v = from.ref.decode(p);
        Expect& e = expected[p];
        if (v.kind == Value::kNaN) {
          e = {true, 0};
        } else if (v.kind != Value::kFinite) {
          e = infinite(to, v.kind == Value::kNegInf);
        } else {
          // The reference's zero has no sign: an IEEE source's is its pattern's sign bit.
          const bool negative = v.v.zero() ? from.ieee && (p & sign_bit(from)) != 0 : v.v.neg;
          e = rounded(
              to, [&](const Dyadic& t) { return slowref::cmp(v.v, t); }, negative);
          Dyadic magnitude = v.v;
          magnitude.neg = false;
          saturations += slowref::cmp(magnitude, largest) > 0;
        }
        if (e.nan && !to.has_nan) e = {false, 0};
      }
      const uint32_t to_bytes = to.impl->element_bytes();
      for (const auto path :
           {arith::ElementConverter::Path::kFloats, arith::ElementConverter::Path::kUnpacked}) {
        const arith::ElementConverter convert(*from.impl, *to.impl, path);
        std::vector<uint8_t> out(size_t{count} * to_bytes, 0xa5);
        REQUIRE(convert.convert(src.data(), out.data(), count) == saturations);
        size_t mismatches = 0;
        for (uint32_t p = 0; p < count; ++p) {
          uint32_t got = 0;
          std::memcpy(&got, &out[size_t{p} * to_bytes], to_bytes);
          const Expect& e = expected[p];
          const bool ok = e.nan ? to.impl->decode(got).is_nan() : got == e.pattern;
          if (!ok && mismatches++ == 0) {
            FAIL_CHECK("pattern " << p
                                  << (path == arith::ElementConverter::Path::kFloats
                                          ? " (floats)"
                                          : " (unpacked)")
                                  << ": expected " << (e.nan ? "NaN" : std::to_string(e.pattern))
                                  << ", got " << got);
          }
        }
        REQUIRE(mismatches == 0);
      }
    }
  }
}

TEST_CASE("converting elements through host floats equals decoding and encoding each", "[arith]") {
  // The DMA's and the vector unit's conversions: against one rounding through Unpacked and
  // NumberFormat::overflows, computed here element by element, on every pattern of the
  // formats of up to 16 bits and on random and boundary fp32 patterns.
  const char* names[] = {"fp32",         "fp16",       "bf16",        "fp8_e4m3",   "fp8_e5m2",
                         "fp8_e4m3_sat", "posit<8,0>", "posit<16,1>", "fixed<4,4>", "int8"};
  std::mt19937_64 rng(0x5eed);
  for (const char* from_name : names) {
    const auto from = arith::make_format(from_name);
    std::vector<uint32_t> patterns;
    if (from->bits() <= 16) {
      for (uint32_t p = 0; p < (uint32_t{1} << from->bits()); ++p) patterns.push_back(p);
    } else {
      for (int i = 0; i < 100000; ++i) patterns.push_back(static_cast<uint32_t>(rng()));
      for (const char* to_name : names) {  // each destination's largest value and its neighbours
        const auto to = arith::make_format(to_name);
        const auto largest = static_cast<float>(to->to_double(to->max_finite_pattern()));
        for (float f : {largest, std::nextafter(largest, 0.0f), std::nextafter(largest, 1e38f),
                        largest * 1.0625f, -largest * 1.0625f, largest * 2.0f}) {
          uint32_t bits = 0;
          std::memcpy(&bits, &f, 4);
          patterns.push_back(bits);
        }
      }
      for (uint32_t bits :
           {0u, 0x80000000u, 1u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00001u, 0x7f7fffffu})
        patterns.push_back(bits);
    }
    const uint32_t from_bytes = from->element_bytes();
    std::vector<uint8_t> src(patterns.size() * from_bytes);
    for (size_t i = 0; i < patterns.size(); ++i)
      std::memcpy(&src[i * from_bytes], &patterns[i], from_bytes);
    for (const char* to_name : names) {
      INFO(from_name << " -> " << to_name);
      const auto to = arith::make_format(to_name);
      const uint32_t to_bytes = to->element_bytes();
      std::vector<uint8_t> expected(patterns.size() * to_bytes);
      uint64_t expected_saturations = 0;
      for (size_t i = 0; i < patterns.size(); ++i) {
        const arith::Unpacked value = from->decode(patterns[i]);
        expected_saturations += to->overflows(value);
        const uint32_t q = to->encode(value);
        std::memcpy(&expected[i * to_bytes], &q, to_bytes);
      }
      for (const auto path :
           {arith::ElementConverter::Path::kFloats, arith::ElementConverter::Path::kUnpacked}) {
        const arith::ElementConverter convert(*from, *to, path);
        std::vector<uint8_t> out(expected.size(), 0xa5);
        REQUIRE(convert.convert(src.data(), out.data(), patterns.size()) == expected_saturations);
        REQUIRE(out == expected);
      }
    }
  }
  // The fast path is taken where every value of the source is a float.
  const auto fp32 = arith::make_format("fp32"), bf16 = arith::make_format("bf16");
  const auto p16 = arith::make_format("posit<16,1>"), wide = arith::make_format("fixed<24,8>");
  REQUIRE(arith::ElementConverter(*fp32, *bf16).through_floats());
  REQUIRE(arith::ElementConverter(*bf16, *fp32).through_floats());
  REQUIRE(arith::ElementConverter(*p16, *bf16).through_floats());
  REQUIRE_FALSE(arith::ElementConverter(*wide, *bf16).through_floats());
  REQUIRE_FALSE(arith::ElementConverter(*bf16, *fp32, arith::ElementConverter::Path::kUnpacked)
                    .through_floats());
}
