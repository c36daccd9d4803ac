#include "hw_models/analytical.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>

#include "hw_models/arith/format.hpp"

namespace nmp::hw {

using isa::Opcode;
using isa::Unit;

namespace {

// The DRAM with refresh never due: what a read would take without it.
DramParams without_refresh(DramParams params) {
  params.device.timing.refi = std::numeric_limits<uint32_t>::max() / 2;  // never due in a run
  return params;
}

}  // namespace

DramRate dram_rate(const DramParams& params) {
  if (params.simple) {
    const auto latency = static_cast<double>(params.latency_cycles);
    return {static_cast<double>(params.bytes_per_cycle), latency, latency, latency};
  }
  // The rate over a read long enough to meet refresh as often as a long stream does on
  // average. Then a shorter one with refresh never due, for the latencies (its first burst, then
  // one burst more) and for refresh's share: the two reads' steady cycles per burst.
  const uint64_t burst = params.request_bytes();
  const auto per_burst = [](const Dram::Span& span, uint64_t bursts) {
    return static_cast<double>(span.last_done - span.first_done) / static_cast<double>(bursts - 1);
  };
  DramRate rate;
  double with_refresh = 0;
  {
    constexpr uint64_t kRateBytes = uint64_t{1} << 21;
    const uint64_t bursts = kRateBytes / burst;
    Dram dram(params, ZeroPages(), params.device.capacity_bytes());
    const Dram::Span span = dram.transfer_sequential(0, bursts, false, 0, 0);
    rate.bytes_per_cycle =
        static_cast<double>(bursts * burst) / static_cast<double>(span.last_done + 1);
    with_refresh = per_burst(span, bursts);
  }
  constexpr uint64_t kLatencyBytes = uint64_t{1} << 19;
  const uint64_t bursts = kLatencyBytes / burst;
  const DramParams unrefreshed = without_refresh(params);
  Dram dram(unrefreshed, ZeroPages(), unrefreshed.device.capacity_bytes());
  Dram::Span span = dram.transfer_sequential(0, bursts, false, 0, 0);
  rate.latency_cycles = static_cast<double>(span.first_done + 1);
  rate.refresh_stretch = with_refresh / per_burst(span, bursts);
  // One burst after the one before is through: the cycles from its start to its data.
  const auto single = [&](uint64_t address) {
    const Cycles start = span.last_done + 1;
    span = dram.transfer_sequential(address, 1, false, start, 0);
    return static_cast<double>(span.first_done + 1 - start);
  };
  const uint64_t last = (bursts - 1) * burst;
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

// The sum over i < n of floor((a i + b) / m), m > 0, in O(log m) steps. The whole parts of a / m
// and b / m add in closed form; what is left, with a and b below m, counts the lattice points
// under a line, which is the same sum along the other axis: n' = floor((a n + b) / m) terms of
// floor((m i + (a n + b) mod m) / a).
uint64_t floor_sum(uint64_t n, uint64_t m, uint64_t a, uint64_t b) {
  using Wide = unsigned __int128;
  Wide sum = 0;
  for (;;) {
    if (a >= m) {
      sum += Wide{n} * (n > 0 ? n - 1 : 0) / 2 * (a / m);
      a %= m;
    }
    if (b >= m) {
      sum += Wide{n} * (b / m);
      b %= m;
    }
    const Wide top = Wide{a} * n + b;
    if (top < m) return static_cast<uint64_t>(sum);
    n = static_cast<uint64_t>(top / m);
    b = static_cast<uint64_t>(top % m);
    std::swap(m, a);
  }
}

}  // namespace

uint64_t units_touched(uint64_t first, uint64_t rows, uint64_t stride, uint64_t bytes,
                       uint64_t unit) {
  // Rows that start where a unit does each touch the same units (the usual case: cheaper).
  if (first % unit == 0 && stride % unit == 0) return rows * ((bytes + unit - 1) / unit);
  // Row r touches the units from floor((first + r stride) / unit) to
  // floor((first + r stride + bytes - 1) / unit).
  return rows + floor_sum(rows, unit, stride, first + bytes - 1) -
         floor_sum(rows, unit, stride, first);
}

double DramRowRate::row_cycles(uint64_t row_bytes, uint64_t stride) {
  const uint64_t burst = dram_.request_bytes();
  const uint64_t row_bursts = (row_bytes + burst - 1) / burst + 1;
  const uint64_t kRows = std::clamp<uint64_t>(1024 / row_bursts, 2, 64);
  const auto [at, added] = cycles_.try_emplace({row_bytes, stride}, 0.0);
  if (!added) return at->second;
  std::vector<uint64_t> bursts;
  for (uint64_t r = 0; r < kRows; ++r) {
    const uint64_t first = r * stride;
    for (uint64_t b = first / burst; b <= (first + row_bytes - 1) / burst; ++b)
      bursts.push_back(b * burst);
  }
  // Rows apart may share a burst at their ends: the DRAM moves it once per request.
  bursts.erase(std::unique(bursts.begin(), bursts.end()), bursts.end());
  const DramParams params = without_refresh(dram_);
  Dram dram(params, ZeroPages(), params.device.capacity_bytes());
  std::vector<Cycles> done;
  dram.transfer(bursts, false, 0, 0, done);
  const Cycles first_row = done[(row_bytes + burst - 1) / burst - 1];
  at->second = rate_.refresh_stretch * static_cast<double>(done.back() - first_row) /
               static_cast<double>(kRows - 1);
  return at->second;
}

OpenRows::OpenRows(const DramParams& dram, bool by_table)
    : layout_(Dram::address_layout_of(dram)), burst_(dram.request_bytes()) {
  const DramOrganization& o = dram.device.org;
  rows_.assign(size_t{o.channels} * o.ranks * o.bank_groups * o.banks_per_group, kClosed);
  const auto column = static_cast<size_t>(DramField::kColumn);
  // The lowest field starts above a burst's bytes.
  burst_shift_ = *std::min_element(layout_.shift.begin(), layout_.shift.end());
  const uint32_t low_bits = layout_.shift[column] - burst_shift_;
  // The table is indexed by a burst's number, whose low bits are those of its address only when
  // a burst's bytes are a power of two (a 72-bit bus's 72-byte bursts are not).
  if (!by_table || low_bits > kMaxLowBits || burst_ != uint64_t{1} << burst_shift_) return;
  above_shift_ = layout_.shift[column] + layout_.bits[column];
  low_mask_ = (uint64_t{1} << low_bits) - 1;
  for (uint64_t low = 0; low <= low_mask_; ++low) {
    low_bank_.push_back(layout_.bank(low << burst_shift_));
    low_row_.push_back(layout_.row(low << burst_shift_));
  }
}

void OpenRows::leave(uint64_t first, uint64_t rows, uint64_t row_bytes, uint64_t stride) {
  constexpr uint64_t kTail = 64;
  if (rows == 0 || row_bytes == 0) return;
  if (stride == row_bytes) {  // one range
    row_bytes *= rows;
    rows = 1;
  }
  // The runs of consecutive bursts (first burst, count) that make up the last kTail, the last
  // run first; then applied in order.
  std::array<uint64_t, kTail> run_from, run_bursts;  // NOLINT: filled below
  size_t count = 0;
  uint64_t left = kTail;
  for (uint64_t r = rows; r-- > 0 && left > 0;) {
    const uint64_t row_first = first + r * stride;
    const uint64_t lo = row_first / burst_, hi = (row_first + row_bytes - 1) / burst_;
    const uint64_t n = std::min(hi - lo + 1, left);
    run_from[count] = hi - n + 1;
    run_bursts[count++] = n;
    left -= n;
  }
  while (count > 0) {
    --count;
    open_run(run_from[count], run_bursts[count]);
  }
}

void OpenRows::open_run(uint64_t from, uint64_t n) {
  const Dram::AddressLayout layout = layout_;  // a copy: see AddressLayout
  uint32_t* open = rows_.data();
  const uint64_t end = from + n;
  if (low_bank_.empty()) {
    for (uint64_t b = from; b < end; ++b) open[layout.bank(b * burst_)] = layout.row(b * burst_);
    return;
  }
  // A burst's bank and row are sums of its fields' parts: those below the column by table
  // (indexed by the burst's low bits), those above it decoded once per stretch of bursts that
  // share them. Within such a stretch, bursts a table's length apart differ in their column
  // alone, so lie in one bank and row: the stretch's last ones decide.
  const uint32_t above_bursts = above_shift_ - burst_shift_;  // log2 of a stretch's bursts
  for (uint64_t b = from; b < end;) {
    const uint64_t above = b >> above_bursts;
    const uint64_t stretch_end = std::min(end, (above + 1) << above_bursts);
    if (above != above_) {  // rows of a strided command often share one
      above_ = above;
      above_bank_ = layout.bank(above << above_shift_);
      above_row_ = layout.row(above << above_shift_);
    }
    for (uint64_t x = stretch_end - std::min(stretch_end - b, low_mask_ + 1); x < stretch_end;
         ++x) {
      open[low_bank_[x & low_mask_] | above_bank_] = low_row_[x & low_mask_] | above_row_;
    }
    b = stretch_end;
  }
}

namespace {

constexpr size_t kUnits = 4;  // by isa::Unit; the controller's entry stays unused

size_t index_of(Unit u) { return static_cast<size_t>(u); }

// Per SRAM port class (sram id * 2 + class): words per cycle.
using Demand = std::array<double, size_t{kNumSrams} * 2>;

// A command's cycles alone, and the words per cycle it asks of each SRAM port class meanwhile
// (its words spread evenly over those cycles).
struct Timing {
  Cycles cycles = 0;
  Demand demand{};
};

// What the analytical model knows of the machine: its SRAMs (backed by nothing until
// written, and nothing writes them here) and the units' descriptions of a command.
class Machine {
 public:
  Machine(const NmpParams& p, uint64_t dram_bytes, const DramRate& rate, DramRowRate* rows)
      : params_(p),
        rate_(rate),
        wsram_(p.weight_sram, 0),
        asram_(p.act_sram, 1),
        acc_(p.acc_sram, 2),
        srams_{&wsram_, &asram_, &acc_},
        vector_(timing_only(p.vector_unit), srams_),
        own_rows_(p.dram, rate),
        rows_(rows != nullptr ? *rows : own_rows_) {
    if (!p.dram.simple) open_rows_.emplace(p.dram);
    spaces_.srams = srams_;
    spaces_.dram_bytes = dram_bytes;
    spaces_.vec_element_bytes = arith::make_format(p.vector_unit.math.format)->element_bytes();
    spaces_.array_element_bytes =
        arith::make_format(pe_info(p.mac_array.pe).element_format)->element_bytes();
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

  // The command's cycles alone and what it asks of the SRAM ports meanwhile; `layer` receives
  // its DRAM payload and MACs.
  Timing timing(Unit unit, const Command& cmd, LayerEstimate& layer) {
    if (unit == Unit::kDma) return dma_timing(cmd, layer);
    if (unit == Unit::kMacArray) {
      namespace g = isa::gemm;
      layer.macs += cmd.args[g::kM] * cmd.args[g::kN] * cmd.args[g::kK];
    }
    // Loops issue the same commands again, at other addresses: a command's cycles and words
    // depend on its opcode, its operands and where its addresses fall in the SRAMs' banks only.
    const Command key =
        unit == Unit::kMacArray ? MacArray::timing_key(srams_, cmd) : vector_.timing_key(cmd);
    const auto [at, added] = known_.try_emplace({cmd.opcode, key.args}, Timing{});
    if (added) {
      words_.clear();
      const Cycles cycles =
          unit == Unit::kMacArray
              ? MacArray::uncontended_gemm_cycles(params_.mac_array, cmd, srams_, &words_)
              : BeatCursor::uncontended_cycles(vector_.run(cmd, scratch_), &words_);
      at->second = {cycles, demand_of(cycles)};
    }
    return at->second;
  }

  // Words per cycle each SRAM port class serves: banks x ports of the class.
  Demand port_capacity() const {
    Demand capacity{};
    for (const Sram* sram : srams_) {
      for (const Access access : {Access::kRead, Access::kWrite}) {
        capacity[port_key(*sram, access)] = sram->words_per_cycle(access);
      }
    }
    return capacity;
  }

 private:
  static VectorUnitParams timing_only(VectorUnitParams p) {
    p.timing_only = true;
    return p;
  }

  static size_t port_key(const Sram& sram, Access access) {
    return sram.id() * 2 + sram.port_class(access);
  }
  // `words_` spread evenly over `cycles`.
  Demand demand_of(Cycles cycles) const {
    Demand demand{};
    if (cycles == 0) return demand;
    for (const WordCount& w : words_) demand[port_key(*w.sram, w.access)] += w.words;
    for (double& d : demand) d /= static_cast<double>(cycles);
    return demand;
  }

  Timing dma_timing(const Command& cmd, LayerEstimate& layer) {
    if (cmd.opcode == Opcode::kDmaCopy) {  // on chip: the SRAMs' beats alone, as the DMA runs them
      words_.clear();
      const Cycles cycles = BeatCursor::uncontended_cycles({Dma::copy_beats(srams_, cmd)}, &words_);
      return {cycles, demand_of(cycles)};
    }
    namespace d = isa::dma;
    const uint64_t rows = cmd.args[d::kRows], row_bytes = cmd.args[d::kRowBytes];
    const bool gather = cmd.opcode == Opcode::kDmaGather;
    const uint64_t element = spaces_.sram_element_bytes(gather ? 0 : cmd.args[d::kConvert]);
    const uint64_t dram_row =
        element ? row_bytes / element * spaces_.dram_element_bytes : row_bytes;
    const uint64_t burst = params_.dram.request_bytes(), stride = cmd.args[d::kDramStride];
    // Every burst a row touches moves whole.
    const uint64_t bursts = gather
                                ? rows * ((dram_row + burst - 1) / burst)
                                : units_touched(cmd.args[d::kDram], rows, stride, dram_row, burst);
    layer.dram_bytes += rows * dram_row;
    // A load waits for its first data, a simple channel's store for its acknowledgement. A
    // standard's strided rows (each in other DRAM rows and banks) move at the rate its model
    // shows for that shape, not a long sequential read's.
    const bool strided = !params_.dram.simple && !gather && rows > 1 && stride > dram_row;
    const double transfer = strided ? static_cast<double>(rows) * rows_.row_cycles(dram_row, stride)
                                    : static_cast<double>(bursts * burst) / rate_.bytes_per_cycle;
    const double latency = first_data(cmd.args[d::kDram] / burst * burst);
    if (!gather && open_rows_) open_rows_->leave(cmd.args[d::kDram], rows, dram_row, stride);
    const auto cycles = static_cast<Cycles>(std::ceil(latency + transfer));
    // The SRAM side: the words its rows touch (and a gather's indices, read first).
    Sram& sram = *srams_[cmd.args[d::kSpace]];
    const uint64_t word = sram.word_bytes();
    const uint64_t touched =
        units_touched(cmd.args[d::kSram], rows, cmd.args[d::kSramStride], row_bytes, word);
    words_.assign(
        {{&sram, cmd.opcode == Opcode::kDmaStore ? Access::kRead : Access::kWrite, touched}});
    if (gather) words_.push_back({&asram_, Access::kRead, (4 * rows + word - 1) / word});
    return {cycles, demand_of(cycles)};
  }

  // A standard's bank as the commands before left it: open on a row (a hit), on another (a
  // conflict), or not yet touched (closed, as the long read's first burst found it).
  double first_data(uint64_t address) const {
    if (!open_rows_) return rate_.latency_cycles;
    const uint32_t open = open_rows_->row_of_bank(address);
    if (open == OpenRows::kClosed) return rate_.latency_cycles;
    return open == open_rows_->layout().row(address) ? rate_.hit_latency_cycles
                                                     : rate_.conflict_latency_cycles;
  }
  const NmpParams& params_;
  DramRate rate_;
  Sram wsram_, asram_, acc_;
  std::array<Sram*, kNumSrams> srams_;
  Dma::Spaces spaces_;
  VectorCommands vector_;
  VectorUnitStats scratch_;       // the vector commands' counts, unused
  std::vector<WordCount> words_;  // the command's words by stream, being priced
  using TimingKey = std::pair<Opcode, std::array<uint64_t, isa::kMaxOperands>>;
  struct HashTimingKey {
    size_t operator()(const TimingKey& k) const {
      uint64_t h = static_cast<uint64_t>(k.first);
      for (uint64_t a : k.second) h = (h ^ a) * 0x100000001b3ull;  // FNV-1a, word by word
      return static_cast<size_t>(h ^ (h >> 32));
    }
  };
  std::unordered_map<TimingKey, Timing, HashTimingKey> known_;
  DramRowRate own_rows_;
  DramRowRate& rows_;
  std::optional<OpenRows> open_rows_;  // a standard's
};

// The queued units' commands in time: each unit runs its queue in order, one command at a
// time, a command starting the cycle after its issue or when the one before it ends. Running
// commands share the SRAMs' port classes in the units' arbitration order (DMA, vector unit, MAC
// array), each asking its words spread evenly over its uncontended cycles. A command progresses
// at the smaller of two fractions of its uncontended rate, per class it uses:
//   what the units before it leave of the class's words per cycle, over what it asks;
//   the chance that a word it asks for was not taken: the units before it take a share of the
//   class's bank ports each cycle, a refused word holds up its stream's window (words arrive
//   in order), so it receives that share fewer (the product over the classes it needs at once).
// Time moves from event to event (a command starting or ending); between events the shares
// are fixed. Without overlapping demands every command takes its uncontended cycles.
class Units {
 public:
  Units(const Demand& capacity, uint32_t depth) : capacity_(capacity), depth_(depth) {}

