#include "workloads/model.hpp"

#include "workloads/random.hpp"

namespace nmp::workloads {

std::vector<float> generate_tensor(const TensorSource& source, size_t count) {
  Rng rng(source.seed);
  std::vector<float> out(count);
  for (float& v : out) {
    v = static_cast<float>(source.distribution == Distribution::kNormal
                               ? source.mean + source.std * rng.normal()
                               : source.low + (source.high - source.low) * rng.uniform());
  }
  return out;
}

ModelData generate(const ModelSpec& model) {
  ModelData d;
  const uint32_t k0 = model.layers.front().in_features;
  d.input = generate_tensor(model.input, size_t{model.tokens} * k0);
  d.input_q = arith::quantize_absmax_per_row(d.input.data(), model.tokens, k0, 8);
  for (const LayerSpec& l : model.layers) {
    LayerData ld;
    ld.weights = generate_tensor(l.weights, size_t{l.out_features} * l.in_features);
    ld.ternary = arith::quantize_absmean(ld.weights.data(), ld.weights.size());
    d.layers.push_back(std::move(ld));
  }
  return d;
}

}  // namespace nmp::workloads
