#include "hw_models/arith/vector_math.hpp"

#include <cfloat>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <tuple>

#include "hw_models/arith/minifloat.hpp"

namespace nmp::arith {
namespace {

// A table's domain, and the integer bits of its input and output grids.
struct TableShape {
  PwlFunction function;
  double lo, hi;
  int input_int_bits, output_int_bits;
};

TableShape shape_of(VectorFunction f) {
  switch (f) {
    case VectorFunction::kSigmoid:
      return {PwlFunction::kSigmoid, -8, 8, 5, 2};
    case VectorFunction::kTanh:
      return {PwlFunction::kTanh, -4, 4, 4, 2};
    case VectorFunction::kGelu:
      return {PwlFunction::kGelu, -8, 8, 5, 5};
    case VectorFunction::kSilu:
      return {PwlFunction::kSilu, -16, 16, 6, 6};
    case VectorFunction::kExp:
      return {PwlFunction::kExp2, 0, 1, 2, 3};
    case VectorFunction::kReciprocal:
      return {PwlFunction::kReciprocal, 1, 2, 3, 2};
    case VectorFunction::kRsqrt:
      return {PwlFunction::kRsqrt, 1, 4, 4, 2};
    case VectorFunction::kSquaredRelu:
      break;
  }
  throw std::logic_error("no table");
}

// Every table's coefficients: 4 integer bits, 4 more fraction bits than the grid.
constexpr int kCoeffIntBits = 4, kCoeffExtraFracBits = 4;
constexpr int kExpSaturationScale = 20;  // |x log2 e| >= 2^20: the result is 0 or overflows

}  // namespace

const char* to_string(VectorFunction f) {
  switch (f) {
    case VectorFunction::kSigmoid:
      return "sigmoid";
    case VectorFunction::kTanh:
      return "tanh";
    case VectorFunction::kExp:
      return "exp";
    case VectorFunction::kGelu:
      return "gelu";
    case VectorFunction::kSilu:
      return "silu";
    case VectorFunction::kSquaredRelu:
      return "squared_relu";
    case VectorFunction::kReciprocal:
      return "reciprocal";
    case VectorFunction::kRsqrt:
      return "rsqrt";
  }
  return "?";
}

double evaluate(VectorFunction f, double x) {
  switch (f) {
    case VectorFunction::kSigmoid:
      return evaluate(PwlFunction::kSigmoid, x);
    case VectorFunction::kTanh:
      return std::tanh(x);
    case VectorFunction::kExp:
      return std::exp(x);
    case VectorFunction::kGelu:
      return evaluate(PwlFunction::kGelu, x);
    case VectorFunction::kSilu:
      return evaluate(PwlFunction::kSilu, x);
    case VectorFunction::kSquaredRelu:
      return x > 0 ? x * x : 0.0;
    case VectorFunction::kReciprocal:
      return 1.0 / x;
    case VectorFunction::kRsqrt:
      return 1.0 / std::sqrt(x);
  }
  return 0.0;
}

const char* to_string(VectorOpClass c) {
  static const char* const kNames[] = {"add", "mul", "function", "reduce", "convert"};
  return kNames[static_cast<size_t>(c)];
}

uint32_t element_bytes(const VectorMathSpec& spec) {
  return make_format(spec.format)->element_bytes();
}

std::string default_accumulator_format(const std::string& format) {
  const std::unique_ptr<NumberFormat> f = make_format(format);
  const std::string name = f->name();
  if (name.rfind("posit", 0) == 0) {
    return "posit<32," + name.substr(name.find(',') + 1);  // posit<N,ES> -> posit<32,ES>
  }
  if (name.rfind("fixed", 0) == 0) {
    // fixed<I,F[,...]>: the same fraction bits, the integer bits widened to 32 bits in all.
    const int frac = f->lsb_scale() * -1;
    const std::string tail = name.substr(name.find(',', 6));  // ",F>" or ",F,trunc>"
    return "fixed<" + std::to_string(32 - frac) + tail;
  }
  return "fp32";
}

namespace {

// Tables by function and shape, built once per process: a run constructs its vector math in
// several places (generation, lowering, references), and building a table evaluates the
// function at every input to measure its error.
std::shared_ptr<const PwlTable> cached_table(size_t function, const PwlSpec& p) {
  static std::mutex mutex;
  static std::map<std::tuple<size_t, uint32_t, int>, std::shared_ptr<const PwlTable>> cache;
  const std::lock_guard<std::mutex> lock(mutex);
  auto& table = cache[{function, p.segments, p.input.frac_bits}];
  if (!table) table = std::make_shared<const PwlTable>(PwlTable::build(p));
  return table;
}

// One row of native_row for one operation: each element's bits (the format's NaN for a NaN)
// and the row's saturations, counted in a local so that the loop vectorizes.
template <VectorMath::NativeOp kOp>
[[gnu::always_inline]] inline uint64_t native_row_body(const uint8_t* x, const uint8_t* y,
                                                       bool y_scalar, uint8_t* z, size_t n,
                                                       uint32_t nan) {
  uint64_t overflows = 0;
  for (size_t i = 0; i < n; ++i) {
    float a, b;
    std::memcpy(&a, x + 4 * i, 4);
    std::memcpy(&b, y + (y_scalar ? 0 : 4 * i), 4);
    if constexpr (kOp == VectorMath::NativeOp::kSub) b = -b;
    float r;
    if constexpr (kOp == VectorMath::NativeOp::kMul) {
      r = a * b;
      overflows += VectorMath::product_overflows(a, b);
    } else {
      r = a + b;
      overflows += VectorMath::sum_overflows(a, b);
    }
    uint32_t bits;
    std::memcpy(&bits, &r, 4);
    bits = std::isnan(r) ? nan : bits;
    std::memcpy(z + 4 * i, &bits, 4);
  }
  return overflows;
}

__attribute__((target_clones("avx2", "default"))) uint64_t native_row_loop(
    VectorMath::NativeOp op, const uint8_t* x, const uint8_t* y, bool y_scalar, uint8_t* z,
    size_t n, uint32_t nan) {
  switch (op) {
    case VectorMath::NativeOp::kAdd:
      return native_row_body<VectorMath::NativeOp::kAdd>(x, y, y_scalar, z, n, nan);
    case VectorMath::NativeOp::kSub:
      return native_row_body<VectorMath::NativeOp::kSub>(x, y, y_scalar, z, n, nan);
    case VectorMath::NativeOp::kMul:
      return native_row_body<VectorMath::NativeOp::kMul>(x, y, y_scalar, z, n, nan);
  }
  return 0;
}

}  // namespace

void VectorMath::native_row(NativeOp op, const uint8_t* x, const uint8_t* y, bool y_scalar,
                            uint8_t* z, size_t n) const {
  if (!native_fp32_) throw std::logic_error("native_row is for an fp32 internal format");
  const VectorOpClass counted = op == NativeOp::kMul ? VectorOpClass::kMul : VectorOpClass::kAdd;
  saturations_[static_cast<size_t>(counted)] += native_row_loop(op, x, y, y_scalar, z, n, nan_);
}

VectorMath::VectorMath(const VectorMathSpec& spec)
    : spec_(spec),
      format_(make_format(spec.format)),
      acc_(make_format(spec.accumulator_format.empty() ? default_accumulator_format(spec.format)
                                                       : spec.accumulator_format)) {
  if (spec.pwl_segments == 0 || (spec.pwl_segments & (spec.pwl_segments - 1)) != 0) {
    throw std::invalid_argument("vector math: pwl_segments must be a power of two");
  }
  if (spec.pwl_frac_bits < 4 || spec.pwl_frac_bits > 20) {
    throw std::invalid_argument("vector math: pwl_frac_bits must be in [4, 20]");
  }
  for (size_t i = 0; i < kNumVectorFunctions; ++i) {
    const auto f = static_cast<VectorFunction>(i);
    if (f == VectorFunction::kSquaredRelu) continue;
    const TableShape s = shape_of(f);
    const int frac = spec.pwl_frac_bits;
    PwlSpec p;
    p.function = s.function;
    p.lo = s.lo;
    p.hi = s.hi;
    p.segments = spec.pwl_segments;
    p.input = {s.input_int_bits, frac};
    p.coeff = {kCoeffIntBits, frac + kCoeffExtraFracBits};
    p.output = {s.output_int_bits, frac};
    specs_[i] = p;
  }
  zero_ = format_->encode(Unpacked::zero());
  native_fp32_ = format_->name() == kFp32.name;
  nan_ = format_->encode(Unpacked::nan());
}

std::string VectorMath::class_of(const NumberFormat& format) {
  std::string name = format.name();
  const int bits = format.bits();
  const int width = bits <= 8 ? 8 : bits <= 16 ? 16 : 32;
  if (name.rfind("posit", 0) == 0) return "posit" + std::to_string(width);
  if (name.rfind("fixed", 0) == 0) return "fixed" + std::to_string(width);
  if (name.rfind("fp8", 0) == 0) return "fp8";
  return name;  // fp32, fp16, bf16
}

const PwlTable* VectorMath::table(VectorFunction f) const {
  // Built on first use: most runs evaluate few of the functions, and building one evaluates
  // it at every input.
  const auto i = static_cast<size_t>(f);
  if (!tables_[i] && f != VectorFunction::kSquaredRelu) tables_[i] = cached_table(i, specs_[i]);
  return tables_[i].get();
}

uint32_t VectorMath::round_as(const Unpacked& v, VectorOpClass op) const {
  saturations_[static_cast<size_t>(op)] += format_->overflows(v);
  return format_->encode(v);
}

Unpacked VectorMath::round_wide(const Unpacked& v) const {
  saturations_[static_cast<size_t>(VectorOpClass::kReduce)] += acc_->overflows(v);
  return acc_->decode(acc_->encode(v));
}

Unpacked VectorMath::inverse_wide(uint32_t n) const {
  return acc_->decode(acc_->encode(
      arith::div(Unpacked::from_integer(false, 1, 0), Unpacked::from_integer(false, n, 0))));
}

uint32_t VectorMath::add_exact(uint32_t a, uint32_t b) const {
  return round_as(arith::add(value(a), value(b)), VectorOpClass::kAdd);
}
uint32_t VectorMath::sub_exact(uint32_t a, uint32_t b) const {
  return round_as(arith::sub(value(a), value(b)), VectorOpClass::kAdd);
}
uint32_t VectorMath::from_double_exact(double d) const { return round(arith::from_double(d)); }

uint32_t VectorMath::mul_exact(uint32_t a, uint32_t b) const {
  return round_as(arith::mul(value(a), value(b)), VectorOpClass::kMul);
}

uint32_t VectorMath::max_exact(uint32_t a, uint32_t b) const {
  const Unpacked x = value(a), y = value(b);
  if (x.is_nan() || y.is_nan()) return round(Unpacked::nan());
  return compare(x, y) >= 0 ? a : b;
}

uint32_t VectorMath::min_exact(uint32_t a, uint32_t b) const {
  const Unpacked x = value(a), y = value(b);
  if (x.is_nan() || y.is_nan()) return round(Unpacked::nan());
  return compare(x, y) <= 0 ? a : b;
}

uint32_t VectorMath::abs_exact(uint32_t a) const {
  Unpacked u = value(a);
  u.neg = false;
  return round(u);
}

int64_t VectorMath::table_input(const PwlTable& t, const Unpacked& x) const {
  const FixedFormat& in = t.spec().input;
  return in.raw(in.encode(x));  // nearest even, saturating
}

uint32_t VectorMath::from_table(const PwlTable& t, int64_t y_raw, int32_t scale_exp,
                                bool neg) const {
  const bool y_neg = y_raw < 0;
  const auto magnitude = static_cast<uint64_t>(y_neg ? -y_raw : y_raw);
  return round_as(
      Unpacked::from_integer(neg != y_neg, magnitude, scale_exp - t.spec().output.frac_bits),
      VectorOpClass::kFunction);
}

uint32_t VectorMath::apply(VectorFunction f, uint32_t x) const { return apply(f, value(x)); }

uint32_t VectorMath::apply(VectorFunction f, const Unpacked& u) const {
  const auto out = [&](const Unpacked& v) { return round_as(v, VectorOpClass::kFunction); };
  if (u.is_nan()) return out(Unpacked::nan());
  const PwlTable* t = table(f);
  switch (f) {
    case VectorFunction::kSigmoid:
    case VectorFunction::kTanh:
      return from_table(*t, t->eval_raw(table_input(*t, u)), 0, false);
    case VectorFunction::kGelu:
    case VectorFunction::kSilu: {
      if (compare(u, arith::from_double(t->spec().lo)) < 0) return zero_;
      if (compare(u, arith::from_double(t->spec().hi)) > 0) return out(u);
      return from_table(*t, t->eval_raw(table_input(*t, u)), 0, false);
    }
    case VectorFunction::kSquaredRelu:
      if (u.neg || u.is_zero()) return zero_;
      return out(arith::mul(u, u));
    case VectorFunction::kExp: {
      if (u.is_inf()) return u.neg ? zero_ : out(Unpacked::inf(false));
      const Unpacked tx =
          arith::mul(u, arith::from_double(1.4426950408889634));  // log2(e), in double
      if (tx.is_finite_nonzero() && tx.scale >= kExpSaturationScale) {
        return tx.neg ? zero_ : out(Unpacked::inf(false));
      }
      // t rounded once onto the table's grid, then split into its integer and fraction parts.
      const int frac = t->spec().input.frac_bits;
      const Rounded r = round_to_lsb(tx, -frac);
      const int64_t t_raw =
          tx.neg ? -static_cast<int64_t>(r.magnitude) : static_cast<int64_t>(r.magnitude);
      const int64_t i = t_raw >> frac;                         // floor
      const int64_t f_raw = t_raw - i * (int64_t{1} << frac);  // i may be negative
      return from_table(*t, t->eval_raw(f_raw), static_cast<int32_t>(i), false);
    }
    case VectorFunction::kReciprocal: {
      if (u.is_zero()) return out(Unpacked::inf(u.neg));
      if (u.is_inf()) return out(Unpacked::zero(u.neg));
      // |x| = m 2^scale, m = sig 2^-63 in [1, 2): m onto the grid, then 1/m scaled back.
      const int frac = t->spec().input.frac_bits;
      Unpacked m = u;
      m.neg = false;
      m.scale = 0;
      const auto m_raw = static_cast<int64_t>(round_to_lsb(m, -frac).magnitude);
      return from_table(*t, t->eval_raw(m_raw), -u.scale, u.neg);
    }
    case VectorFunction::kRsqrt: {
      if (u.neg || u.is_zero()) return out(Unpacked::nan());
      if (u.is_inf()) return zero_;
      const int frac = t->spec().input.frac_bits;
      const int32_t odd = u.scale & 1;  // m in [2, 4) when the scale is odd
      Unpacked m = u;
      m.scale = odd;
      const auto m_raw = static_cast<int64_t>(round_to_lsb(m, -frac).magnitude);
      return from_table(*t, t->eval_raw(m_raw), -((u.scale - odd) / 2), false);
    }
  }
  return zero_;
}

Unpacked VectorMath::sum_wide(const std::vector<uint32_t>& xs, uint32_t lanes) const {
  if (xs.empty()) return Unpacked::zero();
  std::vector<Unpacked> partial;
  for (size_t j = 0; j < lanes && j < xs.size(); ++j) {
    Unpacked s = round_wide(value(xs[j]));
    for (size_t i = j + lanes; i < xs.size(); i += lanes) {
      s = round_wide(arith::add(s, value(xs[i])));
    }
    partial.push_back(s);
  }
  while (partial.size() > 1) {
    std::vector<Unpacked> next;
    for (size_t i = 0; i + 1 < partial.size(); i += 2) {
      next.push_back(round_wide(arith::add(partial[i], partial[i + 1])));
    }
    if (partial.size() % 2) next.push_back(partial.back());
    partial.swap(next);
  }
  return partial[0];
}

uint32_t VectorMath::sum(const std::vector<uint32_t>& xs, uint32_t lanes) const {
  return round_as(sum_wide(xs, lanes), VectorOpClass::kReduce);
}

uint32_t VectorMath::mean(const std::vector<uint32_t>& xs, uint32_t lanes) const {
  const auto n = static_cast<uint32_t>(xs.size());
  return round_as(arith::mul(sum_wide(xs, lanes), inverse_wide(n)), VectorOpClass::kReduce);
}

uint32_t VectorMath::rms_scale(const std::vector<uint32_t>& squares, uint32_t eps_log2,
                               uint32_t lanes) const {
  const auto n = static_cast<uint32_t>(squares.size());
  const Unpacked eps = Unpacked::from_integer(false, 1, -static_cast<int32_t>(eps_log2));
  const Unpacked mean = round_wide(arith::mul(sum_wide(squares, lanes), inverse_wide(n)));
  return apply(VectorFunction::kRsqrt,
               round_wide(arith::add(mean, acc_->decode(acc_->encode(eps)))));
}

uint32_t VectorMath::reciprocal_of_sum(const std::vector<uint32_t>& exps, uint32_t lanes) const {
  return apply(VectorFunction::kReciprocal, sum_wide(exps, lanes));
}

}  // namespace nmp::arith