  // Issues a command in cycle `at` (>= every earlier issue): it starts at at + 1 or when its
  // unit's previous command ends.
  void issue(Unit unit, const Footprint& footprint, const Timing& timing, Cycles at) {
    size_t id = commands_.size();
    if (free_.empty()) {
      commands_.push_back({unit, footprint, timing, at});
    } else {
      id = free_.back();
      free_.pop_back();
      commands_[id] = {unit, footprint, timing, at};
    }
    Lane& lane = lanes_[index_of(unit)];
    lane.queue.push_back(id);
    in_flight_.push_back(id);
    lane.starts.push_back(kNever);
    if (lane.starts.size() > depth_) lane.starts.pop_front();
    if (lane.running == kNone) start_next(lane);
  }

  // The first cycle >= `earliest` at which a command for `unit` with `footprint` may issue: its
  // queue has room (the command `depth` before it has started by the cycle before) and no
  // command of another unit it conflicts with is in flight. Moves time there.
  Cycles issue_cycle(Unit unit, const Footprint& footprint, Cycles earliest) {
    const Lane& lane = lanes_[index_of(unit)];
    for (Cycles at = earliest;;) {
      advance_to(at);
      bool wait = false;
      Cycles ready = at;
      if (lane.starts.size() >= depth_) {
        if (lane.starts.front() == kNever) {
          wait = true;
        } else {
          ready = std::max(ready, lane.starts.front() + 1);
        }
      }
      for (size_t id : in_flight_) {
        const Command& c = commands_[id];
        if (c.unit != unit && Scoreboard::hazard(footprint, c.footprint) != Hazard::kNone) {
          wait = true;
          break;
        }
      }
      if (!wait && ready == at) return at;
      at = wait ? std::max(ready, awaited_event()) : ready;
    }
  }

