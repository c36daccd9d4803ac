#include "hw_models/arith/convert.hpp"

#include <cmath>
#include <cstring>
#include <memory>

namespace nmp::arith {

ElementConverter::ElementConverter(const NumberFormat& from, const NumberFormat& to, Path path)
    : from_(from), to_(to), largest_(to.to_double(to.max_finite_pattern())) {
  if (path == Path::kUnpacked) return;
  const std::unique_ptr<NumberFormat> fp32 = make_format("fp32");
  if (from.name() == fp32->name()) {
    floats_ = from_fp32_ = true;
    return;
  }
  constexpr int kTableBits = 16;
  if (from.bits() > kTableBits || !holds_exactly(*fp32, from)) return;
  floats_ = true;
  values_.resize(size_t{1} << from.bits());
  for (uint32_t p = 0; p < values_.size(); ++p) {
    const uint32_t bits = fp32->encode(from.decode(p));
    std::memcpy(&values_[p], &bits, 4);
  }
}

uint64_t ElementConverter::convert(const uint8_t* src, uint8_t* dst, uint64_t count) const {
  const uint64_t from_bytes = from_.element_bytes(), to_bytes = to_.element_bytes();
  uint64_t saturations = 0;
  if (!floats_) {
    for (uint64_t e = 0; e < count; ++e) {
      uint32_t pattern = 0;
      std::memcpy(&pattern, src + e * from_bytes, from_bytes);
      const Unpacked value = from_.decode(pattern);
      saturations += to_.overflows(value);
      pattern = to_.encode(value);
      std::memcpy(dst + e * to_bytes, &pattern, to_bytes);
    }
    return saturations;
  }
  const auto convert_all = [&](const auto& value_at) {
    for (uint64_t e = 0; e < count; ++e) {
      const float value = value_at(src + e * from_bytes);
      saturations += std::isfinite(value) && std::fabs(static_cast<double>(value)) > largest_;
      const uint32_t pattern = to_.encode_float(value);
      std::memcpy(dst + e * to_bytes, &pattern, to_bytes);
    }
  };
  if (from_fp32_) {
    convert_all([](const uint8_t* at) {
      float value = 0;
      std::memcpy(&value, at, 4);
      return value;
    });
  } else {
    convert_all([&](const uint8_t* at) {
      uint32_t pattern = 0;
      std::memcpy(&pattern, at, from_bytes);
      return values_[pattern];
    });
  }
  return saturations;
}

}  // namespace nmp::arith
