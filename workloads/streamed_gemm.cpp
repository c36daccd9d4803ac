#include "workloads/streamed_gemm.hpp"

#include <algorithm>
#include <stdexcept>

#include "hw_models/weight_layout.hpp"

namespace nmp::workloads {

namespace {

// One output block of nt outputs. `first_loaded`: its first tile's weights and activations are
// already in (the previous block prefetched them); `next_nt` (0: none): the outputs of the next
// block, whose first tile this one loads after its last gemm, before its end_block.
void output_block(ProgramBuilder& b, const StreamedGemmRegs& r, const StreamedGemm& s,
                  const Geometry& g, uint32_t nt, bool first_loaded, uint32_t next_nt) {
  using isa::AccMode;
  using isa::Opcode;
  const WeightTiling& t = s.tiling;
  const uint64_t ab = g.traits.act_bytes;
  // Streamed activations alternate between two buffers (a tile's load overlaps the previous
  // tile's gemm), so the loop over full reduction blocks does two per iteration.
  unsigned parity = 0;
  const auto act_buffer = [&](unsigned buffer) { return s.act + buffer * s.act_buffer_bytes; };
  // A tile's weights into the half at wbuf, its activations (streamed) into `buffer`.
  const auto load = [&](uint32_t tile_nt, uint32_t kt, unsigned buffer) {
    const uint64_t bytes = hw::weight_operand_bytes(tile_nt, kt, g.layout);
    b.dma(Opcode::kDmaLoad, isa::Space::kWeightSram, r.wbuf, r.w, 1, bytes, bytes, bytes);
    if (!s.stream_acts) return;
    b.li(s.scratch, act_buffer(buffer));
    b.dma(Opcode::kDmaLoad, isa::Space::kActSram, s.scratch, r.act, s.m, kt * ab, s.act_row,
          s.act_dram_row, s.act_convert);
  };
  const auto tile = [&](uint32_t kt, AccMode mode, bool loaded) {
    if (!loaded) load(nt, kt, parity);
    unsigned act = r.act;
    if (s.stream_acts) {
      if (loaded) b.li(s.scratch, act_buffer(parity));
      act = s.scratch;
      parity ^= 1;
    }
    b.gemm(act, r.wbuf, r.acc, s.m, nt, kt, s.act_row, s.acc_row, mode, s.ternary_weights);
    b.addi(r.w, r.w,
           static_cast<int64_t>(round_up(hw::weight_operand_bytes(nt, kt, g.layout), kDramAlign)));
    b.addi(r.act, r.act, static_cast<int64_t>(s.act_tile_step ? s.act_tile_step : kt * ab));
    b.sub(r.wbuf, r.half, r.wbuf);  // the other half next
  };
  const auto reset_act = [&] {
    if (s.stream_acts) {
      b.addi(r.act, s.act_base, 0);
    } else {
      b.li(r.act, s.act);
    }
  };
  if (s.begin_block) s.begin_block(nt);
  reset_act();
  const uint32_t first = std::min(t.k_tile, s.k);
  tile(first, AccMode::kOverwrite, first_loaded);
  if (s.after_first_tile) s.after_first_tile();
  const uint32_t more_full = s.k / t.k_tile - (first == t.k_tile ? 1 : 0);
  const uint32_t per_iteration = s.stream_acts ? 2 : 1;
  if (more_full >= per_iteration) {
    b.li(r.k_left, more_full / per_iteration);
    const uint64_t loop = b.here();
    for (uint32_t i = 0; i < per_iteration; ++i) tile(t.k_tile, AccMode::kAccumulate, false);
    b.dbnz(r.k_left, loop);
  }
  for (uint32_t i = 0; i < more_full % per_iteration; ++i)
    tile(t.k_tile, AccMode::kAccumulate, false);
  if (s.k > t.k_tile && s.k % t.k_tile != 0) tile(s.k % t.k_tile, AccMode::kAccumulate, false);
  if (next_nt > 0) {
    reset_act();
    load(next_nt, first, 0);
  }
  if (s.end_block) s.end_block(nt);
}

}  // namespace

void emit_output_block(ProgramBuilder& b, const StreamedGemmRegs& r, const StreamedGemm& s,
                       const Geometry& g, uint32_t nt) {
  output_block(b, r, s, g, nt, false, 0);
}

void emit_streamed_gemm(ProgramBuilder& b, const StreamedGemmRegs& r, const StreamedGemm& s,
                        const Geometry& g) {
  const WeightTiling& t = s.tiling;
  b.li(r.w, s.w_dram);
  if (r.acc != 0) b.li(r.acc, s.acc);  // r0 reads 0
  const uint32_t full = s.n / t.n_tile, edge = s.n % t.n_tile;
  const auto next_acc = [&] {
    if (!s.stream_acts) {
      b.addi(r.acc, r.acc, static_cast<int64_t>(uint64_t{t.n_tile} * g.traits.acc_bytes));
    }
  };
  if (!s.prefetch_next_block) {
    if (full > 0) {
      b.li(r.n_left, full);
      const uint64_t loop = b.here();
      output_block(b, r, s, g, t.n_tile, false, 0);
      next_acc();
      b.dbnz(r.n_left, loop);
    }
    if (edge != 0) output_block(b, r, s, g, edge, false, 0);
    return;
  }
  // Each block loads the next one's first tile before its end_block: the first block and the
  // last full one are apart from the loop between them. (Streamed activations: every block
  // accumulates from acc.)
  if (!s.stream_acts) throw std::logic_error("prefetch_next_block streams the activations");
  if (full == 0) {
    output_block(b, r, s, g, edge, false, 0);
    return;
  }
  output_block(b, r, s, g, t.n_tile, false, full > 1 ? t.n_tile : edge);
  if (full > 2) {
    b.li(r.n_left, full - 2);
    const uint64_t loop = b.here();
    output_block(b, r, s, g, t.n_tile, true, t.n_tile);
    b.dbnz(r.n_left, loop);
  }
  if (full > 1) output_block(b, r, s, g, t.n_tile, true, edge);
  if (edge != 0) output_block(b, r, s, g, edge, true, 0);
}

}  // namespace nmp::workloads
