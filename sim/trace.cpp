#include "sim/trace.hpp"

#include <iomanip>
#include <string>

namespace nmp::sim {

OccupancyTrace::OccupancyTrace(std::ostream& out, const hw::MacArrayParams& array)
    : out_(out),
      array_(array),
      pictures_(array.rows <= kMaxPictureRows && array.cols <= kMaxPictureCols) {
  out_ << "# nmpsim MAC array occupancy: " << array.rows << " x " << array.cols << ", "
       << hw::to_string(array.dataflow) << ", " << hw::to_string(array.pe) << ", fold_timing "
       << hw::to_string(array.fold_timing) << "\n"
       << "# state: load (stationary tile), compute, drain (adder tree), stall (SRAM port); "
          "t: systolic timeline step, T: its streamed length\n"
       << "# active: PEs doing a useful MAC this cycle" << (pictures_ ? " (# active, . idle)" : "")
       << "\n"
       << "#   cycle  state          fold  load     t     T      used       active    util\n";
}

void OccupancyTrace::record(hw::Cycles now, const hw::ArrayActivity& a) {
  const bool current = a.cycle == now;
  std::string state;
  if (current && a.computing) state = a.stalled ? "stall" : "compute";
  if (current && a.draining) state = "drain";
  if (current && a.loading) state += state.empty() ? "load" : "+load";
  if (state.empty()) state = "idle";
  const uint64_t active = current ? a.active_pes() : 0;
  const uint64_t pes = uint64_t{array_.rows} * array_.cols;
  out_ << std::setw(9) << now << "  " << std::left << std::setw(13) << state << std::right;
  if (current && a.computing) {
    out_ << std::setw(6) << a.fold;
  } else {
    out_ << std::setw(6) << "-";
  }
  if (current && a.loading) {
    out_ << std::setw(6) << a.load_fold;
  } else {
    out_ << std::setw(6) << "-";
  }
  if (current && a.computing && a.systolic) {
    out_ << std::setw(6) << a.timeline_step << std::setw(6) << a.temporal << " ";
  } else {
    out_ << std::setw(13) << "";
  }
  if (current && a.computing) {
    out_ << std::setw(5) << a.rows_used << " x " << std::left << std::setw(4) << a.cols_used
         << std::right;
  } else {
    out_ << std::setw(12) << "";
  }
  out_ << std::setw(9) << active << std::setw(7) << std::fixed << std::setprecision(1)
       << 100.0 * static_cast<double>(active) / static_cast<double>(pes) << "%\n";
  if (!pictures_ || !current || !a.computing) return;
  for (uint32_t r = 0; r < array_.rows; ++r) {
    std::string row(11, ' ');
    for (uint32_t c = 0; c < array_.cols; ++c) row += a.pe_active(r, c) ? '#' : '.';
    out_ << row << "\n";
  }
}

}  // namespace nmp::sim
