// The controller's scoreboard over memory regions. Every issued unit command stays on it until
// its unit completes it. A new command may issue only if no in-flight command of another unit
// writes what it reads (RAW), reads what it writes (WAR) or writes what it writes (WAW).
// Commands of the same unit are not checked: a unit executes its queue in order, one at a time.
//
// Example:
//   if (sb.check(Unit::kMacArray, fp) == Hazard::kNone) sb.add(seq, Unit::kMacArray, fp);
//   ... sb.release(seq);   // when the unit completes the command
#pragma once

#include <vector>

#include "hw_models/command.hpp"

namespace nmp::hw {

enum class Hazard : uint8_t { kNone, kRaw, kWar, kWaw };

class Scoreboard {
 public:
  Hazard check(isa::Unit unit, const Footprint& fp) const;
  // The hazard of issuing `fp` while a command of another unit with `in_flight` runs.
  static Hazard hazard(const Footprint& fp, const Footprint& in_flight);
  void add(uint64_t seq, isa::Unit unit, const Footprint& fp);
  void release(uint64_t seq);
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    uint64_t seq;
    isa::Unit unit;
    Footprint footprint;
  };
  std::vector<Entry> entries_;
};

}  // namespace nmp::hw
