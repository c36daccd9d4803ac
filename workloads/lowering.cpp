#include "workloads/lowering.hpp"

#include <algorithm>
#include <cstring>

#include "hw_models/arith/vector_math.hpp"
#include "hw_models/weight_layout.hpp"
#include "workloads/program_builder.hpp"
#include "workloads/tiling.hpp"

namespace nmp::workloads {

using isa::Opcode;
using isa::Space;

LoweringError::LoweringError(std::string document, std::string pointer, const std::string& message)
    : std::runtime_error(message), document_(std::move(document)), pointer_(std::move(pointer)) {}

namespace {

constexpr uint64_t kMaxRowBytes = (uint64_t{1} << 24) - 1;  // dma row_bytes field
constexpr uint32_t kMaxDim16 = 65535;                       // m and n fields

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

// Activation SRAM bytes for m-tiles of `m` tokens: two input buffers, outputs, and (integer
// kinds) the per-token scales.
uint64_t act_bytes(uint64_t m, uint64_t kp, uint64_t np, const Geometry& g) {
  return 2 * m * kp + m * np + (g.int_kind ? round_up(4 * m, g.act_word) : 0);
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
  const uint32_t rows = g.layout.array_rows, cols = g.layout.array_cols;
  if (n > kMaxDim16) {
    throw LoweringError("workload", "/layers/" + std::to_string(index) + "/out_features",
                        where + ": the output conversion handles at most 65535 outputs per row");
  }
  if (uint64_t{k} * g.traits.act_bytes > kMaxRowBytes) {
    throw LoweringError("workload", "/layers/" + std::to_string(index) + "/in_features",
                        where + ": an input row must fit one DMA row (16 MiB)");
  }
  Tiling t;
  t.kp = round_up(uint64_t{k} * g.traits.act_bytes, g.act_word);
  t.np = round_up(uint64_t{n} * g.traits.act_bytes, g.act_word);
  t.na = round_up(uint64_t{n} * g.traits.acc_bytes, g.acc_word);

  const uint64_t m_acc = g.acc_cap / t.na;
  if (m_acc == 0) {
    throw LoweringError("hw", "/acc_sram/capacity_kib",
                        where + ": the accumulator SRAM must hold one output row of " +
                            std::to_string(n) + " accumulators (" + std::to_string(t.na) +
                            " bytes); it holds " + std::to_string(g.acc_cap));
  }
  uint64_t m_act = g.act_cap / (2 * t.kp + t.np + 4);
  while (m_act > 0 && act_bytes(m_act, t.kp, t.np, g) > g.act_cap) --m_act;
  if (m_act == 0) {
    throw LoweringError("hw", "/act_sram/capacity_kib",
                        where +
                            ": the activation SRAM must hold two input rows and one output "
                            "row of one token (" +
                            std::to_string(act_bytes(1, t.kp, t.np, g)) + " bytes); it holds " +
                            std::to_string(g.act_cap));
  }
  t.m_tile = static_cast<uint32_t>(std::min<uint64_t>({tokens, m_acc, m_act, kMaxDim16}));

  const WeightTiling w = tile_weights(n, k, g.wgt_half, g);
  if (w.k_tile == 0) {
    const uint32_t block_cols = std::min(cols, n);
    throw LoweringError(
        "hw", "/weight_sram/capacity_kib",
        where + ": half the weight SRAM (double buffering) must hold one " + std::to_string(rows) +
            " x " + std::to_string(block_cols) + " array tile (" +
            std::to_string(hw::weight_operand_bytes(block_cols, std::min(rows, k), g.layout)) +
            " bytes); it holds " + std::to_string(g.wgt_half));
  }
  t.n_tile = w.n_tile;
  t.k_tile = w.k_tile;
  return t;
}

}  // namespace

isa::Program finish_program(ProgramBuilder& b, const hw::NmpParams& hw) {
  b.halt();
  if (b.size() * isa::kInstrBytes > hw.controller.imem_bytes) {
    throw LoweringError("hw", "/controller/imem_kib",
                        "the program needs " + std::to_string(b.size() * isa::kInstrBytes) +
                            " bytes of instruction memory; it has " +
                            std::to_string(hw.controller.imem_bytes));
  }
  return b.program();
}

TensorStorage TensorStorage::in_vector_format(const hw::NmpParams& hw) {
  TensorStorage s;
  s.vec_bytes = s.dram_bytes = arith::element_bytes(hw.vector_unit.math);
  s.format = hw.vector_unit.math.format;
  return s;
}

TensorStorage TensorStorage::of_graph(const hw::NmpParams& hw) {
  TensorStorage s = in_vector_format(hw);
  const std::string& dram = hw.dram.activation_format;
  if (dram.empty()) return s;
  const std::unique_ptr<arith::NumberFormat> stored = arith::make_format(dram);
  if (stored->name() == arith::make_format(s.format)->name()) return s;  // one format, two names
  s.format = dram;
  s.dram_bytes = stored->element_bytes();
  s.convert = true;
  return s;
}

std::vector<uint32_t> to_activation_format(const TensorStorage& storage,
                                           const std::vector<float>& x) {
  const std::unique_ptr<arith::NumberFormat> format = arith::make_format(storage.format);
  std::vector<uint32_t> out;
  out.reserve(x.size());
  for (float v : x) out.push_back(format->from_double(v));
  return out;
}

void outputs_stored_as(LayerPlan& plan, const TensorStorage& storage) {
  plan.y_format = storage.format;
  plan.y_element_bytes = static_cast<uint32_t>(storage.dram_bytes);
}

LayerPlan plan_of(const LayerSpec& l, uint32_t rows) {
  LayerPlan plan;
  plan.name = l.name;
  plan.m = rows;
  plan.k = l.in_features;
  plan.n = l.out_features;
  return plan;
}

Lowered lower_model(const ModelSpec& model, const ModelData* data, const hw::NmpParams& hw) {
  const Geometry g = geometry_of(hw);
  const uint32_t m = model.tokens;
  const uint64_t ab = g.traits.act_bytes;
  Lowered out;
  std::vector<Tiling> tilings;
  for (uint32_t l = 0; l < model.layers.size(); ++l) {
    const LayerSpec& spec = model.layers[l];
    if (spec.pe != hw.mac_array.pe) {
      throw LoweringError(
          "workload",
          "/layers/" + std::to_string(l) + (spec.kind == LayerKind::kLinear ? "/format" : "/type"),
          "layer " + std::to_string(l) + " (" + spec.name + ") needs " + hw::to_string(spec.pe) +
              " processing elements; the hardware's MAC array has " +
              hw::to_string(hw.mac_array.pe));
    }
    tilings.push_back(choose_tiling(spec, l, m, g));
  }

  // DRAM layout: the input, every layer's weight tiles, every layer's outputs.
  RegionAllocator allocate;
  const uint64_t x0 = allocate(uint64_t{m} * model.layers.front().in_features * ab);
  struct TileRef {
    uint64_t dram, bytes;
  };
  std::vector<std::vector<std::vector<TileRef>>> tiles(model.layers.size());  // [l][j][i]
  for (uint32_t l = 0; l < model.layers.size(); ++l) {
    const LayerSpec& spec = model.layers[l];
    const Tiling& t = tilings[l];
    LayerPlan plan = plan_of(spec, m);
    plan.m_tile = t.m_tile;
    plan.n_tile = t.n_tile;
    plan.k_tile = t.k_tile;
    plan.w_dram = allocate.top();
    for (uint32_t n0 = 0; n0 < plan.n; n0 += t.n_tile) {
      auto& row = tiles[l].emplace_back();
      for (uint32_t k0 = 0; k0 < plan.k; k0 += t.k_tile) {
        const uint32_t nt = std::min(t.n_tile, plan.n - n0), kt = std::min(t.k_tile, plan.k - k0);
        const uint64_t bytes = hw::weight_operand_bytes(nt, kt, g.layout);
        row.push_back({allocate(bytes), bytes});
      }
    }
    plan.w_bytes = allocate.top() - plan.w_dram;
    out.layers.push_back(plan);
  }
  for (uint32_t l = 0; l < model.layers.size(); ++l) {
    LayerPlan& plan = out.layers[l];
    plan.x_dram = l == 0 ? x0 : out.layers[l - 1].y_dram;
    plan.y_dram = allocate(uint64_t{m} * plan.n * ab);
    plan.y_format = g.int_kind ? "int8 with a uint32 absmax per row"
                               : hw::activation_format(hw.mac_array.pe).name();
    plan.y_element_bytes = static_cast<uint32_t>(ab);
    if (g.int_kind) plan.y_scale_dram = allocate(uint64_t{m} * 4);
  }

  out.dram_bytes = allocate.top();
  if (data) out.dram_image = hw::ZeroPages(allocate.top());
  for (size_t i = 0; data && i < data->input_encoded.patterns.size(); ++i) {
    std::memcpy(&out.dram_image[x0 + i * ab], &data->input_encoded.patterns[i], ab);
  }
  for (uint32_t l = 0; data && l < model.layers.size(); ++l) {
    const LayerPlan& plan = out.layers[l];
    const Tiling& t = tilings[l];
    for (size_t j = 0; j < tiles[l].size(); ++j) {
      for (size_t i = 0; i < tiles[l][j].size(); ++i) {
        const auto n0 = static_cast<uint32_t>(j * t.n_tile);
        const auto k0 = static_cast<uint32_t>(i * t.k_tile);
        const LayerSpec& spec = model.layers[l];
        const LayerData& ld = data->layers[l];
        const WeightAt at = [&](uint32_t nn, uint32_t kk) {
          return weight_pattern(spec, ld, size_t{nn} * spec.in_features + kk);
        };
        write_weight_tile(at, n0, std::min(t.n_tile, plan.n - n0), k0,
                          std::min(t.k_tile, plan.k - k0), g,
                          out.dram_image.data() + tiles[l][j][i].dram);
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
    const uint64_t sbuf = round_up(obuf + uint64_t{t.m_tile} * t.np, g.act_word);  // int kinds
    const uint32_t m_tiles = (m + t.m_tile - 1) / t.m_tile;
    auto rows_of = [&](uint32_t tile) { return std::min(t.m_tile, m - tile * t.m_tile); };
    auto load_inputs = [&](uint32_t tile) {
      b.li(kRegXDram, plan.x_dram + uint64_t{tile} * t.m_tile * plan.k * ab);
      b.li(kRegXBuf, xbuf[tile % 2]);
      b.dma(Opcode::kDmaLoad, Space::kActSram, kRegXBuf, kRegXDram, rows_of(tile), plan.k * ab,
            t.kp, plan.k * ab);
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
          b.li(kRegAct, xbuf[tile % 2] + k0 * ab);
          b.li(kRegAcc, uint64_t{n0} * g.traits.acc_bytes);
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
      if (g.int_kind) {
        b.li(kRegScale, sbuf);
        b.requant(0, kRegOut, kRegScale, rows, plan.n, t.na, t.np);
      } else {
        b.convert(0, kRegOut, rows, plan.n, t.na, t.np);
      }
      b.li(kRegYDram, plan.y_dram + uint64_t{tile} * t.m_tile * plan.n * ab);
      b.dma(Opcode::kDmaStore, Space::kActSram, kRegOut, kRegYDram, rows, plan.n * ab, t.np,
            plan.n * ab);
      if (g.int_kind) {
        b.li(kRegYScaleDram, plan.y_scale_dram + uint64_t{tile} * t.m_tile * 4);
        b.dma(Opcode::kDmaStore, Space::kActSram, kRegScale, kRegYScaleDram, 1, uint64_t{4} * rows,
              uint64_t{4} * rows, uint64_t{4} * rows);
      }
    }
  }
  out.program = finish_program(b, hw);
  return out;
}

}  // namespace nmp::workloads
