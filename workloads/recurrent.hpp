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
// Example:
//   Lowered l = lower_recurrent(spec, data, hw);
//   auto refs = reference_recurrent(spec, data, l, hw);
#pragma once

#include "workloads/lowering.hpp"
#include "workloads/reference.hpp"

namespace nmp::workloads {

Lowered lower_recurrent(const ModelSpec& model, const ModelData& data, const hw::NmpParams& hw);

// refs[l].out: T x out_features patterns of the vector format; .fp32: the FP32 model.
std::vector<LayerReference> reference_recurrent(const ModelSpec& model, const ModelData& data,
                                                const Lowered& lowered, const hw::NmpParams& hw);

}  // namespace nmp::workloads
