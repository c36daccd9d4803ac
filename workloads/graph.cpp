#include "workloads/graph.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <optional>

#include "hw_models/analytical.hpp"
#include "hw_models/dram.hpp"
#include "hw_models/sram.hpp"
#include "hw_models/weight_layout.hpp"
#include "workloads/attention.hpp"
#include "workloads/layer_fields.hpp"
#include "workloads/linear_mapping.hpp"
#include "workloads/mlp_attention.hpp"
#include "workloads/program_builder.hpp"
#include "workloads/recurrent.hpp"
#include "workloads/streamed_gemm.hpp"
#include "workloads/tiling.hpp"

namespace nmp::workloads {
namespace {

using arith::VectorFunction;
using hw::ElemType;
using hw::VectorBinary;
using isa::Opcode;
using isa::Space;

// Registers of the generated code (r13-r15 belong to the program builder).
enum Reg : unsigned {
  kRegX = 1,      // DRAM address of the current m-tile of the (first) input
  kRegB = 2,      // ... of the second input
  kRegY = 3,      // ... of the output
  kRegM = 4,      // m-tiles left
  kRegW = 5,      // DRAM address of the next weight tile
  kRegAcc = 6,    // accumulator address of the current output block
  kRegN = 7,      // output blocks left; a vector layer's other buffer set
  kRegAct = 8,    // activation address of the current reduction block
  kRegK = 9,      // reduction blocks left; a vector layer's current buffer set
  kRegWBuf = 10,  // the weight SRAM half of the next tile
  kRegHalf = 11,  // the byte size of a half
  kRegSram = 12,  // a DMA's on-chip address
};

constexpr StreamedGemmRegs kGemmRegs = {kRegW, kRegAcc, kRegN, kRegAct, kRegK, kRegWBuf, kRegHalf};

// An activation SRAM operand at an absolute address.
VecRef vec(uint64_t addr, uint64_t stride = 0) { return VecRef{addr, false, stride}; }

// Constants of a linear layer in vec (integer kinds): 127 and s_W / 127.
enum Const : uint32_t { kC127, kCW, kNumConsts };

bool is_linear(const LayerSpec& l) {
  return l.kind == LayerKind::kBitLinear || l.kind == LayerKind::kLinear;
}

// Input rows per output row: a pool's stride, else 1.
uint32_t rows_per_output(const LayerSpec& l) { return l.kind == LayerKind::kPool ? l.stride : 1; }

std::string where(const LayerSpec& l, size_t index) {
  return "layer " + std::to_string(index) + " (" + l.name + ")";
}

// On-chip layout of one layer for m-tiles of mt rows (byte addresses, word-aligned regions).
// A vector layer's buffers that the DMA moves for each tile (rows in and out, rope's tables)
// come in `sets` sets, set_bytes apart, for its pipelined row loop; what every tile shares
// (gains, biases, constants, compute-only scratch) sits below them.
struct SramPlan {
  uint32_t mt = 0;
  uint64_t xv = 0, xb = 0, xq = 0, yv = 0, a = 0, r = 0, q = 0, f = 0, consts = 0, gain = 0,
           bias = 0;
  uint64_t cos = 0, sin = 0;                                 // rope: the rows' tables
  uint64_t xv_row = 0, xq_row = 0, yv_row = 0, acc_row = 0;  // row strides
  uint32_t sets = 1;       // vector layers: sets of the tile buffers
  uint32_t row_split = 1;  // element-wise layers: each row runs as this many rows
  uint64_t set_bytes = 0;  // two sets: the second's distance above the first
  uint64_t act_end = 0, acc_end = 0;
  bool gain_in_acc = false;  // rmsnorm, layernorm: the gain and bias in the accumulator SRAM
};

SramPlan plan_sram(const LayerSpec& l, uint32_t mt, uint64_t vb, const Geometry& g,
                   uint32_t sets = 1) {
  SramPlan p;
  p.mt = mt;
  p.sets = sets;
  RegionAllocator region(g.act_word);
  const uint64_t k = l.in_features, n = l.out_features;
  p.xv_row = round_up(k * vb, g.act_word);
  p.yv_row = round_up(n * vb, g.act_word);
  if (l.kind == LayerKind::kRope) p.xv_row = p.yv_row = k * vb;  // packed: heads as rows
  if (is_linear(l)) {
    p.xv = region(uint64_t{mt} * p.xv_row);
    p.yv = region(mt * p.yv_row);
    p.xq_row = round_up(k * g.traits.act_bytes, g.act_word);
    p.xq = region(mt * p.xq_row);
    for (uint64_t* s : {&p.a, &p.r, &p.q, &p.f}) *s = region(mt * vb);
    p.consts = region(kNumConsts * vb);
    if (l.has_bias) p.bias = region(n * vb);
    p.acc_row = round_up(n * g.traits.acc_bytes, g.acc_word);
    p.acc_end = mt * p.acc_row;
    p.act_end = region.top();
    return p;
  }
  if (l.kind == LayerKind::kRmsNorm || l.kind == LayerKind::kLayerNorm) {
    // The gain (and bias) where they fit in the accumulator SRAM, which a vector layer leaves
    // unused: on its own ports, a norm's last pass reads them beside x's reads and y's writes
    // instead of after them.
    const bool bias = l.kind == LayerKind::kLayerNorm;
    RegionAllocator acc(g.acc_word);
    p.gain_in_acc = (bias ? 2 : 1) * round_up(n * vb, g.acc_word) <= g.acc_cap;
    RegionAllocator& consts = p.gain_in_acc ? acc : region;
    p.gain = consts(n * vb);
    if (bias) p.bias = consts(n * vb);
    p.acc_end = acc.top();
  }
  if (l.kind == LayerKind::kPool) p.consts = region(vb);  // mean: 1 / stride
  const uint64_t first_set = region.top();
  if (l.kind == LayerKind::kConcat) {
    // Both inputs load into the output rows, side by side.
  } else if (l.kind == LayerKind::kEmbedding) {
    p.xv = region(uint64_t{mt} * 4);  // the tile's token ids (uint32)
    p.xv_row = 4;
  } else {
    p.xv = region(uint64_t{mt} * rows_per_output(l) * p.xv_row);
  }
  if (l.kind == LayerKind::kAdd || l.kind == LayerKind::kMul) p.xb = region(mt * p.xv_row);
  p.yv = region(mt * p.yv_row);
  if (l.kind == LayerKind::kRope) {
    for (uint64_t* t : {&p.cos, &p.sin}) *t = region(uint64_t{mt} * l.head_dim / 2 * vb);
  }
  p.set_bytes = sets > 1 ? region.top() - first_set : 0;
  for (uint32_t s = 1; s < sets; ++s) region(p.set_bytes);
  p.act_end = region.top();
  return p;
}

// The largest m-tile (at most `tokens` rows) whose layout, with `sets` sets of a vector layer's
// tile buffers, fits the SRAMs.
SramPlan fit_sram(const LayerSpec& l, size_t index, uint32_t rows, uint64_t vb, const Geometry& g,
                  uint32_t sets = 1) {
  const SramPlan one = plan_sram(l, 1, vb, g);
  if (one.act_end > g.act_cap) {
    throw LoweringError("hw", "/act_sram/capacity_kib",
                        where(l, index) +
                            ": the activation SRAM must hold the buffers of one "
                            "row (" +
                            std::to_string(one.act_end) + " bytes); it holds " +
                            std::to_string(g.act_cap));
  }
  if (one.acc_end > g.acc_cap) {
    throw LoweringError("hw", "/acc_sram/capacity_kib",
                        where(l, index) + ": the accumulator SRAM must hold one row of " +
                            std::to_string(l.out_features) + " accumulators (" +
                            std::to_string(one.acc_end) + " bytes); it holds " +
                            std::to_string(g.acc_cap));
  }
  // Vector commands take at most kMaxVectorRows rows (a rope command one per head of a row).
  const uint32_t sub_rows = l.kind == LayerKind::kRope ? l.heads : 1;
  uint32_t lo = 1, hi = std::min({rows, 65535 / rows_per_output(l), kMaxVectorRows / sub_rows});
  while (lo < hi) {  // the layout grows with mt: bisect for the largest that fits
    const uint32_t mid = lo + (hi - lo + 1) / 2;
    const SramPlan p = plan_sram(l, mid, vb, g, sets);
    if (p.act_end <= g.act_cap && p.acc_end <= g.acc_cap) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return plan_sram(l, lo, vb, g, sets);
}

// A layer run in a weights_outer layer's epilogue (model.hpp, Fusion): each chunk of converted
// rows rounded as DRAM stores them (when the formats differ), then an element-wise layer's
// function, or its add or mul with the same rows of its other input, loaded beside the chunk,
// or a rotary embedding of the chunk's heads; the linear layer's own output never crosses DRAM.
struct EpilogueFusion {
  const LayerSpec* layer = nullptr;  // none
  bool round = false;                // the DRAM's format differs from the vector format
  bool linear_first = true;          // the linear layer's output is the layer's first input
  // The other input's DRAM address minus the output's (rope: its angles', whose rows are the
  // output's rows apart, so that a super tile finds its rows' angles from its first output row).
  int64_t operand_offset = 0;
  bool binary() const {
    return layer != nullptr && (layer->kind == LayerKind::kAdd || layer->kind == LayerKind::kMul);
  }
  bool rope() const { return layer != nullptr && layer->kind == LayerKind::kRope; }
};

// Whether a rope layer may run in the epilogue of the linear layer `host` producing its input:
// its angles' rows (a row's cosines and sines, in vec) fit in an output row's DRAM stride, and
// the host has no bias (its epilogue steps through the angles with the bias's register).
bool rope_fusable(const LayerSpec& rope, const LayerSpec& host, uint64_t vec_bytes,
                  uint64_t dram_bytes) {
  return !host.has_bias &&
         uint64_t{rope.head_dim} * vec_bytes <= uint64_t{rope.out_features} * dram_bytes;
}

struct LayerLayout {
  SramPlan sram;
  WeightTiling tiling;
  std::vector<WeightTile> tiles;
  uint64_t weights_dram = 0;             // linear layers: the region of their tiles
  std::vector<LinearMapping> shortlist;  // linear layers: the mappings the lowering decides among
  uint64_t gain_dram = 0, bias_dram = 0, const_dram = 0, table_dram = 0;
  uint64_t cos_dram = 0, sin_dram = 0;  // rope: rows x head_dim / 2 each
  LinearMapping mapping;                // linear layers
  uint64_t xq_dram = 0;                 // weights_outer: the quantized rows' scratch
  int32_t quantized_by = -1;     // weights_outer: the earlier layer whose quantize pass wrote it
  std::vector<uint64_t> inputs;  // DRAM addresses of the input tensors
  GraphAttention attention;      // attention layers
  RecurrentLayout recurrent;     // lstm, gru
  MlpAttention mlp_attention;
  EpilogueFusion fusion;  // weights_outer
};

// A linear layer's mapping and its weight tiles, laid out from the region at weights_dram.
void take_mapping(LayerLayout& lay, const LayerSpec& l, const Geometry& gl,
                  const LinearMapping& m) {
  lay.mapping = m;
  lay.tiling = m.tiling;
  lay.tiles = weight_tiles(l.out_features, l.in_features, lay.tiling, gl);
  RegionAllocator region;
  for (WeightTile& t : lay.tiles) t.dram = lay.weights_dram + region(t.bytes);
}

// The bytes of a linear layer's weight tiles under `tiling`, each from an aligned address.
uint64_t tiles_bytes(const LayerSpec& l, const WeightTiling& tiling, const Geometry& gl) {
  RegionAllocator region;
  for (const WeightTile& t : weight_tiles(l.out_features, l.in_features, tiling, gl))
    region(t.bytes);
  return region.top();
}

// A linear layer's plan: its mapping, the mapper's prediction and its weights' place.
void plan_mapping(LayerPlan& plan, const LayerLayout& lay) {
  const LinearMapping& m = lay.mapping;
  plan.loop_order = to_string(m.order);
  plan.predicted_dram_bytes = m.dram_bytes;
  plan.predicted_cycles = m.cycles();
  plan.predicted_energy_pj = m.energy_pj;
  plan.mappings_scored = m.candidates;
  plan.m_tile = m.m_tile;
  if (m.order == LoopOrder::kWeightsOuter) {
    plan.super_rows = m.outer.super_rows;
    plan.quantize_rows = m.outer.quantize_rows;
    plan.epilogue_rows = m.outer.epilogue_rows;
    plan.epilogue_overlapped = m.outer.overlapped;
    plan.epilogue_sets = m.outer.yv_buffer != 0 ? 2 : 1;
    plan.dma_rows = m.outer.dma_rows;
    plan.resident_tiles = m.outer.resident_tiles;
  }
  plan.n_tile = lay.tiling.n_tile;
  plan.k_tile = lay.tiling.k_tile;
  if (!lay.tiles.empty()) {
    plan.w_dram = lay.tiles.front().dram;
    plan.w_bytes = lay.tiles.back().dram + lay.tiles.back().bytes - plan.w_dram;
  }
}

// kRegY moved by `offset` bytes (through kRegSram): from rows of the output to the same rows of
// a tensor of its shape.
void move_output_reg(ProgramBuilder& b, int64_t offset) {
  b.li(kRegSram, static_cast<uint64_t>(-offset));
  b.sub(kRegY, kRegY, kRegSram);
}

// A fused add's or mul's other input: the mm x nt elements at the rows and columns of that
// tensor `ahead` bytes past kRegY's, into `sram` (rows `row` bytes apart).
void load_fused_operand(ProgramBuilder& b, const EpilogueFusion& f, int64_t ahead, uint64_t sram,
                        uint64_t row, uint32_t mm, uint32_t nt, uint64_t n_dram,
                        const TensorStorage& storage) {
  if (!f.binary()) return;
  move_output_reg(b, f.operand_offset + ahead);
  b.li(kRegSram, sram);
  b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, kRegY, mm, nt * storage.vec_bytes, row, n_dram,
        storage.convert);
  move_output_reg(b, -f.operand_offset - ahead);
}

// A chunk of mm rows x nt accumulators converted into yv: x factor (integer kinds, a scalar
// per row), + bias, in one vact; a fused layer's rounding as stored and its function there
// too, or its add or mul with `operand` (the other input's rows) after it.
void emit_conversion(ProgramBuilder& b, const LayerSpec& l, bool int_kind, const EpilogueFusion& f,
                     VecRef yv, VecRef acc, VecRef factors, VecRef bias, VecRef operand,
                     uint32_t mm, uint32_t nt) {
  const bool round = f.layer != nullptr && f.round;
  const bool unary = f.layer != nullptr && f.layer->kind == LayerKind::kActivation;
  const std::optional<VecRef> scale = int_kind ? std::optional(factors) : std::nullopt;
  const std::optional<arith::VectorFunction> fn =
      unary ? std::optional(f.layer->function) : std::nullopt;
  const bool binary = f.binary(), add = binary && f.layer->kind == LayerKind::kAdd;
  const int registers = ProgramBuilder::needs_register(yv) + ProgramBuilder::needs_register(acc) +
                        (int_kind && ProgramBuilder::needs_register(factors)) +
                        (l.has_bias && ProgramBuilder::needs_register(bias));
  // Without a bias of its own, a fused add's or mul's other input takes the bias's place as
  // rows combined with each result (vact bias_as), in the same pass.
  if (binary && !l.has_bias && registers + ProgramBuilder::needs_register(operand) <= 3) {
    using Bias = isa::vact::Bias;
    const Bias as = f.linear_first ? (add ? Bias::kAdd : Bias::kMul)
                                   : (add ? Bias::kReversedAdd : Bias::kReversedMul);
    b.vact(yv, acc, scale, operand, std::nullopt, round, mm, nt, as);
    return;
  }
  if (registers > 3) {  // more addresses than the builder's registers: the bias apart
    b.vact(yv, acc, scale, std::nullopt, std::nullopt, false, mm, nt);
    b.vbin(VectorBinary::kAdd, yv, yv, bias, false, mm, nt,
           round ? ElemType::kStored : ElemType::kVec);
    if (fn) b.vfn(*fn, yv, yv, mm, nt);
  } else {
    b.vact(yv, acc, scale, l.has_bias ? std::optional(bias) : std::nullopt, fn, round, mm, nt);
  }
  if (!binary) return;
  b.vbin(add ? VectorBinary::kAdd : VectorBinary::kMul, yv, f.linear_first ? yv : operand,
         f.linear_first ? operand : yv, false, mm, nt);
}

// 1 / n rounded to the vector format, as rmsnorm forms it.
uint32_t inverse(const arith::VectorMath& vm, uint32_t n) {
  return vm.round(arith::div(arith::Unpacked::from_integer(false, 1, 0),
                             arith::Unpacked::from_integer(false, n, 0)));
}

// rmsnorm's scale of a row: rsqrt(sum of squares (lane order) x 1/n + eps).
uint32_t rms_scale(const arith::VectorMath& vm, const std::vector<uint32_t>& row, uint32_t eps_log2,
                   uint32_t lanes) {
  std::vector<uint32_t> sq(row.size());
  for (size_t i = 0; i < row.size(); ++i) sq[i] = vm.mul(row[i], row[i]);
  return vm.rms_scale(sq, eps_log2, lanes);
}

// A bitlinear layer on int8 PEs: its weights stay packed ternary (the gemm's `weights` field).
bool ternary_on_int8(const LayerSpec& l, const hw::NmpParams& hw) {
  return l.kind == LayerKind::kBitLinear && hw.mac_array.pe == hw::PeKind::kInt8Int8;
}

// The geometry a linear layer's weights follow: the array's, or packed ternary on int8 PEs.
Geometry layer_geometry(Geometry g, const LayerSpec& l, const hw::NmpParams& hw) {
  if (ternary_on_int8(l, hw)) g.layout.pe = hw::PeKind::kTernaryInt8;
  return g;
}

std::vector<int32_t> inputs_of(const LayerSpec& l, size_t index) {
  if (!l.inputs.empty()) return l.inputs;
  return {static_cast<int32_t>(index) - 1};
}

// The streamed gemm of a linear layer's m rows: activations at `act` (rows `act_row` apart),
// accumulators `acc_row` apart, over the layer's weight tiles.
StreamedGemm layer_gemm(const LayerSpec& l, const LayerLayout& lay, uint32_t m, uint64_t act,
                        uint64_t act_row, uint64_t acc_row, bool ternary_weights) {
  StreamedGemm gemm;
  gemm.m = m;
  gemm.n = l.out_features;
  gemm.k = l.in_features;
  gemm.tiling = lay.tiling;
  gemm.w_dram = lay.tiles.front().dram;
  gemm.act = act;
  gemm.act_row = act_row;
  gemm.acc_row = acc_row;
  gemm.ternary_weights = ternary_weights;
  return gemm;
}

// A problem with a layer's mapping request: at its --mapping file entry, or its loop_order.
LoweringError mapping_error(const LayerSpec& l, size_t index, const std::string& field,
                            const std::string& message) {
  if (l.mapping.from_file) {
    return LoweringError("mapping", "/layers/" + l.name + (field.empty() ? "" : "/" + field),
                         where(l, index) + ": " + message);
  }
  return LoweringError("workload", "/layers/" + std::to_string(index) + "/loop_order",
                       where(l, index) + ": " + message);
}

// Forced sizes that would change values or exceed the layer. `whole_tile_k`: the reduction
// tile an output-stationary array must keep (0: any multiple of the rows).
void check_mapping_request(const LayerSpec& l, size_t index, uint32_t rows, const Geometry& g,
                           uint32_t whole_tile_k) {
  const MappingRequest& want = l.mapping;
  const uint32_t R = g.layout.array_rows, k = l.in_features;
  if (want.epilogue != Epilogue::kAuto && want.order == LoopOrder::kRowsOuter) {
    throw mapping_error(l, index, "epilogue",
                        "an epilogue order is weights_outer's; rows_outer converts each tile of "
                        "rows after all its weight tiles");
  }
  if (want.row_conversion != RowConversion::kAuto && want.order == LoopOrder::kRowsOuter) {
    throw mapping_error(l, index, "row_conversion",
                        "a row conversion is weights_outer's; rows_outer quantizes each tile of "
                        "rows on chip");
  }
  if (want.input_residency != InputResidency::kAuto && want.order == LoopOrder::kRowsOuter) {
    throw mapping_error(l, index, "input_residency",
                        "an input residency is weights_outer's; rows_outer keeps each tile of "
                        "rows on chip across all its weight tiles");
  }
  if (want.k_tile && want.k_tile < k && want.k_tile % R != 0) {
    throw mapping_error(l, index, "k_tile",
                        "expected a multiple of the array's " + std::to_string(R) +
                            " rows or at least in_features (" + std::to_string(k) +
                            "): the array's blocks must fall at the same inputs in every "
                            "mapping, or values would change");
  }
  if (want.k_tile && whole_tile_k && std::min(want.k_tile, k) != whole_tile_k) {
    throw mapping_error(l, index, "k_tile",
                        "an output-stationary array sums a whole reduction tile as one block, "
                        "so the tile stays " +
                            std::to_string(whole_tile_k) + " (values would change)");
  }
  if (want.rows > rows) {
    throw mapping_error(l, index, "rows",
                        "expected at most the layer's " + std::to_string(rows) + " rows");
  }
}

// The start of a weights_outer super tile of m rows (kRegX its quantized rows in DRAM, kRegY
// its first output row): its factors in (integer kinds), a fused rotary embedding's angles of
// its rows in, kRegAcc at the layer's bias; and its gemm, whose activations stream beside the
// weight tiles.
StreamedGemm begin_super_tile(ProgramBuilder& b, const LayerLayout& lay, const LayerSpec& l,
                              uint32_t m, const Geometry& gl, bool int_kind,
                              const TensorStorage& storage, bool ternary_weights) {
  const WeightsOuterPlan& p = lay.mapping.outer;
  const uint64_t vb = storage.vec_bytes;
  if (int_kind) {  // the rows' absmax in, then each factor absmax x s / 127
    b.li(kRegSram, p.factors);
    b.addi(kRegAct, kRegX, static_cast<int64_t>(uint64_t{l.in_features} * gl.traits.act_bytes));
    b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, kRegAct, m, vb, vb, p.xq_dram_row);
    b.vbin(VectorBinary::kMul, vec(p.factors), vec(p.factors), vec(p.consts + kCW * vb), true, 1,
           m);
  }
  if (lay.fusion.rope()) {
    const uint64_t row_bytes = uint64_t{lay.fusion.layer->head_dim} * vb;
    b.li(kRegSram, p.rope);
    b.addi(kRegAct, kRegY, lay.fusion.operand_offset);
    b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, kRegAct, m, row_bytes, p.rope_row,
          uint64_t{l.out_features} * storage.dram_bytes);
  }
  if (l.has_bias) b.li(kRegAcc, lay.bias_dram);
  StreamedGemm gemm = layer_gemm(l, lay, m, p.x, p.x_row, p.acc_row, ternary_weights);
  gemm.stream_acts = true;
  gemm.act_base = kRegX;
  gemm.scratch = kRegSram;
  gemm.act_dram_row = p.xq_dram_row;
  if (p.dma_rows) {  // the input's rows, each tile's slice converted on the way
    gemm.act_dram_row = uint64_t{l.in_features} * storage.dram_bytes;
    gemm.act_tile_step = uint64_t{lay.tiling.k_tile} * storage.dram_bytes;
    gemm.act_convert = storage.to_array;
  }
  gemm.act_buffer_bytes = uint64_t{p.super_rows} * p.x_row;
  gemm.resident_tiles = p.resident_tiles;
  gemm.act_resident = p.resident;
  gemm.act_resident_row = p.resident_row;
  return gemm;
}

