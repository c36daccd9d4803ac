// The vector unit's arithmetic, bit-accurate: every operation on values of the unit's internal
// format (any number format: fp32, fp16, bf16, posit<N,ES>, fixed<I,F>, ...) is computed
// exactly and rounded once to that format; functions go through piecewise-linear tables.
//
// Functions (docs/formats.md#vector-functions states each to the bit):
//   sigmoid, tanh    a PWL table on [-8, 8] / [-4, 4]; outside, the table's end value (the
//                    table clamps its input).
//   gelu, silu       a PWL table on [-8, 8] / [-16, 16]; below it 0, above it x itself.
//   exp              range reduction: t = x log2(e) (exact), i = floor(t), f = t - i rounded to
//                    the table's input; exp(x) = PWL_2^f(f) x 2^i, rounded once.
//   reciprocal       |x| = m 2^e with m in [1, 2): 1/x = sign x PWL_1/m(m) x 2^-e; 1/0 is the
//                    format's encoding of an infinity of x's sign (posit: NaR; fixed: saturated).
//   rsqrt            x = m 2^e with e even and m in [1, 4): PWL_rsqrt(m) x 2^(-e/2); x <= 0 is
//                    the format's NaN (posit: NaR; fixed: 0).
//   squared_relu     max(x, 0)^2: one exact multiply, rounded.
// Each table has `segments` segments; inputs and outputs are fixed point with `frac_bits`
// fraction bits (the table's input is the function's argument rounded to that grid), so the
// error is the table's max_abs_error() on its range (checked exhaustively by the tests), plus
// the final rounding to the internal format.
//
// Reductions (sum) have a defined order, that of a `lanes`-wide unit: lane j adds elements j,
// j + lanes, j + 2 lanes, ... in turn, then the lanes' partial sums are added pairwise, level by
// level ((0+1), (2+3), ...; an odd one passes through). They accumulate, as hardware does, in a
// wider accumulator format (every add rounded to it): by default fp32 for the float formats,
// posit<32,ES> for posit<N,ES> and fixed<I+G,F> for fixed<I,F> with G = 32 - I - F guard bits
// (`accumulator_format` overrides it). What follows a sum stays in that format until its one
// rounding to the internal format: softmax's reciprocal of the sum of exponentials, rmsnorm's
// rsqrt(sum x 1/n + eps), a mean's sum x 1/n. A sum written out is rounded to the internal
// format.
//
// Saturations: every result whose exact value exceeds the largest finite value of the format it
// is rounded to (NumberFormat::overflows) is counted, by kind of operation, so that a run can
// report where its arithmetic saturated.
//
// Example:
//   VectorMath vm({"fp16", 64, 12});
//   uint32_t y = vm.apply(VectorFunction::kSigmoid, vm.from_double(0.5));
#pragma once

#include <array>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "hw_models/arith/format.hpp"
#include "hw_models/arith/pwl.hpp"

namespace nmp::arith {

enum class VectorFunction : uint8_t {
  kSigmoid,
  kTanh,
  kExp,
  kGelu,
  kSilu,
  kSquaredRelu,
  kReciprocal,
  kRsqrt,
};
inline constexpr size_t kNumVectorFunctions = 8;
const char* to_string(VectorFunction f);
// The exact function, in double (the reference the errors are measured against).
double evaluate(VectorFunction f, double x);

struct VectorMathSpec {
  std::string format = "fp32";     // make_format name
  uint32_t pwl_segments = 64;      // per table; a power of two
  int pwl_frac_bits = 12;          // fraction bits of every table's input and output
  std::string accumulator_format;  // reductions' format; empty: the default for `format`
};

// The bytes of one element of the spec's format, without building the PWL tables (the
// lowerings' layout needs only this).
uint32_t element_bytes(const VectorMathSpec& spec);
// The reductions' default format for an internal format (see above).
std::string default_accumulator_format(const std::string& format);

// Kinds of operation whose results are counted when they saturate.
enum class VectorOpClass : uint8_t { kAdd, kMul, kFunction, kReduce, kConvert };
inline constexpr size_t kNumVectorOpClasses = 5;
const char* to_string(VectorOpClass c);
using SaturationCounts = std::array<uint64_t, kNumVectorOpClasses>;

class VectorMath {
 public:
  // Throws std::invalid_argument for an unknown format or an impossible table.
  explicit VectorMath(const VectorMathSpec& spec);

