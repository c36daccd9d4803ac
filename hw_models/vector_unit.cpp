#include "hw_models/vector_unit.hpp"

#include <cstring>
#include <vector>

#include "hw_models/kernels.hpp"

namespace nmp::hw {

namespace op = isa::requant;
namespace cv = isa::convert;
using isa::Opcode;

void VectorUnitStats::visit(const std::array<Sram*, kNumSrams>& srams, PeKind pe,
                            const CounterFn& fn) const {
  fn({"requants", "commands", "requant commands", ""}, requants);
  fn({"compares", "ops", "int32 magnitude comparisons (row absmax)", "vec.int32_compare"},
     compares);
  fn({"multiplies", "ops", "int32 x int32 multiplications by the row reciprocal", "vec.int32_mult"},
     multiplies);
  fn({"adds", "ops", "int32 rounding additions", "vec.int32_add"}, adds);
  fn({"reciprocals", "ops", "per-row reciprocals (one division each)", "vec.int32_div"},
     reciprocals);
  fn({"converts", "commands", "cvt commands", ""}, converts);
  fn({"conversions", "ops", "accumulators rounded to the activation format",
      "vec.convert." + std::string(to_string(pe))},
     conversions);
  fn({"busy_requant", "cycles", "cycles executing requant", ""}, busy_requant);
  fn({"busy_convert", "cycles", "cycles executing cvt", ""}, busy_convert);
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
  const bool rq = cmd.opcode == Opcode::kRequant;
  const PeTraits t = pe_traits(params_.pe);
  const bool int_acc = params_.pe == PeKind::kTernaryInt8 || params_.pe == PeKind::kInt8Int8;
  if (rq != int_acc) {
    throw SimulationError(std::string(rq ? "requant" : "cvt") + " does not apply to the " +
                          to_string(params_.pe) + " accumulators (use " +
                          (int_acc ? "requant" : "cvt") + ")");
  }
  // The operands the two instructions share, by their positions in each.
  auto arg = [&](unsigned in_requant, unsigned in_convert) {
    return cmd.args[rq ? in_requant : in_convert];
  };
  const uint64_t m = arg(op::kM, cv::kM), n = arg(op::kN, cv::kN);
  const uint64_t src = arg(op::kSrc, cv::kSrc), src_stride = arg(op::kSrcStride, cv::kSrcStride);
  const uint64_t dst = arg(op::kDst, cv::kDst), dst_stride = arg(op::kDstStride, cv::kDstStride);
  if (m == 0 || n == 0) throw SimulationError("m and n must be >= 1");
  if (src % t.acc_bytes || src_stride % t.acc_bytes) {
    throw SimulationError("src and src_stride must be multiples of the accumulator size (" +
                          std::to_string(t.acc_bytes) + " bytes)");
  }
  const Region in{MemSpace::kAccSram, src, src + (m - 1) * src_stride + n * t.acc_bytes};
  const Region out{MemSpace::kActSram, dst, dst + (m - 1) * dst_stride + n * t.act_bytes};
  Footprint fp;
  fp.read(in);
  fp.write(out);
  std::vector<Region> all{in, out};
  if (rq) {
    const Region scale{MemSpace::kActSram, cmd.args[op::kScale], cmd.args[op::kScale] + 4 * m};
    if (out.overlaps(scale)) throw SimulationError("the scale output overlaps the int8 output");
    fp.write(scale);
    all.push_back(scale);
  }
  for (const Region& r : all) {
    const Sram& s = *srams_[static_cast<size_t>(r.space)];
    if (r.end > s.capacity_bytes() || r.begin > r.end) {
      throw SimulationError("bytes [" + std::to_string(r.begin) + ", " + std::to_string(r.end) +
                            ") lie outside " + s.params().name + " (" +
                            std::to_string(s.capacity_bytes()) + " bytes)");
    }
  }
  return fp;
}

uint64_t& VectorUnit::busy_counter() {
  return current().opcode == Opcode::kRequant ? stats().busy_requant : stats().busy_convert;
}

std::vector<BeatGroup> VectorUnit::requant(const Command& cmd) {
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
  return groups;
}

std::vector<BeatGroup> VectorUnit::convert(const Command& cmd) {
  const auto m = static_cast<uint32_t>(cmd.args[cv::kM]);
  const auto n = static_cast<uint32_t>(cmd.args[cv::kN]);
  Sram* acc = srams_[static_cast<size_t>(MemSpace::kAccSram)];
  Sram* asram = srams_[static_cast<size_t>(MemSpace::kActSram)];
  const PeTraits t = pe_traits(params_.pe);
  if (!params_.timing_only) {
    for (uint32_t r = 0; r < m; ++r) {
      const uint8_t* in = acc->data() + cmd.args[cv::kSrc] + r * cmd.args[cv::kSrcStride];
      uint8_t* out = asram->data() + cmd.args[cv::kDst] + r * cmd.args[cv::kDstStride];
      for (uint32_t i = 0; i < n; ++i) {
        const uint32_t p = convert_accumulator(params_.pe, in + uint64_t{i} * t.acc_bytes);
        std::memcpy(out + uint64_t{i} * t.act_bytes, &p, t.act_bytes);  // little-endian
      }
    }
  }
  const uint32_t lanes = params_.lanes;
  const uint64_t full = n / lanes;
  const uint32_t tail = n % lanes;
  std::vector<BeatGroup> groups;
  for (uint32_t r = 0; r < m; ++r) {
    const uint64_t src = cmd.args[cv::kSrc] + r * cmd.args[cv::kSrcStride];
    const uint64_t dst = cmd.args[cv::kDst] + r * cmd.args[cv::kDstStride];
    BeatGroup g;
    g.beats = full;
    g.add({acc, Access::kRead, src, uint64_t{lanes} * t.acc_bytes, lanes * t.acc_bytes});
    g.add({asram, Access::kWrite, dst, uint64_t{lanes} * t.act_bytes, lanes * t.act_bytes});
    groups.push_back(g);
    if (tail) {
      BeatGroup tg;
      tg.add({acc, Access::kRead, src + full * lanes * t.acc_bytes, 0, tail * t.acc_bytes});
      tg.add({asram, Access::kWrite, dst + full * lanes * t.act_bytes, 0, tail * t.act_bytes});
      groups.push_back(tg);
    }
  }
  if (params_.pipeline_depth_cycles > 0) {
    BeatGroup drain;
    drain.min_cycles = params_.pipeline_depth_cycles;
    groups.push_back(drain);
  }
  VectorUnitStats& s = stats();
  ++s.converts;
  s.conversions += uint64_t{m} * n;
  return groups;
}

void VectorUnit::begin(const Command& cmd, Cycles /*now*/) {
  cursor_.start(cmd.opcode == Opcode::kRequant ? requant(cmd) : convert(cmd), cmd.layer);
}

bool VectorUnit::step(Cycles now) {
  VectorUnitStats& s = stats();
  if (cursor_.tick(now) == StepResult::kStalled) {
    ++s.stall_sram[cursor_.stalled_on()->id()];
  } else {
    ++busy_counter();
  }
  return cursor_.done();
}

void VectorUnit::op_skip(Cycles n) {
  busy_counter() += n;
  cursor_.skip(n);
}

void VectorUnit::visit_counters(uint32_t layer, const CounterFn& fn) const {
  if (layer < stats_.size()) stats_[layer].visit(srams_, params_.pe, fn);
}

}  // namespace nmp::hw
