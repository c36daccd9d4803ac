#include "hw_models/arith/format.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <stdexcept>

#include "hw_models/arith/accumulator.hpp"
#include "hw_models/arith/fixed.hpp"
#include "hw_models/arith/minifloat.hpp"
#include "hw_models/arith/posit.hpp"

namespace nmp::arith {
namespace {

class FloatAdapter : public NumberFormat {
 public:
  explicit FloatAdapter(const FloatFormat& f) : f_(f) {}
  std::string name() const override { return f_.name; }
  int bits() const override { return f_.bits(); }
  Unpacked decode(uint32_t p) const override { return f_.decode(p); }
  uint32_t encode(const Unpacked& v) const override { return f_.encode(v); }
  uint32_t encode_float(float f) const override { return f_.encode_float(f); }
  int lsb_scale() const override { return 1 - f_.bias() - f_.man_bits; }
  int max_scale() const override { return f_.max_scale(); }
  uint32_t max_finite_pattern() const override { return f_.max_finite_pattern(); }

 private:
  FloatFormat f_;
};

class PositAdapter : public NumberFormat {
 public:
  explicit PositAdapter(const PositFormat& p) : p_(p) {}
  std::string name() const override {
    return "posit<" + std::to_string(p_.n) + "," + std::to_string(p_.es) + ">";
  }
  int bits() const override { return p_.n; }
  Unpacked decode(uint32_t p) const override { return p_.decode(p); }
  uint32_t encode(const Unpacked& v) const override { return p_.encode(v); }
  uint32_t encode_float(float f) const override { return p_.encode_float(f); }
  void encode_floats(const float* in, size_t count, uint32_t* out) const override {
    // Posit rounding is monotone and its values unique; from 8 bits on, most buckets of
    // floats hold several encodings, and at 2^16 floats the table costs about what it saves.
    constexpr size_t kBucketBatch = size_t{1} << 16;
    if (p_.n <= 8 && count >= kBucketBatch) {
      encode_floats_by_bucket(*this, in, count, out);
    } else {
      NumberFormat::encode_floats(in, count, out);
    }
  }
  int lsb_scale() const override { return -p_.max_scale(); }
  int max_scale() const override { return p_.max_scale(); }
  uint32_t max_finite_pattern() const override { return p_.maxpos(); }

 private:
  PositFormat p_;
};

class FixedAdapter : public NumberFormat {
 public:
  explicit FixedAdapter(const FixedFormat& f) : f_(f) {}
  std::string name() const override {
    std::string s = "fixed<" + std::to_string(f_.int_bits) + "," + std::to_string(f_.frac_bits);
    if (f_.rounding == FixedRounding::kTruncate) s += ",trunc";
    if (f_.overflow == FixedOverflow::kWrap) s += ",wrap";
    return s + ">";
  }
  int bits() const override { return f_.bits(); }
  Unpacked decode(uint32_t p) const override { return f_.decode(p); }
  uint32_t encode(const Unpacked& v) const override { return f_.encode(v); }
  uint32_t encode_float(float f) const override { return f_.encode_float(f); }
  int lsb_scale() const override { return -f_.frac_bits; }
  int max_scale() const override { return f_.int_bits - 1; }
  uint32_t max_finite_pattern() const override { return static_cast<uint32_t>(f_.max_raw()); }

 private:
  FixedFormat f_;
};

// Parses "<a,b...>" or "a_b" after a prefix into integers and trailing words.
bool parse_args(std::string_view rest, std::vector<int>& numbers, std::vector<std::string>& words) {
  if (rest.empty()) return false;
  const bool angle = rest.front() == '<';
  if (angle) {
    if (rest.back() != '>') return false;
    rest = rest.substr(1, rest.size() - 2);
  }
  const char sep = angle ? ',' : '_';
  size_t start = 0;
  while (start <= rest.size()) {
    const size_t end = std::min(rest.find(sep, start), rest.size());
    std::string token(rest.substr(start, end - start));
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back())))
      token.pop_back();
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front())))
      token.erase(token.begin());
    if (token.empty()) return false;
    if (std::isdigit(static_cast<unsigned char>(token[0]))) {
      if (!words.empty() || token.find_first_not_of("0123456789") != std::string::npos ||
          token.size() > 3) {
        return false;
      }
      numbers.push_back(std::stoi(token));
    } else {
      words.push_back(token);
    }
    start = end + 1;
  }
  return true;
}