  const VectorMathSpec& spec() const { return spec_; }
  const NumberFormat& format() const { return *format_; }
  const NumberFormat& accumulator_format() const { return *acc_; }
  uint32_t element_bytes() const { return format_->element_bytes(); }
  // The format's family and width, for pricing its operations: fp32, fp16, bf16, fp8,
  // posit8/16/32 (by width), fixed8/16/32 (by width); the same for the accumulator format.
  std::string format_class() const { return class_of(*format_); }
  std::string accumulator_class() const { return class_of(*acc_); }
  static std::string class_of(const NumberFormat& format);

  Unpacked value(uint32_t x) const { return format_->decode(x); }
  // Rounds a value into the internal format (a conversion: counted if it saturates).
  uint32_t round(const Unpacked& v) const { return round_as(v, VectorOpClass::kConvert); }
  // A double rounded into the internal format; for fp32 a finite float's own bits, inline
  // (what rounding it gives, uncounted).
  uint32_t from_double(double d) const {
    if (native_fp32_) {
      const auto f = static_cast<float>(d);
      if (std::isfinite(d) && static_cast<double>(f) == d) return bits_of(f);
    }
    return from_double_exact(d);
  }
  // An integer (an integer kind's accumulator) rounded into the internal format, a conversion:
  // for fp32 the host's conversion (round to nearest even; no int32 overflows a float).
  uint32_t from_int32(int32_t v) const {
    if (native_fp32_) return bits_of(static_cast<float>(v));
    return round(Unpacked::from_signed(v, 0));
  }
  double to_double(uint32_t x) const { return format_->to_double(x); }

  // add, sub and mul: an fp32 internal format in the host's floats, here inline (the vector
  // unit's element loops); the others exactly, then rounded.
  uint32_t add(uint32_t a, uint32_t b) const {
    return native_fp32_ ? native_add(float_of(a), float_of(b)) : add_exact(a, b);
  }
  uint32_t sub(uint32_t a, uint32_t b) const {
    return native_fp32_ ? native_add(float_of(a), -float_of(b)) : sub_exact(a, b);
  }
  uint32_t mul(uint32_t a, uint32_t b) const {
    return native_fp32_ ? native_mul(float_of(a), float_of(b)) : mul_exact(a, b);
  }
  // NaN if either is NaN; of equals, a. An fp32 internal format compares host floats, inline.
  uint32_t max(uint32_t a, uint32_t b) const {
    if (!native_fp32_) return max_exact(a, b);
    const float x = float_of(a), y = float_of(b);
    if (std::isnan(x) || std::isnan(y)) return nan_;
    return x >= y ? a : b;
  }
  uint32_t min(uint32_t a, uint32_t b) const {
    if (!native_fp32_) return min_exact(a, b);
    const float x = float_of(a), y = float_of(b);
    if (std::isnan(x) || std::isnan(y)) return nan_;
    return x <= y ? a : b;
  }
  // |a| rounded to the format (NaN stays NaN).
  uint32_t abs(uint32_t a) const {
    if (!native_fp32_) return abs_exact(a);
    return std::isnan(float_of(a)) ? nan_ : a & 0x7fffffffu;
  }
  // Whether the internal format is IEEE binary32, computed in the host's floats.
  bool native_fp32() const { return native_fp32_; }
  // Whether x + y (x * y), both finite, is beyond FLT_MAX exactly, before rounding: a
  // saturation. The host's float add equals the exact sum rounded once; an exact sum of finite
  // floats beyond FLT_MAX shows in the double sum (exact but in the one case where it rounds to
  // FLT_MAX itself, which the sum's error term decides). The product of two floats is exact in
  // double. Branch-free (bitwise on the conditions), so that a row's loop vectorizes.
  static bool sum_overflows(float x, float y) {
    const double s = double{x} + double{y};
    const double yv = s - x;  // TwoSum: the exact sum is s + err
    const double err = (x - (s - yv)) + (y - yv);
    const int beyond = std::fabs(s) > FLT_MAX;
    const int rounded_down_to_max =
        int{std::fabs(s) == FLT_MAX} & int{err != 0} & int{(err > 0) == (s > 0)};
    return (finite_pair(x, y) & (beyond | rounded_down_to_max)) != 0;
  }
  static bool product_overflows(float x, float y) {
    return (finite_pair(x, y) & int{std::fabs(double{x} * double{y}) > FLT_MAX}) != 0;
  }
  // z[i] = x[i] op y[i] for i < n (y[0] for every i when y_scalar) over rows of little-endian
  // fp32 at any alignment, for an fp32 internal format: the bits and saturation counts of n
  // calls of add(), sub() or mul(), in one loop the host vectorizes.
  enum class NativeOp : uint8_t { kAdd, kSub, kMul };
  void native_row(NativeOp op, const uint8_t* x, const uint8_t* y, bool y_scalar, uint8_t* z,
                  size_t n) const;

