#include "hw_models/arith/binary.hpp"

#include <cmath>

namespace nmp::arith {

BinaryTensor quantize_sign(const float* w, size_t count) {
  BinaryTensor t;
  t.count = count;
  t.bits.assign((count + 63) / 64, 0);
  double sum = 0.0;
  for (size_t i = 0; i < count; ++i) {
    if (w[i] >= 0.0f) t.bits[i / 64] |= uint64_t{1} << (i % 64);
    sum += std::fabs(w[i]);
  }
  t.scale = count ? static_cast<float>(sum / static_cast<double>(count)) : 0.0f;
  return t;
}

int64_t xnor_dot(const uint64_t* a, const uint64_t* b, size_t n) {
  int64_t agree = 0;
  const size_t words = n / 64;
  for (size_t i = 0; i < words; ++i) agree += __builtin_popcountll(~(a[i] ^ b[i]));
  if (n % 64) {
    const uint64_t live = (uint64_t{1} << (n % 64)) - 1;
    agree += __builtin_popcountll(~(a[words] ^ b[words]) & live);
  }
  return 2 * agree - static_cast<int64_t>(n);
}

}  // namespace nmp::arith