[[noreturn]] void unknown(std::string_view name, const std::string& why) {
  throw std::invalid_argument(
      "unknown number format '" + std::string(name) + "'" + (why.empty() ? "" : ": " + why) +
      " (expected fp32, fp16, bf16, fp8_e4m3, fp8_e5m2 with an optional _sat, posit<N,ES> or "
      "positN_ES with 2 <= N <= 32 and ES <= 4, fixed<I,F> with optional ,trunc and ,wrap "
      "and 2 <= I+F <= 32, or intN with 2 <= N <= 32)");
}

}  // namespace

uint32_t NumberFormat::add(uint32_t a, uint32_t b) const {
  return encode(arith::add(decode(a), decode(b)));
}
uint32_t NumberFormat::sub(uint32_t a, uint32_t b) const {
  return encode(arith::sub(decode(a), decode(b)));
}
uint32_t NumberFormat::mul(uint32_t a, uint32_t b) const {
  return encode(arith::mul(decode(a), decode(b)));
}
uint32_t NumberFormat::div(uint32_t a, uint32_t b) const {
  return encode(arith::div(decode(a), decode(b)));
}
uint32_t NumberFormat::sqrt(uint32_t a) const { return encode(arith::sqrt(decode(a))); }

uint32_t NumberFormat::fdp(const std::vector<uint32_t>& x, const std::vector<uint32_t>& y) const {
  if (x.size() != y.size()) throw std::invalid_argument("fdp: the two lists differ in length");
  ExactAccumulator acc(2 * lsb_scale(), 2 * max_scale() + 1);
  for (size_t i = 0; i < x.size(); ++i) acc.add(arith::mul(decode(x[i]), decode(y[i])));
  return encode(acc.value());
}

bool NumberFormat::overflows(const Unpacked& value) const {
  if (!value.is_finite_nonzero()) return false;
  Unpacked magnitude = value;
  magnitude.neg = false;
  const int order = compare(magnitude, decode(max_finite_pattern()));
  return order > 0 || (order == 0 && value.sticky);
}

void NumberFormat::encode_floats(const float* in, size_t count, uint32_t* out) const {
  for (size_t i = 0; i < count; ++i) out[i] = encode_float(in[i]);
}

void encode_floats_by_bucket(const NumberFormat& format, const float* in, size_t count,
                             uint32_t* out) {
  constexpr uint16_t kVaries = 0xffff;  // no pattern of a format of at most 15 bits
  constexpr uint32_t kBuckets = 1u << 16, kBucketsPerExponent = 1u << 7;
  if (format.bits() > 15) throw std::invalid_argument("encode_floats_by_bucket: over 15 bits");
  const auto encode_bits = [&](uint32_t bits) {
    float f = 0;
    std::memcpy(&f, &bits, 4);
    return static_cast<uint16_t>(format.encode_float(f));
  };
  std::vector<uint16_t> first(kBuckets), rest(kBuckets, kVaries);
  for (uint32_t group = 0; group < kBuckets; group += kBucketsPerExponent) {
    const bool not_finite = ((group >> 7) & 0xff) == 0xff;  // NaN's order is no value's
    const uint32_t low = group << 16, high = ((group + kBucketsPerExponent) << 16) - 1;
    if (!not_finite && encode_bits(low) == encode_bits(high)) {
      std::fill_n(first.begin() + group, kBucketsPerExponent, encode_bits(low));
      std::fill_n(rest.begin() + group, kBucketsPerExponent, encode_bits(low));
      continue;
    }
    for (uint32_t bucket = group; bucket < group + kBucketsPerExponent; ++bucket) {
      const uint32_t bits = bucket << 16;
      first[bucket] = encode_bits(bits);
      const uint16_t second = encode_bits(bits | 1), last = encode_bits(bits | 0xffff);
      if (!not_finite && second == last) rest[bucket] = second;
    }
  }
  for (size_t i = 0; i < count; ++i) {
    uint32_t bits = 0;
    std::memcpy(&bits, &in[i], 4);
    const uint32_t bucket = bits >> 16;
    const uint16_t found = (bits & 0xffff) == 0 ? first[bucket] : rest[bucket];
    out[i] = found != kVaries ? found : format.encode_float(in[i]);
  }
}

