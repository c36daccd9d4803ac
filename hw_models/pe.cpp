#include "hw_models/pe.hpp"

#include "hw_models/dataflow.hpp"

namespace nmp::hw {

const char* to_string(FloatAccumulation a) {
  return a == FloatAccumulation::kNative ? "native" : "fp32";
}

PeTraits pe_traits(PeKind kind, FloatAccumulation acc) {
  const PeKindInfo& info = pe_info(kind);
  PeTraits t{info.weight_bytes,
             info.act_bytes,
             info.acc_bytes,
             info.accumulator == Accumulator::kFloat,
             info.accumulator == Accumulator::kQuire || info.accumulator == Accumulator::kFixed,
             false};
  // Elements as wide as the fp32 accumulator (fp32 PEs) accumulate natively whatever the setting.
  if (t.float_acc && acc == FloatAccumulation::kNative && t.act_bytes < t.acc_bytes) {
    t.acc_bytes = t.act_bytes;
    t.native_acc = true;
  }
  return t;
}

const char* to_string(Dataflow d) {
  switch (d) {
    case Dataflow::kAdderTree:
      return "adder_tree";
    case Dataflow::kWeightStationary:
      return "weight_stationary";
    case Dataflow::kOutputStationary:
      return "output_stationary";
    case Dataflow::kInputStationary:
      return "input_stationary";
  }
  return "?";
}

const char* to_string(FoldTiming t) { return t == FoldTiming::kExact ? "exact" : "padded"; }

}  // namespace nmp::hw
