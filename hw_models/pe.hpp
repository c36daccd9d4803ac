// Processing-element kinds: what a PE multiplies, in which formats, and what it accumulates into.
//
// clang-format off
// | kind          | weights                       | activations | accumulator (in the acc SRAM)        |
// |---------------|-------------------------------|-------------|--------------------------------------|
// | ternary_int8  | ternary, packed 2 or 1.6 bits | int8        | int32, wrapping                      |
// | int8_int8     | int8                          | int8        | int32, wrapping                      |
// | fp16          | fp16                          | fp16        | fp32: products exact, each add rounded |
// | bf16          | bf16                          | bf16        | fp32, as fp16                        |
// | fp8_e4m3/e5m2 | fp8                           | fp8         | fp32, as fp16                        |
// | posit8_0      | posit<8,0>                    | posit<8,0>  | quire: int64 of 2^-12 units (exact)  |
// | posit16_1     | posit<16,1>                   | posit<16,1> | quire: int128 of 2^-56 units (exact) |
// | fixed2_6      | fixed<2,6>                    | fixed<2,6>  | int32 of 2^-12 units, wrapping       |
// | fixed2_14     | fixed<2,14>                   | fixed<2,14> | int64 of 2^-28 units, wrapping       |
// | fp32          | fp32                          | fp32        | fp32, as fp16                        |
// clang-format on
//
// Float accumulation order is part of the hardware: within a fold, a systolic column (WS, IS)
// or a PE (OS) adds products in increasing k, each sum rounded to fp32, starting from +0; an
// adder tree adds them pairwise, level by level ((0+1), (2+3), ...; an odd one passes through),
// each sum rounded. The fold's sum then overwrites the accumulator or is added to it (rounded).
// The quire kinds need no order: they are exact until the vector unit rounds them. The fixed
// kinds accumulate exact products (a fixed<I,F> product is a multiple of 2^-2F) in a two's-
// complement register that wraps like an integer adder; the vector unit rounds the sum to the
// format (nearest even, saturating) when it converts it.
#pragma once

#include <cstdint>
#include <string>

namespace nmp::hw {

enum class PeKind : uint8_t {
  kTernaryInt8,
  kInt8Int8,
  kFp16,
  kBf16,
  kFp8E4M3,
  kFp8E5M2,
  kPosit8,
  kPosit16,
  kFixed2_6,
  kFixed2_14,
  kFp32,
};
inline constexpr int kNumPeKinds = static_cast<int>(PeKind::kFp32) + 1;

const char* to_string(PeKind p);

// Where the float kinds (fp16, bf16, fp8) accumulate: fp32 (every add rounded to fp32; the
// accumulator SRAM holds fp32), or natively (every product and every add rounded to the kind's
// own format, which the accumulator SRAM then holds: the accounting of BitNet b1.58's 71.4x).
enum class FloatAccumulation : uint8_t { kFp32, kNative };
inline constexpr size_t kNumFloatAccumulations =
    static_cast<size_t>(FloatAccumulation::kNative) + 1;
const char* to_string(FloatAccumulation a);

struct PeTraits {
  uint32_t weight_bytes;  // per weight, unpacked kinds (0 for ternary: packed)
  uint32_t act_bytes;     // per activation
  uint32_t acc_bytes;     // per accumulator in the acc SRAM
  bool float_acc;         // fp32 accumulation (order matters)
  bool quire;             // exact accumulation (posit quires; fixed kinds, modulo wrap-around)
  bool native_acc;        // float kinds accumulating in their own format
};

PeTraits pe_traits(PeKind kind, FloatAccumulation acc = FloatAccumulation::kFp32);

// Integer kinds: int8 activations, int32 accumulators, requantized rather than converted.
inline bool is_integer(PeKind k) { return k == PeKind::kTernaryInt8 || k == PeKind::kInt8Int8; }

// Quire units of the posit kinds: the accumulator holds multiples of 2^quire_lsb_exp.
inline constexpr int kPosit8QuireLsbExp = -12;   // minpos^2 = 2^-12 for posit<8,0>
inline constexpr int kPosit16QuireLsbExp = -56;  // minpos^2 = 2^-56 for posit<16,1>
// Accumulator units of the fixed kinds: the LSB of a product, 2^-2F.
inline constexpr int kFixed2_6AccLsbExp = -12;
inline constexpr int kFixed2_14AccLsbExp = -28;

}  // namespace nmp::hw