  // Moves time until `unit` has run every command issued to it; returns the cycle its last one
  // ended (0 if none did).
  Cycles drain(Unit unit) {
    const Lane& lane = lanes_[index_of(unit)];
    while (lane.running != kNone || !lane.queue.empty()) advance_to(awaited_event());
    return lane.free_at;
  }

 private:
  static constexpr size_t kNone = SIZE_MAX;
  struct Command {
    Unit unit;
    Footprint footprint;
    Timing timing;
    Cycles issue;
  };
  struct Lane {
    std::deque<size_t> queue;  // issued, not started
    size_t running = kNone;
    Cycles next_start = 0;  // of the queue's head, when nothing runs
    double remaining = 0;   // the running command's uncontended cycles of work left
    double rate = 1;        // its progress per cycle at the current shares
    Cycles end = kNever;    // when it ends at the current shares
    Cycles free_at = 0;     // when the last command ended
    // Start cycles of the last `depth` commands issued (kNever: not started yet).
    std::deque<Cycles> starts;
  };

  void start_next(Lane& lane) {
    if (lane.queue.empty()) return;
    lane.next_start = std::max(lane.free_at, commands_[lane.queue.front()].issue + 1);
  }

  // The next command start or end (kNever: none is due).
  Cycles next_event() const {
    Cycles next = kNever;
    for (const Lane& lane : lanes_) {
      if (lane.running != kNone) {
        next = std::min(next, lane.end);
      } else if (!lane.queue.empty()) {
        next = std::min(next, lane.next_start);
      }
    }
    return next;
  }
  // The next event, for the controller waiting on one.
  Cycles awaited_event() const {
    const Cycles next = next_event();
    if (next == kNever) throw SimulationError("the analytical model found every unit waiting");
    return next;
  }

