// Binary (1-bit) weights and activations, as in BitNet and binarized networks: sign
// quantization (w >= 0 -> +1, w < 0 -> -1) with scale mean |w|, bits packed 64 per word
// (bit i of word i/64 is element i; 1 stands for +1), and the XNOR/popcount dot product:
// sum of a_i b_i over n elements of +-1 = 2 popcount(XNOR(a, b)) - n.
//
// Example:
//   BinaryTensor a = quantize_sign(x.data(), n), b = quantize_sign(w.data(), n);
//   int64_t dot = xnor_dot(a.bits.data(), b.bits.data(), n);
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nmp::arith {

struct BinaryTensor {
  std::vector<uint64_t> bits;
  size_t count = 0;
  float scale = 0.0f;  // mean |w|
  int value(size_t i) const { return (bits[i / 64] >> (i % 64)) & 1 ? 1 : -1; }
};

BinaryTensor quantize_sign(const float* w, size_t count);
// Padding bits past n are ignored.
int64_t xnor_dot(const uint64_t* a, const uint64_t* b, size_t n);

}  // namespace nmp::arith