// Where weights_outer's gemm pass finds its rows in DRAM (kRegX, a row apart): the quantize
// pass's scratch, or the layer's input (the DMA converts them).
Stream gemm_rows(const LayerLayout& lay, const LayerSpec& l, const TensorStorage& storage) {
  const WeightsOuterPlan& p = lay.mapping.outer;
  if (p.dma_rows) return {kRegX, lay.inputs[0], uint64_t{l.in_features} * storage.dram_bytes};
  return {kRegX, lay.xq_dram, p.xq_dram_row};
}

// An epilogue's chunk of mm rows x nt outputs into the buffers of `set` (WeightsOuterPlan's
// yv_buffer apart): a fused add's or mul's other input loaded from `ahead` bytes past kRegY's
// rows, then the accumulators at `acc` converted with the factors at `factors` (and a fused
// rotary embedding's heads turned in place by the rows' angles at `angles`).
void convert_chunk(ProgramBuilder& b, const LayerLayout& lay, const LayerSpec& l, bool int_kind,
                   const TensorStorage& storage, uint32_t mm, uint32_t nt, unsigned set,
                   int64_t ahead, VecRef acc, VecRef factors, VecRef angles) {
  const WeightsOuterPlan& p = lay.mapping.outer;
  const uint64_t n_dram = uint64_t{l.out_features} * storage.dram_bytes;
  const uint64_t yv = p.yv + set * p.yv_buffer, operand = p.operand + set * p.yv_buffer;
  load_fused_operand(b, lay.fusion, ahead, operand, p.yv_row, mm, nt, n_dram, storage);
  emit_conversion(b, l, int_kind, lay.fusion, vec(yv, p.yv_row), acc, factors, vec(p.bias),
                  vec(operand, p.yv_row), mm, nt);
  if (!lay.fusion.rope()) return;
  const uint32_t d = lay.fusion.layer->head_dim;
  VecRef sines = angles;
  sines.addr += uint64_t{d} / 2 * storage.vec_bytes;
  b.vrope(vec(yv, p.yv_row), vec(yv, p.yv_row), angles, sines, mm, d, nt / d);
}

// The chunk of mm converted rows in `set`'s buffer out to kRegY's rows, kRegY moved past them.
void store_chunk(ProgramBuilder& b, const LayerLayout& lay, const LayerSpec& l,
                 const TensorStorage& storage, uint32_t mm, uint32_t nt, unsigned set) {
  const WeightsOuterPlan& p = lay.mapping.outer;
  const uint64_t n_dram = uint64_t{l.out_features} * storage.dram_bytes;
  b.li(kRegSram, p.yv + set * p.yv_buffer);
  b.dma(Opcode::kDmaStore, Space::kActSram, kRegSram, kRegY, mm, nt * storage.vec_bytes, p.yv_row,
        n_dram, storage.convert);
  b.addi(kRegY, kRegY, static_cast<int64_t>(mm * n_dram));
}

