// The DMA engine: moves 2-D blocks (rows x row_bytes, with strides) between DRAM and the
// on-chip SRAMs, one command at a time.
//
// Timing of a command (docs/architecture.md#dma): a load first waits dram.latency_cycles for
// its first data; then each row is cut at DRAM burst boundaries into segments. A segment is one
// beat that needs at least ceil(burst_bytes / bytes_per_cycle) cycles (the channel moves whole
// bursts) and writes the SRAM words it covers, in chunks of the SRAM's words per cycle. A store
// does the same with SRAM reads, then waits dram.latency_cycles for the write acknowledgement.
// Rows follow each other without gaps; requests are pipelined, so latency is paid once per
// command. Abstracted: DRAM page policy and refresh; one outstanding command.
//
// Example:
//   Dma dma("dma", dram, srams, queue_depth, scoreboard);
#pragma once

#include <array>
#include <systemc>

#include "hw_models/beat_cursor.hpp"
#include "hw_models/dram.hpp"
#include "hw_models/unit.hpp"

namespace nmp::hw {

inline constexpr unsigned kNumSrams = 3;  // indexed by MemSpace: wsram, asram, acc

struct DmaStats {
  uint64_t loads = 0;
  uint64_t stores = 0;
  uint64_t busy_latency = 0;   // waiting for DRAM latency
  uint64_t busy_transfer = 0;  // moving data
  std::array<uint64_t, kNumSrams> stall_sram{};
  void visit(const std::array<Sram*, kNumSrams>& srams, const CounterFn& fn) const;
};

class Dma : public sc_core::sc_module, public QueuedUnit {
 public:
  Dma(sc_core::sc_module_name name, Dram& dram, std::array<Sram*, kNumSrams> srams,
      uint32_t queue_depth, Scoreboard& scoreboard);

  Footprint footprint(const Command& cmd) const override;
  void visit_counters(uint32_t layer, const CounterFn& fn) const override;
  uint32_t layer_count() const override { return static_cast<uint32_t>(stats_.size()); }

 protected:
  void begin(const Command& cmd, Cycles now) override;
  bool step(Cycles now) override;
  Cycles op_quiet_cycles(Cycles /*now*/) const override { return cursor_.quiet_cycles(); }
  void op_skip(Cycles n) override;
  uint32_t op_sram_use() const override { return cursor_.sram_use_mask(); }

 private:
  DmaStats& stats() { return stats_for_layer<DmaStats>(stats_, current().layer); }
  bool in_latency() const;

  Dram& dram_;
  std::array<Sram*, kNumSrams> srams_;
  BeatCursor cursor_;
  std::vector<DmaStats> stats_;
};

}  // namespace nmp::hw
