// Number formats by name, behind one interface, for tools that pick a format at run time (the
// `nmpsim arith` calculator, `nmpsim formats`, configuration). Hot paths use the concrete
// types (FloatFormat, PositFormat, FixedFormat) directly.
//
// Names: fp32, fp16, bf16, fp8_e4m3, fp8_e5m2 (append _sat for saturating), posit<N,ES> or posit
// N_ES (posit16_1), fixed<I,F> with optional ",trunc" and/or ",wrap" (fixed<2,6,trunc>), intN
// (= fixed<N,0>).
//
// Example:
//   auto f = make_format("posit<16,1>");
//   uint32_t s = f->add(f->from_double(1.5), 0x4000);
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hw_models/arith/unpacked.hpp"

namespace nmp::arith {

class NumberFormat {
 public:
  virtual ~NumberFormat() = default;
  virtual std::string name() const = 0;
  virtual int bits() const = 0;
  uint32_t element_bytes() const { return static_cast<uint32_t>(bits() + 7) / 8; }  // in memory
  virtual Unpacked decode(uint32_t pattern) const = 0;
  virtual uint32_t encode(const Unpacked& value) const = 0;  // one rounding
  // Every value is a multiple of 2^lsb_scale(); every finite one is below 2^(max_scale()+1).
  virtual int lsb_scale() const = 0;
  virtual int max_scale() const = 0;
  virtual uint32_t max_finite_pattern() const = 0;  // the largest finite positive value

  // Whether a finite value lies beyond the largest finite value: encoding it saturates, wraps
  // or overflows to infinity (what the vector unit counts as a saturation).
  bool overflows(const Unpacked& value) const;

  uint32_t from_double(double d) const { return encode(arith::from_double(d)); }
  // encode(from_double(f)); the float formats take it from the float's bits, faster.
  virtual uint32_t encode_float(float f) const { return from_double(f); }
  // encode_float of `count` floats into `out`; posits of up to 8 bits look large batches up by
  // the floats' top 16 bits (encode_floats_by_bucket below).
  virtual void encode_floats(const float* in, size_t count, uint32_t* out) const;
  double to_double(uint32_t p) const { return arith::to_double(decode(p)); }
  uint32_t add(uint32_t a, uint32_t b) const;
  uint32_t sub(uint32_t a, uint32_t b) const;
  uint32_t mul(uint32_t a, uint32_t b) const;
  uint32_t div(uint32_t a, uint32_t b) const;
  uint32_t sqrt(uint32_t a) const;
  // Fused dot product: sum x_i y_i accumulated exactly (the quire, for posits), rounded once.
  uint32_t fdp(const std::vector<uint32_t>& x, const std::vector<uint32_t>& y) const;
};

// encode_float of many floats for a format of at most 15 bits whose rounding is monotone (a
// larger float never encodes to a smaller value) and gives one pattern per value. Floats that
// share their top 16 bits (sign, exponent, 7 fraction bits) form a bucket; a table holds the
// encoding of each bucket's first float (its low 16 bits zero) and of all its others where they
// agree, which monotonicity proves from the encodings of its second and last float. Buckets
// where they differ, infinities and NaN go through encode_float. Building the table costs some
// thousands of encode_float calls (a whole exponent at once where its ends agree), so it pays
// from tens of thousands of floats.
void encode_floats_by_bucket(const NumberFormat& format, const float* in, size_t count,
                             uint32_t* out);

// Throws std::invalid_argument naming the accepted forms.
std::unique_ptr<NumberFormat> make_format(std::string_view name);

// Whether `to` holds every value of `from` exactly (zeros' signs, infinities and NaN
// included), so a value rounded into `to` and then elsewhere is rounded once. Checked pattern by
// pattern for formats of up to 16 bits; a wider `from` only in its own format.
bool holds_exactly(const NumberFormat& to, const NumberFormat& from);

}  // namespace nmp::arith
