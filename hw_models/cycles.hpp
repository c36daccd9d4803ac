// Time in the simulated machine is counted in clock cycles of its single clock domain.
// SystemC time is only ever cycles x period; the cycle number is computed from it when needed.
#pragma once

#include <cstdint>
#include <limits>

namespace nmp::hw {

using Cycles = std::uint64_t;
inline constexpr Cycles kNever = std::numeric_limits<Cycles>::max();

}  // namespace nmp::hw
