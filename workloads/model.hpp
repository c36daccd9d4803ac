// A workload: a model as a sequence of layers with shapes and data sources, and the tensors
// generated from it. Parsed from JSON by sim/; plain structs here.
//
// Layer kinds:
//   bitlinear  y = x W^T (+ b) with W ternarized per tensor (absmean) and x int8 per token
//              (absmax), y dequantized in the vector unit. Runs on ternary_int8 PEs.
//   linear     the same product with weights and activations in one number format: int8
//              (weights int8 per tensor, activations int8 per token), or fp16, bf16, fp8_e4m3,
//              fp8_e5m2, posit8_0, posit16_1, ... (values rounded to the format). Runs on the
//              PE kind of its format.
//   lstm, gru  a recurrent layer over the tokens as timesteps of one sequence (workloads/
//              recurrent.hpp): gate pre-activations W x_t + U h_(t-1) (+ biases) on the MAC
//              array in the layer's format, the cell in the vector unit's format; optionally
//              bidirectional.
//   attention  scaled dot-product attention of the tokens' queries over a KV cache, multi-head
//              or grouped-query (workloads/attention.hpp): reading q, k and v, it appends the
//              tokens' keys and values to the cache first; reading q alone, the cache holds them.
// Every model is a graph (workloads/graph.hpp): each layer reads the layers its `inputs` name
// (by default the previous layer's output) from DRAM, in the hardware's activation format.
//
// Example:
//   ModelSpec m;
//   m.inputs[0].rows = 1;
//   m.layers.push_back({LayerKind::kBitLinear, "up", 2560, 6912});
//   ModelData d = generate(m);
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "hw_models/arith/intquant.hpp"
#include "hw_models/arith/ternary.hpp"
#include "hw_models/arith/vector_math.hpp"
#include "hw_models/pe.hpp"

