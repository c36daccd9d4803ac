#include "workloads/lowering.hpp"

#include <algorithm>
#include <cstring>

#include "hw_models/weight_layout.hpp"
#include "workloads/program_builder.hpp"

namespace nmp::workloads {

using isa::Opcode;
using isa::Space;

LoweringError::LoweringError(std::string document, std::string pointer,
                             const std::string& message)
    : std::runtime_error(message), document_(std::move(document)), pointer_(std::move(pointer)) {}

namespace {

constexpr uint64_t kDramAlign = 64;
constexpr uint64_t kMaxRowBytes = (uint64_t{1} << 24) - 1;  // dma row_bytes field
constexpr uint32_t kMaxDim16 = 65535;                       // m and n fields

uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// Registers used by the generated code.
enum Reg : unsigned {
  kRegXDram = 1,
  kRegXBuf = 2,
  kRegWDram = 3,
  kRegWBuf = 4,
  kRegAct = 5,
  kRegAcc = 6,
  kRegOut = 7,
  kRegScale = 8,
  kRegYDram = 10,
  kRegYScaleDram = 11,
};

struct Geometry {
  uint32_t rows, cols;
  arith::TernaryPacking packing;
  uint64_t act_word, acc_word, wgt_word;
  uint64_t act_cap, acc_cap, wgt_half;
};

Geometry geometry_of(const hw::NmpParams& hw) {
  Geometry g;
  g.rows = hw.mac_array.rows;
  g.cols = hw.mac_array.cols;
  g.packing = hw.mac_array.packing;
  g.act_word = hw.act_sram.width_bits / 8;
  g.acc_word = hw.acc_sram.width_bits / 8;
  g.wgt_word = hw.weight_sram.width_bits / 8;
  g.act_cap = hw.act_sram.capacity_bytes;
  g.acc_cap = hw.acc_sram.capacity_bytes;
  g.wgt_half = hw.weight_sram.capacity_bytes / 2 / g.wgt_word * g.wgt_word;
  return g;
}

// Activation SRAM bytes for m-tiles of `m` tokens: two input buffers, outputs, scales.
uint64_t act_bytes(uint64_t m, uint64_t kp, uint64_t np, uint64_t word) {
  return 2 * m * kp + m * np + round_up(4 * m, word);
}

struct Tiling {
  uint32_t m_tile, n_tile, k_tile;
  uint64_t kp, np, na;  // row strides: input, output, accumulators
};

Tiling choose_tiling(const LayerSpec& layer, uint32_t index, uint32_t tokens, const Geometry& g) {
  const std::string where = "layer " + std::to_string(index) + " (" + layer.name + ", " +
                            std::to_string(tokens) + " x " + std::to_string(layer.in_features) +
                            " -> " + std::to_string(layer.out_features) + ")";
  const uint32_t k = layer.in_features, n = layer.out_features;
  if (n > kMaxDim16) {
    throw LoweringError("workload", "/layers/" + std::to_string(index) + "/out_features",
                        where + ": requant handles at most 65535 outputs per row");
  }
  if (k > kMaxRowBytes) {
    throw LoweringError("workload", "/layers/" + std::to_string(index) + "/in_features",
                        where + ": an input row must fit one DMA row (16 MiB)");
  }
  Tiling t;
  t.kp = round_up(k, g.act_word);
  t.np = round_up(n, g.act_word);
  t.na = round_up(uint64_t{4} * n, g.acc_word);

  const uint64_t m_acc = g.acc_cap / t.na;
  if (m_acc == 0) {
    throw LoweringError("hw", "/acc_sram/capacity_kib",
                        where + ": the accumulator SRAM must hold one output row of " +
                            std::to_string(n) + " int32 (" + std::to_string(t.na) +
                            " bytes); it holds " + std::to_string(g.acc_cap));
  }
  uint64_t m_act = g.act_cap / (2 * t.kp + t.np + 4);
  while (m_act > 0 && act_bytes(m_act, t.kp, t.np, g.act_word) > g.act_cap) --m_act;
  if (m_act == 0) {
    throw LoweringError("hw", "/act_sram/capacity_kib",
                        where + ": the activation SRAM must hold two input rows and one output "
                                "row of one token (" +
                            std::to_string(act_bytes(1, t.kp, t.np, g.act_word)) +
                            " bytes); it holds " + std::to_string(g.act_cap));
  }
  t.m_tile = static_cast<uint32_t>(std::min<uint64_t>({tokens, m_acc, m_act, kMaxDim16}));

  // Reduction: all of k if one column block of it fits half the weight SRAM.
  const uint32_t block_cols = std::min(g.cols, n);
  const uint64_t fold_bytes = block_cols * arith::packed_bytes(g.rows, g.packing);
  if (hw::weight_operand_bytes(block_cols, k, g.rows, g.cols, g.packing) <= g.wgt_half) {
    t.k_tile = k;
  } else if (fold_bytes > g.wgt_half) {
    throw LoweringError("hw", "/weight_sram/capacity_kib",
                        where + ": half the weight SRAM (double buffering) must hold one " +
                            std::to_string(g.rows) + " x " + std::to_string(block_cols) +
                            " array tile (" + std::to_string(fold_bytes) + " bytes); it holds " +
                            std::to_string(g.wgt_half));
  } else {
    t.k_tile = static_cast<uint32_t>(g.rows * (g.wgt_half / fold_bytes));
  }
  // Outputs: as many array columns as fit with that reduction length.
  const uint64_t col_bytes = hw::weight_operand_bytes(1, t.k_tile, g.rows, g.cols, g.packing);
  const uint64_t budget = std::min(g.wgt_half, kMaxRowBytes);
  const uint64_t col_blocks = std::max<uint64_t>(1, budget / (uint64_t{g.cols} * col_bytes));
  t.n_tile = static_cast<uint32_t>(std::min<uint64_t>({n, col_blocks * g.cols, kMaxDim16}));
  return t;
}

// Copies the weights of outputs [n0, n0+nt) x inputs [k0, k0+kt) in array fold order.
void write_weight_tile(const int8_t* trits, uint32_t k, uint32_t n0, uint32_t nt, uint32_t k0,
                       uint32_t kt, const Geometry& g, uint8_t* out) {
  std::vector<int8_t> row;
  for (const hw::FoldTile& f : hw::fold_tiles(nt, kt, g.rows, g.cols, g.packing)) {
    for (uint32_t c = 0; c < f.cols; ++c) {
      const int8_t* src = trits + size_t{n0 + f.n0 + c} * k + k0 + f.k0;
      row.assign(src, src + f.rows);
      arith::pack_trits(row.data(), f.rows, g.packing, out + f.offset + c * f.row_bytes);
    }
  }
}

}  // namespace

Lowered lower_model(const ModelSpec& model, const ModelData& data, const hw::NmpParams& hw) {
  const Geometry g = geometry_of(hw);
  const uint32_t m = model.tokens;
  Lowered out;
  std::vector<Tiling> tilings;
  for (uint32_t l = 0; l < model.layers.size(); ++l) {
    tilings.push_back(choose_tiling(model.layers[l], l, m, g));
  }

  // DRAM layout: the input, every layer's weight tiles, every layer's outputs.
  uint64_t top = 0;
  auto allocate = [&top](uint64_t bytes) {
    const uint64_t at = top;
    top = round_up(top + bytes, kDramAlign);
    return at;
  };
  const uint64_t x0 = allocate(uint64_t{m} * model.layers.front().in_features);
  struct TileRef {
    uint64_t dram, bytes;
  };
  std::vector<std::vector<std::vector<TileRef>>> tiles(model.layers.size());  // [l][j][i]
  for (uint32_t l = 0; l < model.layers.size(); ++l) {
    const LayerSpec& spec = model.layers[l];
    const Tiling& t = tilings[l];
    LayerPlan plan;
    plan.name = spec.name;
    plan.m = m;
    plan.k = spec.in_features;
    plan.n = spec.out_features;
    plan.m_tile = t.m_tile;
    plan.n_tile = t.n_tile;
    plan.k_tile = t.k_tile;
    plan.w_dram = top;
    for (uint32_t n0 = 0; n0 < plan.n; n0 += t.n_tile) {
      auto& row = tiles[l].emplace_back();
      for (uint32_t k0 = 0; k0 < plan.k; k0 += t.k_tile) {
        const uint32_t nt = std::min(t.n_tile, plan.n - n0), kt = std::min(t.k_tile, plan.k - k0);
        const uint64_t bytes = hw::weight_operand_bytes(nt, kt, g.rows, g.cols, g.packing);
        row.push_back({allocate(bytes), bytes});
      }
    }
    plan.w_bytes = top - plan.w_dram;
    out.layers.push_back(plan);
  }
  for (uint32_t l = 0; l < model.layers.size(); ++l) {
    LayerPlan& plan = out.layers[l];
    plan.x_dram = l == 0 ? x0 : out.layers[l - 1].y_dram;
    plan.y_dram = allocate(uint64_t{m} * plan.n);
    plan.y_scale_dram = allocate(uint64_t{m} * 4);
  }

  out.dram_image.assign(top, 0);
  for (size_t i = 0; i < data.input_q.values.size(); ++i) {
    out.dram_image[x0 + i] = static_cast<uint8_t>(static_cast<int8_t>(data.input_q.values[i]));
  }
  for (uint32_t l = 0; l < model.layers.size(); ++l) {
    const LayerPlan& plan = out.layers[l];
    const Tiling& t = tilings[l];
    for (size_t j = 0; j < tiles[l].size(); ++j) {
      for (size_t i = 0; i < tiles[l][j].size(); ++i) {
        const auto n0 = static_cast<uint32_t>(j * t.n_tile);
        const auto k0 = static_cast<uint32_t>(i * t.k_tile);
        write_weight_tile(data.layers[l].ternary.trits.data(), plan.k, n0,
                          std::min(t.n_tile, plan.n - n0), k0, std::min(t.k_tile, plan.k - k0),
                          g, out.dram_image.data() + tiles[l][j][i].dram);
      }
    }
  }

  // The program.
  ProgramBuilder b;
  uint64_t weight_tile_count = 0;  // alternates the weight SRAM halves across all layers
  for (uint32_t l = 0; l < model.layers.size(); ++l) {
    const LayerPlan& plan = out.layers[l];
    const Tiling& t = tilings[l];
    const uint64_t xbuf[2] = {0, uint64_t{t.m_tile} * t.kp};
    const uint64_t obuf = 2 * uint64_t{t.m_tile} * t.kp;
    const uint64_t sbuf = round_up(obuf + uint64_t{t.m_tile} * t.np, g.act_word);
    const uint32_t m_tiles = (m + t.m_tile - 1) / t.m_tile;
    auto rows_of = [&](uint32_t tile) { return std::min(t.m_tile, m - tile * t.m_tile); };
    auto load_inputs = [&](uint32_t tile) {
      b.li(kRegXDram, plan.x_dram + uint64_t{tile} * t.m_tile * plan.k);
      b.li(kRegXBuf, xbuf[tile % 2]);
      b.dma(Opcode::kDmaLoad, Space::kActSram, kRegXBuf, kRegXDram, rows_of(tile), plan.k, t.kp,
            plan.k);
    };
    b.layer(l);
    load_inputs(0);
    for (uint32_t tile = 0; tile < m_tiles; ++tile) {
      const uint32_t rows = rows_of(tile);
      bool next_inputs_loaded = tile + 1 == m_tiles;
      for (size_t j = 0; j < tiles[l].size(); ++j) {
        for (size_t i = 0; i < tiles[l][j].size(); ++i) {
          const auto n0 = static_cast<uint32_t>(j * t.n_tile);
          const auto k0 = static_cast<uint32_t>(i * t.k_tile);
          const TileRef& w = tiles[l][j][i];
          b.li(kRegWDram, w.dram);
          b.li(kRegWBuf, (weight_tile_count++ % 2) * g.wgt_half);
          b.dma(Opcode::kDmaLoad, Space::kWeightSram, kRegWBuf, kRegWDram, 1, w.bytes, w.bytes,
                w.bytes);
          b.li(kRegAct, xbuf[tile % 2] + k0);
          b.li(kRegAcc, uint64_t{4} * n0);
          b.gemm(kRegAct, kRegWBuf, kRegAcc, rows, std::min(t.n_tile, plan.n - n0),
                 std::min(t.k_tile, plan.k - k0), t.kp, t.na,
                 i == 0 ? isa::AccMode::kOverwrite : isa::AccMode::kAccumulate);
          if (!next_inputs_loaded) {
            load_inputs(tile + 1);
            next_inputs_loaded = true;
          }
        }
      }
      b.li(kRegOut, obuf);
      b.li(kRegScale, sbuf);
      b.requant(0, kRegOut, kRegScale, rows, plan.n, t.na, t.np);
      b.li(kRegYDram, plan.y_dram + uint64_t{tile} * t.m_tile * plan.n);
      b.dma(Opcode::kDmaStore, Space::kActSram, kRegOut, kRegYDram, rows, plan.n, t.np, plan.n);
      b.li(kRegYScaleDram, plan.y_scale_dram + uint64_t{tile} * t.m_tile * 4);
      b.dma(Opcode::kDmaStore, Space::kActSram, kRegScale, kRegYScaleDram, 1, uint64_t{4} * rows,
            uint64_t{4} * rows, uint64_t{4} * rows);
    }
  }
  b.halt();
  if (b.size() * isa::kInstrBytes > hw.controller.imem_bytes) {
    throw LoweringError("hw", "/controller/imem_kib",
                        "the program needs " + std::to_string(b.size() * isa::kInstrBytes) +
                            " bytes of instruction memory; it has " +
                            std::to_string(hw.controller.imem_bytes));
  }
  out.program = b.program();
  return out;
}

}  // namespace nmp::workloads
