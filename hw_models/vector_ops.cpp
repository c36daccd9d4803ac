#include "hw_models/vector_ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "hw_models/arith/convert.hpp"
#include "hw_models/arith/fixed.hpp"
#include "hw_models/kernels.hpp"

namespace nmp::hw {
namespace {

using arith::Unpacked;
using arith::VectorFunction;

const arith::FixedFormat kInt8Format{8, 0};
const arith::FixedFormat kInt32Format{32, 0};

// int8 results saturate symmetrically: -128 is never produced.
// symmetric_int8 of an fp32 value, in the host's floats: round to nearest even (the default
// rounding mode), saturate to [-127, 127]; NaN is 0, as the exact path has it. The clamps are
// comparisons (which keep a NaN) so that a row's loop vectorizes, nearbyint then one
// instruction (SSE4.1 on).
[[gnu::always_inline]] inline uint8_t symmetric_int8_of_fp32(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, 4);
  float clamped = x < -127.0f ? -127.0f : x;
  clamped = clamped > 127.0f ? 127.0f : clamped;
  const float q = std::isnan(x) ? 0.0f : std::nearbyint(clamped);
  return static_cast<uint8_t>(static_cast<int8_t>(q));
}

// symmetric_int8_of_fp32 over a row of n fp32 values.
__attribute__((target_clones("avx2", "default"))) void symmetric_int8_row(const uint8_t* fp32,
                                                                          uint8_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, fp32 + 4 * i, 4);
    out[i] = symmetric_int8_of_fp32(bits);
  }
}

uint32_t symmetric_int8(const Unpacked& v) {
  const uint32_t p = kInt8Format.encode(v);
  return p == 0x80 ? 0x81 : p;
}

}  // namespace

uint32_t VectorOps::bytes(ElemType t) const {
  switch (t) {
    case ElemType::kInt8:
      return 1;
    case ElemType::kInt32:
      return 4;
    case ElemType::kVec:
    case ElemType::kStored:
      return math_.element_bytes();
    case ElemType::kAct:
      return pe_traits(pe_).act_bytes;
    case ElemType::kAcc:
      return pe_traits(pe_, accumulation_).acc_bytes;
  }
  return 1;
}

uint32_t VectorOps::as_stored(uint32_t vec) const {
  if (stored_ == nullptr) return vec;
  const Unpacked v = math_.value(vec);
  stored_saturations_ += stored_->overflows(v);
  return math_.round(stored_->decode(stored_->encode(v)));
}

void VectorOps::make_act_converter() {
  if (!math_.native_fp32() || is_integer(pe_)) return;  // the integer kinds round their own way
  fp32_ = arith::make_format("fp32");
  vec_to_act_ = std::make_shared<arith::ElementConverter>(*fp32_, activation_format(pe_));
}

uint32_t VectorOps::load_vec(const uint8_t* p) const {
  uint32_t v = 0;
  std::memcpy(&v, p, math_.element_bytes());  // little-endian
  return v;
}

void VectorOps::store_vec(uint8_t* p, uint32_t v) const {
  std::memcpy(p, &v, math_.element_bytes());
}

Unpacked VectorOps::value(ElemType t, const uint8_t* p) const {
  switch (t) {
    case ElemType::kInt8:
      return kInt8Format.decode(*p);
    case ElemType::kInt32: {
      uint32_t v;
      std::memcpy(&v, p, 4);
      return kInt32Format.decode(v);
    }
    case ElemType::kVec:
    case ElemType::kStored:
      return math_.value(load_vec(p));
    case ElemType::kAct: {
      uint32_t v = 0;
      std::memcpy(&v, p, pe_traits(pe_).act_bytes);
      return activation_format(pe_).decode(v);
    }
    case ElemType::kAcc:
      return accumulator_value(pe_, accumulation_, p);
  }
  return Unpacked::nan();
}

