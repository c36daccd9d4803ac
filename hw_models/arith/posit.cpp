#include "hw_models/arith/posit.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace nmp::arith {
namespace {

using u128 = unsigned __int128;

}  // namespace

int64_t PositFormat::ordinal(uint32_t p) const {
  const uint32_t v = p & mask();
  return (v & nar()) ? static_cast<int64_t>(v) - (int64_t{1} << n) : static_cast<int64_t>(v);
}

Unpacked PositFormat::decode(uint32_t p) const {
  p &= mask();
  if (p == 0) return Unpacked::zero();
  if (p == nar()) return Unpacked::nan();
  const bool neg = p & nar();
  const uint32_t m = neg ? negate(p) : p;
  // The n-1 bits after the sign, left-aligned in 32 bits.
  const uint32_t body = m << (33 - n);
  const bool ones = body >> 31;
  const int run = std::min(ones ? __builtin_clz(~body) : __builtin_clz(body), n - 1);
  const int k = ones ? run - 1 : -run;
  const int used = std::min(run + 1, n - 1);  // regime bits including the terminating one
  const int rest_bits = n - 1 - used;
  const uint32_t rest = rest_bits > 0 ? (m & ((1u << rest_bits) - 1)) : 0;
  const int exp_bits = std::min(es, rest_bits);
  const int frac_bits = rest_bits - exp_bits;
  const uint32_t e = (rest >> frac_bits) << (es - exp_bits);  // missing exponent bits are 0
  const uint32_t f = frac_bits > 0 ? rest & ((1u << frac_bits) - 1) : 0;
  const int32_t scale = k * (1 << es) + static_cast<int32_t>(e);  // k may be negative
  return Unpacked::from_integer(neg, (uint64_t{1} << frac_bits) | f, scale - frac_bits);
}

uint32_t PositFormat::encode(const Unpacked& v) const {
  if (v.is_nan() || v.is_inf()) return nar();
  if (v.is_zero()) return 0;
  if (v.scale > max_scale()) return v.neg ? negate(maxpos()) : maxpos();
  if (v.scale < -max_scale()) return v.neg ? negate(minpos()) : minpos();
  const int32_t k = v.scale >> es;  // floor division
  const uint32_t e = static_cast<uint32_t>(v.scale - k * (1 << es));
  // The exact encoding after the sign bit, as a 128-bit string: regime, exponent, the 63
  // fraction bits of sig, then sticky.
  const int regime_len = k >= 0 ? k + 2 : -k + 1;
  const u128 regime = k >= 0 ? ((static_cast<u128>(1) << (k + 1)) - 1) << 1 : u128{1};
  const uint64_t fraction = v.sig & ~(uint64_t{1} << 63);
  const int len = regime_len + es + 63;  // <= (n-1) + 1 + 4 + 63 < 128
  const u128 bits = (((regime << es) | e) << 63) | fraction;
  // Keep the top n-1 bits (len > 64 > n-1); round to nearest, ties to even, on the encoding.
  const int drop = len - (n - 1);
  uint32_t keep = static_cast<uint32_t>(bits >> drop);
  const bool round_bit = (bits >> (drop - 1)) & 1;
  const bool rest = (bits & ((static_cast<u128>(1) << (drop - 1)) - 1)) != 0 || v.sticky;
  if (round_bit && (rest || (keep & 1))) ++keep;
  keep = std::clamp<uint32_t>(keep, minpos(), maxpos());  // never to zero, never to NaR
  return v.neg ? negate(keep) : keep;
}

uint32_t PositFormat::encode_float(float f) const {
  uint32_t b = 0;
  std::memcpy(&b, &f, 4);
  const bool neg = (b >> 31) != 0;
  const uint32_t biased = (b >> 23) & 0xff, m = b & 0x7fffff;
  if (biased == 0xff) return nar();  // infinities and NaN
  if (biased == 0 && m == 0) return 0;
  // |f| = (1 + frac / 2^23) x 2^scale; a subnormal's leading one becomes the hidden bit.
  int32_t scale = static_cast<int32_t>(biased) - 127;
  uint32_t frac = m;
  if (biased == 0) {
    const int lead = 31 - __builtin_clz(m);
    scale = lead - 149;
    frac = (m << (23 - lead)) & 0x7fffff;
  }
  uint32_t keep = 0;
  if (scale > max_scale()) {
    keep = maxpos();
  } else if (scale < -max_scale()) {
    keep = minpos();
  } else {  // as encode(): the encoding after the sign, rounded to n-1 bits on the string
    const int32_t k = scale >> es;  // floor division
    const auto e = static_cast<uint64_t>(scale - k * (1 << es));
    const int regime_len = k >= 0 ? k + 2 : -k + 1;
    const uint64_t regime = k >= 0 ? ((uint64_t{1} << (k + 1)) - 1) << 1 : 1;
    const int len = regime_len + es + 23;  // <= n + 4 + 23 < 64
    const uint64_t bits = (((regime << es) | e) << 23) | frac;
    const int drop = len - (n - 1);
    if (drop <= 0) {
      keep = static_cast<uint32_t>(bits << -drop);
    } else {
      keep = static_cast<uint32_t>(bits >> drop);
      const bool round_bit = ((bits >> (drop - 1)) & 1) != 0;
      const bool rest = (bits & ((uint64_t{1} << (drop - 1)) - 1)) != 0;
      if (round_bit && (rest || (keep & 1))) ++keep;
    }
    keep = std::clamp<uint32_t>(keep, minpos(), maxpos());
  }
  return neg ? negate(keep) : keep;
}

uint32_t PositFormat::add(uint32_t a, uint32_t b) const {
  return encode(arith::add(decode(a), decode(b)));
}
uint32_t PositFormat::sub(uint32_t a, uint32_t b) const {
  return encode(arith::sub(decode(a), decode(b)));
}
uint32_t PositFormat::mul(uint32_t a, uint32_t b) const {
  return encode(arith::mul(decode(a), decode(b)));
}
uint32_t PositFormat::div(uint32_t a, uint32_t b) const {
  // x / 0 is NaR in posit arithmetic (no infinities).
  if ((b & mask()) == 0) return nar();
  return encode(arith::div(decode(a), decode(b)));
}
uint32_t PositFormat::sqrt(uint32_t a) const { return encode(arith::sqrt(decode(a))); }

// Products lie in [minpos^2, maxpos^2] = [2^-2S, 2^2S], S = max_scale, and minpos^2 has no
// fraction bits, so 2^-2S is the LSB.
Quire::Quire(const PositFormat& format, int carry_bits)
    : format_(format), acc_(-2 * format.max_scale(), 2 * format.max_scale(), carry_bits) {}

void Quire::fma(uint32_t a, uint32_t b) {
  acc_.add(arith::mul(format_.decode(a), format_.decode(b)));
}

void Quire::add(uint32_t a) { acc_.add(format_.decode(a)); }

uint32_t Quire::round() const { return format_.encode(acc_.value()); }

const Posit8Tables& Posit8Tables::get() {
  static const Posit8Tables tables;
  return tables;
}

Posit8Tables::Posit8Tables() : add_(65536), mul_(65536), value_(256) {
  const PositFormat p8{8, 0};
  for (uint32_t a = 0; a < 256; ++a) {
    value_[a] = to_double(p8.decode(a));
    for (uint32_t b = 0; b < 256; ++b) {
      add_[a << 8 | b] = static_cast<uint8_t>(p8.add(a, b));
      mul_[a << 8 | b] = static_cast<uint8_t>(p8.mul(a, b));
    }
  }
}

}  // namespace nmp::arith
