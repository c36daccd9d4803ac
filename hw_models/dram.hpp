// Off-chip DRAM: its contents and the accounting of its channel.
//
// Modelled: one channel of `bytes_per_cycle` bytes per clock cycle that moves whole bursts of
// `burst_bytes` (a transfer that covers part of a burst still moves the whole burst), and a
// fixed `latency_cycles` from a transfer's first request to its first data. Timing is applied by
// the DMA unit, the channel's only user. Abstracted: banks, rows, refresh and the command bus.
//
// Example:
//   Dram d({64, 100, 64}, image);     // image: the initial contents
//   std::memcpy(out, d.data() + addr, n);
#pragma once

#include <cstdint>
#include <vector>

#include "hw_models/counters.hpp"
#include "hw_models/zero_pages.hpp"

namespace nmp::hw {

struct DramParams {
  uint32_t bytes_per_cycle = 64;
  uint32_t latency_cycles = 100;
  uint32_t burst_bytes = 64;
};

struct DramStats {
  uint64_t read_bytes = 0;    // channel bytes, whole bursts
  uint64_t write_bytes = 0;   // channel bytes, whole bursts
  uint64_t useful_bytes = 0;  // bytes the transfers asked for
  void visit(const CounterFn& fn) const;
};

class Dram {
 public:
  // `unbacked_bytes` > 0 (timing only, `contents` empty): a DRAM of that size that holds no
  // bytes; transfers take their time and move nothing.
  Dram(const DramParams& params, ZeroPages contents, uint64_t unbacked_bytes = 0);
  const DramParams& params() const { return params_; }
  bool backed() const { return unbacked_bytes_ == 0; }
  uint8_t* data() { return data_.data(); }
  const uint8_t* data() const { return data_.data(); }
  uint64_t size_bytes() const { return backed() ? data_.size() : unbacked_bytes_; }

  DramStats& stats(uint32_t layer) { return stats_for_layer<DramStats>(stats_, layer); }
  const std::vector<DramStats>& stats_by_layer() const { return stats_; }

 private:
  DramParams params_;
  ZeroPages data_;
  uint64_t unbacked_bytes_ = 0;
  std::vector<DramStats> stats_;
};

}  // namespace nmp::hw
