// How blocks expose their event counters: each XStats struct has a visit() that yields every
// counter with its name, unit, description and energy key. sim/ registers them once and derives
// energy and every report from the same values.
//
// Example:
//   stats.visit([](const CounterInfo& info, uint64_t value) { ... });
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace nmp::hw {

struct CounterInfo {
  std::string name;  // e.g. "busy_compute"; "busy_*" and "stall_*" are cycle accounts
  std::string unit;  // "cycles", "words", "bytes", "ops", "instructions"
  std::string description;
  std::string energy_key;  // key in the energy table, or empty if the event costs no energy
};

using CounterFn = std::function<void(const CounterInfo&, uint64_t value)>;

// Grows a per-layer vector of stats on demand.
template <class Stats, class Vec>
Stats& stats_for_layer(Vec& by_layer, uint32_t layer) {
  if (layer >= by_layer.size()) by_layer.resize(layer + 1);
  return by_layer[layer];
}

}  // namespace nmp::hw
