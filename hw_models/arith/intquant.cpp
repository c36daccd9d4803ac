#include "hw_models/arith/intquant.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace nmp::arith {
namespace {
constexpr float kAbsmaxFloor = 1e-5f;  // as the BitNet reference code (models.md)

float qmax_of(int bits) { return static_cast<float>((1 << (bits - 1)) - 1); }
}  // namespace

float QuantizedRows::scale(size_t row) const { return absmax[row] / qmax_of(bits); }

QuantizedRows quantize_absmax_per_row(const float* x, size_t rows, size_t cols, int bits) {
  if (bits < 2 || bits > 16) throw std::invalid_argument("absmax quantization needs 2..16 bits");
  QuantizedRows q;
  q.bits = bits;
  q.values.resize(rows * cols);
  q.absmax.resize(rows);
  const float qmax = qmax_of(bits);
  for (size_t r = 0; r < rows; ++r) {
    const float* row = x + r * cols;
    float amax = 0.0f;
    for (size_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(row[c]));
    amax = std::max(amax, kAbsmaxFloor);
    q.absmax[r] = amax;
    const float s = qmax / amax;
    for (size_t c = 0; c < cols; ++c) {
      const float v = std::clamp(std::nearbyint(row[c] * s), -qmax - 1.0f, qmax);
      q.values[r * cols + c] = static_cast<int32_t>(v);
    }
  }
  return q;
}

}  // namespace nmp::arith
