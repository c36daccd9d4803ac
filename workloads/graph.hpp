// Graph models: layers of any kind wired by name, exchanging tensors through DRAM.
//
// Every tensor between layers (the model's input, each layer's output) sits in DRAM as rows of
// tokens, each of `width` elements of the vector unit's format (`vec`). A layer loads tiles of
// m_tile rows of its inputs into the activation SRAM, computes, and stores its output rows:
//
//   bitlinear, linear  quantize each row for the MAC array (integer kinds: a = absmax,
//                      x_q = int8(x 127 / a), factor a s_W / 127; other kinds: rounding to the
//                      activation format), gemm over weight tiles streamed through the two halves
//                      of the weight SRAM (double buffering), convert the accumulators to vec and
//                      (integer kinds) multiply by the factor;
//   rmsnorm            `rmsnorm` with the layer's gain (loaded once);
//   layernorm          `layernorm` with the layer's gain and bias (loaded once);
//   activation         `vfn` of the layer's function;
//   add, mul           `vbin` of its two inputs (a residual connection, a gated unit).
//
// The code loops: over m-tiles of rows, over the weight tiles' output blocks and, within one,
// over their reduction blocks (edge tiles follow their loop), so a program's size grows with
// the number of layers, not with the tensors' sizes.
//
// The exact reference repeats each layer's arithmetic in the vector unit's format with plain
// loops; the FP32 reference is each layer in double from the latent weights (BitLinear: the
// ternary weights x gamma) and the unquantized inputs, rounded to float.
//
// Example:
//   Lowered l = lower_graph(spec, &data, hw);   // data may be null: timing only, no DRAM image
#pragma once

#include <memory>

#include "workloads/linear_mapping.hpp"
#include "workloads/lowering.hpp"
#include "workloads/reference.hpp"

namespace nmp::workloads {

// `data` null: the program and layout only (the DRAM image stays empty). `costs` price the
// mapper's predicted energy (model.objective says what it minimizes). `dram`: hw.dram's rate
// and strided rows' rates measured already on the same DRAM (a sweep's, when no point changes
// the DRAM), which the lowering uses and adds to; null: measured here.
Lowered lower_graph(const ModelSpec& model, const ModelData* data, const hw::NmpParams& hw,
                    const MapperCosts& costs = {}, std::shared_ptr<hw::DramRowRate> dram = nullptr);

// Each layer's output: vec patterns (out) and FP32 values (fp32), tokens x width.
std::vector<LayerReference> reference_graph(const ModelSpec& model, const ModelData& data,
                                            const Lowered& lowered, const hw::NmpParams& hw);

}  // namespace nmp::workloads
