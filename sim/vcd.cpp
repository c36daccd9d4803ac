#include "sim/vcd.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "hw_models/controller.hpp"
#include "sim/text.hpp"

namespace nmp::sim {
namespace {

using hw::Cycles;
using hw::Timeline;

constexpr uint64_t kHalted = static_cast<uint64_t>(hw::IssueStall::kCount);
constexpr uint64_t kUnitIdle = 0, kUnitBusy = 1, kUnitStalled = 2;  // + the SRAM's id

struct SignalDef {
  std::string scope, name;
  int width = 1;
};

struct Event {
  Cycles at = 0;
  uint32_t signal = 0;
  uint64_t value = 0;
};

// Short printable identifiers: base 94 over '!' .. '~'.
std::string identifier(uint32_t index) {
  std::string id;
  do {
    id += static_cast<char>('!' + index % 94);
    index /= 94;
  } while (index > 0);
  return id;
}

std::string binary(uint64_t value) {
  std::string bits;
  do {
    bits += static_cast<char>('0' + (value & 1));
    value >>= 1;
  } while (value > 0);
  std::reverse(bits.begin(), bits.end());
  return "b" + bits;
}

class Signals {
 public:
  explicit Signals(const TimelineContext& ctx) {
    controller_state_ = add("controller", "state", 4);
    pc_ = add("controller", "pc", 32);
    layer_ = add("controller", "layer", 32);
    for (isa::Unit u : {isa::Unit::kDma, isa::Unit::kMacArray, isa::Unit::kVector}) {
      const std::string scope(unit_block(u));
      unit_state_[static_cast<size_t>(u)] = add(scope, "state", 3);
      queue_[static_cast<size_t>(u)] = add(scope, "queue", 16);
      ports_[static_cast<size_t>(u)] = add(scope, "sram_ports", 2 * hw::kNumSrams);
    }
    first_bank_ = static_cast<uint32_t>(defs_.size());
    banks_ = ctx.dram_banks;
    for (uint32_t c = 0; c < ctx.dram_channels; ++c) {
      for (uint32_t b = 0; b < ctx.dram_banks; ++b) {
        const std::string scope = "dram.ch" + std::to_string(c) + ".bank" + std::to_string(b);
        add(scope, "state", 2);
        add(scope, "row", 32);
      }
    }
  }
  static std::string_view unit_block(isa::Unit u) {
    return u == isa::Unit::kVector ? "vector_unit" : isa::unit_name(u);
  }
  const std::vector<SignalDef>& defs() const { return defs_; }
  uint32_t controller_state() const { return controller_state_; }
  uint32_t pc() const { return pc_; }
  uint32_t layer() const { return layer_; }
  uint32_t unit_state(uint32_t track) const { return unit_state_.at(track); }
  uint32_t queue(uint32_t unit) const { return queue_.at(unit); }
  uint32_t ports(uint32_t unit) const { return ports_.at(unit); }
  uint32_t bank(uint32_t channel, uint32_t bank, bool row) const {
    return first_bank_ + 2 * (channel * banks_ + bank) + (row ? 1 : 0);
  }

 private:
  uint32_t add(const std::string& scope, const std::string& name, int width) {
    defs_.push_back({scope, name, width});
    return static_cast<uint32_t>(defs_.size() - 1);
  }
  std::vector<SignalDef> defs_;
  uint32_t controller_state_ = 0, pc_ = 0, layer_ = 0, first_bank_ = 0, banks_ = 0;
  std::array<uint32_t, 4> unit_state_{}, queue_{}, ports_{};
};

// Every change of every signal in the window, in the order that decides ties (later wins).
std::vector<Event> events(const Timeline& t, const TimelineContext& ctx, const Signals& sig) {
  const Cycles begin = t.window().begin, end = std::min(t.window().end, ctx.cycles);
  std::vector<Event> out;
  auto recorded = [&](const Timeline::Change& c, Cycles at) {
    if (at > end) return;
    switch (c.signal) {
      case Timeline::Signal::kPc:
        out.push_back({at, sig.pc(), c.value});
        break;
      case Timeline::Signal::kQueue:
        out.push_back({at, sig.queue(c.index), c.value});
        break;
      case Timeline::Signal::kPorts:
        out.push_back({at, sig.ports(c.index), c.value});
        break;
      case Timeline::Signal::kBankState:
      case Timeline::Signal::kBankRow:
        if (c.channel < ctx.dram_channels && c.index < ctx.dram_banks) {
          out.push_back(
              {at, sig.bank(c.channel, c.index, c.signal == Timeline::Signal::kBankRow), c.value});
        }
        break;
    }
  };
  for (const Timeline::Change& c : t.initial_values()) recorded(c, begin);
  // The layer the window starts in, then the later ones.
  const std::vector<hw::LayerEntry>& entries = ctx.layer_entries;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Cycles at = entries[i].start;
    const bool last_before = i + 1 == entries.size() || entries[i + 1].start > begin;
    if (at <= begin ? last_before : at < end)
      out.push_back({std::max(begin, at), sig.layer(), entries[i].layer});
  }
  // Units: busy over each command, a stall over each stall run inside it, idle after it.
  std::vector<const Timeline::Span*> spans;
  for (const Timeline::Span& s : t.spans()) spans.push_back(&s);
  std::stable_sort(spans.begin(), spans.end(),
                   [](const Timeline::Span* a, const Timeline::Span* b) {
                     if (a->track != b->track) return a->track < b->track;
                     if (a->begin != b->begin) return a->begin < b->begin;
                     return a->kind < b->kind;  // a command before the stalls that start with it
                   });
  std::array<Cycles, Timeline::kFirstDramTrack> pending_idle;
  pending_idle.fill(hw::kNever);
  for (const Timeline::Span* s : spans) {
    if (s->track >= Timeline::kFirstDramTrack) continue;
    switch (s->kind) {
      case Timeline::SpanKind::kController:
        out.push_back({s->begin, sig.controller_state(), s->reason});
        break;
      case Timeline::SpanKind::kCommand: {
        Cycles& idle = pending_idle[s->track];
        if (idle != hw::kNever) out.push_back({idle, sig.unit_state(s->track), kUnitIdle});
        out.push_back({s->begin, sig.unit_state(s->track), kUnitBusy});
        idle = s->end;
        break;
      }
      case Timeline::SpanKind::kSramStall:
        out.push_back({s->begin, sig.unit_state(s->track), kUnitStalled + s->reason});
        out.push_back({s->end, sig.unit_state(s->track), kUnitBusy});
        break;
      case Timeline::SpanKind::kDramChannel:
        break;
    }
  }
  for (uint32_t track = 0; track < pending_idle.size(); ++track) {
    if (pending_idle[track] != hw::kNever)
      out.push_back({pending_idle[track], sig.unit_state(track), kUnitIdle});
  }
  if (ctx.cycles < t.window().end) out.push_back({ctx.cycles, sig.controller_state(), kHalted});
  for (const Timeline::Change& c : t.changes()) recorded(c, c.at);
  std::stable_sort(out.begin(), out.end(),
                   [](const Event& a, const Event& b) { return a.at < b.at; });
  return out;
}

}  // namespace

