#include "workloads/model.hpp"

#include <algorithm>
#include <cmath>

#include "hw_models/kernels.hpp"
#include "workloads/layer_fields.hpp"
#include "workloads/random.hpp"

namespace nmp::workloads {

const std::vector<std::string>& layer_kind_names() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const LayerKindInfo& info : kLayerKinds) names.emplace_back(info.name);
    return names;
  }();
  return kNames;
}

const char* to_string(LoopOrder o) {
  switch (o) {
    case LoopOrder::kAuto:
      return "auto";
    case LoopOrder::kRowsOuter:
      return "rows_outer";
    case LoopOrder::kWeightsOuter:
      return "weights_outer";
  }
  return "?";
}

const char* to_string(MappingObjective o) {
  switch (o) {
    case MappingObjective::kLatency:
      return "latency";
    case MappingObjective::kEnergy:
      return "energy";
    case MappingObjective::kEdp:
      return "edp";
  }
  return "?";
}

const char* to_string(Epilogue e) {
  switch (e) {
    case Epilogue::kAuto:
      return "auto";
    case Epilogue::kInline:
      return "inline";
    case Epilogue::kOverlapped:
      return "overlapped";
  }
  return "?";
}

const char* to_string(RowConversion c) {
  switch (c) {
    case RowConversion::kAuto:
      return "auto";
    case RowConversion::kPass:
      return "pass";
    case RowConversion::kDma:
      return "dma";
  }
  return "?";
}

const char* to_string(InputResidency r) {
  switch (r) {
    case InputResidency::kAuto:
      return "auto";
    case InputResidency::kStreamed:
      return "streamed";
    case InputResidency::kResident:
      return "resident";
  }
  return "?";
}

const char* to_string(Fusion f) {
  switch (f) {
    case Fusion::kAuto:
      return "auto";
    case Fusion::kNo:
      return "no";
    case Fusion::kYes:
      return "yes";
  }
  return "?";
}

const char* to_string(Distribution d) { return d == Distribution::kNormal ? "normal" : "uniform"; }

const char* to_string(AttentionMode m) {
  switch (m) {
    case AttentionMode::kDecode:
      return "decode";
    case AttentionMode::kPrefill:
      return "prefill";
    case AttentionMode::kCross:
      return "cross";
    case AttentionMode::kEncoder:
      return "encoder";
  }
  return "?";
}

const std::vector<std::string>& attention_mode_names() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (size_t i = 0; i < kNumAttentionModes; ++i)
      names.emplace_back(to_string(static_cast<AttentionMode>(i)));
    return names;
  }();
  return kNames;
}

double element_value(hw::PeKind kind, uint32_t pattern) {
  if (hw::is_integer(kind)) return static_cast<int8_t>(pattern);
  return arith::to_double(hw::activation_format(kind).decode(pattern));
}

uint32_t encode_element(hw::PeKind kind, double value) {
  if (hw::is_integer(kind)) return 0;
  return hw::activation_format(kind).encode(arith::from_double(value));
}

double weight_scale(const LayerSpec& l, const LayerData& ld) {
  return l.kind == LayerKind::kBitLinear ? ld.ternary.gamma[0] : ld.encoded.scale[0];
}

std::vector<float> generate_tensor(const TensorSource& source, size_t count, size_t offset) {
  if (source.values) {  // sim/ checked the file's shape
    const auto begin = source.values->begin() + static_cast<std::ptrdiff_t>(offset);
    return {begin, begin + static_cast<std::ptrdiff_t>(count)};
  }
  Rng rng(source.seed);
  // Drawn a chunk at a time into a buffer and appended: a vector sized up front would be
  // cleared first, a pass over fresh memory as long as the drawing itself (the stream is the
  // same: fill_normal leaves the generator where as many normal() calls would).
  constexpr size_t kChunk = 1024;
  float chunk[kChunk];
  std::vector<float> out;
  out.reserve(count);
  for (size_t done = 0; done < count; done += kChunk) {
    const size_t n = std::min(kChunk, count - done);
    if (source.distribution == Distribution::kNormal) {
      rng.fill_normal(chunk, n, source.mean, source.std);
    } else {
      for (size_t i = 0; i < n; ++i)
        chunk[i] = static_cast<float>(source.low + (source.high - source.low) * rng.uniform());
    }
    out.insert(out.end(), chunk, chunk + n);
  }
  return out;
}

