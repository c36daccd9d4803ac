// The binary program format: a 32-byte header, then 16-byte instructions.
//
//   offset  size  field
//   0       4     magic "NMPB"
//   4       2     format version (1)
//   6       2     header bytes (32)
//   8       4     instruction count
//   12      4     bytes per instruction (16)
//   16      4     ISA revision (1)
//   20      12    reserved, zero
//   32      16*n  instructions, each as two little-endian 64-bit words: bits [0,64) then [64,128)
//
// Example:
//   std::vector<uint8_t> bytes = to_binary(program);
//   Program p = from_binary(bytes);   // throws FormatError on a bad header or size
#pragma once

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "isa/isa.hpp"

namespace nmp::isa {

inline constexpr uint16_t kFormatVersion = 1;
// 2: vred's op field widened to 3 bits (mean).
inline constexpr uint32_t kIsaRevision = 2;
inline constexpr uint32_t kHeaderBytes = 32;

using Program = std::vector<Instr>;

class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::vector<uint8_t> to_binary(const Program& program);
// Checks the header and every instruction's encoding.
Program from_binary(const std::vector<uint8_t>& bytes);

}  // namespace nmp::isa