// The gemm pass of weights_outer with overlapped epilogues (linear_mapping.hpp): blocks
// accumulate into two buffers in turn (kRegB holds the current one's address); a block's
// epilogue, unrolled a chunk of rows at a time into alternating buffers of converted rows,
// follows the next block's first tile, so the array runs that tile while the vector unit and
// the DMA convert and store the block. The next block's bias loads after that epilogue, which
// reads the one bias buffer last (its stores already waited for it). The first block runs
// alone, then a loop runs the other full blocks, then the edge block and the last epilogue.
void emit_overlapped_gemm_pass(ProgramBuilder& b, const LayerLayout& lay, const LayerSpec& l,
                               uint32_t rows, uint64_t y_dram, const Geometry& gl, bool int_kind,
                               const TensorStorage& storage, bool ternary_weights) {
  const WeightsOuterPlan& p = lay.mapping.outer;
  const uint32_t n = l.out_features, nb = lay.tiling.n_tile;
  const uint64_t vb = storage.vec_bytes, db = storage.dram_bytes, n_dram = uint64_t{n} * db;
  const uint32_t mo = p.epilogue_rows;
  const auto other_buffer = [&](unsigned into) {  // into = the buffer kRegB does not hold
    b.rsubi(into, p.acc_buffer, kRegB, kRegK);
  };
  // The epilogue of the previous block (m rows, nt outputs, in the buffer kRegB does not hold):
  // kRegY at its first row and column, left at the next block's first column.
  const auto epilogue = [&](uint32_t m, uint32_t nt) {
    other_buffer(kRegK);
    const uint32_t chunks = (m + mo - 1) / mo;
    const auto chunk_rows = [&](uint32_t c) { return std::min(mo, m - c * mo); };
    const auto convert = [&](uint32_t c) {
      // kRegY is at chunk c - 1's rows (chunk 0's before any store).
      const int64_t ahead = c > 0 ? static_cast<int64_t>(mo * n_dram) : 0;
      convert_chunk(b, lay, l, int_kind, storage, chunk_rows(c), nt, c % 2, ahead,
                    VecRef{uint64_t{c} * mo * p.acc_row, true, p.acc_row, kRegK},
                    vec(p.factors + uint64_t{c} * mo * vb, vb),
                    vec(p.rope + uint64_t{c} * mo * p.rope_row, p.rope_row));
    };
    const auto store = [&](uint32_t c) {
      store_chunk(b, lay, l, storage, chunk_rows(c), nt, c % 2);
    };
    // Chunk c's conversion before chunk c - 1's store: the vector unit has the next chunk
    // queued while the DMA waits for the last.
    convert(0);
    for (uint32_t c = 1; c < chunks; ++c) {
      convert(c);
      store(c - 1);
    }
    store(chunks - 1);
    b.addi(kRegY, kRegY,
           static_cast<int64_t>(nt * db) - static_cast<int64_t>(uint64_t{m} * n_dram));
  };
  const auto load_bias = [&](uint32_t nt) {
    if (!l.has_bias) return;
    b.li(kRegSram, p.bias);
    b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, kRegAcc, 1, nt * vb, nt * vb, nt * vb);
    b.addi(kRegAcc, kRegAcc, static_cast<int64_t>(nt * vb));
  };
  row_loop(b, kRegM, rows, p.super_rows, {gemm_rows(lay, l, storage), {kRegY, y_dram, n_dram}},
           [&](uint32_t m) {
             StreamedGemm gemm =
                 begin_super_tile(b, lay, l, m, gl, int_kind, storage, ternary_weights);
             StreamedGemmRegs regs = kGemmRegs;
             regs.acc = kRegB;
             b.li(kRegW, gemm.w_dram);
             // A block of nt outputs into the other buffer, after whose first tile the previous
             // block's epilogue (prev_nt outputs) runs.
             const auto next_block = [&](uint32_t nt, uint32_t prev_nt) {
               other_buffer(kRegB);
               gemm.begin_block = nullptr;
               gemm.after_first_tile = [&] {
                 epilogue(m, prev_nt);
                 load_bias(nt);
               };
               emit_output_block(b, regs, gemm, gl, nt, false);
             };
             const uint32_t full = n / nb, edge = n % nb;
             b.li(kRegB, 0);  // the first block takes the first buffer
             gemm.begin_block = load_bias;
             emit_output_block(b, regs, gemm, gl, full > 0 ? nb : edge, true);
             if (full > 1) {
               b.li(kRegN, full - 1);
               const uint64_t loop = b.here();
               next_block(nb, nb);
               b.dbnz(kRegN, loop);
             }
             if (full > 0 && edge > 0) next_block(edge, nb);
             other_buffer(kRegB);  // the last block's buffer is now the other one
             epilogue(m, edge > 0 ? edge : nb);
             b.addi(kRegY, kRegY, -static_cast<int64_t>(n_dram));  // the super tile's first
           });
}

// A linear layer in weights_outer order (linear_mapping.hpp): the quantize pass, then per super
// tile of rows the output blocks, each converted (x factor, + bias) and stored as it completes.
void emit_weights_outer(ProgramBuilder& b, const LayerLayout& lay, const LayerSpec& l,
                        uint32_t rows, uint64_t y_dram, const Geometry& gl, bool int_kind,
                        const TensorStorage& storage, bool ternary_weights) {
  const WeightsOuterPlan& p = lay.mapping.outer;
  const uint32_t k = l.in_features, n = l.out_features;
  const uint64_t vb = storage.vec_bytes, db = storage.dram_bytes;
  const uint64_t xq_bytes = uint64_t{k} * gl.traits.act_bytes, n_dram = uint64_t{n} * db;
  b.li(kRegSram, p.consts);
  b.li(kRegW, lay.const_dram);
  b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, kRegW, 1, kNumConsts * vb, kNumConsts * vb,
        kNumConsts * vb);
  // The quantize pass, software pipelined over the plan's two sets of buffers (kRegB holds the
  // current set's offset): the rows in, quantized, and out with their absmax (integer kinds);
  // none where an earlier layer's pass wrote the same rows.
  const uint32_t qr = p.quantize_rows;
  PipelinedTile tile;
  tile.load = [&](unsigned set, uint32_t m) {
    b.addi(kRegSram, set, static_cast<int64_t>(p.xv));
    b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, kRegX, m, uint64_t{k} * vb, p.xv_row,
          uint64_t{k} * db, storage.convert);
  };
  tile.compute = [&](unsigned set, uint32_t m) {
    QuantizeBuffers q = {p.xv,
                         p.xv_row,
                         p.xq,
                         p.xq_row,
                         p.a,
                         p.r,
                         p.q,
                         p.f,
                         p.consts + kC127 * vb,
                         p.consts + kCW * vb,
                         set};
    q.factors = false;  // each gemm pass forms its own from the absmax
    emit_quantize(b, q, m, k, int_kind, vb);
  };
  tile.store = [&](unsigned set, uint32_t m) {
    b.addi(kRegSram, set, static_cast<int64_t>(p.xq));
    b.dma(Opcode::kDmaStore, Space::kActSram, kRegSram, kRegY, m, xq_bytes, p.xq_row,
          p.xq_dram_row);
    if (int_kind) {
      b.addi(kRegSram, set, static_cast<int64_t>(p.a));
      b.addi(kRegAct, kRegY, static_cast<int64_t>(xq_bytes));
      b.dma(Opcode::kDmaStore, Space::kActSram, kRegSram, kRegAct, m, vb, vb, p.xq_dram_row);
    }
  };
  if (lay.quantized_by < 0 && !p.dma_rows) {
    pipelined_row_loop(b, {kRegM, kRegB, kRegK}, rows, qr, p.quantize_set,
                       {{kRegX, lay.inputs[0], uint64_t{k} * db}},
                       {{kRegY, lay.xq_dram, p.xq_dram_row}}, tile);
  }
  b.li(kRegWBuf, 0);
  b.li(kRegHalf, gl.wgt_half);
  if (p.overlapped) {
    emit_overlapped_gemm_pass(b, lay, l, rows, y_dram, gl, int_kind, storage, ternary_weights);
    return;
  }
  // The gemm pass: kRegX the super tile's quantized rows, kRegY its outputs (advanced to each
  // block's first column and each chunk's first row, then back), kRegAcc (with a bias) the
  // block's bias; after a block, kRegK counts chunks of its rows, kRegAct and kRegB step
  // through their accumulators and factors.
  const uint32_t mo = p.epilogue_rows;
  // A block's inline epilogue (kRegAct and kRegB at its first chunk's accumulators and
  // factors, kRegY at its rows; kRegY left at the next block's first column): chunk after
  // chunk converted and stored. With two sets of chunk buffers, chunk c (set c % 2) is
  // converted before chunk c - 1 stores, so the DMA stores one while the vector unit converts
  // the next (a fused operand is then one chunk ahead of kRegY); the full chunks after the
  // first run in pairs, a loop whose halves use the two sets.
  // A fused rotary embedding's angles: kRegAcc at the chunk's (the layer has no bias).
  const VecRef acc{0, true, p.acc_row, kRegAct}, factors{0, false, vb, kRegB},
      angles{0, false, p.rope_row, kRegAcc};
  const auto inline_epilogue = [&](uint32_t m, uint32_t nt) {
    const auto convert = [&](uint32_t mm, unsigned set, int64_t ahead) {
      convert_chunk(b, lay, l, int_kind, storage, mm, nt, set, ahead, acc, factors, angles);
    };
    const auto store = [&](uint32_t mm, unsigned set) {
      store_chunk(b, lay, l, storage, mm, nt, set);
    };
    const auto next_chunk = [&] {  // after a full one
      b.addi(kRegAct, kRegAct, static_cast<int64_t>(mo * p.acc_row));
      if (int_kind) b.addi(kRegB, kRegB, static_cast<int64_t>(mo * vb));
      if (lay.fusion.rope()) b.addi(kRegAcc, kRegAcc, static_cast<int64_t>(mo * p.rope_row));
    };
    const uint32_t full = m / mo, edge = m % mo;
    if (p.yv_buffer == 0) {
      // One set: each chunk converted, then stored. Its chunks are of one row (two rows would
      // fit two sets of one), so there is no shorter last one.
      b.li(kRegK, m / mo);
      const uint64_t loop = b.here();
      convert(mo, 0, 0);
      store(mo, 0);
      next_chunk();
      b.dbnz(kRegK, loop);
    } else {
      // The next chunk (mm rows, into `set`) after a full one, and the full one's store.
      const auto step = [&](uint32_t mm, unsigned set) {
        next_chunk();
        convert(mm, set, static_cast<int64_t>(mo * n_dram));
        store(mo, set ^ 1U);
      };
      convert(full > 0 ? mo : edge, 0, 0);
      const uint32_t middle = full > 0 ? full - 1 : 0;  // full chunks after the first
      if (middle >= 2) {
        b.li(kRegK, middle / 2);
        const uint64_t loop = b.here();
        step(mo, 1);
        step(mo, 0);
        b.dbnz(kRegK, loop);
      }
      unsigned last = 0;  // the last converted chunk's set
      if (middle % 2 != 0) {
        step(mo, 1);
        last = 1;
      }
      if (full > 0 && edge != 0) {
        step(edge, last ^ 1U);
        last ^= 1U;
      }
      store(full > 0 && edge == 0 ? mo : edge, last);
    }
    // Back to the block's first row, on to the next block's first column.
    b.addi(kRegY, kRegY,
           static_cast<int64_t>(nt * db) - static_cast<int64_t>(uint64_t{m} * n_dram));
  };
  row_loop(
      b, kRegM, rows, p.super_rows, {gemm_rows(lay, l, storage), {kRegY, y_dram, n_dram}},
      [&](uint32_t m) {
        StreamedGemm gemm = begin_super_tile(b, lay, l, m, gl, int_kind, storage, ternary_weights);
        gemm.begin_block = [&](uint32_t nt) {
          if (!l.has_bias) return;
          b.li(kRegSram, p.bias);
          b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, kRegAcc, 1, nt * vb, nt * vb, nt * vb);
          b.addi(kRegAcc, kRegAcc, static_cast<int64_t>(nt * vb));
        };
        gemm.end_block = [&](uint32_t nt) {
          b.li(kRegAct, 0);
          if (int_kind) b.li(kRegB, p.factors);
          if (lay.fusion.rope()) b.li(kRegAcc, p.rope);
          inline_epilogue(m, nt);
        };
        gemm.prefetch_next_block = true;  // under the epilogue, ahead of its stores
        StreamedGemmRegs regs = kGemmRegs;
        regs.acc = 0;  // r0: every block's accumulators from address 0
        emit_streamed_gemm(b, regs, gemm, gl);
        b.addi(kRegY, kRegY, -static_cast<int64_t>(n_dram));  // the super tile's first
      });
}

