// Plain C++ references for a model, written apart from the simulator's kernels:
//  * the exact model of the hardware arithmetic, which the simulated outputs must equal bit for
//    bit: integer kinds sum in int64 and wrap to int32; float kinds follow pe.hpp's accumulation
//    (the lowering's k-tiles, the array's blocks of R inputs, pairwise in an adder tree or in order
//    in a systolic column, each sum rounded to fp32) and round once to the format; posit kinds sum
//    exactly in arith::Quire;
//  * an FP32 model (the deployed ternary weights times gamma for bitlinear layers, the latent
//    float weights for linear ones, unquantized activations; products summed in double, rounded
//    to float) against which the numerical error is reported.
// The layer lowerings (graph.cpp, recurrent.cpp, attention.cpp) build their references from
// these parts.
//
// Example:
//   const GemmReference gemm(kind, w.data(), n, k, k_tile, mac);
//   gemm.rows(x.data(), m, [&](uint32_t r, const arith::Unpacked* acc) { ... });
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "hw_models/arith/unpacked.hpp"
#include "hw_models/arith/vector_math.hpp"
#include "hw_models/mac_array.hpp"
#include "workloads/model.hpp"

namespace nmp::workloads {

struct LayerReference {
  std::vector<uint32_t> out;  // rows x out: the patterns of the layer's output format
  std::vector<float> fp32;    // rows x out, FP32 reference
};

// The exact accumulator of one output of a gemm row, as the MAC array computes it: x and w
// are k activation and weight patterns (ternary: trits as int8); k_tile is the lowering's
// reduction tile (every k_tile inputs start a new gemm, which accumulates into the first).
arith::Unpacked reference_accumulator(hw::PeKind kind, const uint32_t* x, const uint32_t* w,
                                      uint32_t k, uint32_t k_tile, const hw::MacArrayParams& mac);

// Every accumulator of a gemm with fixed weights, one input row at a time: row(x, out) gives
// out[c] = reference_accumulator(kind, x, w + c * k, k, k_tile, mac) for every output c
// (tested on random shapes for every PE kind), computed over the whole row at once: the weights
// are decoded and transposed once, and the outputs of a row are summed side by side, each in
// its own hardware order, so that checking a run costs about what simulating it does. Integer
// kinds sum modulo 2^32 (the int32 wrap; any order, so a dot product per output over int8 units
// of the weights as given), fixed-point kinds modulo the accumulator's width,
// posits exactly in integers of their quire's least significant bit (64 and 128 bits), floats with
// fp32 accumulation in float; native float accumulation (and a posit<16,1> row of 2^15 or more)
// goes output by output through reference_accumulator.
class GemmReference {
 public:
  // w: n rows of k weight patterns (ternary: trits as int8).
  GemmReference(hw::PeKind kind, const uint32_t* w, uint32_t n, uint32_t k, uint32_t k_tile,
                const hw::MacArrayParams& mac);
  // The integer kinds: n rows of k int8 weights (ternary: trits), used in place: `w` must
  // outlive the object.
  GemmReference(hw::PeKind kind, const int8_t* w, uint32_t n, uint32_t k, uint32_t k_tile,
                const hw::MacArrayParams& mac);
  // count rows of k patterns, one after the other: take(r, acc) receives row r's n
  // accumulators, rows in order.
  using RowFn = std::function<void(uint32_t, const arith::Unpacked*)>;
  void rows(const uint32_t* x, uint32_t count, const RowFn& take) const;
  void row(const uint32_t* x, std::vector<arith::Unpacked>& out) const;
  // The integer kinds' accumulators as the hardware holds them, int32 (sums modulo 2^32),
  // without an exact value each: take(r, sums) receives row r's n sums, rows in order.
  using WrappedRowFn = std::function<void(uint32_t, const int32_t*)>;
  void rows_wrapped(const uint32_t* x, uint32_t count, const WrappedRowFn& take) const;
  static constexpr uint32_t kRowBlock = 8;

