// The per-cycle occupancy trace of the MAC array: one line per cycle with the array's state,
// the fold, the systolic timeline step and the number of PEs doing a useful MAC, and, for
// arrays small enough to read, a picture of which PEs are active (`#`) or idle (`.`).
// The trace shows the closed forms of docs/validation.md at work: fill, steady state, drain.
//
// Example:
//   std::ofstream out("trace.txt");
//   OccupancyTrace trace(out, params.mac_array);
//   top.set_cycle_observer([&](Cycles now) { trace.record(now, top.mac_array().activity()); });
#pragma once

#include <ostream>

#include "hw_models/mac_array.hpp"

namespace nmp::sim {

class OccupancyTrace {
 public:
  // Pictures are drawn for arrays of at most this many rows and columns.
  static constexpr uint32_t kMaxPictureRows = 16, kMaxPictureCols = 64;

  OccupancyTrace(std::ostream& out, const hw::MacArrayParams& array);
  void record(hw::Cycles now, const hw::ArrayActivity& activity);

 private:
  std::ostream& out_;
  hw::MacArrayParams array_;
  bool pictures_;
};

}  // namespace nmp::sim
