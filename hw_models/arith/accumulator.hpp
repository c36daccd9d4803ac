// An exact fixed-point accumulator (a Kulisch accumulator): a two's-complement integer of
// 2^lsb_scale units wide enough for 2^carry_bits addends of magnitude below 2^(msb_scale+1).
// The posit quire is one; every other format's fused dot product uses one too.
//
// Example:
//   ExactAccumulator acc(-48, 32);          // FP16 products: multiples of 2^-48, below 2^33
//   acc.add(mul(a, b));  Unpacked sum = acc.value();   // exact up to its sticky bit
#pragma once

#include <cstdint>
#include <vector>

#include "hw_models/arith/unpacked.hpp"

namespace nmp::arith {

class ExactAccumulator {
 public:
  ExactAccumulator(int lsb_scale, int msb_scale, int carry_bits = 31);
  void clear();
  // Adds an exact value (sticky clear) that is a multiple of 2^lsb_scale and below 2^(msb+1).
  // NaN, and infinities of both signs, make the sum NaN; infinities of one sign, infinite.
  void add(const Unpacked& x);
  Unpacked value() const;  // the sum, truncated to 64 significant bits with a sticky bit
  int bits() const { return static_cast<int>(limbs_.size()) * 64; }

 private:
  int lsb_scale_;
  std::vector<uint64_t> limbs_;  // two's complement, little-endian
  bool nan_ = false, pos_inf_ = false, neg_inf_ = false;
};

}  // namespace nmp::arith
