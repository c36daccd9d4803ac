#include "workloads/recurrent.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "hw_models/arith/vector_math.hpp"
#include "workloads/program_builder.hpp"
#include "workloads/streamed_gemm.hpp"
#include "workloads/tiling.hpp"

namespace nmp::workloads {
namespace {

using arith::Unpacked;
using arith::VectorFunction;
using hw::ElemType;
using hw::VectorBinary;
using isa::Opcode;
using isa::Space;

// Registers of the generated code (r13-r15 belong to the program builder).
enum Reg : unsigned {
  kRegSteps = 1,  // the chunk's timesteps left
  kRegXDram = 2,  // the chunk's first row of x
  kRegYDram = 3,  // the timestep's row of y (h)
  kRegWBuf = 4,   // streaming: the weight SRAM buffer of the next tile
  kRegHalf = 5,   // streaming: the sum of the two buffers' addresses
  kRegSram = 6,   // a DMA's on-chip address; in the timesteps' loop, their row of input gates
  kRegDram = 7,   // a DMA's DRAM address; the full chunks left
  kRegAct = 8,
  kRegAcc = 9,
  kRegWgt = 10,  // resident: the tile's weight SRAM address; streaming: the next tile's DRAM
  kRegN = 11,    // streaming: output blocks left
  kRegK = 12,    // streaming: reduction blocks left
};
constexpr StreamedGemmRegs kGemmRegs = {kRegWgt, kRegAcc,  kRegN,   kRegAct,
                                        kRegK,   kRegWBuf, kRegHalf};

// LSTM: one bias block (b_ih + b_hh); GRU: b_ih and b_hh apart (r gates h's part).
uint64_t bias_elements(const LayerSpec& l) {
  return uint64_t{l.kind == LayerKind::kLstm ? 1u : 2u} * l.gates() * l.hidden;
}

using Matrix = RecurrentLayout::Matrix;

// Outputs [n0, n0 + n) of a matrix of k inputs, tiled to `budget` bytes of weight SRAM.
Matrix plan_matrix(uint32_t n, uint32_t k, uint64_t budget, const Geometry& g, uint32_t n0 = 0) {
  Matrix p;
  p.n0 = n0;
  p.n = n;
  p.k = k;
  p.tiling = tile_weights(n, k, budget, g);
  if (p.tiling.k_tile > 0) p.tiles = weight_tiles(n, k, p.tiling, g);
  return p;
}

uint64_t tile_bytes(const Matrix& p) {
  uint64_t b = 0;
  for (const auto& t : p.tiles) b += t.bytes;
  return b;
}

// Constants block (vec elements): c127, s_W / 127, s_U / 127, then scratch a, r, q and f_h.
enum Const : uint32_t { kC127, kCW, kCU, kA, kR, kQ, kFh, kNumConsts };

RecurrentLayout::Act act_layout(const LayerSpec& l, uint64_t eb, const Geometry& g) {
  const uint64_t H = l.hidden, G = l.gates(), ab = g.traits.act_bytes;
  RecurrentLayout::Act a{};
  RegionAllocator region(g.act_word);
  a.hq = region(H * ab);
  a.h = region(H * eb);
  a.c = region(H * eb);
  a.gh = region(G * H * eb);
  a.bias = region(bias_elements(l) * eb);
  a.consts = region(uint64_t{kNumConsts} * eb);
  a.end = region.top();
  return a;
}

// A chunk of the most timesteps, up to T, whose inputs and input gates fit above the
// timestep's regions of both SRAMs (rows 0 if not even one does).
RecurrentLayout::Chunk chunk_layout(const LayerSpec& l, uint32_t T, uint64_t act_end, uint64_t eb,
                                    const Geometry& g) {
  const uint64_t I = l.in_features, GH = uint64_t{l.gates()} * l.hidden;
  RecurrentLayout::Chunk c{};
  c.xv_row = round_up(I * eb, g.act_word);
  c.xq_row = round_up(I * g.traits.act_bytes, g.act_word);
  c.gx_row = round_up(GH * eb, g.act_word);
  c.acc_row = round_up(GH * g.traits.acc_bytes, g.acc_word);
  c.acc = c.acc_row;  // above the timestep's row of U h accumulators
  auto place = [&](uint64_t m) {
    RegionAllocator region(g.act_word);
    region(act_end);
    c.xv = region(m * c.xv_row);
    c.xq = region(m * c.xq_row);
    c.gx = region(m * c.gx_row);
    for (uint64_t* scalars : {&c.a, &c.r, &c.q, &c.f}) *scalars = region(m * eb);
    return region.top() <= g.act_cap && (m + 1) * c.acc_row <= g.acc_cap;
  };
  uint64_t m = std::min<uint64_t>(T, kMaxVectorRows);
  while (m > 0 && !place(m)) --m;
  c.rows = static_cast<uint32_t>(m);
  return c;
}

// The vec patterns of a direction's bias block and constants, as stored in DRAM.
std::vector<uint32_t> bias_patterns(const LayerSpec& l, const RecurrentDirection& d,
                                    const arith::VectorMath& vm) {
  std::vector<uint32_t> out;
  if (l.kind == LayerKind::kLstm) {
    for (size_t i = 0; i < d.b_ih.size(); ++i) {
      out.push_back(vm.from_double(double{d.b_ih[i]} + double{d.b_hh[i]}));
    }
  } else {
    out = to_vector_format(vm, d.b_ih);
    const std::vector<uint32_t> hh = to_vector_format(vm, d.b_hh);
    out.insert(out.end(), hh.begin(), hh.end());
  }
  return out;
}

std::vector<uint32_t> const_patterns(const RecurrentDirection& d, const arith::VectorMath& vm) {
  std::vector<uint32_t> c(kNumConsts, vm.from_double(0.0));
  c[kC127] = vm.from_double(127.0);
  c[kCW] = vm.from_double(double{d.w.encoded.scale[0]} / 127.0);
  c[kCU] = vm.from_double(double{d.u.encoded.scale[0]} / 127.0);
  return c;
}

}  // namespace

RecurrentLayout place_recurrent(const LayerSpec& l, size_t index, uint32_t tokens,
                                const hw::NmpParams& hw, const hw::DramRate& dram,
                                RegionAllocator& allocate) {
  const Geometry g = geometry_of(hw);
  const uint64_t eb = arith::element_bytes(hw.vector_unit.math);
  const std::string where = "layer " + std::to_string(index) + " (" + l.name + ")";
  const uint32_t H = l.hidden, G = l.gates();
  RecurrentLayout lay;
  lay.act = act_layout(l, eb, g);
  if (lay.act.end > g.act_cap) {
    throw LoweringError("hw", "/act_sram/capacity_kib",
                        where + ": the activation SRAM must hold the step's vectors (" +
                            std::to_string(lay.act.end) + " bytes); it holds " +
                            std::to_string(g.act_cap));
  }
  lay.chunk = chunk_layout(l, tokens, lay.act.end, eb, g);
  if (lay.chunk.rows == 0) {
    throw LoweringError("hw", "/act_sram/capacity_kib",
                        where +
                            ": the activation and accumulator SRAMs must hold a timestep's "
                            "vectors, one input and its " +
                            std::to_string(G * H) + " input gates");
  }
  // Where the weights go, the first that fits of:
  //  1. U stays in the weight SRAM across timesteps, as one tile; W streams through two
  //     buffers beside it (once per chunk), or stays too if it fits beside U as one tile.
  //  2. The most of U's outputs that fit as one tile stay, beside two buffers of whole column
  //     blocks of U at full k, through which the rest of U streams every timestep (and W once
  //     per chunk): full k keeps the reduction order of every output that of (1). Larger
  //     buffers stream more bytes, smaller ones in more DMA commands, each waiting for its
  //     first data (L cycles) while the DRAM idles: per timestep (S + 2b) / rate + (S + 2b) /
  //     b x L, S the bytes of U beyond the SRAM, is least at b = sqrt(S x L x rate / 2).
  //  3. U and W stream through the SRAM's halves, U every timestep, W once per chunk.
  const uint32_t GH = G * H, I = l.in_features;
  RecurrentLayout::WeightSram& ws = lay.wsram;
  Matrix w_plan, stay_plan, stream_plan;
  const auto none = [&](uint32_t n0) {  // no outputs of U
    Matrix m;
    m.n0 = n0;
    m.k = H;
    return m;
  };
  bool placed = false;
  const Matrix u_whole = plan_matrix(GH, H, g.wgt_cap, g);
  if (u_whole.tiles.size() == 1) {
    const uint64_t u_end = round_up(u_whole.tiles[0].bytes, g.wgt_word);
    const uint64_t rest = g.wgt_cap - std::min(g.wgt_cap, u_end);
    const uint64_t buffer = rest / 2 / g.wgt_word * g.wgt_word;
    const Matrix w_whole = plan_matrix(GH, I, rest, g);
    const Matrix w_streamed = plan_matrix(GH, I, buffer, g);
    placed = w_whole.tiles.size() == 1 || w_streamed.tiling.k_tile > 0;
    ws.w_resident = w_whole.tiles.size() == 1;
    ws.w = ws.stream_base = u_end;
    ws.stream_sum = 2 * u_end + buffer;
    stay_plan = u_whole;
    stream_plan = none(GH);
    w_plan = ws.w_resident ? w_whole : w_streamed;
  }
  if (!placed) {
    const uint32_t cols = std::min(g.layout.array_cols, GH);
    const uint64_t block = round_up(
        std::max(hw::weight_operand_bytes(cols, H, g.layout),
                 hw::weight_operand_bytes(cols, std::min(g.layout.array_rows, I), g.layout)),
        g.wgt_word);
    const double beyond = static_cast<double>(hw::weight_operand_bytes(GH, H, g.layout)) -
                          static_cast<double>(g.wgt_cap);
    const double best =
        std::sqrt(std::max(0.0, beyond) * dram.latency_cycles * dram.bytes_per_cycle / 2);
    const uint64_t buffer =
        block * std::max<uint64_t>(1, std::llround(best / static_cast<double>(block)));
    const WeightTiling stay = tile_weights(GH, H, g.wgt_cap - std::min(g.wgt_cap, 2 * buffer), g);
    if (stay.k_tile == H && stay.n_tile > 0 && stay.n_tile < GH) {
      stay_plan = plan_matrix(stay.n_tile, H, g.wgt_cap - 2 * buffer, g);
      stream_plan = plan_matrix(GH - stay.n_tile, H, buffer, g, stay.n_tile);
      w_plan = plan_matrix(GH, I, buffer, g);
      placed = stream_plan.tiling.k_tile == H && w_plan.tiling.k_tile > 0;
      ws = {};
      ws.stream_base = round_up(stay_plan.tiles[0].bytes, g.wgt_word);
      ws.stream_sum = 2 * ws.stream_base + buffer;
    }
  }
  if (!placed) {
    ws = {};
    ws.stream_sum = g.wgt_half;
    stay_plan = none(0);
    stream_plan = plan_matrix(GH, H, g.wgt_half, g);
    w_plan = plan_matrix(GH, I, g.wgt_half, g);
    if (w_plan.tiling.k_tile == 0 || stream_plan.tiling.k_tile == 0) {
      throw LoweringError("hw", "/weight_sram/capacity_kib",
                          where +
                              ": half the weight SRAM (double buffering) must hold one "
                              "array tile of the gate weights");
    }
  }
  for (uint32_t d = 0; d < l.directions(); ++d) {
    Matrix w = w_plan, stay = stay_plan, u = stream_plan;
    for (auto* m : {&w, &stay, &u}) {
      for (auto& t : m->tiles) t.dram = allocate(t.bytes);
    }
    lay.w.push_back(w);
    lay.u_stay.push_back(stay);
    lay.u.push_back(u);
    lay.bias_dram.push_back(allocate(bias_elements(l) * eb));
    lay.const_dram.push_back(allocate(uint64_t{kNumConsts} * eb));
  }
  lay.zero_dram = allocate(lay.act.end);
  return lay;
}

LayerPlan recurrent_plan(const LayerSpec& l, const RecurrentLayout& lay, uint32_t tokens) {
  LayerPlan plan = plan_of(l, tokens);
  plan.u_rows_resident = lay.u_stay[0].n;
  plan.u_rows = lay.u_stay[0].n + lay.u[0].n;
  plan.u_bytes = tile_bytes(lay.u_stay[0]) + tile_bytes(lay.u[0]);
  plan.timesteps = tokens * l.directions();
  plan.w_n_tile = lay.w[0].tiling.n_tile;
  plan.w_k_tile = lay.w[0].tiling.k_tile;
  const Matrix& u = lay.u[0].n > 0 ? lay.u[0] : lay.u_stay[0];  // k tiles alike if both
  plan.u_n_tile = u.tiling.n_tile;
  plan.u_k_tile = u.tiling.k_tile;
  plan.w_dram = lay.w[0].tiles.front().dram;
  for (uint32_t d = 0; d < l.directions(); ++d)
    plan.w_bytes += tile_bytes(lay.w[d]) + tile_bytes(lay.u_stay[d]) + tile_bytes(lay.u[d]);
  return plan;
}

void write_recurrent(const RecurrentLayout& lay, const LayerSpec& l, const LayerData& ld,
                     const hw::NmpParams& hw, hw::ZeroPages& image) {
  const Geometry g = geometry_of(hw);
  const arith::VectorMath vm(hw.vector_unit.math);
  const uint64_t eb = vm.element_bytes();
  for (uint32_t d = 0; d < l.directions(); ++d) {
    const RecurrentDirection& dir = ld.directions[d];
    for (auto [m, plan] : {std::pair{&dir.w, &lay.w[d]}, std::pair{&dir.u, &lay.u_stay[d]},
                           std::pair{&dir.u, &lay.u[d]}}) {
      const auto at = [m = m, k = plan->k, n0 = plan->n0](uint64_t nn, uint64_t kk) {
        return m->encoded.patterns[(n0 + nn) * k + kk];
      };
      write_weight_tiles(at, plan->tiles, g, image);
    }
    put_patterns(image, lay.bias_dram[d], bias_patterns(l, dir, vm), eb);
    put_patterns(image, lay.const_dram[d], const_patterns(dir, vm), eb);
  }
}

void emit_recurrent(ProgramBuilder& b, const RecurrentLayout& lay, const LayerSpec& l,
                    uint32_t tokens, uint64_t x, uint64_t y, const TensorStorage& storage,
                    const hw::NmpParams& hw) {
  const Geometry g = geometry_of(hw);
  const uint64_t eb = arith::element_bytes(hw.vector_unit.math);
  const uint64_t ab = g.traits.act_bytes, accb = g.traits.acc_bytes;
  const bool int_kind = hw::is_integer(hw.mac_array.pe);
  const RecurrentLayout::Act& a = lay.act;
  const uint64_t H = l.hidden, I = l.in_features, G = l.gates(), T = tokens;
  auto dma = [&](Opcode op, Space space, uint64_t sram, uint64_t dram, uint64_t bytes) {
    b.li(kRegSram, sram);
    b.li(kRegDram, dram);
    b.dma(op, space, kRegSram, kRegDram, 1, bytes, bytes, bytes);
  };
  auto vec = [](uint64_t addr) { return VecRef{addr, false}; };
  auto at = [&](Const c) { return a.consts + uint64_t{c} * eb; };
  auto cst = [&](Const c) { return vec(at(c)); };
  // h_q = quantized (or converted) h, and its dequantization factor f_h (h itself kept).
  const QuantizeBuffers quantize_h{a.h,    0,       a.hq,      0,       at(kA), at(kR),
                                   at(kQ), at(kFh), at(kC127), at(kCU), 0};
  // acc rows = M act rows: a resident matrix is one tile in place; a streamed one loops over
  // its tiles through the weight SRAM's two buffers.
  auto gemm_rows = [&](const Matrix& m, bool resident, uint64_t wgt, uint32_t rows, uint64_t act,
                       uint64_t act_row, uint64_t acc, uint64_t acc_row) {
    if (resident) {
      const auto& t = m.tiles.front();
      b.li(kRegWgt, wgt);
      b.li(kRegAct, act);
      b.li(kRegAcc, acc);
      b.gemm(kRegAct, kRegWgt, kRegAcc, rows, t.nt, t.kt, act_row, acc_row,
             isa::AccMode::kOverwrite);
      return;
    }
    StreamedGemm gemm;
    gemm.m = rows;
    gemm.n = m.n;
    gemm.k = m.k;
    gemm.tiling = m.tiling;
    gemm.w_dram = m.tiles.front().dram;
    gemm.act = act;
    gemm.act_row = act_row;
    gemm.acc = acc;
    gemm.acc_row = acc_row;
    emit_streamed_gemm(b, kGemmRegs, gemm, g);
  };
  const RecurrentLayout::Chunk& ch = lay.chunk;
  const RecurrentLayout::WeightSram& ws = lay.wsram;
  const uint64_t db = storage.dram_bytes;  // an element of x or y in DRAM
  const uint64_t x_row = I * db, y_row = uint64_t{l.out_features} * db;
  const uint64_t hq_row = round_up(H * ab, g.act_word), gh_row = round_up(G * H * accb, g.acc_word);
  for (uint32_t d = 0; d < l.directions(); ++d) {
    const Matrix& w = lay.w[d];
    const Matrix& u_stay = lay.u_stay[d];
    const Matrix& u = lay.u[d];
    const bool backward = d == 1;
    const int64_t sign = backward ? -1 : 1;
    // Set-up: state to zero, biases and constants in, resident weights in.
    dma(Opcode::kDmaLoad, Space::kActSram, 0, lay.zero_dram, a.end);
    dma(Opcode::kDmaLoad, Space::kActSram, a.bias, lay.bias_dram[d], bias_elements(l) * eb);
    dma(Opcode::kDmaLoad, Space::kActSram, a.consts, lay.const_dram[d], uint64_t{kNumConsts} * eb);
    if (u_stay.n > 0) {
      dma(Opcode::kDmaLoad, Space::kWeightSram, 0, u_stay.tiles[0].dram, u_stay.tiles[0].bytes);
    }
    if (ws.w_resident)
      dma(Opcode::kDmaLoad, Space::kWeightSram, ws.w, w.tiles[0].dram, w.tiles[0].bytes);
    // A step loop's state: the previous step's h, c, h_q and f_h (each at its own offset).
    const std::vector<std::pair<uint64_t, uint64_t>> state = {
        {a.h, H * eb}, {a.c, H * eb}, {a.hq, H * ab}, {at(kFh), eb}};
    if (lay.state_dram != 0) {
      for (const auto& [sram, bytes] : state)
        dma(Opcode::kDmaLoad, Space::kActSram, sram, lay.state_dram + sram, bytes);
    }
    b.li(kRegWBuf, ws.stream_base);
    b.li(kRegHalf, ws.stream_sum);
    b.li(kRegYDram, y + (backward ? (T - 1) * y_row + H * db : 0));
    // A chunk of m timesteps (backward: from its last): first the input gates of all m, which
    // do not depend on the recurrence, as one gemm of m rows (W x_t, dequantized; GRU: + b_ih;
    // so W streams once per chunk, not once per timestep); then the m timesteps, each reading
    // its row of them (register kRegSram).
    auto chunk = [&](uint32_t m) {
      b.li(kRegSram, ch.xv);
      b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, kRegXDram, m, I * eb, ch.xv_row, x_row,
            storage.convert);
      emit_quantize(
          b, {ch.xv, ch.xv_row, ch.xq, ch.xq_row, ch.a, ch.r, ch.q, ch.f, at(kC127), at(kCW)}, m,
          static_cast<uint32_t>(I), int_kind, eb);
      gemm_rows(w, ws.w_resident, ws.w, m, ch.xq, ch.xq_row, ch.acc, ch.acc_row);
      const VecRef gx_rows{ch.gx, false, ch.gx_row};
      b.vcvt(gx_rows, ElemType::kVec, VecRef{ch.acc, true, ch.acc_row}, ElemType::kAcc, m, G * H);
      if (int_kind) {
        b.vbin(VectorBinary::kMul, gx_rows, gx_rows, VecRef{ch.f, false, eb}, true, m, G * H);
      }
      if (l.kind == LayerKind::kGru) {  // b_ih, the first half of the bias block
        b.vbin(VectorBinary::kAdd, gx_rows, gx_rows, vec(a.bias), false, m, G * H);
      }
      b.li(kRegSram, ch.gx + (backward ? uint64_t{m - 1} * ch.gx_row : 0));
      b.li(kRegSteps, m);
      const uint64_t loop = b.here();
      const VecRef gx{0, false, 0, kRegSram};
      if (u_stay.n > 0) gemm_rows(u_stay, true, 0, 1, a.hq, hq_row, 0, gh_row);
      if (u.n > 0) gemm_rows(u, false, 0, 1, a.hq, hq_row, uint64_t{u.n0} * accb, gh_row);
      b.vcvt(vec(a.gh), ElemType::kVec, VecRef{0, true}, ElemType::kAcc, 1, G * H);
      if (int_kind) b.vbin(VectorBinary::kMul, vec(a.gh), vec(a.gh), cst(kFh), true, 1, G * H);
      if (l.kind == LayerKind::kLstm) {
        b.vbin(VectorBinary::kAdd, gx, gx, vec(a.gh), false, 1, G * H);
        b.vbin(VectorBinary::kAdd, gx, gx, vec(a.bias), false, 1, G * H);
        b.cell(Opcode::kLstmCell, gx, vec(a.c), vec(a.h), 1, H);
      } else {
        b.vbin(VectorBinary::kAdd, vec(a.gh), vec(a.gh), vec(a.bias + G * H * eb), false, 1, G * H);
        b.cell(Opcode::kGruCell, gx, vec(a.gh), vec(a.h), 1, H);
      }
      b.li(kRegAct, a.h);
      b.dma(Opcode::kDmaStore, Space::kActSram, kRegAct, kRegYDram, 1, H * eb, H * eb, H * db,
            storage.convert);
      emit_quantize(b, quantize_h, 1, static_cast<uint32_t>(H), int_kind, eb);
      b.addi(kRegSram, kRegSram, sign * static_cast<int64_t>(ch.gx_row));
      b.addi(kRegYDram, kRegYDram, sign * static_cast<int64_t>(y_row));
      b.dbnz(kRegSteps, loop);
    };
    // Full chunks in a loop (counted in kRegDram), then the edge chunk; backward, the chunks
    // run from the end and the edge chunk is the first rows.
    const uint32_t m = ch.rows, full = static_cast<uint32_t>(T / m),
                   edge = static_cast<uint32_t>(T % m);
    b.li(kRegXDram, x + (backward ? (T - m) * x_row : 0));
    if (full > 0) {
      b.li(kRegDram, full);
      const uint64_t chunks = b.here();
      chunk(m);
      b.addi(kRegXDram, kRegXDram, sign * static_cast<int64_t>(uint64_t{m} * x_row));
      b.dbnz(kRegDram, chunks);
    }
    if (edge > 0) {
      if (backward) b.li(kRegXDram, x);
      chunk(edge);
    }
    if (lay.state_dram != 0) {
      for (const auto& [sram, bytes] : state)
        dma(Opcode::kDmaStore, Space::kActSram, sram, lay.state_dram + sram, bytes);
    }
  }
}

