// Processing-element kinds: what a PE multiplies, in which formats, and what it accumulates into.
//
// Each kind's formats, widths and accumulator are its row of kPeKinds below. Ternary weights
// are packed (2 or 1.6 bits) and meet int8 activations; the integer kinds' int32 accumulators
// wrap and are requantized rather than converted. The float kinds accumulate in fp32 (products
// exact for fp16), or natively (FloatAccumulation).
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

#include <cstddef>
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

// How a kind accumulates: this chooses its kernel (with the operand and accumulator widths),
// its reference, and how the vector unit reads its accumulators.
enum class Accumulator : uint8_t {
  kInteger,  // int8 operands, int32 wrapping; requantized to int8 rather than converted
  kFloat,    // fp32 (or the kind's own format, FloatAccumulation::kNative); order matters
  kQuire,    // posit quire: an exact integer of 2^acc_lsb_exp units, its minimum meaning NaR
  kFixed,    // exact products in 2^acc_lsb_exp units, wrapping at the accumulator's width
};

// Everything a PE kind is, in one row: adding a kind is a row here (and, for a new number
// format, its definition in arith/). The table is in enum order (checked below).
struct PeKindInfo {
  PeKind kind;
  const char* name;            // hw.mac_array.pe, and the energy keys pe.mac.<name>
  const char* layer_format;    // a layer's "format" that runs on this kind
  const char* element_format;  // weights and activations, as arith::make_format names it
  uint32_t weight_bytes;       // per weight (0: packed ternary)
  uint32_t act_bytes;          // per activation
  uint32_t acc_bytes;          // per accumulator in the acc SRAM
  Accumulator accumulator;
  int acc_lsb_exp;            // kQuire, kFixed: the accumulator's unit (a product's LSB)
  const char* multiplier_op;  // the tech-library primitive a product costs,
  const char* adder_op;       // the one an accumulation costs,
  const char* convert_op;     // and the one rounding an accumulator to the element format
};

// clang-format off
inline constexpr PeKindInfo kPeKinds[] = {
  // kind                 name            format       element        w  a  acc accumulator          lsb  multiplier      adder         convert
  {PeKind::kTernaryInt8, "ternary_int8", "ternary",   "int8",        0, 1, 4,  Accumulator::kInteger,  0, "int8_add",     "int32_add",  ""},
  {PeKind::kInt8Int8,    "int8_int8",    "int8",      "int8",        1, 1, 4,  Accumulator::kInteger,  0, "int8_mult",    "int32_add",  ""},
  {PeKind::kFp16,        "fp16",         "fp16",      "fp16",        2, 2, 4,  Accumulator::kFloat,    0, "fp16_mult",    "fp32_add",   "float_convert"},
  {PeKind::kBf16,        "bf16",         "bf16",      "bf16",        2, 2, 4,  Accumulator::kFloat,    0, "bf16_mult",    "fp32_add",   "float_convert"},
  {PeKind::kFp8E4M3,     "fp8_e4m3",     "fp8_e4m3",  "fp8_e4m3",    1, 1, 4,  Accumulator::kFloat,    0, "fp8_mult",     "fp32_add",   "float_convert"},
  {PeKind::kFp8E5M2,     "fp8_e5m2",     "fp8_e5m2",  "fp8_e5m2",    1, 1, 4,  Accumulator::kFloat,    0, "fp8_mult",     "fp32_add",   "float_convert"},
  // minpos^2: 2^-12 for posit<8,0>, 2^-56 for posit<16,1>
  {PeKind::kPosit8,      "posit8_0",     "posit8_0",  "posit<8,0>",  1, 1, 8,  Accumulator::kQuire,  -12, "posit8_mult",  "int64_add",  "posit8_convert"},
  {PeKind::kPosit16,     "posit16_1",    "posit16_1", "posit<16,1>", 2, 2, 16, Accumulator::kQuire,  -56, "posit16_mult", "int128_add", "posit16_convert"},
  // 2^-2F, the LSB of a fixed<I,F> product
  {PeKind::kFixed2_6,    "fixed2_6",     "fixed2_6",  "fixed<2,6>",  1, 1, 4,  Accumulator::kFixed,  -12, "int8_mult",    "int32_add",  "int32_add"},
  {PeKind::kFixed2_14,   "fixed2_14",    "fixed2_14", "fixed<2,14>", 2, 2, 8,  Accumulator::kFixed,  -28, "int16_mult",   "int64_add",  "int64_add"},
  {PeKind::kFp32,        "fp32",         "fp32",      "fp32",        4, 4, 4,  Accumulator::kFloat,    0, "fp32_mult",    "fp32_add",   ""},
};
// clang-format on

constexpr bool pe_table_in_enum_order() {
  int i = 0;
  for (const PeKindInfo& info : kPeKinds) {
    if (static_cast<int>(info.kind) != i++) return false;
  }
  return i == kNumPeKinds;
}
static_assert(pe_table_in_enum_order(), "kPeKinds: one row per PeKind, in enum order");

constexpr const PeKindInfo& pe_info(PeKind kind) { return kPeKinds[static_cast<size_t>(kind)]; }

inline const char* to_string(PeKind p) { return pe_info(p).name; }

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
inline bool is_integer(PeKind k) { return pe_info(k).accumulator == Accumulator::kInteger; }

}  // namespace nmp::hw