void VectorOps::store(ElemType t, uint8_t* p, const Unpacked& v) const {
  const bool int_act = is_integer(pe_);
  switch (t) {
    case ElemType::kInt8:
      *p = static_cast<uint8_t>(symmetric_int8(v));
      return;
    case ElemType::kInt32: {
      const uint32_t q = kInt32Format.encode(v);
      std::memcpy(p, &q, 4);
      return;
    }
    case ElemType::kVec:
      store_vec(p, math_.round(v));
      return;
    case ElemType::kStored:
      store_vec(p, as_stored(math_.round(v)));
      return;
    case ElemType::kAct: {
      const uint32_t q = int_act ? symmetric_int8(v) : activation_format(pe_).encode(v);
      std::memcpy(p, &q, pe_traits(pe_).act_bytes);
      return;
    }
    case ElemType::kAcc:
      break;  // rejected when the command issues
  }
}

void VectorOps::convert(ElemType from, Rows src, ElemType to, Rows dst, uint32_t m,
                        uint32_t n) const {
  const uint32_t in = bytes(from), out = bytes(to);
  const bool int_kind = is_integer(pe_);
  if (from == ElemType::kVec && to == ElemType::kAct && math_.native_fp32() && int_kind) {
    for (uint32_t r = 0; r < m; ++r) symmetric_int8_row(src.row(r), dst.row(r), n);
    return;
  }
  if (from == ElemType::kAcc && to == ElemType::kVec && math_.native_fp32() && int_kind) {
    // int32 accumulators to fp32: the host's conversion rounds to nearest even, as the exact
    // path does, and cannot overflow.
    for (uint32_t r = 0; r < m; ++r) {
      for (uint32_t i = 0; i < n; ++i) {
        int32_t acc;
        std::memcpy(&acc, src.row(r) + uint64_t{i} * in, 4);
        const auto f = static_cast<float>(acc);
        std::memcpy(dst.row(r) + uint64_t{i} * out, &f, 4);
      }
    }
    return;
  }
  if (from == ElemType::kVec && to == ElemType::kAct && vec_to_act_) {
    for (uint32_t r = 0; r < m; ++r) vec_to_act_->convert(src.row(r), dst.row(r), n);
    return;
  }
  for (uint32_t r = 0; r < m; ++r) {
    for (uint32_t i = 0; i < n; ++i) {
      store(to, dst.row(r) + uint64_t{i} * out, value(from, src.row(r) + uint64_t{i} * in));
    }
  }
}

void VectorOps::binary(VectorBinary op, Rows dst, Rows a, Rows b, bool b_scalar, uint32_t m,
                       uint32_t n, ElemType result) const {
  const uint32_t eb = math_.element_bytes(), out = bytes(result);
  // Rounding fp32 results to int8 (quantizing rows for the integer kinds) in the host's floats.
  const bool int8_of_fp32 = math_.native_fp32() && (result == ElemType::kInt8 ||
                                                    (result == ElemType::kAct && is_integer(pe_)));
  const bool native =
      op == VectorBinary::kAdd || op == VectorBinary::kSub || op == VectorBinary::kMul;
  if (math_.native_fp32() && native && (int8_of_fp32 || result == ElemType::kVec)) {
    // Each row in one loop of the host's floats; rounded to int8 from a row of fp32 results.
    const auto native_op = op == VectorBinary::kAdd   ? arith::VectorMath::NativeOp::kAdd
                           : op == VectorBinary::kSub ? arith::VectorMath::NativeOp::kSub
                                                      : arith::VectorMath::NativeOp::kMul;
    for (uint32_t r = 0; r < m; ++r) {
      if (!int8_of_fp32) {
        math_.native_row(native_op, a.row(r), b.row(r), b_scalar, dst.row(r), n);
        continue;
      }
      constexpr uint32_t kChunk = 256;  // fp32 results on the stack, then rounded to int8
      uint8_t fp32[4 * kChunk];
      for (uint32_t i = 0; i < n; i += kChunk) {
        const uint32_t count = std::min(kChunk, n - i);
        math_.native_row(native_op, a.row(r) + 4 * uint64_t{i},
                         b.row(r) + (b_scalar ? 0 : 4 * uint64_t{i}), b_scalar, fp32, count);
        symmetric_int8_row(fp32, dst.row(r) + i, count);
      }
    }
    return;
  }
  for (uint32_t r = 0; r < m; ++r) {
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t x = load_vec(a.row(r) + uint64_t{i} * eb);
      const uint32_t y = load_vec(b.row(r) + (b_scalar ? 0 : uint64_t{i} * eb));
      uint32_t z = 0;
      switch (op) {
        case VectorBinary::kAdd:
          z = math_.add(x, y);
          break;
        case VectorBinary::kSub:
          z = math_.sub(x, y);
          break;
        case VectorBinary::kMul:
          z = math_.mul(x, y);
          break;
        case VectorBinary::kMax:
          z = math_.max(x, y);
          break;
        case VectorBinary::kMin:
          z = math_.min(x, y);
          break;
      }
      uint8_t* at = dst.row(r) + uint64_t{i} * out;
      if (result == ElemType::kVec) {
        store_vec(at, z);
      } else if (result == ElemType::kStored) {
        store_vec(at, as_stored(z));
      } else if (int8_of_fp32) {
        *at = symmetric_int8_of_fp32(z);
      } else {
        store(result, at, math_.value(z));
      }
    }
  }
}

