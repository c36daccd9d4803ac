// The workload fields of a layer kind, described without JSON, beside the kind's lowering and
// reference (workloads/graph.cpp): the reader (sim/config.cpp) reads them, the dump writes them
// back, generation and the dump handle its tensors, and `nmpsim params --layer-fields` lists
// them for docs/configs.md, all from this one description. The kinds with readers of their own
// (linear, recurrent and attention layers, whose wiring and data are theirs alone, and the
// embedding, which reads token ids) describe none here.
//
// Example (graph.cpp, a count field held in a member):
//   count_field<&LayerSpec::eps_log2>("eps_log2", false, 0, 126, "", "eps = 2^-eps_log2")
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "workloads/model.hpp"

namespace nmp::workloads {

enum class FieldType : uint8_t {
  kCount,   // an integer in [low, high]
  kNumber,  // a real in [low, high]
  kChoice,  // one of `choices`, held as its index
};

struct LayerField {
  const char* name;
  FieldType type;
  bool required;
  double low, high;
  const char* unit;
  const char* doc;
  std::vector<std::string> choices;
  // The field's value in a layer (a choice: its index); in a default LayerSpec, its default.
  double (*get)(const LayerSpec&);
  void (*set)(LayerSpec&, double);
};

// A tensor of a layer's data (a norm's gain and bias): `out_features` elements of the vector
// unit's format, from a seeded distribution (default `mean`, `std`) or a file; generated into
// `values`, dumped as <layer>_<name>_f32.npy.
struct LayerTensor {
  const char* name;
  const char* doc;
  double mean, std;
  TensorSource LayerSpec::*source;
  std::vector<float> LayerData::*values;
};

// What the reader says is wrong with a field (its name) once the layer's inputs are known.
struct FieldProblem {
  std::string field, message;
};

struct LayerKindFields {
  std::vector<LayerField> fields;
  std::vector<LayerTensor> tensors;
  // Whether two inputs may differ in width (concat); otherwise they must agree.
  bool widths_may_differ = false;
  // Once the fields and the inputs are read (in_features = out_features = input 0's width,
  // rows = input 0's rows; `widths`: every input's): the values that follow from them, and any
  // problem. May be null.
  std::optional<FieldProblem> (*finish)(LayerSpec& spec,
                                        const std::vector<uint32_t>& widths) = nullptr;
};

// A vector layer kind's fields (workloads/graph.cpp); empty for the kinds read elsewhere.
const LayerKindFields& layer_kind_fields(LayerKind kind);

}  // namespace nmp::workloads
