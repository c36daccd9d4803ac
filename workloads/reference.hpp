// Plain C++ references for a model, written apart from the simulator's kernels:
//  * the exact model of the hardware arithmetic, which the simulated outputs must equal bit for
//    bit: integer kinds sum in int64 and wrap to int32, then requantize (docs/isa.md#requant);
//    float kinds follow pe.hpp's accumulation (the lowering's k-tiles, the array's blocks of R
//    inputs, pairwise in an adder tree or in order in a systolic column, each sum rounded to
//    fp32) and round once to the format; posit kinds sum exactly in arith::Quire;
//  * an FP32 model (the deployed ternary weights times gamma for bitlinear layers, the latent
//    float weights for linear ones, unquantized activations; products summed in double, rounded
//    to float) against which the numerical error is reported.
//
// Example:
//   auto refs = reference_outputs(spec, data, k_tiles, hw.mac_array);   // refs[l].out, .fp32
#pragma once

#include <cstdint>
#include <vector>

#include "hw_models/arith/unpacked.hpp"
#include "hw_models/arith/vector_math.hpp"
#include "hw_models/mac_array.hpp"
#include "workloads/model.hpp"

namespace nmp::workloads {

struct LayerReference {
  std::vector<uint32_t> out;      // tokens x out: int8 values or the format's patterns
  std::vector<uint32_t> absmax;   // integer kinds: per token, max |acc|
  std::vector<double> out_scale;  // integer kinds: per token, real value of one output step
  std::vector<float> fp32;        // tokens x out, FP32 reference
};

// The exact accumulator of one output of a gemm row, as the MAC array computes it: x and w
// are k activation and weight patterns (ternary: trits as int8); k_tile is the lowering's
// reduction tile (every k_tile inputs start a new gemm, which accumulates into the first).
arith::Unpacked reference_accumulator(hw::PeKind kind, const uint32_t* x, const uint32_t* w,
                                      uint32_t k, uint32_t k_tile, const hw::MacArrayParams& mac);

// A row of vector-format values x quantized for the MAC array as the recurrent and attention
// lowerings program the vector unit: integer kinds a = max |x|, each x * (reciprocal(a) * 127)
// rounded to int8 (symmetric), and factor = a * scale (the dequantization factor); other kinds
// each x rounded to the activation format, factor untouched.
std::vector<uint32_t> reference_quantize_row(const arith::VectorMath& vm, hw::PeKind pe,
                                             const std::vector<uint32_t>& x, uint32_t c127,
                                             uint32_t scale, uint32_t& factor);

// The softmax instruction's result over the first `valid` of scores s (the rest 0): the
// maximum, exp(s - max) each, their sum in lane order, its reciprocal, and the products.
std::vector<uint32_t> reference_softmax(const arith::VectorMath& vm, const std::vector<uint32_t>& s,
                                        uint32_t valid, uint32_t lanes);

// k_tiles[l]: the reduction length of each gemm of layer l (the lowering's k_tile).
std::vector<LayerReference> reference_outputs(const ModelSpec& model, const ModelData& data,
                                              const std::vector<uint32_t>& k_tiles,
                                              const hw::MacArrayParams& mac);

// The real values of a layer's outputs: q x out_scale(row) for integer kinds, the format's
// values otherwise.
std::vector<float> output_values(hw::PeKind kind, const std::vector<uint32_t>& out,
                                 const std::vector<double>& row_scale, uint32_t cols);

// Real value of one output step per token (integer kinds), given the int32 absmax of each
// output row, the weights' scale, and the real value of one input step per token.
std::vector<double> output_scales(const std::vector<uint32_t>& absmax, double weight_scale,
                                  const std::vector<double>& input_scale);

struct ErrorStats {
  double max_abs = 0.0;
  double rmse = 0.0;
  double sqnr_db = 0.0;  // 10 log10(sum ref^2 / sum err^2); infinite when exact
};
ErrorStats compare(const std::vector<float>& value, const std::vector<float>& reference);

}  // namespace nmp::workloads