// Rotary embedding: per row r (position context + r), head h, i < head_dim / 2, the angle
// (context + r) theta^(-2i / head_dim); tables of rows x heads x head_dim / 2.
struct RopeTables {
  std::vector<uint32_t> cos, sin;    // vec patterns
  std::vector<double> cos_d, sin_d;  // exact values, for the FP32 reference
};
RopeTables rope_tables(const arith::VectorMath& vm, const LayerSpec& l, uint32_t rows) {
  RopeTables t;
  const uint32_t half = l.head_dim / 2;
  for (uint32_t r = 0; r < rows; ++r) {
    for (uint32_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(l.context + r) *
                           std::pow(l.rope_theta, -2.0 * i / static_cast<double>(l.head_dim));
      t.cos_d.push_back(std::cos(angle));
      t.sin_d.push_back(std::sin(angle));
      t.cos.push_back(vm.from_double(t.cos_d.back()));
      t.sin.push_back(vm.from_double(t.sin_d.back()));
    }
  }
  return t;
}

LayerReference reference_rope(const arith::VectorMath& vm, const LayerSpec& l, uint32_t rows,
                              const std::vector<uint32_t>& x, const std::vector<float>& xf) {
  const RopeTables t = rope_tables(vm, l, rows);
  const uint32_t d = l.head_dim, half = d / 2;
  LayerReference ref;
  ref.out.resize(x.size());
  ref.fp32.resize(x.size());
  for (size_t head = 0; head < size_t{rows} * l.heads; ++head) {
    for (uint32_t i = 0; i < half; ++i) {
      const size_t a = head * d + i, b = a + half, at = head / l.heads * half + i;
      ref.out[a] = vm.sub(vm.mul(x[a], t.cos[at]), vm.mul(x[b], t.sin[at]));
      ref.out[b] = vm.add(vm.mul(x[b], t.cos[at]), vm.mul(x[a], t.sin[at]));
      ref.fp32[a] = static_cast<float>(xf[a] * t.cos_d[at] - xf[b] * t.sin_d[at]);
      ref.fp32[b] = static_cast<float>(xf[b] * t.cos_d[at] + xf[a] * t.sin_d[at]);
    }
  }
  return ref;
}

// Output row r of a pool: op over input rows s r ... s r + s - 1, in order (mean: then x 1/s).
LayerReference reference_pool(const arith::VectorMath& vm, const LayerSpec& l, uint32_t rows,
                              const std::vector<uint32_t>& x, const std::vector<float>& xf) {
  const uint32_t n = l.out_features, s = l.stride;
  const uint32_t one_over_s = inverse(vm, s);
  LayerReference ref;
  for (uint32_t r = 0; r < rows; ++r) {
    for (uint32_t i = 0; i < n; ++i) {
      auto at = [&](uint32_t j) { return (size_t{r} * s + j) * n + i; };
      uint32_t y = x[at(0)];
      double yf = xf[at(0)];
      for (uint32_t j = 1; j < s; ++j) {
        y = l.pool_max ? vm.max(y, x[at(j)]) : vm.add(y, x[at(j)]);
        yf = l.pool_max ? std::max<double>(yf, xf[at(j)]) : yf + xf[at(j)];
      }
      ref.out.push_back(l.pool_max ? y : vm.mul(y, one_over_s));
      ref.fp32.push_back(static_cast<float>(l.pool_max ? yf : yf / s));
    }
  }
  return ref;
}

}  // namespace

// Loads `bytes` once into `space` at `sram` from `dram` (a layer's constants, gains, biases).
void load_once(ProgramBuilder& b, Space space, uint64_t sram, uint64_t dram, uint64_t bytes) {
  b.li(kRegSram, sram);
  b.li(kRegW, dram);
  b.dma(Opcode::kDmaLoad, space, kRegSram, kRegW, 1, bytes, bytes, bytes);
}

// A vector layer (every kind but the linear, attention and recurrent ones): its constants in,
// then its rows tile by tile, pipelined over the plan's sets of buffers (kRegK holds the
// current set's offset): each tile's rows (and second input, or rope's tables) in, the layer's
// vector commands, its output rows out.
void emit_vector_layer(ProgramBuilder& b, const LayerLayout& lay, const SramPlan& s,
                       const LayerSpec& l, uint32_t rows, uint64_t y_dram,
                       const TensorStorage& storage) {
  const uint64_t vb = storage.vec_bytes, db = storage.dram_bytes;
  const uint32_t k = l.in_features, n = l.out_features;
  const uint64_t k_bytes = uint64_t{k} * vb, n_bytes = uint64_t{n} * vb;
  const uint64_t k_dram = uint64_t{k} * db, n_dram = uint64_t{n} * db;
  // A tile's buffer: above the set's offset in `set`.
  const auto at = [](unsigned set, uint64_t addr, uint64_t stride = 0) {
    return VecRef{addr, false, stride, set};
  };
  const auto load_rows = [&](unsigned dram_reg, unsigned set, uint64_t sram, uint32_t m) {
    b.addi(kRegSram, set, static_cast<int64_t>(sram));
    b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, dram_reg, m, k_bytes, s.xv_row, k_dram,
          storage.convert);
  };
  std::vector<Stream> inputs = {{kRegX, lay.inputs[0], k_dram * rows_per_output(l)}};
  if (lay.inputs.size() > 1) inputs.push_back({kRegB, lay.inputs[1], k_dram});
  const uint64_t table_row = uint64_t{l.head_dim} / 2 * vb;  // rope: a row's angles
  if (l.kind == LayerKind::kRope) {                          // the rows' tables stream beside them
    inputs.push_back({kRegB, lay.cos_dram, table_row});
    inputs.push_back({kRegW, lay.sin_dram, table_row});
  }
  // A norm's gain and bias.
  const Space consts_space = s.gain_in_acc ? Space::kAccSram : Space::kActSram;
  const auto consts = [&](uint64_t addr) { return VecRef{addr, s.gain_in_acc}; };
  PipelinedTile tile;
  tile.load = [&](unsigned set, uint32_t m) { load_rows(kRegX, set, s.xv, m); };
  tile.store = [&](unsigned set, uint32_t m) {
    b.addi(kRegSram, set, static_cast<int64_t>(s.yv));
    b.dma(Opcode::kDmaStore, Space::kActSram, kRegSram, kRegY, m, n_bytes, s.yv_row, n_dram,
          storage.convert);
  };
  switch (l.kind) {
    case LayerKind::kRmsNorm:
      load_once(b, consts_space, s.gain, lay.gain_dram, n_bytes);
      tile.compute = [&](unsigned set, uint32_t m) {
        b.rmsnorm(at(set, s.yv, s.yv_row), at(set, s.xv, s.xv_row), consts(s.gain), m, n,
                  l.eps_log2);
      };
      break;
    case LayerKind::kLayerNorm:
      load_once(b, consts_space, s.gain, lay.gain_dram, n_bytes);
      load_once(b, consts_space, s.bias, lay.bias_dram, n_bytes);
      tile.compute = [&](unsigned set, uint32_t m) {
        b.layernorm(at(set, s.yv, s.yv_row), at(set, s.xv, s.xv_row), consts(s.gain),
                    consts(s.bias), m, n, l.eps_log2);
      };
      break;
    case LayerKind::kEmbedding:
      // The tile's token ids (uint32 in DRAM) in, then one gather of the table rows they pick:
      // the tile's work, which the next tile's ids follow (in one set, a gather there would
      // overwrite the rows before their store).
      inputs.front().row_bytes = 4;
      b.li(kRegB, lay.table_dram);
      tile.load = [&](unsigned set, uint32_t m) {
        b.addi(kRegSram, set, static_cast<int64_t>(s.xv));
        b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, kRegX, 1, uint64_t{m} * 4,
              uint64_t{m} * 4, uint64_t{m} * 4);
      };
      tile.compute = [&](unsigned set, uint32_t m) {
        b.addi(kRegAct, set, static_cast<int64_t>(s.xv));
        b.addi(kRegSram, set, static_cast<int64_t>(s.yv));
        b.dma_gather(Space::kActSram, kRegSram, kRegB, kRegAct, m, n_bytes, s.yv_row, n_bytes);
      };
      break;
    case LayerKind::kPool:
      // Output row r is op(x[s r], x[s r + 1], ..., x[s r + s - 1]), in that order (mean: then
      // x 1/s): strided row operands pick every s-th input row.
      if (!l.pool_max) load_once(b, Space::kActSram, s.consts, lay.const_dram, vb);
      tile.load = [&](unsigned set, uint32_t m) { load_rows(kRegX, set, s.xv, m * l.stride); };
      tile.compute = [&](unsigned set, uint32_t m) {
        const uint64_t step = uint64_t{l.stride} * s.xv_row;
        const VecRef yv = at(set, s.yv, s.yv_row);
        const VectorBinary op = l.pool_max ? VectorBinary::kMax : VectorBinary::kAdd;
        b.vbin(op, yv, at(set, s.xv, step), at(set, s.xv + s.xv_row, step), false, m, n);
        for (uint32_t j = 2; j < l.stride; ++j)
          b.vbin(op, yv, yv, at(set, s.xv + j * s.xv_row, step), false, m, n);
        if (!l.pool_max) b.vbin(VectorBinary::kMul, yv, yv, vec(s.consts), true, m, n);
      };
      break;
    case LayerKind::kRope:
      // The tile is packed (rows of heads x head_dim), so one vrope over its m rows does every
      // head: y1 = x1 cos - x2 sin, y2 = x2 cos + x1 sin over its halves x1, x2, by the row's
      // angles.
      tile.load = [&](unsigned set, uint32_t m) {
        load_rows(kRegX, set, s.xv, m);
        const uint64_t table_bytes = m * table_row;
        for (const auto& [reg, table] : {std::pair{kRegB, s.cos}, std::pair{kRegW, s.sin}}) {
          b.addi(kRegSram, set, static_cast<int64_t>(table));
          b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, reg, 1, table_bytes, table_bytes,
                table_bytes);
        }
      };
      tile.compute = [&](unsigned set, uint32_t m) {
        // xv sits at the set's offset (the first buffer): src takes the set's register.
        b.vrope(at(set, s.yv, k_bytes), at(set, s.xv, k_bytes), at(set, s.cos, table_row),
                at(set, s.sin, table_row), m, l.head_dim, l.heads);
      };
      break;
    case LayerKind::kActivation:
      tile.compute = [&](unsigned set, uint32_t m) {
        b.vfn(l.function, at(set, s.yv, s.yv_row), at(set, s.xv, s.xv_row), m, n);
      };
      break;
    case LayerKind::kConcat: {
      // Each input's rows straight into its columns of the output rows: DMA only, as the
      // tile's work (loaded with the next tile's inputs, one set of buffers would overwrite
      // the rows before their store). The load stage has advanced the streams' registers past
      // the tile's rows: its rows are the m before them.
      const uint64_t b_width = n - uint64_t{k};
      tile.load = [](unsigned, uint32_t) {};
      tile.compute = [&, b_width](unsigned set, uint32_t m) {
        const auto rows_in = [&](unsigned stream, uint64_t column, uint64_t width) {
          b.addi(kRegAct, stream, -static_cast<int64_t>(m * width * db));
          b.addi(kRegSram, set, static_cast<int64_t>(s.yv + column * vb));
          b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, kRegAct, m, width * vb, s.yv_row,
                width * db, storage.convert);
        };
        rows_in(kRegX, 0, k);
        rows_in(kRegB, k, b_width);
      };
      inputs.back().row_bytes = b_width * db;
      break;
    }
    case LayerKind::kAdd:
    case LayerKind::kMul:
      tile.load = [&](unsigned set, uint32_t m) {
        load_rows(kRegX, set, s.xv, m);
        load_rows(kRegB, set, s.xb, m);
      };
      tile.compute = [&](unsigned set, uint32_t m) {
        b.vbin(l.kind == LayerKind::kAdd ? VectorBinary::kAdd : VectorBinary::kMul,
               at(set, s.yv, s.yv_row), at(set, s.xv, s.xv_row), at(set, s.xb, s.xv_row), false, m,
               n);
      };
      break;
    default:
      throw std::logic_error(std::string("emit_vector_layer: not a vector layer: ") +
                             to_string(l.kind));
  }
  pipelined_row_loop(b, {kRegM, kRegK, kRegN}, rows, s.mt, s.set_bytes, inputs,
                     {{kRegY, y_dram, n_dram}}, tile);
}

// An element-wise layer (activation, add, mul) over rows of n elements is the same layer over
// `split` times as many rows of n / split: its tensors are rows one after another in DRAM.
LayerSpec split_rows(const LayerSpec& l, uint32_t split) {
  LayerSpec s = l;
  s.in_features /= split;
  s.out_features /= split;
  return s;
}

