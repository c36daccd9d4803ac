#include "hw_models/analytical.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>

#include "hw_models/arith/format.hpp"

namespace nmp::hw {

using isa::Opcode;
using isa::Unit;

DramRate dram_rate(const DramParams& params) {
  if (params.simple) {
    return {static_cast<double>(params.bytes_per_cycle),
            static_cast<double>(params.latency_cycles)};
  }
  constexpr uint64_t kCalibrationBytes = uint64_t{1} << 19;
  Dram dram(params, ZeroPages(), params.device.capacity_bytes());
  const uint64_t burst = params.request_bytes();
  std::vector<uint64_t> bursts(kCalibrationBytes / burst);
  for (size_t i = 0; i < bursts.size(); ++i) bursts[i] = i * burst;
  std::vector<Cycles> done;
  dram.transfer(bursts, false, 0, 0, done);
  return {static_cast<double>(bursts.size() * burst) / static_cast<double>(done.back() + 1),
          static_cast<double>(done.front() + 1)};
}

namespace {

constexpr size_t kUnits = 4;  // by isa::Unit; the controller's entry stays unused

size_t index_of(Unit u) { return static_cast<size_t>(u); }

// What the analytical model knows of the machine: its SRAMs (backed by nothing until
// written, and nothing writes them here) and the units' descriptions of a command.
class Machine {
 public:
  Machine(const NmpParams& p, uint64_t dram_bytes, const DramRate& rate)
      : params_(p),
        rate_(rate),
        wsram_(p.weight_sram, 0),
        asram_(p.act_sram, 1),
        acc_(p.acc_sram, 2),
        srams_{&wsram_, &asram_, &acc_},
        vector_(timing_only(p.vector_unit), srams_) {
    spaces_.srams = srams_;
    spaces_.dram_bytes = dram_bytes;
    spaces_.vec_element_bytes = arith::make_format(p.vector_unit.math.format)->element_bytes();
    spaces_.dram_element_bytes =
        p.dram.activation_format.empty()
            ? spaces_.vec_element_bytes
            : arith::make_format(p.dram.activation_format)->element_bytes();
  }

  Footprint footprint(Unit unit, const Command& cmd) const {
    switch (unit) {
      case Unit::kDma:
        return Dma::command_footprint(spaces_, cmd);
      case Unit::kMacArray:
        return MacArray::command_footprint(params_.mac_array, srams_, cmd);
      default:
        return vector_.footprint(cmd);
    }
  }

  // The command's cycles alone; `layer` receives its DRAM payload and MACs.
  Cycles cycles(Unit unit, const Command& cmd, LayerEstimate& layer) {
    if (unit == Unit::kDma) return dma_cycles(cmd, layer);
    if (unit == Unit::kMacArray) {
      namespace g = isa::gemm;
      layer.macs += cmd.args[g::kM] * cmd.args[g::kN] * cmd.args[g::kK];
    }
    // A loop issues the same commands again (double buffers alternate between two addresses):
    // their cycles depend on nothing but the opcode and operands.
    const auto [at, added] = known_.try_emplace({cmd.opcode, cmd.args}, 0);
    if (added) {
      at->second = unit == Unit::kMacArray
                       ? MacArray::uncontended_gemm_cycles(params_.mac_array, cmd, srams_)
                       : BeatCursor::uncontended_cycles(vector_.run(cmd, scratch_));
    }
    return at->second;
  }

 private:
  static VectorUnitParams timing_only(VectorUnitParams p) {
    p.timing_only = true;
    return p;
  }

  Cycles dma_cycles(const Command& cmd, LayerEstimate& layer) const {
    namespace d = isa::dma;
    const uint64_t rows = cmd.args[d::kRows], row_bytes = cmd.args[d::kRowBytes];
    const bool gather = cmd.opcode == Opcode::kDmaGather;
    const bool convert = !gather && cmd.args[d::kConvert] != 0;
    const uint64_t dram_row =
        convert ? row_bytes / spaces_.vec_element_bytes * spaces_.dram_element_bytes : row_bytes;
    const uint64_t burst = params_.dram.request_bytes();
    // Every burst a row touches moves whole.
    uint64_t bursts = 0;
    if (gather) {
      bursts = rows * ((dram_row + burst - 1) / burst);
    } else {
      for (uint64_t r = 0; r < rows; ++r) {
        const uint64_t first = cmd.args[d::kDram] + r * cmd.args[d::kDramStride];
        bursts += (first + dram_row - 1) / burst - first / burst + 1;
      }
    }
    layer.dram_bytes += rows * dram_row;
    // A load waits for its first data, a simple channel's store for its acknowledgement.
    const double cycles =
        rate_.latency_cycles + static_cast<double>(bursts * burst) / rate_.bytes_per_cycle;
    return static_cast<Cycles>(std::ceil(cycles));
  }