  // Moves time to `target`, starting and ending commands at the events on the way.
  void advance_to(Cycles target) {
    target = std::max(target, now_);
    for (;;) {
      const Cycles next = next_event();
      const Cycles to = std::min(next, target);
      for (Lane& lane : lanes_) {
        if (lane.running != kNone) lane.remaining -= static_cast<double>(to - now_) * lane.rate;
      }
      now_ = to;
      if (next > target) return;
      bool changed = false;
      for (Lane& lane : lanes_) {
        if (lane.running != kNone && lane.end == now_) {
          finish(lane);
          changed = true;
        }
      }
      for (Lane& lane : lanes_) {
        if (lane.running == kNone && !lane.queue.empty() && lane.next_start == now_) {
          begin(lane);
          changed = true;
        }
      }
      if (changed) share_ports();
    }
  }

  void begin(Lane& lane) {
    lane.running = lane.queue.front();
    lane.queue.pop_front();
    lane.remaining = static_cast<double>(commands_[lane.running].timing.cycles);
    for (Cycles& s : lane.starts) {
      if (s == kNever) {
        s = now_;
        break;
      }
    }
  }

  void finish(Lane& lane) {
    const size_t id = lane.running;
    lane.free_at = now_;
    lane.running = kNone;
    // An ended command can stall no later issue (issues only move on).
    in_flight_.erase(std::find(in_flight_.begin(), in_flight_.end(), id));
    free_.push_back(id);
    start_next(lane);
  }