namespace {

// The exact model of one direction's step arithmetic (the order of emit_recurrent).
class ExactCell {
 public:
  ExactCell(const LayerSpec& l, const RecurrentDirection& d, const arith::VectorMath& vm,
            const hw::NmpParams& hw, const LayerPlan& plan)
      : l_(l),
        vm_(vm),
        pe_(hw.mac_array.pe),
        act_(hw::activation_format(pe_)),
        w_gemm_(pe_, d.w.encoded.patterns.data(), l.gates() * l.hidden, l.in_features,
                plan.w_k_tile, hw.mac_array),
        u_gemm_(pe_, d.u.encoded.patterns.data(), l.gates() * l.hidden, l.hidden, plan.u_k_tile,
                hw.mac_array) {
    const std::vector<uint32_t> c = const_patterns(d, vm);
    c127_ = c[kC127];
    cw_ = c[kCW];
    cu_ = c[kCU];
    bias_ = bias_patterns(l, d, vm);
    const uint32_t zero = vm.from_double(0.0);
    h_.assign(l.hidden, zero);
    c_.assign(l.hidden, zero);
    hq_.assign(l.hidden, act_.encode(Unpacked::zero()));
    fh_ = zero;
  }

  const std::vector<uint32_t>& step(const std::vector<uint32_t>& x) {
    const uint32_t H = l_.hidden, G = l_.gates();
    uint32_t fx = 0;
    const std::vector<uint32_t> xq = quantize(x, cw_, fx);
    std::vector<uint32_t> gx = gates(w_gemm_, xq, fx);
    std::vector<uint32_t> gh = gates(u_gemm_, hq_, fh_);
    if (l_.kind == LayerKind::kLstm) {
      for (uint32_t i = 0; i < G * H; ++i) gx[i] = vm_.add(vm_.add(gx[i], gh[i]), bias_[i]);
      for (uint32_t j = 0; j < H; ++j) {
        const uint32_t i_g = vm_.apply(VectorFunction::kSigmoid, gx[j]);
        const uint32_t f_g = vm_.apply(VectorFunction::kSigmoid, gx[H + j]);
        const uint32_t g_g = vm_.apply(VectorFunction::kTanh, gx[2 * H + j]);
        const uint32_t o_g = vm_.apply(VectorFunction::kSigmoid, gx[3 * H + j]);
        c_[j] = vm_.add(vm_.mul(f_g, c_[j]), vm_.mul(i_g, g_g));
        h_[j] = vm_.mul(o_g, vm_.apply(VectorFunction::kTanh, c_[j]));
      }
    } else {
      const uint32_t one = vm_.from_double(1.0);
      for (uint32_t i = 0; i < G * H; ++i) {
        gx[i] = vm_.add(gx[i], bias_[i]);
        gh[i] = vm_.add(gh[i], bias_[G * H + i]);
      }
      for (uint32_t j = 0; j < H; ++j) {
        const uint32_t r = vm_.apply(VectorFunction::kSigmoid, vm_.add(gx[j], gh[j]));
        const uint32_t z = vm_.apply(VectorFunction::kSigmoid, vm_.add(gx[H + j], gh[H + j]));
        const uint32_t n =
            vm_.apply(VectorFunction::kTanh, vm_.add(gx[2 * H + j], vm_.mul(r, gh[2 * H + j])));
        h_[j] = vm_.add(vm_.mul(vm_.sub(one, z), n), vm_.mul(z, h_[j]));
      }
    }
    hq_ = quantize(h_, cu_, fh_);
    return h_;
  }

