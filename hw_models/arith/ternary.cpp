#include "hw_models/arith/ternary.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

namespace nmp::arith {
namespace {

constexpr int kTwoBitPerByte = 4;
constexpr int kTritsPerByte = 5;
constexpr int kZeroCode = 1;  // code t = w + 1

struct DecodedByte {
  std::array<int8_t, 5> w{};
  std::array<bool, 5> invalid_at{};  // the code at this position is invalid (decoded as 0)
  uint8_t zeros = 0;                 // among all weight positions of the byte
  uint8_t invalid = 0;
};

struct DecodeTables {
  std::array<DecodedByte, 256> two_bit{};
  std::array<DecodedByte, 256> five_trit{};
  DecodeTables() {
    for (int b = 0; b < 256; ++b) {
      DecodedByte& d2 = two_bit[b];
      for (int i = 0; i < kTwoBitPerByte; ++i) {
        const int code = (b >> (2 * i)) & 3;
        d2.invalid_at[i] = code == 3;
        d2.w[i] = code == 3 ? 0 : static_cast<int8_t>(code - 1);
        d2.invalid += code == 3;
        d2.zeros += d2.w[i] == 0;
      }
      DecodedByte& d5 = five_trit[b];
      if (b >= 243) {  // 3^5 = 243 codes; the rest are invalid
        d5.invalid = kTritsPerByte;
        d5.zeros = kTritsPerByte;
        d5.invalid_at.fill(true);
        continue;
      }
      int rest = b;
      for (int i = 0; i < kTritsPerByte; ++i) {
        d5.w[i] = static_cast<int8_t>(rest % 3 - 1);
        rest /= 3;
        d5.zeros += d5.w[i] == 0;
      }
    }
  }
};

const DecodeTables& tables() {
  static const DecodeTables t;
  return t;
}

int weights_per_byte(TernaryPacking packing) {
  return packing == TernaryPacking::kTwoBit ? kTwoBitPerByte : kTritsPerByte;
}

const std::array<DecodedByte, 256>& table_for(TernaryPacking packing) {
  return packing == TernaryPacking::kTwoBit ? tables().two_bit : tables().five_trit;
}

// round(v) clipped to [-1, 1], with round half to even as torch.round: +-0.5 round to 0, so
// only beyond them is a weight +-1. Compares, not nearbyint: this loop runs over every weight
// of a model, and a library call per weight was most of its time.
int8_t round_clip(float v) { return static_cast<int8_t>((v > 0.5f) - (v < -0.5f)); }

float absmean(const float* w, size_t count) {
  double sum = 0.0;  // double: the mean of millions of floats must not depend on order of adds
  for (size_t i = 0; i < count; ++i) sum += std::fabs(w[i]);
  const float mean = count ? static_cast<float>(sum / static_cast<double>(count)) : 0.0f;
  return std::max(mean, kGammaFloor);
}

}  // namespace

const char* to_string(TernaryPacking packing) {
  return packing == TernaryPacking::kTwoBit ? "2bit" : "1.6bit";
}

TernaryTensor quantize_absmean(const float* w, size_t count) {
  TernaryTensor q;
  const float gamma = absmean(w, count);
  q.gamma.push_back(gamma);
  q.trits.resize(count);
  int8_t* trits = q.trits.data();  // a pointer of its own: stores of int8 could alias the vector's
  for (size_t i = 0; i < count; ++i) trits[i] = round_clip(w[i] / gamma);
  return q;
}

TernaryTensor quantize_absmean_per_row(const float* w, size_t rows, size_t cols) {
  TernaryTensor q;
  q.trits.resize(rows * cols);
  for (size_t r = 0; r < rows; ++r) {
    const float* row = w + r * cols;
    const float gamma = absmean(row, cols);
    q.gamma.push_back(gamma);
    int8_t* trits = q.trits.data() + r * cols;
    for (size_t c = 0; c < cols; ++c) trits[c] = round_clip(row[c] / gamma);
  }
  return q;
}

size_t packed_bytes(size_t count, TernaryPacking packing) {
  const size_t per = weights_per_byte(packing);
  return (count + per - 1) / per;
}

void pack_trits(const int8_t* trits, size_t count, TernaryPacking packing, uint8_t* out) {
  const size_t per = weights_per_byte(packing);
  const size_t bytes = packed_bytes(count, packing);
  size_t b = 0;
  if (packing == TernaryPacking::kTwoBit) {  // whole bytes in one loop the host vectorizes
    for (; (b + 1) * kTwoBitPerByte <= count; ++b) {
      const int8_t* t = trits + b * kTwoBitPerByte;
      const auto code = [&](int i) { return static_cast<unsigned>(t[i] + 1) << (2 * i); };
      out[b] = static_cast<uint8_t>(code(0) | code(1) | code(2) | code(3));
    }
  }
  for (; b < bytes; ++b) {
    unsigned byte = 0;
    unsigned weight_of_position = 1;  // 3^i for base-3 packing
    for (size_t i = 0; i < per; ++i) {
      const size_t idx = b * per + i;
      const unsigned code = idx < count ? static_cast<unsigned>(trits[idx] + 1) : kZeroCode;
      if (packing == TernaryPacking::kTwoBit) {
        byte |= code << (2 * i);
      } else {
        byte += code * weight_of_position;
        weight_of_position *= 3;
      }
    }
    out[b] = static_cast<uint8_t>(byte);
  }
}

TritCounts unpack_trits(const uint8_t* in, size_t count, TernaryPacking packing, int8_t* out) {
  const auto& table = table_for(packing);
  const size_t per = weights_per_byte(packing);
  const size_t full = count / per;
  TritCounts counts;
  for (size_t b = 0; b < full; ++b) {
    const DecodedByte& d = table[in[b]];
    std::memcpy(out + b * per, d.w.data(), per);
    counts.zeros += d.zeros;
    counts.invalid_codes += d.invalid;
  }
  const size_t tail = count - full * per;
  if (tail) {
    const DecodedByte& d = table[in[full]];
    for (size_t i = 0; i < tail; ++i) {
      out[full * per + i] = d.w[i];
      counts.zeros += d.w[i] == 0;
      counts.invalid_codes += d.invalid_at[i];
    }
  }
  return counts;
}

// Compiled with and without the popcnt instruction, chosen when the program loads.
__attribute__((target_clones("popcnt", "default"))) TritCounts count_trits(const uint8_t* in,
                                                                           size_t count,
                                                                           TernaryPacking packing) {
  const auto& table = table_for(packing);
  const size_t per = weights_per_byte(packing);
  const size_t full = count / per;
  TritCounts counts;
  size_t b = 0;
  if (packing == TernaryPacking::kTwoBit) {
    // 32 codes per 64-bit word: code 1 (zero) and code 3 (invalid, decoded as zero) have the
    // low bit set; code 3 also the high bit.
    constexpr uint64_t kLowBits = 0x5555555555555555ull;
    for (; b + 8 <= full; b += 8) {
      uint64_t word;
      std::memcpy(&word, in + b, 8);
      counts.zeros += static_cast<uint64_t>(__builtin_popcountll(word & kLowBits));
      counts.invalid_codes +=
          static_cast<uint64_t>(__builtin_popcountll(word & (word >> 1) & kLowBits));
    }
  }
  for (; b < full; ++b) {
    counts.zeros += table[in[b]].zeros;
    counts.invalid_codes += table[in[b]].invalid;
  }
  if (full * per < count) {
    std::array<int8_t, 5> scratch{};
    const TritCounts t = unpack_trits(in + full, count - full * per, packing, scratch.data());
    counts.zeros += t.zeros;
    counts.invalid_codes += t.invalid_codes;
  }
  return counts;
}

}  // namespace nmp::arith