void write_vcd(std::ostream& out, const hw::Timeline& t, const TimelineContext& ctx) {
  const Signals sig(ctx);
  const double ps_per_cycle = 1e6 / ctx.clock_mhz;
  auto time = [&](Cycles at) {
    return "#" + std::to_string(std::llround(static_cast<double>(at) * ps_per_cycle));
  };
  out << "$version nmpsim $end\n$timescale 1ps $end\n$comment\n"
      << "  one cycle = " << format_text("%.6g", ps_per_cycle) << " ps; cycles ["
      << t.window().begin << ", " << std::min(t.window().end, ctx.cycles) << ") of " << ctx.cycles
      << "\n  controller.state: 0 issue";
  for (size_t i = 1; i < kHalted; ++i) {
    out << ", " << i << " " << hw::to_string(static_cast<hw::IssueStall>(i));
  }
  out << ", " << kHalted << " halted\n"
      << "  <unit>.state: 0 idle, 1 busy, 2 stalled on a port of " << ctx.sram_names[0] << ", 3 of "
      << ctx.sram_names[1] << ", 4 of " << ctx.sram_names[2] << "\n"
      << "  dram.ch<c>.bank<b>.state: 0 precharged, 1 a row open, 2 refreshing\n"
      << (t.truncated() ? "  truncated at cycle " + std::to_string(t.truncated_at()) + "\n" : "")
      << "$end\n$scope module nmpsim $end\n";
  // Scopes in order of definition (each signal's scope path, dot separated).
  std::vector<std::string> open;
  const std::vector<SignalDef>& defs = sig.defs();
  for (uint32_t i = 0; i < defs.size(); ++i) {
    std::vector<std::string> path;
    for (size_t from = 0;;) {
      const size_t dot = defs[i].scope.find('.', from);
      path.push_back(defs[i].scope.substr(from, dot - from));
      if (dot == std::string::npos) break;
      from = dot + 1;
    }
    size_t common = 0;
    while (common < open.size() && common < path.size() && open[common] == path[common]) ++common;
    for (size_t k = open.size(); k > common; --k) out << "$upscope $end\n";
    for (size_t k = common; k < path.size(); ++k) out << "$scope module " << path[k] << " $end\n";
    open = path;
    out << "$var wire " << defs[i].width << " " << identifier(i) << " " << defs[i].name
        << " $end\n";
  }
  for (size_t k = 0; k < open.size(); ++k) out << "$upscope $end\n";
  out << "$upscope $end\n$enddefinitions $end\n";

  const std::vector<Event> changes = events(t, ctx, sig);
  std::vector<uint64_t> value(defs.size(), 0);
  const Cycles begin = t.window().begin;
  size_t i = 0;
  for (; i < changes.size() && changes[i].at <= begin; ++i)
    value[changes[i].signal] = changes[i].value;
  Cycles last_time = begin;
  out << time(begin) << "\n$dumpvars\n";
  for (uint32_t s = 0; s < defs.size(); ++s)
    out << binary(value[s]) << " " << identifier(s) << "\n";
  out << "$end\n";
  while (i < changes.size()) {
    const Cycles at = changes[i].at;
    std::vector<uint32_t> touched;
    std::vector<uint64_t> before;
    for (; i < changes.size() && changes[i].at == at; ++i) {
      touched.push_back(changes[i].signal);
      before.push_back(value[changes[i].signal]);
      value[changes[i].signal] = changes[i].value;
    }
    std::string lines;
    for (size_t k = 0; k < touched.size(); ++k) {
      const uint32_t s = touched[k];
      // Once per signal (its first touch holds the value before this time), if it changed.
      if (std::find(touched.begin(), touched.begin() + static_cast<long>(k), s) !=
          touched.begin() + static_cast<long>(k)) {
        continue;
      }
      if (before[k] != value[s]) lines += binary(value[s]) + " " + identifier(s) + "\n";
    }
    if (!lines.empty()) {
      out << time(at) << "\n" << lines;
      last_time = at;
    }
  }
  // The end of the window, so that viewers draw the last values' extent.
  const Cycles end = std::min(t.window().end, ctx.cycles);
  if (end > last_time) out << time(end) << "\n";
}

}  // namespace nmp::sim
