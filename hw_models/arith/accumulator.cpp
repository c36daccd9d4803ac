#include "hw_models/arith/accumulator.hpp"

#include <algorithm>
#include <stdexcept>

namespace nmp::arith {

ExactAccumulator::ExactAccumulator(int lsb_scale, int msb_scale, int carry_bits)
    : lsb_scale_(lsb_scale) {
  const int width = msb_scale - lsb_scale + 1 + carry_bits + 1;  // + sign
  limbs_.assign(static_cast<size_t>((width + 63) / 64), 0);
}

void ExactAccumulator::clear() {
  std::fill(limbs_.begin(), limbs_.end(), 0);
  nan_ = pos_inf_ = neg_inf_ = false;
}

void ExactAccumulator::add(const Unpacked& x) {
  if (x.is_nan()) nan_ = true;
  if (x.is_inf()) (x.neg ? neg_inf_ : pos_inf_) = true;
  if (!x.is_finite_nonzero()) return;
  // x = sig x 2^(scale - 63): sig's LSB lands on bit `shift`; below the LSB only zeros may go.
  const int64_t shift = static_cast<int64_t>(x.scale) - 63 - lsb_scale_;
  const int64_t low = shift < 0 ? -shift : 0;
  if (x.sticky || low > 63 || (low && (x.sig & ((uint64_t{1} << low) - 1)))) {
    throw std::logic_error("accumulator: the addend has bits below its LSB");
  }
  const uint64_t sig = x.sig >> low;
  const int64_t pos = shift < 0 ? 0 : shift;
  const size_t at = static_cast<size_t>(pos / 64);
  const int bit = static_cast<int>(pos % 64);
  const uint64_t lo = sig << bit;
  const uint64_t hi = bit ? sig >> (64 - bit) : 0;
  if (at >= limbs_.size() || (hi && at + 1 >= limbs_.size())) {
    throw std::logic_error("accumulator: the addend is too large");
  }
  // Two's-complement addition of +addend or -addend (= ~addend + 1) over the whole width.
  unsigned __int128 carry = x.neg ? 1 : 0;
  for (size_t i = 0; i < limbs_.size(); ++i) {
    uint64_t word = i == at ? lo : i == at + 1 ? hi : 0;
    if (x.neg) word = ~word;
    const unsigned __int128 s = static_cast<unsigned __int128>(limbs_[i]) + word + carry;
    limbs_[i] = static_cast<uint64_t>(s);
    carry = s >> 64;
  }
}

Unpacked ExactAccumulator::value() const {
  if (nan_ || (pos_inf_ && neg_inf_)) return Unpacked::nan();
  if (pos_inf_ || neg_inf_) return Unpacked::inf(neg_inf_);
  const bool neg = limbs_.back() >> 63;
  std::vector<uint64_t> mag = limbs_;
  if (neg) {  // magnitude = two's-complement negation
    unsigned __int128 carry = 1;
    for (uint64_t& l : mag) {
      const unsigned __int128 s = static_cast<unsigned __int128>(~l) + carry;
      l = static_cast<uint64_t>(s);
      carry = s >> 64;
    }
  }
  size_t top = mag.size();
  while (top > 0 && mag[top - 1] == 0) --top;
  if (top == 0) return Unpacked::zero();
  // The 64 bits from the most significant one down, and whether any bit below them is set.
  const int lead = __builtin_clzll(mag[top - 1]);
  const uint64_t next = top >= 2 ? mag[top - 2] : 0;
  Unpacked u;
  u.kind = Unpacked::Kind::kFinite;
  u.neg = neg;
  u.sig = lead ? (mag[top - 1] << lead) | (next >> (64 - lead)) : mag[top - 1];
  u.sticky = lead && (next << lead) != 0;
  for (size_t i = 0; i + 2 < top && !u.sticky; ++i) u.sticky = mag[i] != 0;
  u.scale = static_cast<int32_t>(static_cast<int64_t>(top - 1) * 64 + 63 - lead + lsb_scale_);
  return u;
}

}  // namespace nmp::arith
