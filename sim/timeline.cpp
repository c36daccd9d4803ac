#include "sim/timeline.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <numeric>

#include "hw_models/controller.hpp"
#include "sim/input_limits.hpp"
#include "sim/json_reader.hpp"
#include "sim/text.hpp"
#include "sim/vcd.hpp"

namespace nmp::sim {
namespace {

using hw::Cycles;
using hw::Timeline;

// Thread ids of the tracks: units by isa::Unit (controller 1 ... vector_unit 4), then layers,
// then the DRAM channels.
constexpr uint32_t kLayerTid = 5;
constexpr uint32_t kFirstDramTid = 16;

uint32_t tid_of(uint32_t track) {
  return track < Timeline::kFirstDramTrack ? track + 1
                                           : kFirstDramTid + (track - Timeline::kFirstDramTrack);
}

std::string quoted(const std::string& text) { return Json(text).dump(); }

class EventWriter {
 public:
  EventWriter(std::ostream& out, double clock_mhz) : out_(out), clock_mhz_(clock_mhz) {}

  void metadata(uint32_t tid, const char* what, const std::string& args) {
    begin_event();
    out_ << "{\"ph\":\"M\",\"pid\":1,\"tid\":" << tid << ",\"name\":\"" << what
         << "\",\"args\":" << args << "}";
  }
  // A complete event ("X") over cycles [begin, end); `args` without braces, may be empty.
  void span(uint32_t tid, const std::string& name, const char* category, Cycles begin, Cycles end,
            const std::string& args) {
    begin_event();
    out_ << "{\"ph\":\"X\",\"pid\":1,\"tid\":" << tid << ",\"name\":" << quoted(name)
         << ",\"cat\":\"" << category << "\",\"ts\":" << micros(begin)
         << ",\"dur\":" << micros(end - begin) << ",\"args\":{\"begin_cycle\":" << begin
         << ",\"end_cycle\":" << end << (args.empty() ? "" : ",") << args << "}}";
  }
  void counter(const char* name, const char* unit, Cycles at, double value) {
    begin_event();
    out_ << "{\"ph\":\"C\",\"pid\":1,\"name\":\"" << name << "\",\"ts\":" << micros(at)
         << ",\"args\":{\"" << unit << "\":" << format_text("%.6g", value) << "}}";
  }
  // A counter of several integer series.
  void counter(const std::string& name, const std::vector<std::pair<const char*, int>>& series,
               Cycles at) {
    begin_event();
    out_ << "{\"ph\":\"C\",\"pid\":1,\"name\":" << quoted(name) << ",\"ts\":" << micros(at)
         << ",\"args\":{";
    for (size_t i = 0; i < series.size(); ++i)
      out_ << (i ? "," : "") << "\"" << series[i].first << "\":" << series[i].second;
    out_ << "}}";
  }

 private:
  void begin_event() {
    out_ << (first_ ? "\n" : ",\n");
    first_ = false;
  }
  std::string micros(Cycles cycles) const {
    return format_text("%.6f", static_cast<double>(cycles) / clock_mhz_);
  }

  std::ostream& out_;
  double clock_mhz_;
  bool first_ = true;
};

std::string layer_name(const TimelineContext& ctx, uint32_t layer) {
  if (layer < ctx.layer_names.size() && !ctx.layer_names[layer].empty())
    return ctx.layer_names[layer];
  return "layer " + std::to_string(layer);
}

void write_spans(EventWriter& w, const Timeline& t, const TimelineContext& ctx) {
  // Parents before the spans they contain: by track, then start, then the longer first.
  const std::vector<Timeline::Span>& spans = t.spans();
  std::vector<size_t> order(spans.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Timeline::Span &x = spans[a], &y = spans[b];
    if (x.track != y.track) return x.track < y.track;
    if (x.begin != y.begin) return x.begin < y.begin;
    return x.end > y.end;
  });
  for (size_t i : order) {
    const Timeline::Span& s = spans[i];
    const uint32_t tid = tid_of(s.track);
    const std::string where = "\"pc\":" + std::to_string(s.pc) +
                              ",\"layer\":" + std::to_string(s.layer) +
                              ",\"layer_name\":" + quoted(layer_name(ctx, s.layer));
    const std::string mnemonic(isa::find_spec(s.opcode)->mnemonic);
    switch (s.kind) {
      case Timeline::SpanKind::kCommand:
        w.span(tid, mnemonic, "command", s.begin, s.end,
               s.track == static_cast<uint32_t>(isa::Unit::kMacArray)
                   ? where + ",\"macs\":" + std::to_string(s.work)
                   : where);
        break;
      case Timeline::SpanKind::kSramStall:
        w.span(tid, "stall: port of " + ctx.sram_names.at(s.reason), "stall", s.begin, s.end,
               "\"sram\":" + quoted(ctx.sram_names.at(s.reason)));
        break;
      case Timeline::SpanKind::kController: {
        const auto state = static_cast<hw::IssueStall>(s.reason);
        const bool issue = state == hw::IssueStall::kNone;
        w.span(tid, issue ? "issue" : std::string("stall: ") + hw::to_string(state),
               issue ? "issue" : "stall", s.begin, s.end, "");
        break;
      }
      case Timeline::SpanKind::kDramChannel:
        w.span(tid, mnemonic, "dram", s.begin, s.end,
               where + ",\"bytes\":" + std::to_string(s.work));
        break;
    }
  }
}

void write_layers(EventWriter& w, const hw::CycleWindow& window, const TimelineContext& ctx) {
  // Each entry into a layer (a step loop's layers once per step) until the next.
  const std::vector<hw::LayerEntry>& entries = ctx.layer_entries;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Cycles end = i + 1 < entries.size() ? entries[i + 1].start : ctx.cycles;
    const Cycles from = std::max(entries[i].start, window.begin);
    const Cycles to = std::min(end, window.end);
    if (from >= to) continue;
    w.span(kLayerTid, layer_name(ctx, entries[i].layer), "layer", from, to,
           "\"layer\":" + std::to_string(entries[i].layer));
  }
}