// A vector layer's layout: tiles as large as one set of buffers allows, run in turn, or as
// large as two sets allow, pipelined; an element-wise layer of several rows may also run each
// row as 2, 4 or 8 shorter ones (where two sets of a whole row do not fit, or to pipeline
// within few rows). The mapper scores each with the analytical model on the layer's own code
// and keeps the fastest, the earliest of equals (fewer sets, whole rows): tiles half as large
// pay each DMA's first-data latency twice as often. A mapping request may fix the sets
// (`buffer_sets`) and the rows per tile (`rows`) of whole rows.
SramPlan vector_plan(const LayerLayout& lay, const LayerSpec& l, size_t index, uint32_t rows,
                     uint64_t y_dram, const Geometry& g, const hw::NmpParams& hw,
                     const TensorStorage& storage, uint64_t dram_bytes, const hw::DramRate& rate,
                     hw::DramRowRate* row_rates) {
  const MappingRequest& want = l.mapping;
  const uint64_t vb = storage.vec_bytes;
  const auto layout = [&](uint32_t sets) {
    const uint64_t row_bytes = plan_sram(l, 1, vb, g, sets).act_end;
    if (row_bytes > g.act_cap) {
      throw mapping_error(l, index, "buffer_sets",
                          std::string(sets == 1 ? "one set" : "two sets") +
                              " of one row's buffers need " + std::to_string(row_bytes) +
                              " bytes; the activation SRAM holds " + std::to_string(g.act_cap));
    }
    const SramPlan most = fit_sram(l, index, rows, vb, g, sets);
    const uint32_t mt = std::min(want.rows, rows);
    if (want.rows == 0 || mt == most.mt) return most;
    if (mt > most.mt) {
      throw mapping_error(l, index, "rows",
                          std::to_string(mt) + " rows per tile in " + std::to_string(sets) +
                              (sets == 1 ? " set" : " sets") + " of buffers need " +
                              std::to_string(plan_sram(l, mt, vb, g, sets).act_end) +
                              " bytes; the activation SRAM holds " + std::to_string(g.act_cap) +
                              " (at most " + std::to_string(most.mt) + " rows fit)");
    }
    return plan_sram(l, mt, vb, g, sets);
  };
  if (want.buffer_sets != 0) return layout(want.buffer_sets);
  // The candidates in order of preference among equals: one set, two; whole rows, then split.
  std::vector<SramPlan> candidates = {layout(1)};
  if (rows > 1 && plan_sram(l, 1, vb, g, 2).act_end <= g.act_cap) candidates.push_back(layout(2));
  constexpr uint32_t kMaxSplit = 8;
  const bool may_split = rows > 1 && want.rows == 0 && is_elementwise(l.kind);
  for (uint32_t split = 2; may_split && split <= kMaxSplit; split *= 2) {
    if (l.out_features % split != 0 || l.out_features / split < hw.vector_unit.lanes) break;
    const LayerSpec shape = split_rows(l, split);
    for (uint32_t sets = 1; sets <= 2; ++sets) {
      if (plan_sram(shape, 1, vb, g, sets).act_end > g.act_cap) continue;
      candidates.push_back(fit_sram(shape, index, rows * split, vb, g, sets));
      candidates.back().row_split = split;
    }
  }
  if (candidates.size() == 1) return candidates.front();
  const auto cycles = [&](const SramPlan& s) {
    ProgramBuilder trial;
    emit_vector_layer(trial, lay, s, split_rows(l, s.row_split), rows * s.row_split, y_dram,
                      storage);
    trial.halt();
    return hw::estimate_program(hw, trial.program(), dram_bytes, rate, row_rates).cycles;
  };
  size_t best = 0;
  hw::Cycles best_cycles = cycles(candidates.front());
  for (size_t i = 1; i < candidates.size(); ++i) {
    const hw::Cycles c = cycles(candidates[i]);
    if (c < best_cycles) {
      best = i;
      best_cycles = c;
    }
  }
  return candidates[best];
}

