#include "isa/program.hpp"

#include <cstring>
#include <string>

namespace nmp::isa {
namespace {

constexpr char kMagic[4] = {'N', 'M', 'P', 'B'};

void put_le(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint64_t get_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

std::vector<uint8_t> to_binary(const Program& program) {
  std::vector<uint8_t> out(kMagic, kMagic + 4);
  put_le(out, kFormatVersion, 2);
  put_le(out, kHeaderBytes, 2);
  put_le(out, program.size(), 4);
  put_le(out, kInstrBytes, 4);
  put_le(out, kIsaRevision, 4);
  out.resize(kHeaderBytes, 0);
  for (const Instr& i : program) {
    put_le(out, i.lo, 8);
    put_le(out, i.hi, 8);
  }
  return out;
}

Program from_binary(const std::vector<uint8_t>& bytes) {
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, 4) != 0) {
    throw FormatError("not an nmpsim program (expected the magic \"NMPB\" and a 32-byte header)");
  }
  const uint8_t* h = bytes.data();
  const auto version = get_le(h + 4, 2);
  const auto header_bytes = get_le(h + 6, 2);
  const auto count = get_le(h + 8, 4);
  const auto instr_bytes = get_le(h + 12, 4);
  const auto revision = get_le(h + 16, 4);
  if (version != kFormatVersion || header_bytes != kHeaderBytes || instr_bytes != kInstrBytes ||
      revision != kIsaRevision) {
    throw FormatError("unsupported program header: version " + std::to_string(version) +
                      ", header " + std::to_string(header_bytes) + " bytes, instructions of " +
                      std::to_string(instr_bytes) + " bytes, ISA revision " +
                      std::to_string(revision) + " (expected " + std::to_string(kFormatVersion) +
                      ", " + std::to_string(kHeaderBytes) + ", " + std::to_string(kInstrBytes) +
                      ", " + std::to_string(kIsaRevision) + ")");
  }
  for (uint32_t at = 20; at < kHeaderBytes; ++at) {
    if (h[at] != 0) {
      throw FormatError("header byte " + std::to_string(at) +
                        " is reserved and must be zero, got " + std::to_string(h[at]));
    }
  }
  if (bytes.size() != kHeaderBytes + count * kInstrBytes) {
    throw FormatError("program size " + std::to_string(bytes.size()) + " bytes does not match " +
                      std::to_string(count) + " instructions in the header");
  }
  Program program(count);
  for (uint64_t n = 0; n < count; ++n) {
    const uint8_t* p = h + kHeaderBytes + n * kInstrBytes;
    program[n] = {get_le(p, 8), get_le(p + 8, 8)};
    try {
      (void)decode(program[n]);
    } catch (const EncodingError& e) {
      throw FormatError("instruction " + std::to_string(n) + ": " + e.what());
    }
  }
  return program;
}

}  // namespace nmp::isa
