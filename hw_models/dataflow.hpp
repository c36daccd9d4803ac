// How a GEMM of M x N x K (activations M x K, weights N x K, outputs M x N) maps onto an R x C
// array. docs/architecture.md#mac-array gives each dataflow's timing.
//
// | dataflow           | rows | columns | streamed (T) | stationary in the PEs |
// |--------------------|------|---------|--------------|-----------------------|
// | adder_tree         | K    | N       | M            | weights               |
// | weight_stationary  | K    | N       | M            | weights               |
// | output_stationary  | M    | N       | K            | outputs               |
// | input_stationary   | K    | M       | N            | activations           |
//
// The mappings of the systolic dataflows are SCALE-Sim's (Samajdar et al., ISPASS 2020).
#pragma once

#include <cstdint>

namespace nmp::hw {

enum class Dataflow : uint8_t {
  kAdderTree,
  kWeightStationary,
  kOutputStationary,
  kInputStationary,
};

// How a partial fold (fewer rows or columns than the array) is timed: `exact` counts the rows
// and columns it uses; `padded` counts the whole array, as SCALE-Sim does.
enum class FoldTiming : uint8_t { kExact, kPadded };
inline constexpr size_t kNumDataflows = static_cast<size_t>(Dataflow::kInputStationary) + 1;
inline constexpr size_t kNumFoldTimings = static_cast<size_t>(FoldTiming::kPadded) + 1;

const char* to_string(Dataflow d);
const char* to_string(FoldTiming t);

}  // namespace nmp::hw
