// An independent, slow reference for number formats, written from the definitions and sharing
// no code with hw_models/arith:
//  * Dyadic: exact numbers m x 2^e with an arbitrary-precision integer m;
//  * decoders for each format family, bit by bit from the definition;
//  * rounding by search: the exact result is placed among the sorted representable values, and
//    compared with the midpoint of its neighbours, taken as the value of the encoding one bit
//    longer (for posits the Posit Standard's midpoint, for the others the arithmetic mean);
//    ties go to the even pattern; then the format's overflow and underflow rules.
// Division and square root are rounded through comparisons (a/b against t: a against t b;
// sqrt(a) against t: a against t^2), so no inexact value is ever formed.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nmp::slowref {

// Unsigned arbitrary-precision integer, little-endian 32-bit limbs.
struct BigUint {
  std::vector<uint32_t> limbs;
  static BigUint of(uint64_t v) {
    BigUint b;
    while (v) {
      b.limbs.push_back(static_cast<uint32_t>(v));
      v >>= 32;
    }
    return b;
  }
  bool zero() const { return limbs.empty(); }
  void trim() {
    while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
  }
};

inline int cmp(const BigUint& a, const BigUint& b) {
  if (a.limbs.size() != b.limbs.size()) return a.limbs.size() < b.limbs.size() ? -1 : 1;
  for (size_t i = a.limbs.size(); i-- > 0;) {
    if (a.limbs[i] != b.limbs[i]) return a.limbs[i] < b.limbs[i] ? -1 : 1;
  }
  return 0;
}

inline BigUint add(const BigUint& a, const BigUint& b) {
  BigUint r;
  uint64_t carry = 0;
  for (size_t i = 0; i < std::max(a.limbs.size(), b.limbs.size()) || carry; ++i) {
    const uint64_t s = carry + (i < a.limbs.size() ? a.limbs[i] : 0) +
                       (i < b.limbs.size() ? b.limbs[i] : 0);
    r.limbs.push_back(static_cast<uint32_t>(s));
    carry = s >> 32;
  }
  r.trim();
  return r;
}

inline BigUint sub(const BigUint& a, const BigUint& b) {  // a >= b
  BigUint r;
  int64_t borrow = 0;
  for (size_t i = 0; i < a.limbs.size(); ++i) {
    int64_t d = static_cast<int64_t>(a.limbs[i]) - borrow - (i < b.limbs.size() ? b.limbs[i] : 0);
    borrow = d < 0;
    if (d < 0) d += int64_t{1} << 32;
    r.limbs.push_back(static_cast<uint32_t>(d));
  }
  r.trim();
  return r;
}

inline BigUint mul(const BigUint& a, const BigUint& b) {
  BigUint r;
  r.limbs.assign(a.limbs.size() + b.limbs.size(), 0);
  for (size_t i = 0; i < a.limbs.size(); ++i) {
    uint64_t carry = 0;
    for (size_t j = 0; j < b.limbs.size() || carry; ++j) {
      const uint64_t cur = r.limbs[i + j] + carry +
                           (j < b.limbs.size() ? uint64_t{a.limbs[i]} * b.limbs[j] : 0);
      r.limbs[i + j] = static_cast<uint32_t>(cur);
      carry = cur >> 32;
    }
  }
  r.trim();
  return r;
}

inline BigUint shl(const BigUint& a, int64_t bits) {
  if (a.zero()) return a;
  BigUint r;
  r.limbs.assign(static_cast<size_t>(bits / 32), 0);
  const int s = static_cast<int>(bits % 32);
  uint32_t carry = 0;
  for (uint32_t l : a.limbs) {
    r.limbs.push_back((l << s) | carry);
    carry = s ? l >> (32 - s) : 0;
  }
  if (carry) r.limbs.push_back(carry);
  r.trim();
  return r;
}

// (-1)^neg x m x 2^e.
struct Dyadic {
  bool neg = false;
  BigUint m;
  int64_t e = 0;
  bool zero() const { return m.zero(); }
  static Dyadic of(bool neg, uint64_t m, int64_t e) { return {neg && m != 0, BigUint::of(m), e}; }
};

