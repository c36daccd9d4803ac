// Recurrent layers (LSTM, GRU) on the machine: lowering to a program and the references.
//
// A layer runs direction by direction (forward, then backward for a bidirectional layer) over
// the T timesteps of one sequence. Per timestep t, with all vectors in the vector unit's
// internal format `vec` (docs/isa.md):
//   1. DMA x_t into the activation SRAM.
//   2. Quantize it for the MAC array: integer kinds a = absmax(x), x_q = int8(x * (127 / a)),
//      and the gemm's dequantization factor f_x = a * (s_W / 127); other kinds x_q = act(x).
//   3. gemm W x_q and U h_q (h_q: step t-1's h, quantized the same way) into two accumulator
//      rows; each converted to vec and, for integer kinds, multiplied by its factor.
//   4. LSTM: gates = (W x + U h) + b, b = b_ih + b_hh rounded once to vec; lstm.cell updates c
//      and writes h. GRU: gx = W x + b_ih, gh = U h + b_hh; gru.cell updates h.
//   5. DMA h_t out to the layer's output (row t: [forward | backward]); quantize h into h_q.
// h and c start at 0. The steps run in a counted hardware loop (dbnz). Weights stay in the
// weight SRAM across timesteps when W and U fit it together ("resident"); otherwise every
// timestep streams them through the two halves of the weight SRAM, which is what makes weight
// storage the bottleneck of an LSTM engine with small buffers.
//
// The references: the exact model (the same arithmetic written as plain loops: products summed
// as the MAC array does, then VectorMath operations in the order above), which the simulated
// outputs must equal bit for bit; and an FP32 model (the latent weights, float gates with exact
// sigmoid and tanh), for the numerical error.
//
// A recurrent layer is a layer of a graph model (workloads/graph.hpp), which places, writes and
// emits it with the functions below and checks it with reference_recurrent_layer.
#pragma once

#include "workloads/lowering.hpp"
#include "workloads/program_builder.hpp"
#include "workloads/reference.hpp"
#include "workloads/tiling.hpp"

namespace nmp::workloads {

// One recurrent layer's place in DRAM and on chip; x and y are tensors of the graph.
struct RecurrentLayout {
  struct Matrix {  // W or U of one direction: its tiles in DRAM
    uint32_t n = 0, k = 0;
    WeightTiling tiling;
    std::vector<WeightTile> tiles;
    uint64_t sram = 0;  // resident: its one tile's weight SRAM address
  };
  struct Act {  // activation SRAM regions (byte addresses)
    uint64_t xv, xs, xq, hq, h, c, gx, gh, bias, consts, end;
  };
  Act act{};
  bool resident = false;
  std::vector<Matrix> w, u;  // per direction
  std::vector<uint64_t> bias_dram, const_dram;
  uint64_t zero_dram = 0;  // zeros for h, c, h_q and f_h at the start of each direction
};
// A LoweringError (naming layer `index`) when the SRAMs cannot hold a step.
RecurrentLayout place_recurrent(const LayerSpec& l, size_t index, const hw::NmpParams& hw,
                                RegionAllocator& allocate);
// The layer's plan for reports (x_dram and y_dram left to the caller).
LayerPlan recurrent_plan(const LayerSpec& l, const RecurrentLayout& lay, uint32_t tokens);
void write_recurrent(const RecurrentLayout& lay, const LayerSpec& l, const LayerData& ld,
                     const hw::NmpParams& hw, hw::ZeroPages& image);
// The layer's code over `tokens` timesteps, reading rows of x and writing rows of y, stored
// as `storage` says.
void emit_recurrent(ProgramBuilder& b, const RecurrentLayout& lay, const LayerSpec& l,
                    uint32_t tokens, uint64_t x, uint64_t y, const TensorStorage& storage,
                    const hw::NmpParams& hw);
// Exact and FP32 outputs of one layer from its input's exact (vec) and FP32 values.
LayerReference reference_recurrent_layer(const LayerSpec& l, uint32_t tokens,
                                         const std::vector<uint32_t>& x,
                                         const std::vector<float>& x_fp32, const LayerData& ld,
                                         const LayerPlan& plan, const hw::NmpParams& hw);

}  // namespace nmp::workloads
