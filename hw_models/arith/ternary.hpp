// Ternary weights as in BitNet b1.58: absmean quantization and packed storage.
//
//   gamma = max(mean |W|, 1e-5)            (per tensor, or per output channel)
//   W_t   = clamp(round(W / gamma), -1, 1)  round = round-half-to-even, in float32
//
// Two packed layouts are modelled, both with codes t = w + 1 in {0, 1, 2}:
//   kTwoBit            4 weights per byte, weight i of the group in bits [2i, 2i+1]
//                      (code 3 is invalid and decodes to 0; the decoder counts it).
//   kFiveTritsPerByte  5 weights per byte, byte = sum t_i * 3^i (values 243..255 are
//                      invalid and decode to zeros; the decoder counts them). 1.6 bits/weight.
// Example:
//   auto q = quantize_absmean(w);                       // q.trits in {-1,0,1}, q.gamma
//   std::vector<uint8_t> row(packed_bytes(n, TernaryPacking::kTwoBit));
//   pack_trits(q.trits.data(), n, TernaryPacking::kTwoBit, row.data());
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nmp::arith {

enum class TernaryPacking { kTwoBit, kFiveTritsPerByte };
inline constexpr size_t kNumTernaryPackings =
    static_cast<size_t>(TernaryPacking::kFiveTritsPerByte) + 1;

const char* to_string(TernaryPacking packing);

// The floor of gamma (the reference code's clamp; models.md).
inline constexpr float kGammaFloor = 1e-5f;

struct TernaryTensor {
  std::vector<int8_t> trits;  // values in {-1, 0, +1}
  std::vector<float> gamma;   // one scale per tensor (size 1) or per output channel
};

// Per-tensor absmean quantization of `count` weights.
TernaryTensor quantize_absmean(const float* w, size_t count);
// Per-output-channel absmean quantization of a rows x cols matrix (one gamma per row).
TernaryTensor quantize_absmean_per_row(const float* w, size_t rows, size_t cols);

// Bytes needed to pack `count` trits.
size_t packed_bytes(size_t count, TernaryPacking packing);

void pack_trits(const int8_t* trits, size_t count, TernaryPacking packing, uint8_t* out);

// What a decoder saw while unpacking: zero weights (gated adders) and invalid codes.
struct TritCounts {
  uint64_t zeros = 0;
  uint64_t invalid_codes = 0;
};

// Unpacks `count` trits; returns the counts of zeros and invalid codes among them.
TritCounts unpack_trits(const uint8_t* in, size_t count, TernaryPacking packing, int8_t* out);

// Counts zeros and invalid codes without unpacking (table-driven, 4 or 5 weights per lookup).
TritCounts count_trits(const uint8_t* in, size_t count, TernaryPacking packing);

}  // namespace nmp::arith
