#include "hw_models/dma.hpp"

#include <algorithm>
#include <cstring>

namespace nmp::hw {

using isa::Opcode;
namespace op = isa::dma;

void DmaStats::visit(const std::array<Sram*, kNumSrams>& srams, const CounterFn& fn) const {
  fn({"loads", "commands", "dma.load commands", ""}, loads);
  fn({"stores", "commands", "dma.store commands", ""}, stores);
  fn({"busy_latency", "cycles", "cycles waiting for DRAM latency", ""}, busy_latency);
  fn({"busy_transfer", "cycles", "cycles moving data", ""}, busy_transfer);
  for (unsigned i = 0; i < kNumSrams; ++i) {
    const std::string& name = srams[i]->params().name;
    fn({"stall_sram_" + name, "cycles", "cycles refused a port of " + name, ""}, stall_sram[i]);
  }
}

Dma::Dma(sc_core::sc_module_name name, Dram& dram, std::array<Sram*, kNumSrams> srams,
         uint32_t queue_depth, Scoreboard& scoreboard)
    : sc_module(name),
      QueuedUnit(isa::Unit::kDma, queue_depth, scoreboard),
      dram_(dram),
      srams_(srams) {}

Footprint Dma::footprint(const Command& cmd) const {
  const uint64_t rows = cmd.args[op::kRows];
  const uint64_t row_bytes = cmd.args[op::kRowBytes];
  if (rows == 0 || row_bytes == 0) throw SimulationError("rows and row_bytes must be >= 1");
  const auto space = static_cast<MemSpace>(cmd.args[op::kSpace]);
  const Sram& sram = *srams_[static_cast<size_t>(space)];
  const bool gather = cmd.opcode == Opcode::kDmaGather;
  const Region on_chip{space, cmd.args[op::kSram],
                       cmd.args[op::kSram] + (rows - 1) * cmd.args[op::kSramStride] + row_bytes};
  // A gather's rows are known only when it runs (begin() checks each); here its first row.
  const Region off_chip{
      MemSpace::kDram, cmd.args[op::kDram],
      cmd.args[op::kDram] + (gather ? 0 : (rows - 1) * cmd.args[op::kDramStride]) + row_bytes};
  if (on_chip.end > sram.capacity_bytes() || on_chip.begin > on_chip.end) {
    throw SimulationError("bytes [" + std::to_string(on_chip.begin) + ", " +
                          std::to_string(on_chip.end) + ") lie outside " + sram.params().name +
                          " (" + std::to_string(sram.capacity_bytes()) + " bytes)");
  }
  if (off_chip.end > dram_.size_bytes() || off_chip.begin > off_chip.end) {
    throw SimulationError("bytes [" + std::to_string(off_chip.begin) + ", " +
                          std::to_string(off_chip.end) + ") lie outside DRAM (" +
                          std::to_string(dram_.size_bytes()) + " bytes)");
  }
  Footprint fp;
  if (gather) {
    const Region indices{MemSpace::kActSram, cmd.args[op::kIndex], cmd.args[op::kIndex] + 4 * rows};
    if (indices.end > srams_[static_cast<size_t>(MemSpace::kActSram)]->capacity_bytes()) {
      throw SimulationError("indices [" + std::to_string(indices.begin) + ", " +
                            std::to_string(indices.end) + ") lie outside asram");
    }
    fp.read(indices);
  }
  if (cmd.opcode != Opcode::kDmaStore) {
    fp.read(off_chip);
    fp.write(on_chip);
  } else {
    fp.read(on_chip);
    fp.write(off_chip);
  }
  return fp;
}

void Dma::begin(const Command& cmd, Cycles /*now*/) {
  const bool load = cmd.opcode != Opcode::kDmaStore;
  const bool gather = cmd.opcode == Opcode::kDmaGather;
  const uint64_t rows = cmd.args[op::kRows];
  const uint64_t row_bytes = cmd.args[op::kRowBytes];
  Sram* sram = srams_[cmd.args[op::kSpace]];
  const DramParams& dp = dram_.params();
  const uint64_t burst = dp.burst_bytes;
  const auto burst_cycles =
      static_cast<uint32_t>((burst + dp.bytes_per_cycle - 1) / dp.bytes_per_cycle);
  const Access access = load ? Access::kWrite : Access::kRead;

  std::vector<BeatGroup> groups;
  BeatGroup latency;
  latency.min_cycles = dp.latency_cycles;
  Sram* asram = srams_[static_cast<size_t>(MemSpace::kActSram)];
  if (gather) {  // the indices, read before any row is requested
    BeatGroup g;
    g.add({asram, Access::kRead, cmd.args[op::kIndex], 0, static_cast<uint32_t>(4 * rows)});
    groups.push_back(g);
  }
  if (load && dp.latency_cycles > 0) groups.push_back(latency);
  uint64_t bursts = 0;
  for (uint64_t r = 0; r < rows; ++r) {
    uint64_t dram_row = cmd.args[op::kDram] + r * cmd.args[op::kDramStride];
    if (gather) {
      uint32_t index = 0;
      std::memcpy(&index, asram->data() + cmd.args[op::kIndex] + 4 * r, 4);
      dram_row = cmd.args[op::kDram] + uint64_t{index} * cmd.args[op::kDramStride];
      if (dram_row + row_bytes > dram_.size_bytes()) {
        throw SimulationError("pc " + std::to_string(cmd.pc) + ": dma.gather: row " +
                              std::to_string(r) + " (index " + std::to_string(index) +
                              ") lies outside DRAM (" + std::to_string(dram_.size_bytes()) +
                              " bytes)");
      }
    }
    const uint64_t sram_row = cmd.args[op::kSram] + r * cmd.args[op::kSramStride];
    if (dram_.backed()) {
      uint8_t* sram_bytes = sram->data() + sram_row;
      uint8_t* dram_bytes = dram_.data() + dram_row;
      if (load) {
        std::memcpy(sram_bytes, dram_bytes, row_bytes);
      } else {
        std::memcpy(dram_bytes, sram_bytes, row_bytes);
      }
    }
    // Segments: head up to the first burst boundary, whole bursts, tail.
    const uint64_t end = dram_row + row_bytes;
    uint64_t at = dram_row;
    while (at < end) {
      const uint64_t burst_end = (at / burst + 1) * burst;
      const uint64_t seg_end = std::min(end, burst_end);
      const bool whole_bursts = at % burst == 0 && seg_end == burst_end;
      BeatGroup g;
      g.min_cycles = burst_cycles;
      if (whole_bursts) {
        g.beats = (end - at) / burst;
        g.add({sram, access, sram_row + (at - dram_row), burst, static_cast<uint32_t>(burst)});
        at += g.beats * burst;
      } else {
        g.add({sram, access, sram_row + (at - dram_row), 0, static_cast<uint32_t>(seg_end - at)});
        at = seg_end;
      }
      bursts += g.beats;
      groups.push_back(g);
    }
  }
  if (!load && dp.latency_cycles > 0) groups.push_back(latency);

  DmaStats& s = stats();
  DramStats& ds = dram_.stats(cmd.layer);
  (load ? s.loads : s.stores)++;
  (load ? ds.read_bytes : ds.write_bytes) += bursts * burst;
  ds.useful_bytes += rows * row_bytes;
  cursor_.start(std::move(groups), cmd.layer);
}

bool Dma::in_latency() const { return cursor_.sram_use_mask() == 0; }

bool Dma::step(Cycles now) {
  DmaStats& s = stats();
  const bool latency = in_latency();
  if (cursor_.tick(now) == StepResult::kStalled) {
    ++s.stall_sram[cursor_.stalled_on()->id()];
  } else {
    ++(latency ? s.busy_latency : s.busy_transfer);
  }
  return cursor_.done();
}

void Dma::op_skip(Cycles n) {
  (in_latency() ? stats().busy_latency : stats().busy_transfer) += n;
  cursor_.skip(n);
}

void Dma::visit_counters(uint32_t layer, const CounterFn& fn) const {
  if (layer < stats_.size()) stats_[layer].visit(srams_, fn);
}

}  // namespace nmp::hw