void VectorOps::function(VectorFunction f, Rows dst, Rows src, uint32_t m, uint32_t n) const {
  const uint32_t eb = math_.element_bytes();
  for (uint32_t r = 0; r < m; ++r) {
    for (uint32_t i = 0; i < n; ++i) {
      store_vec(dst.row(r) + uint64_t{i} * eb,
                math_.apply(f, load_vec(src.row(r) + uint64_t{i} * eb)));
    }
  }
}

void VectorOps::rope(Rows dst, Rows src, Rows cos, Rows sin, uint32_t m, uint32_t n,
                     uint32_t heads) const {
  const uint64_t eb = math_.element_bytes(), half = n / 2;
  for (uint32_t r = 0; r < m; ++r) {
    for (uint64_t h = 0; h < heads; ++h) {
      const uint8_t* x = src.row(r) + h * n * eb;
      uint8_t* y = dst.row(r) + h * n * eb;
      for (uint64_t i = 0; i < half; ++i) {
        const uint32_t x1 = load_vec(x + i * eb), x2 = load_vec(x + (half + i) * eb);
        const uint32_t c = load_vec(cos.row(r) + i * eb), s = load_vec(sin.row(r) + i * eb);
        store_vec(y + i * eb, math_.sub(math_.mul(x1, c), math_.mul(x2, s)));
        store_vec(y + (half + i) * eb, math_.add(math_.mul(x2, c), math_.mul(x1, s)));
      }
    }
  }
}

void VectorOps::reduce(VectorReduce op, uint8_t* dst, Rows src, uint32_t m, uint32_t n) const {
  const uint32_t eb = math_.element_bytes();
  if (op == VectorReduce::kAbsMax && math_.native_fp32()) {
    // A float's magnitude is its bits without the sign, and magnitudes order as those bits do
    // (as unsigned integers) with every NaN above infinity: the largest is a NaN exactly when
    // the row holds one, and abs() turns it into the format's NaN, as max() would.
    for (uint32_t r = 0; r < m; ++r) {
      const uint8_t* row = src.row(r);
      uint32_t largest = 0;
      for (uint32_t i = 0; i < n; ++i) {
        uint32_t bits;
        std::memcpy(&bits, row + 4 * uint64_t{i}, 4);
        largest = std::max(largest, bits & 0x7fffffffu);
      }
      store_vec(dst + uint64_t{r} * eb, math_.abs(largest));
    }
    return;
  }
  std::vector<uint32_t> xs(n);
  for (uint32_t r = 0; r < m; ++r) {
    for (uint32_t i = 0; i < n; ++i) xs[i] = load_vec(src.row(r) + uint64_t{i} * eb);
    uint32_t result = xs[0];
    switch (op) {
      case VectorReduce::kMax:
        for (uint32_t i = 1; i < n; ++i) result = math_.max(result, xs[i]);
        break;
      case VectorReduce::kAbsMax:
        result = math_.abs(xs[0]);
        for (uint32_t i = 1; i < n; ++i) result = math_.max(result, math_.abs(xs[i]));
        break;
      case VectorReduce::kSum:
        result = math_.sum(xs, lanes_);
        break;
      case VectorReduce::kSumSquares:
        for (uint32_t& x : xs) x = math_.mul(x, x);
        result = math_.sum(xs, lanes_);
        break;
      case VectorReduce::kMean:
        result = math_.mean(xs, lanes_);
        break;
    }
    store_vec(dst + uint64_t{r} * eb, result);
  }
}

