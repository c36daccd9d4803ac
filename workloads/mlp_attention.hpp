// Additive ("MLP", Bahdanau) attention of a graph model's rows over a memory, in the vector
// unit.
//
// The layer's input is the projected query q' = W_q h (rows x A, from a linear layer of the
// graph); the memory's projected keys K' = W_m M (positions x A: computed once per memory, as
// decoders do, so not part of a step) and the memory M itself (positions x D, the output width)
// are its second and third inputs (an encoder's outputs in the same graph) or, reading q alone,
// its data, beside the score vector v (A). Per row, all in the vector unit's format `vec`:
//   1. E = K' + q' (every key row plus the query row), then tanh of every element;
//   2. E = E * v (every row times v), scores e_s = sum of row s (lane order);
//   3. p = softmax(e) over the positions;
//   4. W = M * p (row s times p_s); the rows summed by halving: while n > 1 rows remain, rows
//      [0, n/2) += rows [n - n/2, n), n -= n/2; row 0 is the context, the output row.
// K', M and v stay in the activation SRAM for all rows; one row at a time runs through a loop.
// The exact reference repeats these operations in this order; the FP32 reference is
// sum_s softmax_s(v . tanh(K'_s + q')) M_s in double from the latent values.
//
// Example:
//   MlpAttention a = place_mlp_attention(l, index, hw, allocate);
//   write_mlp_attention(a, l, ld, hw, image);
//   emit_mlp_attention(b, a, l, rows, {q_dram}, out_dram, hw);
#pragma once

#include "workloads/lowering.hpp"
#include "workloads/program_builder.hpp"
#include "workloads/reference.hpp"
#include "workloads/tiling.hpp"

namespace nmp::workloads {

struct MlpAttention {
  uint64_t keys_dram = 0, memory_dram = 0, v_dram = 0;  // vec, rows packed
  // Activation SRAM (byte addresses) and row strides.
  uint64_t keys = 0, memory = 0, v = 0, q = 0, scratch = 0, scores = 0;
  uint64_t key_row = 0, memory_row = 0, scratch_row = 0;
};

// A LoweringError (naming layer `index`) when the SRAM cannot hold the memory and a row's work.
MlpAttention place_mlp_attention(const LayerSpec& l, size_t index, const hw::NmpParams& hw,
                                 RegionAllocator& allocate);
void write_mlp_attention(const MlpAttention& a, const LayerSpec& l, const LayerData& ld,
                         const hw::NmpParams& hw, hw::ZeroPages& image);
// The layer's code over `rows` query rows at inputs[0] (and the memory's keys and values at
// inputs[1] and [2], if from the graph), writing rows of D at out.
void emit_mlp_attention(ProgramBuilder& b, const MlpAttention& a, const LayerSpec& l, uint32_t rows,
                        const std::vector<uint64_t>& inputs, uint64_t out, const hw::NmpParams& hw);
// The reference from the exact and FP32 values of the layer's inputs (q, and keys and values
// if the memory comes from the graph).
LayerReference reference_mlp_attention(const LayerSpec& l, uint32_t rows,
                                       const std::vector<const std::vector<uint32_t>*>& exact,
                                       const std::vector<const std::vector<float>*>& fp32,
                                       const LayerData& ld, const hw::NmpParams& hw);

}  // namespace nmp::workloads
