#include "hw_models/arith/unpacked.hpp"

#include <cmath>
#include <cstring>
#include <stdexcept>

namespace nmp::arith {
namespace {

using u128 = unsigned __int128;
using Kind = Unpacked::Kind;

int clz128(u128 v) {
  const auto hi = static_cast<uint64_t>(v >> 64);
  if (hi) return __builtin_clzll(hi);
  return 64 + __builtin_clzll(static_cast<uint64_t>(v));
}

// Normalizes a nonzero 128-bit magnitude whose value is m x 2^(scale_of_bit127 - 127).
Unpacked normalize(bool neg, u128 m, int32_t scale_of_bit127, bool lost) {
  const int lz = clz128(m);
  m <<= lz;
  Unpacked u;
  u.kind = Kind::kFinite;
  u.neg = neg;
  u.scale = scale_of_bit127 - lz;
  u.sig = static_cast<uint64_t>(m >> 64);
  u.sticky = static_cast<uint64_t>(m) != 0 || lost;
  return u;
}

u128 isqrt(u128 n) {
  u128 root = 0, bit = static_cast<u128>(1) << 126;
  while (bit > n) bit >>= 2;
  while (bit) {
    if (n >= root + bit) {
      n -= root + bit;
      root = (root >> 1) + bit;
    } else {
      root >>= 1;
    }
    bit >>= 2;
  }
  return root;
}

int compare_magnitude(const Unpacked& a, const Unpacked& b) {
  if (a.scale != b.scale) return a.scale < b.scale ? -1 : 1;
  if (a.sig != b.sig) return a.sig < b.sig ? -1 : 1;
  return 0;
}

}  // namespace

Unpacked Unpacked::zero(bool neg) {
  Unpacked u;
  u.neg = neg;
  return u;
}

Unpacked Unpacked::nan() {
  Unpacked u;
  u.kind = Kind::kNaN;
  return u;
}

Unpacked Unpacked::inf(bool neg) {
  Unpacked u;
  u.kind = Kind::kInf;
  u.neg = neg;
  return u;
}

Unpacked Unpacked::from_integer(bool neg, uint64_t m, int32_t exp) {
  if (m == 0) return zero(neg);
  // m x 2^exp with m's bit 63 at position 127 of a 128-bit word.
  return normalize(neg, static_cast<u128>(m) << 64, exp + 63, false);
}

Unpacked Unpacked::from_signed(int64_t v, int32_t exp) {
  const uint64_t magnitude = v < 0 ? uint64_t{0} - static_cast<uint64_t>(v) : uint64_t(v);
  return from_integer(v < 0, magnitude, exp);
}

Unpacked negate(Unpacked a) {
  if (!a.is_nan()) a.neg = !a.neg;
  return a;
}

Unpacked add(const Unpacked& a, const Unpacked& b) {
  if (a.is_nan() || b.is_nan()) return Unpacked::nan();
  if (a.is_inf() || b.is_inf()) {
    if (a.is_inf() && b.is_inf() && a.neg != b.neg) return Unpacked::nan();
    return a.is_inf() ? a : b;
  }
  if (a.is_zero() && b.is_zero()) return Unpacked::zero(a.neg && b.neg);
  if (a.is_zero()) return b;
  if (b.is_zero()) return a;
  const bool a_bigger = compare_magnitude(a, b) >= 0;
  const Unpacked& big = a_bigger ? a : b;
  const Unpacked& small = a_bigger ? b : a;
  const int64_t d = static_cast<int64_t>(big.scale) - small.scale;
  const u128 big_m = static_cast<u128>(big.sig) << 64;
  u128 small_m = 0;
  bool lost = false;
  if (d >= 128) {
    lost = true;
  } else {
    const u128 s = static_cast<u128>(small.sig) << 64;
    small_m = s >> d;
    lost = d > 0 && (s & ((static_cast<u128>(1) << d) - 1)) != 0;
  }
  if (big.neg == small.neg) {
    const u128 sum = big_m + small_m;
    if (sum < big_m) {  // carried out of 128 bits: the sum is 2^128 + sum
      return normalize(big.neg, (sum >> 1) | (static_cast<u128>(1) << 127), big.scale + 1,
                       lost || (sum & 1));
    }
    return normalize(big.neg, sum, big.scale, lost);
  }
  // Dropped bits of the smaller operand borrow one unit: the exact difference then lies
  // strictly between the result and the result + 1.
  const u128 diff = big_m - small_m - (lost ? 1 : 0);
  if (diff == 0) return Unpacked::zero(false);  // x - x = +0 when rounding to nearest
  return normalize(big.neg, diff, big.scale, lost);
}

Unpacked sub(const Unpacked& a, const Unpacked& b) { return add(a, negate(b)); }

Unpacked mul(const Unpacked& a, const Unpacked& b) {
  if (a.is_nan() || b.is_nan()) return Unpacked::nan();
  const bool neg = a.neg != b.neg;
  if (a.is_inf() || b.is_inf()) {
    if (a.is_zero() || b.is_zero()) return Unpacked::nan();
    return Unpacked::inf(neg);
  }
  if (a.is_zero() || b.is_zero()) return Unpacked::zero(neg);
  const u128 p = static_cast<u128>(a.sig) * b.sig;  // in [2^126, 2^128)
  return normalize(neg, p, a.scale + b.scale + 1, false);
}

Unpacked div(const Unpacked& a, const Unpacked& b) {
  if (a.is_nan() || b.is_nan()) return Unpacked::nan();
  const bool neg = a.neg != b.neg;
  if (a.is_inf()) return b.is_inf() ? Unpacked::nan() : Unpacked::inf(neg);
  if (b.is_inf()) return Unpacked::zero(neg);
  if (b.is_zero()) return a.is_zero() ? Unpacked::nan() : Unpacked::inf(neg);
  if (a.is_zero()) return Unpacked::zero(neg);
  const u128 n = static_cast<u128>(a.sig) << 64;
  const u128 q = n / b.sig;  // in (2^63, 2^65): a.sig / b.sig x 2^64
  const bool remainder = n % b.sig != 0;
  // q x 2^(a.scale - b.scale - 64): bit 64 of q has scale a.scale - b.scale.
  return normalize(neg, q << 63, a.scale - b.scale + 63 - 64 + 1, remainder);
}

Unpacked sqrt(const Unpacked& a) {
  if (a.is_nan() || (a.neg && !a.is_zero())) return Unpacked::nan();
  if (a.is_zero() || a.is_inf()) return a;
  // value = sig x 2^e; make e even, then widen the radicand into [2^126, 2^128) by an even
  // shift, so that its integer square root has its top bit at 63.
  int64_t e = static_cast<int64_t>(a.scale) - 63;
  u128 r = a.sig;
  if (e & 1) {
    r <<= 1;
    --e;
  }
  const int k = (r >> 64) ? 62 : 64;
  r <<= k;
  e -= k;
  const u128 root = isqrt(r);
  Unpacked u;
  u.kind = Kind::kFinite;
  u.sig = static_cast<uint64_t>(root);
  u.scale = static_cast<int32_t>(63 + e / 2);
  u.sticky = root * root != r;
  return u;
}

Unpacked from_double(double d) {
  if (std::isnan(d)) return Unpacked::nan();
  if (std::isinf(d)) return Unpacked::inf(d < 0);
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  const bool neg = bits >> 63;
  const auto biased = static_cast<int32_t>((bits >> 52) & 0x7ff);
  const uint64_t frac = bits & ((uint64_t{1} << 52) - 1);
  if (biased == 0 && frac == 0) return Unpacked::zero(neg);
  const uint64_t m = biased == 0 ? frac : frac | (uint64_t{1} << 52);
  return Unpacked::from_integer(neg, m, (biased == 0 ? 1 : biased) - 1075);
}

double to_double(const Unpacked& u) {
  switch (u.kind) {
    case Kind::kNaN:
      return std::nan("");
    case Kind::kInf:
      return u.neg ? -HUGE_VAL : HUGE_VAL;
    case Kind::kZero:
      return u.neg ? -0.0 : 0.0;
    case Kind::kFinite:
      break;
  }
  if (u.scale > 1023) return u.neg ? -HUGE_VAL : HUGE_VAL;
  const int32_t lsb = std::max(u.scale - 52, -1074);  // normal, or the subnormal quantum
  if (u.scale < lsb - 1) return u.neg ? -0.0 : 0.0;   // below half the smallest subnormal
  const Rounded r = round_to_lsb(u, lsb);
  const double v = std::ldexp(static_cast<double>(r.magnitude), lsb);
  return u.neg ? -v : v;
}

int compare(const Unpacked& a, const Unpacked& b) {
  const auto signum = [](const Unpacked& x) { return x.is_zero() ? 0 : (x.neg ? -1 : 1); };
  const int sa = signum(a), sb = signum(b);
  if (sa != sb) return sa < sb ? -1 : 1;
  if (sa == 0) return 0;
  if (a.is_inf() || b.is_inf()) {
    if (a.is_inf() && b.is_inf()) return 0;
    return (a.is_inf() ? 1 : -1) * sa;
  }
  return compare_magnitude(a, b) * sa;
}

Rounded round_to_lsb(const Unpacked& u, int32_t lsb_exp) {
  if (u.is_zero()) return {};
  const int64_t dropped = static_cast<int64_t>(lsb_exp) - (static_cast<int64_t>(u.scale) - 63);
  if (dropped < 0 || (dropped < 2 && u.sticky)) {
    throw std::logic_error("round_to_lsb: the value has more precision than the rounding keeps");
  }
  if (dropped == 0) return {u.sig, false};
  if (dropped > 64) return {0, true};  // below half an LSB
  uint64_t q = dropped == 64 ? 0 : u.sig >> dropped;
  const bool round_bit = (u.sig >> (dropped - 1)) & 1;
  const uint64_t rest_mask = dropped >= 2 ? (uint64_t{1} << (dropped - 1)) - 1 : 0;
  const bool rest = (u.sig & rest_mask) != 0 || u.sticky;
  if (round_bit && (rest || (q & 1))) ++q;
  return {q, round_bit || rest};
}

}  // namespace nmp::arith
