#include "hw_models/pe.hpp"

#include "hw_models/dataflow.hpp"

namespace nmp::hw {

namespace {
PeTraits pe_traits_fp32(PeKind kind);
}  // namespace

const char* to_string(PeKind p) {
  switch (p) {
    case PeKind::kTernaryInt8:
      return "ternary_int8";
    case PeKind::kInt8Int8:
      return "int8_int8";
    case PeKind::kFp16:
      return "fp16";
    case PeKind::kBf16:
      return "bf16";
    case PeKind::kFp8E4M3:
      return "fp8_e4m3";
    case PeKind::kFp8E5M2:
      return "fp8_e5m2";
    case PeKind::kPosit8:
      return "posit8_0";
    case PeKind::kPosit16:
      return "posit16_1";
    case PeKind::kFixed2_6:
      return "fixed2_6";
    case PeKind::kFixed2_14:
      return "fixed2_14";
    case PeKind::kFp32:
      return "fp32";
  }
  return "?";
}

const char* to_string(FloatAccumulation a) {
  return a == FloatAccumulation::kNative ? "native" : "fp32";
}

PeTraits pe_traits(PeKind kind, FloatAccumulation acc) {
  PeTraits t = pe_traits_fp32(kind);
  // fp32 PEs accumulate natively whatever the setting: their own format is fp32.
  if (t.float_acc && acc == FloatAccumulation::kNative && kind != PeKind::kFp32) {
    t.acc_bytes = t.act_bytes;
    t.native_acc = true;
  }
  return t;
}

namespace {
PeTraits pe_traits_fp32(PeKind kind) {
  switch (kind) {
    case PeKind::kTernaryInt8:
      return {0, 1, 4, false, false, false};
    case PeKind::kInt8Int8:
      return {1, 1, 4, false, false, false};
    case PeKind::kFp16:
    case PeKind::kBf16:
      return {2, 2, 4, true, false, false};
    case PeKind::kFp8E4M3:
    case PeKind::kFp8E5M2:
      return {1, 1, 4, true, false, false};
    case PeKind::kPosit8:
      return {1, 1, 8, false, true, false};
    case PeKind::kPosit16:
      return {2, 2, 16, false, true, false};
    case PeKind::kFixed2_6:
      return {1, 1, 4, false, true, false};
    case PeKind::kFixed2_14:
      return {2, 2, 8, false, true, false};
    case PeKind::kFp32:
      return {4, 4, 4, true, false, false};
  }
  return {1, 1, 4, false, false, false};
}
}  // namespace

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
