// Functional kernels: what the MAC array and the vector unit compute, bit for bit, on the bytes
// of their SRAMs. No timing here; blocks call these when a command starts.
//
// A gemm runs as folds (one weight block, and for OS and IS a slice of the rows m): see
// gemm_folds(). Its arithmetic per PE kind is in pe.hpp. Operand layouts, for every dataflow:
// activation (m, k) at act + m * act_stride + k * act_bytes; accumulator (m, n) at
// acc + m * acc_stride + n * acc_bytes (little-endian); weights as weight_layout.hpp says.
//
// Example:
//   GemmCounts c = gemm(args, blocks, gemm_folds(m, blocks, layout));
#pragma once

#include <cstdint>
#include <vector>

#include "hw_models/arith/format.hpp"
#include "hw_models/weight_layout.hpp"

namespace nmp::hw {

struct Fold {
  uint32_t m0 = 0;
  uint32_t m_count = 0;
  size_t block = 0;  // index into the weight blocks
};

// Folds in execution order: adder tree and WS one per weight block (all m); OS each block (a C
// wide slice of n over all k) per R rows of m, n outer; IS each block (an R deep slice of k
// over all n) per C columns of m, m outer.
std::vector<Fold> gemm_folds(uint32_t m, const std::vector<WeightBlock>& blocks,
                             const WeightLayout& layout);
// The order of a dataflow's folds: each block over tiles of `m_tile` rows of m (blocks outer),
// or each tile of m over every block (input stationary).
struct FoldOrder {
  uint32_t m_tile;
  bool blocks_outer;
};
FoldOrder fold_order(uint32_t m, const WeightLayout& layout);
// Calls visit(fold, block) for each fold in `order`, the blocks in turn from
// for_each_block(f), which calls f(block) for each block in order (fold.block its index).
template <class ForEachBlock, class Visit>
void visit_folds(uint32_t m, const FoldOrder& order, ForEachBlock&& for_each_block, Visit&& visit) {
  const auto rows = [&](uint32_t m0) { return std::min(order.m_tile, m - m0); };
  if (order.blocks_outer) {
    size_t index = 0;
    for_each_block([&](const WeightBlock& b) {
      for (uint32_t m0 = 0; m0 < m; m0 += order.m_tile) visit(Fold{m0, rows(m0), index}, b);
      ++index;
    });
    return;
  }
  for (uint32_t m0 = 0; m0 < m; m0 += order.m_tile) {
    size_t index = 0;
    for_each_block([&](const WeightBlock& b) { visit(Fold{m0, rows(m0), index++}, b); });
  }
}
// Calls visit(fold, block) for each fold of gemm_folds(m, weight_blocks(n, k, layout), layout)
// in order (fold.block the block's index there), without a list of either.
template <class Visit>
void for_each_fold(uint32_t m, uint32_t n, uint32_t k, const WeightLayout& layout, Visit&& visit) {
  visit_folds(
      m, fold_order(m, layout),
      [&](const auto& each_block) { for_each_weight_block(n, k, layout, each_block); }, visit);
}

struct GemmArgs {
  WeightLayout layout;
  const uint8_t* act = nullptr;
  uint64_t act_stride = 0;
  const uint8_t* wgt = nullptr;
  uint8_t* acc = nullptr;
  uint64_t acc_stride = 0;
  bool accumulate = false;  // add the first fold of every output to the accumulator
};

struct GemmCounts {
  uint64_t zero_weight_macs = 0;  // ternary: MACs whose weight is 0
  uint64_t invalid_codes = 0;     // ternary: packed codes outside the format, per weight
  uint64_t quire_overflows = 0;   // posit16: sums beyond the quire's carry guard
};

// Computes the values (unless `values` is false) and the counts.
GemmCounts gemm(const GemmArgs& args, const std::vector<WeightBlock>& blocks,
                const std::vector<Fold>& folds, bool values);

// Requantizes one row of int32 accumulators to int8 (docs/isa.md#requant):
//   a = max |acc|; if a == 0 every output is 0; else, with e = floor(log2 a) and s = e + 24,
//   r = floor(127 * 2^s / a) (a 31-bit reciprocal, whatever a's size) and
//   q = (acc * r + 2^(s-1)) >> s (arithmetic shift), which lies in [-127, 127] and within
//   0.5 + 2^-23 of 127 * acc / a.
// Returns a (up to 2^31, so it is returned unsigned).
uint32_t requantize_row(const int32_t* acc, uint32_t n, int8_t* out);

// The exact value of one accumulator of `kind`: int32, fp32 bits (native float accumulation:
// the kind's own format), or a quire (NaR: NaN).
arith::Unpacked accumulator_value(PeKind kind, FloatAccumulation accumulation, const uint8_t* acc);

// The activation format of `kind`: int8 (fixed<8,0>) for the integer kinds, else the kind's
// fp16, bf16, fp8 or posit format.
const arith::NumberFormat& activation_format(PeKind kind);

// Rounds one accumulator of `kind` (fp32 bits, or a quire) to the kind's activation format:
// the pattern of fp16, bf16, fp8 or posit, once, to nearest (docs/formats.md).
uint32_t convert_accumulator(PeKind kind, FloatAccumulation accumulation, const uint8_t* acc);

}  // namespace nmp::hw
