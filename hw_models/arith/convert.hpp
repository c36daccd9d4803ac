// Converting elements of one number format into another, as the DMA does between DRAM and
// the SRAMs: each value rounded once into the destination, and the finite values beyond its
// largest counted (what NumberFormat::overflows counts as a saturation).
//
// Example:
//   auto bf16 = make_format("bf16"), fp32 = make_format("fp32");
//   ElementConverter widen(*bf16, *fp32);
//   uint64_t saturated = widen.convert(src, dst, count);  // bf16 in, fp32 out, little-endian
#pragma once

#include <cstdint>
#include <vector>

#include "hw_models/arith/format.hpp"

namespace nmp::arith {

class ElementConverter {
 public:
  enum class Path { kFloats, kUnpacked };
  // Path::kFloats takes the host's floats where every value of `from` is a float exactly (fp32
  // by its bits, a format of up to 16 bits by a table of its values) and rounds them with
  // `to`'s encode_float: the same bits as decoding and encoding through Unpacked, many times
  // faster. Path::kUnpacked always decodes and encodes (the reference the tests compare with).
  // Both formats must outlive the converter.
  ElementConverter(const NumberFormat& from, const NumberFormat& to, Path path = Path::kFloats);

  // Converts `count` little-endian elements from `src` into `dst` (which must not overlap);
  // returns how many saturated.
  uint64_t convert(const uint8_t* src, uint8_t* dst, uint64_t count) const;
  bool through_floats() const { return floats_; }

 private:
  const NumberFormat& from_;
  const NumberFormat& to_;
  bool floats_ = false, from_fp32_ = false;
  std::vector<float> values_;  // every pattern of `from` as a float (formats up to 16 bits)
  double largest_;             // `to`'s largest finite value
};

}  // namespace nmp::arith
