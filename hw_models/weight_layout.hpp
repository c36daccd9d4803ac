// How a GEMM's weights sit in weight SRAM (and, copied byte for byte by the DMA, in DRAM): as
// blocks in the order the array consumes them, n-blocks outer, k-blocks inner, without padding.
//
// | dataflow          | block (n x k)  | rows of a block                      |
// |-------------------|----------------|--------------------------------------|
// | adder_tree        | C x R          | one per output: its k weights        |
// | weight_stationary | C x R          | one per input: its n weights         |
// | output_stationary | C x K (all k)  | one per input: its n weights         |
// | input_stationary  | N (all n) x R  | one per output: its k weights        |
// (partial blocks at the edges are smaller). A row is packed: ternary weights at 2 or 1.6 bits
// (packed_bytes(row length)), other kinds at their element size.
//
// Example:
//   for (const WeightBlock& b : weight_blocks(n, k, layout)) { ... b.offset ... }
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "hw_models/arith/ternary.hpp"
#include "hw_models/dataflow.hpp"
#include "hw_models/pe.hpp"

namespace nmp::hw {

struct WeightLayout {
  Dataflow dataflow = Dataflow::kAdderTree;
  uint32_t array_rows = 64;
  uint32_t array_cols = 64;
  PeKind pe = PeKind::kTernaryInt8;
  arith::TernaryPacking packing = arith::TernaryPacking::kTwoBit;
  FloatAccumulation accumulation = FloatAccumulation::kFp32;
  uint64_t row_bytes(uint32_t elements) const;
};

struct WeightBlock {
  uint32_t n0 = 0, k0 = 0;
  uint32_t n_count = 0, k_count = 0;
  bool n_major = true;  // rows are outputs (each k_count weights) or inputs (each n_count)
  uint64_t offset = 0;  // bytes from the start of the weight operand
  uint64_t row_bytes = 0;
  uint64_t bytes = 0;
  uint32_t rows() const { return n_major ? n_count : k_count; }
  uint32_t row_length() const { return n_major ? k_count : n_count; }
};

// A layout's block size along n and k, and whether a block's rows run along n.
struct BlockShape {
  uint32_t n, k;
  bool n_major;
};
BlockShape block_shape(uint32_t n, uint32_t k, const WeightLayout& layout);

// Calls visit(block) for each block of the n x k weights in order, without a list of them.
template <class Visit>
void for_each_weight_block(uint32_t n, uint32_t k, const WeightLayout& layout, Visit&& visit) {
  const BlockShape shape = block_shape(n, k, layout);
  WeightBlock b;
  b.n_major = shape.n_major;
  for (uint32_t n0 = 0; n0 < n; n0 += shape.n) {
    for (uint32_t k0 = 0; k0 < k; k0 += shape.k) {
      b.n0 = n0;
      b.k0 = k0;
      b.n_count = std::min(shape.n, n - n0);
      b.k_count = std::min(shape.k, k - k0);
      b.row_bytes = layout.row_bytes(b.row_length());
      b.bytes = b.rows() * b.row_bytes;
      visit(static_cast<const WeightBlock&>(b));
      b.offset += b.bytes;
    }
  }
}
std::vector<WeightBlock> weight_blocks(uint32_t n, uint32_t k, const WeightLayout& layout);
uint64_t weight_operand_bytes(uint32_t n, uint32_t k, const WeightLayout& layout);

}  // namespace nmp::hw