 private:
  enum class Path : uint8_t { kInteger, kFixed, kPosit, kFloat, kPerOutput };
  // Sets path_ and the pattern tables from the kind; returns the patterns' mask.
  uint32_t choose_path();
  void block(const uint32_t* x, uint32_t rb, arith::Unpacked* out) const;
  void wrapped_block(const uint32_t* x, uint32_t rb, int32_t* sums) const;  // integer path
  // Runs block over count rows, kRowBlock at a time, and gives take each row's n sums.
  template <class Sum, class Block, class Take>
  void in_row_blocks(const uint32_t* x, uint32_t count, const Block& block, const Take& take) const;
  void float_block(const uint32_t* x, uint32_t rb, arith::Unpacked* out) const;
  template <class Acc, class Signed>
  void unit_block(const uint32_t* x, uint32_t rb, arith::Unpacked* out) const;
  float value_of(uint32_t pattern) const;  // float path

  hw::PeKind kind_;
  uint32_t n_, k_, k_tile_;
  hw::MacArrayParams mac_;
  Path path_ = Path::kPerOutput;
  int lsb_ = 0;                 // fixed and posit: the sums' unit is 2^lsb_
  std::vector<int64_t> units_;  // integer, fixed, posit: each pattern's value in units
  std::vector<uint8_t> nar_;    // posit: the pattern is NaR
  std::vector<float> values_;   // float: each pattern's value (up to 16 bits)
  // The weights transposed, k x n (left uninitialized until filled: they are large).
  // integer: 8-bit units, n x k as given: the caller's int8 weights, or w_units8_owned_.
  const int8_t* w_units8_ = nullptr;
  std::vector<int8_t> w_units8_owned_;
  std::unique_ptr<int64_t[]> w_units_;    // fixed and posit
  std::unique_ptr<int32_t[]> w_units32_;  // the fixed path's, where every unit fits int32
  bool units_fit_int32_ = false;
  // The fixed path's inputs per partial sum in int32 (no chunk of products of units can leave
  // it); 0: sums in 64 bits only.
  uint32_t int32_chunk_ = 0;
  std::unique_ptr<float[]> w_values_;  // float
  std::vector<uint8_t> w_col_nar_;     // posit: output c has a NaR weight
  std::vector<uint32_t> w_;            // the patterns as given (per-output path)
};

// The FP32 model of a linear or bitlinear layer, one row at a time: y[c] = (bias[c] +) the sum
// over i of w(c, i) x[i] in double, in order of i, rounded to float (w: the latent float
// weights, or the deployed trits times gamma). For `rows` of a block or more the weights are
// transposed once so that a row's outputs are summed side by side; for fewer, each output is a
// dot product over its row of `ld`'s weights (the same sums), so `ld` must outlive the object.
class Fp32Linear {
 public:
  Fp32Linear(const LayerSpec& l, const LayerData& ld, uint32_t rows);
  // count rows of k inputs; y: count x n; bias may be null.
  void rows(const float* x, uint32_t count, const float* bias, float* y) const;

 private:
  // A trit times gamma is exact in float, as the latent weights are floats.
  float weight(size_t at) const {
    return trits_ ? static_cast<float>(trits_[at]) * gamma_ : latent_[at];
  }
  uint32_t n_, k_;
  const int8_t* trits_ = nullptr;  // bitlinear: n x k, times gamma_
  float gamma_ = 1;
  const float* latent_ = nullptr;  // linear: n x k
  std::unique_ptr<float[]> w_;     // transposed, k x n (rows of a block or more)
};

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

struct ErrorStats {
  double max_abs = 0.0;
  double rmse = 0.0;
  double sqnr_db = 0.0;  // 10 log10(sum ref^2 / sum err^2); infinite when exact
};
ErrorStats compare(const std::vector<float>& value, const std::vector<float>& reference);

}  // namespace nmp::workloads