  uint32_t apply(VectorFunction f, uint32_t x) const;
  // A function of any value (e.g. a sum in the accumulator format), rounded to the format.
  uint32_t apply(VectorFunction f, const Unpacked& x) const;
  // Sum of xs in the order of a `lanes`-wide unit (see above), in the accumulator format: its
  // exact value; 0 for no elements.
  Unpacked sum_wide(const std::vector<uint32_t>& xs, uint32_t lanes) const;
  // The same rounded to the internal format.
  uint32_t sum(const std::vector<uint32_t>& xs, uint32_t lanes) const;
  // sum x (1/n), n the elements, in the accumulator format, rounded once.
  uint32_t mean(const std::vector<uint32_t>& xs, uint32_t lanes) const;
  // rmsnorm's scale: rsqrt(sum of `squares` x 1/n + 2^-eps_log2), all in the accumulator
  // format until the rsqrt.
  uint32_t rms_scale(const std::vector<uint32_t>& squares, uint32_t eps_log2, uint32_t lanes) const;
  // softmax's scale: reciprocal(sum of `exps`), the sum in the accumulator format.
  uint32_t reciprocal_of_sum(const std::vector<uint32_t>& exps, uint32_t lanes) const;

  // Saturations since construction, by kind of operation (see above).
  const SaturationCounts& saturations() const { return saturations_; }

  // The PWL table a function uses (nullptr for squared_relu) and the range it covers.
  const PwlTable* table(VectorFunction f) const;

 private:
  uint32_t from_table(const PwlTable& t, int64_t y_raw, int32_t scale_exp, bool neg) const;
  int64_t table_input(const PwlTable& t, const Unpacked& x) const;
  uint32_t round_as(const Unpacked& v, VectorOpClass op) const;
  Unpacked round_wide(const Unpacked& v) const;  // to the accumulator format, exactly decoded
  Unpacked inverse_wide(uint32_t n) const;       // 1/n in the accumulator format
  uint32_t add_exact(uint32_t a, uint32_t b) const;
  uint32_t sub_exact(uint32_t a, uint32_t b) const;
  uint32_t mul_exact(uint32_t a, uint32_t b) const;
  uint32_t max_exact(uint32_t a, uint32_t b) const;
  uint32_t from_double_exact(double d) const;
  uint32_t min_exact(uint32_t a, uint32_t b) const;
  uint32_t abs_exact(uint32_t a) const;
  static int finite_pair(float x, float y) { return int{std::isfinite(x)} & int{std::isfinite(y)}; }
  static float float_of(uint32_t bits) {
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  static uint32_t bits_of(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
  }
  // add, sub and mul of an fp32 internal format in the host's IEEE floats (the same bits and
  // saturation counts as the exact path, tested).
  uint32_t native_add(float x, float y) const {
    const float r = x + y;
    if (std::isnan(r)) return nan_;
    saturations_[static_cast<size_t>(VectorOpClass::kAdd)] += sum_overflows(x, y);
    return bits_of(r);
  }
  uint32_t native_mul(float x, float y) const {
    const float r = x * y;
    if (std::isnan(r)) return nan_;
    saturations_[static_cast<size_t>(VectorOpClass::kMul)] += product_overflows(x, y);
    return bits_of(r);
  }

  VectorMathSpec spec_;
  std::unique_ptr<NumberFormat> format_;
  std::unique_ptr<NumberFormat> acc_;
  mutable SaturationCounts saturations_{};
  std::array<PwlSpec, kNumVectorFunctions> specs_;
  // Shared and immutable once built (table()); null until first used.
  mutable std::array<std::shared_ptr<const PwlTable>, kNumVectorFunctions> tables_;
  uint32_t zero_ = 0;
  bool native_fp32_ = false;
  uint32_t nan_ = 0;  // the format's NaN pattern
};

}  // namespace nmp::arith