std::vector<uint32_t> to_vector_format(const arith::VectorMath& vm, const std::vector<float>& x) {
  std::vector<uint32_t> out;
  out.reserve(x.size());
  for (float v : x) out.push_back(vm.from_double(v));
  return out;
}

namespace {

// P(w < x) of a seeded distribution (a normal of zero std: all of it at the mean).
double distribution_below(const TensorSource& w, double x) {
  if (w.distribution == Distribution::kNormal) {
    if (w.std == 0) return w.mean < x ? 1.0 : 0.0;
    return 0.5 * std::erfc(-(x - w.mean) / (w.std * std::sqrt(2.0)));
  }
  return std::min(1.0, std::max(0.0, (x - w.low) / (w.high - w.low)));
}

// E|w| of a seeded distribution.
double distribution_mean_abs(const TensorSource& w) {
  if (w.distribution == Distribution::kNormal) {
    const double mu = w.mean, sigma = w.std;
    if (sigma == 0) return std::fabs(mu);
    return sigma * std::sqrt(2 / M_PI) * std::exp(-mu * mu / (2 * sigma * sigma)) +
           mu * (1 - 2 * distribution_below(w, 0));
  }
  const double a = w.low, b = w.high;
  const double abs_integral = a >= 0   ? (b * b - a * a) / 2
                              : b <= 0 ? (a * a - b * b) / 2
                                       : (a * a + b * b) / 2;
  return abs_integral / (b - a);
}

}  // namespace

TernaryLaw ternary_law(const TensorSource& w) {
  TernaryLaw law;
  law.gamma = std::max(static_cast<float>(distribution_mean_abs(w)), arith::kGammaFloor);
  // +-1 beyond gamma / 2 (w / gamma rounds half to even, so exactly 0.5 is 0: the bound
  // itself has probability zero).
  const double half = double{law.gamma} / 2;
  law.minus = distribution_below(w, -half);
  law.plus = 1 - distribution_below(w, half);
  law.zero = 1 - law.minus - law.plus;
  return law;
}

double ternary_zero_fraction(const TensorSource& w) {
  if (!w.values) return ternary_law(w).zero;
  const std::vector<float>& v = *w.values;
  if (v.empty()) return 0;
  if (w.prequantized) return static_cast<double>(std::count(v.begin(), v.end(), 0.0f)) / v.size();
  const arith::TernaryTensor t = arith::quantize_absmean(v.data(), v.size());
  return static_cast<double>(std::count(t.trits.begin(), t.trits.end(), 0)) / v.size();
}

arith::TernaryTensor draw_ternary(const TensorSource& w, size_t count) {
  const TernaryLaw law = ternary_law(w);
  const auto threshold = [](double p) {
    return static_cast<uint64_t>(std::llround(std::min(1.0, std::max(0.0, p)) * 0x1.0p32));
  };
  arith::TernaryTensor t;
  t.gamma = {law.gamma};
  t.trits.resize(count);
  Rng rng(w.seed);
  rng.fill_trits(t.trits.data(), count, threshold(law.minus), threshold(law.minus + law.zero));
  return t;
}

Encoded encode_weights(hw::PeKind pe, const std::vector<float>& w) {
  Encoded e;
  if (pe == hw::PeKind::kTernaryInt8) {
    const arith::TernaryTensor t = arith::quantize_absmean(w.data(), w.size());
    e.patterns.assign(t.trits.begin(), t.trits.end());  // sign-extended: -1 is 0xffffffff
    e.scale = t.gamma;
  } else if (pe == hw::PeKind::kInt8Int8) {  // quantize_int's per-tensor int8, as patterns
    e.patterns.resize(w.size());
    uint32_t* patterns = e.patterns.data();
    e.scale = {arith::quantize_symmetric(w.data(), w.size(), 8, [patterns](size_t i, int32_t v) {
      patterns[i] = static_cast<uint8_t>(v);
    })};
  } else {
    const arith::NumberFormat& format = hw::activation_format(pe);
    e.patterns.resize(w.size());
    format.encode_floats(w.data(), w.size(), e.patterns.data());
    e.scale = {1.0f};
  }
  return e;
}

