// Symmetric absmax quantization to signed N-bit integers, as BitNet b1.58 quantizes
// activations per token:
//
//   s = qmax / max(absmax(x), 1e-5),   q = clamp(round(x * s), -qmax - 1, qmax),  qmax = 2^(N-1) - 1
//
// computed in float32 with round-half-to-even (torch.round). Since s = qmax / absmax, values
// reach only [-qmax, qmax]. The real value of q is q * absmax / qmax.
// Example:
//   auto q = quantize_absmax_per_row(x.data(), tokens, features, 8);  // q.values, q.absmax
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nmp::arith {

struct QuantizedRows {
  std::vector<int32_t> values;  // rows x cols, each in [-qmax - 1, qmax]
  std::vector<float> absmax;    // per row, after the 1e-5 floor
  int bits = 8;
  float scale(size_t row) const;  // real value of one quantization step in `row`
};

// 2 <= bits <= 16.
QuantizedRows quantize_absmax_per_row(const float* x, size_t rows, size_t cols, int bits);

}  // namespace nmp::arith
