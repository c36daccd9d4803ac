// The MAC array: R x C processing elements executing `gemm` commands.
//
// A gemm of M x N x K runs as folds (kernels.hpp, gemm_folds). Per fold, engines work side by
// side, each a sequence of beats through the SRAMs (beat_cursor.hpp):
//   loader    fills the stationary registers (adder tree and WS: the weight block; IS: the
//             activation tile), while the previous fold computes if weight_preload_overlap;
//   compute   adder tree: m beats, each reading an activation row slice and adding the C
//             column sums into the accumulators. Systolic (WS, OS, IS): a timeline of
//             T + R + C_used - 2 cycles (fill, steady state, drain), with feeders that read the
//             streamed operands into edge FIFOs and a writer that drains the outputs, as
//             contiguous row runs; the fold ends when the timeline and all of them are done.
// The adder tree drains ceil(log2 R) + 1 cycles after its last fold. docs/architecture.md
// gives every closed form; fold_timing `padded` counts the whole array for partial folds, as
// SCALE-Sim does. PE kinds and their arithmetic: pe.hpp; values: kernels.hpp.
//
// Example:
//   MacArray mac("mac_array", params, srams, queue_depth, scoreboard);
#pragma once

#include <array>
#include <systemc>
#include <vector>

#include "hw_models/beat_cursor.hpp"
#include "hw_models/dma.hpp"
#include "hw_models/kernels.hpp"
#include "hw_models/unit.hpp"
#include "hw_models/weight_layout.hpp"

namespace nmp::hw {

struct MacArrayParams {
  uint32_t rows = 64;  // R
  uint32_t cols = 64;  // C
  Dataflow dataflow = Dataflow::kAdderTree;
  PeKind pe = PeKind::kTernaryInt8;
  bool weight_preload_overlap = true;
  FoldTiming fold_timing = FoldTiming::kExact;
  arith::TernaryPacking packing = arith::TernaryPacking::kTwoBit;
  FloatAccumulation float_accumulation = FloatAccumulation::kFp32;  // fp16, bf16, fp8
  bool timing_only = false;  // skip the values, keep every count
  WeightLayout layout() const { return {dataflow, rows, cols, pe, packing, float_accumulation}; }
  PeTraits traits() const { return pe_traits(pe, float_accumulation); }
};

// Adder-tree depth plus the accumulator stage.
uint32_t adder_tree_drain_cycles(uint32_t rows);

struct MacArrayStats {
  uint64_t gemms = 0;
  uint64_t macs = 0;         // multiply-accumulate slots used (dense)
  uint64_t mac_ops = 0;      // MACs performed: all but the ternary zero weights
  uint64_t zero_skips = 0;   // ternary MACs with a zero weight: adder gated
  uint64_t acc_updates = 0;  // accumulator SRAM updates (an add, or a first write)
  uint64_t invalid_weight_codes = 0;
  uint64_t quire_overflows = 0;
  uint64_t folds = 0;
  uint64_t stationary_bits = 0;  // bits written into stationary PE registers
  uint64_t busy_compute = 0;
  uint64_t busy_load = 0;  // a stationary tile loads while no fold computes
  uint64_t busy_drain = 0;
  std::array<uint64_t, kNumSrams> stall_sram{};
};

// What the array did in one cycle, for the occupancy trace (recorded in every ticked cycle).
// The PEs doing a useful MAC: adder tree, all k x n PEs of the stationary tile in a cycle that
// completes a beat (one activation row); systolic, PE (r, c) of the used rows and columns at
// step t of the fold's timeline when 0 <= t - r - c < T (the skewed wavefront).
struct ArrayActivity {
  Cycles cycle = kNever;
  bool computing = false, loading = false, draining = false, stalled = false;
  uint64_t fold = 0;       // fold computing (index within its gemm)
  uint64_t load_fold = 0;  // fold loading
  bool systolic = false;
  uint64_t timeline_step = 0;  // systolic: t
  uint32_t temporal = 0;       // systolic: T
  uint32_t rows_used = 0, cols_used = 0;
  bool beat_done = false;  // adder tree: a beat completed in this cycle
  bool pe_active(uint32_t r, uint32_t c) const;
  uint64_t active_pes() const;
};

// The energy key of one MAC of an array (by PE kind and dataflow).
std::string mac_energy_key(const MacArrayParams& params);

class MacArray : public sc_core::sc_module, public QueuedUnit {
 public:
  MacArray(sc_core::sc_module_name name, const MacArrayParams& params,
           std::array<Sram*, kNumSrams> srams, uint32_t queue_depth, Scoreboard& scoreboard);