 private:
  // x in the MAC array's activation format, and (integer kinds) the dequantization factor.
  std::vector<uint32_t> quantize(const std::vector<uint32_t>& x, uint32_t scale,
                                 uint32_t& factor) const {
    return reference_quantize_row(vm_, pe_, x, c127_, scale, factor);
  }

  std::vector<uint32_t> gates(const GemmReference& gemm, const std::vector<uint32_t>& x,
                              uint32_t factor) const {
    std::vector<arith::Unpacked> acc;
    gemm.row(x.data(), acc);
    std::vector<uint32_t> out(acc.size());
    for (size_t n = 0; n < acc.size(); ++n) {
      out[n] = vm_.round(acc[n]);
      if (hw::is_integer(pe_)) out[n] = vm_.mul(out[n], factor);
    }
    return out;
  }

  const LayerSpec& l_;
  const arith::VectorMath& vm_;
  hw::PeKind pe_;
  const arith::NumberFormat& act_;
  GemmReference w_gemm_, u_gemm_;  // the gates' weights W and U
  uint32_t c127_ = 0, cw_ = 0, cu_ = 0, fh_ = 0;
  std::vector<uint32_t> bias_, h_, c_, hq_;
};

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// The FP32 model of one direction's step (float state, gates in double from the latent
// weights, exact sigmoid and tanh).
class Fp32Cell {
 public:
  Fp32Cell(const LayerSpec& l, const RecurrentDirection& d)
      : l_(l),
        d_(d),
        h_(l.hidden, 0.0f),
        c_(l.hidden, 0.0f),
        gx_(size_t{l.gates()} * l.hidden),
        gh_(gx_.size()) {}

