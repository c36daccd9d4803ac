#include "hw_models/vector_unit.hpp"

#include <cstring>
#include <vector>

#include "hw_models/kernels.hpp"

namespace nmp::hw {

namespace op = isa::requant;

void VectorUnitStats::visit(const std::array<Sram*, kNumSrams>& srams,
                            const CounterFn& fn) const {
  fn({"requants", "commands", "requant commands", ""}, requants);
  fn({"compares", "ops", "int32 magnitude comparisons (row absmax)", "vec.int32_compare"},
     compares);
  fn({"multiplies", "ops", "int32 x int32 multiplications by the row reciprocal",
      "vec.int32_mult"},
     multiplies);
  fn({"adds", "ops", "int32 rounding additions", "vec.int32_add"}, adds);
  fn({"reciprocals", "ops", "per-row reciprocals (one division each)", "vec.int32_div"},
     reciprocals);
  fn({"busy_requant", "cycles", "cycles executing requant", ""}, busy_requant);
  for (unsigned i = 0; i < kNumSrams; ++i) {
    const std::string& name = srams[i]->params().name;
    fn({"stall_sram_" + name, "cycles", "cycles refused a port of " + name, ""}, stall_sram[i]);
  }
}

VectorUnit::VectorUnit(sc_core::sc_module_name name, const VectorUnitParams& params,
                       std::array<Sram*, kNumSrams> srams, uint32_t queue_depth,
                       Scoreboard& scoreboard)
    : sc_module(name),
      QueuedUnit(isa::Unit::kVector, queue_depth, scoreboard),
      params_(params),
      srams_(srams) {}

Footprint VectorUnit::footprint(const Command& cmd) const {
  const uint64_t m = cmd.args[op::kM], n = cmd.args[op::kN];
  if (m == 0 || n == 0) throw SimulationError("m and n must be >= 1");
  if (cmd.args[op::kSrc] % 4 || cmd.args[op::kSrcStride] % 4) {
    throw SimulationError("src address and src_stride must be multiples of 4 (int32)");
  }
  const Region src{MemSpace::kAccSram, cmd.args[op::kSrc],
                   cmd.args[op::kSrc] + (m - 1) * cmd.args[op::kSrcStride] + 4 * n};
  const Region dst{MemSpace::kActSram, cmd.args[op::kDst],
                   cmd.args[op::kDst] + (m - 1) * cmd.args[op::kDstStride] + n};
  const Region scale{MemSpace::kActSram, cmd.args[op::kScale], cmd.args[op::kScale] + 4 * m};
  for (const Region& r : {src, dst, scale}) {
    const Sram& s = *srams_[static_cast<size_t>(r.space)];
    if (r.end > s.capacity_bytes() || r.begin > r.end) {
      throw SimulationError("bytes [" + std::to_string(r.begin) + ", " + std::to_string(r.end) +
                            ") lie outside " + s.params().name + " (" +
                            std::to_string(s.capacity_bytes()) + " bytes)");
    }
  }
  if (dst.overlaps(scale)) throw SimulationError("the scale output overlaps the int8 output");
  Footprint fp;
  fp.read(src);
  fp.write(dst);
  fp.write(scale);
  return fp;
}

void VectorUnit::begin(const Command& cmd, Cycles /*now*/) {
  const auto m = static_cast<uint32_t>(cmd.args[op::kM]);
  const auto n = static_cast<uint32_t>(cmd.args[op::kN]);
  Sram* acc = srams_[static_cast<size_t>(MemSpace::kAccSram)];
  Sram* asram = srams_[static_cast<size_t>(MemSpace::kActSram)];
  if (!params_.timing_only) {
    std::vector<int32_t> row(n);
    for (uint32_t r = 0; r < m; ++r) {
      std::memcpy(row.data(), acc->data() + cmd.args[op::kSrc] + r * cmd.args[op::kSrcStride],
                  4 * size_t{n});
      auto* out = reinterpret_cast<int8_t*>(asram->data() + cmd.args[op::kDst] +
                                            r * cmd.args[op::kDstStride]);
      const uint32_t absmax = requantize_row(row.data(), n, out);
      std::memcpy(asram->data() + cmd.args[op::kScale] + 4 * r, &absmax, 4);
    }
  }
  const uint32_t lanes = params_.lanes;
  const uint64_t full = n / lanes;
  const uint32_t tail = n % lanes;
  std::vector<BeatGroup> groups;
  for (uint32_t r = 0; r < m; ++r) {
    const uint64_t src = cmd.args[op::kSrc] + r * cmd.args[op::kSrcStride];
    const uint64_t dst = cmd.args[op::kDst] + r * cmd.args[op::kDstStride];
    auto pass = [&](bool writes) {
      BeatGroup g;
      g.beats = full;
      g.add({acc, Access::kRead, src, 4ull * lanes, 4 * lanes});
      if (writes) g.add({asram, Access::kWrite, dst, lanes, lanes});
      groups.push_back(g);
      if (tail) {
        BeatGroup t;
        t.add({acc, Access::kRead, src + 4 * full * lanes, 0, 4 * tail});
        if (writes) t.add({asram, Access::kWrite, dst + full * lanes, 0, tail});
        groups.push_back(t);
      }
    };
    pass(false);
    if (params_.pipeline_depth_cycles > 0) {
      BeatGroup bubble;
      bubble.min_cycles = params_.pipeline_depth_cycles;
      groups.push_back(bubble);
    }
    pass(true);
    BeatGroup scale;
    scale.add({asram, Access::kWrite, cmd.args[op::kScale] + 4ull * r, 0, 4});
    groups.push_back(scale);
  }
  VectorUnitStats& s = stats();
  ++s.requants;
  s.compares += uint64_t{m} * n;
  s.multiplies += uint64_t{m} * n;
  s.adds += uint64_t{m} * n;
  s.reciprocals += m;
  cursor_.start(std::move(groups), cmd.layer);
}

bool VectorUnit::step(Cycles now) {
  VectorUnitStats& s = stats();
  if (cursor_.tick(now) == StepResult::kStalled) {
    ++s.stall_sram[cursor_.stalled_on()->id()];
  } else {
    ++s.busy_requant;
  }
  return cursor_.done();
}

void VectorUnit::op_skip(Cycles n) {
  stats().busy_requant += n;
  cursor_.skip(n);
}

void VectorUnit::visit_counters(uint32_t layer, const CounterFn& fn) const {
  if (layer < stats_.size()) stats_[layer].visit(srams_, fn);
}

}  // namespace nmp::hw
