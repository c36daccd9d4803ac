#include "hw_models/arith/minifloat.hpp"

#include <cstring>

namespace nmp::arith {

const FloatFormat kFp32{"fp32", 8, 23, FloatFlavor::kIeee, false};
const FloatFormat kFp16{"fp16", 5, 10, FloatFlavor::kIeee, false};
const FloatFormat kBf16{"bf16", 8, 7, FloatFlavor::kIeee, false};
const FloatFormat kFp8E4M3{"fp8_e4m3", 4, 3, FloatFlavor::kOcpE4M3, false};
const FloatFormat kFp8E4M3Sat{"fp8_e4m3_sat", 4, 3, FloatFlavor::kOcpE4M3, true};
const FloatFormat kFp8E5M2{"fp8_e5m2", 5, 2, FloatFlavor::kIeee, false};
const FloatFormat kFp8E5M2Sat{"fp8_e5m2_sat", 5, 2, FloatFlavor::kIeee, true};

int FloatFormat::max_scale() const {
  const int top_exponent = (1 << exp_bits) - 1;
  // IEEE reserves the all-ones exponent; E4M3 uses it for normals (but not mantissa all ones).
  return (flavor == FloatFlavor::kIeee ? top_exponent - 1 : top_exponent) - bias();
}

uint32_t FloatFormat::max_finite_pattern() const {
  const uint32_t man_all = (1u << man_bits) - 1;
  if (flavor == FloatFlavor::kIeee) {
    return (static_cast<uint32_t>((1 << exp_bits) - 2) << man_bits) | man_all;
  }
  return (static_cast<uint32_t>((1 << exp_bits) - 1) << man_bits) | (man_all - 1);
}

uint32_t FloatFormat::nan_pattern() const {
  const uint32_t exp_all = (1u << exp_bits) - 1;
  if (flavor == FloatFlavor::kIeee) return (exp_all << man_bits) | (1u << (man_bits - 1));
  return (exp_all << man_bits) | ((1u << man_bits) - 1);
}

bool FloatFormat::is_nan(uint32_t pattern) const {
  const uint32_t magnitude = pattern & ((1u << (bits() - 1)) - 1);
  const uint32_t exp_all = (1u << exp_bits) - 1;
  if (flavor == FloatFlavor::kIeee) {
    return (magnitude >> man_bits) == exp_all && (magnitude & ((1u << man_bits) - 1)) != 0;
  }
  return magnitude == ((exp_all << man_bits) | ((1u << man_bits) - 1));
}

Unpacked FloatFormat::decode(uint32_t pattern) const {
  const bool neg = (pattern >> (bits() - 1)) & 1;
  const uint32_t exponent = (pattern >> man_bits) & ((1u << exp_bits) - 1);
  const uint32_t mantissa = pattern & ((1u << man_bits) - 1);
  if (is_nan(pattern)) return Unpacked::nan();
  if (flavor == FloatFlavor::kIeee && exponent == (1u << exp_bits) - 1) return Unpacked::inf(neg);
  if (exponent == 0) {  // zero or subnormal: 0.mantissa x 2^(1 - bias)
    return Unpacked::from_integer(neg, mantissa, 1 - bias() - man_bits);
  }
  return Unpacked::from_integer(neg, (1u << man_bits) | mantissa,
                                static_cast<int32_t>(exponent) - bias() - man_bits);
}

uint32_t FloatFormat::encode(const Unpacked& v) const {
  const uint32_t sign = v.neg ? 1u << (bits() - 1) : 0;
  const uint32_t overflow = saturate ? sign | max_finite_pattern()
                            : flavor == FloatFlavor::kIeee
                                ? sign | (static_cast<uint32_t>((1 << exp_bits) - 1) << man_bits)
                                : nan_pattern();
  switch (v.kind) {
    case Unpacked::Kind::kNaN:
      return nan_pattern();
    case Unpacked::Kind::kInf:
      return overflow;
    case Unpacked::Kind::kZero:
      return sign;
    case Unpacked::Kind::kFinite:
      break;
  }
  const int min_normal_scale = 1 - bias();
  if (v.scale > max_scale() + 1) return overflow;
  // The quantum of the result: man_bits below its scale, or the subnormal quantum.
  const int lsb = (v.scale < min_normal_scale ? min_normal_scale : v.scale) - man_bits;
  if (v.scale < lsb - 1) return sign;  // below half the smallest subnormal
  const uint64_t q = round_to_lsb(v, lsb).magnitude;
  const uint32_t magnitude = magnitude_of(q, lsb);
  if (magnitude > max_finite_pattern()) return overflow;
  return sign | magnitude;
}

uint32_t FloatFormat::magnitude_of(uint64_t q, int lsb) const {
  // q counts quanta; rounding may carry into the next binade (q == 2^(man_bits+1)).
  uint32_t exponent, mantissa;
  if (q >= (uint64_t{2} << man_bits)) {
    exponent = static_cast<uint32_t>(lsb + man_bits + 1 + bias());
    mantissa = 0;
  } else if (q >= (uint64_t{1} << man_bits)) {
    exponent = static_cast<uint32_t>(lsb + man_bits + bias());
    mantissa = static_cast<uint32_t>(q) & ((1u << man_bits) - 1);
  } else {
    exponent = 0;  // subnormal (lsb is the subnormal quantum) or zero
    mantissa = static_cast<uint32_t>(q);
  }
  return (exponent << man_bits) | mantissa;
}

uint32_t FloatFormat::encode_float(float f) const {
  uint32_t b = 0;
  std::memcpy(&b, &f, 4);
  const uint32_t sign = b >> 31 ? 1u << (bits() - 1) : 0;
  auto overflow = [&] {  // as encode()'s, formed only when needed
    return saturate ? sign | max_finite_pattern()
           : flavor == FloatFlavor::kIeee
               ? sign | (static_cast<uint32_t>((1 << exp_bits) - 1) << man_bits)
               : nan_pattern();
  };
  const uint32_t e = (b >> 23) & 0xff, m = b & 0x7fffff;
  // A normal float whose result is normal: round the mantissa to man_bits in place (nearest,
  // ties to even; a carry moves into the exponent, as it must) and move the exponent to this
  // format's bias. The common case, without the general path's shifts and tests.
  const int target_exponent = static_cast<int>(e) - 127 + bias();
  if (man_bits < 23 && e != 0 && e != 0xff && target_exponent >= 1) {
    const uint32_t shift = 23 - man_bits, magnitude = b & 0x7fffffffu;
    const uint32_t rounded =
        (magnitude + ((1u << (shift - 1)) - 1) + ((magnitude >> shift) & 1)) >> shift;
    const uint32_t result = rounded - (static_cast<uint32_t>(127 - bias()) << man_bits);
    return result > max_finite_pattern() ? overflow() : sign | result;
  }
  if (e == 0xff) return m != 0 ? nan_pattern() : overflow();
  if (e == 0 && m == 0) return sign;
  // |f| = sig x 2^exp2 exactly, sig an integer below 2^24.
  const uint64_t sig = e == 0 ? m : (m | 0x800000u);
  const int exp2 = e == 0 ? -149 : static_cast<int>(e) - 150;
  const int scale = exp2 + 63 - __builtin_clzll(sig);
  // From here as encode(): the quantum, then sig rounded to it, nearest even.
  const int min_normal_scale = 1 - bias();
  if (scale > max_scale() + 1) return overflow();
  const int lsb = (scale < min_normal_scale ? min_normal_scale : scale) - man_bits;
  if (scale < lsb - 1) return sign;
  uint64_t q = 0;
  const int shift = lsb - exp2;
  if (shift <= 0) {
    q = sig << -shift;
  } else {
    q = sig >> shift;
    const uint64_t rest = sig & ((uint64_t{1} << shift) - 1), half = uint64_t{1} << (shift - 1);
    if (rest > half || (rest == half && (q & 1))) ++q;
  }
  const uint32_t magnitude = magnitude_of(q, lsb);
  if (magnitude > max_finite_pattern()) return overflow();
  return sign | magnitude;
}

}  // namespace nmp::arith
