// The controller: fetches the program from instruction memory, executes scalar and control
// instructions itself, and issues unit instructions in order into the unit queues.
//
// Modelled: one instruction considered per cycle; scalar, `layer` and `nop` instructions take
// one cycle; a taken branch adds `branch_penalty_cycles` bubble cycles; a unit instruction
// issues when its unit's queue has room and the scoreboard finds no hazard with an in-flight
// command of another unit; `sync` and `halt` wait for units to drain. Every cycle in which it
// cannot issue is counted as a stall with its reason.
// Abstracted: instruction fetch is a hit in on-chip instruction memory every cycle.
//
// Example:
//   Controller ctrl("controller", params, program, units, scoreboard);
#pragma once

#include <array>
#include <systemc>
#include <vector>

#include "hw_models/unit.hpp"
#include "isa/program.hpp"

namespace nmp::hw {

struct ControllerParams {
  uint32_t queue_depth = 4;            // entries per unit queue
  uint32_t branch_penalty_cycles = 1;  // bubble after a taken branch
  uint64_t imem_bytes = 64 * 1024ULL;  // instruction memory capacity
};

enum class IssueStall : uint8_t {
  kNone,
  kQueueFullDma,
  kQueueFullMac,
  kQueueFullVector,
  kHazardRaw,
  kHazardWar,
  kHazardWaw,
  kBarrier,  // sync waiting for units to drain
  kDrain,    // halt waiting for units to drain
  kBranch,   // bubble after a taken branch
  kCount
};
// "queue_full_dma", ..., "branch"; kNone: "issue".
const char* to_string(IssueStall stall);

using Registers = std::array<uint64_t, isa::kNumRegs>;

// A controller instruction's effect on the registers (r0 stays 0), and the next pc. `layer`,
// `halt`, `nop` and `sync` change no register.
struct ControlStep {
  uint32_t next_pc = 0;
  bool branch_taken = false;  // costs branch_penalty_cycles
};
ControlStep execute_control(const isa::Decoded& d, uint32_t pc, Registers& regs);
// A unit instruction as its unit receives it: register operands resolved (no footprint yet).
Command unit_command(const isa::Decoded& d, uint32_t pc, uint32_t layer, const Registers& regs);

struct ControllerStats {
  uint64_t issued_control = 0;  // executed by the controller itself
  uint64_t issued_dma = 0;
  uint64_t issued_mac = 0;
  uint64_t issued_vector = 0;
  std::array<uint64_t, static_cast<size_t>(IssueStall::kCount)> stall{};
  void visit(const CounterFn& fn) const;
};

class Controller : public sc_core::sc_module, public ClockedUnit {
 public:
  // `units` is indexed by isa::Unit; the controller entry is null.
  Controller(sc_core::sc_module_name name, const ControllerParams& params,
             const isa::Program& program, std::array<QueuedUnit*, 4> units, Scoreboard& scoreboard);

  void tick(Cycles now) override;
  Cycles quiet_cycles(Cycles now) const override;
  void skip(Cycles now, Cycles n) override;
  uint32_t sram_use() const override { return 0; }
  Cycles sram_idle_cycles() const override { return kNever; }
  // Reports every cycle's issue or stall to `timeline` (nullptr: none).
  void set_timeline(Timeline* timeline) { timeline_ = timeline; }
  void visit_counters(uint32_t layer, const CounterFn& fn) const override;
  uint32_t layer_count() const override { return static_cast<uint32_t>(stats_.size()); }

  bool halted() const { return halted_; }
  uint32_t layer() const { return layer_; }  // the layer being issued
  uint64_t executed() const { return executed_; }
  // Every entry into a layer, in order (layer_times() gives each layer's time).
  const std::vector<LayerEntry>& layer_entries() const { return layer_entries_; }
  uint32_t pc() const { return pc_; }
  IssueStall last_stall() const { return stall_; }
  // Registers, for tests.
  uint64_t reg(unsigned r) const { return regs_.at(r); }

 private:
  // Why the instruction at pc cannot proceed in cycle `now` (kNone if it can).
  IssueStall blocker(Cycles now) const;
  bool units_drained(unsigned mask) const;
  const Command& pending_command() const;
  void execute(Cycles now);
  ControllerStats& stats() { return stats_for_layer<ControllerStats>(stats_, layer_); }

  // The instruction at pc, decoded once it is reached (decoded in full up front, a program of
  // tens of thousands of instructions took most of the elaboration).
  const isa::Decoded& current() const;

  ControllerParams params_;
  std::vector<isa::Instr> program_;  // every instruction checked to decode
  mutable isa::Decoded decoded_;
  mutable uint32_t decoded_pc_ = UINT32_MAX;
  std::array<QueuedUnit*, 4> units_;
  Scoreboard& scoreboard_;
  Registers regs_{};
  uint32_t pc_ = 0;
  uint32_t layer_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t executed_ = 0;
  uint32_t bubble_ = 0;
  bool halted_ = false;
  IssueStall stall_ = IssueStall::kNone;
  // The unit command at pc, built once per visit of pc (registers cannot change meanwhile).
  mutable Command pending_;
  mutable bool pending_valid_ = false;
  std::vector<ControllerStats> stats_;
  std::vector<LayerEntry> layer_entries_{kFirstEntry};
  Timeline* timeline_ = nullptr;
};

}  // namespace nmp::hw
