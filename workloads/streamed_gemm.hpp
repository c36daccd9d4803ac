// The code of a gemm whose weights stream from DRAM through the two halves of the weight SRAM
// (double buffering: the DMA loads tile i + 1 while the array computes tile i), shared by the
// linear layers of graph models and the recurrent layers whose weights do not stay resident.
//
// The weight tiles sit in DRAM one after another from `w_dram` (64-byte aligned), in the order
// the code reads them: output blocks outer, reduction blocks inner (edge blocks last in each).
// The code loops over full output blocks and, within one, over full reduction blocks: the first
// overwrites the accumulators, the rest add. Its size does not grow with the matrix.
//
// Example:
//   emit_streamed_gemm(b, regs, {m, n, k, tiling, w_dram, act, act_row, acc, acc_row}, g);
#pragma once

#include <functional>

#include "workloads/program_builder.hpp"
#include "workloads/tiling.hpp"

namespace nmp::workloads {

// The registers the code uses. `wbuf` (the weight SRAM half of the next tile) and `half` (a
// half's bytes) are the caller's to set up once; the others are scratch.
struct StreamedGemmRegs {
  unsigned w, acc, n_left, act, k_left, wbuf, half;
};

struct StreamedGemm {
  uint32_t m = 0, n = 0, k = 0;  // activation rows, outputs, reduction
  WeightTiling tiling;
  uint64_t w_dram = 0;            // the first tile
  uint64_t act = 0, act_row = 0;  // activation SRAM: rows of k activation elements
  uint64_t acc = 0, acc_row = 0;  // accumulator SRAM: rows of n accumulators
  bool ternary_weights = false;   // packed ternary weights on int8 PEs (the gemm's field)
  // Weights outer (linear_mapping.hpp): each tile's activations stream from DRAM beside its
  // weights, rows of the tile's inputs from the `act` register's DRAM address (act_dram_row
  // bytes apart; `act_base` holds the first, reloaded for each output block) into `act` above,
  // through the `scratch` register; every output block accumulates into the same m rows from
  // `acc`; `end_block(nt)` emits what follows each block (converting and storing it).
  // Tiles alternate between the buffer at `act` and the one `act_buffer_bytes` above it.
  // `act_tile_step`: DRAM bytes from one full tile's activations to the next's (0: the tile's
  // inputs in the array's format); `act_convert`: the loads' conversion.
  bool stream_acts = false;
  unsigned act_base = 0, scratch = 0;
  uint64_t act_dram_row = 0, act_buffer_bytes = 0, act_tile_step = 0;
  isa::dma::Conversion act_convert = isa::dma::kNoConversion;
  std::function<void(uint32_t nt)> begin_block, end_block;
  std::function<void()> after_first_tile;  // emitted between a block's first and second tiles
  // emit_streamed_gemm: each block loads the next block's first tile after its last gemm,
  // before its end_block, so the DMA streams it under the end_block's work (a block's stores
  // would otherwise queue before it). Streamed activations only.
  bool prefetch_next_block = false;
  // Resident rows (streamed activations): the first `resident_tiles` reduction tiles' slices
  // load, in the first block of a super tile, each into a place of its own (tile i at
  // act_resident + i x act_row, rows act_resident_row apart), where every later block's gemms
  // read them without a load; the other tiles stream through the two buffers at `act`.
  uint32_t resident_tiles = 0;
  uint64_t act_resident = 0, act_resident_row = 0;
};

// `g.layout` must be the one the tiles were written in.
// One output block of nt outputs: its weight tiles from the `w` register's DRAM address (which
// it advances past them), accumulating at the `acc` register's address. `first_of_super_tile`:
// it loads the resident slices.
void emit_output_block(ProgramBuilder& b, const StreamedGemmRegs& r, const StreamedGemm& s,
                       const Geometry& g, uint32_t nt, bool first_of_super_tile);
// Every output block: `w` from w_dram, `acc` from acc (advanced past each block unless the
// activations stream: then every block accumulates from acc).
void emit_streamed_gemm(ProgramBuilder& b, const StreamedGemmRegs& r, const StreamedGemm& s,
                        const Geometry& g);

}  // namespace nmp::workloads
