// Small binary floating-point formats, bit-accurate: IEEE 754 binary16 (FP16), bfloat16, and
// the OCP 8-bit formats E4M3 and E5M2, each with an optional saturating mode.
//
// A pattern is sign | exponent (exp_bits, bias 2^(exp_bits-1) - 1) | mantissa (man_bits), with
// subnormals. Specials:
//   kIeee      exponent all ones: infinity (mantissa 0) or NaN (quiet NaN: mantissa MSB set).
//   kOcpE4M3   no infinities; NaN only at S.1111.111; exponent 1111 holds normals, max 448.
// Encoding rounds to nearest, ties to even. A result beyond the largest finite value becomes
// infinity (kIeee), NaN (E4M3), or, in saturating mode, the largest finite value of its sign
// (infinite inputs saturate too; NaN stays NaN). docs/formats.md states every rule.
//
// Example:
//   const FloatFormat& f = kFp8E4M3;
//   uint32_t p = f.encode(from_double(300.0));   // 0x7d = 288
//   double v = to_double(f.decode(p));
#pragma once

#include <cstdint>
#include <string>

#include "hw_models/arith/unpacked.hpp"

namespace nmp::arith {

enum class FloatFlavor : uint8_t { kIeee, kOcpE4M3 };

struct FloatFormat {
  std::string name;
  int exp_bits;
  int man_bits;
  FloatFlavor flavor;
  bool saturate;

  int bits() const { return 1 + exp_bits + man_bits; }
  int bias() const { return (1 << (exp_bits - 1)) - 1; }
  int max_scale() const;  // scale of the largest finite value
  uint32_t max_finite_pattern() const;
  uint32_t nan_pattern() const;

  Unpacked decode(uint32_t pattern) const;
  uint32_t encode(const Unpacked& value) const;  // one rounding, RNE
  // encode(from_double(f)) for a float, from its bits (tested equal at every rounding boundary
  // of the 8- and 16-bit formats): generating a model's weights encodes millions of them.
  uint32_t encode_float(float f) const;
  // The magnitude's pattern for q quanta of 2^lsb, lsb the quantum of their binade (rounding
  // may have carried q into the next one).
  uint32_t magnitude_of(uint64_t q, int lsb) const;
  bool is_nan(uint32_t pattern) const;
};

extern const FloatFormat kFp32;  // IEEE binary32, for internal vector arithmetic
extern const FloatFormat kFp16;
extern const FloatFormat kBf16;
extern const FloatFormat kFp8E4M3;
extern const FloatFormat kFp8E4M3Sat;
extern const FloatFormat kFp8E5M2;
extern const FloatFormat kFp8E5M2Sat;

}  // namespace nmp::arith
