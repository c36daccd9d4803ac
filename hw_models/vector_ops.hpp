// What the vector unit's element-wise, reduction, normalization and recurrent-cell commands
// compute, bit for bit, on rows of SRAM bytes (docs/isa.md gives each command). No timing here.
//
// Values live in one of six element types: int8, int32, `vec` (the unit's internal format,
// VectorMath), `act` (the MAC array's activation format), `acc` (its accumulator: int32,
// fp32 or a quire) and `stored` (`vec` elements holding what a tensor in DRAM holds: each value
// rounded to the stored format, dram.activation_format, then to `vec`, as a DMA store and a load
// back would leave it; a fused epilogue rounds through it). Every operation is exact and then
// rounded once to `vec`
// (arith/vector_math.hpp); conversions to int8 and int32 round to nearest even and saturate
// (int8 to [-127, 127], symmetric, as the requantizer does).
//
// Example:
//   VectorOps ops(math, PeKind::kInt8Int8, 64);
//   ops.binary(VectorBinary::kAdd, dst, a, b, false, m, n);
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "hw_models/arith/convert.hpp"
#include "hw_models/arith/vector_math.hpp"
#include "hw_models/pe.hpp"

namespace nmp::hw {

enum class ElemType : uint8_t { kInt8, kInt32, kVec, kAct, kAcc, kStored };
enum class VectorBinary : uint8_t { kAdd, kSub, kMul, kMax, kMin };
enum class VectorReduce : uint8_t { kMax, kSum, kSumSquares, kAbsMax, kMean };
// What vbin's `round` operand (isa.hpp) stores, by its value: vec, then stored or act.
inline constexpr ElemType kVbinRounding[] = {ElemType::kVec, ElemType::kStored, ElemType::kAct};

// m rows at base + row * stride.
struct Rows {
  uint8_t* base = nullptr;
  uint64_t stride = 0;
  uint8_t* row(uint64_t r) const { return base + r * stride; }
};

// softmax's fused operands (isa: softmax's src_type, scale_mode, dst_type): src's element
// type (vec or acc), the scale's rows (null: none; stride 0: one element for every row) and
// dst's type (vec or act). The values are those of vact, softmax and vcvt in turn.
struct SoftmaxFusion {
  ElemType src = ElemType::kVec;
  const Rows* scale = nullptr;
  ElemType dst = ElemType::kVec;
};

class VectorOps {
 public:
  // `stored`: the format of tensors in DRAM (null: the vector format).
  VectorOps(const arith::VectorMath& math, PeKind pe, FloatAccumulation accumulation,
            uint32_t lanes, const arith::NumberFormat* stored = nullptr)
      : math_(math), pe_(pe), accumulation_(accumulation), lanes_(lanes), stored_(stored) {
    make_act_converter();
  }

  uint32_t bytes(ElemType t) const;

  void convert(ElemType from, Rows src, ElemType to, Rows dst, uint32_t m, uint32_t n) const;
  // b_scalar: b holds one element per row, applied to the whole row of a. Each result is
  // rounded to vec, then stored as `result`: vec, stored or act.
  void binary(VectorBinary op, Rows dst, Rows a, Rows b, bool b_scalar, uint32_t m, uint32_t n,
              ElemType result = ElemType::kVec) const;
  void function(arith::VectorFunction f, Rows dst, Rows src, uint32_t m, uint32_t n) const;
  // Rotary embedding of m rows of `heads` heads of n (even) elements: each head's halves x1,
  // x2 into x1 c - x2 s and x2 c + x1 s, c and s from the row's tables of n / 2; every
  // operation rounded once to vec.
  void rope(Rows dst, Rows src, Rows cos, Rows sin, uint32_t m, uint32_t n, uint32_t heads) const;
  // dst: m consecutive elements.
  void reduce(VectorReduce op, uint8_t* dst, Rows src, uint32_t m, uint32_t n) const;
  // Per row i, columns j < v_i take part, v_i = valid (causal: min(valid, offset + i + 1));
  // the rest are written as 0. A row with v_i = 0 is all 0.
  void softmax(Rows dst, Rows src, uint32_t m, uint32_t n, uint32_t valid, bool causal,
               uint32_t offset, const SoftmaxFusion& fusion = {}) const;
  void rmsnorm(Rows dst, Rows src, const uint8_t* gain, uint32_t m, uint32_t n,
               uint32_t eps_log2) const;
  // vred mean, vbin subtracting it, rmsnorm and vbin adding the bias in turn: their values.
  void layernorm(Rows dst, Rows src, const uint8_t* gain, const uint8_t* bias, uint32_t m,
                 uint32_t n, uint32_t eps_log2) const;
  // gates rows: [i | f | g | o] pre-activations, n each; c updated in place; h written.
  void lstm_cell(Rows gates, Rows c, Rows h, uint32_t m, uint32_t n) const;
  // gx, gh rows: [r | z | n] pre-activations of the input and of the hidden state, biases
  // included; h updated in place: h = (1 - z) * tanh(gx_n + r * gh_n) + z * h.
  void gru_cell(Rows gx, Rows gh, Rows h, uint32_t m, uint32_t n) const;
  // Values rounded to the stored format beyond its largest finite value, since construction.
  uint64_t stored_saturations() const { return stored_saturations_; }

 private:
  arith::Unpacked value(ElemType t, const uint8_t* p) const;
  void store(ElemType t, uint8_t* p, const arith::Unpacked& v) const;  // one rounding
  // A vec pattern rounded through the stored format and back (unchanged without one).
  uint32_t as_stored(uint32_t vec) const;
  uint32_t load_vec(const uint8_t* p) const;
  void store_vec(uint8_t* p, uint32_t v) const;
  // fp32 vec rows into a float kind's activation format in the host's floats: built once.
  void make_act_converter();

  const arith::VectorMath& math_;
  PeKind pe_;
  FloatAccumulation accumulation_;
  uint32_t lanes_;
  const arith::NumberFormat* stored_;
  mutable uint64_t stored_saturations_ = 0;
  mutable std::array<std::vector<uint8_t>, 2> fused_rows_;  // softmax's scratch rows (x, y)
  std::shared_ptr<const arith::NumberFormat> fp32_;
  std::shared_ptr<const arith::ElementConverter> vec_to_act_;  // null: through Unpacked
};

}  // namespace nmp::hw