// Aligns both to the smaller exponent.
inline void align(const Dyadic& a, const Dyadic& b, BigUint& am, BigUint& bm, int64_t& e) {
  e = std::min(a.e, b.e);
  am = shl(a.m, a.e - e);
  bm = shl(b.m, b.e - e);
}

inline int cmp(const Dyadic& a, const Dyadic& b) {
  const int sa = a.zero() ? 0 : (a.neg ? -1 : 1), sb = b.zero() ? 0 : (b.neg ? -1 : 1);
  if (sa != sb) return sa < sb ? -1 : 1;
  if (sa == 0) return 0;
  BigUint am, bm;
  int64_t e;
  align(a, b, am, bm, e);
  return cmp(am, bm) * sa;
}

inline Dyadic add(const Dyadic& a, const Dyadic& b) {
  BigUint am, bm;
  int64_t e;
  align(a, b, am, bm, e);
  if (a.neg == b.neg) return {a.neg, add(am, bm), e};
  const int c = cmp(am, bm);
  if (c == 0) return {};
  return c > 0 ? Dyadic{a.neg, sub(am, bm), e} : Dyadic{b.neg, sub(bm, am), e};
}

inline Dyadic neg(Dyadic a) {
  a.neg = !a.neg && !a.zero();
  return a;
}

inline Dyadic mul(const Dyadic& a, const Dyadic& b) {
  Dyadic r{a.neg != b.neg, mul(a.m, b.m), a.e + b.e};
  r.neg = r.neg && !r.zero();
  return r;
}

inline Dyadic midpoint(const Dyadic& a, const Dyadic& b) {
  Dyadic s = add(a, b);
  s.e -= 1;
  return s;
}

// A decoded pattern: a finite value, or a special.
struct Value {
  enum Kind { kFinite, kPosInf, kNegInf, kNaN } kind = kFinite;
  Dyadic v;
};

// How a format treats results outside its finite values.
enum class Overflow { kToInfinity, kToNaN, kSaturate, kWrapFixed };

// A format as the reference sees it: every pattern's value, and the rounding rules.
struct Format {
  std::string name;
  int bits = 0;
  std::function<Value(uint32_t)> decode;
  // Value of the positive pattern `p` extended by one more bit set to 1: the rounding midpoint
  // above p. Posits round at these everywhere; the other formats use arithmetic means between
  // their values and this only past their largest value.
  std::function<std::optional<Dyadic>(uint32_t)> midpoint_above;
  bool encoding_midpoints = false;  // posits
  Overflow overflow = Overflow::kToInfinity;
  bool never_to_zero = false;      // posits: a nonzero value rounds at least to minpos
  bool truncate = false;           // fixed, rounding toward minus infinity
  uint32_t nan_pattern = 0, pos_inf_pattern = 0, neg_inf_pattern = 0;
  int64_t fixed_lsb_exp = 0;       // fixed: 2^-F
};

// The finite values of a format in increasing order, with their patterns: a listed table for
// formats up to 16 bits, or posit patterns in integer order (which is value order).
struct Sorted {
  size_t size = 0;
  std::function<Dyadic(size_t)> value;
  std::function<uint32_t(size_t)> pattern;
};

inline Sorted make_table(const Format& f) {
  auto values = std::make_shared<std::vector<std::pair<Dyadic, uint32_t>>>();
  for (uint64_t p = 0; p < (uint64_t{1} << f.bits); ++p) {
    const Value v = f.decode(static_cast<uint32_t>(p));
    if (v.kind != Value::kFinite) continue;
    if (v.v.zero() && p != 0) continue;  // -0: +0 stands for zero
    values->emplace_back(v.v, static_cast<uint32_t>(p));
  }
  std::sort(values->begin(), values->end(),
            [](const auto& a, const auto& b) { return cmp(a.first, b.first) < 0; });
  return {values->size(), [values](size_t i) { return (*values)[i].first; },
          [values](size_t i) { return (*values)[i].second; }};
}

inline Sorted posit_order(const Format& f) {
  const int n = f.bits;
  const uint64_t count = (uint64_t{1} << n) - 1;  // every pattern but NaR
  const int64_t lowest = -((int64_t{1} << (n - 1)) - 1);
  const uint64_t mask = (uint64_t{1} << n) - 1;
  auto pattern = [=](size_t i) {
    return static_cast<uint32_t>(static_cast<uint64_t>(lowest + static_cast<int64_t>(i)) & mask);
  };
  return {count, [f, pattern](size_t i) { return f.decode(pattern(i)).v; }, pattern};
}

