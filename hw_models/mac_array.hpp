// The MAC array: R x C processing elements executing `gemm` commands.
//
// Dataflow (this cut: the broadcast adder tree). Column c holds the weights of one output; row
// r one input. A gemm of M x N x K runs as folds (weight_layout.hpp), output folds outer,
// reduction folds inner. For each fold two engines work:
//   loader   reads the fold's weight tile from weight SRAM into the shadow weight registers
//            (one beat of tile bytes, in chunks of the SRAM's words per cycle);
//   compute  copies the shadow to the active registers and runs M beats: beat m reads the
//            fold's slice of activation row m, broadcasts it down the columns, reduces each
//            column through its adder tree and adds the C results to accumulator row m
//            (a read and a write of the accumulator SRAM; only a write for the first fold of
//            an overwriting gemm).
// The loader may fill the shadow for fold j+1 while fold j computes if
// weight_preload_overlap is set (from the cycle fold j starts); otherwise it starts the cycle
// after fold j ends. A fold starts computing the cycle after its tile is loaded and the
// previous fold ended. After the last fold the adder-tree pipeline drains for
// ceil(log2 R) + 1 cycles. Uncontended closed forms: docs/architecture.md#mac-array.
//
// PE kinds (this cut): ternary x int8 into int32. A zero weight gates its adder: counted apart.
// Abstracted: the adder tree's internal registers (only its depth is timed).
//
// Example:
//   MacArray mac("mac_array", params, srams, queue_depth, scoreboard);
#pragma once

#include <array>
#include <systemc>
#include <vector>

#include "hw_models/beat_cursor.hpp"
#include "hw_models/dma.hpp"
#include "hw_models/unit.hpp"
#include "hw_models/weight_layout.hpp"

namespace nmp::hw {

enum class Dataflow : uint8_t { kAdderTree };
enum class PeKind : uint8_t { kTernaryInt8 };
const char* to_string(Dataflow d);
const char* to_string(PeKind p);

struct MacArrayParams {
  uint32_t rows = 64;  // R: inputs reduced per cycle
  uint32_t cols = 64;  // C: outputs per cycle
  Dataflow dataflow = Dataflow::kAdderTree;
  PeKind pe = PeKind::kTernaryInt8;
  uint32_t acc_bits = 32;
  bool weight_preload_overlap = true;
  arith::TernaryPacking packing = arith::TernaryPacking::kTwoBit;
  bool timing_only = false;  // skip the values, keep every count
};

// Adder-tree depth plus the accumulator stage.
uint32_t adder_tree_drain_cycles(uint32_t rows);

struct MacArrayStats {
  uint64_t gemms = 0;
  uint64_t macs = 0;                  // M x rows x cols over all folds (dense)
  uint64_t ternary_adds = 0;          // MACs with a non-zero weight: one int8 add/subtract
  uint64_t zero_skips = 0;            // MACs with a zero weight: adder gated
  uint64_t invalid_weight_codes = 0;  // packed codes outside the format, decoded as 0
  uint64_t acc_adds = 0;              // int32 accumulator additions (M x cols per fold)
  uint64_t weight_tiles = 0;          // fold tiles loaded
  uint64_t weight_reg_bits = 0;       // bits written into the weight registers
  uint64_t busy_compute = 0;
  uint64_t busy_weight_load = 0;      // loading a tile while no fold computes
  uint64_t busy_drain = 0;
  std::array<uint64_t, kNumSrams> stall_sram{};
  void visit(const std::array<Sram*, kNumSrams>& srams, const CounterFn& fn) const;
};

class MacArray : public sc_core::sc_module, public QueuedUnit {
 public:
  MacArray(sc_core::sc_module_name name, const MacArrayParams& params,
           std::array<Sram*, kNumSrams> srams, uint32_t queue_depth, Scoreboard& scoreboard);

  const MacArrayParams& params() const { return params_; }
  Footprint footprint(const Command& cmd) const override;
  void visit_counters(uint32_t layer, const CounterFn& fn) const override;
  uint32_t layer_count() const override { return static_cast<uint32_t>(stats_.size()); }

 protected:
  void begin(const Command& cmd, Cycles now) override;
  bool step(Cycles now) override;
  Cycles op_quiet_cycles(Cycles now) const override;
  void op_skip(Cycles n) override;
  uint32_t op_sram_use() const override;

 private:
  MacArrayStats& stats() { return stats_for_layer<MacArrayStats>(stats_, current().layer); }
  bool compute_can_start() const;
  bool loader_can_start(Cycles now) const;
  void start_compute();
  void start_load();

  MacArrayParams params_;
  std::array<Sram*, kNumSrams> srams_;
  std::vector<FoldTile> folds_;
  size_t next_load_ = 0;
  size_t next_compute_ = 0;
  bool loading_ = false;
  bool computing_ = false;
  bool draining_ = false;
  bool shadow_full_ = false;
  Cycles compute_free_at_ = 0;  // first cycle after the last fold ended
  BeatCursor loader_;
  BeatCursor compute_;
  std::vector<MacArrayStats> stats_;
};

}  // namespace nmp::hw