  const MacArrayParams& params() const { return params_; }
  // Valid for the cycle it names; older than `now` if the array was idle. Recorded only after
  // record_activity() (for traces: it costs time in every cycle).
  const ArrayActivity& activity() const { return activity_; }
  void record_activity() { record_activity_ = true; }
  Footprint footprint(const Command& cmd) const override;
  void visit_counters(uint32_t layer, const CounterFn& fn) const override;
  uint32_t layer_count() const override { return static_cast<uint32_t>(stats_.size()); }

  // Energy keys of this array's arithmetic (by PE kind and dataflow).
  std::string mac_energy_key() const;
  std::string acc_energy_key() const;

  // The weight layout one gemm reads: the array's, or packed ternary (the `weights` field).
  static WeightLayout command_layout(const MacArrayParams& params, const Command& cmd);
  // Regions a gemm reads and writes; throws SimulationError for an invalid one.
  static Footprint command_footprint(const MacArrayParams& params,
                                     const std::array<Sram*, kNumSrams>& srams, const Command& cmd);
  // The gemm with each SRAM address reduced modulo its SRAM's bank period: gemms with the same
  // key take the same uncontended cycles (the analytical model's memo).
  static Command timing_key(const std::array<Sram*, kNumSrams>& srams, const Command& cmd);
  // Uncontended cycles of one gemm (the closed form the engines realize); `words`, if given,
  // receives the words each of its beats' streams moves.
  static Cycles uncontended_gemm_cycles(const MacArrayParams& params, const Command& cmd,
                                        const std::array<Sram*, kNumSrams>& srams,
                                        std::vector<WordCount>* words = nullptr);

 protected:
  void begin(const Command& cmd, Cycles now) override;
  bool step(Cycles now) override;
  Cycles op_quiet_cycles(Cycles now) const override;
  void op_skip(Cycles now, Cycles n) override;
  uint32_t op_sram_use() const override;
  const std::array<uint64_t, kNumSrams>& stall_counts() override { return stats().stall_sram; }
  uint64_t work_count() override { return stats().macs; }

 private:
  static constexpr size_t kEngines = 4;  // timeline and up to three streams per fold
  // The beats of one fold. Plans are filled in place into storage kept across folds, so the
  // steady state of a long gemm allocates nothing.
  struct FoldPlan {
    std::vector<BeatGroup> load;
    std::array<std::vector<BeatGroup>, kEngines> compute;  // sequences that run side by side
    uint64_t stationary_bits = 0;
  };
  static void plan_fold(const MacArrayParams& p, const Command& cmd, const Fold& fold,
                        const WeightBlock& block, const std::array<Sram*, kNumSrams>& srams,
                        FoldPlan& plan);

  // What one fold costs uncontended: its load and compute cycles, the words each of its
  // streams moves, the stationary bits it writes, and the SRAM port classes it uses.
  struct FoldCost {
    Cycles load = 0, compute = 0;
    uint64_t stationary_bits = 0;
    std::vector<WordCount> load_words, compute_words;
    uint32_t sram_mask = 0;
    bool operator==(const FoldCost& o) const {
      return load == o.load && compute == o.compute && stationary_bits == o.stationary_bits &&
             load_words == o.load_words && compute_words == o.compute_words &&
             sram_mask == o.sram_mask;
    }
  };
  FoldCost fold_cost(size_t fold, FoldPlan& plan) const;
  static FoldCost fold_cost(const MacArrayParams& p, const Command& cmd, const Fold& fold,
                            const WeightBlock& block, const std::array<Sram*, kNumSrams>& srams,
                            FoldPlan& plan);
  // What a fold's cost depends on: its shape, whether it reads the accumulators, and where its
  // three operands start within an SRAM word (plan_fold() and the beats' word counts read
  // nothing else). Folds with equal keys cost the same.
  struct FoldKey {
    uint64_t m_count = 0, k_count = 0, n_count = 0, rows = 0, row_bytes = 0, bytes = 0;
    bool reads_acc = false;
    uint64_t act_offset = 0, wgt_offset = 0, acc_offset = 0;  // within their SRAM words
    bool operator==(const FoldKey& o) const {
      return m_count == o.m_count && k_count == o.k_count && n_count == o.n_count &&
             rows == o.rows && row_bytes == o.row_bytes && bytes == o.bytes &&
             reads_acc == o.reads_acc && act_offset == o.act_offset && wgt_offset == o.wgt_offset &&
             acc_offset == o.acc_offset;
    }
  };
  FoldKey fold_key(size_t fold) const;
  // `t`: the array's PE traits (MacArrayParams::traits(), taken once per gemm by the callers).
  static FoldKey fold_key(const PeTraits& t, const Command& cmd, const Fold& fold,
                          const WeightBlock& block, const std::array<Sram*, kNumSrams>& srams);

