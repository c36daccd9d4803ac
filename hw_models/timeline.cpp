#include "hw_models/timeline.hpp"

#include <algorithm>
#include <stdexcept>

namespace nmp::hw {

Timeline::Timeline(CycleWindow window, Cycles interval, size_t max_spans)
    : window_(window), interval_(interval), max_spans_(max_spans) {
  if (window.begin >= window.end) throw std::invalid_argument("timeline: an empty window");
  if (interval == 0) throw std::invalid_argument("timeline: a zero sampling interval");
}

bool Timeline::clip(Cycles& begin, Cycles& end) {
  if (truncated_) return false;
  begin = std::max(begin, window_.begin);
  end = std::min(end, window_.end);
  return begin < end;
}

Timeline::Span* Timeline::push(const Span& span) {
  if (spans_.size() >= max_spans_) {
    truncate(span.begin);
    return nullptr;
  }
  spans_.push_back(span);
  return &spans_.back();
}

void Timeline::run(uint32_t track, SpanKind kind, uint8_t reason, Cycles begin, Cycles end) {
  if (!clip(begin, end)) return;
  if (const size_t last = last_run_[track]; last > 0) {  // continues the track's last run?
    Span& s = spans_[last - 1];
    if (s.kind == kind && s.reason == reason && s.end == begin) {
      s.end = end;
      return;
    }
  }
  Span s;
  s.begin = begin;
  s.end = end;
  s.track = track;
  s.kind = kind;
  s.reason = reason;
  if (push(s)) last_run_[track] = spans_.size();
}

void Timeline::command_span(uint32_t track, SpanKind kind, const Command& cmd, Cycles begin,
                            Cycles end, uint64_t work) {
  if (!clip(begin, end)) return;
  Span s;
  s.begin = begin;
  s.end = end;
  s.work = work;
  s.pc = cmd.pc;
  s.layer = cmd.layer;
  s.track = track;
  s.opcode = cmd.opcode;
  s.kind = kind;
  push(s);
}

void Timeline::command(isa::Unit unit, const Command& cmd, Cycles begin, Cycles end,
                       uint64_t work) {
  const auto track = static_cast<uint32_t>(unit);
  last_run_[track] = 0;  // a stall run never continues into the next command
  if (work > 0 && unit == isa::Unit::kMacArray) spread_macs(work, begin, end);
  command_span(track, SpanKind::kCommand, cmd, begin, end, work);
}

void Timeline::sram_stall(isa::Unit unit, uint32_t sram, Cycles at) {
  run(static_cast<uint32_t>(unit), SpanKind::kSramStall, static_cast<uint8_t>(sram), at, at + 1);
}

void Timeline::controller(uint8_t state, Cycles at, Cycles n) {
  run(static_cast<uint32_t>(isa::Unit::kController), SpanKind::kController, state, at, at + n);
}

void Timeline::dram_channel(uint32_t channel, const Command& cmd, Cycles begin, Cycles end,
                            uint64_t bytes) {
  command_span(kFirstDramTrack + channel, SpanKind::kDramChannel, cmd, begin, end, bytes);
}

void Timeline::truncate(Cycles at) {
  if (truncated_) return;
  truncated_ = true;
  truncated_at_ = at;
}

template <class T>
T* Timeline::bin(std::vector<T>& bins, Cycles at) {
  const Cycles i = (at - window_.begin) / interval_;
  if (i >= max_spans_) {  // as many bins as spans at most: the memory stays bounded
    truncate(at);
    return nullptr;
  }
  if (i >= bins.size()) bins.resize(i + 1, T{});
  return &bins[i];
}

void Timeline::dram_burst(Cycles done, uint64_t bytes) {
  if (truncated_ || done < window_.begin || done >= window_.end) return;
  if (uint64_t* b = bin(dram_bins_, done)) *b += bytes;
}

void Timeline::spread_macs(uint64_t macs, Cycles begin, Cycles end) {
  const double per_cycle = static_cast<double>(macs) / static_cast<double>(end - begin);
  Cycles from = begin, to = end;
  if (!clip(from, to)) return;
  while (from < to) {
    double* b = bin(mac_bins_, from);
    if (!b) return;
    const Cycles bin_end = window_.begin + ((from - window_.begin) / interval_ + 1) * interval_;
    const Cycles until = std::min(to, bin_end);
    *b += per_cycle * static_cast<double>(until - from);
    from = until;
  }
}

void Timeline::change(const Change& c, bool always) {
  if ((!signals_ && !always) || truncated_ || c.at >= window_.end) return;
  if (c.at < window_.begin) {
    Change& last = before_window_[{c.signal, c.channel, c.index}];
    if (c.at >= last.at) last = c;
    return;
  }
  if (changes_.size() >= max_spans_) {
    truncate(c.at);
    return;
  }
  changes_.push_back(c);
}

void Timeline::pc(Cycles at, uint32_t pc) { change({at, pc, 0, 0, Signal::kPc}); }

void Timeline::queue(isa::Unit unit, Cycles at, size_t occupancy) {
  change({at, occupancy, 0, static_cast<uint32_t>(unit), Signal::kQueue});
}

void Timeline::ports(isa::Unit unit, Cycles at, uint32_t mask) {
  change({at, mask, 0, static_cast<uint32_t>(unit), Signal::kPorts}, true);
}

void Timeline::bank(uint32_t channel, Cycles at, const BankChange& bank) {
  change({at, bank.state, channel, bank.bank, Signal::kBankState});
  if (bank.state == BankChange::kOpen) change({at, bank.row, channel, bank.bank, Signal::kBankRow});
}

std::vector<Timeline::Change> Timeline::initial_values() const {
  std::vector<Change> out;
  for (const auto& [key, c] : before_window_) out.push_back(c);
  return out;
}

}  // namespace nmp::hw
