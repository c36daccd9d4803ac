// Piecewise-linear (PWL) approximation of activation functions, evaluated bit-accurately in
// fixed point, as a vector unit does it.
//
// A table covers [lo, hi] with `segments` equal segments; the segment width must be an exact
// multiple of the input format's LSB (a power-of-two count of LSBs makes the segment index a
// shift in hardware). Per segment, the slope and intercept of the minimax line through the
// function on that segment (the chord, shifted by half its largest and smallest deviations)
// are rounded to nearest-even in the coefficient format. Evaluation of an input pattern x:
//   x is clamped to [lo, hi]; i = min((x - lo) / width, segments - 1) (integer division);
//   y = slope[i] * x + intercept[i], computed exactly in integers, then rounded to nearest-even
//   into the output format with saturation.
// max_abs_error() evaluates every representable input of [lo, hi] against the function in
// double precision and returns the largest |y - f(x)|: the table's error bound on its range.
//
// Example:
//   PwlSpec spec{PwlFunction::kSigmoid, -8, 8, 32, {5, 11}, {4, 12}, {4, 12}};
//   PwlTable t = PwlTable::build(spec);
//   int64_t y = t.eval_raw(x_raw);  double e = t.max_abs_error();
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw_models/arith/fixed.hpp"

namespace nmp::arith {

enum class PwlFunction : uint8_t {
  kSigmoid,
  kTanh,
  kExp,
  kExp2,
  kGelu,
  kSilu,
  kReciprocal,
  kRsqrt
};

const char* to_string(PwlFunction f);
double evaluate(PwlFunction f, double x);  // the exact function, in double

struct PwlSpec {
  PwlFunction function = PwlFunction::kSigmoid;
  double lo = -8.0;
  double hi = 8.0;
  uint32_t segments = 32;
  FixedFormat input{5, 11};   // x: [-16, 16) in steps of 2^-11
  FixedFormat coeff{4, 12};   // slopes and intercepts: [-8, 8) in steps of 2^-12
  FixedFormat output{4, 12};  // y
};

class PwlTable {
 public:
  // Throws std::invalid_argument if the range does not fit the input format or the segment
  // width is not a whole number of input LSBs.
  static PwlTable build(const PwlSpec& spec);
  // The fewest segments, doubling from `min_segments`, whose max abs error is <= target; throws
  // std::invalid_argument if even `max_segments` does not reach it.
  static PwlTable build_for_error(PwlSpec spec, double target, uint32_t min_segments = 1,
                                  uint32_t max_segments = 1u << 14);

  const PwlSpec& spec() const { return spec_; }
  int64_t eval_raw(int64_t x_raw) const;  // input and output as fixed-point integers
  double eval(double x) const;            // x rounded into the input format first
  double max_abs_error() const { return max_abs_error_; }
  double max_error_at() const { return max_error_at_; }
  const std::vector<int64_t>& slopes() const { return slopes_; }
  const std::vector<int64_t>& intercepts() const { return intercepts_; }

 private:
  PwlSpec spec_;
  int64_t lo_raw_ = 0, hi_raw_ = 0, width_raw_ = 0;
  std::vector<int64_t> slopes_, intercepts_;
  double max_abs_error_ = 0.0, max_error_at_ = 0.0;
};

}  // namespace nmp::arith