namespace nmp::workloads {

enum class Distribution : uint8_t { kNormal, kUniform };
inline constexpr size_t kNumDistributions = 2;
const char* to_string(Distribution d);  // normal, uniform

// Where a tensor's float32 values come from: a seeded distribution, or values sim/ read from a
// .npy or safetensors file (row-major, in the tensor's shape).
struct TensorSource {
  Distribution distribution = Distribution::kNormal;
  double mean = 0.0;  // normal
  double std = 1.0;   // normal
  double low = -1.0;  // uniform
  double high = 1.0;  // uniform
  uint64_t seed = 1;
  std::shared_ptr<const std::vector<float>> values;  // from a file, when set (see generate)
  // bitlinear weights from a file: already ternary (-1, 0, +1), with `scale` as gamma, rather
  // than latent weights quantized on load.
  bool prequantized = false;
  float scale = 1.0f;
};

// decode: one query per token over the whole cache; prefill: causal; cross: every query over a
// memory held in the cache (encoder-decoder attention); encoder: every query over the context and
// every token, unmasked (a bidirectional encoder's self-attention, as BERT's).
enum class AttentionMode : uint8_t { kDecode, kPrefill, kCross, kEncoder };
inline constexpr size_t kNumAttentionModes = 4;
const char* to_string(AttentionMode m);

// The loop order of a linear layer of a graph model (workloads/linear_mapping.hpp): chosen by
// the mapper (auto), or forced.
//   rows_outer     each tile of rows streams every weight tile (weights read once per tile of
//                  rows; the input rows read once);
//   weights_outer  the rows are quantized once into DRAM, then each block of outputs keeps the
//                  accumulators of every row on chip while its weight tiles stream once and the
//                  quantized rows stream once per block.
enum class LoopOrder : uint8_t { kAuto, kRowsOuter, kWeightsOuter };
inline constexpr size_t kNumLoopOrders = 3;
const char* to_string(LoopOrder o);

// What the mapper minimizes for each linear layer (linear_mapping.hpp): predicted cycles,
// predicted energy, or their product.
enum class MappingObjective : uint8_t { kLatency, kEnergy, kEdp };
inline constexpr size_t kNumMappingObjectives = 3;
const char* to_string(MappingObjective o);
// The analytical model's shortlist of a linear layer's mappings by default (ModelSpec).
inline constexpr uint32_t kShortlistDefault = 8;

// When weights_outer converts and stores an output block (linear_mapping.hpp): as the block
// completes, before the next block's tiles (inline), or under the next block's first gemm, its
// accumulators in the other of two buffers (overlapped); auto: the mapper's choice.
enum class Epilogue : uint8_t { kAuto, kInline, kOverlapped };
inline constexpr size_t kNumEpilogues = 3;
const char* to_string(Epilogue e);
// How weights_outer's gemm pass gets its rows in the array's activation format: a quantize
// pass writes them to a DRAM scratch that each output block streams (pass), or the DMA
// converts the layer's input rows as it streams them (dma: kinds whose quantization is one
// rounding, where every value of DRAM's activation format is exact in the vector format, so
// that the values are the pass's).
enum class RowConversion : uint8_t { kAuto, kPass, kDma };
inline constexpr size_t kNumRowConversions = 3;
const char* to_string(RowConversion c);
// Whether weights_outer keeps its rows' slices in the activation SRAM across a super tile's
// output blocks (linear_mapping.hpp): every block streams every tile's slice (streamed), or
// the super tile's first block loads the first reduction tiles' slices into places of their
// own, as many as fit, where the later blocks' gemms find them without a load (resident; the
// rest stream); auto: the mapper's choice.
enum class InputResidency : uint8_t { kAuto, kStreamed, kResident };
inline constexpr size_t kNumInputResidencies = 3;
const char* to_string(InputResidency r);

// Whether an element-wise layer (activation, add, mul) or a rope runs inside the epilogue of
// the weights_outer linear layer producing one of its inputs, so that layer's output never
// crosses DRAM (docs/architecture.md#fusion): auto where that is legal, no (its own pass), or
// yes (an error where it is not legal).
enum class Fusion : uint8_t { kAuto, kNo, kYes };
inline constexpr size_t kNumFusions = 3;
const char* to_string(Fusion f);

// How a linear layer of a graph model asks to be mapped: its loop_order field, or a --mapping
// file's entry (which may also fix the tiles). 0 leaves a size to the mapper.
struct MappingRequest {
  LoopOrder order = LoopOrder::kAuto;
  uint32_t n_tile = 0;  // outputs per block
  uint32_t k_tile = 0;  // inputs per reduction tile
  uint32_t rows = 0;    // rows per tile (rows_outer) or per super tile (weights_outer)
  Epilogue epilogue = Epilogue::kAuto;                     // weights_outer
  RowConversion row_conversion = RowConversion::kAuto;     // weights_outer
  InputResidency input_residency = InputResidency::kAuto;  // weights_outer
  uint32_t buffer_sets = 0;  // vector layers: 1 (tiles in turn) or 2 (pipelined); 0: the mapper's
  Fusion fuse = Fusion::kAuto;  // element-wise layers
  bool from_file = false;
  bool forces_tiles() const { return n_tile || k_tile || rows || forces_weights_outer(); }
  // What only weights_outer has: its epilogue, row conversion or input residency.
  bool forces_weights_outer() const {
    return epilogue != Epilogue::kAuto || row_conversion != RowConversion::kAuto ||
           input_residency != InputResidency::kAuto;
  }
};

enum class LayerKind : uint8_t {
  kBitLinear,
  kLinear,
  kLstm,
  kGru,
  kAttention,
  kRmsNorm,       // the vector unit only (workloads/graph.hpp), as are the kinds below
  kLayerNorm,     // (x - mean) / sqrt(variance + eps) * gain + bias
  kActivation,    // a vector function of each element
  kAdd,           // two inputs, element by element (a residual connection)
  kMul,           // two inputs, element by element (a gated unit)
  kEmbedding,     // the rows of a vocab x out_features table a model input's token ids pick
  kPool,          // max or mean over `stride` consecutive rows: downsampling in time
  kMlpAttention,  // additive attention over a memory (workloads/mlp_attention.hpp)
  kRope,          // rotary position embedding of each head (workloads/graph.hpp)
  kConcat,        // two inputs' rows side by side (an input-fed decoder's [embedding; state])
};

// What a layer kind is beside its enumerator: its workload `type` and where it runs. The table
// is in enum order (checked below); the names come from it.
// How a kind's work divides over rows: not at all (the MAC array's kinds, recurrences,
// attention over a memory), by rows (each output row from its own input rows: a vector layer,
// whose mapping is its rows per tile and its sets of buffers), or by elements (a vector layer
// whose rows may also run as several shorter ones).
enum class RowWork : uint8_t { kNone, kRows, kElements };

struct LayerKindInfo {
  LayerKind kind;
  const char* name;     // the layer `type` of a workload
  bool uses_mac_array;  // runs (partly) on the MAC array; the others on the vector unit and DMA
  bool recurrent;       // a recurrence over timesteps (workloads/recurrent.hpp)
  RowWork row_work;
  uint8_t inputs;  // the inputs it reads (attention reads several ways: sim/config.cpp)
};

// clang-format off
inline constexpr LayerKindInfo kLayerKinds[] = {
  {LayerKind::kBitLinear,    "bitlinear",     true,  false, RowWork::kNone,     1},
  {LayerKind::kLinear,       "linear",        true,  false, RowWork::kNone,     1},
  {LayerKind::kLstm,         "lstm",          true,  true,  RowWork::kNone,     1},
  {LayerKind::kGru,          "gru",           true,  true,  RowWork::kNone,     1},
  {LayerKind::kAttention,    "attention",     true,  false, RowWork::kNone,     1},
  {LayerKind::kRmsNorm,      "rmsnorm",       false, false, RowWork::kRows,     1},
  {LayerKind::kLayerNorm,    "layernorm",     false, false, RowWork::kRows,     1},
  {LayerKind::kActivation,   "activation",    false, false, RowWork::kElements, 1},
  {LayerKind::kAdd,          "add",           false, false, RowWork::kElements, 2},
  {LayerKind::kMul,          "mul",           false, false, RowWork::kElements, 2},
  {LayerKind::kEmbedding,    "embedding",     false, false, RowWork::kRows,     1},
  {LayerKind::kPool,         "pool",          false, false, RowWork::kRows,     1},
  {LayerKind::kMlpAttention, "mlp_attention", false, false, RowWork::kNone,     1},
  {LayerKind::kRope,         "rope",          false, false, RowWork::kRows,     1},
  {LayerKind::kConcat,       "concat",        false, false, RowWork::kRows,     2},
};
// clang-format on

inline constexpr size_t kNumLayerKinds = std::size(kLayerKinds);

constexpr bool layer_table_in_enum_order() {
  size_t i = 0;
  for (const LayerKindInfo& info : kLayerKinds) {
    if (static_cast<size_t>(info.kind) != i++) return false;
  }
  return static_cast<size_t>(LayerKind::kConcat) + 1 == kNumLayerKinds;
}
static_assert(layer_table_in_enum_order(), "kLayerKinds: one row per LayerKind, in enum order");

constexpr const LayerKindInfo& layer_kind_info(LayerKind k) {
  return kLayerKinds[static_cast<size_t>(k)];
}
inline const char* to_string(LayerKind k) { return layer_kind_info(k).name; }
inline bool is_recurrent(LayerKind k) { return layer_kind_info(k).recurrent; }
inline bool uses_mac_array(LayerKind k) { return layer_kind_info(k).uses_mac_array; }
inline bool is_vector_layer(LayerKind k) { return layer_kind_info(k).row_work != RowWork::kNone; }
inline bool is_elementwise(LayerKind k) {
  return layer_kind_info(k).row_work == RowWork::kElements;
}
// The kinds a weights_outer linear layer's epilogue may run (Fusion): element-wise layers, and
// rope, each of whose output rows depends on that row alone.
inline bool may_fuse(LayerKind k) { return is_elementwise(k) || k == LayerKind::kRope; }

// The workload JSON's names, in enum order (the layer `type`, the attention `mode`).
const std::vector<std::string>& layer_kind_names();
const std::vector<std::string>& attention_mode_names();

struct LayerSpec {
  LayerKind kind = LayerKind::kBitLinear;
  std::string name;
  uint32_t in_features = 0;
  uint32_t out_features = 0;  // recurrent: hidden x directions
  // Recurrent: direction d's W and U from the streams derive_seed(seed, "W" or "U", d) (a file:
  // W, U of direction 0, then of direction 1). Attention: the K and V caches from the streams
  // "K" and "V" (a file: K, V).
  TensorSource weights;
  hw::PeKind pe = hw::PeKind::kTernaryInt8;  // the PE kind its arithmetic needs
  // Recurrent layers (tokens are timesteps of one sequence).
  uint32_t hidden = 0;
  bool bidirectional = false;
  TensorSource biases;     // direction d: streams "b_ih" and "b_hh", index d (a file:
                           // in that order); layernorm, and linear layers with has_bias: the bias
  bool has_bias = false;   // bitlinear, linear in a graph model: y = x W^T + b
  MappingRequest mapping;  // bitlinear, linear in a graph model
  // Attention (workloads/attention.hpp): tokens are the queries.
  uint32_t heads = 0, kv_heads = 0, head_dim = 0;
  AttentionMode mode = AttentionMode::kDecode;
  uint32_t context = 0;     // keys and values cached before the tokens; mlp_attention: memory
  bool kv_in_sram = false;  // the whole KV cache loaded into the weight SRAM once
  bool scaled = true;       // scores x 1 / sqrt(head_dim) (Luong's "general" score: not)
  bool shared_kv = false;   // the values are the keys (one memory, as in Luong's attention)
  // Key positions: decode, the context and the token (one token); prefill, the context and
  // every token, query i at position context + i seeing positions <= context + i; encoder, the
  // same positions, each query seeing all of them; cross, the context (the memory).
  uint32_t positions(uint32_t tokens) const {
    return context + (mode == AttentionMode::kDecode  ? 1
                      : mode == AttentionMode::kCross ? 0
                                                      : tokens);
  }
  bool causal() const { return mode == AttentionMode::kPrefill; }
  // Attention reading q, k and v: the program writes the tokens' keys and values into the cache
  // after the context. Cross attention reading q and a memory (or q, k and v): it writes the
  // memory's rows into the cache as its `context` positions. Reading q alone, the cache is all
  // data.
  bool appends_kv() const { return kind == LayerKind::kAttention && inputs.size() >= 2; }
  // The positions the program writes into the cache, and the first of them.
  uint32_t appended_positions(uint32_t tokens) const {
    return !appends_kv() ? 0 : mode == AttentionMode::kCross ? context : tokens;
  }
  uint32_t first_appended() const { return mode == AttentionMode::kCross ? 0 : context; }
  // Whether its memory comes from the graph (mlp_attention reading q, keys and values), not
  // from its data.
  bool memory_from_graph() const { return kind == LayerKind::kMlpAttention && inputs.size() == 3; }
  // Graph models: what this layer reads: earlier layers (by index) or model inputs
  // (model_input_ref).
  std::vector<int32_t> inputs;
  // Parallel to inputs (or empty): 1 where the input is a step loop's carried tensor, its
  // layer's output at the previous step (zeros at step 0; the layer may come later in the loop).
  std::vector<uint8_t> carried;
  bool carried_input(size_t j) const { return j < carried.size() && carried[j] != 0; }
  // Input j of attention over a memory (cross attention, mlp_attention) after q: all of the
  // memory's rows are read whatever rows the layer computes.
  bool memory_input(size_t j) const {
    return j > 0 && ((kind == LayerKind::kAttention && mode == AttentionMode::kCross) ||
                     kind == LayerKind::kMlpAttention);
  }
  arith::VectorFunction function = arith::VectorFunction::kSilu;  // activation
  uint32_t eps_log2 = 20;       // rmsnorm, layernorm: eps = 2^-eps_log2
  uint32_t vocab = 0;           // embedding: rows of the table
  uint32_t stride = 0;          // pool: rows per output row (a remainder is dropped)
  double rope_theta = 10000.0;  // rope: the base of the rotation frequencies (heads, context)
  bool pool_max = true;         // pool: max, else mean
  // Graph models: the rows of the layer's output (0: the model's tokens). Every layer keeps its
  // input's rows but pool, which divides them by its stride.
  uint32_t rows = 0;
  bool uses_mac_array() const { return workloads::uses_mac_array(kind); }
  uint32_t gates() const { return kind == LayerKind::kLstm ? 4 : 3; }
  uint32_t directions() const { return bidirectional ? 2 : 1; }
};

// A model input: rows of activations as wide as its readers take, or token ids (an embedding
// reads them). Input 0 is the one layer 0 reads by default; the others are named by the layers
// that read them (an encoder's frames and a decoder's characters, say).
struct ModelInput {
  std::string name = "input";
  uint32_t rows = 1;
  TensorSource source;
};

// A layer's input reference names an earlier layer (its index) or model input i (-1 - i).
constexpr int32_t model_input_ref(size_t i) { return -1 - static_cast<int32_t>(i); }
constexpr size_t model_input_index(int32_t ref) { return static_cast<size_t>(-1 - ref); }

// The width layer `l` reads at its input j: q and a memory of attention, keys and values of
// mlp_attention, or in_features (an embedding: 1, a token id).
uint32_t input_width(const LayerSpec& l, size_t j);

// A graph (workloads/graph.hpp): layers of any kind wired by their `inputs`, exchanging tensors
// through DRAM in the hardware's dram.activation_format.
struct ModelSpec {
  std::string name;
  std::vector<ModelInput> inputs = {ModelInput{}};
  std::vector<LayerSpec> layers;
  MappingObjective objective = MappingObjective::kLatency;  // the mapper's, for linear layers
  // Latency objective: how many of the closed form's best mappings of each linear layer the
  // analytical model estimates to choose among (linear_mapping.hpp; 1: the closed form's).
  uint32_t mapper_estimates = kShortlistDefault;
  // A step loop: layers [loop_begin, loop_end) run one row per step, every layer of the loop
  // at step t before any at t + 1 (an input-fed decoder); empty when equal.
  uint32_t loop_begin = 0, loop_end = 0;
  bool in_step_loop(size_t layer) const { return layer >= loop_begin && layer < loop_end; }
  uint32_t tokens() const { return inputs.front().rows; }
  // The rows of a tensor: model input (ref < 0) or layer `ref`'s output.
  uint32_t rows_of(int32_t ref) const {
    if (ref < 0) return inputs[model_input_index(ref)].rows;
    const uint32_t r = layers[static_cast<size_t>(ref)].rows;
    return r ? r : tokens();
  }
  // Model input i's first reader and where it reads it: its width (input_width), and whether
  // it holds token ids (an embedding's). Null when no layer reads it.
  struct Reader {
    const LayerSpec* layer = nullptr;
    size_t slot = 0;
  };
  Reader first_reader(size_t input) const;
  uint32_t input_width(size_t input) const;
  // The elements of a row of a tensor: layer `ref`'s output or a model input (token ids: 1).
  uint32_t width_of(int32_t ref) const {
    return ref >= 0 ? layers[static_cast<size_t>(ref)].out_features
                    : input_width(model_input_index(ref));
  }
  bool token_input(size_t input) const;
  hw::PeKind pe() const {
    for (const LayerSpec& l : layers) {
      if (l.uses_mac_array()) return l.pe;
    }
    return layers.front().pe;
  }
};

// A tensor in a PE kind's activation or weight encoding.
struct Encoded {
  std::vector<uint32_t> patterns;  // int8 values (two's complement) or format patterns
  std::vector<float> scale;        // int8: per row (activations) or per tensor (weights)
};

// A recurrent matrix: latent float weights and their encoding for the gate gemms (ternary:
// trits as int8 with scale = gamma; int8: per-tensor step; float and posit kinds: patterns,
// scale 1).
struct RecurrentMatrix {
  std::vector<float> latent;  // rows x cols
  Encoded encoded;
};

// One direction of a recurrent layer: W (gates x H by inputs), U (gates x H by H), biases.
struct RecurrentDirection {
  RecurrentMatrix w, u;
  std::vector<float> b_ih, b_hh;  // gates x H
};

struct LayerData {
  std::vector<float> weights;    // out x in, latent (before quantization); norms: gain
  std::vector<float> bias;       // layernorm; linear layers with a bias
  arith::TernaryTensor ternary;  // bitlinear
  Encoded encoded;               // linear: the weights in the layer's format
  std::vector<RecurrentDirection> directions;  // lstm, gru
  RecurrentMatrix keys, values;                // attention: kv_heads x positions x head_dim
};

struct ModelData {
  std::vector<std::vector<float>> inputs;  // per model input: rows x width (or the token ids)
  std::vector<LayerData> layers;
};

// `count` values; from a file, those from element `offset` on (a layer's tensors read one after
// another, e.g. an attention layer's K and V caches).
std::vector<float> generate_tensor(const TensorSource& source, size_t count, size_t offset = 0);
// Token ids of model input `input` (read by an embedding): its source's values (uniform in
// [0, vocab) by default) floored and clamped to the vocabulary.
std::vector<uint32_t> token_ids(const ModelSpec& model, size_t input);
ModelData generate(const ModelSpec& model);
// The elements generate() draws (inputs, weights, biases, caches, tables), known before any is
// drawn: what a run with values holds in memory follows from it.
uint64_t tensor_elements(const ModelSpec& model);

// The value of one encoded element (int kinds: the integer; others: the format's value).
double element_value(hw::PeKind kind, uint32_t pattern);
// Rounds a value into the kind's activation format (float and posit kinds).
uint32_t encode_element(hw::PeKind kind, double value);

// The scale of one weight step of a bitlinear or linear layer (gamma, or the int8 step; 1 for
// the other formats). The weights themselves, as the array reads them: a bitlinear layer's
// trits as two's-complement int8, a linear layer's encoded patterns.
double weight_scale(const LayerSpec& l, const LayerData& ld);

// Values rounded to the vector unit's format (how tensors sit in DRAM between layers).
std::vector<uint32_t> to_vector_format(const arith::VectorMath& vm, const std::vector<float>& x);

// What absmean ternarization makes of a seeded distribution's weights, in closed form (the
// expectation over seeds): gamma = max(E|w|, the floor) as a float (normal: E|w| = sigma
// sqrt(2/pi) e^(-mu^2/2sigma^2) + mu (1 - 2 Phi(-mu/sigma)); uniform: the integral of |w| over
// [low, high] over its width), and the probabilities of each trit: -1 below -gamma / 2, +1
// above gamma / 2, 0 between. Bitlinear layers with seeded weights draw their trits from it
// directly (docs/configs.md#seeds); `weights` must be a distribution, not values.
struct TernaryLaw {
  float gamma = 0;
  double minus = 0, zero = 0, plus = 0;
};
TernaryLaw ternary_law(const TensorSource& weights);

// The fraction of a bitlinear layer's weights that are zero: counted from the values of a
// file, or ternary_law()'s. Timing-only runs of graph models, which draw no weights, estimate
// zero-weight skips with it.
double ternary_zero_fraction(const TensorSource& weights);

// A bitlinear layer's `count` seeded weights, drawn as trits with ternary_law()'s
// probabilities (each from 32 random bits of the source's stream) and its gamma.
arith::TernaryTensor draw_ternary(const TensorSource& weights, size_t count);

// Weights in the encoding of a PE kind (see RecurrentMatrix).
Encoded encode_weights(hw::PeKind pe, const std::vector<float>& w);

}  // namespace nmp::workloads
