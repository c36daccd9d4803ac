// What the scheduler in NmpTop drives: every unit is a state machine advanced one cycle at a
// time by tick(), or many quiet cycles at once by skip().
//
// Within a cycle the scheduler ticks units in a fixed order (controller, dma, vector_unit,
// mac_array), which is also their priority at SRAM ports: the units whose demand is bounded by
// a rate (DMA by DRAM bandwidth, the vector unit by its lanes) come before the MAC array, which
// streams as fast as the ports allow and so would starve them. Everything a unit does in cycle t
// becomes visible to other units in cycle t+1: the controller ticks first, so it sees completions
// and queue pops of cycle t-1; queue entries pushed in cycle t carry the stamp t+1.
//
// A quiet cycle is one in which a unit's tick would only count down: no command starts or ends,
// no queue or scoreboard changes, and its set of SRAM port classes stays the same. When no two
// units use the same SRAM port class, the scheduler may skip the smallest number of quiet
// cycles of all units at once. Where two do, it may skip as many of them as one of the two
// requests no word in (a DMA beat waiting for its DRAM data); otherwise it ticks every cycle,
// and the ports are arbitrated.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <string>

#include "hw_models/command.hpp"
#include "hw_models/counters.hpp"
#include "hw_models/cycles.hpp"
#include "hw_models/scoreboard.hpp"
#include "hw_models/timeline.hpp"

namespace nmp::hw {

class ClockedUnit {
 public:
  virtual ~ClockedUnit() = default;
  virtual void tick(Cycles now) = 0;
  // 0: must be ticked at `now`; kNever: waits for another unit.
  virtual Cycles quiet_cycles(Cycles now) const = 0;
  // Advances n <= quiet_cycles(now) cycles as if no other unit used its SRAM ports.
  virtual void skip(Cycles now, Cycles n) = 0;
  // Bit (sram id * 2 + port class) for every SRAM port class it may request until its next
  // non-quiet cycle.
  virtual uint32_t sram_use() const = 0;
  // Cycles from now in which it requests no SRAM word at all (0: it may request one now).
  virtual Cycles sram_idle_cycles() const = 0;
  virtual void visit_counters(uint32_t layer, const CounterFn& fn) const = 0;
  virtual uint32_t layer_count() const = 0;  // layers it has counters for
};

// A unit fed by the controller through a bounded in-order queue. Subclasses describe one
// command: its footprint (validating it), what it does when it starts, and its cycles.
class QueuedUnit : public ClockedUnit {
 public:
  QueuedUnit(isa::Unit id, uint32_t queue_depth, Scoreboard& scoreboard);

  isa::Unit id() const { return id_; }
  bool queue_full() const { return queue_.size() >= queue_depth_; }
  size_t queued() const { return queue_.size(); }
  void push(const Command& cmd, Cycles now);
  // Nothing queued and no command in progress.
  bool drained() const { return queue_.empty() && !busy_; }
  bool busy() const { return busy_; }
  const Command& current() const { return current_; }
  // Reports its commands and SRAM stalls to `timeline` (nullptr: none).
  void set_timeline(Timeline* timeline) { timeline_ = timeline; }

  // Regions the command reads and writes; throws SimulationError for an invalid command.
  virtual Footprint footprint(const Command& cmd) const = 0;

  void tick(Cycles now) final;
  Cycles quiet_cycles(Cycles now) const final;
  void skip(Cycles now, Cycles n) final;
  uint32_t sram_use() const final { return busy_ ? op_sram_use() : 0; }
  Cycles sram_idle_cycles() const final { return busy_ ? op_sram_idle_cycles() : kNever; }

 protected:
  // Starts `cmd` in cycle `now` (the functional effect of the whole command happens here).
  virtual void begin(const Command& cmd, Cycles now) = 0;
  // One cycle of the command in progress; returns true if it ends in this cycle.
  virtual bool step(Cycles now) = 0;
  virtual Cycles op_quiet_cycles(Cycles now) const = 0;
  virtual void op_skip(Cycles now, Cycles n) = 0;
  virtual uint32_t op_sram_use() const = 0;
  virtual Cycles op_sram_idle_cycles() const { return 0; }
  // For the timeline, read around each cycle of a command: the current layer's running counts
  // of cycles refused each SRAM's ports, and of the work it counts (MAC array: MACs).
  virtual const std::array<uint64_t, kNumSrams>& stall_counts() = 0;
  virtual uint64_t work_count() { return 0; }
  Timeline* timeline() const { return timeline_; }

 private:
  void record_cycle(Cycles now, const std::array<uint64_t, kNumSrams>& stalls_before, bool ended);

  struct Entry {
    Command cmd;
    Cycles visible_at;
  };
  isa::Unit id_;
  uint32_t queue_depth_;
  Scoreboard& scoreboard_;
  std::deque<Entry> queue_;
  bool busy_ = false;
  Command current_;
  Timeline* timeline_ = nullptr;
  Cycles began_ = 0;
  uint64_t work_at_begin_ = 0;
};

}  // namespace nmp::hw