  const std::vector<float>& step(const float* x) {
    const uint32_t H = l_.hidden, I = l_.in_features, G = l_.gates();
    for (uint32_t n = 0; n < G * H; ++n) {
      double sx = d_.b_ih[n], sh = d_.b_hh[n];
      for (uint32_t i = 0; i < I; ++i) sx += double{d_.w.latent[size_t{n} * I + i]} * x[i];
      for (uint32_t i = 0; i < H; ++i) sh += double{d_.u.latent[size_t{n} * H + i]} * h_[i];
      gx_[n] = static_cast<float>(sx);
      gh_[n] = static_cast<float>(sh);
    }
    for (uint32_t j = 0; j < H; ++j) {
      if (l_.kind == LayerKind::kLstm) {
        auto pre = [&](uint32_t gate) { return double{gx_[gate * H + j]} + gh_[gate * H + j]; };
        const double i_g = sigmoid(pre(0)), f_g = sigmoid(pre(1)), g_g = std::tanh(pre(2)),
                     o_g = sigmoid(pre(3));
        c_[j] = static_cast<float>(f_g * c_[j] + i_g * g_g);
        h_[j] = static_cast<float>(o_g * std::tanh(double{c_[j]}));
      } else {
        const double r = sigmoid(double{gx_[j]} + gh_[j]);
        const double z = sigmoid(double{gx_[H + j]} + gh_[H + j]);
        const double n = std::tanh(double{gx_[2 * H + j]} + r * gh_[2 * H + j]);
        h_[j] = static_cast<float>((1 - z) * n + z * h_[j]);
      }
    }
    return h_;
  }

