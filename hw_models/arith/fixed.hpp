// Fixed point fixed<I,F>: an (I+F)-bit two's-complement integer q standing for q / 2^F, so I
// counts the integer bits including the sign: fixed<2,6> spans [-2, 2 - 2^-6]. 2 <= I+F <= 32.
//
// Rounding to the LSB 2^-F: nearest with ties to even, or truncation (dropping the low bits of
// the two's-complement value: toward minus infinity). Out of range: saturation to the extreme
// of the value's sign, or wrap-around modulo 2^(I+F). Infinities saturate in either mode; NaN
// encodes as 0. Arithmetic is exact, then rounded once. intN is fixed<N,0>.
//
// Example:
//   const FixedFormat f{2, 6, FixedRounding::kNearestEven, FixedOverflow::kSaturate};
//   uint32_t q = f.encode(from_double(1.3));    // 83 = 0x53: 1.296875
#pragma once

#include <cstdint>

#include "hw_models/arith/unpacked.hpp"

namespace nmp::arith {

enum class FixedRounding : uint8_t { kNearestEven, kTruncate };
enum class FixedOverflow : uint8_t { kSaturate, kWrap };

struct FixedFormat {
  int int_bits;
  int frac_bits;
  FixedRounding rounding = FixedRounding::kNearestEven;
  FixedOverflow overflow = FixedOverflow::kSaturate;

  int bits() const { return int_bits + frac_bits; }
  uint32_t mask() const { return bits() == 32 ? 0xffffffffu : (1u << bits()) - 1; }
  int64_t min_raw() const { return -(int64_t{1} << (bits() - 1)); }
  int64_t max_raw() const { return (int64_t{1} << (bits() - 1)) - 1; }
  int64_t raw(uint32_t pattern) const;  // the signed integer a pattern holds

  Unpacked decode(uint32_t pattern) const;
  uint32_t encode(const Unpacked& value) const;
  // encode(from_double(f)), from the float directly when rounding to nearest.
  uint32_t encode_float(float f) const;
};

}  // namespace nmp::arith