Lowered lower_graph(const ModelSpec& model, const ModelData* data, const hw::NmpParams& hw,
                    const MapperCosts& costs, std::shared_ptr<hw::DramRowRate> dram) {
  const Geometry g = geometry_of(hw);
  const arith::VectorMath vm(hw.vector_unit.math);
  const uint64_t vb = vm.element_bytes();
  const TensorStorage storage = TensorStorage::of_graph(hw);
  const uint64_t db = storage.dram_bytes;  // an element of a tensor in DRAM
  const bool int_kind = hw::is_integer(hw.mac_array.pe);
  // weights_outer may stream its input rows through the DMA's conversion instead of a
  // quantize pass (model.hpp, RowConversion) where that rounds them as the pass does.
  const bool dma_row_conversion =
      !int_kind && arith::holds_exactly(*arith::make_format(hw.vector_unit.math.format),
                                        *arith::make_format(storage.format));
  Lowered out;
  RegionAllocator allocate;
  // A tensor's row in DRAM: elements of the activation format, or token ids (uint32) an
  // embedding reads.
  const auto row_bytes = [&](int32_t ref) -> uint64_t {
    const bool ids = ref < 0 && model.token_input(model_input_index(ref));
    return uint64_t{model.width_of(ref)} * (ids ? 4 : db);
  };
  std::vector<uint64_t> input_dram;  // the model's inputs
  for (size_t i = 0; i < model.inputs.size(); ++i)
    input_dram.push_back(allocate(model.inputs[i].rows * row_bytes(model_input_ref(i))));
  std::vector<LayerLayout> layouts;
  // weights_outer layers' quantized rows in DRAM, by input tensor and width: the layer whose
  // quantize pass wrote them (later ones reading the same input share them).
  // (A step loop's layers, one row per step, share only among themselves.)
  std::map<std::tuple<int32_t, uint32_t, bool>, int32_t> quantized_inputs;
  // Fusion: each tensor's readers; an element-wise layer's host (the linear layer whose
  // epilogue runs it) and a host's fused layer, -1 for none.
  std::vector<std::vector<size_t>> readers(model.layers.size());
  for (size_t li = 0; li < model.layers.size(); ++li) {
    for (int32_t in : inputs_of(model.layers[li], li)) {
      if (in >= 0) readers[static_cast<size_t>(in)].push_back(li);
    }
  }
  std::vector<int32_t> fused_host(model.layers.size(), -1), fused_layer(model.layers.size(), -1);
  // Where a tensor is computed in the program: its layer's place, or its host's.
  const auto computed_at = [&](int32_t ref) {
    return fused_host[static_cast<size_t>(ref)] >= 0 ? fused_host[static_cast<size_t>(ref)] : ref;
  };
  // The element-wise or rope layer linear layer li's epilogue may run, or -1: li's output has
  // no other reader, neither is in a step loop, its mapping leaves it to the mapper, and its
  // other input is computed before li.
  const auto fusable_layer = [&](size_t li) -> int32_t {
    if (model.in_step_loop(li) || readers[li].size() != 1) return -1;
    const size_t e = readers[li].front();
    const LayerSpec& el = model.layers[e];
    if (!may_fuse(el.kind) ||
        (el.kind == LayerKind::kRope && !rope_fusable(el, model.layers[li], vb, db)) ||
        model.in_step_loop(e) || el.mapping.fuse == Fusion::kNo || el.mapping.rows != 0 ||
        el.mapping.buffer_sets != 0) {
      return -1;
    }
    for (int32_t in : inputs_of(el, e)) {
      if (in >= 0 && in != static_cast<int32_t>(li) && computed_at(in) >= static_cast<int32_t>(li))
        return -1;
    }
    return static_cast<int32_t>(e);
  };
  out.dram_rate = dram != nullptr ? dram->rate() : hw::dram_rate(hw.dram);
  out.dram_rows =
      dram != nullptr ? std::move(dram) : std::make_shared<hw::DramRowRate>(hw.dram, out.dram_rate);
  hw::DramRowRate& dram_rows = *out.dram_rows;  // the mapper's and the plans' strided rows
  for (size_t li = 0; li < model.layers.size(); ++li) {
    const LayerSpec& l = model.layers[li];
    if (l.uses_mac_array() && l.pe != hw.mac_array.pe && !ternary_on_int8(l, hw)) {
      throw LoweringError(
          "workload",
          "/layers/" + std::to_string(li) + (l.kind == LayerKind::kBitLinear ? "/type" : "/format"),
          where(l, li) + " needs " + hw::to_string(l.pe) +
              " processing elements; the hardware's MAC array has " +
              hw::to_string(hw.mac_array.pe));
    }
    // A step loop's layers are placed for their one row per step.
    const uint32_t rows = model.in_step_loop(li) ? 1 : model.rows_of(static_cast<int32_t>(li));
    LayerLayout lay;
    std::exception_ptr rows_outer_error;  // why rows_outer does not fit, if it does not
    if (is_recurrent(l.kind)) {
      lay.recurrent = place_recurrent(l, li, rows, hw, out.dram_rate, allocate);
      if (model.in_step_loop(li)) lay.recurrent.state_dram = allocate(lay.recurrent.act.end);
      out.layers.push_back(recurrent_plan(l, lay.recurrent, rows));
      layouts.push_back(std::move(lay));
      continue;
    }
    if (l.kind == LayerKind::kMlpAttention) {
      lay.mlp_attention = place_mlp_attention(l, li, hw, allocate);
      LayerPlan plan = plan_of(l, rows);
      plan.m_tile = 1;
      out.layers.push_back(plan);
      layouts.push_back(std::move(lay));
      continue;
    }
    if (l.kind == LayerKind::kAttention) {
      lay.attention = place_graph_attention(l, li, rows, hw, allocate);
      LayerPlan plan = plan_of(l, rows);
      plan.k = l.head_dim;
      plan.w_dram = lay.attention.k_dram.front();
      out.layers.push_back(plan);
      layouts.push_back(std::move(lay));
      continue;
    }
    if (l.mapping.fuse == Fusion::kYes && fused_host[li] < 0) {
      throw mapping_error(l, li, "fuse",
                          "cannot run in a linear layer's epilogue: it needs an input from a "
                          "weights_outer linear layer that nothing else reads, its other input "
                          "computed before that layer, no step loop, and no rows or buffer_sets "
                          "of its own (a rope: a host without a bias, whose output rows in DRAM "
                          "hold at least head_dim elements of the vector format)");
    }
    if (is_linear(l) && l.mapping.order != LoopOrder::kRowsOuter) {
      // weights_outer may fit where a row's buffers or accumulators of rows_outer do not.
      try {
        lay.sram = fit_sram(l, li, rows, vb, g);
      } catch (const LoweringError&) {
        lay.sram = SramPlan{};
        if (l.mapping.order == LoopOrder::kAuto) rows_outer_error = std::current_exception();
      }
    } else if (fused_host[li] < 0) {  // a fused layer has no buffers of its own
      lay.sram = fit_sram(l, li, rows, vb, g);
    }
    if (is_linear(l)) {
      const Geometry gl = layer_geometry(g, l, hw);
      lay.tiling = tile_weights(l.out_features, l.in_features, g.wgt_half, gl);
      if (lay.tiling.k_tile == 0) {
        const uint32_t rows = gl.layout.array_rows,
                       cols = std::min(gl.layout.array_cols, l.out_features);
        throw LoweringError(
            "hw", "/weight_sram/capacity_kib",
            where(l, li) + ": half the weight SRAM (double buffering) must hold one " +
                std::to_string(rows) + " x " + std::to_string(cols) + " array tile (" +
                std::to_string(
                    hw::weight_operand_bytes(cols, std::min(rows, l.in_features), gl.layout)) +
                " bytes); it holds " + std::to_string(g.wgt_half));
      }
      MapperContext mc;
      mc.g = gl;
      mc.vec_bytes = vb;
      mc.tensor_bytes = db;
      mc.int_kind = int_kind;
      mc.whole_tile_blocks = hw.mac_array.dataflow == hw::Dataflow::kOutputStationary;
      mc.preload_overlap = hw.mac_array.weight_preload_overlap;
      mc.dram_bytes_per_cycle = out.dram_rate.bytes_per_cycle;
      mc.dma_latency_cycles = out.dram_rate.latency_cycles;
      mc.dram_rows = hw.dram.simple ? nullptr : &dram_rows;
      mc.vector_lanes = hw.vector_unit.lanes;
      mc.vector_pipeline_cycles = hw.vector_unit.pipeline_depth_cycles;
      // One port for the array's reads and the vector unit's reads and writes alike (1rw).
      const hw::PortConfig act_ports = hw.act_sram.ports;
      const bool write_ports_apart = hw::port_class(act_ports, hw::Access::kRead) !=
                                     hw::port_class(act_ports, hw::Access::kWrite);
      mc.act_port_shared = !write_ports_apart && hw::bank_ports(act_ports, hw::Access::kRead) == 1;
      mc.act_bytes_per_cycle =
          uint64_t{hw.act_sram.banks} * g.act_word *
          (hw::bank_ports(act_ports, hw::Access::kRead) +
           (write_ports_apart ? hw::bank_ports(act_ports, hw::Access::kWrite) : 0));
      mc.acc_bytes_per_cycle = uint64_t{hw.acc_sram.banks} * g.acc_word *
                               hw::bank_ports(hw.acc_sram.ports, hw::Access::kRead);
      mc.objective = model.objective;
      mc.costs = costs;
      mc.rows_outer_m_tile = lay.sram.mt;
      mc.rows_outer_tiling = lay.tiling;
      const std::tuple<int32_t, uint32_t, bool> rows_key = {inputs_of(l, li).front(), l.in_features,
                                                            model.in_step_loop(li)};
      const auto quantized = quantized_inputs.find(rows_key);
      mc.quantized_rows_shared = quantized != quantized_inputs.end() && !l.carried_input(0);
      mc.dma_row_conversion = dma_row_conversion;
      if (l.mapping.row_conversion == RowConversion::kDma && !dma_row_conversion) {
        throw mapping_error(
            l, li, "row_conversion",
            "expected pass or auto: the DMA converts rows only for PE kinds quantized by one "
            "rounding (not " +
                std::string(hw::to_string(hw.mac_array.pe)) +
                "), with every value of dram.activation_format (" + storage.format +
                ") exact in the vector format (" + hw.vector_unit.math.format + ")");
      }
      check_mapping_request(l, li, rows, gl, mc.whole_tile_blocks ? lay.tiling.k_tile : 0);
      const int32_t fusable = fusable_layer(li);
      LinearShape shape{rows, l.out_features, l.in_features, l.has_bias};
      if (fusable >= 0) {
        const LayerSpec& el = model.layers[static_cast<size_t>(fusable)];
        shape.fused = el.kind == LayerKind::kActivation ? FusedOp::kUnary
                      : el.kind == LayerKind::kRope     ? FusedOp::kRope
                                                        : FusedOp::kBinary;
        if (el.kind == LayerKind::kRope) shape.rope_head_dim = el.head_dim;
      }
      const auto map = [&] {
        lay.shortlist = map_linear_shortlist(shape, mc, l.mapping, model.mapper_estimates);
        lay.mapping = lay.shortlist.empty() ? LinearMapping{} : lay.shortlist.front();
      };
      map();
      if (fusable >= 0 && lay.mapping.candidates > 0 &&
          lay.mapping.order == LoopOrder::kWeightsOuter) {
        fused_host[static_cast<size_t>(fusable)] = static_cast<int32_t>(li);
        fused_layer[li] = fusable;
      } else if (fusable >= 0) {
        // No weights_outer mapping with the fused layer's buffers and work: the layer as it
        // would be mapped alone (a fused add's second chunk buffer may not fit a small SRAM).
        shape.fused = FusedOp::kNone;
        shape.rope_head_dim = 0;
        map();
      }
      // The analytical model decides among the closest mappings of the same order and row
      // conversion (below, once every tensor has its address), under the latency objective.
      const LinearMapping& best = lay.mapping;
      const auto far = [&](const LinearMapping& m) {
        return model.objective != MappingObjective::kLatency || model.in_step_loop(li) ||
               best.order != LoopOrder::kWeightsOuter || m.order != best.order ||
               m.outer.dma_rows != best.outer.dma_rows ||
               static_cast<double>(m.cycles()) >
                   kShortlistSlack * static_cast<double>(best.cycles());
      };
      lay.shortlist.erase(std::remove_if(lay.shortlist.begin(), lay.shortlist.end(), far),
                          lay.shortlist.end());
      if (lay.mapping.candidates == 0) {
        if (rows_outer_error && !l.mapping.forces_tiles()) std::rethrow_exception(rows_outer_error);
        throw mapping_error(l, li, "",
                            "no " + std::string(to_string(l.mapping.order)) +
                                " mapping with what it fixes fits: half the weight SRAM (" +
                                std::to_string(g.wgt_half) +
                                " bytes) must hold a weight tile, the activation SRAM (" +
                                std::to_string(g.act_cap) + ") and the accumulator SRAM (" +
                                std::to_string(g.acc_cap) + ") the buffers of its rows");
      }
      if (lay.mapping.order == LoopOrder::kRowsOuter && lay.mapping.m_tile != lay.sram.mt)
        lay.sram = plan_sram(l, lay.mapping.m_tile, vb, g);
      // The weights' region holds the tiles of any mapping of the shortlist.
      uint64_t region_bytes = 0;
      for (const LinearMapping& m : lay.shortlist)
        region_bytes = std::max(region_bytes, tiles_bytes(l, m.tiling, gl));
      lay.weights_dram = allocate(std::max(region_bytes, tiles_bytes(l, lay.mapping.tiling, gl)));
      take_mapping(lay, l, gl, lay.mapping);
      lay.const_dram = allocate(kNumConsts * vb);
      if (l.has_bias) lay.bias_dram = allocate(uint64_t{l.out_features} * vb);
      // A quantize pass's scratch (the DMA's rows need none): shared, or the layer's own.
      const bool pass =
          lay.mapping.order == LoopOrder::kWeightsOuter && !lay.mapping.outer.dma_rows;
      if (pass && mc.quantized_rows_shared &&
          layouts[static_cast<size_t>(quantized->second)].mapping.outer.xq_dram_row ==
              lay.mapping.outer.xq_dram_row) {
        lay.quantized_by = quantized->second;
        lay.xq_dram = layouts[static_cast<size_t>(lay.quantized_by)].xq_dram;
      } else if (pass) {
        lay.xq_dram = allocate(uint64_t{rows} * lay.mapping.outer.xq_dram_row);
        if (!l.carried_input(0)) quantized_inputs[rows_key] = static_cast<int32_t>(li);
      }
    }
    if (l.kind == LayerKind::kRmsNorm || l.kind == LayerKind::kLayerNorm)
      lay.gain_dram = allocate(uint64_t{l.out_features} * vb);
    if (l.kind == LayerKind::kLayerNorm) {
      lay.bias_dram = allocate(uint64_t{l.out_features} * vb);
    }
    if (l.kind == LayerKind::kEmbedding)
      lay.table_dram = allocate(uint64_t{l.vocab} * l.out_features * vb);
    if (l.kind == LayerKind::kPool) lay.const_dram = allocate(vb);
    if (l.kind == LayerKind::kRope && fused_host[li] >= 0) {
      // Run in its host's epilogue: a row's cosines then sines, rows of its output apart.
      lay.cos_dram = allocate(uint64_t{rows} * l.out_features * db);
      lay.sin_dram = lay.cos_dram + uint64_t{l.head_dim} / 2 * vb;
    } else if (l.kind == LayerKind::kRope) {  // a row's angles, the same for every head
      lay.cos_dram = allocate(uint64_t{rows} * l.head_dim / 2 * vb);
      lay.sin_dram = allocate(uint64_t{rows} * l.head_dim / 2 * vb);
    }
    LayerPlan plan = plan_of(l, rows);
    if (is_linear(l)) {
      if (lay.quantized_by >= 0)
        plan.quantized_rows_of = model.layers[static_cast<size_t>(lay.quantized_by)].name;
      plan_mapping(plan, lay);
    } else {
      plan.m_tile = lay.sram.mt;
    }
    out.layers.push_back(plan);
    layouts.push_back(std::move(lay));
  }
  // Every output (a step loop's all its steps' rows), then the inputs (a carried tensor's
  // layer may come later).
  uint32_t carried_width = 0;
  for (size_t li = 0; li < model.layers.size(); ++li) {
    LayerPlan& plan = out.layers[li];
    if (model.in_step_loop(li)) plan.m = model.rows_of(static_cast<int32_t>(li));
    plan.y_dram = allocate(uint64_t{plan.m} * plan.n * db);
    outputs_stored_as(plan, storage);
    const LayerSpec& l = model.layers[li];
    for (size_t j = 0; j < l.inputs.size(); ++j) {
      if (l.carried_input(j)) carried_width = std::max(carried_width, model.width_of(l.inputs[j]));
    }
  }
  for (size_t li = 0; li < model.layers.size(); ++li) {
    for (int32_t in : inputs_of(model.layers[li], li)) {
      layouts[li].inputs.push_back(in < 0 ? input_dram[model_input_index(in)]
                                          : out.layers[static_cast<size_t>(in)].y_dram);
    }
    out.layers[li].x_dram = layouts[li].inputs.front();
  }
  for (size_t li = 0; li < model.layers.size(); ++li) {
    if (fused_layer[li] < 0) continue;
    const auto e = static_cast<size_t>(fused_layer[li]);
    const std::vector<int32_t> refs = inputs_of(model.layers[e], e);
    EpilogueFusion& f = layouts[li].fusion;
    f.layer = &model.layers[e];
    f.round = storage.convert != isa::dma::kNoConversion;
    f.linear_first = refs.front() == static_cast<int32_t>(li);
    if (refs.size() > 1) {
      const uint64_t other = layouts[e].inputs[f.linear_first ? 1 : 0];
      f.operand_offset = static_cast<int64_t>(other - out.layers[e].y_dram);
    }
    if (f.rope())
      f.operand_offset = static_cast<int64_t>(layouts[e].cos_dram - out.layers[e].y_dram);
    out.layers[li].fused_layer = model.layers[e].name;
    out.layers[e].fused_into = model.layers[li].name;
  }
  const uint64_t carried_zeros = allocate(uint64_t{carried_width} * db);  // step 0's rows
  out.dram_bytes = allocate.top();

  // A linear layer's shortlist (above): each mapping lowered alone and estimated by the
  // analytical model, which sees what the closed form leaves out (the SRAM ports' contention,
  // the DRAM's rows); the fewest cycles win, ties to the closed form's order. A layer whose
  // shape, epilogue work, quantize pass and shortlist are an earlier one's (k and v after q)
  // takes that one's choice without estimating again.
  std::map<std::vector<uint64_t>, size_t> chosen;  // such a key -> the shortlist's index
  for (size_t li = 0; li < model.layers.size(); ++li) {
    LayerLayout& lay = layouts[li];
    if (lay.shortlist.size() < 2) continue;
    const LayerSpec& l = model.layers[li];
    const Geometry gl = layer_geometry(g, l, hw);
    const size_t stored = fused_layer[li] >= 0 ? static_cast<size_t>(fused_layer[li]) : li;
    std::vector<uint64_t> key = {
        l.in_features,
        l.out_features,
        out.layers[li].m,
        l.has_bias,
        lay.quantized_by >= 0,
        fused_layer[li] >= 0 ? static_cast<uint64_t>(model.layers[stored].kind) + 1 : 0};
    for (const LinearMapping& m : lay.shortlist) {
      key.insert(key.end(), {m.tiling.n_tile, m.tiling.k_tile, m.outer.super_rows,
                             m.outer.epilogue_rows, m.outer.overlapped, m.outer.dma_rows,
                             m.outer.resident_tiles, m.predicted_cycles});
    }
    if (const auto known = chosen.find(key); known != chosen.end()) {
      take_mapping(lay, l, gl, lay.shortlist[known->second]);
      plan_mapping(out.layers[li], lay);
      continue;
    }
    const auto cycles = [&](const LinearMapping& m) {
      LayerLayout trial_layout = lay;
      take_mapping(trial_layout, l, gl, m);
      ProgramBuilder trial;
      emit_weights_outer(trial, trial_layout, l, out.layers[li].m, out.layers[stored].y_dram, gl,
                         int_kind, storage, ternary_on_int8(l, hw));
      trial.halt();
      return hw::estimate_program(hw, trial.program(), out.dram_bytes, out.dram_rate,
                                  out.dram_rows.get())
          .cycles;
    };
    size_t best = 0;
    hw::Cycles best_cycles = cycles(lay.shortlist.front());
    for (size_t i = 1; i < lay.shortlist.size(); ++i) {
      const hw::Cycles c = cycles(lay.shortlist[i]);
      if (c < best_cycles) {
        best = i;
        best_cycles = c;
      }
    }
    chosen[key] = best;
    take_mapping(lay, l, gl, lay.shortlist[best]);
    plan_mapping(out.layers[li], lay);
  }

  // The DRAM image: the inputs and every layer's weights, gains and constants, in vec.
  if (data) {
    out.dram_image = hw::ZeroPages(allocate.top());
    for (size_t i = 0; i < model.inputs.size(); ++i) {
      if (model.token_input(i)) {
        put_patterns(out.dram_image, input_dram[i], token_ids(model, i), 4);
      } else {
        put_patterns(out.dram_image, input_dram[i], to_activation_format(storage, data->inputs[i]),
                     db);
      }
    }
    for (size_t li = 0; li < model.layers.size(); ++li) {
      const LayerSpec& l = model.layers[li];
      const LayerData& ld = data->layers[li];
      const LayerLayout& lay = layouts[li];
      if (is_linear(l)) {
        // The weights as the array reads them (a bitlinear layer's trits as two's-complement
        // int8, a linear layer's patterns), each kind its own accessor holding its tensor's
        // pointer and row length as values: read through `l` and `ld` they would be reloaded
        // for every weight (the tile writer's stores may alias them), and a choice between
        // the two tensors per weight keeps the loop over a row from vectorizing.
        const Geometry lg = layer_geometry(g, l, hw);
        const size_t in_features = l.in_features;
        if (l.kind == LayerKind::kBitLinear) {
          const int8_t* trits = ld.ternary.trits.data();
          const auto at = [trits, in_features](uint64_t nn, uint64_t kk) {
            return static_cast<uint32_t>(trits[nn * in_features + kk]);
          };
          write_weight_tiles(at, lay.tiles, lg, out.dram_image);
        } else {
          const uint32_t* patterns = ld.encoded.patterns.data();
          const auto at = [patterns, in_features](uint64_t nn, uint64_t kk) {
            return patterns[nn * in_features + kk];
          };
          write_weight_tiles(at, lay.tiles, lg, out.dram_image);
        }
        put_patterns(out.dram_image, lay.const_dram,
                     {vm.from_double(127.0), vm.from_double(weight_scale(l, ld) / 127.0)}, vb);
        if (l.has_bias)
          put_patterns(out.dram_image, lay.bias_dram, to_vector_format(vm, ld.bias), vb);
      }
      if (l.kind == LayerKind::kAttention) {
        write_graph_attention(lay.attention, l, ld, out.layers[li].m, hw, out.dram_image);
      }
      if (is_recurrent(l.kind)) write_recurrent(lay.recurrent, l, ld, hw, out.dram_image);
      if (l.kind == LayerKind::kMlpAttention)
        write_mlp_attention(lay.mlp_attention, l, ld, hw, out.dram_image);
      if (l.kind == LayerKind::kPool)
        put_patterns(out.dram_image, lay.const_dram, {inverse(vm, l.stride)}, vb);
      if (l.kind == LayerKind::kRope) {
        // A row's angles, `stride` apart: compact, or (fused) the output's rows apart.
        const RopeTables t = rope_tables(vm, l, out.layers[li].m);
        const uint64_t half = l.head_dim / 2;
        const uint64_t stride = fused_host[li] < 0 ? half * vb : uint64_t{l.out_features} * db;
        for (size_t at = 0; at < t.cos.size(); ++at) {
          const uint64_t to = at / half * stride + at % half * vb;
          std::memcpy(&out.dram_image[lay.cos_dram + to], &t.cos[at], vb);
          std::memcpy(&out.dram_image[lay.sin_dram + to], &t.sin[at], vb);
        }
      }
      if (l.kind == LayerKind::kEmbedding) {
        put_patterns(out.dram_image, lay.table_dram, to_vector_format(vm, ld.weights), vb);
      }
      if (l.kind == LayerKind::kRmsNorm || l.kind == LayerKind::kLayerNorm) {
        put_patterns(out.dram_image, lay.gain_dram, to_vector_format(vm, ld.weights), vb);
        if (l.kind == LayerKind::kLayerNorm) {
          put_patterns(out.dram_image, lay.bias_dram, to_vector_format(vm, ld.bias), vb);
        }
      }
    }
  }

  // The program: each layer over its rows; a step loop's layers one row per step, step t
  // reading and writing row t of their tensors (a memory whole; a carried tensor its layer's
  // row t - 1, zeros at step 0). The steps are unrolled: every register belongs to some
  // layer's code, none is left to count them.
  ProgramBuilder b;
  const auto plan_vector_layer = [&](size_t li, uint32_t rows) {
    const LayerSpec& l = model.layers[li];
    if (!is_vector_layer(l.kind)) return;
    layouts[li].sram = vector_plan(layouts[li], l, li, rows, out.layers[li].y_dram, g, hw, storage,
                                   out.dram_bytes, out.dram_rate, out.dram_rows.get());
    out.layers[li].m_tile = layouts[li].sram.mt;
    out.layers[li].buffer_sets = layouts[li].sram.sets;
    out.layers[li].row_split = layouts[li].sram.row_split;
  };
  // Layer li over `rows` rows of `inputs`, writing from `y` (`first_step`: a loop's first, or
  // no loop).
  const auto emit_layer = [&](size_t li, uint32_t rows, const std::vector<uint64_t>& inputs,
                              uint64_t y, bool first_step) {
    const LayerSpec& l = model.layers[li];
    LayerLayout lay = layouts[li];
    lay.inputs = inputs;
    const SramPlan& s = lay.sram;
    const uint64_t k_bytes = uint64_t{l.in_features} * vb, n_bytes = uint64_t{l.out_features} * vb;
    const uint64_t k_dram = uint64_t{l.in_features} * db, n_dram = uint64_t{l.out_features} * db;
    const uint32_t k = l.in_features, n = l.out_features;
    b.layer(static_cast<uint32_t>(li));
    if (l.kind == LayerKind::kAttention) {
      const LayerPlan p =
          emit_graph_attention(b, lay.attention, l, rows, lay.inputs, y, hw, first_step);
      LayerPlan& plan = out.layers[li];
      plan.m_tile = p.m_tile;
      plan.n_tile = p.n_tile;
      plan.k_tile = p.k_tile;
      plan.w_bytes = p.w_bytes;
      if (first_step) plan.transpose_macs = p.transpose_macs;
      return;
    }
    if (is_recurrent(l.kind)) {
      emit_recurrent(b, lay.recurrent, l, rows, lay.inputs[0], y, storage, hw);
      return;
    }
    if (is_linear(l) && lay.mapping.order == LoopOrder::kWeightsOuter) {
      emit_weights_outer(b, lay, l, rows, y, layer_geometry(g, l, hw), int_kind, storage,
                         ternary_on_int8(l, hw));
      return;
    }
    if (l.kind == LayerKind::kMlpAttention) {
      emit_mlp_attention(b, lay.mlp_attention, l, rows, lay.inputs, y, hw);
      return;
    }
    if (is_vector_layer(l.kind)) {
      emit_vector_layer(b, lay, s, split_rows(l, s.row_split), rows * s.row_split, y, storage);
      return;
    }
    // A linear layer in rows_outer order: per m-tile, the rows in, quantized, through the
    // weight tiles, converted (x factor, + bias) and out.
    load_once(b, Space::kActSram, s.consts, lay.const_dram, kNumConsts * vb);
    if (l.has_bias) load_once(b, Space::kActSram, s.bias, lay.bias_dram, n_bytes);
    b.li(kRegWBuf, 0);
    b.li(kRegHalf, g.wgt_half);
    row_loop(b, kRegM, rows, s.mt, {{kRegX, lay.inputs[0], k_dram}, {kRegY, y, n_dram}},
             [&](uint32_t m) {
               b.li(kRegSram, s.xv);
               b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, kRegX, m, k_bytes, s.xv_row,
                     k_dram, storage.convert);
               emit_quantize(b,
                             {s.xv, s.xv_row, s.xq, s.xq_row, s.a, s.r, s.q, s.f,
                              s.consts + kC127 * vb, s.consts + kCW * vb},
                             m, k, int_kind, vb);
               const StreamedGemm gemm =
                   layer_gemm(l, lay, m, s.xq, s.xq_row, s.acc_row, ternary_on_int8(l, hw));
               emit_streamed_gemm(b, kGemmRegs, gemm, layer_geometry(g, l, hw));
               emit_conversion(b, l, int_kind, EpilogueFusion{}, vec(s.yv, s.yv_row),
                               VecRef{0, true, s.acc_row}, vec(s.f, vb), vec(s.bias), VecRef{}, m,
                               n);
               b.li(kRegSram, s.yv);
               b.dma(Opcode::kDmaStore, Space::kActSram, kRegSram, kRegY, m, n_bytes, s.yv_row,
                     n_dram, storage.convert);
             });
  };
  for (size_t li = 0; li < model.layers.size(); ++li) {
    if (fused_host[li] >= 0) continue;  // in its host's epilogue
    if (!model.in_step_loop(li)) {
      plan_vector_layer(li, out.layers[li].m);
      const size_t stored = fused_layer[li] >= 0 ? static_cast<size_t>(fused_layer[li]) : li;
      emit_layer(li, out.layers[li].m, layouts[li].inputs, out.layers[stored].y_dram, true);
      continue;
    }
    for (size_t lj = model.loop_begin; lj < model.loop_end; ++lj) plan_vector_layer(lj, 1);
    for (uint32_t t = 0; t < out.layers[li].m; ++t) {
      for (size_t lj = model.loop_begin; lj < model.loop_end; ++lj) {
        const LayerSpec& l = model.layers[lj];
        std::vector<uint64_t> inputs = layouts[lj].inputs;
        const std::vector<int32_t> refs = inputs_of(l, lj);
        for (size_t j = 0; j < inputs.size(); ++j) {
          if (l.carried_input(j)) {
            inputs[j] = t == 0 ? carried_zeros : inputs[j] + (t - 1) * row_bytes(refs[j]);
          } else if (!l.memory_input(j)) {
            inputs[j] += t * row_bytes(refs[j]);
          }
        }
        emit_layer(lj, 1, inputs, out.layers[lj].y_dram + t * row_bytes(static_cast<int32_t>(lj)),
                   t == 0);
      }
      check_program_fits(b, hw);
    }
    li = model.loop_end - 1;
  }
  out.program = finish_program(b, hw);
  return out;
}

