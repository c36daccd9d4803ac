// The mapper of a graph model's linear (bitlinear, linear) layers: which loop order and tiles
// move the fewest bytes through DRAM in the fewest cycles, scored by a closed form.
//
// Two loop orders (model.hpp, LoopOrder):
//   rows_outer     a tile of m_tile rows at a time: its rows quantized on chip, then every
//                  weight tile streamed past them (tiling.hpp); the weights cross DRAM once per
//                  tile of rows. What the SRAMs hold bounds m_tile: a row's input, quantized
//                  input and output, and its accumulators for every output.
//   weights_outer  first a quantize pass writes every row, quantized (integer kinds: its absmax
//                  after it), to a DRAM scratch, which later weights_outer layers reading the
//                  same input share; then for each super tile of rows whose
//                  accumulators for one output block fit the accumulator SRAM, each output
//                  block streams its weight tiles once, each with the quantized rows' slice of
//                  the tile's inputs, and converts and stores the block. The weights cross
//                  DRAM once per super tile, the quantized rows once per output block.
//                  The conversion of a block (its epilogue) runs as the block completes
//                  (inline: the next block's tiles wait for it) or under the next block's first
//                  gemm (overlapped: two buffers of accumulators and of converted rows, so it
//                  fits half the rows or outputs).
// Values do not depend on the mapping: the reduction tile is a multiple of the array's rows
// (or all of k), so the array's blocks fall at the same inputs (reference.cpp); output-
// stationary arrays, whose blocks are whole tiles, keep the rows_outer reduction tile.
//
// The score (docs/architecture.md#mapper) follows the schedule: DMA commands at the DRAM's
// sustained rate after its first-data latency, runs of weight tiles as a load/gemm pipeline
// through the weight SRAM's halves, vector commands at the activation SRAM's bytes per cycle,
// the quantize pass, and each epilogue inline or the part of it an overlapping gemm does not
// cover; their sum is the predicted cycles.
// The predicted energy prices the payload bytes, the MACs and the static power over the
// predicted cycles (MapperCosts). The objective's figure decides (latency: cycles; energy;
// edp: energy x cycles), then the fewest cycles, the fewest bytes, the fewest (largest) weight
// tiles, and rows_outer.
//
// Example:
//   std::vector<LinearMapping> best = map_linear_shortlist({rows, n, k, bias}, context,
//                                                          layer.mapping, 8);
#pragma once

#include <cstdint>
#include <vector>

#include "hw_models/analytical.hpp"
#include "workloads/model.hpp"
#include "workloads/tiling.hpp"

