// The common exact form of every number format: a sign, a binary scale and a 64-bit significand,
// plus a sticky bit that says whether the exact value has more nonzero bits below the
// significand. Operations on two exactly decoded values produce the exact result truncated to
// 64 significant bits with the sticky bit set if anything was dropped (in the direction that
// keeps the truncated value below the exact one), which is all a format needs to round once,
// correctly, to any precision up to 62 bits.
//
//   value = (-1)^neg x sig x 2^(scale - 63),  sig in [2^63, 2^64) for finite nonzero values,
//   so scale = floor(log2 |value|).
//
// Example:
//   Unpacked s = add(from_double(1.5), from_double(-0.25));   // exactly 1.25
//   double d = to_double(s);
#pragma once

#include <cmath>
#include <cstdint>

namespace nmp::arith {

struct Unpacked {
  enum class Kind : uint8_t { kZero, kFinite, kInf, kNaN };
  Kind kind = Kind::kZero;
  bool neg = false;
  int32_t scale = 0;
  uint64_t sig = 0;
  bool sticky = false;  // the exact value lies strictly between sig and sig + 1 (in ulps)

  bool is_zero() const { return kind == Kind::kZero; }
  bool is_finite_nonzero() const { return kind == Kind::kFinite; }
  bool is_nan() const { return kind == Kind::kNaN; }
  bool is_inf() const { return kind == Kind::kInf; }

  static Unpacked zero(bool neg = false);
  static Unpacked nan();
  static Unpacked inf(bool neg);
  // (-1)^neg x m x 2^exp for an unsigned integer m (0 gives zero).
  static Unpacked from_integer(bool neg, uint64_t m, int32_t exp);
  // v x 2^exp for a signed integer v (INT64_MIN included).
  static Unpacked from_signed(int64_t v, int32_t exp);
};

// Exact arithmetic on exact operands (their sticky bits must be clear), with IEEE-like rules
// for zeros, infinities and NaN: the result carries a sticky bit, no rounding happens here.
Unpacked add(const Unpacked& a, const Unpacked& b);
Unpacked sub(const Unpacked& a, const Unpacked& b);
Unpacked mul(const Unpacked& a, const Unpacked& b);
Unpacked div(const Unpacked& a, const Unpacked& b);
Unpacked sqrt(const Unpacked& a);
Unpacked negate(Unpacked a);

// Exact for every double; to_double rounds to nearest, ties to even.
Unpacked from_double(double d);
double to_double(const Unpacked& u);

// -1, 0 or 1: the order of the exact values (NaN must not be passed).
int compare(const Unpacked& a, const Unpacked& b);

// The integer q = the value rounded to nearest-even at bit position `lsb_exp` (the result
// counts units of 2^lsb_exp), with its sign; |value| must be below 2^(lsb_exp + 63).
// Used by every encoder: it is the one place where rounding happens.
struct Rounded {
  uint64_t magnitude = 0;
  bool inexact = false;
};
Rounded round_to_lsb(const Unpacked& u, int32_t lsb_exp);

// v rounded to an integer, to nearest, ties to even: nearbyint in the default rounding mode,
// without a library call below 2^51 in magnitude, where adding and taking away 1.5 x 2^52
// leaves v rounded (the sum's last bit is worth 1). Only a zero's sign can differ from
// nearbyint's. For the shortcuts that encode a run's tensors element by element.
inline double round_half_even(double v) {
  if (!(std::fabs(v) < 0x1p51)) return std::nearbyint(v);
  return (v + 0x1.8p52) - 0x1.8p52;
}

}  // namespace nmp::arith