  const NmpParams& params_;
  DramRate rate_;
  Sram wsram_, asram_, acc_;
  std::array<Sram*, kNumSrams> srams_;
  Dma::Spaces spaces_;
  VectorCommands vector_;
  VectorUnitStats scratch_;  // the vector commands' counts, unused
  std::map<std::pair<Opcode, std::array<uint64_t, isa::kMaxOperands>>, Cycles> known_;
};

// A command issued and not yet known to be complete: the scoreboard's entry.
struct InFlight {
  Unit unit;
  Footprint footprint;
  Cycles end;  // the first cycle in which the controller sees it complete
};

}  // namespace

ProgramEstimate estimate_program(const NmpParams& params, const isa::Program& program,
                                 uint64_t dram_bytes, const DramRate& rate) {
  Machine machine(params, dram_bytes, rate);
  ProgramEstimate out;
  out.layers.resize(1);
  std::vector<isa::Decoded> decoded(program.size());
  std::vector<bool> is_decoded(program.size(), false);
  Registers regs{};
  uint32_t pc = 0, layer = 0;
  Cycles now = 0;  // the cycle in which the controller considers the instruction at pc
  // Per unit: when its commands started (the queue frees an entry as one starts) and when the
  // last one ends.
  std::array<std::deque<Cycles>, kUnits> starts;
  std::array<Cycles, kUnits> free_at{};
  std::vector<InFlight> in_flight;
  const uint32_t depth = params.controller.queue_depth;
  for (;;) {
    if (pc >= program.size()) {
      throw SimulationError("pc " + std::to_string(pc) +
                            " ran past the end of the program without a halt");
    }
    if (++out.instructions > params.max_instructions) {
      throw SimulationError("watchdog: more than " + std::to_string(params.max_instructions) +
                            " instructions executed");
    }
    if (now >= params.max_cycles) {
      throw SimulationError("watchdog: " + std::to_string(params.max_cycles) + " cycles reached");
    }
    if (!is_decoded[pc]) {
      decoded[pc] = isa::decode(program[pc]);
      is_decoded[pc] = true;
    }
    const isa::Decoded& d = decoded[pc];
    const Unit unit = d.spec->unit;
    if (unit == Unit::kController) {
      if (d.spec->opcode == Opcode::kSync || d.spec->opcode == Opcode::kHalt) {
        const auto mask = d.spec->opcode == Opcode::kSync
                              ? static_cast<unsigned>(d.ufield(isa::ctrl::kSyncUnits))
                              : 0u;
        for (Unit u : {Unit::kDma, Unit::kMacArray, Unit::kVector}) {
          if (mask == 0 || (mask & isa::unit_mask_bit(u)))
            now = std::max(now, free_at[index_of(u)]);
        }
        if (d.spec->opcode == Opcode::kHalt) {
          out.cycles = now + 1;
          return out;
        }
      }
      if (d.spec->opcode == Opcode::kLayer) {
        layer = static_cast<uint32_t>(d.ufield(isa::ctrl::kLayerId));
        if (layer >= out.layers.size()) out.layers.resize(layer + 1, LayerEstimate{now});
        out.layers[layer].start = now;
      }
      const ControlStep step = execute_control(d, pc, regs);
      pc = step.next_pc;
      now += 1 + (step.branch_taken ? params.controller.branch_penalty_cycles : 0);
      continue;
    }
    const Command cmd = unit_command(d, pc, layer, regs);
    Footprint fp;
    try {
      fp = machine.footprint(unit, cmd);
    } catch (const SimulationError& e) {
      throw SimulationError("pc " + std::to_string(pc) + ": " + std::string(d.spec->mnemonic) +
                            ": " + e.what());
    }
    const size_t u = index_of(unit);
    // It issues once its queue has room (the command `depth` before it has started) and no
    // command of another unit it conflicts with is in flight.
    Cycles issue = now;
    if (starts[u].size() >= depth) issue = std::max(issue, starts[u].front() + 1);
    for (const InFlight& f : in_flight) {
      if (f.unit != unit && f.end > issue && Scoreboard::hazard(fp, f.footprint) != Hazard::kNone)
        issue = std::max(issue, f.end);
    }
    LayerEstimate& est = out.layers[layer];
    const Cycles start = std::max(issue + 1, free_at[u]);
    const Cycles cycles = machine.cycles(unit, cmd, est);
    free_at[u] = start + cycles;
    starts[u].push_back(start);
    if (starts[u].size() > depth) starts[u].pop_front();
    switch (unit) {
      case Unit::kDma:
        ++est.dma_commands;
        est.dma_busy += cycles;
        break;
      case Unit::kMacArray:
        ++est.mac_commands;
        est.mac_busy += cycles;
        break;
      default:
        ++est.vector_commands;
        est.vector_busy += cycles;
        break;
    }
    // Entries complete before this issue can no longer stall anything (issues only move on).
    in_flight.erase(std::remove_if(in_flight.begin(), in_flight.end(),
                                   [issue](const InFlight& f) { return f.end <= issue; }),
                    in_flight.end());
    in_flight.push_back({unit, fp, free_at[u]});
    now = issue + 1;
    ++pc;
  }
}

}  // namespace nmp::hw