namespace {

LayerData generate_recurrent(const LayerSpec& l) {
  LayerData ld;
  const size_t rows = size_t{l.gates()} * l.hidden;
  const size_t w_count = rows * l.in_features, u_count = rows * l.hidden;
  for (uint64_t d = 0; d < l.directions(); ++d) {
    RecurrentDirection dir;
    TensorSource w = l.weights, u = l.weights, bi = l.biases, bh = l.biases;
    w.seed = derive_seed(l.weights.seed, "W", d);
    u.seed = derive_seed(l.weights.seed, "U", d);
    bi.seed = derive_seed(l.biases.seed, "b_ih", d);
    bh.seed = derive_seed(l.biases.seed, "b_hh", d);
    // From a file: W and U of each direction, one after another.
    const size_t at = d * (w_count + u_count);
    dir.w.latent = generate_tensor(w, w_count, at);
    dir.u.latent = generate_tensor(u, u_count, at + w_count);
    dir.w.encoded = encode_weights(l.pe, dir.w.latent);
    dir.u.encoded = encode_weights(l.pe, dir.u.latent);
    dir.b_ih = generate_tensor(bi, rows, 2 * d * rows);  // from a file: b_ih, b_hh per direction
    dir.b_hh = generate_tensor(bh, rows, (2 * d + 1) * rows);
    ld.directions.push_back(std::move(dir));
  }
  return ld;
}

}  // namespace

uint32_t input_width(const LayerSpec& l, size_t j) {
  if (l.kind == LayerKind::kEmbedding) return 1;
  if (j == 0) return l.in_features;
  if (l.kind == LayerKind::kAttention) return l.kv_heads * l.head_dim;
  if (l.kind == LayerKind::kMlpAttention) return j == 1 ? l.in_features : l.out_features;
  return l.in_features;
}

ModelSpec::Reader ModelSpec::first_reader(size_t input) const {
  for (size_t li = 0; li < layers.size(); ++li) {
    const std::vector<int32_t>& in = layers[li].inputs;
    if (in.empty() && li == 0 && input == 0) return {&layers[li], 0};
    for (size_t j = 0; j < in.size(); ++j) {
      if (in[j] == model_input_ref(input)) return {&layers[li], j};
    }
  }
  return {};
}

uint32_t ModelSpec::input_width(size_t input) const {
  const Reader r = first_reader(input);
  return r.layer ? workloads::input_width(*r.layer, r.slot) : 0;
}

bool ModelSpec::token_input(size_t input) const {
  const Reader r = first_reader(input);
  return r.layer && r.layer->kind == LayerKind::kEmbedding;
}

std::vector<uint32_t> token_ids(const ModelSpec& model, size_t input) {
  const uint32_t vocab = model.first_reader(input).layer->vocab;
  std::vector<uint32_t> ids;
  const ModelInput& in = model.inputs[input];
  for (float v : generate_tensor(in.source, in.rows)) {
    const double f = std::floor(static_cast<double>(v));
    ids.push_back(f < 0 ? 0 : f >= vocab ? vocab - 1 : static_cast<uint32_t>(f));
  }
  return ids;
}

namespace {

// A bitlinear or linear layer's weights: latent, and ternary or encoded for its PE kind.
void generate_linear(const LayerSpec& l, LayerData& ld) {
  const size_t count = size_t{l.out_features} * l.in_features;
  if (l.kind == LayerKind::kBitLinear && !l.weights.values) {
    ld.ternary = draw_ternary(l.weights, count);  // no latent weights: trits straight away
    return;
  }
  ld.weights = generate_tensor(l.weights, count);
  if (l.kind == LayerKind::kBitLinear && l.weights.prequantized) {
    for (float& v : ld.weights) {
      ld.ternary.trits.push_back(static_cast<int8_t>(v));
      v *= l.weights.scale;  // the deployed weights are the latent ones the file stands for
    }
    ld.ternary.gamma = {l.weights.scale};
  } else if (l.kind == LayerKind::kBitLinear) {
    ld.ternary = arith::quantize_absmean(ld.weights.data(), ld.weights.size());
  } else {
    ld.encoded = encode_weights(l.pe, ld.weights);
  }
}

// An attention layer's key and value caches: kv_heads x positions x d, from the weights' seed
// (streams "K" and "V" of the seed).
LayerData generate_attention(const LayerSpec& l, uint32_t tokens) {
  LayerData ld;
  const size_t count = size_t{l.kv_heads} * l.positions(tokens) * l.head_dim;
  TensorSource k = l.weights, v = l.weights;
  k.seed = derive_seed(l.weights.seed, "K");
  v.seed = derive_seed(l.weights.seed, "V");
  ld.keys.latent = generate_tensor(k, count);  // from a file: K, then V
  ld.values.latent = l.shared_kv ? ld.keys.latent : generate_tensor(v, count, count);
  ld.keys.encoded = encode_weights(l.pe, ld.keys.latent);
  ld.values.encoded = encode_weights(l.pe, ld.values.latent);
  return ld;
}

// An mlp_attention layer's memory: keys K' (positions x in_features), values M (positions x
// out_features) and the score vector v, from the streams "keys", "values" and "v" of the
// weights' seed (a file: in that order). A memory from the graph: v alone.
LayerData generate_mlp_attention(const LayerSpec& l) {
  LayerData ld;
  const size_t positions = l.memory_from_graph() ? 0 : l.context;
  const size_t keys = positions * l.in_features, values = positions * l.out_features;
  TensorSource k = l.weights, v = l.weights, score = l.weights;
  k.seed = derive_seed(l.weights.seed, "keys");
  v.seed = derive_seed(l.weights.seed, "values");
  score.seed = derive_seed(l.weights.seed, "v");
  ld.keys.latent = generate_tensor(k, keys);
  ld.values.latent = generate_tensor(v, values, keys);
  ld.weights = generate_tensor(score, l.in_features, keys + values);
  return ld;
}

}  // namespace

