// Integer quantization with absmax (symmetric) or min/max (asymmetric) scaling, per tensor or
// per row (per token), to signed N-bit integers, 2 <= N <= 16.
//
//   symmetric:  s = qmax / max(absmax, 1e-5),  q = clamp(round(x s), -qmax - 1, qmax),
//               qmax = 2^(N-1) - 1; x ~ q / s. Since s = qmax / absmax, q reaches only +-qmax.
//   asymmetric: step = max(max - min, 1e-5) / (2^N - 1) over the group with min <= 0 <= max
//               (the range always holds 0), zero_point = round(-min / step) - 2^(N-1),
//               q = clamp(round(x / step) + zero_point, -2^(N-1), 2^(N-1) - 1);
//               x ~ (q - zero_point) step.
// round = round-half-to-even in float32 (torch.round), as BitNet b1.58 quantizes activations.
//
// Example:
//   auto q = quantize_int(x.data(), tokens, features, {8, true, IntGranularity::kPerRow});
//   float v = q.dequantize(i);
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "hw_models/arith/unpacked.hpp"

namespace nmp::arith {

enum class IntGranularity : uint8_t { kPerTensor, kPerRow };

struct IntQuantSpec {
  int bits = 8;
  bool symmetric = true;
  IntGranularity granularity = IntGranularity::kPerRow;
};

struct IntQuantized {
  IntQuantSpec spec;
  size_t cols = 0;
  std::vector<int32_t> values;      // rows x cols
  std::vector<float> step;          // real value of one step, per group
  std::vector<int32_t> zero_point;  // per group (0 when symmetric)
  float dequantize(size_t i) const;
};

IntQuantized quantize_int(const float* x, size_t rows, size_t cols, const IntQuantSpec& spec);

inline constexpr float kIntRangeFloor = 1e-5f;  // as the BitNet reference code (models.md)

// The largest |x[i]| of `count` values (0 for none; a NaN never wins).
float absmax(const float* x, size_t count);

// One group of quantize_int's symmetric quantization: the `count` values' steps of 1 / scale,
// scale = qmax / max(absmax, floor), each rounded half to even and clamped, handed to
// put(i, step) (an encoder writes its own patterns, with no buffer of int32 between).
// Returns the step's real value, 1 / scale.
template <class Put>
float quantize_symmetric(const float* x, size_t count, int bits, const Put& put) {
  const auto qmax = static_cast<float>((1 << (bits - 1)) - 1);
  const float s = qmax / std::max(absmax(x, count), kIntRangeFloor);
  for (size_t i = 0; i < count; ++i) {
    // Rounded half to even, then clamped, with no branch or call so that the loop vectorizes:
    // adding and taking away 1.5 x 2^23 leaves the nearest integer, ties to even, for |v| <
    // 2^22; beyond, it leaves a value within 1 of v, which the clamp takes to the bound as it
    // would v rounded. A NaN (which the comparisons keep) is 0, as the vector unit's int8 has
    // it, rather than an undefined conversion.
    const float v = x[i] * s;
    const float rounded = (v + 0x1.8p23f) - 0x1.8p23f;
    float clamped = rounded < -qmax - 1 ? -qmax - 1 : rounded;
    clamped = clamped > qmax ? qmax : clamped;
    put(i, static_cast<int32_t>(std::isnan(clamped) ? 0.0f : clamped));
  }
  return 1.0f / s;
}

// BitNet b1.58's activation quantization: symmetric, per row, with the absmax kept.
struct QuantizedRows {
  std::vector<int32_t> values;  // rows x cols, each in [-qmax, qmax]
  std::vector<float> absmax;    // per row, after the 1e-5 floor
  int bits = 8;
  float scale(size_t row) const;  // real value of one quantization step in `row`
};
QuantizedRows quantize_absmax_per_row(const float* x, size_t rows, size_t cols, int bits);

}  // namespace nmp::arith