void write_counters(EventWriter& w, const Timeline& t, const TimelineContext& ctx) {
  const Cycles end = std::min(ctx.cycles, t.window().end);
  const double ns_per_cycle = 1e3 / ctx.clock_mhz;
  for (Cycles from = t.window().begin, i = 0; from < end; from += t.interval(), ++i) {
    const Cycles cycles = std::min(t.interval(), end - from);
    const uint64_t bytes = i < t.dram_bins().size() ? t.dram_bins()[i] : 0;
    const double macs = i < t.mac_bins().size() ? t.mac_bins()[i] : 0.0;
    w.counter("DRAM bandwidth", "GB/s", from,
              static_cast<double>(bytes) / (static_cast<double>(cycles) * ns_per_cycle));
    w.counter("MAC utilization", "%", from,
              100.0 * macs / (static_cast<double>(ctx.pes) * static_cast<double>(cycles)));
  }
}

// Per SRAM and port class, the number of units streaming through it, at every change.
void write_port_counters(EventWriter& w, const Timeline& t, const TimelineContext& ctx) {
  std::vector<Timeline::Change> changes;
  for (const Timeline::Change& c : t.initial_values()) {
    if (c.signal == Timeline::Signal::kPorts) changes.push_back(c);
  }
  for (Timeline::Change& c : changes) c.at = t.window().begin;
  for (const Timeline::Change& c : t.changes()) {
    if (c.signal == Timeline::Signal::kPorts && c.at <= ctx.cycles) changes.push_back(c);
  }
  std::stable_sort(
      changes.begin(), changes.end(),
      [](const Timeline::Change& a, const Timeline::Change& b) { return a.at < b.at; });
  std::array<uint64_t, Timeline::kFirstDramTrack> mask{};
  std::array<std::array<int, 2>, hw::kNumSrams> shown;
  for (auto& s : shown) s = {-1, -1};
  auto emit = [&](Cycles at) {
    for (uint32_t sram = 0; sram < hw::kNumSrams; ++sram) {
      std::array<int, 2> units{};
      for (uint64_t m : mask) {
        for (uint32_t cls = 0; cls < 2; ++cls) units[cls] += (m >> (sram * 2 + cls)) & 1;
      }
      if (units == shown[sram]) continue;
      shown[sram] = units;
      const std::string name = ctx.sram_names[sram] + " ports in use";
      if (ctx.sram_split_ports[sram]) {
        w.counter(name, {{"read", units[0]}, {"write", units[1]}}, at);
      } else {
        w.counter(name, {{"units", units[0]}}, at);
      }
    }
  };
  size_t i = 0;
  for (; i < changes.size() && changes[i].at <= t.window().begin; ++i)
    mask.at(changes[i].index) = changes[i].value;
  emit(t.window().begin);
  while (i < changes.size()) {
    const Cycles at = changes[i].at;
    for (; i < changes.size() && changes[i].at == at; ++i)
      mask.at(changes[i].index) = changes[i].value;
    emit(at);
  }
}

}  // namespace

