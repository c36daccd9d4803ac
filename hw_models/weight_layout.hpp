// How a GEMM's ternary weights sit in weight SRAM (and, copied byte for byte by the DMA, in
// DRAM): as array-sized fold tiles, output folds outer and reduction folds inner.
//
// Fold (nf, kf) covers outputs [nf*C, nf*C + cols) and inputs [kf*R, kf*R + rows), with
// cols = min(C, N - nf*C) and rows = min(R, K - kf*R). Its tile holds `cols` packed rows, one
// per output, each of `rows` trits (packed_bytes(rows) bytes). Tiles follow each other without
// padding.
//
// Example:
//   for (const FoldTile& f : fold_tiles(n, k, rows, cols, packing)) { ... f.offset ... }
#pragma once

#include <cstdint>
#include <vector>

#include "hw_models/arith/ternary.hpp"

namespace nmp::hw {

struct FoldTile {
  uint32_t n0 = 0;     // first output
  uint32_t k0 = 0;     // first input
  uint32_t cols = 0;   // outputs in this fold (<= array columns)
  uint32_t rows = 0;   // inputs in this fold (<= array rows)
  uint64_t offset = 0; // bytes from the start of the weight operand
  uint64_t bytes = 0;
  uint64_t row_bytes = 0;
};

std::vector<FoldTile> fold_tiles(uint32_t n, uint32_t k, uint32_t array_rows,
                                 uint32_t array_cols, arith::TernaryPacking packing);
uint64_t weight_operand_bytes(uint32_t n, uint32_t k, uint32_t array_rows, uint32_t array_cols,
                              arith::TernaryPacking packing);

}  // namespace nmp::hw