  MacArrayStats& stats() { return stats_for_layer<MacArrayStats>(stats_, current().layer); }
  bool preloads() const;  // every dataflow but output-stationary fills stationary registers
  bool compute_can_start() const;
  bool loader_can_start(Cycles now) const;
  void start_compute(Cycles now);
  void start_load();
  // The quiet cycles of the engines as they stand (without a run of folds).
  Cycles engines_quiet_cycles(Cycles now) const;
  // Finds the run of folds that cost what the fold starting now does.
  void enter_run(Cycles now);
  // Advances n cycles of a run in closed form and sets every engine as they would stand.
  void skip_run(Cycles now, Cycles n);

  MacArrayParams params_;
  PeTraits traits_;
  std::array<Sram*, kNumSrams> srams_;
  // The current gemm's blocks and folds, and the shape they are for: loops issue gemms of one
  // shape again and again, which keep them. `weights` is the packing flag, the one command
  // field the blocks' layout reads (command_layout).
  struct GemmShape {
    uint64_t m = 0, n = 0, k = 0, weights = 0;
    bool operator==(const GemmShape& o) const {
      return m == o.m && n == o.n && k == o.k && weights == o.weights;
    }
  };
  GemmShape shape_;
  std::vector<WeightBlock> blocks_;
  std::vector<Fold> folds_;
  size_t next_load_ = 0;
  size_t next_compute_ = 0;
  bool loading_ = false;
  bool draining_ = false;
  bool shadow_full_ = false;
  bool any_compute_ = false;
  Cycles compute_free_at_ = 0;  // first cycle after the last fold ended
  FoldPlan plan_;               // of the fold loading, or of the next fold to compute
  std::vector<BeatGroup> drain_;
  BeatCursor loader_;
  std::array<BeatCursor, kEngines> compute_;
  std::vector<MacArrayStats> stats_;
  Cycles compute_started_at_ = 0;
  ArrayActivity activity_;
  bool record_activity_ = false;
  // Shape of the fold computing: T and the used rows and columns of its wavefront.
  uint32_t fold_temporal_ = 0, fold_rows_used_ = 0, fold_cols_used_ = 0;
  // A run of folds (docs/architecture.md#mac-array): from fold run_first_ to run_last_ the
  // folds' keys repeat with a period of run_costs_.size() folds (their operands' places within
  // an SRAM word cycle as the reduction steps), so their costs do too. From the compute start
  // of fold run_fold_ at cycle run_t0_, each fold starts computing its own period after the
  // one before: the quiet stretch spans whole folds, which skip_run() crosses in closed form.
  // A stall ends it.
  bool run_valid_ = false;
  bool run_known_ = false;  // run_first_, run_last_ and run_costs_ hold for this gemm
  size_t run_first_ = 0, run_fold_ = 0, run_last_ = 0;
  std::vector<FoldCost> run_costs_;  // by phase: fold f has phase (f - run_first_) % size
  Cycles run_t0_ = 0;
  // From run_fold_ on, by local index i (fold run_fold_ + i): compute cycles, period (compute
  // start to the next compute start), and period starts (run_starts_[q] = one cycle of them).
  std::vector<Cycles> run_compute_, run_period_, run_starts_, run_compute_before_;
  uint32_t run_sram_mask_ = 0;
  const FoldCost& run_cost(size_t local) const {
    return run_costs_[(run_fold_ - run_first_ + local) % run_costs_.size()];
  }
  FoldPlan scratch_plan_;
};

}  // namespace nmp::hw
