#include "hw_models/arith/pwl.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace nmp::arith {
namespace {

using i128 = __int128;

// Most inputs a segment's fit looks at; beyond it, it samples evenly.
constexpr int64_t kFitSamples = 4096;

int64_t exact_raw(double v, const FixedFormat& f, const char* what) {
  const double scaled = std::ldexp(v, f.frac_bits);
  if (scaled != std::nearbyint(scaled) || scaled < static_cast<double>(f.min_raw()) ||
      scaled > static_cast<double>(f.max_raw())) {
    throw std::invalid_argument(std::string("pwl: ") + what + " = " + std::to_string(v) +
                                " is not a value of the input format fixed<" +
                                std::to_string(f.int_bits) + "," + std::to_string(f.frac_bits) +
                                ">");
  }
  return static_cast<int64_t>(scaled);
}

int64_t saturating_raw(double v, const FixedFormat& f) {
  const double scaled = std::nearbyint(std::ldexp(v, f.frac_bits));
  return static_cast<int64_t>(
      std::clamp(scaled, static_cast<double>(f.min_raw()), static_cast<double>(f.max_raw())));
}

// Rounds a / 2^k (k > 0) to nearest, ties to even.
i128 round_shift(i128 a, int k) {
  const i128 q = a >> k;                                 // floor
  const i128 rem = a - q * (static_cast<i128>(1) << k);  // q may be negative
  const i128 half = static_cast<i128>(1) << (k - 1);
  return (rem > half || (rem == half && (q & 1))) ? q + 1 : q;
}

}  // namespace

const char* to_string(PwlFunction f) {
  switch (f) {
    case PwlFunction::kSigmoid:
      return "sigmoid";
    case PwlFunction::kTanh:
      return "tanh";
    case PwlFunction::kExp:
      return "exp";
    case PwlFunction::kExp2:
      return "exp2";
    case PwlFunction::kGelu:
      return "gelu";
    case PwlFunction::kSilu:
      return "silu";
    case PwlFunction::kReciprocal:
      return "reciprocal";
    case PwlFunction::kRsqrt:
      return "rsqrt";
  }
  return "?";
}

double evaluate(PwlFunction f, double x) {
  switch (f) {
    case PwlFunction::kSigmoid:
      return 1.0 / (1.0 + std::exp(-x));
    case PwlFunction::kTanh:
      return std::tanh(x);
    case PwlFunction::kExp:
      return std::exp(x);
    case PwlFunction::kExp2:
      return std::exp2(x);
    case PwlFunction::kGelu:
      return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case PwlFunction::kSilu:
      return x / (1.0 + std::exp(-x));
    case PwlFunction::kReciprocal:
      return 1.0 / x;
    case PwlFunction::kRsqrt:
      return 1.0 / std::sqrt(x);
  }
  return 0.0;
}

PwlTable PwlTable::build(const PwlSpec& spec) {
  PwlTable t;
  t.spec_ = spec;
  const FixedFormat& in = spec.input;
  t.lo_raw_ = exact_raw(spec.lo, in, "lo");
  t.hi_raw_ = exact_raw(spec.hi, in, "hi");
  const int64_t span = t.hi_raw_ - t.lo_raw_;
  if (span <= 0 || spec.segments == 0 || span % spec.segments != 0) {
    throw std::invalid_argument("pwl: " + std::to_string(spec.segments) +
                                " segments do not divide [" + std::to_string(spec.lo) + ", " +
                                std::to_string(spec.hi) + "] into whole input LSBs");
  }
  t.width_raw_ = span / spec.segments;
  const double lsb = std::ldexp(1.0, -in.frac_bits);
  for (uint32_t i = 0; i < spec.segments; ++i) {
    const int64_t a_raw = t.lo_raw_ + i * t.width_raw_;
    const int64_t b_raw = a_raw + t.width_raw_;
    const double a = a_raw * lsb, b = b_raw * lsb;
    const double fa = evaluate(spec.function, a), fb = evaluate(spec.function, b);
    const double slope = (fb - fa) / (b - a);
    // Shift the chord by half the spread of its deviations: the minimax line of a convex or
    // concave piece.
    double dmin = 0.0, dmax = 0.0;
    const int64_t stride = std::max<int64_t>(1, t.width_raw_ / kFitSamples);
    for (int64_t x = a_raw; x <= b_raw; x += stride) {
      const double d = evaluate(spec.function, x * lsb) - (fa + slope * (x * lsb - a));
      dmin = std::min(dmin, d);
      dmax = std::max(dmax, d);
    }
    t.slopes_.push_back(saturating_raw(slope, spec.coeff));
    t.intercepts_.push_back(saturating_raw(fa - slope * a + (dmin + dmax) / 2, spec.coeff));
  }
  const double out_lsb = std::ldexp(1.0, -spec.output.frac_bits);
  for (int64_t x = t.lo_raw_; x <= t.hi_raw_; ++x) {
    const double err = std::fabs(t.eval_raw(x) * out_lsb - evaluate(spec.function, x * lsb));
    if (err > t.max_abs_error_) {
      t.max_abs_error_ = err;
      t.max_error_at_ = x * lsb;
    }
  }
  return t;
}

PwlTable PwlTable::build_for_error(PwlSpec spec, double target, uint32_t min_segments,
                                   uint32_t max_segments) {
  for (uint32_t s = min_segments; s <= max_segments; s *= 2) {
    spec.segments = s;
    PwlTable t = build(spec);
    if (t.max_abs_error() <= target) return t;
  }
  throw std::invalid_argument("pwl: " + std::string(to_string(spec.function)) +
                              " needs more than " + std::to_string(max_segments) +
                              " segments for max error " + std::to_string(target));
}

int64_t PwlTable::eval_raw(int64_t x_raw) const {
  const int64_t x = std::clamp(x_raw, lo_raw_, hi_raw_);
  const auto i = static_cast<size_t>(
      std::min<int64_t>((x - lo_raw_) / width_raw_, static_cast<int64_t>(spec_.segments) - 1));
  // slope x x + intercept, in units of 2^-(coeff.frac_bits + input.frac_bits).
  const i128 acc =
      static_cast<i128>(slopes_[i]) * x +
      static_cast<i128>(intercepts_[i]) * (static_cast<i128>(1) << spec_.input.frac_bits);
  const int shift = spec_.coeff.frac_bits + spec_.input.frac_bits - spec_.output.frac_bits;
  const i128 y = shift > 0 ? round_shift(acc, shift) : acc * (static_cast<i128>(1) << -shift);
  return static_cast<int64_t>(std::clamp<i128>(y, spec_.output.min_raw(), spec_.output.max_raw()));
}

double PwlTable::eval(double x) const {
  const FixedFormat& in = spec_.input;
  const int64_t x_raw = in.raw(in.encode(from_double(x)));
  return std::ldexp(static_cast<double>(eval_raw(x_raw)), -spec_.output.frac_bits);
}

}  // namespace nmp::arith
