// The neural microprocessor: the netlist of all blocks, and the one process that clocks them.
//
// Blocks: controller, DMA, MAC array, vector unit; memories: DRAM, weight SRAM (wsram),
// activation SRAM (asram), accumulator SRAM (acc). Every unit is a state machine (unit.hpp)
// driven by the scheduler process of this module, in a fixed order that is also the SRAM port
// priority: controller, dma, vector_unit, mac_array (unit.hpp says why).
//
// Two modes drive the same state machines:
//   lockstep  an sc_clock; the process ticks every unit on every rising edge.
//   default   the process ticks every unit in cycles where something happens or SRAM ports are
//             contended, and skips runs of quiet cycles (unit.hpp) in one step. It advances
//             SystemC time by cycles x period in quanta (temporal decoupling): no other process
//             observes time in between.
// The process is an SC_METHOD that re-arms itself (next_trigger), not an SC_THREAD: it needs no
// coroutine stack, which is cheaper and lets AddressSanitizer follow the exceptions that carry
// simulation faults.
// Both give the same cycle count and counters; the test suite checks it.
//
// Example:
//   NmpTop top("nmp", params, program, dram_image);
//   sc_core::sc_start();
//   if (!top.error().empty()) ...; top.cycles();
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <systemc>
#include <vector>

#include "hw_models/controller.hpp"
#include "hw_models/dma.hpp"
#include "hw_models/dram.hpp"
#include "hw_models/mac_array.hpp"
#include "hw_models/scoreboard.hpp"
#include "hw_models/sram.hpp"
#include "hw_models/timeline.hpp"
#include "hw_models/vector_unit.hpp"
#include "isa/program.hpp"

namespace nmp::hw {

struct NmpParams {
  double clock_mhz = 1000.0;
  ControllerParams controller;
  DramParams dram;
  SramParams weight_sram{"wsram", 512 * 1024ULL, 16, 256, PortConfig::kOneRw};
  SramParams act_sram{"asram", 256 * 1024ULL, 8, 256, PortConfig::kOneRw};
  SramParams acc_sram{"acc", 256 * 1024ULL, 8, 256, PortConfig::kOneROneW};
  MacArrayParams mac_array;
  VectorUnitParams vector_unit;
  bool lockstep = false;
  Cycles max_cycles = Cycles{1} << 40;            // watchdog
  uint64_t max_instructions = uint64_t{1} << 30;  // watchdog for runaway loops
};

// Called for every counter of every block: block name ("mac_array", "wsram", ...), layer.
using BlockCounterFn =
    std::function<void(const std::string& block, uint32_t layer, const CounterInfo&, uint64_t)>;

class NmpTop : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(NmpTop);
  // unbacked_dram_bytes > 0: a DRAM of that size holding no values (Dram), for timing only.
  NmpTop(sc_core::sc_module_name name, const NmpParams& params, const isa::Program& program,
         ZeroPages dram_image, uint64_t unbacked_dram_bytes = 0);

  // Total cycles: the halt's cycle + 1. Valid once sc_start() has returned without error.
  Cycles cycles() const { return cycles_; }
  // Empty if the program halted; otherwise the simulation fault (watchdog, deadlock, ...).
  const std::string& error() const { return error_; }

  const Dram& dram() const { return dram_; }
  const MacArray& mac_array() const { return mac_array_; }
  // Called after every cycle's ticks with that cycle (lockstep mode only, where every cycle is
  // ticked): the hook for per-cycle traces.
  void set_cycle_observer(std::function<void(Cycles)> observer);
  // Called every 2^16 simulated cycles with the cycle and the number of layers begun: the hook
  // for a progress line (it must be cheap; it may be called often).
  void set_progress(std::function<void(Cycles, size_t)> progress) {
    progress_ = std::move(progress);
  }
  // Every unit reports what it does to `timeline` (timeline.hpp); call before sc_start().
  void set_timeline(Timeline* timeline);
  const Sram& sram(MemSpace space) const { return *srams_.at(static_cast<size_t>(space)); }
  uint32_t layer_count() const;
  const std::vector<LayerEntry>& layer_entries() const { return controller_.layer_entries(); }
  void visit_counters(const BlockCounterFn& fn) const;

 private:
  void step_default();   // SC_METHOD: runs until SystemC time must advance
  void step_lockstep();  // SC_METHOD on the clock's rising edge: one cycle
  void finish(const std::string& error);
  void tick_all(Cycles now);
  // Cycles from now in which no two units request words of one SRAM port class: kNever when no
  // two use one; when two do, as long as one of the two requests none.
  Cycles contention_free_cycles() const;
  uint64_t instructions_issued() const;
  std::string state_summary() const;
  void check_watchdogs(Cycles now) const;
  // After the ticks of cycle `now`: the units' SRAM port classes from now + 1 on, if changed.
  void record_ports(Cycles now);

  NmpParams params_;
  sc_core::sc_time period_;
  Dram dram_;
  std::array<std::unique_ptr<Sram>, kNumSrams> srams_;
  Scoreboard scoreboard_;
  Dma dma_;
  MacArray mac_array_;
  VectorUnit vector_unit_;
  Controller controller_;
  static constexpr size_t kUnits = 4;
  std::array<ClockedUnit*, kUnits> tick_order_;
  std::unique_ptr<sc_core::sc_clock> clock_;
  Cycles now_ = 0;       // the cycle the next tick executes
  Cycles unsynced_ = 0;  // cycles simulated ahead of SystemC time (default mode)
  bool finished_ = false;
  Cycles cycles_ = 0;
  std::string error_;
  std::function<void(Cycles)> observer_;
  std::function<void(Cycles, size_t)> progress_;
  Timeline* timeline_ = nullptr;
  std::array<uint32_t, 4> recorded_ports_{};  // by isa::Unit
};

}  // namespace nmp::hw
