#include "hw_models/mac_array.hpp"

#include <stdexcept>

#include "hw_models/kernels.hpp"

namespace nmp::hw {

namespace op = isa::gemm;

const char* to_string(Dataflow d) {
  switch (d) {
    case Dataflow::kAdderTree: return "adder_tree";
  }
  return "?";
}

const char* to_string(PeKind p) {
  switch (p) {
    case PeKind::kTernaryInt8: return "ternary_int8";
  }
  return "?";
}

uint32_t adder_tree_drain_cycles(uint32_t rows) {
  uint32_t depth = 0;
  while ((uint64_t{1} << depth) < rows) ++depth;
  return depth + 1;
}

void MacArrayStats::visit(const std::array<Sram*, kNumSrams>& srams, const CounterFn& fn) const {
  fn({"gemms", "commands", "gemm commands", ""}, gemms);
  fn({"macs", "ops", "multiply-accumulate slots used (dense)", ""}, macs);
  fn({"ternary_adds", "ops", "MACs with a non-zero ternary weight: one int8 add or subtract",
      "pe.ternary_add"},
     ternary_adds);
  fn({"zero_skips", "ops", "MACs with a zero weight: the adder is gated (no dynamic energy)",
      ""},
     zero_skips);
  fn({"invalid_weight_codes", "weights", "packed weight codes outside the format (decoded as 0)",
      ""},
     invalid_weight_codes);
  fn({"acc_adds", "ops", "int32 additions into the accumulators", "pe.acc_add"}, acc_adds);
  fn({"weight_tiles", "tiles", "fold tiles loaded into the weight registers", ""}, weight_tiles);
  fn({"weight_reg_bits", "bits", "bits written into the PE weight registers (not priced yet)",
      ""},
     weight_reg_bits);
  fn({"busy_compute", "cycles", "cycles a fold computed", ""}, busy_compute);
  fn({"busy_weight_load", "cycles", "cycles a weight tile loaded while no fold computed", ""},
     busy_weight_load);
  fn({"busy_drain", "cycles", "cycles the adder-tree pipeline drained", ""}, busy_drain);
  for (unsigned i = 0; i < kNumSrams; ++i) {
    const std::string& name = srams[i]->params().name;
    fn({"stall_sram_" + name, "cycles", "cycles refused a port of " + name, ""}, stall_sram[i]);
  }
}

MacArray::MacArray(sc_core::sc_module_name name, const MacArrayParams& params,
                   std::array<Sram*, kNumSrams> srams, uint32_t queue_depth,
                   Scoreboard& scoreboard)
    : sc_module(name),
      QueuedUnit(isa::Unit::kMacArray, queue_depth, scoreboard),
      params_(params),
      srams_(srams) {
  // A read-modify-write of the accumulators needs a read and a write port in the same cycle.
  if (srams_[static_cast<size_t>(MemSpace::kAccSram)]->params().ports == PortConfig::kOneRw) {
    throw std::invalid_argument("mac_array: the accumulator SRAM needs 1r1w or 2rw ports");
  }
}

Footprint MacArray::footprint(const Command& cmd) const {
  const uint64_t m = cmd.args[op::kM], n = cmd.args[op::kN], k = cmd.args[op::kK];
  if (m == 0 || n == 0 || k == 0) throw SimulationError("m, n and k must be >= 1");
  if (cmd.args[op::kAcc] % 4 || cmd.args[op::kAccStride] % 4) {
    throw SimulationError("acc address and acc_stride must be multiples of 4 (int32)");
  }
  const Region act{MemSpace::kActSram, cmd.args[op::kAct],
                   cmd.args[op::kAct] + (m - 1) * cmd.args[op::kActStride] + k};
  const Region wgt{MemSpace::kWeightSram, cmd.args[op::kWgt],
                   cmd.args[op::kWgt] + weight_operand_bytes(static_cast<uint32_t>(n),
                                                             static_cast<uint32_t>(k),
                                                             params_.rows, params_.cols,
                                                             params_.packing)};
  const Region acc{MemSpace::kAccSram, cmd.args[op::kAcc],
                   cmd.args[op::kAcc] + (m - 1) * cmd.args[op::kAccStride] + 4 * n};
  for (const Region& r : {act, wgt, acc}) {
    const Sram& s = *srams_[static_cast<size_t>(r.space)];
    if (r.end > s.capacity_bytes() || r.begin > r.end) {
      throw SimulationError("bytes [" + std::to_string(r.begin) + ", " + std::to_string(r.end) +
                            ") lie outside " + s.params().name + " (" +
                            std::to_string(s.capacity_bytes()) + " bytes)");
    }
  }
  Footprint fp;
  fp.read(act);
  fp.read(wgt);
  if (cmd.args[op::kMode] == static_cast<uint64_t>(isa::AccMode::kAccumulate)) fp.read(acc);
  fp.write(acc);
  return fp;
}

void MacArray::begin(const Command& cmd, Cycles now) {
  const auto m = static_cast<uint32_t>(cmd.args[op::kM]);
  folds_ = fold_tiles(static_cast<uint32_t>(cmd.args[op::kN]),
                      static_cast<uint32_t>(cmd.args[op::kK]), params_.rows, params_.cols,
                      params_.packing);
  Sram& wsram = *srams_[static_cast<size_t>(MemSpace::kWeightSram)];
  arith::TritCounts trits;
  if (params_.timing_only) {
    for (const FoldTile& f : folds_) {
      for (uint32_t c = 0; c < f.cols; ++c) {
        const arith::TritCounts t = arith::count_trits(
            wsram.data() + cmd.args[op::kWgt] + f.offset + c * f.row_bytes, f.rows,
            params_.packing);
        trits.zeros += t.zeros;
        trits.invalid_codes += t.invalid_codes;
      }
    }
  } else {
    TernaryGemmArgs args;
    args.act = srams_[static_cast<size_t>(MemSpace::kActSram)]->data() + cmd.args[op::kAct];
    args.act_stride = cmd.args[op::kActStride];
    args.wgt = wsram.data() + cmd.args[op::kWgt];
    args.acc = srams_[static_cast<size_t>(MemSpace::kAccSram)]->data() + cmd.args[op::kAcc];
    args.acc_stride = cmd.args[op::kAccStride];
    args.m = m;
    args.accumulate = cmd.args[op::kMode] == static_cast<uint64_t>(isa::AccMode::kAccumulate);
    trits = ternary_gemm(args, folds_, params_.packing);
  }
  MacArrayStats& s = stats();
  uint64_t macs = 0;
  for (const FoldTile& f : folds_) {
    macs += uint64_t{m} * f.rows * f.cols;
    s.acc_adds += uint64_t{m} * f.cols;
    s.weight_reg_bits += uint64_t{2} * f.rows * f.cols;
  }
  ++s.gemms;
  s.macs += macs;
  s.zero_skips += trits.zeros * m;  // each weight meets all m activation rows
  s.ternary_adds += macs - trits.zeros * m;
  s.weight_tiles += folds_.size();
  s.invalid_weight_codes += trits.invalid_codes;

  next_load_ = next_compute_ = 0;
  loading_ = computing_ = draining_ = shadow_full_ = false;
  compute_free_at_ = now;
}

bool MacArray::compute_can_start() const {
  if (computing_ || draining_) return false;
  return next_compute_ == folds_.size() || shadow_full_;
}

bool MacArray::loader_can_start(Cycles now) const {
  if (loading_ || shadow_full_ || next_load_ == folds_.size()) return false;
  return params_.weight_preload_overlap || (!computing_ && compute_free_at_ <= now);
}

void MacArray::start_compute() {
  const Command& cmd = current();
  BeatGroup g;
  if (next_compute_ == folds_.size()) {
    g.min_cycles = adder_tree_drain_cycles(params_.rows);
    draining_ = true;
  } else {
    const FoldTile& f = folds_[next_compute_];
    g.beats = cmd.args[op::kM];
    Sram* asram = srams_[static_cast<size_t>(MemSpace::kActSram)];
    Sram* acc = srams_[static_cast<size_t>(MemSpace::kAccSram)];
    g.add({asram, Access::kRead, cmd.args[op::kAct] + f.k0, cmd.args[op::kActStride], f.rows});
    const uint64_t acc_first = cmd.args[op::kAcc] + uint64_t{4} * f.n0;
    const bool overwrite =
        cmd.args[op::kMode] == static_cast<uint64_t>(isa::AccMode::kOverwrite) && f.k0 == 0;
    if (!overwrite) g.add({acc, Access::kRead, acc_first, cmd.args[op::kAccStride], 4 * f.cols});
    g.add({acc, Access::kWrite, acc_first, cmd.args[op::kAccStride], 4 * f.cols});
    computing_ = true;
    shadow_full_ = false;
  }
  compute_.start({g}, cmd.layer);
}

void MacArray::start_load() {
  const FoldTile& f = folds_[next_load_];
  BeatGroup g;
  g.add({srams_[static_cast<size_t>(MemSpace::kWeightSram)], Access::kRead,
         current().args[op::kWgt] + f.offset, 0, static_cast<uint32_t>(f.bytes)});
  loader_.start({g}, current().layer);
  loading_ = true;
}

bool MacArray::step(Cycles now) {
  MacArrayStats& s = stats();
  bool accounted = false;
  bool finished = false;
  if (compute_can_start()) start_compute();
  if (computing_ || draining_) {
    accounted = true;
    if (compute_.tick(now) == StepResult::kStalled) {
      ++s.stall_sram[compute_.stalled_on()->id()];
    } else {
      ++(draining_ ? s.busy_drain : s.busy_compute);
    }
    if (compute_.done()) {
      if (draining_) {
        draining_ = false;
        finished = true;
      } else {
        computing_ = false;
        ++next_compute_;
        compute_free_at_ = now + 1;
      }
    }
  }
  if (loader_can_start(now)) start_load();
  if (loading_) {
    const StepResult r = loader_.tick(now);
    if (!accounted) {
      if (r == StepResult::kStalled) {
        ++s.stall_sram[loader_.stalled_on()->id()];
      } else {
        ++s.busy_weight_load;
      }
    }
    if (loader_.done()) {
      loading_ = false;
      shadow_full_ = true;
      ++next_load_;
    }
  }
  return finished;
}

Cycles MacArray::op_quiet_cycles(Cycles now) const {
  if (compute_can_start() || loader_can_start(now)) return 0;
  Cycles q = kNever;
  if (computing_ || draining_) q = compute_.quiet_cycles();
  if (loading_) q = std::min(q, loader_.quiet_cycles());
  return q;
}

void MacArray::op_skip(Cycles n) {
  MacArrayStats& s = stats();
  if (computing_ || draining_) {
    (draining_ ? s.busy_drain : s.busy_compute) += n;
    compute_.skip(n);
  } else if (loading_) {
    s.busy_weight_load += n;
  }
  if (loading_) loader_.skip(n);
}

uint32_t MacArray::op_sram_use() const {
  uint32_t mask = 0;
  if (computing_) mask |= compute_.sram_use_mask();
  if (loading_) mask |= loader_.sram_use_mask();
  return mask;
}

void MacArray::visit_counters(uint32_t layer, const CounterFn& fn) const {
  if (layer < stats_.size()) stats_[layer].visit(srams_, fn);
}

}  // namespace nmp::hw