std::vector<LayerReference> reference_graph(const ModelSpec& model, const ModelData& data,
                                            const Lowered& lowered, const hw::NmpParams& hw) {
  const arith::VectorMath vm(hw.vector_unit.math);
  const hw::PeKind pe = hw.mac_array.pe;
  const bool int_kind = hw::is_integer(pe);
  const uint32_t lanes = hw.vector_unit.lanes;
  std::vector<LayerReference> refs(model.layers.size());
  // Tensors land in DRAM in the activation format (refs[].out), and the layers that read them
  // see the DMA's conversion to the vector format (`loaded`; the same patterns when the
  // formats are one).
  const TensorStorage storage = TensorStorage::of_graph(hw);
  const std::unique_ptr<arith::NumberFormat> stored = arith::make_format(storage.format);
  auto load = [&](const std::vector<uint32_t>& in_dram) {
    std::vector<uint32_t> v;
    v.reserve(in_dram.size());
    for (uint32_t p : in_dram) v.push_back(vm.round(stored->decode(p)));
    return v;
  };
  // A layer's rows as they land in DRAM: from element `landed[li]` on (a step loop lands a
  // row per step).
  std::vector<std::vector<uint32_t>> loaded(model.layers.size());
  std::vector<size_t> landed(model.layers.size(), 0);
  auto land = [&](size_t li) {
    std::vector<uint32_t>& out = refs[li].out;
    if (storage.convert) {
      for (size_t e = landed[li]; e < out.size(); ++e) {
        out[e] = stored->encode(vm.value(out[e]));
        loaded[li].push_back(vm.round(stored->decode(out[e])));
      }
    }
    landed[li] = out.size();
  };
  // Inputs of every layer: a model input (ref < 0) or an earlier layer's output.
  std::vector<std::vector<uint32_t>> model_inputs;
  for (const std::vector<float>& x : data.inputs) {
    model_inputs.push_back(storage.convert != isa::dma::kNoConversion
                               ? load(to_activation_format(storage, x))
                               : to_vector_format(vm, x));
  }
  auto exact_of = [&](int32_t i) -> const std::vector<uint32_t>& {
    if (i < 0) return model_inputs[model_input_index(i)];
    return storage.convert != isa::dma::kNoConversion ? loaded[static_cast<size_t>(i)]
                                                      : refs[static_cast<size_t>(i)].out;
  };
  auto fp32_of = [&](int32_t i) -> const std::vector<float>& {
    return i < 0 ? data.inputs[model_input_index(i)] : refs[static_cast<size_t>(i)].fp32;
  };
  // Layer li over T rows of its inputs (their exact and FP32 values).
  const auto layer_reference = [&](size_t li, uint32_t T,
                                   const std::vector<const std::vector<uint32_t>*>& ex,
                                   const std::vector<const std::vector<float>*>& fp) {
    const LayerSpec& l = model.layers[li];
    const LayerData& ld = data.layers[li];
    LayerReference ref;
    if (l.kind == LayerKind::kEmbedding) {
      for (float id : *fp[0]) {
        for (uint32_t i = 0; i < l.out_features; ++i) {
          const float v = ld.weights[static_cast<size_t>(id) * l.out_features + i];
          ref.out.push_back(vm.from_double(v));
          ref.fp32.push_back(v);
        }
      }
      return ref;
    }
    if (l.kind == LayerKind::kAttention || l.kind == LayerKind::kMlpAttention) {
      return l.kind == LayerKind::kAttention ? reference_graph_attention(l, T, ex, fp, ld, hw)
                                             : reference_mlp_attention(l, T, ex, fp, ld, hw);
    }
    const std::vector<uint32_t>& x = *ex[0];
    const std::vector<float>& xf = *fp[0];
    if (is_recurrent(l.kind)) {
      return reference_recurrent_layer(l, T, x, xf, ld, lowered.layers[li], hw);
    }
    if (l.kind == LayerKind::kPool) {
      return reference_pool(vm, l, T, x, xf);
    }
    if (l.kind == LayerKind::kRope) {
      return reference_rope(vm, l, T, x, xf);
    }
    const uint32_t k = l.in_features, n = l.out_features;
    ref.out.resize(size_t{T} * n);
    ref.fp32.resize(size_t{T} * n);
    if (is_linear(l)) {
      // Every row quantized, then the gemm over all of them (weights decoded once).
      std::vector<uint32_t> xq(size_t{T} * k), factor(T);
      for (uint32_t r = 0; r < T; ++r) {
        const std::vector<uint32_t> row(x.begin() + size_t{r} * k, x.begin() + size_t{r + 1} * k);
        const std::vector<uint32_t> q =
            reference_quantize_row(vm, pe, row, vm.from_double(127.0),
                                   vm.from_double(weight_scale(l, ld) / 127.0), factor[r]);
        std::copy(q.begin(), q.end(), xq.begin() + size_t{r} * k);
      }
      const uint32_t k_tile = lowered.layers[li].k_tile;
      const GemmReference gemm =
          l.kind == LayerKind::kBitLinear
              ? GemmReference(pe, ld.ternary.trits.data(), n, k, k_tile, hw.mac_array)
              : GemmReference(pe, ld.encoded.patterns.data(), n, k, k_tile, hw.mac_array);
      // The accumulators rounded to the vector format; an integer kind's then times its row's
      // factor; then the bias.
      const auto epilogue = [&](uint32_t r, uint32_t c, uint32_t y) {
        if (int_kind) y = vm.mul(y, factor[r]);
        ref.out[size_t{r} * n + c] = l.has_bias ? vm.add(y, vm.from_double(ld.bias[c])) : y;
      };
      if (int_kind) {
        gemm.rows_wrapped(xq.data(), T, [&](uint32_t r, const int32_t* acc) {
          for (uint32_t c = 0; c < n; ++c) epilogue(r, c, vm.from_int32(acc[c]));
        });
      } else {
        gemm.rows(xq.data(), T, [&](uint32_t r, const arith::Unpacked* acc) {
          for (uint32_t c = 0; c < n; ++c) epilogue(r, c, vm.round(acc[c]));
        });
      }
      Fp32Linear(l, ld, T).rows(xf.data(), T, l.has_bias ? ld.bias.data() : nullptr,
                                ref.fp32.data());
      return ref;
    }
    for (uint32_t r = 0; r < T; ++r) {
      const std::vector<uint32_t> row(x.begin() + size_t{r} * k, x.begin() + size_t{r + 1} * k);
      uint32_t* y = &ref.out[size_t{r} * n];
      float* yf = &ref.fp32[size_t{r} * n];
      const float* xr = &xf[size_t{r} * k];
      switch (l.kind) {
        case LayerKind::kBitLinear:
        case LayerKind::kLinear:
          break;  // above
        case LayerKind::kLayerNorm: {
          const uint32_t mean = vm.mean(row, lanes);
          std::vector<uint32_t> centred(n);
          double fmean = 0;
          for (uint32_t i = 0; i < n; ++i) fmean += xr[i];
          fmean /= n;
          double var = 0;
          for (uint32_t i = 0; i < n; ++i) {
            centred[i] = vm.sub(row[i], mean);
            var += (xr[i] - fmean) * (xr[i] - fmean);
          }
          const uint32_t scale = rms_scale(vm, centred, l.eps_log2, lanes);
          const double fscale = 1.0 / std::sqrt(var / n + std::ldexp(1.0, -int(l.eps_log2)));
          for (uint32_t i = 0; i < n; ++i) {
            y[i] = vm.add(vm.mul(vm.mul(centred[i], scale), vm.from_double(ld.weights[i])),
                          vm.from_double(ld.bias[i]));
            yf[i] = static_cast<float>((xr[i] - fmean) * fscale * ld.weights[i] + ld.bias[i]);
          }
          break;
        }
        case LayerKind::kRmsNorm: {
          double sumsq = 0;
          for (uint32_t i = 0; i < n; ++i) sumsq += double{xr[i]} * xr[i];
          const uint32_t scale = rms_scale(vm, row, l.eps_log2, lanes);
          const double fscale = 1.0 / std::sqrt(sumsq / n + std::ldexp(1.0, -int(l.eps_log2)));
          for (uint32_t i = 0; i < n; ++i) {
            const uint32_t gain = vm.from_double(ld.weights[i]);
            y[i] = vm.mul(vm.mul(row[i], scale), gain);
            yf[i] = static_cast<float>(xr[i] * fscale * ld.weights[i]);
          }
          break;
        }
        case LayerKind::kActivation:
          for (uint32_t i = 0; i < n; ++i) {
            y[i] = vm.apply(l.function, row[i]);
            yf[i] = static_cast<float>(arith::evaluate(l.function, xr[i]));
          }
          break;
        case LayerKind::kConcat: {
          const uint32_t kb = n - k;
          const uint32_t* b = &(*ex[1])[size_t{r} * kb];
          const float* bf = &(*fp[1])[size_t{r} * kb];
          std::copy(row.begin(), row.end(), y);
          std::copy(b, b + kb, y + k);
          std::copy(xr, xr + k, yf);
          std::copy(bf, bf + kb, yf + k);
          break;
        }
        case LayerKind::kAdd:
        case LayerKind::kMul: {
          const uint32_t* b = &(*ex[1])[size_t{r} * n];
          const float* bf = &(*fp[1])[size_t{r} * n];
          const bool add = l.kind == LayerKind::kAdd;
          for (uint32_t i = 0; i < n; ++i) {
            y[i] = add ? vm.add(row[i], b[i]) : vm.mul(row[i], b[i]);
            yf[i] = static_cast<float>(add ? double{xr[i]} + bf[i] : double{xr[i]} * bf[i]);
          }
          break;
        }
        default:
          break;
      }
    }
    return ref;
  };
  // A step loop runs step by step: each layer over its row t (a recurrent one a timestep,
  // carrying its state to the next step). A carried tensor's row t is its layer's row t - 1
  // (zeros at step 0, as the machine loads them); a memory is read whole.
  const uint32_t zero_loaded =
      storage.convert != isa::dma::kNoConversion ? vm.round(stored->decode(0)) : 0;
  std::map<size_t, RecurrentStepper> steppers;
  for (size_t li = model.loop_begin; li < model.loop_end; ++li) {
    if (is_recurrent(model.layers[li].kind))
      steppers.emplace(li,
                       RecurrentStepper(model.layers[li], data.layers[li], lowered.layers[li], hw));
  }
  const auto run_step = [&](size_t li, uint32_t t) {
    const LayerSpec& l = model.layers[li];
    const std::vector<int32_t> in = inputs_of(l, li);
    std::vector<std::vector<uint32_t>> ex_rows(in.size());
    std::vector<std::vector<float>> fp_rows(in.size());
    std::vector<const std::vector<uint32_t>*> ex;
    std::vector<const std::vector<float>*> fp;
    for (size_t j = 0; j < in.size(); ++j) {
      if (l.memory_input(j)) {
        ex.push_back(&exact_of(in[j]));
        fp.push_back(&fp32_of(in[j]));
        continue;
      }
      const size_t w = model.width_of(in[j]);
      if (l.carried_input(j) && t == 0) {
        ex_rows[j].assign(w, zero_loaded);
        fp_rows[j].assign(w, 0.0f);
      } else {
        const size_t src = (l.carried_input(j) ? t - 1 : t) * w;
        const std::vector<uint32_t>& e = exact_of(in[j]);
        const std::vector<float>& f = fp32_of(in[j]);
        ex_rows[j].assign(e.begin() + src, e.begin() + src + w);
        fp_rows[j].assign(f.begin() + src, f.begin() + src + w);
      }
      ex.push_back(&ex_rows[j]);
      fp.push_back(&fp_rows[j]);
    }
    if (is_recurrent(l.kind)) {
      steppers.at(li).step(ex_rows[0], fp_rows[0].data(), refs[li]);
    } else {
      const LayerReference r = layer_reference(li, 1, ex, fp);
      refs[li].out.insert(refs[li].out.end(), r.out.begin(), r.out.end());
      refs[li].fp32.insert(refs[li].fp32.end(), r.fp32.begin(), r.fp32.end());
    }
    land(li);
  };
  for (size_t li = 0; li < model.layers.size(); ++li) {
    if (model.in_step_loop(li)) {
      for (uint32_t t = 0; t < model.rows_of(static_cast<int32_t>(li)); ++t) {
        for (size_t lj = model.loop_begin; lj < model.loop_end; ++lj) run_step(lj, t);
      }
      li = model.loop_end - 1;
      continue;
    }
    std::vector<const std::vector<uint32_t>*> ex;
    std::vector<const std::vector<float>*> fp;
    for (int32_t i : inputs_of(model.layers[li], li)) {
      ex.push_back(&exact_of(i));
      fp.push_back(&fp32_of(i));
    }
    refs[li] = layer_reference(li, model.rows_of(static_cast<int32_t>(li)), ex, fp);
    land(li);
  }
  return refs;
}

