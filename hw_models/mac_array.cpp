#include "hw_models/mac_array.hpp"

#include <algorithm>
#include <stdexcept>

namespace nmp::hw {

namespace op = isa::gemm;

uint32_t adder_tree_drain_cycles(uint32_t rows) {
  uint32_t depth = 0;
  while ((uint64_t{1} << depth) < rows) ++depth;
  return depth + 1;
}

bool ArrayActivity::pe_active(uint32_t r, uint32_t c) const {
  if (!computing || r >= rows_used || c >= cols_used) return false;
  if (!systolic) return beat_done;
  return timeline_step >= uint64_t{r} + c && timeline_step - r - c < temporal;
}

uint64_t ArrayActivity::active_pes() const {
  if (!computing) return 0;
  if (!systolic) return beat_done ? uint64_t{rows_used} * cols_used : 0;
  uint64_t n = 0;
  for (uint32_t r = 0; r < rows_used && r <= timeline_step; ++r) {
    // Columns c with t - r - T < c <= t - r, within [0, cols_used).
    const uint64_t hi = std::min<uint64_t>(cols_used - 1, timeline_step - r);
    const uint64_t lo = timeline_step - r >= temporal ? timeline_step - r - temporal + 1 : 0;
    if (lo <= hi) n += hi - lo + 1;
  }
  return n;
}

std::string mac_energy_key(const MacArrayParams& params) {
  if (params.pe == PeKind::kTernaryInt8) {
    // An adder tree adds narrow values; a systolic PE adds into a wide partial sum.
    return params.dataflow == Dataflow::kAdderTree ? "pe.mac.ternary_tree" : "pe.mac.ternary";
  }
  return std::string("pe.mac.") + to_string(params.pe) +
         (params.traits().native_acc ? "_native" : "");
}

std::string MacArray::mac_energy_key() const { return hw::mac_energy_key(params_); }

std::string MacArray::acc_energy_key() const {
  const PeKindInfo& info = pe_info(params_.pe);
  const std::string bits = std::to_string(8 * info.acc_bytes);
  switch (info.accumulator) {
    case Accumulator::kQuire:
      return "pe.acc.quire" + bits;
    case Accumulator::kFloat:
      return params_.traits().native_acc ? "pe.acc.native" : "pe.acc.fp32";
    default:
      return "pe.acc.int" + bits;
  }
}

void MacArray::visit_counters(uint32_t layer, const CounterFn& fn) const {
  if (layer >= stats_.size()) return;
  const MacArrayStats& s = stats_[layer];
  fn({"gemms", "commands", "gemm commands", ""}, s.gemms);
  fn({"macs", "ops", "multiply-accumulate slots used (dense)", ""}, s.macs);
  fn({"mac_ops", "ops",
      std::string("MACs performed (") + to_string(params_.pe) +
          (params_.pe == PeKind::kTernaryInt8 ? ": one add or subtract per non-zero weight)" : ")"),
      mac_energy_key()},
     s.mac_ops);
  fn({"zero_skips", "ops",
      "MACs with a zero ternary weight: the adder is gated (no dynamic energy)", ""},
     s.zero_skips);
  fn({"acc_updates", "ops", "accumulator updates in the accumulator SRAM (adds)", acc_energy_key()},
     s.acc_updates);
  fn({"invalid_weight_codes", "weights", "packed weight codes outside the format (decoded as 0)",
      ""},
     s.invalid_weight_codes);
  fn({"quire_overflows", "outputs", "posit<16,1> sums beyond the quire's carry guard (made NaR)",
      ""},
     s.quire_overflows);
  fn({"folds", "folds", "array folds computed", ""}, s.folds);
  fn({"stationary_bits", "bits", "bits written into stationary PE registers (not priced yet)", ""},
     s.stationary_bits);
  fn({"busy_compute", "cycles", "cycles a fold computed", ""}, s.busy_compute);
  fn({"busy_load", "cycles", "cycles a stationary tile loaded while no fold computed", ""},
     s.busy_load);
  fn({"busy_drain", "cycles", "cycles the adder-tree pipeline drained", ""}, s.busy_drain);
  for (unsigned i = 0; i < kNumSrams; ++i) {
    const std::string& name = srams_[i]->params().name;
    fn({"stall_sram_" + name, "cycles", "cycles refused a port of " + name, ""}, s.stall_sram[i]);
  }
}

MacArray::MacArray(sc_core::sc_module_name name, const MacArrayParams& params,
                   std::array<Sram*, kNumSrams> srams, uint32_t queue_depth, Scoreboard& scoreboard)
    : sc_module(name),
      QueuedUnit(isa::Unit::kMacArray, queue_depth, scoreboard),
      params_(params),
      traits_(params.traits()),
      srams_(srams) {
  BeatGroup drain;
  drain.min_cycles = adder_tree_drain_cycles(params_.rows);
  drain_ = {drain};
  // A read-modify-write of the accumulators needs a read and a write port in the same cycle.
  if (srams_[static_cast<size_t>(MemSpace::kAccSram)]->params().ports == PortConfig::kOneRw) {
    throw std::invalid_argument("mac_array: the accumulator SRAM needs 1r1w or 2rw ports");
  }
}

WeightLayout MacArray::command_layout(const MacArrayParams& p, const Command& cmd) {
  WeightLayout layout = p.layout();
  // Packed ternary weights on int8 PEs: blocks and arithmetic as a ternary array's (an int8
  // multiplier by -1, 0 or +1 is exact), priced as the int8 PEs' MACs.
  if (cmd.args[op::kWeights] == 1) layout.pe = PeKind::kTernaryInt8;
  return layout;
}

Footprint MacArray::footprint(const Command& cmd) const {
  return command_footprint(params_, srams_, cmd);
}

Footprint MacArray::command_footprint(const MacArrayParams& params,
                                      const std::array<Sram*, kNumSrams>& srams,
                                      const Command& cmd) {
  const uint64_t m = cmd.args[op::kM], n = cmd.args[op::kN], k = cmd.args[op::kK];
  if (m == 0 || n == 0 || k == 0) throw SimulationError("m, n and k must be >= 1");
  if (cmd.args[op::kWeights] == 1 && params.pe != PeKind::kInt8Int8 &&
      params.pe != PeKind::kTernaryInt8) {
    throw SimulationError(std::string("ternary weights need int8_int8 PEs; the array has ") +
                          to_string(params.pe));
  }
  const PeTraits t = params.traits();
  if (cmd.args[op::kAcc] % t.acc_bytes || cmd.args[op::kAccStride] % t.acc_bytes) {
    throw SimulationError("acc address and acc_stride must be multiples of the accumulator size (" +
                          std::to_string(t.acc_bytes) + " bytes)");
  }
  const Region act{MemSpace::kActSram, cmd.args[op::kAct],
                   cmd.args[op::kAct] + (m - 1) * cmd.args[op::kActStride] + k * t.act_bytes};
  const Region wgt{
      MemSpace::kWeightSram, cmd.args[op::kWgt],
      cmd.args[op::kWgt] + weight_operand_bytes(static_cast<uint32_t>(n), static_cast<uint32_t>(k),
                                                command_layout(params, cmd))};
  const Region acc{MemSpace::kAccSram, cmd.args[op::kAcc],
                   cmd.args[op::kAcc] + (m - 1) * cmd.args[op::kAccStride] + n * t.acc_bytes};
  for (const Region& r : {act, wgt, acc}) {
    const Sram& s = *srams[static_cast<size_t>(r.space)];
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

void MacArray::plan_fold(const MacArrayParams& p, const Command& cmd, const Fold& fold,
                         const WeightBlock& b, const std::array<Sram*, kNumSrams>& srams,
                         FoldPlan& plan) {
  Sram* wsram = srams[static_cast<size_t>(MemSpace::kWeightSram)];
  Sram* asram = srams[static_cast<size_t>(MemSpace::kActSram)];
  Sram* accs = srams[static_cast<size_t>(MemSpace::kAccSram)];
  const PeTraits t = p.traits();
  const uint64_t act = cmd.args[op::kAct], act_stride = cmd.args[op::kActStride];
  const uint64_t wgt = cmd.args[op::kWgt] + b.offset;
  const uint64_t acc = cmd.args[op::kAcc], acc_stride = cmd.args[op::kAccStride];
  const bool reads_acc =
      cmd.args[op::kMode] == static_cast<uint64_t>(isa::AccMode::kAccumulate) || b.k0 > 0;
  const bool padded = p.fold_timing == FoldTiming::kPadded;
  plan.load.clear();
  for (auto& seq : plan.compute) seq.clear();
  plan.stationary_bits = 0;

  // Accumulator rows [m0, m0 + rows) over outputs [n0, n0 + count): a read-modify-write, or a
  // write for the first reduction fold of an overwriting gemm.
  auto acc_rows = [&](BeatGroup& g, uint32_t m0, uint32_t n0, uint32_t count) {
    const uint64_t first = acc + m0 * acc_stride + uint64_t{n0} * t.acc_bytes;
    const auto bytes = static_cast<uint32_t>(uint64_t{count} * t.acc_bytes);
    if (reads_acc) g.add({accs, Access::kRead, first, acc_stride, bytes});
    g.add({accs, Access::kWrite, first, acc_stride, bytes});
  };
  auto rows_of = [](Sram* s, Access a, uint64_t first, uint64_t stride, uint64_t bytes,
                    uint64_t rows) {
    BeatGroup g;
    g.beats = rows;
    g.add({s, a, first, stride, static_cast<uint32_t>(bytes)});
    return g;
  };
  auto idle = [](uint64_t cycles) {
    BeatGroup g;
    g.beats = cycles > 0 ? 1 : 0;
    g.min_cycles = static_cast<uint32_t>(std::max<uint64_t>(cycles, 1));
    return g;
  };

  if (p.dataflow == Dataflow::kAdderTree) {
    // The whole tile at the SRAM's width, into the shadow registers in parallel.
    plan.load.push_back(rows_of(wsram, Access::kRead, wgt, 0, b.bytes, 1));
    BeatGroup g;
    g.beats = fold.m_count;
    g.add({asram, Access::kRead, act + fold.m0 * act_stride + uint64_t{b.k0} * t.act_bytes,
           act_stride, static_cast<uint32_t>(uint64_t{b.k_count} * t.act_bytes)});
    acc_rows(g, fold.m0, b.n0, b.n_count);
    plan.compute[0].push_back(g);
    plan.stationary_bits =
        uint64_t{b.n_count} * b.k_count * (t.weight_bytes ? 8 * t.weight_bytes : 2);
    return;
  }

  const uint32_t R = p.rows, C = p.cols;
  uint64_t temporal = 0, used_cols = 0;
  // Engine 0 runs the timeline; then the feeders of the two streamed operands and the writer.
  std::vector<BeatGroup>& feeder_a = plan.compute[1];
  std::vector<BeatGroup>& feeder_b = plan.compute[2];
  std::vector<BeatGroup>& writer = plan.compute[3];
  switch (p.dataflow) {
    case Dataflow::kWeightStationary: {
      // Stationary weights: one k-row per cycle shifts in; streamed: activation rows (T = m).
      plan.load.push_back(rows_of(wsram, Access::kRead, wgt, b.row_bytes, b.row_bytes, b.rows()));
      const uint64_t shift = padded ? R : b.k_count;
      if (shift > b.rows()) plan.load.push_back(idle(shift - b.rows()));
      plan.stationary_bits =
          uint64_t{b.n_count} * b.k_count * (t.weight_bytes ? 8 * t.weight_bytes : 2);
      temporal = fold.m_count;
      used_cols = b.n_count;
      feeder_a.push_back(rows_of(asram, Access::kRead,
                                 act + fold.m0 * act_stride + uint64_t{b.k0} * t.act_bytes,
                                 act_stride, uint64_t{b.k_count} * t.act_bytes, fold.m_count));
      BeatGroup w;
      w.beats = fold.m_count;
      acc_rows(w, fold.m0, b.n0, b.n_count);
      writer.push_back(w);
      break;
    }
    case Dataflow::kOutputStationary: {
      // Nothing stationary but the outputs; streamed: activation rows into per-row FIFOs and
      // the weight block's k-rows (T = k); the fold's outputs drain at the end.
      temporal = b.k_count;
      used_cols = b.n_count;
      feeder_a.push_back(rows_of(asram, Access::kRead,
                                 act + fold.m0 * act_stride + uint64_t{b.k0} * t.act_bytes,
                                 act_stride, uint64_t{b.k_count} * t.act_bytes, fold.m_count));
      feeder_b.push_back(rows_of(wsram, Access::kRead, wgt, b.row_bytes, b.row_bytes, b.rows()));
      BeatGroup w;
      w.beats = fold.m_count;
      acc_rows(w, fold.m0, b.n0, b.n_count);
      writer.push_back(w);
      break;
    }
    case Dataflow::kInputStationary: {
      // Stationary activations: the tile's k-slices of the fold's rows m, shifted in one k per
      // cycle; streamed: the weight block's n-rows (T = n); outputs: the rows m over all n.
      plan.load.push_back(rows_of(asram, Access::kRead,
                                  act + fold.m0 * act_stride + uint64_t{b.k0} * t.act_bytes,
                                  act_stride, uint64_t{b.k_count} * t.act_bytes, fold.m_count));
      const uint64_t shift = padded ? R : b.k_count;
      if (shift > fold.m_count) plan.load.push_back(idle(shift - fold.m_count));
      plan.stationary_bits = uint64_t{fold.m_count} * b.k_count * 8 * t.act_bytes;
      temporal = b.n_count;
      used_cols = fold.m_count;
      feeder_b.push_back(rows_of(wsram, Access::kRead, wgt, b.row_bytes, b.row_bytes, b.rows()));
      BeatGroup w;
      w.beats = fold.m_count;
      acc_rows(w, fold.m0, b.n0, b.n_count);
      writer.push_back(w);
      break;
    }
    case Dataflow::kAdderTree:
      break;
  }
  // The systolic timeline: T steps, skewed through R rows and the used columns.
  const uint64_t cols = padded ? C : used_cols;
  plan.compute[0].push_back(idle(temporal + R + cols - 2));
}

Command MacArray::timing_key(const std::array<Sram*, kNumSrams>& srams, const Command& cmd) {
  Command key = cmd;
  for (const auto& [operand, space] :
       {std::pair{op::kAct, MemSpace::kActSram}, std::pair{op::kWgt, MemSpace::kWeightSram},
        std::pair{op::kAcc, MemSpace::kAccSram}}) {
    key.args[operand] %= srams[static_cast<size_t>(space)]->bank_period_bytes();
  }
  return key;
}

Cycles MacArray::uncontended_gemm_cycles(const MacArrayParams& p, const Command& cmd,
                                         const std::array<Sram*, kNumSrams>& srams,
                                         std::vector<WordCount>* words) {
  const WeightLayout layout = command_layout(p, cmd);
  const PeTraits traits = p.traits();
  // Folds with equal keys cost the same, and a gemm's folds repeat a few keys: each key's cost
  // is planned once (a GEMV on 8 x 8 PEs has 276,480 folds and three keys), its words counted
  // once per fold that has it.
  struct Known {
    FoldKey key;
    FoldCost cost;
    uint64_t folds = 0;
  };
  constexpr size_t kMaxKnown = 64;
  std::vector<Known> known;
  auto count_words = [&] {  // into `words`, by SRAM and access
    for (const Known& k : known) {
      for (const auto* moved : {&k.cost.load_words, &k.cost.compute_words}) {
        for (const WordCount& w : *moved) {
          auto at = std::find_if(words->begin(), words->end(), [&](const WordCount& o) {
            return o.sram == w.sram && o.access == w.access;
          });
          if (at == words->end()) at = words->insert(at, {w.sram, w.access, 0});
          at->words += w.words * k.folds;
        }
      }
    }
  };
  Cycles time = 0, compute_end = 0;
  FoldPlan plan;
  bool first = true;
  // The folds one by one, as they come (a list of them would be built and dropped per gemm).
  for_each_fold(static_cast<uint32_t>(cmd.args[op::kM]), static_cast<uint32_t>(cmd.args[op::kN]),
                static_cast<uint32_t>(cmd.args[op::kK]), layout,
                [&](const Fold& fold, const WeightBlock& block) {
                  const FoldKey key = fold_key(traits, cmd, fold, block, srams);
                  auto at = std::find_if(known.begin(), known.end(),
                                         [&](const Known& k) { return k.key == key; });
                  if (at == known.end()) {
                    if (known.size() == kMaxKnown) {
                      if (words) count_words();
                      known.clear();
                    }
                    known.push_back({key, fold_cost(p, cmd, fold, block, srams, plan)});
                    at = known.end() - 1;
                  }
                  ++at->folds;
                  const Cycles load_start =
                      first ? 0 : (p.weight_preload_overlap ? time : compute_end);
                  first = false;
                  // This fold's compute start.
                  time = std::max(load_start + at->cost.load, compute_end);
                  compute_end = time + at->cost.compute;
                });
  if (words) count_words();
  if (p.dataflow == Dataflow::kAdderTree) compute_end += adder_tree_drain_cycles(p.rows);
  return compute_end;
}

void MacArray::begin(const Command& cmd, Cycles now) {
  const WeightLayout layout = command_layout(params_, cmd);
  const GemmShape shape = {cmd.args[op::kM], cmd.args[op::kN], cmd.args[op::kK],
                           cmd.args[op::kWeights]};
  if (!(shape == shape_)) {  // (the first gemm's: no gemm has 0 rows, outputs or inputs)
    blocks_ = weight_blocks(static_cast<uint32_t>(shape.n), static_cast<uint32_t>(shape.k), layout);
    folds_ = gemm_folds(static_cast<uint32_t>(shape.m), blocks_, layout);
    shape_ = shape;
  }
  GemmArgs args;
  args.layout = layout;
  args.act = srams_[static_cast<size_t>(MemSpace::kActSram)]->data() + cmd.args[op::kAct];
  args.act_stride = cmd.args[op::kActStride];
  args.wgt = srams_[static_cast<size_t>(MemSpace::kWeightSram)]->data() + cmd.args[op::kWgt];
  args.acc = srams_[static_cast<size_t>(MemSpace::kAccSram)]->data() + cmd.args[op::kAcc];
  args.acc_stride = cmd.args[op::kAccStride];
  args.accumulate = cmd.args[op::kMode] == static_cast<uint64_t>(isa::AccMode::kAccumulate);
  const GemmCounts counts = gemm(args, blocks_, folds_, !params_.timing_only);

  MacArrayStats& s = stats();
  // The folds partition m x n x k; each adds its rows' partial sums of its block's outputs
  // into the accumulators, once per block along k.
  const uint64_t macs = shape.m * shape.n * shape.k;
  const uint64_t block_k =
      block_shape(static_cast<uint32_t>(shape.n), static_cast<uint32_t>(shape.k), layout).k;
  s.acc_updates += shape.m * shape.n * ((shape.k + block_k - 1) / block_k);
  ++s.gemms;
  s.macs += macs;
  s.zero_skips += counts.zero_weight_macs;
  s.mac_ops += macs - counts.zero_weight_macs;
  s.invalid_weight_codes += counts.invalid_codes;
  s.quire_overflows += counts.quire_overflows;
  s.folds += folds_.size();

  next_load_ = next_compute_ = 0;
  loading_ = draining_ = shadow_full_ = any_compute_ = false;
  run_valid_ = run_known_ = false;
  compute_free_at_ = now;
}

bool MacArray::preloads() const { return params_.dataflow != Dataflow::kOutputStationary; }

bool MacArray::compute_can_start() const {
  if (any_compute_ || draining_) return false;
  if (next_compute_ == folds_.size()) return params_.dataflow == Dataflow::kAdderTree;  // drain
  return shadow_full_ || !preloads();
}

bool MacArray::loader_can_start(Cycles now) const {
  if (!preloads() || loading_ || shadow_full_ || next_load_ == folds_.size()) return false;
  return params_.weight_preload_overlap || (!any_compute_ && compute_free_at_ <= now);
}

void MacArray::start_compute(Cycles now) {
  const Command& cmd = current();
  if (next_compute_ == folds_.size()) {
    draining_ = true;
    compute_[0].start(drain_, cmd.layer);
    return;
  }
  if (!preloads()) {
    // Nothing loaded this fold ahead: plan it now.
    const Fold& f = folds_[next_compute_];
    plan_fold(params_, cmd, f, blocks_[f.block], srams_, plan_);
  }
  for (size_t i = 0; i < kEngines; ++i) compute_[i].start(plan_.compute[i], cmd.layer);
  const Fold& f = folds_[next_compute_];
  const WeightBlock& b = blocks_[f.block];
  switch (params_.dataflow) {
    case Dataflow::kAdderTree:
    case Dataflow::kWeightStationary:
      fold_temporal_ = f.m_count, fold_rows_used_ = b.k_count, fold_cols_used_ = b.n_count;
      break;
    case Dataflow::kOutputStationary:
      fold_temporal_ = b.k_count, fold_rows_used_ = f.m_count, fold_cols_used_ = b.n_count;
      break;
    case Dataflow::kInputStationary:
      fold_temporal_ = b.n_count, fold_rows_used_ = b.k_count, fold_cols_used_ = f.m_count;
      break;
  }
  any_compute_ = true;
  shadow_full_ = false;
  enter_run(now);
}

MacArray::FoldCost MacArray::fold_cost(size_t fold, FoldPlan& plan) const {
  const Fold& f = folds_[fold];
  return fold_cost(params_, current(), f, blocks_[f.block], srams_, plan);
}

MacArray::FoldCost MacArray::fold_cost(const MacArrayParams& p, const Command& cmd,
                                       const Fold& fold, const WeightBlock& block,
                                       const std::array<Sram*, kNumSrams>& srams, FoldPlan& plan) {
  plan_fold(p, cmd, fold, block, srams, plan);
  FoldCost c;
  c.stationary_bits = plan.stationary_bits;
  // Output-stationary folds load nothing stationary (plan.load stays empty).
  c.load = BeatCursor::uncontended_cycles(plan.load, &c.load_words, &c.sram_mask);
  for (const auto& seq : plan.compute) {
    c.compute =
        std::max(c.compute, BeatCursor::uncontended_cycles(seq, &c.compute_words, &c.sram_mask));
  }
  return c;
}

MacArray::FoldKey MacArray::fold_key(size_t fold) const {
  const Fold& f = folds_[fold];
  return fold_key(traits_, current(), f, blocks_[f.block], srams_);
}

MacArray::FoldKey MacArray::fold_key(const PeTraits& t, const Command& cmd, const Fold& f,
                                     const WeightBlock& b,
                                     const std::array<Sram*, kNumSrams>& srams) {
  FoldKey k;
  k.m_count = f.m_count;
  k.k_count = b.k_count;
  k.n_count = b.n_count;
  k.rows = b.rows();
  k.row_bytes = b.row_bytes;
  k.bytes = b.bytes;
  k.reads_acc = cmd.args[op::kMode] == static_cast<uint64_t>(isa::AccMode::kAccumulate) || b.k0 > 0;
  auto within_word = [&](MemSpace space, uint64_t byte) {
    return byte % srams[static_cast<size_t>(space)]->word_bytes();
  };
  k.act_offset =
      within_word(MemSpace::kActSram, cmd.args[op::kAct] + f.m0 * cmd.args[op::kActStride] +
                                          uint64_t{b.k0} * t.act_bytes);
  k.wgt_offset = within_word(MemSpace::kWeightSram, cmd.args[op::kWgt] + b.offset);
  k.acc_offset =
      within_word(MemSpace::kAccSram, cmd.args[op::kAcc] + f.m0 * cmd.args[op::kAccStride] +
                                          uint64_t{b.n0} * t.acc_bytes);
  return k;
}

void MacArray::enter_run(Cycles now) {
  // At a fold's compute start the engines stand as a run needs them: with overlap the next
  // fold's load starts in this cycle too; without, it starts when this compute ends.
  run_valid_ = false;
  if (record_activity_) return;
  const size_t j = next_compute_;
  if (!run_known_ || j > run_last_) {
    // The shortest period (up to kMaxPeriod folds) that the next folds' keys repeat with,
    // checked over three periods, then followed as far as it holds. One fold per phase is
    // planned; the others are compared by key (and planned only where a skip lands).
    constexpr size_t kMaxPeriod = 8;
    std::vector<FoldKey> keys;
    for (size_t f = j; f < folds_.size() && keys.size() < 3 * kMaxPeriod; ++f)
      keys.push_back(fold_key(f));
    size_t period = 1;
    auto repeats = [&](size_t q) {
      for (size_t i = q; i < std::min(keys.size(), 3 * q); ++i) {
        if (!(keys[i] == keys[i - q])) return false;
      }
      return keys.size() >= 2 * q;
    };
    while (period < kMaxPeriod && !repeats(period)) ++period;
    run_first_ = j;
    run_last_ = j;
    if (repeats(period)) {
      while (run_last_ + 1 < folds_.size() &&
             fold_key(run_last_ + 1) == (run_last_ + 1 - j < keys.size()
                                             ? keys[(run_last_ + 1 - j) % period]
                                             : fold_key(run_last_ + 1 - period))) {
        ++run_last_;
      }
    }
    run_costs_.clear();
    for (size_t i = 0; i < period && j + i <= run_last_; ++i)
      run_costs_.push_back(fold_cost(j + i, scratch_plan_));
    run_known_ = true;
  }
  run_fold_ = j;
  run_t0_ = now;
  const size_t q = run_costs_.size();
  run_compute_.assign(q, 0);
  run_period_.assign(q, 0);
  run_starts_.assign(q + 1, 0);
  run_compute_before_.assign(q + 1, 0);
  run_sram_mask_ = 0;
  bool usable = run_last_ > j;
  for (size_t i = 0; i < q; ++i) {
    const FoldCost& c = run_cost(i);
    const Cycles load = preloads() ? run_cost(i + 1).load : 0;  // the next fold's
    run_compute_[i] = c.compute;
    run_period_[i] = !preloads()                      ? c.compute
                     : params_.weight_preload_overlap ? std::max(load, c.compute)
                                                      : load + c.compute;
    run_starts_[i + 1] = run_starts_[i] + run_period_[i];
    run_compute_before_[i + 1] = run_compute_before_[i] + c.compute;
    run_sram_mask_ |= c.sram_mask;
    usable &= c.compute > 0 && (!preloads() || c.load > 0);
  }
  run_valid_ = usable;
}

void MacArray::skip_run(Cycles now, Cycles n) {
  MacArrayStats& s = stats();
  const uint32_t layer = current().layer;
  const size_t q = run_costs_.size();
  const Cycles S = run_starts_[q];  // the cycles of one period of folds
  const bool overlap = params_.weight_preload_overlap;
  // Cycles relative to run_t0_: [a, b) are skipped. Fold i (local) starts computing at
  // run_starts_ (plus whole cycles of the periods), computes for run_compute_[i], then (if its
  // period is longer) only loads.
  const Cycles a = now - run_t0_, b = a + n;
  struct Place {
    Cycles cycle;  // whole cycles of the periods
    size_t i;      // local phase
    Cycles o;      // cycles into fold i's period
  };
  auto place = [&](Cycles x) {
    Place p{x / S, 0, x % S};
    while (p.o >= run_period_[p.i]) p.o -= run_period_[p.i++];
    return p;
  };
  auto computing = [&](Cycles x) {  // compute cycles in [0, x)
    const Place p = place(x);
    return p.cycle * run_compute_before_[q] + run_compute_before_[p.i] +
           std::min(p.o, run_compute_[p.i]);
  };
  const Cycles compute_cycles = computing(b) - computing(a);
  s.busy_compute += compute_cycles;
  s.busy_load += n - compute_cycles;
  // Phases starting in [a, b), each counting its words then: fold i's compute at its period's
  // start (not fold 0's, at 0), the next fold's load then (overlap) or after the compute.
  auto starts_before = [&](Cycles x, Cycles offset) -> uint64_t {
    return x > offset ? (x - offset - 1) / S + 1 : 0;
  };
  for (size_t i = 0; i < q; ++i) {
    const uint64_t computes = starts_before(b, run_starts_[i]) - starts_before(a, run_starts_[i]);
    for (const WordCount& w : run_cost(i).compute_words)
      w.sram->count_words(layer, w.access, w.words * computes);
    if (!preloads()) continue;
    const Cycles load_at = run_starts_[i] + (overlap ? 0 : run_compute_[i]);
    const uint64_t loads = starts_before(b, load_at) - starts_before(a, load_at);
    const FoldCost& next = run_cost(i + 1);
    for (const WordCount& w : next.load_words)
      w.sram->count_words(layer, w.access, w.words * loads);
    s.stationary_bits += loads * next.stationary_bits;
  }

  // The engines as they stand at b.
  const Place at = place(b), from = place(a);
  const size_t fold = run_fold_ + at.cycle * q + at.i;
  const Cycles start = run_t0_ + at.cycle * S + run_starts_[at.i];  // its compute start
  const Cycles C = run_compute_[at.i], o = at.o;
  const Cycles L = preloads() ? run_cost(at.i + 1).load : 0;
  const Cycles load_at = overlap ? 0 : C;  // into its period
  auto plan_into = [&](size_t f, FoldPlan& plan) {
    plan_fold(params_, current(), folds_[f], blocks_[folds_[f].block], srams_, plan);
  };
  if (o == 0) {  // `fold` starts computing at b: the one before is done, `fold` is loaded
    const size_t before = (at.i + q - 1) % q;
    any_compute_ = false;
    next_compute_ = fold;
    compute_free_at_ = start - run_period_[before] + run_compute_[before];
    if (preloads()) {
      plan_into(fold, plan_);
      loading_ = false;
      shadow_full_ = true;
      next_load_ = fold + 1;
    }
    return;
  }
  // Within the fold the skip began in, the engines already run it and its load: they only
  // move on. Past it, they start as the fold and the load starting then would.
  const bool same_fold = at.cycle == from.cycle && at.i == from.i;
  if (same_fold) {
    for (BeatCursor& c : compute_) c.skip(n);
  } else {
    plan_into(fold, scratch_plan_);
    for (size_t i = 0; i < kEngines; ++i) {
      compute_[i].start(scratch_plan_.compute[i], layer, false);
      compute_[i].skip(o);
    }
  }
  any_compute_ = o < C;
  next_compute_ = any_compute_ ? fold : fold + 1;
  if (!any_compute_) compute_free_at_ = start + C;
  compute_started_at_ = start;
  if (!preloads()) return;
  if (o <= load_at) {  // without overlap, the next load starts once this compute ends
    shadow_full_ = loading_ = false;
    next_load_ = fold + 1;
    return;
  }
  const Cycles progress = o - load_at;
  if (same_fold && from.o > load_at) {
    if (loading_) loader_.skip(n);  // the load that began before the skip
  } else {
    plan_into(fold + 1, plan_);
    loader_.start(plan_.load, layer, false);
    loader_.skip(progress);
  }
  loading_ = progress < L;
  shadow_full_ = !loading_;
  next_load_ = loading_ ? fold + 1 : fold + 2;
}

void MacArray::start_load() {
  // The fold loads only once the previous one started computing (the shadow registers are
  // free), so its plan can stay in plan_ until it computes.
  const Fold& f = folds_[next_load_];
  plan_fold(params_, current(), f, blocks_[f.block], srams_, plan_);
  stats().stationary_bits += plan_.stationary_bits;
  loader_.start(plan_.load, current().layer);
  loading_ = true;
}

bool MacArray::step(Cycles now) {
  MacArrayStats& s = stats();
  bool accounted = false;
  bool finished = false;
  if (compute_can_start()) {
    start_compute(now);
    compute_started_at_ = now;
  }
  if (record_activity_) {
    activity_ = ArrayActivity{};
    activity_.cycle = now;
    activity_.systolic = params_.dataflow != Dataflow::kAdderTree;
    activity_.draining = draining_;
    if (any_compute_) {
      activity_.computing = true;
      activity_.fold = next_compute_;
      activity_.timeline_step = now - compute_started_at_;
      activity_.temporal = fold_temporal_;
      activity_.rows_used = fold_rows_used_;
      activity_.cols_used = fold_cols_used_;
    }
  }
  const uint64_t beats_before = compute_[0].beats_finished();
  if (any_compute_ || draining_) {
    accounted = true;
    const Sram* stalled = nullptr;
    bool all_done = true;
    for (BeatCursor& c : compute_) {
      if (c.done()) continue;
      if (c.tick(now) == StepResult::kStalled && !stalled) stalled = c.stalled_on();
      all_done &= c.done();
    }
    if (stalled) {
      ++s.stall_sram[stalled->id()];
      run_valid_ = false;  // the engines no longer keep the run's time
    } else {
      ++(draining_ ? s.busy_drain : s.busy_compute);
    }
    activity_.stalled = stalled != nullptr;
    activity_.beat_done = compute_[0].beats_finished() != beats_before;
    if (all_done) {
      if (draining_) {
        draining_ = false;
        finished = true;
      } else {
        any_compute_ = false;
        ++next_compute_;
        compute_free_at_ = now + 1;
        // Systolic folds drain inside their timeline: the gemm ends with its last fold.
        finished = next_compute_ == folds_.size() && params_.dataflow != Dataflow::kAdderTree;
      }
    }
  }
  if (loader_can_start(now)) start_load();
  if (loading_) {
    activity_.loading = true;
    activity_.load_fold = next_load_;
    const StepResult r = loader_.tick(now);
    if (r == StepResult::kStalled) run_valid_ = false;
    if (!accounted) {
      if (r == StepResult::kStalled) {
        ++s.stall_sram[loader_.stalled_on()->id()];
      } else {
        ++s.busy_load;
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

Cycles MacArray::engines_quiet_cycles(Cycles /*now*/) const {
  Cycles q = kNever;
  for (const BeatCursor& c : compute_) {
    if ((any_compute_ || draining_) && !c.done()) q = std::min(q, c.quiet_cycles());
  }
  if (loading_) q = std::min(q, loader_.quiet_cycles());
  return q;
}

Cycles MacArray::op_quiet_cycles(Cycles now) const {
  if (compute_can_start() || loader_can_start(now)) return 0;
  Cycles q = engines_quiet_cycles(now);
  if (run_valid_) {
    // Up to the compute start of the run's last fold, every fold boundary is closed form.
    const size_t folds = run_last_ - run_fold_, period = run_costs_.size();
    const Cycles end = run_t0_ + folds / period * run_starts_[period] + run_starts_[folds % period];
    if (end > now && q != kNever) q = std::max(q, end - now);
  }
  return q;
}

void MacArray::op_skip(Cycles now, Cycles n) {
  if (run_valid_ && n > engines_quiet_cycles(now)) {
    skip_run(now, n);
    return;
  }
  MacArrayStats& s = stats();
  if (any_compute_ || draining_) {
    (draining_ ? s.busy_drain : s.busy_compute) += n;
    for (BeatCursor& c : compute_) c.skip(n);
  } else if (loading_) {
    s.busy_load += n;
  }
  if (loading_) loader_.skip(n);
}

uint32_t MacArray::op_sram_use() const {
  uint32_t mask = 0;
  if (any_compute_) {
    for (const BeatCursor& c : compute_) mask |= c.sram_use_mask();
  }
  if (loading_) mask |= loader_.sram_use_mask();
  if (run_valid_) mask |= run_sram_mask_;  // every port class of the run's folds
  return mask;
}

}  // namespace nmp::hw
