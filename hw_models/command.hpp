// A unit command: an instruction whose register operands the controller has resolved, with the
// memory regions it reads and writes (its footprint) for the scoreboard.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "isa/isa.hpp"

namespace nmp::hw {

enum class MemSpace : uint8_t { kWeightSram, kActSram, kAccSram, kDram };
inline constexpr unsigned kNumSrams = 3;  // the first three spaces: wsram, asram, acc
const char* to_string(MemSpace space);

// Bytes [begin, end) of one memory.
struct Region {
  MemSpace space = MemSpace::kDram;
  uint64_t begin = 0;
  uint64_t end = 0;
  bool overlaps(const Region& o) const {
    return space == o.space && begin < o.end && o.begin < end;
  }
};

struct Footprint {
  std::array<Region, 4> reads{};
  std::array<Region, 4> writes{};
  uint8_t read_count = 0;
  uint8_t write_count = 0;
  void read(const Region& r) { reads.at(read_count++) = r; }
  void write(const Region& r) { writes.at(write_count++) = r; }
};

struct Command {
  isa::Opcode opcode = isa::Opcode::kNop;
  uint32_t pc = 0;
  uint32_t layer = 0;
  uint64_t seq = 0;                                // issue order
  std::array<uint64_t, isa::kMaxOperands> args{};  // operand values, registers resolved
  Footprint footprint;
};

// A fault of the simulated program or machine (bad address, deadlock, watchdog): exit code 1.
class SimulationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace nmp::hw
