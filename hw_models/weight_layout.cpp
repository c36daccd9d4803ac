#include "hw_models/weight_layout.hpp"

#include <algorithm>

namespace nmp::hw {

uint64_t WeightLayout::row_bytes(uint32_t elements) const {
  if (pe == PeKind::kTernaryInt8) return arith::packed_bytes(elements, packing);
  return uint64_t{elements} * pe_traits(pe).weight_bytes;
}

BlockShape block_shape(uint32_t n, uint32_t k, const WeightLayout& layout) {
  switch (layout.dataflow) {
    case Dataflow::kAdderTree:
      break;
    case Dataflow::kWeightStationary:
      return {layout.array_cols, layout.array_rows, false};
    case Dataflow::kOutputStationary:
      return {layout.array_cols, k, false};
    case Dataflow::kInputStationary:
      return {n, layout.array_rows, true};
  }
  return {layout.array_cols, layout.array_rows, true};
}

std::vector<WeightBlock> weight_blocks(uint32_t n, uint32_t k, const WeightLayout& layout) {
  const BlockShape shape = block_shape(n, k, layout);
  std::vector<WeightBlock> blocks;
  blocks.reserve(size_t{(n + shape.n - 1) / shape.n} * ((k + shape.k - 1) / shape.k));
  for_each_weight_block(n, k, layout, [&](const WeightBlock& b) { blocks.push_back(b); });
  return blocks;
}

uint64_t weight_operand_bytes(uint32_t n, uint32_t k, const WeightLayout& layout) {
  // The sum of weight_blocks()' bytes in closed form: blocks differ only at the edges.
  const BlockShape shape = block_shape(n, k, layout);
  const uint32_t n_sizes[] = {shape.n, n % shape.n}, k_sizes[] = {shape.k, k % shape.k};
  const uint64_t n_counts[] = {n / shape.n, n % shape.n ? 1u : 0u};
  const uint64_t k_counts[] = {k / shape.k, k % shape.k ? 1u : 0u};
  uint64_t total = 0;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) {
      if (n_counts[i] == 0 || k_counts[j] == 0) continue;
      WeightBlock b;
      b.n_count = n_sizes[i];
      b.k_count = k_sizes[j];
      b.n_major = shape.n_major;
      total += n_counts[i] * k_counts[j] * b.rows() * layout.row_bytes(b.row_length());
    }
  }
  return total;
}

}  // namespace nmp::hw