void VectorOps::softmax(Rows dst, Rows src, uint32_t m, uint32_t n, uint32_t valid, bool causal,
                        uint32_t offset, const SoftmaxFusion& fusion) const {
  const uint32_t eb = math_.element_bytes();
  if (fusion.src != ElemType::kVec || fusion.scale != nullptr || fusion.dst != ElemType::kVec) {
    // The commands it fuses, in turn, on rows of vec elements of its own (buffers kept from
    // one command to the next: attention runs one per head and tile).
    std::vector<uint8_t>& x = fused_rows_[0];
    x.resize(uint64_t{m} * n * eb);
    const Rows xs{x.data(), uint64_t{n} * eb};
    if (fusion.src == ElemType::kVec) {
      for (uint32_t r = 0; r < m; ++r) std::memcpy(xs.row(r), src.row(r), uint64_t{n} * eb);
    } else {
      convert(fusion.src, src, ElemType::kVec, xs, m, n);
    }
    if (fusion.scale != nullptr) binary(VectorBinary::kMul, xs, xs, *fusion.scale, true, m, n);
    if (fusion.dst == ElemType::kVec) {
      softmax(dst, xs, m, n, valid, causal, offset);
      return;
    }
    std::vector<uint8_t>& y = fused_rows_[1];
    y.resize(x.size());
    const Rows ys{y.data(), xs.stride};
    softmax(ys, xs, m, n, valid, causal, offset);
    convert(ElemType::kVec, ys, fusion.dst, dst, m, n);
    return;
  }
  const uint32_t zero = math_.round(Unpacked::zero());
  std::vector<uint32_t> e;
  for (uint32_t r = 0; r < m; ++r) {
    uint32_t v = std::min(valid, n);
    if (causal) v = static_cast<uint32_t>(std::min<uint64_t>(v, uint64_t{offset} + r + 1));
    for (uint32_t i = v; i < n; ++i) store_vec(dst.row(r) + uint64_t{i} * eb, zero);
    if (v == 0) continue;
    uint32_t mx = load_vec(src.row(r));
    for (uint32_t i = 1; i < v; ++i) mx = math_.max(mx, load_vec(src.row(r) + uint64_t{i} * eb));
    e.resize(v);
    for (uint32_t i = 0; i < v; ++i) {
      e[i] =
          math_.apply(VectorFunction::kExp, math_.sub(load_vec(src.row(r) + uint64_t{i} * eb), mx));
    }
    const uint32_t inv = math_.reciprocal_of_sum(e, lanes_);
    for (uint32_t i = 0; i < v; ++i) store_vec(dst.row(r) + uint64_t{i} * eb, math_.mul(e[i], inv));
  }
}

void VectorOps::rmsnorm(Rows dst, Rows src, const uint8_t* gain, uint32_t m, uint32_t n,
                        uint32_t eps_log2) const {
  const uint32_t eb = math_.element_bytes();
  std::vector<uint32_t> sq(n);
  for (uint32_t r = 0; r < m; ++r) {
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t x = load_vec(src.row(r) + uint64_t{i} * eb);
      sq[i] = math_.mul(x, x);
    }
    const uint32_t scale = math_.rms_scale(sq, eps_log2, lanes_);
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t x = load_vec(src.row(r) + uint64_t{i} * eb);
      const uint32_t g = load_vec(gain + uint64_t{i} * eb);
      store_vec(dst.row(r) + uint64_t{i} * eb, math_.mul(math_.mul(x, scale), g));
    }
  }
}