 private:
  const LayerSpec& l_;
  const RecurrentDirection& d_;
  std::vector<float> h_, c_, gx_, gh_;
};

}  // namespace

LayerReference reference_recurrent_layer(const LayerSpec& l, uint32_t tokens,
                                         const std::vector<uint32_t>& x,
                                         const std::vector<float>& x_fp32, const LayerData& ld,
                                         const LayerPlan& plan, const hw::NmpParams& hw) {
  const arith::VectorMath vm(hw.vector_unit.math);
  const uint32_t T = tokens, I = l.in_features, H = l.hidden, cols = l.out_features;
  LayerReference ref;
  ref.out.assign(size_t{T} * cols, 0);
  ref.fp32.assign(size_t{T} * cols, 0.0f);
  for (uint32_t d = 0; d < l.directions(); ++d) {
    ExactCell cell(l, ld.directions[d], vm, hw, plan);
    Fp32Cell fp32(l, ld.directions[d]);
    for (uint32_t s = 0; s < T; ++s) {
      const uint32_t t = d == 1 ? T - 1 - s : s;
      const std::vector<uint32_t> xt(x.begin() + size_t{t} * I, x.begin() + size_t{t + 1} * I);
      const std::vector<uint32_t>& h = cell.step(xt);
      std::copy(h.begin(), h.end(), ref.out.begin() + size_t{t} * cols + size_t{d} * H);
      const std::vector<float>& hf = fp32.step(&x_fp32[size_t{t} * I]);
      std::copy(hf.begin(), hf.end(), ref.fp32.begin() + size_t{t} * cols + size_t{d} * H);
    }
  }
  return ref;
}

struct RecurrentStepper::Cells {
  Cells(const LayerSpec& l, const LayerData& ld, const LayerPlan& plan, const hw::NmpParams& hw)
      : vm(hw.vector_unit.math),
        exact(l, ld.directions[0], vm, hw, plan),
        fp32(l, ld.directions[0]) {}
  arith::VectorMath vm;
  ExactCell exact;
  Fp32Cell fp32;
};

RecurrentStepper::RecurrentStepper(const LayerSpec& l, const LayerData& ld, const LayerPlan& plan,
                                   const hw::NmpParams& hw)
    : cells_(std::make_unique<Cells>(l, ld, plan, hw)) {}
RecurrentStepper::~RecurrentStepper() = default;
RecurrentStepper::RecurrentStepper(RecurrentStepper&&) noexcept = default;

void RecurrentStepper::step(const std::vector<uint32_t>& x, const float* x_fp32,
                            LayerReference& out) {
  const std::vector<uint32_t>& h = cells_->exact.step(x);
  out.out.insert(out.out.end(), h.begin(), h.end());
  const std::vector<float>& hf = cells_->fp32.step(x_fp32);
  out.fp32.insert(out.fp32.end(), hf.begin(), hf.end());
}

}  // namespace nmp::workloads