namespace {

using FieldGet = double (*)(const LayerSpec&);
using FieldSet = void (*)(LayerSpec&, double);

// A count or number field held in a member of the layer.
template <uint32_t LayerSpec::*Member>
LayerField count_field(const char* name, bool required, double low, double high, const char* unit,
                       const char* doc) {
  return {name,
          FieldType::kCount,
          required,
          low,
          high,
          unit,
          doc,
          {},
          [](const LayerSpec& s) { return static_cast<double>(s.*Member); },
          [](LayerSpec& s, double v) { s.*Member = static_cast<uint32_t>(v); }};
}

template <double LayerSpec::*Member>
LayerField number_field(const char* name, double low, double high, const char* doc) {
  return {name,
          FieldType::kNumber,
          false,
          low,
          high,
          "",
          doc,
          {},
          [](const LayerSpec& s) { return s.*Member; },
          [](LayerSpec& s, double v) { s.*Member = v; }};
}

LayerField choice_field(const char* name, bool required, std::vector<std::string> choices,
                        const char* doc, FieldGet get, FieldSet set) {
  return {name, FieldType::kChoice, required, 0, 0, "", doc, std::move(choices), get, set};
}

LayerKindFields norm_fields(bool layernorm) {
  LayerKindFields k;
  k.fields = {count_field<&LayerSpec::eps_log2>(
      "eps_log2", false, 0, 126, "",
      "rmsnorm, layernorm: eps = 2^-eps_log2, added to the mean square")};
  k.tensors = {{"gain", "rmsnorm, layernorm: the gain g (default: all 1)", 1.0, 0.0,
                &LayerSpec::weights, &LayerData::weights}};
  if (layernorm) {
    k.tensors.push_back({"bias", "layernorm: the bias b (default: all 0)", 0.0, 0.0,
                         &LayerSpec::biases, &LayerData::bias});
  }
  return k;
}

LayerKindFields activation_fields() {
  std::vector<std::string> functions;
  for (size_t f = 0; f < arith::kNumVectorFunctions; ++f)
    functions.emplace_back(arith::to_string(static_cast<VectorFunction>(f)));
  LayerKindFields k;
  k.fields = {choice_field(
      "function", true, std::move(functions), "activation: the vector unit's function (PWL tables)",
      [](const LayerSpec& s) { return static_cast<double>(s.function); },
      [](LayerSpec& s, double v) { s.function = static_cast<VectorFunction>(v); })};
  return k;
}

// Output row r of a pool reads input rows s r ... s r + s - 1 (a remainder is dropped).
LayerKindFields pool_fields() {
  LayerKindFields k;
  k.fields = {count_field<&LayerSpec::stride>("stride", true, 2, 4096, "rows",
                                              "pool: input rows per output row"),
              choice_field(
                  "op", false, {"max", "mean"}, "pool: the maximum or the mean of the rows",
                  [](const LayerSpec& s) { return s.pool_max ? 0.0 : 1.0; },
                  [](LayerSpec& s, double v) { s.pool_max = v == 0; })};
  k.finish = [](LayerSpec& s, const std::vector<uint32_t>&) -> std::optional<FieldProblem> {
    const uint32_t rows = s.rows;
    s.rows = std::max<uint32_t>(1, rows / s.stride);
    if (s.stride <= rows) return std::nullopt;
    return FieldProblem{"stride", "its input has " + std::to_string(rows) +
                                      " rows, fewer than one stride of " +
                                      std::to_string(s.stride)};
  };
  return k;
}

LayerKindFields rope_fields() {
  LayerKindFields k;
  k.fields = {
      count_field<&LayerSpec::heads>("heads", true, 1, 1024, "",
                                     "rope: heads in a row (each rotated apart)"),
      count_field<&LayerSpec::context>("context", false, 0, 1 << 20, "positions",
                                       "rope: the position of row 0 (row r is at context + r)"),
      number_field<&LayerSpec::rope_theta>(
          "theta", 1, 1e9, "rope: the base of the frequencies theta^(-2i/head_dim)")};
  k.finish = [](LayerSpec& s, const std::vector<uint32_t>&) -> std::optional<FieldProblem> {
    s.head_dim = s.in_features / s.heads;
    if (s.in_features % (2 * s.heads) == 0) return std::nullopt;
    return FieldProblem{"heads", "its input's width " + std::to_string(s.in_features) +
                                     " must be heads x an even head_dim"};
  };
  return k;
}

// Each output row: the first input's row, then the second's.
LayerKindFields concat_fields() {
  LayerKindFields k;
  k.widths_may_differ = true;
  k.finish = [](LayerSpec& s, const std::vector<uint32_t>& widths) -> std::optional<FieldProblem> {
    s.out_features = widths[0] + widths[1];
    return std::nullopt;
  };
  return k;
}

}  // namespace

// The fields of the vector kinds (workloads/layer_fields.hpp); the reader reads them, the dump
// writes them, the docs list them.
const LayerKindFields& layer_kind_fields(LayerKind kind) {
  static const std::map<LayerKind, LayerKindFields> kFields = {
      {LayerKind::kRmsNorm, norm_fields(false)},
      {LayerKind::kLayerNorm, norm_fields(true)},
      {LayerKind::kActivation, activation_fields()},
      {LayerKind::kPool, pool_fields()},
      {LayerKind::kRope, rope_fields()},
      {LayerKind::kConcat, concat_fields()},
  };
  static const LayerKindFields kNone;
  const auto it = kFields.find(kind);
  return it == kFields.end() ? kNone : it->second;
}

}  // namespace nmp::workloads