uint64_t tensor_elements(const ModelSpec& model) {
  uint64_t n = 0;
  for (size_t i = 0; i < model.inputs.size(); ++i)
    n += uint64_t{model.inputs[i].rows} * model.input_width(i);
  for (size_t li = 0; li < model.layers.size(); ++li) {
    const LayerSpec& l = model.layers[li];
    const uint64_t in = l.in_features, out = l.out_features;
    if (l.kind == LayerKind::kBitLinear || l.kind == LayerKind::kLinear) {
      n += out * in + (l.has_bias ? out : 0);
    } else if (!layer_kind_fields(l.kind).tensors.empty()) {
      n += layer_kind_fields(l.kind).tensors.size() * out;
    } else if (l.kind == LayerKind::kAttention) {
      n += 2 * uint64_t{l.kv_heads} * l.positions(model.rows_of(static_cast<int32_t>(li))) *
           l.head_dim;
    } else if (l.kind == LayerKind::kEmbedding) {
      n += uint64_t{l.vocab} * out;
    } else if (is_recurrent(l.kind)) {
      const uint64_t rows = uint64_t{l.gates()} * l.hidden;
      n += l.directions() * (rows * (in + l.hidden) + 2 * rows);
    } else if (l.kind == LayerKind::kMlpAttention) {
      n += (l.memory_from_graph() ? 0 : uint64_t{l.context} * (in + out)) + in;
    }
    n += uint64_t{model.rows_of(static_cast<int32_t>(li))} * out;  // the output
  }
  return n;
}

ModelData generate(const ModelSpec& model) {
  ModelData d;
  for (size_t i = 0; i < model.inputs.size(); ++i) {
    std::vector<float>& x = d.inputs.emplace_back();
    if (model.token_input(i)) {
      for (uint32_t id : token_ids(model, i)) x.push_back(static_cast<float>(id));
    } else {
      const ModelInput& in = model.inputs[i];
      x = generate_tensor(in.source, size_t{in.rows} * model.input_width(i));
    }
  }
  for (size_t li = 0; li < model.layers.size(); ++li) {
    const LayerSpec& l = model.layers[li];
    LayerData& ld = d.layers.emplace_back();
    if (l.kind == LayerKind::kBitLinear || l.kind == LayerKind::kLinear) {
      generate_linear(l, ld);
      if (l.has_bias) ld.bias = generate_tensor(l.biases, l.out_features);
    } else if (!layer_kind_fields(l.kind).tensors.empty()) {
      for (const LayerTensor& t : layer_kind_fields(l.kind).tensors)
        ld.*t.values = generate_tensor(l.*t.source, l.out_features);
    } else if (l.kind == LayerKind::kAttention) {
      ld = generate_attention(l, model.rows_of(static_cast<int32_t>(li)));
    } else if (l.kind == LayerKind::kEmbedding) {
      ld.weights = generate_tensor(l.weights, size_t{l.vocab} * l.out_features);  // the table
    } else if (is_recurrent(l.kind)) {
      ld = generate_recurrent(l);
    } else if (l.kind == LayerKind::kMlpAttention) {
      ld = generate_mlp_attention(l);
    }
  }
  return d;
}

}  // namespace nmp::workloads