bool holds_exactly(const NumberFormat& to, const NumberFormat& from) {
  if (to.name() == from.name()) return true;
  constexpr int kCheckedBits = 16;
  if (from.bits() > kCheckedBits) return false;
  if (to.name() == "fp32") {
    // A format of up to 16 bits has values of at most 16 significant bits, within fp32's 24;
    // fp32 then holds them all unless the format's step is finer than fp32's smallest (2^-149)
    // or its range wider (a finite value from 2^128 on): its NaNs, infinities and signed zeros
    // fp32 has too. The question every element converter asks, in closed form (tested against
    // checking every pattern, on every format of up to 16 bits).
    return from.lsb_scale() >= -149 && from.max_scale() <= 127;
  }
  for (uint32_t pattern = 0; pattern < (uint32_t{1} << from.bits()); ++pattern) {
    const Unpacked value = from.decode(pattern);
    const Unpacked kept = to.decode(to.encode(value));
    if (value.is_nan() || kept.is_nan()) {
      if (value.is_nan() != kept.is_nan()) return false;
      continue;
    }
    if (value.kind != kept.kind || value.neg != kept.neg) return false;
    if (value.is_finite_nonzero() && compare(value, kept) != 0) return false;
  }
  return true;
}

std::unique_ptr<NumberFormat> make_format(std::string_view name) {
  for (const FloatFormat* f :
       {&kFp32, &kFp16, &kBf16, &kFp8E4M3, &kFp8E4M3Sat, &kFp8E5M2, &kFp8E5M2Sat}) {
    if (name == f->name) return std::make_unique<FloatAdapter>(*f);
  }
  std::vector<int> numbers;
  std::vector<std::string> words;
  if (name.rfind("posit", 0) == 0) {
    if (!parse_args(name.substr(5), numbers, words) || numbers.size() != 2 || !words.empty()) {
      unknown(name, "");
    }
    if (numbers[0] < 2 || numbers[0] > 32 || numbers[1] > 4) unknown(name, "out of range");
    return std::make_unique<PositAdapter>(PositFormat{numbers[0], numbers[1]});
  }
  if (name.rfind("fixed", 0) == 0) {
    if (!parse_args(name.substr(5), numbers, words) || numbers.size() != 2) unknown(name, "");
    FixedFormat f{numbers[0], numbers[1]};
    for (const std::string& w : words) {
      if (w == "trunc") {
        f.rounding = FixedRounding::kTruncate;
      } else if (w == "wrap") {
        f.overflow = FixedOverflow::kWrap;
      } else {
        unknown(name, "'" + w + "' is not trunc or wrap");
      }
    }
    if (f.int_bits < 1 || f.bits() < 2 || f.bits() > 32) unknown(name, "out of range");
    return std::make_unique<FixedAdapter>(f);
  }
  if (name.rfind("int", 0) == 0 && name.size() > 3 &&
      name.find_first_not_of("0123456789", 3) == std::string_view::npos && name.size() <= 5) {
    const int n = std::stoi(std::string(name.substr(3)));
    if (n < 2 || n > 32) unknown(name, "out of range");
    return std::make_unique<FixedAdapter>(FixedFormat{n, 0});
  }
  unknown(name, "");
}

}  // namespace nmp::arith
