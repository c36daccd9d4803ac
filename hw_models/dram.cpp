#include "hw_models/dram.hpp"

#include <utility>

namespace nmp::hw {

void DramStats::visit(const CounterFn& fn) const {
  fn({"read_bytes", "bytes", "bytes read over the DRAM channel (whole bursts)", "dram.read_byte"},
     read_bytes);
  fn({"write_bytes", "bytes", "bytes written over the DRAM channel (whole bursts)",
      "dram.write_byte"},
     write_bytes);
  fn({"useful_bytes", "bytes", "bytes the DMA transfers asked for", ""}, useful_bytes);
}

Dram::Dram(const DramParams& params, ZeroPages contents, uint64_t unbacked_bytes)
    : params_(params), data_(std::move(contents)), unbacked_bytes_(unbacked_bytes) {}

}  // namespace nmp::hw