  // Each running command's rate at the shares the units before it leave (the class comment),
  // and its end at that rate.
  void share_ports() {
    Demand left = capacity_, taken{};
    for (Unit unit : {Unit::kDma, Unit::kVector, Unit::kMacArray}) {
      Lane& lane = lanes_[index_of(unit)];
      if (lane.running == kNone) continue;
      const Demand& demand = commands_[lane.running].timing.demand;
      double rate = 1, spared = 1;
      for (size_t k = 0; k < demand.size(); ++k) {
        if (demand[k] <= 0) continue;
        rate = std::min(rate, std::max(left[k], 0.0) / demand[k]);
        spared *= std::max(0.0, 1 - taken[k] / capacity_[k]);
      }
      rate = std::min(rate, spared);
      for (size_t k = 0; k < demand.size(); ++k) {
        left[k] -= rate * demand[k];
        taken[k] += rate * demand[k];
      }
      lane.rate = rate;
      // A command that makes no progress ends when a share frees: at another's event.
      constexpr double kSlack = 1e-9;  // rounding of the work done at earlier shares
      lane.end = rate <= 0 ? kNever
                           : now_ + static_cast<Cycles>(
                                        std::ceil(std::max(lane.remaining, 0.0) / rate - kSlack));
    }
  }

  Demand capacity_;
  uint32_t depth_;
  Cycles now_ = 0;
  std::vector<Command> commands_;  // by handle; an ended command's handle is reused
  std::vector<size_t> free_;       // handles of ended commands
  std::array<Lane, kUnits> lanes_{};
  std::vector<size_t> in_flight_;  // issued, not ended
};

}  // namespace

ProgramEstimate estimate_program(const NmpParams& params, const isa::Program& program,
                                 uint64_t dram_bytes, const DramRate& rate, DramRowRate* rows) {
  Machine machine(params, dram_bytes, rate, rows);
  Units units(machine.port_capacity(), params.controller.queue_depth);
  ProgramEstimate out;
  std::vector<LayerEntry> entries{kFirstEntry};  // every entry into a layer, for its time
  out.layers.resize(1);
  std::vector<isa::Decoded> decoded(program.size());
  std::vector<bool> is_decoded(program.size(), false);
  Registers regs{};
  uint32_t pc = 0, layer = 0;
  Cycles now = 0;  // the cycle in which the controller considers the instruction at pc
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
          if (mask == 0 || (mask & isa::unit_mask_bit(u))) now = std::max(now, units.drain(u));
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
    const Cycles issue = units.issue_cycle(unit, fp, now);
    LayerEstimate& est = out.layers[layer];
    const Timing timing = machine.timing(unit, cmd, est);
    units.issue(unit, fp, timing, issue);
    switch (unit) {
      case Unit::kDma:
        ++est.dma_commands;
        est.dma_busy += timing.cycles;
        break;
      case Unit::kMacArray:
        ++est.mac_commands;
        est.mac_busy += timing.cycles;
        break;
      default:
        ++est.vector_commands;
        est.vector_busy += timing.cycles;
        break;
    }
    now = issue + 1;
    ++pc;
  }
}

}  // namespace nmp::hw
