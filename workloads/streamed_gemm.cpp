#include "workloads/streamed_gemm.hpp"

#include <algorithm>

#include "hw_models/weight_layout.hpp"

namespace nmp::workloads {

void emit_output_block(ProgramBuilder& b, const StreamedGemmRegs& r, const StreamedGemm& s,
                       const Geometry& g, uint32_t nt) {
  using isa::AccMode;
  using isa::Opcode;
  const WeightTiling& t = s.tiling;
  const uint64_t ab = g.traits.act_bytes;
  // Streamed activations alternate between two buffers (a tile's load overlaps the previous
  // tile's gemm), so the loop over full reduction blocks does two per iteration.
  unsigned parity = 0;
  auto tile = [&](uint32_t kt, AccMode mode) {
    const uint64_t bytes = hw::weight_operand_bytes(nt, kt, g.layout);
    b.dma(Opcode::kDmaLoad, isa::Space::kWeightSram, r.wbuf, r.w, 1, bytes, bytes, bytes);
    unsigned act = r.act;
    if (s.stream_acts) {
      b.li(s.scratch, s.act + parity * s.act_buffer_bytes);
      parity ^= 1;
      b.dma(Opcode::kDmaLoad, isa::Space::kActSram, s.scratch, r.act, s.m, kt * ab, s.act_row,
            s.act_dram_row);
      act = s.scratch;
    }
    b.gemm(act, r.wbuf, r.acc, s.m, nt, kt, s.act_row, s.acc_row, mode, s.ternary_weights);
    b.addi(r.w, r.w, static_cast<int64_t>(round_up(bytes, kDramAlign)));
    b.addi(r.act, r.act, static_cast<int64_t>(kt * ab));
    b.sub(r.wbuf, r.half, r.wbuf);  // the other half next
  };
  if (s.begin_block) s.begin_block(nt);
  if (s.stream_acts) {
    b.addi(r.act, s.act_base, 0);
  } else {
    b.li(r.act, s.act);
  }
  const uint32_t first = std::min(t.k_tile, s.k);
  tile(first, AccMode::kOverwrite);
  if (s.after_first_tile) s.after_first_tile();
  const uint32_t more_full = s.k / t.k_tile - (first == t.k_tile ? 1 : 0);
  const uint32_t per_iteration = s.stream_acts ? 2 : 1;
  if (more_full >= per_iteration) {
    b.li(r.k_left, more_full / per_iteration);
    const uint64_t loop = b.here();
    for (uint32_t i = 0; i < per_iteration; ++i) tile(t.k_tile, AccMode::kAccumulate);
    b.dbnz(r.k_left, loop);
  }
  for (uint32_t i = 0; i < more_full % per_iteration; ++i) tile(t.k_tile, AccMode::kAccumulate);
  if (s.k > t.k_tile && s.k % t.k_tile != 0) tile(s.k % t.k_tile, AccMode::kAccumulate);
  if (s.end_block) s.end_block(nt);
}

void emit_streamed_gemm(ProgramBuilder& b, const StreamedGemmRegs& r, const StreamedGemm& s,
                        const Geometry& g) {
  const WeightTiling& t = s.tiling;
  b.li(r.w, s.w_dram);
  if (r.acc != 0) b.li(r.acc, s.acc);  // r0 reads 0
  const uint32_t full = s.n / t.n_tile;
  if (full > 0) {
    b.li(r.n_left, full);
    const uint64_t loop = b.here();
    emit_output_block(b, r, s, g, t.n_tile);
    if (!s.stream_acts) {
      b.addi(r.acc, r.acc, static_cast<int64_t>(uint64_t{t.n_tile} * g.traits.acc_bytes));
    }
    b.dbnz(r.n_left, loop);
  }
  if (s.n % t.n_tile != 0) emit_output_block(b, r, s, g, s.n % t.n_tile);
}

}  // namespace nmp::workloads
