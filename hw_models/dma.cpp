#include "hw_models/dma.hpp"

#include <algorithm>
#include <cstring>

#include "hw_models/arith/vector_math.hpp"

namespace nmp::hw {

using isa::Opcode;
namespace op = isa::dma;

void DmaStats::visit(const std::array<Sram*, kNumSrams>& srams, const std::string& vector_class,
                     const CounterFn& fn) const {
  fn({"loads", "commands", "dma.load commands", ""}, loads);
  fn({"stores", "commands", "dma.store commands", ""}, stores);
  fn({"copies", "commands", "dma.copy commands (on chip: their SRAM words priced by the SRAMs)",
      ""},
     copies);
  fn({"busy_latency", "cycles", "cycles waiting for DRAM latency", ""}, busy_latency);
  fn({"busy_transfer", "cycles", "cycles moving data", ""}, busy_transfer);
  fn({"conversions", "ops",
      "activation elements converted between dram.activation_format and the vector format (" +
          vector_class + ") or the MAC array's, each priced as an add in the vector format",
      "vec.add." + vector_class},
     conversions);
  fn({"saturations_activation", "results",
      "converted elements beyond the destination format's largest finite value (saturated or "
      "overflowed)",
      ""},
     saturations);
  for (unsigned i = 0; i < kNumSrams; ++i) {
    const std::string& name = srams[i]->params().name;
    fn({"stall_sram_" + name, "cycles", "cycles refused a port of " + name, ""}, stall_sram[i]);
  }
}

Dma::Dma(sc_core::sc_module_name name, Dram& dram, std::array<Sram*, kNumSrams> srams,
         const std::string& vector_format, const std::string& array_format, uint32_t queue_depth,
         Scoreboard& scoreboard)
    : sc_module(name),
      QueuedUnit(isa::Unit::kDma, queue_depth, scoreboard),
      dram_(dram),
      srams_(srams),
      vec_format_(arith::make_format(vector_format)),
      array_format_(arith::make_format(array_format)),
      dram_format_(arith::make_format(dram.params().activation_format.empty()
                                          ? vector_format
                                          : dram.params().activation_format)),
      spaces_{srams, dram.size_bytes(), vec_format_->element_bytes(),
              array_format_->element_bytes(), dram_format_->element_bytes()} {}

const arith::ElementConverter& Dma::converter(bool load, bool to_array) {
  std::unique_ptr<arith::ElementConverter>& c = converters_[load ? 0 : 1][to_array ? 1 : 0];
  if (!c) {
    const arith::NumberFormat& sram_format = to_array ? *array_format_ : *vec_format_;
    c = load ? std::make_unique<arith::ElementConverter>(*dram_format_, sram_format)
             : std::make_unique<arith::ElementConverter>(sram_format, *dram_format_);
  }
  return *c;
}

Footprint Dma::footprint(const Command& cmd) const { return command_footprint(spaces_, cmd); }

namespace {

// Rows in one SRAM (a transfer's on-chip side, either side of a copy), range-checked.
Region sram_region(const Dma::Spaces& spaces, uint64_t space, uint64_t first, uint64_t rows,
                   uint64_t stride, uint64_t row_bytes) {
  const Sram& sram = *spaces.srams[space];
  const Region r{static_cast<MemSpace>(space), first, first + (rows - 1) * stride + row_bytes};
  if (r.end > sram.capacity_bytes() || r.begin > r.end) {
    throw SimulationError("bytes [" + std::to_string(r.begin) + ", " + std::to_string(r.end) +
                          ") lie outside " + sram.params().name + " (" +
                          std::to_string(sram.capacity_bytes()) + " bytes)");
  }
  return r;
}

Footprint copy_footprint(const Dma::Spaces& spaces, const Command& cmd) {
  namespace c = isa::dma_copy;
  const uint64_t rows = cmd.args[c::kRows], row_bytes = cmd.args[c::kRowBytes];
  if (rows == 0 || row_bytes == 0) throw SimulationError("rows and row_bytes must be >= 1");
  if (cmd.args[c::kSrcSpace] == cmd.args[c::kDstSpace])
    throw SimulationError("src_space and dst_space must be two different on-chip memories");
  Footprint fp;
  fp.read(sram_region(spaces, cmd.args[c::kSrcSpace], cmd.args[c::kSrc], rows,
                      cmd.args[c::kSrcStride], row_bytes));
  fp.write(sram_region(spaces, cmd.args[c::kDstSpace], cmd.args[c::kDst], rows,
                       cmd.args[c::kDstStride], row_bytes));
  return fp;
}

}  // namespace

BeatGroup Dma::copy_beats(const std::array<Sram*, kNumSrams>& srams, const Command& cmd) {
  namespace c = isa::dma_copy;
  const auto row_bytes = static_cast<uint32_t>(cmd.args[c::kRowBytes]);
  BeatGroup g;
  g.beats = cmd.args[c::kRows];
  g.add({srams[cmd.args[c::kSrcSpace]], Access::kRead, cmd.args[c::kSrc], cmd.args[c::kSrcStride],
         row_bytes});
  g.add({srams[cmd.args[c::kDstSpace]], Access::kWrite, cmd.args[c::kDst], cmd.args[c::kDstStride],
         row_bytes});
  return g;
}

Footprint Dma::command_footprint(const Spaces& spaces, const Command& cmd) {
  if (cmd.opcode == Opcode::kDmaCopy) return copy_footprint(spaces, cmd);
  const uint64_t rows = cmd.args[op::kRows];
  const uint64_t row_bytes = cmd.args[op::kRowBytes];
  if (rows == 0 || row_bytes == 0) throw SimulationError("rows and row_bytes must be >= 1");
  const bool gather = cmd.opcode == Opcode::kDmaGather;
  const uint64_t element = spaces.sram_element_bytes(gather ? 0 : cmd.args[op::kConvert]);
  if (element && row_bytes % element != 0) {
    throw SimulationError("convert: row_bytes " + std::to_string(row_bytes) +
                          " is not a whole number of SRAM elements (" + std::to_string(element) +
                          " bytes each)");
  }
  const uint64_t dram_row_bytes =
      element ? row_bytes / element * spaces.dram_element_bytes : row_bytes;
  const Region on_chip = sram_region(spaces, cmd.args[op::kSpace], cmd.args[op::kSram], rows,
                                     cmd.args[op::kSramStride], row_bytes);
  // A gather's rows are known only when it runs (begin() checks each); here its first row.
  const Region off_chip{
      MemSpace::kDram, cmd.args[op::kDram],
      cmd.args[op::kDram] + (gather ? 0 : (rows - 1) * cmd.args[op::kDramStride]) + dram_row_bytes};
  if (off_chip.end > spaces.dram_bytes || off_chip.begin > off_chip.end) {
    throw SimulationError("bytes [" + std::to_string(off_chip.begin) + ", " +
                          std::to_string(off_chip.end) + ") lie outside DRAM (" +
                          std::to_string(spaces.dram_bytes) + " bytes)");
  }
  Footprint fp;
  if (gather) {
    const Region indices{MemSpace::kActSram, cmd.args[op::kIndex], cmd.args[op::kIndex] + 4 * rows};
    if (indices.end > spaces.srams[static_cast<size_t>(MemSpace::kActSram)]->capacity_bytes()) {
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

namespace {

// Runs of at least this many equal beats form a uniform group, skipped in closed form; shorter
// runs (a standard's bursts arrive irregularly against the accelerator clock) join one shaped
// group, skipped beat by beat but in one quiet stretch.
constexpr size_t kUniformRun = 8;

// Beat groups for beats ending at strictly increasing cycles: runs with the same size, SRAM
// stride and spacing share a group; a beat takes the cycles since the previous one ended.
// `shapes` receives every beat's shape (shaped groups point into it).
void append_beats(const std::vector<Dma::SramBeat>& beats, Cycles first_start, Sram* sram,
                  Access access, std::vector<BeatShape>& shapes, std::vector<BeatGroup>& groups) {
  shapes.resize(beats.size());
  Cycles previous_end = first_start - 1;  // beat 0 takes end - first_start + 1 cycles
  for (size_t i = 0; i < beats.size(); ++i) {
    BeatShape& shape = shapes[i];
    shape.first_byte = beats[i].sram;
    shape.bytes = static_cast<uint32_t>(beats[i].bytes);
    shape.min_cycles = static_cast<uint32_t>(beats[i].end - previous_end);
    previous_end = beats[i].end;
  }
  size_t shaped_from = 0;  // the first beat in no group yet
  auto add_shaped = [&](size_t end) {
    if (end == shaped_from) return;
    BeatGroup g;
    g.beats = end - shaped_from;
    g.shapes = &shapes[shaped_from];
    g.add({sram, access, 0, 0, 1});
    groups.push_back(g);
  };
  for (size_t i = 0; i < shapes.size();) {
    const BeatShape& b = shapes[i];
    size_t j = i + 1;
    const uint64_t stride = j < shapes.size() ? shapes[j].first_byte - b.first_byte : b.bytes;
    while (j < shapes.size() && shapes[j].bytes == b.bytes &&
           shapes[j].min_cycles == b.min_cycles &&
           shapes[j].first_byte - shapes[j - 1].first_byte == stride) {
      ++j;
    }
    if (j - i >= kUniformRun || (i == shaped_from && j == shapes.size())) {
      add_shaped(i);
      BeatGroup g;
      g.beats = j - i;
      g.min_cycles = b.min_cycles;
      g.add({sram, access, b.first_byte, stride, b.bytes});
      groups.push_back(g);
      shaped_from = j;
    }
    i = j;
  }
  add_shaped(shapes.size());
}

}  // namespace

void Dma::begin_copy(const Command& cmd) {
  namespace c = isa::dma_copy;
  if (dram_.backed()) {  // values are kept (a timing-only run moves none)
    const uint64_t row_bytes = cmd.args[c::kRowBytes];
    const uint8_t* src = srams_[cmd.args[c::kSrcSpace]]->data() + cmd.args[c::kSrc];
    uint8_t* dst = srams_[cmd.args[c::kDstSpace]]->data() + cmd.args[c::kDst];
    for (uint64_t r = 0; r < cmd.args[c::kRows]; ++r) {
      std::memcpy(dst + r * cmd.args[c::kDstStride], src + r * cmd.args[c::kSrcStride], row_bytes);
    }
  }
  ++stats().copies;
  groups_.assign({copy_beats(srams_, cmd)});
  cursor_.start(groups_, cmd.layer);
}

void Dma::begin(const Command& cmd, Cycles now) {
  if (cmd.opcode == Opcode::kDmaCopy) {
    begin_copy(cmd);
    return;
  }
  const bool load = cmd.opcode != Opcode::kDmaStore;
  const bool gather = cmd.opcode == Opcode::kDmaGather;
  const uint64_t conversion = gather ? isa::dma::kNoConversion : cmd.args[op::kConvert];
  const uint64_t element = spaces_.sram_element_bytes(conversion);  // 0: none
  const uint64_t rows = cmd.args[op::kRows];
  const uint64_t row_bytes = cmd.args[op::kRowBytes];  // the SRAM side
  const uint64_t dram_row_bytes =
      element ? row_bytes / element * spaces_.dram_element_bytes : row_bytes;
  Sram* sram = srams_[cmd.args[op::kSpace]];
  const DramParams& dp = dram_.params();
  const uint64_t burst = dp.request_bytes();
  // Bursts of a power of two bytes (every standard's) start at a mask, not a division per burst.
  const uint64_t burst_mask = (burst & (burst - 1)) == 0 ? ~(burst - 1) : 0;
  const Access access = load ? Access::kWrite : Access::kRead;

  std::vector<BeatGroup>& groups = groups_;
  groups.clear();
  Cycles start = now;  // the first cycle a DRAM request may go out
  Sram* asram = srams_[static_cast<size_t>(MemSpace::kActSram)];
  if (gather) {  // the indices, read before any row is requested
    BeatGroup g;
    g.add({asram, Access::kRead, cmd.args[op::kIndex], 0, static_cast<uint32_t>(4 * rows)});
    groups.push_back(g);
    start += BeatCursor::uncontended_cycles(groups);
  }
  // The bursts each row touches (a partial burst moves whole on the channel) and the part of
  // each that reaches the SRAM.
  bursts_.clear();
  pieces_.clear();
  if (!gather) {
    // Grown once to the command's size: a whole-matrix load grown burst by burst spends
    // most of its time reallocating.
    const uint64_t first = cmd.args[op::kDram];
    uint64_t total = 0;
    for (uint64_t r = 0; r < rows && dram_row_bytes > 0; ++r) {
      const uint64_t at = first + r * cmd.args[op::kDramStride];
      total += (at + dram_row_bytes - 1) / burst - at / burst + 1;
    }
    bursts_.reserve(total);
    pieces_.reserve(total);
  }
  const arith::ElementConverter* convert =
      element && dram_.backed() ? &converter(load, conversion == isa::dma::kToArray) : nullptr;
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
      if (convert != nullptr) {
        stats().saturations += load ? convert->convert(dram_bytes, sram_bytes, row_bytes / element)
                                    : convert->convert(sram_bytes, dram_bytes, row_bytes / element);
      } else if (load) {
        std::memcpy(sram_bytes, dram_bytes, row_bytes);
      } else {
        std::memcpy(dram_bytes, sram_bytes, row_bytes);
      }
    }
    const uint64_t end = dram_row + dram_row_bytes;
    for (uint64_t at = dram_row; at < end;) {
      const uint64_t burst_start = burst_mask != 0 ? at & burst_mask : at / burst * burst;
      const uint64_t piece_end = std::min(end, burst_start + burst);
      bursts_.push_back(burst_start);
      // Field by field: a braced temporary here costs a store-forwarding stall per burst.
      SramBeat& piece = pieces_.emplace_back();
      const uint64_t from = sram_offset(element, at - dram_row);
      piece.sram = sram_row + from;
      piece.bytes = sram_offset(element, piece_end - dram_row) - from;
      at = piece_end;
    }
  }
  // When each burst's data is through the channel (loads: in the SRAM's reach; stores: taken).
  const uint64_t latency = dp.simple && load ? dp.latency_cycles : 0;
  if (dp.simple) {
    // The simple channel moves bytes_per_cycle, whole bursts: burst i is through when
    // (i + 1) bursts' bytes have moved, after the latency.
    ready_.resize(bursts_.size());
    for (size_t i = 0; i < bursts_.size(); ++i) {
      ready_[i] =
          start + latency + ((i + 1) * burst + dp.bytes_per_cycle - 1) / dp.bytes_per_cycle - 1;
    }
    DramStats& ds = dram_.stats(cmd.layer);
    (load ? ds.read_bytes : ds.write_bytes) += bursts_.size() * burst;
  } else {
    dram_.transfer(bursts_, !load, start, cmd.layer, ready_);
  }
  if (timeline()) record_transfer(cmd, start);
  // The SRAM side: one beat per burst, bursts done in one cycle and adjacent in the SRAM
  // merged; a beat ends no earlier than its burst, one cycle after the previous beat.
  beats_.clear();
  beats_.reserve(pieces_.size());
  for (size_t i = 0; i < pieces_.size(); ++i) {
    const SramBeat& p = pieces_[i];
    if (p.bytes == 0) continue;  // a burst that completes no converted element
    if (!beats_.empty() && ready_[i] <= beats_.back().end &&
        p.sram == beats_.back().sram + beats_.back().bytes) {
      beats_.back().bytes += p.bytes;
    } else {
      const Cycles earliest = beats_.empty() ? start : beats_.back().end + 1;
      SramBeat& beat = beats_.emplace_back();
      beat.sram = p.sram;
      beat.bytes = p.bytes;
      beat.end = std::max(ready_[i], earliest);
    }
  }
  // The first beat starts when its data may move: a store at once (the SRAM read, then the
  // channel), a simple load after the latency (the beat spans the burst's channel time), a
  // standard's load when its first burst is through.
  Cycles first = start;
  if (load && !beats_.empty()) first = dp.simple ? start + latency : beats_.front().end;
  if (first > start) {
    BeatGroup wait;
    wait.min_cycles = static_cast<uint32_t>(first - start);
    groups.push_back(wait);
  }
  append_beats(beats_, first, sram, access, shapes_, groups);
  if (!load && dp.simple && dp.latency_cycles > 0) {
    BeatGroup ack;  // the write acknowledgement
    ack.min_cycles = dp.latency_cycles;
    groups.push_back(ack);
  }

  DmaStats& s = stats();
  (load ? s.loads : s.stores)++;
  if (element) s.conversions += rows * (row_bytes / element);
  dram_.stats(cmd.layer).useful_bytes += rows * dram_row_bytes;
  cursor_.start(groups, cmd.layer);
}

void Dma::record_transfer(const Command& cmd, Cycles start) const {
  const DramParams& dp = dram_.params();
  const uint64_t burst = dp.request_bytes();
  const uint32_t channels = dp.simple ? 1 : dp.device.org.channels;
  std::vector<Cycles> last(channels, kNever);
  std::vector<uint64_t> bytes(channels, 0);
  for (size_t i = 0; i < bursts_.size(); ++i) {
    const uint32_t c = dp.simple ? 0 : dram_.decode(bursts_[i]).channel;
    last[c] = last[c] == kNever ? ready_[i] : std::max(last[c], ready_[i]);
    bytes[c] += burst;
    timeline()->dram_burst(ready_[i], burst);
  }
  for (uint32_t c = 0; c < channels; ++c) {
    if (bytes[c] > 0) timeline()->dram_channel(c, cmd, start, last[c] + 1, bytes[c]);
  }
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

void Dma::op_skip(Cycles /*now*/, Cycles n) {
  (in_latency() ? stats().busy_latency : stats().busy_transfer) += n;
  cursor_.skip(n);
}

void Dma::visit_counters(uint32_t layer, const CounterFn& fn) const {
  if (layer < stats_.size())
    stats_[layer].visit(srams_, arith::VectorMath::class_of(*vec_format_), fn);
}

}  // namespace nmp::hw