void VectorOps::layernorm(Rows dst, Rows src, const uint8_t* gain, const uint8_t* bias, uint32_t m,
                          uint32_t n, uint32_t eps_log2) const {
  const uint32_t eb = math_.element_bytes();
  std::vector<uint32_t> xs(n), centred(n), sq(n);
  for (uint32_t r = 0; r < m; ++r) {
    for (uint32_t i = 0; i < n; ++i) xs[i] = load_vec(src.row(r) + uint64_t{i} * eb);
    const uint32_t mean = math_.mean(xs, lanes_);
    for (uint32_t i = 0; i < n; ++i) {
      centred[i] = math_.sub(xs[i], mean);
      sq[i] = math_.mul(centred[i], centred[i]);
    }
    const uint32_t scale = math_.rms_scale(sq, eps_log2, lanes_);
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t g = load_vec(gain + uint64_t{i} * eb), b = load_vec(bias + uint64_t{i} * eb);
      store_vec(dst.row(r) + uint64_t{i} * eb,
                math_.add(math_.mul(math_.mul(centred[i], scale), g), b));
    }
  }
}

void VectorOps::lstm_cell(Rows gates, Rows c, Rows h, uint32_t m, uint32_t n) const {
  const uint64_t eb = math_.element_bytes();
  for (uint32_t r = 0; r < m; ++r) {
    const uint8_t* g = gates.row(r);
    for (uint32_t j = 0; j < n; ++j) {
      const uint32_t i_gate = math_.apply(VectorFunction::kSigmoid, load_vec(g + j * eb));
      const uint32_t f_gate = math_.apply(VectorFunction::kSigmoid, load_vec(g + (n + j) * eb));
      const uint32_t g_cand = math_.apply(VectorFunction::kTanh, load_vec(g + (2 * n + j) * eb));
      const uint32_t o_gate = math_.apply(VectorFunction::kSigmoid, load_vec(g + (3 * n + j) * eb));
      uint8_t* c_j = c.row(r) + j * eb;
      const uint32_t c_new = math_.add(math_.mul(f_gate, load_vec(c_j)), math_.mul(i_gate, g_cand));
      store_vec(c_j, c_new);
      store_vec(h.row(r) + j * eb, math_.mul(o_gate, math_.apply(VectorFunction::kTanh, c_new)));
    }
  }
}

void VectorOps::gru_cell(Rows gx, Rows gh, Rows h, uint32_t m, uint32_t n) const {
  const uint64_t eb = math_.element_bytes();
  const uint32_t one = math_.round(Unpacked::from_integer(false, 1, 0));
  for (uint32_t r = 0; r < m; ++r) {
    const uint8_t* x = gx.row(r);
    const uint8_t* y = gh.row(r);
    for (uint32_t j = 0; j < n; ++j) {
      const uint32_t reset = math_.apply(VectorFunction::kSigmoid,
                                         math_.add(load_vec(x + j * eb), load_vec(y + j * eb)));
      const uint32_t update =
          math_.apply(VectorFunction::kSigmoid,
                      math_.add(load_vec(x + (n + j) * eb), load_vec(y + (n + j) * eb)));
      const uint32_t cand = math_.apply(
          VectorFunction::kTanh, math_.add(load_vec(x + (2 * n + j) * eb),
                                           math_.mul(reset, load_vec(y + (2 * n + j) * eb))));
      uint8_t* h_j = h.row(r) + j * eb;
      const uint32_t h_new =
          math_.add(math_.mul(math_.sub(one, update), cand), math_.mul(update, load_vec(h_j)));
      store_vec(h_j, h_new);
    }
  }
}

}  // namespace nmp::hw
