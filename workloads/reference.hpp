// Plain C++ references for a model, written apart from the simulator's kernels:
//  * the exact integer model of the hardware arithmetic (ternary weights x int8 activations
//    into int32, then the requantization of docs/isa.md#requant), which the simulated outputs
//    must equal bit for bit;
//  * an FP32 model (the deployed ternary weights times gamma, unquantized activations; products
//    summed in double and rounded to float) against which the numerical error is reported.
//
// Example:
//   auto refs = reference_outputs(spec, data);   // refs[l].q, refs[l].fp32
#pragma once

#include <cstdint>
#include <vector>

#include "workloads/model.hpp"

namespace nmp::workloads {

struct LayerReference {
  std::vector<int8_t> q;           // tokens x out, requantized output
  std::vector<uint32_t> absmax;    // per token: max |acc|
  std::vector<double> out_scale;   // per token: real value of one output step
  std::vector<float> fp32;         // tokens x out, FP32 reference
};

std::vector<LayerReference> reference_outputs(const ModelSpec& model, const ModelData& data);

// The real values the int8 outputs stand for: q * out_scale(row).
std::vector<float> dequantize(const std::vector<int8_t>& q, const std::vector<double>& row_scale,
                              uint32_t cols);

// Real value of one output step per token, given the int32 absmax of each output row, the
// layer's gamma, and the real value of one input step per token.
std::vector<double> output_scales(const std::vector<uint32_t>& absmax, float gamma,
                                  const std::vector<double>& input_scale);

struct ErrorStats {
  double max_abs = 0.0;
  double rmse = 0.0;
  double sqnr_db = 0.0;  // 10 log10(sum ref^2 / sum err^2); infinite when exact
};
ErrorStats compare(const std::vector<float>& value, const std::vector<float>& reference);

}  // namespace nmp::workloads
