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

std::vector<WeightBlock> weight_blocks(uint32_t n, uint32_t k, const WeightLayout& layout);
uint64_t weight_operand_bytes(uint32_t n, uint32_t k, const WeightLayout& layout);

}  // namespace nmp::hw
