// Posits posit<n, es>, 2 <= n <= 32, 0 <= es <= 4, bit-accurate, with a quire.
//
// A pattern p is an n-bit two's-complement integer. 0 is zero; 100...0 is NaR (not a real).
// Otherwise, for p > 0 the bits after the sign are a regime (a run of m equal bits ended by the
// opposite bit or by the end: k = m - 1 for a run of ones, -m for zeros), up to es exponent
// bits (missing bits are 0) and the fraction f; value = 2^(k 2^es + e) x (1 + f). A negative
// p is the negation of the posit -p (two's complement).
//
// Encoding rounds the exact value's infinitely long encoding to n bits, to nearest with ties to
// even (as the Posit Standard 2022 defines it: where exponent bits are cut, the midpoint is the
// encoding extended by a 1 bit, not the arithmetic mean), and a nonzero value never rounds to
// zero nor past maxpos: it saturates to minpos or maxpos. Comparison is integer comparison of
// the patterns. Arithmetic is exact, then rounded once (unpacked.hpp).
//
// posit<8,0>, posit<16,1> and posit<32,2> are fast: all operations are integer bit
// manipulation; posit<8,0> add and multiply are also table lookups (PositTables).
//
// Example:
//   const PositFormat p{16, 1};
//   uint32_t x = p.encode(from_double(3.14));
//   uint32_t y = p.add(x, x);
//   Quire q(p); q.fma(x, y); uint32_t r = q.round();
#pragma once

#include <cstdint>
#include <vector>

#include "hw_models/arith/accumulator.hpp"
#include "hw_models/arith/unpacked.hpp"

namespace nmp::arith {

struct PositFormat {
  int n;
  int es;

  uint32_t mask() const { return n == 32 ? 0xffffffffu : (1u << n) - 1; }
  uint32_t nar() const { return 1u << (n - 1); }
  uint32_t maxpos() const { return nar() - 1; }
  uint32_t minpos() const { return 1; }
  int max_scale() const { return (n - 2) << es; }  // maxpos = 2^max_scale
  // The pattern as a signed integer: posits compare as these do (NaR below every real).
  int64_t ordinal(uint32_t p) const;
  int compare(uint32_t a, uint32_t b) const {
    return ordinal(a) < ordinal(b) ? -1 : ordinal(a) > ordinal(b) ? 1 : 0;
  }

  Unpacked decode(uint32_t p) const;
  uint32_t encode(const Unpacked& v) const;
  // encode(from_double(f)), from the float's bits (its 23 fraction bits fit one 64-bit
  // encoding string): the generators' path.
  uint32_t encode_float(float f) const;

  uint32_t negate(uint32_t p) const { return (~p + 1) & mask(); }
  uint32_t add(uint32_t a, uint32_t b) const;
  uint32_t sub(uint32_t a, uint32_t b) const;
  uint32_t mul(uint32_t a, uint32_t b) const;
  uint32_t div(uint32_t a, uint32_t b) const;
  uint32_t sqrt(uint32_t a) const;
};

// The quire: an exact accumulator of posit products, from minpos^2 (its LSB) to maxpos^2, with
// 30 carry-guard bits above and a sign: for posit<32,2> the Posit Standard's 16n = 512 bits
// (8n - 16 fraction bits). Rounded once when read.
class Quire {
 public:
  explicit Quire(const PositFormat& format, int carry_bits = 30);
  void clear() { acc_.clear(); }
  void fma(uint32_t a, uint32_t b);  // quire += a x b, exactly
  void add(uint32_t a);              // quire += a, exactly
  uint32_t round() const;            // the posit nearest the exact sum (NaR if a NaR went in)
  Unpacked value() const { return acc_.value(); }  // the exact sum (NaN if a NaR went in)
  int bits() const { return acc_.bits(); }

 private:
  PositFormat format_;
  ExactAccumulator acc_;
};

// posit<8,0> arithmetic by table lookup (built once from the exact operations).
class Posit8Tables {
 public:
  static const Posit8Tables& get();
  uint8_t add(uint8_t a, uint8_t b) const { return add_[a << 8 | b]; }
  uint8_t mul(uint8_t a, uint8_t b) const { return mul_[a << 8 | b]; }
  double value(uint8_t p) const { return value_[p]; }

 private:
  Posit8Tables();
  std::vector<uint8_t> add_, mul_;
  std::vector<double> value_;
};

}  // namespace nmp::arith
