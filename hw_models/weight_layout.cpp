#include "hw_models/weight_layout.hpp"

#include <algorithm>

namespace nmp::hw {

uint64_t WeightLayout::row_bytes(uint32_t elements) const {
  if (pe == PeKind::kTernaryInt8) return arith::packed_bytes(elements, packing);
  return uint64_t{elements} * pe_traits(pe).weight_bytes;
}

std::vector<WeightBlock> weight_blocks(uint32_t n, uint32_t k, const WeightLayout& layout) {
  uint32_t block_n = layout.array_cols, block_k = layout.array_rows;
  bool n_major = true;
  switch (layout.dataflow) {
    case Dataflow::kAdderTree:
      break;
    case Dataflow::kWeightStationary:
      n_major = false;
      break;
    case Dataflow::kOutputStationary:
      block_k = k;
      n_major = false;
      break;
    case Dataflow::kInputStationary:
      block_n = n;
      break;
  }
  std::vector<WeightBlock> blocks;
  uint64_t offset = 0;
  for (uint32_t n0 = 0; n0 < n; n0 += block_n) {
    for (uint32_t k0 = 0; k0 < k; k0 += block_k) {
      WeightBlock b;
      b.n0 = n0;
      b.k0 = k0;
      b.n_count = std::min(block_n, n - n0);
      b.k_count = std::min(block_k, k - k0);
      b.n_major = n_major;
      b.row_bytes = layout.row_bytes(b.row_length());
      b.bytes = b.rows() * b.row_bytes;
      b.offset = offset;
      offset += b.bytes;
      blocks.push_back(b);
    }
  }
  return blocks;
}

uint64_t weight_operand_bytes(uint32_t n, uint32_t k, const WeightLayout& layout) {
  uint64_t total = 0;
  for (const WeightBlock& b : weight_blocks(n, k, layout)) total += b.bytes;
  return total;
}

}  // namespace nmp::hw
