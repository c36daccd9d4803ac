#include "workloads/tiling.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "hw_models/sram.hpp"

namespace nmp::workloads {

namespace {
constexpr uint64_t kMaxRowBytes = (uint64_t{1} << 24) - 1;  // dma row_bytes field
constexpr uint32_t kMaxDim16 = 65535;                       // gemm n field
}  // namespace

Geometry geometry_of(const hw::NmpParams& hw) {
  Geometry g;
  g.layout = hw.mac_array.layout();
  g.traits = hw.mac_array.traits();
  g.act_word = hw.act_sram.width_bits / 8;
  g.acc_word = hw.acc_sram.width_bits / 8;
  g.wgt_word = hw.weight_sram.width_bits / 8;
  g.wgt_words_per_cycle =
      uint64_t{hw.weight_sram.banks} * hw::bank_ports(hw.weight_sram.ports, hw::Access::kRead);
  g.act_cap = hw.act_sram.capacity_bytes;
  g.acc_cap = hw.acc_sram.capacity_bytes;
  g.wgt_cap = hw.weight_sram.capacity_bytes;
  g.wgt_half = g.wgt_cap / 2 / g.wgt_word * g.wgt_word;
  g.int_kind =
      hw.mac_array.pe == hw::PeKind::kTernaryInt8 || hw.mac_array.pe == hw::PeKind::kInt8Int8;
  return g;
}

WeightTiling tile_weights(uint32_t n, uint32_t k, uint64_t budget, const Geometry& g) {
  const uint32_t rows = g.layout.array_rows, cols = g.layout.array_cols;
  const uint32_t block_cols = std::min(cols, n);
  auto bytes = [&](uint32_t nn, uint32_t kk) { return hw::weight_operand_bytes(nn, kk, g.layout); };
  WeightTiling t;
  if (bytes(block_cols, k) <= budget) {
    t.k_tile = k;
  } else if (bytes(block_cols, std::min(rows, k)) > budget) {
    return t;
  } else {
    uint32_t folds = 1;
    while (uint64_t{folds + 1} * rows < k && bytes(block_cols, (folds + 1) * rows) <= budget) {
      ++folds;
    }
    t.k_tile = folds * rows;
  }
  // Weight bytes grow linearly with the outputs in every layout.
  const uint64_t block_bytes = bytes(block_cols, t.k_tile);
  const uint64_t col_blocks = std::max<uint64_t>(1, std::min(budget, kMaxRowBytes) / block_bytes);
  t.n_tile = static_cast<uint32_t>(std::min<uint64_t>({n, col_blocks * block_cols, kMaxDim16}));
  return t;
}

std::vector<WeightTile> weight_tiles(uint32_t n, uint32_t k, const WeightTiling& t,
                                     const Geometry& g) {
  std::vector<WeightTile> tiles;
  for (uint32_t n0 = 0; n0 < n; n0 += t.n_tile) {
    for (uint32_t k0 = 0; k0 < k; k0 += t.k_tile) {
      const uint32_t nt = std::min(t.n_tile, n - n0), kt = std::min(t.k_tile, k - k0);
      tiles.push_back({n0, nt, k0, kt, hw::weight_operand_bytes(nt, kt, g.layout)});
    }
  }
  return tiles;
}

}  // namespace nmp::workloads
