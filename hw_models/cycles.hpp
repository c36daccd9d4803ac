// Time in the simulated machine is counted in clock cycles of its single clock domain.
// SystemC time is only ever cycles x period; the cycle number is computed from it when needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace nmp::hw {

using Cycles = std::uint64_t;
inline constexpr Cycles kNever = std::numeric_limits<Cycles>::max();

// A program's time by layer. It enters a layer at each `layer` instruction that changes the
// layer (a step loop enters each of its layers once per step); a run's entries start with
// layer 0 at cycle 0 (kFirstEntry), which runs until the first `layer` instruction.
struct LayerEntry {
  uint32_t layer = 0;
  Cycles start = 0;
};
inline constexpr LayerEntry kFirstEntry{0, 0};
inline void enter_layer(std::vector<LayerEntry>& entries, uint32_t layer, Cycles now) {
  if (entries.empty() || entries.back().layer != layer) entries.push_back({layer, now});
}

// A layer's first entry and its cycles: the stretches from each of its entries to the next
// entry (or the program's end) summed.
struct LayerTime {
  Cycles start = 0, cycles = 0;
};
inline std::vector<LayerTime> layer_times(const std::vector<LayerEntry>& entries, Cycles end) {
  std::vector<LayerTime> times;
  std::vector<bool> entered;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const LayerEntry& e = entries[i];
    if (e.layer >= times.size()) {
      times.resize(e.layer + 1);
      entered.resize(e.layer + 1, false);
    }
    if (!entered[e.layer]) times[e.layer].start = e.start;
    entered[e.layer] = true;
    times[e.layer].cycles += (i + 1 < entries.size() ? entries[i + 1].start : end) - e.start;
  }
  return times;
}

}  // namespace nmp::hw