hw::CycleWindow parse_cycle_window(const std::string& text) {
  auto refuse = [&] {
    return ConfigError("--timeline-window", "",
                       "expected A:B, cycles with A < B (B may be left out for the end of the "
                       "run), got \"" +
                           text + "\"");
  };
  const size_t colon = text.find(':');
  if (colon == std::string::npos) throw refuse();
  auto number = [&](const std::string& digits, Cycles& value) {
    if (digits.empty() || digits.size() > 19 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
      throw refuse();
    }
    value = std::stoull(digits);
  };
  hw::CycleWindow w;
  number(text.substr(0, colon), w.begin);
  if (colon + 1 < text.size()) number(text.substr(colon + 1), w.end);
  if (w.begin >= w.end) throw refuse();
  return w;
}

void write_timeline(std::ostream& out, const hw::Timeline& t, const TimelineContext& ctx) {
  out << "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"generator\":\"nmpsim\",\"clock_mhz\":"
      << format_text("%.17g", ctx.clock_mhz) << ",\"cycles\":" << ctx.cycles
      << ",\"window_begin_cycle\":" << t.window().begin
      << ",\"window_end_cycle\":" << std::min(t.window().end, ctx.cycles)
      << ",\"interval_cycles\":" << t.interval() << ",\"pes\":" << ctx.pes
      << ",\"truncated\":" << (t.truncated() ? "true" : "false");
  if (t.truncated()) out << ",\"truncated_at_cycle\":" << t.truncated_at();
  out << "},\"traceEvents\":[";
  EventWriter w(out, ctx.clock_mhz);
  w.metadata(0, "process_name", "{\"name\":\"nmpsim\"}");
  auto thread = [&](uint32_t tid, const std::string& name) {
    w.metadata(tid, "thread_name", "{\"name\":" + quoted(name) + "}");
    w.metadata(tid, "thread_sort_index", "{\"sort_index\":" + std::to_string(tid) + "}");
  };
  for (isa::Unit u :
       {isa::Unit::kController, isa::Unit::kDma, isa::Unit::kMacArray, isa::Unit::kVector}) {
    thread(tid_of(static_cast<uint32_t>(u)), std::string(isa::unit_name(u)));
  }
  thread(kLayerTid, "layers");
  uint32_t channels = 0;
  for (const Timeline::Span& s : t.spans()) {
    if (s.track >= Timeline::kFirstDramTrack)
      channels = std::max(channels, s.track - Timeline::kFirstDramTrack + 1);
  }
  for (uint32_t c = 0; c < channels; ++c) {
    thread(tid_of(Timeline::kFirstDramTrack + c), "dram channel " + std::to_string(c));
  }
  write_layers(w, t.window(), ctx);
  write_spans(w, t, ctx);
  write_counters(w, t, ctx);
  write_port_counters(w, t, ctx);
  out << "\n]}\n";
}

TimelineSink::Output::Output(const std::string& p) : path(p), partial(output_staging_path(p)) {
  file.open(partial, std::ios::binary);
  if (!file) throw ConfigError(path, "", "cannot write the file");
}

TimelineSink::Output::~Output() {
  if (file.is_open()) {
    file.close();
    if (partial != path) std::remove(partial.c_str());
  }
}

void TimelineSink::Output::commit() {
  file.close();
  if (!file || (partial != path && std::rename(partial.c_str(), path.c_str()) != 0)) {
    if (partial != path) std::remove(partial.c_str());
    throw ConfigError(path, "", "cannot write the file");
  }
}

TimelineSink::TimelineSink(const TimelineOptions& options, hw::NmpTop& top) {
  if (options.path.empty() && options.vcd_path.empty()) return;
  if (!options.path.empty()) timeline_file_ = std::make_unique<Output>(options.path);
  if (!options.vcd_path.empty()) vcd_file_ = std::make_unique<Output>(options.vcd_path);
  timeline_ = std::make_unique<hw::Timeline>(options.window, options.interval,
                                             hw::Timeline::kDefaultMaxSpans);
  if (vcd_file_) timeline_->record_signals();
  top.set_timeline(timeline_.get());
}

void TimelineSink::write(const TimelineContext& context) {
  if (!timeline_) return;
  if (timeline_->window().begin >= context.cycles) {
    throw ConfigError("--timeline-window", "",
                      "starts at cycle " + std::to_string(timeline_->window().begin) +
                          ", past the end of the run (" + std::to_string(context.cycles) +
                          " cycles)");
  }
  if (timeline_file_) {
    write_timeline(timeline_file_->file, *timeline_, context);
    timeline_file_->commit();
  }
  if (vcd_file_) {
    write_vcd(vcd_file_->file, *timeline_, context);
    vcd_file_->commit();
  }
  if (timeline_->truncated()) {
    std::cerr << "nmpsim: warning: the timeline holds its first " << hw::Timeline::kDefaultMaxSpans
              << " spans (and signal changes), up to cycle " << timeline_->truncated_at()
              << "; choose a window with --timeline-window A:B for the rest\n";
  }
}

}  // namespace nmp::sim