namespace nmp::workloads {

// A layer run in a weights_outer epilogue (model.hpp, Fusion): after the conversion, each
// chunk is rounded as DRAM would store it (when the formats differ), then an activation
// function, an add or mul with the other input's rows, loaded beside the chunk, or a rotary
// embedding of its heads by its rows' angles (tables of a super tile's rows, loaded once).
enum class FusedOp : uint8_t { kNone, kUnary, kBinary, kRope };

struct LinearShape {
  uint32_t m = 0, n = 0, k = 0;  // rows, outputs, inputs
  bool has_bias = false;
  FusedOp fused = FusedOp::kNone;
  uint32_t rope_head_dim = 0;  // kRope: the heads' width, which every output block's must divide
};

// What the predicted energy prices (sim/energy_model.hpp derives them from the same tables as
// the report): zero prices leave only latency meaningful.
struct MapperCosts {
  double dram_pj_per_byte = 0;     // a byte of payload streamed through DRAM
  double mac_pj = 0;               // one MAC of the array
  double static_pj_per_cycle = 0;  // leakage, clock and DRAM background, per cycle
};

struct MapperContext {
  Geometry g;                      // the layer's weight geometry (packed ternary on int8 PEs)
  uint64_t vec_bytes = 4;          // an element of the vector unit's format
  uint64_t tensor_bytes = 4;       // an element of the input and output rows in DRAM
  bool int_kind = false;           // per-row absmax quantization, a factor per row
  bool whole_tile_blocks = false;  // output-stationary: the reduction tile orders the sums
  bool preload_overlap = true;
  double dram_bytes_per_cycle = 64;  // sustained on a long sequential read, per cycle
  double dma_latency_cycles = 0;     // a DMA command's wait for its first data
  // A standard's strided rows, measured per shape (null: the simple channel, whose rows move
  // at its bytes per cycle).
  hw::DramRowRate* dram_rows = nullptr;
  uint32_t vector_lanes = 64;
  uint32_t vector_pipeline_cycles = 4;  // drained after each vector command
  uint64_t act_bytes_per_cycle = 256;   // the activation SRAM's: banks x word bytes x ports
  // The accumulator SRAM's bytes per cycle one way (banks x word bytes x read ports): a row of
  // a fold reads and writes its accumulators, wide ones (posit quires) in several cycles.
  uint64_t acc_bytes_per_cycle = 256;
  bool act_port_shared = true;  // the array and the vector unit share its one port
  MappingObjective objective = MappingObjective::kLatency;
  MapperCosts costs;
  // weights_outer: an earlier layer's quantize pass wrote these rows to DRAM (the same input,
  // quantized alike), so this layer has none of its own.
  bool quantized_rows_shared = false;
  // weights_outer: the DMA may convert the input rows into the array's format as it streams
  // them (RowConversion::kDma is legal: model.hpp).
  bool dma_row_conversion = false;
  // rows_outer as the SRAMs allow it: rows per tile (0: it does not fit) and the weight tiles.
  uint32_t rows_outer_m_tile = 0;
  WeightTiling rows_outer_tiling;
};

// weights_outer's on-chip layout: activation SRAM byte addresses (the two passes share the
// constants and the bias slot, then each lays out its own buffers from the same address); the
// accumulators of a super tile sit from accumulator address 0.
struct WeightsOuterPlan {
  uint32_t super_rows = 0;     // rows whose accumulators stay on chip across a block
  uint32_t quantize_rows = 0;  // rows per tile of the quantize pass
  uint32_t epilogue_rows = 0;  // rows converted and stored at once after a block
  bool overlapped = false;     // the epilogue under the next block's first gemm
  uint64_t consts = 0, bias = 0;
  uint64_t xv = 0, xv_row = 0, xq = 0, xq_row = 0, a = 0, r = 0, q = 0, f = 0;  // quantize
  uint64_t quantize_set = 0;  // the second set of the quantize pass's buffers, this far above
  // The gemm pass: two buffers of super_rows x x_row (the second at x + super_rows x x_row).
  uint64_t x = 0, x_row = 0, factors = 0, yv = 0, yv_row = 0, acc_row = 0;
  uint64_t xq_dram_row = 0;  // one quantized row in the DRAM scratch (and its factor)
  // The DMA converts the input rows as the gemm pass streams them: no quantize pass, no
  // scratch (RowConversion::kDma).
  bool dma_rows = false;
  // Overlapped: the second buffer of converted rows (activation SRAM) and of accumulators
  // (accumulator SRAM), this many bytes above the first.
  uint64_t yv_buffer = 0, acc_buffer = 0;
  // A fused add or mul: the buffer of the other input's chunk (overlapped: two, yv_buffer apart).
  uint64_t operand = 0;
  // Resident slices (InputResidency): the first resident_tiles reduction tiles' slices of
  // super_rows rows at `resident`, tile i x_row bytes into rows resident_row apart; the two
  // buffers at x then hold the other tiles' slices.
  uint32_t resident_tiles = 0;
  uint64_t resident = 0, resident_row = 0;
  // A fused rotary embedding: the super tile's rows' angles, a row's cosines then its sines,
  // rows rope_row apart.
  uint64_t rope = 0, rope_row = 0;
};

struct LinearMapping {
  LoopOrder order = LoopOrder::kRowsOuter;
  WeightTiling tiling;
  uint32_t m_tile = 0;  // rows_outer: rows per tile; weights_outer: super_rows
  WeightsOuterPlan outer;
  uint64_t dram_bytes = 0;  // predicted payload: what the DMA commands ask for
  uint64_t predicted_cycles = 0;
  uint64_t weight_tiles = 0;  // weight tiles streamed (the DMA and gemm commands' count)
  uint32_t candidates = 0;    // mappings scored
  double energy_pj = 0;       // predicted (MapperCosts)
  uint64_t cycles() const { return predicted_cycles; }
};

// Legal mappings are those with what `want` fixes (its order, tiles, rows). rows_outer is legal
// when the caller could fit it (rows_outer_m_tile > 0) and its tiles are the caller's unless
// forced; weights_outer when one array tile of weights and the buffers of one row fit. Under
// `auto`, a rows_outer whose one tile holds every row is taken without a search. A forced
// reduction tile must be a multiple of the array's rows or at least k (the caller checks: the
// array's blocks must not move).
// A layer's mappings that the lowering lets the analytical model decide among (latency
// objective): the closed form's best ModelSpec::mapper_estimates (kShortlistDefault), within
// kShortlistSlack of its best's cycles.
// The closed form is within a few percent of the simulation on the library's layers, but
// leaves out most of the SRAM ports' contention, and on small weight-stationary arrays it is
// 30% optimistic: with four within 10% the 256 x 768 x 768 ternary GEMM of scripts/bench.sh
// (32 x 32 weight-stationary) kept a mapping simulating 319,667 cycles, with eight within 30%
// one simulating 261,477.
inline constexpr double kShortlistSlack = 1.30;
// The best `count` legal mappings by the same score, best first (empty if none is legal); each
// one's `candidates` counts every mapping scored. The lowering lets the analytical model decide
// among the closest of them (docs/architecture.md#mapper).
std::vector<LinearMapping> map_linear_shortlist(const LinearShape& s, const MapperContext& c,
                                                const MappingRequest& want, size_t count);

}  // namespace nmp::workloads
