// The vector unit: `lanes` int32 lanes behind a pipeline of `pipeline_depth_cycles` stages.
//
// requant (int32 accumulators to int8): per row, a max pass of ceil(n / lanes) beats, each
// reading `lanes` accumulators (a partial last beat reads the rest); a bubble of
// pipeline_depth_cycles while the row's reciprocal is formed; a quantize pass of
// ceil(n / lanes) beats, each reading `lanes` accumulators and writing `lanes` int8 outputs;
// one beat writing the row's absmax. Arithmetic: kernels.hpp, requantize_row().
// cvt (fp32 or quire accumulators to the PE kind's activation format): per row ceil(n / lanes)
// beats, each reading `lanes` accumulators and writing `lanes` outputs, then one
// pipeline_depth_cycles drain per command. Arithmetic: kernels.hpp, convert_accumulator().
// The vector commands (vcvt, vbin, vfn, vact, vrope, vred, softmax, rmsnorm, layernorm,
// lstm.cell, gru.cell) compute in the unit's internal format through VectorOps
// (vector_ops.hpp). Timing: each command is a list of passes over its rows; a pass streams the
// operands it reads and writes, `lanes` elements per beat, and takes at least its compute cycles
// per beat (1, or the function evaluations of a cell); operands in the same SRAM port class cannot
// share a beat, so they stream one after the other. docs/isa.md gives each command's passes;
// docs/architecture.md the beat model. Abstracted: the divider is one pipeline bubble per row,
// whatever the absmax's width.
//
// Example:
//   VectorUnit vec("vector_unit", params, srams, queue_depth, scoreboard);
#pragma once

#include <array>
#include <memory>
#include <string>
#include <systemc>

#include "hw_models/beat_cursor.hpp"
#include "hw_models/dma.hpp"
#include "hw_models/pe.hpp"
#include "hw_models/unit.hpp"
#include "hw_models/vector_ops.hpp"

namespace nmp::hw {

struct VectorUnitParams {
  uint32_t lanes = 64;
  uint32_t pipeline_depth_cycles = 4;
  arith::VectorMathSpec math;        // internal format and function tables
  PeKind pe = PeKind::kTernaryInt8;  // the MAC array's: accumulator and activation formats
  FloatAccumulation accumulation = FloatAccumulation::kFp32;  // the MAC array's
  // dram.activation_format, which vcvt's `stored` type rounds through (empty: the vector format).
  std::string stored_format;
  bool timing_only = false;
};

struct VectorUnitStats {
  uint64_t requants = 0;
  uint64_t converts = 0;
  uint64_t conversions = 0;      // accumulators rounded to the activation format
  uint64_t compares = 0;         // |acc| max reductions, one per element
  uint64_t multiplies = 0;       // acc * r, one per element
  uint64_t adds = 0;             // rounding additions, one per element
  uint64_t reciprocals = 0;      // one per row
  uint64_t vector_commands = 0;  // every vector command but cvt and requant
  uint64_t vec_adds = 0;         // adds, subtracts, compares, conversions in the vector format
  uint64_t vec_acc_adds = 0;     // reductions' adds, in the accumulator format
  uint64_t vec_muls = 0;
  uint64_t vec_functions = 0;  // PWL table evaluations
  uint64_t busy_requant = 0;
  uint64_t busy_convert = 0;
  uint64_t busy_vector = 0;
  std::array<uint64_t, kNumSrams> stall_sram{};
  arith::SaturationCounts saturations{};  // results beyond the largest finite value, by kind
  void visit(const std::array<Sram*, kNumSrams>& srams, PeKind pe, const std::string& vec_class,
             const std::string& acc_class, const CounterFn& fn) const;
};

// What a vector command does, apart from the cycle-by-cycle stepping: its footprint (validating
// it), its beats, and (unless params.timing_only) its results in the SRAMs. The unit runs it;
// the analytical model (analytical.hpp) prices commands with it without running them.
class VectorCommands {
 public:
  VectorCommands(const VectorUnitParams& params, std::array<Sram*, kNumSrams> srams);

  Footprint footprint(const Command& cmd) const;
  // The command with each SRAM address reduced modulo its SRAM's bank period: commands with
  // the same key have beats of the same uncontended cycles (the analytical model's memo).
  Command timing_key(const Command& cmd) const;
  // The command's beats, its results written unless timing-only, its work counted in `stats`.
  // The beats stay valid until the next run() (their storage is reused: commands of
  // thousands of rows would otherwise allocate and fault in their lists each time).
  const std::vector<BeatGroup>& run(const Command& cmd, VectorUnitStats& stats);
  const VectorUnitParams& params() const { return params_; }
  const arith::VectorMath& math() const { return math_; }
  const std::array<Sram*, kNumSrams>& srams() const { return srams_; }

 private:
  // Each appends the command's beats to `groups`.
  void requant(const Command& cmd, VectorUnitStats& stats, std::vector<BeatGroup>& groups);
  void convert(const Command& cmd, VectorUnitStats& stats, std::vector<BeatGroup>& groups);
  void vector_command(const Command& cmd, VectorUnitStats& stats, std::vector<BeatGroup>& groups);
  Footprint vector_footprint(const Command& cmd) const;

  VectorUnitParams params_;
  std::array<Sram*, kNumSrams> srams_;
  arith::VectorMath math_;
  std::unique_ptr<arith::NumberFormat> stored_format_;  // null: the vector format
  VectorOps ops_;
  std::vector<BeatGroup> groups_;  // run()'s
};

class VectorUnit : public sc_core::sc_module, public QueuedUnit {
 public:
  VectorUnit(sc_core::sc_module_name name, const VectorUnitParams& params,
             std::array<Sram*, kNumSrams> srams, uint32_t queue_depth, Scoreboard& scoreboard);

  Footprint footprint(const Command& cmd) const override { return commands_.footprint(cmd); }
  void visit_counters(uint32_t layer, const CounterFn& fn) const override;
  uint32_t layer_count() const override { return static_cast<uint32_t>(stats_.size()); }

 protected:
  void begin(const Command& cmd, Cycles now) override;
  bool step(Cycles now) override;
  Cycles op_quiet_cycles(Cycles /*now*/) const override { return cursor_.quiet_cycles(); }
  void op_skip(Cycles now, Cycles n) override;
  uint32_t op_sram_use() const override { return cursor_.sram_use_mask(); }
  Cycles op_sram_idle_cycles() const override { return cursor_.idle_cycles(); }
  const std::array<uint64_t, kNumSrams>& stall_counts() override { return stats().stall_sram; }

 private:
  VectorUnitStats& stats() { return stats_for_layer<VectorUnitStats>(stats_, current().layer); }
  uint64_t& busy_counter();

  VectorCommands commands_;
  std::string vec_class_;  // energy class of the internal format (vec.add.<class>)
  std::string acc_class_;  // and of the reductions' accumulator format
  BeatCursor cursor_;
  std::vector<VectorUnitStats> stats_;
};

}  // namespace nmp::hw