// Rounds the real number x, known only through `sign(t) = sign(x - t)` for dyadic t, and its
// own sign, to the format; NaN handled by the caller.
inline uint32_t round_by_search(const Format& f, const Sorted& vals,
                                const std::function<int(const Dyadic&)>& compare_x,
                                bool x_negative) {
  // The first value >= x.
  size_t lo = 0, hi = vals.size;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (compare_x(vals.value(mid)) > 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  const size_t up = lo;
  if (up < vals.size && compare_x(vals.value(up)) == 0) return vals.pattern(up);  // exact
  const bool above_all = up == vals.size;
  const bool below_all = up == 0;
  if (above_all || below_all) {
    const uint32_t edge = vals.pattern(above_all ? vals.size - 1 : 0);
    if (f.overflow == Overflow::kSaturate || f.overflow == Overflow::kWrapFixed) return edge;
    // Between the extreme value and the next one the format would have: the midpoint is the
    // encoding one bit longer, as everywhere else (the formats are symmetric).
    Dyadic mid = *f.midpoint_above(vals.pattern(vals.size - 1));
    if (below_all) mid = neg(mid);
    const int c = compare_x(mid);
    const bool beyond = above_all ? c > 0 : c < 0;
    // A tie goes to the even pattern: beyond the extreme unless the extreme itself is even
    // (E4M3's 448 = S.1111.110 is even; its neighbour S.1111.111 is NaN).
    if (beyond || (c == 0 && (edge & 1))) {
      if (f.overflow == Overflow::kToNaN) return f.nan_pattern;
      return above_all ? f.pos_inf_pattern : f.neg_inf_pattern;
    }
    return edge;
  }
  const std::pair<Dyadic, uint32_t> a{vals.value(up - 1), vals.pattern(up - 1)};  // a < x < b
  const std::pair<Dyadic, uint32_t> b{vals.value(up), vals.pattern(up)};
  if (f.truncate) return a.second;
  if (f.never_to_zero) {
    if (a.first.zero()) return b.second;  // 0 < x < minpos
    if (b.first.zero()) return a.second;  // -minpos < x < 0
  }
  Dyadic mid;
  if (f.encoding_midpoints) {
    // Midpoints of posits are defined on magnitudes: above the smaller magnitude.
    const bool positive = !x_negative;
    const auto& smaller = positive ? a : b;
    const uint32_t magnitude_pattern =
        positive ? smaller.second
                 : static_cast<uint32_t>((~uint64_t{smaller.second} + 1) & ((uint64_t{1} << f.bits) - 1));
    mid = *f.midpoint_above(magnitude_pattern);
    if (!positive) mid = neg(mid);
  } else {
    mid = midpoint(a.first, b.first);
  }
  const int c = compare_x(mid);
  if (c < 0) return a.second;
  if (c > 0) return b.second;
  return (a.second & 1) ? b.second : a.second;  // tie: the even pattern
}

// ---- Decoders, from the definitions ----

inline Format minifloat(const std::string& name, int exp_bits, int man_bits, bool e4m3,
                        bool saturate) {
  Format f;
  f.name = name;
  f.bits = 1 + exp_bits + man_bits;
  const int bias = (1 << (exp_bits - 1)) - 1;
  const uint32_t exp_all = (1u << exp_bits) - 1, man_all = (1u << man_bits) - 1;
  f.decode = [=](uint32_t p) {
    const bool s = (p >> (exp_bits + man_bits)) & 1;
    const uint32_t ex = (p >> man_bits) & exp_all, ma = p & man_all;
    Value v;
    if (e4m3 && ex == exp_all && ma == man_all) {
      v.kind = Value::kNaN;
    } else if (!e4m3 && ex == exp_all) {
      v.kind = ma ? Value::kNaN : (s ? Value::kNegInf : Value::kPosInf);
    } else if (ex == 0) {
      v.v = Dyadic::of(s, ma, 1 - bias - man_bits);
    } else {
      v.v = Dyadic::of(s, (1u << man_bits) + ma, static_cast<int64_t>(ex) - bias - man_bits);
    }
    return v;
  };
  // One more mantissa bit: the arithmetic midpoint, also past the largest value.
  f.midpoint_above = [=](uint32_t p) -> std::optional<Dyadic> {
    const uint32_t ex = (p >> man_bits) & exp_all, ma = p & man_all;
    const uint64_t m = (ex == 0 ? ma : (1u << man_bits) + ma) * 2 + 1;
    return Dyadic::of(false, m, (ex == 0 ? 1 : static_cast<int64_t>(ex)) - bias - man_bits - 1);
  };
  f.overflow = saturate ? Overflow::kSaturate : e4m3 ? Overflow::kToNaN : Overflow::kToInfinity;
  f.nan_pattern = e4m3 ? (exp_all << man_bits) | man_all : (exp_all << man_bits) | (1u << (man_bits - 1));
  f.pos_inf_pattern = exp_all << man_bits;
  f.neg_inf_pattern = (1u << (exp_bits + man_bits)) | (exp_all << man_bits);
  return f;
}

// Value of a positive posit pattern p of n bits (p in [1, 2^(n-1))), read bit by bit.
inline Dyadic posit_value(uint64_t p, int n, int es) {
  // Bits after the sign, most significant first.
  std::vector<int> bits;
  for (int i = n - 2; i >= 0; --i) bits.push_back((p >> i) & 1);
  size_t i = 0;
  const int first = bits[0];
  int run = 0;
  while (i < bits.size() && bits[i] == first) {
    ++run;
    ++i;
  }
  if (i < bits.size()) ++i;  // the terminating bit
  const int64_t k = first ? run - 1 : -run;
  int64_t e = 0;
  for (int j = 0; j < es; ++j) {
    e = e * 2 + (i < bits.size() ? bits[i] : 0);
    if (i < bits.size()) ++i;
  }
  uint64_t frac = 1;
  int frac_bits = 0;
  for (; i < bits.size(); ++i) {
    frac = frac * 2 + bits[i];
    ++frac_bits;
  }
  return Dyadic::of(false, frac, k * (int64_t{1} << es) + e - frac_bits);
}

inline Format posit(int n, int es) {
  Format f;
  f.name = "posit<" + std::to_string(n) + "," + std::to_string(es) + ">";
  f.bits = n;
  const uint64_t mask = (n == 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1);
  f.decode = [=](uint32_t p32) {
    const uint64_t p = p32 & mask;
    Value v;
    if (p == 0) return v;
    if (p == (uint64_t{1} << (n - 1))) {
      v.kind = Value::kNaN;
      return v;
    }
    const bool s = p >> (n - 1);
    v.v = posit_value(s ? ((~p + 1) & mask) : p, n, es);
    v.v.neg = s;
    return v;
  };
  // The midpoint above a positive posit p: the (n+1)-bit posit p followed by a 1.
  f.midpoint_above = [=](uint32_t p) -> std::optional<Dyadic> {
    return posit_value((uint64_t{p} << 1) | 1, n + 1, es);
  };
  f.encoding_midpoints = true;
  f.overflow = Overflow::kSaturate;
  f.never_to_zero = true;
  f.nan_pattern = 1u << (n - 1);
  return f;
}

inline Format fixed(int int_bits, int frac_bits, bool truncate, bool wrap) {
  Format f;
  f.name = "fixed<" + std::to_string(int_bits) + "," + std::to_string(frac_bits) + ">";
  f.bits = int_bits + frac_bits;
  const int bits = f.bits;
  f.decode = [=](uint32_t p) {
    const int64_t v = (p >> (bits - 1)) & 1 ? static_cast<int64_t>(p) - (int64_t{1} << bits)
                                           : static_cast<int64_t>(p);
    Value out;
    out.v = Dyadic::of(v < 0, static_cast<uint64_t>(v < 0 ? -v : v), -frac_bits);
    return out;
  };
  f.overflow = wrap ? Overflow::kWrapFixed : Overflow::kSaturate;
  f.truncate = truncate;
  f.fixed_lsb_exp = -frac_bits;
  return f;
}

}  // namespace nmp::slowref
