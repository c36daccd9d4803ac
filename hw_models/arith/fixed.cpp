#include "hw_models/arith/fixed.hpp"

#include <algorithm>
#include <cmath>

namespace nmp::arith {

int64_t FixedFormat::raw(uint32_t pattern) const {
  const uint64_t v = pattern & mask();
  return (v >> (bits() - 1)) ? static_cast<int64_t>(v) - (int64_t{1} << bits())
                             : static_cast<int64_t>(v);
}

Unpacked FixedFormat::decode(uint32_t pattern) const {
  return Unpacked::from_signed(raw(pattern), -frac_bits);
}

uint32_t FixedFormat::encode(const Unpacked& v) const {
  const auto pattern = [this](int64_t q) { return static_cast<uint32_t>(q) & mask(); };
  if (v.is_nan()) return 0;
  if (v.is_inf()) return pattern(v.neg ? min_raw() : max_raw());
  if (v.is_zero()) return 0;
  // The integer count of LSBs, before overflow handling, as a sign and a magnitude.
  const int64_t lsb_exp = -frac_bits;
  uint64_t magnitude;
  const int64_t top = static_cast<int64_t>(v.scale) - lsb_exp;  // magnitude's top bit position
  if (top >= 61) {
    // Far beyond any 32-bit range: saturate, or wrap the integer's low bits (of the
    // significand's integer part: bits below it cannot reach the low 32 bits of the result).
    if (overflow == FixedOverflow::kSaturate) return pattern(v.neg ? min_raw() : max_raw());
    magnitude = top >= 63 ? (top - 63 >= 64 ? 0 : v.sig << (top - 63)) : v.sig >> (63 - top);
  } else {
    const Rounded r = round_to_lsb(v, static_cast<int32_t>(lsb_exp));
    magnitude = r.magnitude;
    if (rounding == FixedRounding::kTruncate) {
      // Toward minus infinity: truncate the magnitude, then step away from zero if negative.
      const int64_t dropped = 63 - top;
      magnitude = dropped >= 64 ? 0 : v.sig >> dropped;
      if (v.neg && r.inexact) ++magnitude;
    }
  }
  if (overflow == FixedOverflow::kSaturate) {
    const uint64_t limit =
        v.neg ? static_cast<uint64_t>(-min_raw()) : static_cast<uint64_t>(max_raw());
    return pattern(v.neg ? -static_cast<int64_t>(std::min(magnitude, limit))
                         : static_cast<int64_t>(std::min(magnitude, limit)));
  }
  const uint64_t wrapped = v.neg ? ~magnitude + 1 : magnitude;  // modulo 2^64, then 2^bits
  return static_cast<uint32_t>(wrapped) & mask();
}

uint32_t FixedFormat::encode_float(float f) const {
  // Rounding to nearest: scaled by 2^frac_bits (exact in double), rounded, then saturated or
  // wrapped as encode() does. Truncation, NaN, infinities and values of 2^51 LSBs or more take
  // encode().
  const double scaled = frac_bits >= 0 && frac_bits <= 62
                            ? static_cast<double>(f) * static_cast<double>(uint64_t{1} << frac_bits)
                            : NAN;
  if (rounding != FixedRounding::kNearestEven || !(std::fabs(scaled) < 0x1p51)) {
    return encode(from_double(f));
  }
  auto q = static_cast<int64_t>(round_half_even(scaled));
  if (overflow == FixedOverflow::kSaturate) q = std::clamp(q, min_raw(), max_raw());
  return static_cast<uint32_t>(q) & mask();
}

}  // namespace nmp::arith
