#include "hw_models/arith/intquant.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "hw_models/arith/unpacked.hpp"

namespace nmp::arith {
namespace {

float qmax_of(int bits) { return static_cast<float>((1 << (bits - 1)) - 1); }

void check_bits(int bits) {
  if (bits < 2 || bits > 16) throw std::invalid_argument("integer quantization needs 2..16 bits");
}

}  // namespace

// Over the magnitudes' bits, which order as the magnitudes do (as unsigned integers) with every
// NaN above infinity: an integer maximum, which vectorizes (SSE4.1's on) where a float one with
// NaNs does not.
__attribute__((target_clones("avx2", "default"))) float absmax(const float* x, size_t count) {
  uint32_t largest = 0;
  for (size_t i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &x[i], 4);
    const uint32_t magnitude = bits & 0x7fffffffu;
    // A NaN's magnitude as 0, by a mask (a select here keeps the loop from vectorizing).
    const uint32_t number = magnitude & (0u - static_cast<uint32_t>(magnitude <= 0x7f800000u));
    largest = number > largest ? number : largest;
  }
  float amax;
  std::memcpy(&amax, &largest, 4);
  return amax;
}

float IntQuantized::dequantize(size_t i) const {
  const size_t group = spec.granularity == IntGranularity::kPerTensor ? 0 : i / cols;
  return static_cast<float>(values[i] - zero_point[group]) * step[group];
}

IntQuantized quantize_int(const float* x, size_t rows, size_t cols, const IntQuantSpec& spec) {
  check_bits(spec.bits);
  IntQuantized q;
  q.spec = spec;
  q.cols = cols;
  q.values.resize(rows * cols);
  const bool per_row = spec.granularity == IntGranularity::kPerRow;
  const size_t groups = per_row ? rows : 1;
  const size_t group_size = per_row ? cols : rows * cols;
  const float qmax = qmax_of(spec.bits);
  const float qmin = -qmax - 1.0f;
  for (size_t g = 0; g < groups; ++g) {
    const float* in = x + g * group_size;
    int32_t* out = q.values.data() + g * group_size;
    if (spec.symmetric) {
      q.step.push_back(quantize_symmetric(in, group_size, spec.bits,
                                          [out](size_t i, int32_t v) { out[i] = v; }));
      q.zero_point.push_back(0);
    } else {
      float lo = 0.0f, hi = 0.0f;
      for (size_t i = 0; i < group_size; ++i) {
        lo = std::min(lo, in[i]);
        hi = std::max(hi, in[i]);
      }
      const float step = std::max(hi - lo, kIntRangeFloor) / (qmax - qmin);
      const float zp = std::nearbyint(-lo / step) + qmin;
      for (size_t i = 0; i < group_size; ++i) {
        out[i] = static_cast<int32_t>(
            std::clamp(static_cast<float>(round_half_even(in[i] / step)) + zp, qmin, qmax));
      }
      q.step.push_back(step);
      q.zero_point.push_back(static_cast<int32_t>(zp));
    }
  }
  return q;
}

float QuantizedRows::scale(size_t row) const { return absmax[row] / qmax_of(bits); }

QuantizedRows quantize_absmax_per_row(const float* x, size_t rows, size_t cols, int bits) {
  const IntQuantized q = quantize_int(x, rows, cols, {bits, true, IntGranularity::kPerRow});
  QuantizedRows out;
  out.bits = bits;
  out.values = q.values;
  for (size_t r = 0; r < rows; ++r) {
    out.absmax.push_back(std::max(absmax(x + r * cols, cols), kIntRangeFloor));
  }
  return out;
}

}  // namespace nmp::arith
