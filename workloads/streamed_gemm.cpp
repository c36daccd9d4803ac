#include "workloads/streamed_gemm.hpp"

#include <algorithm>
#include <stdexcept>

#include "hw_models/weight_layout.hpp"

namespace nmp::workloads {

namespace {

// One output block of nt outputs. `first_loaded`: its first tile's weights and activations are
// already in (the previous block prefetched them); `next_nt` (0: none): the outputs of the next
// block, whose first tile this one loads after its last gemm, before its end_block;
// `load_resident`: the block is its super tile's first, which loads the resident slices.
void output_block(ProgramBuilder& b, const StreamedGemmRegs& r, const StreamedGemm& s,
                  const Geometry& g, uint32_t nt, bool first_loaded, uint32_t next_nt,
                  bool load_resident) {
  using isa::AccMode;
  using isa::Opcode;
  const WeightTiling& t = s.tiling;
  const uint64_t ab = g.traits.act_bytes;
  // The reduction tiles: `full` of k_tile inputs, then the edge (all of k when k < k_tile).
  const uint32_t full = s.k / t.k_tile, edge = s.k % t.k_tile;
  const uint32_t count = full + (edge != 0 ? 1 : 0);
  const auto inputs_of = [&](uint32_t i) { return i < full ? t.k_tile : edge; };
  const auto resident = [&](uint32_t i) { return i < s.resident_tiles; };
  // Streamed activations alternate between two buffers (a tile's load overlaps the previous
  // tile's gemm), so the loop over streamed full reduction blocks does two per iteration.
  unsigned parity = 0;
  const auto act_buffer = [&](unsigned buffer) { return s.act + buffer * s.act_buffer_bytes; };
  const auto slot = [&](uint32_t i) { return s.act_resident + uint64_t{i} * s.act_row; };
  // Tile i's weights into the half at wbuf, its activations (streamed) into its resident slot
  // (if this block loads them) or into `buffer`; s.scratch is left at where they are.
  const auto load = [&](uint32_t tile_nt, uint32_t i, unsigned buffer, bool with_resident) {
    const uint32_t kt = inputs_of(i);
    const uint64_t bytes = hw::weight_operand_bytes(tile_nt, kt, g.layout);
    b.dma(Opcode::kDmaLoad, isa::Space::kWeightSram, r.wbuf, r.w, 1, bytes, bytes, bytes);
    if (!s.stream_acts) return;
    if (resident(i)) {
      b.li(s.scratch, slot(i));
      if (with_resident) {
        b.dma(Opcode::kDmaLoad, isa::Space::kActSram, s.scratch, r.act, s.m, kt * ab,
              s.act_resident_row, s.act_dram_row, s.act_convert);
      }
      return;
    }
    b.li(s.scratch, act_buffer(buffer));
    b.dma(Opcode::kDmaLoad, isa::Space::kActSram, s.scratch, r.act, s.m, kt * ab, s.act_row,
          s.act_dram_row, s.act_convert);
  };
  const auto tile = [&](uint32_t i, AccMode mode, bool loaded) {
    const uint32_t kt = inputs_of(i);
    if (!loaded) load(nt, i, parity, load_resident);
    unsigned act = r.act;
    uint64_t act_row = s.act_row;
    if (s.stream_acts) {
      if (loaded) b.li(s.scratch, resident(i) ? slot(i) : act_buffer(parity));
      act = s.scratch;
      if (resident(i)) {
        act_row = s.act_resident_row;
      } else {
        parity ^= 1;
      }
    }
    b.gemm(act, r.wbuf, r.acc, s.m, nt, kt, act_row, s.acc_row, mode, s.ternary_weights);
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
  tile(0, AccMode::kOverwrite, first_loaded);
  if (s.after_first_tile) s.after_first_tile();
  // The resident tiles after the first, one by one (each has its own slot), then the streamed
  // full tiles, then a streamed edge.
  uint32_t i = 1;
  for (; i < count && resident(i); ++i) tile(i, AccMode::kAccumulate, false);
  if (i < full) {
    const uint32_t per_iteration = s.stream_acts ? 2 : 1;
    const uint32_t streamed = full - i;
    if (streamed >= per_iteration) {
      b.li(r.k_left, streamed / per_iteration);
      const uint64_t loop = b.here();
      for (uint32_t j = 0; j < per_iteration; ++j) tile(i, AccMode::kAccumulate, false);
      b.dbnz(r.k_left, loop);
    }
    for (uint32_t j = 0; j < streamed % per_iteration; ++j) tile(i, AccMode::kAccumulate, false);
    i = full;
  }
  if (i < count) tile(i, AccMode::kAccumulate, false);
  if (next_nt > 0) {
    reset_act();
    load(next_nt, 0, 0, false);
  }
  if (s.end_block) s.end_block(nt);
}

}  // namespace

void emit_output_block(ProgramBuilder& b, const StreamedGemmRegs& r, const StreamedGemm& s,
                       const Geometry& g, uint32_t nt, bool first_of_super_tile) {
  output_block(b, r, s, g, nt, false, 0, first_of_super_tile);
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
    if (s.resident_tiles > 0) throw std::logic_error("resident slices load in a first block");
    if (full > 0) {
      b.li(r.n_left, full);
      const uint64_t loop = b.here();
      output_block(b, r, s, g, t.n_tile, false, 0, false);
      next_acc();
      b.dbnz(r.n_left, loop);
    }
    if (edge != 0) output_block(b, r, s, g, edge, false, 0, false);
    return;
  }
  // Each block loads the next one's first tile before its end_block: the first block and the
  // last full one are apart from the loop between them. (Streamed activations: every block
  // accumulates from acc.)
  if (!s.stream_acts) throw std::logic_error("prefetch_next_block streams the activations");
  if (full == 0) {
    output_block(b, r, s, g, edge, false, 0, true);
    return;
  }
  output_block(b, r, s, g, t.n_tile, false, full > 1 ? t.n_tile : edge, true);
  if (full > 2) {
    b.li(r.n_left, full - 2);
    const uint64_t loop = b.here();
    output_block(b, r, s, g, t.n_tile, true, t.n_tile, false);
    b.dbnz(r.n_left, loop);
  }
  if (full > 1) output_block(b, r, s, g, t.n_tile, true, edge, false);
  if (edge != 0) output_block(b, r, s, g, edge, true, 0, false);
}

}  // namespace nmp::workloads
