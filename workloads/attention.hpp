// Scaled dot-product attention on the machine: lowering and references.
//
// Tensors: queries Q (tokens x heads x d, a tensor of the graph), keys K and values V (kv_heads x
// positions x d, the cache, including the tokens' own entries: appended by the program from the
// layer's k and v inputs, or, for a layer reading q alone, part of the cache's data). Query head h
// reads key/value head h / (heads / kv_heads): multi-head when kv_heads = heads, grouped-query when
// fewer. K and V are the gemms' weight operands, kept in DRAM as the array reads them (K as an N =
// positions by K = d matrix, V transposed as N = d by K = positions), in the PE kind's format
// (int8: one scale per tensor).
//
// Per key/value head g: load K_g and V_g^T into the weight SRAM (once for all heads when
// kv_cache is "sram"); then per query head of the group and per tile of query rows:
//   1. DMA the rows of Q_h; quantize them (integer kinds: per row, a = absmax, q = int8(x 127/a),
//      factor a s_K / 127 / sqrt(d); others: act(x), factor 1 / sqrt(d) as a constant).
//   2. gemm S = Q K_g^T; convert to vec; multiply by the factor.
//   3. softmax over the valid positions (prefill: causal, row i sees positions <= context + i).
//   4. quantize P the same way (factor a_P s_V / 127, or none); gemm O = P V_g; convert; scale.
//   5. DMA O to the output rows of head h.
// The exact reference repeats this arithmetic with plain loops; the FP32 reference is
// softmax(Q K^T / sqrt(d)) V in double with the latent K and V.
//
// An attention layer is a layer of a graph model (workloads/graph.hpp), which places, writes and
// emits it with the functions below and checks it with reference_graph_attention.
#pragma once

#include "workloads/lowering.hpp"
#include "workloads/program_builder.hpp"
#include "workloads/reference.hpp"
#include "workloads/tiling.hpp"

namespace nmp::workloads {

// Attention inside a graph model (workloads/graph.hpp): Q, K and V are tensors in DRAM (tokens
// rows: heads x d, kv_heads x d, kv_heads x d). The caches' first `context` positions come
// from the layer's data (all of them when the layer reads q alone); the program converts the
// tokens' own keys and values to the array's format and writes them into the caches (one DMA per
// array block they touch, or a loop over positions where the block stores them apart), then runs
// the attention as above. An int8 cache keeps its per-tensor scales (static, as calibrated KV
// caches do): new keys and values are multiplied by 1 / s and rounded to int8, saturating.
struct GraphAttention {
  size_t index = 0;  // the layer's index, for errors
  uint64_t c_dram = 0;
  uint64_t inverse_scales_dram = 0;      // int8: 1 / s_K and 1 / s_V in vec
  std::vector<uint64_t> k_dram, v_dram;  // per key/value head, in the array's layout
  // A prefill transposing its appended cache columns by an identity gemm: the identity (d x d
  // in the activation format) and a chunk's rows in the gemm's weight layout.
  bool transpose_by_gemm = false;
  uint64_t identity_dram = 0, transpose_dram = 0;
};
GraphAttention place_graph_attention(const LayerSpec& l, size_t index, uint32_t tokens,
                                     const hw::NmpParams& hw, RegionAllocator& allocate);
void write_graph_attention(const GraphAttention& a, const LayerSpec& l, const LayerData& ld,
                           uint32_t tokens, const hw::NmpParams& hw, hw::ZeroPages& image);
// inputs: the DRAM addresses of q, k and v (q and a memory, or q alone); out: the output's.
// `append` false: the caches already hold what the layer appends (a step loop's later steps
// attending to a memory written at its first).
LayerPlan emit_graph_attention(ProgramBuilder& b, const GraphAttention& a, const LayerSpec& l,
                               uint32_t tokens, const std::vector<uint64_t>& inputs, uint64_t out,
                               const hw::NmpParams& hw, bool append = true);
// Exact and FP32 outputs from the inputs' exact (vec) and FP32 values.
LayerReference reference_graph_attention(const LayerSpec& l, uint32_t tokens,
                                         const std::vector<const std::vector<uint32_t>*>& exact,
                                         const std::vector<const std::vector<float>*>& fp32,
                                         const LayerData& ld, const hw::NmpParams& hw);

}  // namespace nmp::workloads
