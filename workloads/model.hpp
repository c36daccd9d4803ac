// A workload: a model as a sequence of layers with shapes and data sources, and the tensors
// generated from it. Parsed from JSON by sim/; plain structs here.
//
// Example:
//   ModelSpec m; m.tokens = 1; m.layers.push_back({LayerKind::kBitLinear, "up", 2560, 6912, {}});
//   ModelData d = generate(m);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw_models/arith/intquant.hpp"
#include "hw_models/arith/ternary.hpp"

namespace nmp::workloads {

enum class Distribution : uint8_t { kNormal, kUniform };

// A seeded distribution of float32 values.
struct TensorSource {
  Distribution distribution = Distribution::kNormal;
  double mean = 0.0;  // normal
  double std = 1.0;   // normal
  double low = -1.0;  // uniform
  double high = 1.0;  // uniform
  uint64_t seed = 1;
};

enum class LayerKind : uint8_t { kBitLinear };

// y = x W^T with W of out_features x in_features, ternarized per tensor (absmean); x int8 per
// token (absmax); y requantized to int8 per token.
struct LayerSpec {
  LayerKind kind = LayerKind::kBitLinear;
  std::string name;
  uint32_t in_features = 0;
  uint32_t out_features = 0;
  TensorSource weights;
};

struct ModelSpec {
  std::string name;
  uint32_t tokens = 1;
  TensorSource input;
  std::vector<LayerSpec> layers;  // each layer's input is the previous layer's output
};

struct LayerData {
  std::vector<float> weights;  // out x in, latent (before ternarization)
  arith::TernaryTensor ternary;
};

struct ModelData {
  std::vector<float> input;      // tokens x in_features of layer 0
  arith::QuantizedRows input_q;  // int8 per token
  std::vector<LayerData> layers;
};

std::vector<float> generate_tensor(const TensorSource& source, size_t count);
ModelData generate(const ModelSpec& model);

}  // namespace nmp::workloads
