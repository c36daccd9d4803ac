#include "hw_models/weight_layout.hpp"

#include <algorithm>

namespace nmp::hw {

std::vector<FoldTile> fold_tiles(uint32_t n, uint32_t k, uint32_t array_rows,
                                 uint32_t array_cols, arith::TernaryPacking packing) {
  std::vector<FoldTile> folds;
  uint64_t offset = 0;
  for (uint32_t n0 = 0; n0 < n; n0 += array_cols) {
    for (uint32_t k0 = 0; k0 < k; k0 += array_rows) {
      FoldTile f;
      f.n0 = n0;
      f.k0 = k0;
      f.cols = std::min(array_cols, n - n0);
      f.rows = std::min(array_rows, k - k0);
      f.row_bytes = arith::packed_bytes(f.rows, packing);
      f.bytes = f.cols * f.row_bytes;
      f.offset = offset;
      offset += f.bytes;
      folds.push_back(f);
    }
  }
  return folds;
}

uint64_t weight_operand_bytes(uint32_t n, uint32_t k, uint32_t array_rows, uint32_t array_cols,
                              arith::TernaryPacking packing) {
  uint64_t total = 0;
  for (uint32_t k0 = 0; k0 < k; k0 += array_rows) {
    total += arith::packed_bytes(std::min(array_rows, k - k0), packing);
  }
  return total * n;  // every output has one packed row per reduction fold
}

}  // namespace nmp::hw
