#include "hw_models/analytical.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <memory>

#include "hw_models/arith/format.hpp"

namespace nmp::hw {

using isa::Opcode;
using isa::Unit;

DramRate dram_rate(const DramParams& params) {
  if (params.simple) {
    const auto latency = static_cast<double>(params.latency_cycles);
    return {static_cast<double>(params.bytes_per_cycle), latency, latency, latency};
  }
  constexpr uint64_t kCalibrationBytes = uint64_t{1} << 19;
  Dram dram(params, ZeroPages(), params.device.capacity_bytes());
  const uint64_t burst = params.request_bytes();
  std::vector<uint64_t> bursts(kCalibrationBytes / burst);
  for (size_t i = 0; i < bursts.size(); ++i) bursts[i] = i * burst;
  std::vector<Cycles> done;
  dram.transfer(bursts, false, 0, 0, done);
  DramRate rate{static_cast<double>(bursts.size() * burst) / static_cast<double>(done.back() + 1),
                static_cast<double>(done.front() + 1)};
  // One burst after the read is through: the cycles from its start to its data.
  const auto single = [&](uint64_t address) {
    const Cycles start = done.back() + 1;
    dram.transfer({address}, false, start, 0, done);
    return static_cast<double>(done.front() + 1 - start);
  };
  const uint64_t last = bursts.back();
  rate.hit_latency_cycles = single(last);
  // The last burst's address with one bit of its row flipped (every field of a mapping is a
  // run of bits, so this is the same bank, another row), whatever the mapping.
  const DramAddress at = dram.decode(last);
  for (uint64_t bit = burst; bit < dram.capacity_bytes(); bit <<= 1) {
    const DramAddress other = dram.decode(last ^ bit);
    if (other.channel == at.channel && other.request.rank == at.request.rank &&
        other.request.bank_group == at.request.bank_group &&
        other.request.bank == at.request.bank && other.request.row != at.request.row) {
      rate.conflict_latency_cycles = single(last ^ bit);
      return rate;
    }
  }
  rate.conflict_latency_cycles = rate.latency_cycles;  // one row per bank: never a conflict
  return rate;
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
    if (!p.dram.simple) {
      map_ = std::make_unique<Dram>(p.dram, ZeroPages(), 1);
      const DramOrganization& o = p.dram.device.org;
      open_rows_.assign(size_t{o.channels} * o.ranks * o.bank_groups * o.banks_per_group, kClosed);
    }
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
    // Loops issue the same commands again, at other addresses: a command's cycles depend on
    // its opcode, its operands and where its addresses fall in the SRAMs' banks only.
    const Command key =
        unit == Unit::kMacArray ? MacArray::timing_key(srams_, cmd) : vector_.timing_key(cmd);
    const auto [at, added] = known_.try_emplace({cmd.opcode, key.args}, 0);
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

  Cycles dma_cycles(const Command& cmd, LayerEstimate& layer) {
    namespace d = isa::dma;
    const uint64_t rows = cmd.args[d::kRows], row_bytes = cmd.args[d::kRowBytes];
    const bool gather = cmd.opcode == Opcode::kDmaGather;
    const bool convert = !gather && cmd.args[d::kConvert] != 0;
    const uint64_t dram_row =
        convert ? row_bytes / spaces_.vec_element_bytes * spaces_.dram_element_bytes : row_bytes;
    const uint64_t burst = params_.dram.request_bytes(), stride = cmd.args[d::kDramStride];
    // Every burst a row touches moves whole.
    uint64_t bursts = 0;
    if (gather) {
      bursts = rows * ((dram_row + burst - 1) / burst);
    } else {
      auto touched = [&](uint64_t first) {
        return (first + dram_row - 1) / burst - first / burst + 1;
      };
      if (stride % burst == 0) {  // every row sits alike in its bursts
        bursts = rows * touched(cmd.args[d::kDram]);
      } else {
        for (uint64_t r = 0; r < rows; ++r) bursts += touched(cmd.args[d::kDram] + r * stride);
      }
    }
    layer.dram_bytes += rows * dram_row;
    // A load waits for its first data, a simple channel's store for its acknowledgement. A
    // standard's strided rows (each in other DRAM rows and banks) move at the rate its model
    // shows for that shape, not a long sequential read's.
    const bool strided = !params_.dram.simple && !gather && rows > 1 && stride > dram_row;
    const double transfer = strided ? static_cast<double>(rows) * row_cycles(dram_row, stride)
                                    : static_cast<double>(bursts * burst) / rate_.bytes_per_cycle;
    const double latency = first_data(cmd.args[d::kDram] / burst * burst);
    if (!gather) leave_open(cmd.args[d::kDram], rows, dram_row, stride);
    return static_cast<Cycles>(std::ceil(latency + transfer));
  }

  // A standard's bank as the commands before left it: open on a row (a hit), on another (a
  // conflict), or not yet touched (closed, as the long read's first burst found it).
  double first_data(uint64_t address) const {
    if (!map_) return rate_.latency_cycles;
    const DramAddress a = map_->decode(address);
    const uint32_t open = open_rows_[bank_of(a)];
    if (open == kClosed) return rate_.latency_cycles;
    return open == a.request.row ? rate_.hit_latency_cycles : rate_.conflict_latency_cycles;
  }
  // The rows a command leaves open: those of its last kTail bursts, which the next command
  // finds if it goes on where this one ended.
  void leave_open(uint64_t first, uint64_t rows, uint64_t row_bytes, uint64_t stride) {
    constexpr uint64_t kTail = 64;
    if (!map_) return;
    const uint64_t burst = params_.dram.request_bytes();
    if (stride == row_bytes) {  // one range
      row_bytes *= rows;
      rows = 1;
    }
    // From the last row back, each row's bursts from its last back, then applied in order.
    std::array<uint64_t, kTail> tail{};
    size_t count = 0;
    for (uint64_t r = rows; r-- > 0 && count < kTail;) {
      const uint64_t row_first = first + r * stride;
      for (uint64_t b = (row_first + row_bytes - 1) / burst + 1;
           b-- > row_first / burst && count < kTail;)
        tail[count++] = b * burst;
    }
    while (count > 0) {
      const DramAddress a = map_->decode(tail[--count]);
      open_rows_[bank_of(a)] = a.request.row;
    }
  }
  // Banks numbered densely: channel, rank, bank group, bank.
  size_t bank_of(const DramAddress& a) const {
    const DramOrganization& o = params_.dram.device.org;
    return ((size_t{a.channel} * o.ranks + a.request.rank) * o.bank_groups + a.request.bank_group) *
               o.banks_per_group +
           a.request.bank;
  }

  // The cycles per row of a run of rows of `row_bytes` every `stride` bytes, measured once per
  // shape on the DRAM's own model (as dram_rate measures a sequential read): the last row's
  // data after the first row's, over a run of up to 64 rows and about 1024 bursts.
  double row_cycles(uint64_t row_bytes, uint64_t stride) {
    const uint64_t burst = params_.dram.request_bytes();
    const uint64_t row_bursts = (row_bytes + burst - 1) / burst + 1;
    const uint64_t kRows = std::clamp<uint64_t>(1024 / row_bursts, 2, 64);
    const auto [at, added] = row_cycles_.try_emplace({row_bytes, stride}, 0.0);
    if (!added) return at->second;
    std::vector<uint64_t> bursts;
    for (uint64_t r = 0; r < kRows; ++r) {
      const uint64_t first = r * stride;
      for (uint64_t b = first / burst; b <= (first + row_bytes - 1) / burst; ++b)
        bursts.push_back(b * burst);
    }
    // Rows apart may share a burst at their ends: the DRAM moves it once per request.
    bursts.erase(std::unique(bursts.begin(), bursts.end()), bursts.end());
    Dram dram(params_.dram, ZeroPages(), params_.dram.device.capacity_bytes());
    std::vector<Cycles> done;
    dram.transfer(bursts, false, 0, 0, done);
    const Cycles first_row = done[(row_bytes + burst - 1) / burst - 1];
    at->second = static_cast<double>(done.back() - first_row) / static_cast<double>(kRows - 1);
    return at->second;
  }

  const NmpParams& params_;
  DramRate rate_;
  Sram wsram_, asram_, acc_;
  std::array<Sram*, kNumSrams> srams_;
  Dma::Spaces spaces_;
  VectorCommands vector_;
  VectorUnitStats scratch_;  // the vector commands' counts, unused
  std::map<std::pair<Opcode, std::array<uint64_t, isa::kMaxOperands>>, Cycles> known_;
  std::map<std::pair<uint64_t, uint64_t>, double> row_cycles_;  // by row bytes and stride
  std::unique_ptr<Dram> map_;  // a standard's address mapping (decode() only)
  static constexpr uint32_t kClosed = UINT32_MAX;
  std::vector<uint32_t> open_rows_;  // by bank_of(): the row left open, or kClosed
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
  std::vector<LayerEntry> entries;  // every entry into a layer, for its time
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
          const std::vector<LayerTime> times = layer_times(entries, out.cycles);
          if (times.size() > out.layers.size()) out.layers.resize(times.size());
          for (size_t l = 0; l < times.size(); ++l) {
            out.layers[l].start = times[l].start;
            out.layers[l].cycles = times[l].cycles;
          }
          return out;
        }
      }
      if (d.spec->opcode == Opcode::kLayer) {
        layer = static_cast<uint32_t>(d.ufield(isa::ctrl::kLayerId));
        if (layer >= out.layers.size()) out.layers.resize(layer + 1);
        enter_layer(entries, layer, now);
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
