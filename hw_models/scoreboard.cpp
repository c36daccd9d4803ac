#include "hw_models/scoreboard.hpp"

#include <algorithm>

namespace nmp::hw {
namespace {

bool any_overlap(const std::array<Region, 4>& a, uint8_t na, const std::array<Region, 4>& b,
                 uint8_t nb) {
  for (uint8_t i = 0; i < na; ++i)
    for (uint8_t j = 0; j < nb; ++j)
      if (a[i].overlaps(b[j])) return true;
  return false;
}

}  // namespace

Hazard Scoreboard::hazard(const Footprint& fp, const Footprint& old) {
  if (any_overlap(fp.reads, fp.read_count, old.writes, old.write_count)) return Hazard::kRaw;
  if (any_overlap(fp.writes, fp.write_count, old.reads, old.read_count)) return Hazard::kWar;
  if (any_overlap(fp.writes, fp.write_count, old.writes, old.write_count)) return Hazard::kWaw;
  return Hazard::kNone;
}

Hazard Scoreboard::check(isa::Unit unit, const Footprint& fp) const {
  for (const Entry& e : entries_) {
    if (e.unit == unit) continue;
    const Hazard h = hazard(fp, e.footprint);
    if (h != Hazard::kNone) return h;
  }
  return Hazard::kNone;
}

void Scoreboard::add(uint64_t seq, isa::Unit unit, const Footprint& fp) {
  entries_.push_back({seq, unit, fp});
}

void Scoreboard::release(uint64_t seq) {
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [seq](const Entry& e) { return e.seq == seq; }),
                 entries_.end());
}

}  // namespace nmp::hw
