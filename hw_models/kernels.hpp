// Functional kernels: what the MAC array and vector unit compute, bit for bit, on the bytes of
// their SRAMs. No timing here; blocks call these when a command starts.
//
// Example:
//   KernelCounts c = ternary_gemm(args, fold_tiles(n, k, R, C, packing), packing);
#pragma once

#include <cstdint>
#include <vector>

#include "hw_models/arith/ternary.hpp"
#include "hw_models/weight_layout.hpp"

namespace nmp::hw {

struct TernaryGemmArgs {
  const uint8_t* act = nullptr;  // int8, row r at act + r * act_stride
  uint64_t act_stride = 0;
  const uint8_t* wgt = nullptr;  // packed fold tiles (weight_layout.hpp)
  uint8_t* acc = nullptr;        // int32 little-endian, row r at acc + r * acc_stride
  uint64_t acc_stride = 0;
  uint32_t m = 0;
  bool accumulate = false;  // add to the accumulators instead of overwriting them
};

// acc[r][n] (=|+=) sum_k act[r][k] * W[n][k], int32 with two's-complement wrap-around.
// Returns the weight decoder's counts over all fold tiles (each tile counted once).
arith::TritCounts ternary_gemm(const TernaryGemmArgs& args, const std::vector<FoldTile>& folds,
                               arith::TernaryPacking packing);

// Requantizes one row of int32 accumulators to int8 (docs/isa.md#requant):
//   a = max |acc|; if a == 0 every output is 0; else, with e = floor(log2 a) and s = e + 24,
//   r = floor(127 * 2^s / a) (a 31-bit reciprocal, whatever a's size) and
//   q = (acc * r + 2^(s-1)) >> s (arithmetic shift), which lies in [-127, 127] and within
//   0.5 + 2^-23 of 127 * acc / a.
// Returns a (up to 2^31, so it is returned unsigned).
uint32_t requantize_row(const int32_t* acc, uint32_t n, int8_t* out);

}  // namespace nmp::hw
