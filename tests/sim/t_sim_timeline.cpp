// run --timeline and exec --timeline: the Perfetto timeline's spans add up to the counters of
// the report, default and lockstep runs write the same file, and a window holds exactly the
// full timeline's spans clipped to it.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "../support.hpp"
#include "hw_models/controller.hpp"

using namespace nmp;
using sim::Json;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

uint64_t cycles_of(const Json& e) {
  return e["args"]["end_cycle"].get<uint64_t>() - e["args"]["begin_cycle"].get<uint64_t>();
}

// A counter of the report, 0 if its block has none (a unit the run never used reports none).
uint64_t counter(const Json& counters, const std::string& block, const std::string& name) {
  if (!counters.contains(block) || !counters[block].contains(name)) return 0;
  return counters[block][name].get<uint64_t>();
}

// The counters of a block (empty if it has none).
Json block_of(const Json& counters, const std::string& block) {
  return counters.contains(block) ? counters[block] : Json::object();
}

// Units' tracks (thread ids) and the report's blocks they show.
const std::map<int, std::string> kUnitBlocks = {
    {1, "controller"}, {2, "dma"}, {3, "mac_array"}, {4, "vector_unit"}};

// Checks every figure the timeline shares with the counters of the same run.
void check_against_counters(const Json& timeline, const Json& counters, uint64_t cycles) {
  const Json& events = timeline["traceEvents"];
  const Json& meta = timeline["otherData"];
  REQUIRE(meta["cycles"].get<uint64_t>() == cycles);
  REQUIRE_FALSE(meta["truncated"].get<bool>());
  const double ns_per_cycle = 1e3 / meta["clock_mhz"].get<double>();
  const uint64_t interval = meta["interval_cycles"].get<uint64_t>();
  std::map<std::string, uint64_t> sums;  // "block/what" -> cycles, or counts
  std::map<int, std::vector<std::pair<uint64_t, uint64_t>>> commands;  // per track
  uint64_t macs = 0, dram_bytes = 0, layer_cycles = 0;
  double counted_bytes = 0, counted_macs = 0;
  for (const Json& e : events) {
    const std::string ph = e["ph"].get<std::string>();
    if (ph == "C") {
      const uint64_t at = std::llround(e["ts"].get<double>() / ns_per_cycle * 1e3);
      const double bin = static_cast<double>(std::min(interval, cycles - at));
      if (e["name"] == "DRAM bandwidth")
        counted_bytes += e["args"]["GB/s"].get<double>() * bin * ns_per_cycle;
      if (e["name"] == "MAC utilization") counted_macs += e["args"]["%"].get<double>() / 100 * bin;
      continue;
    }
    if (ph != "X") continue;
    const int tid = e["tid"].get<int>();
    const std::string cat = e["cat"].get<std::string>();
    const std::string name = e["name"].get<std::string>();
    // ts and dur are the cycles in microseconds.
    REQUIRE(std::fabs(e["ts"].get<double>() * 1e3 -
                      e["args"]["begin_cycle"].get<double>() * ns_per_cycle) < 1e-3);
    if (cat == "layer") {
      layer_cycles += cycles_of(e);
    } else if (cat == "dram") {
      REQUIRE(tid >= 16);
      dram_bytes += e["args"]["bytes"].get<uint64_t>();
    } else if (tid == 1) {
      sums["controller/" + (cat == "issue"
                                ? std::string("busy_issue")
                                : "stall_" + name.substr(std::string("stall: ").size()))] +=
          cycles_of(e);
      sums["controller/all"] += cycles_of(e);
    } else if (cat == "command") {
      const std::string& block = kUnitBlocks.at(tid);
      sums[block + "/busy"] += cycles_of(e);
      sums[block + "/commands"] += 1;
      commands[tid].emplace_back(e["args"]["begin_cycle"].get<uint64_t>(),
                                 e["args"]["end_cycle"].get<uint64_t>());
      if (tid == 3) macs += e["args"]["macs"].get<uint64_t>();
    } else {
      REQUIRE(cat == "stall");
      const std::string& block = kUnitBlocks.at(tid);
      sums[block + "/stall_sram_" + e["args"]["sram"].get<std::string>()] += cycles_of(e);
      // Inside one of the unit's commands (they come first: sorted by start, longer first).
      const auto& c = commands[tid];
      REQUIRE_FALSE(c.empty());
      REQUIRE(c.back().first <= e["args"]["begin_cycle"].get<uint64_t>());
      REQUIRE(e["args"]["end_cycle"].get<uint64_t>() <= c.back().second);
    }
  }
  // Controller: every cycle is an issue or a stall for one reason.
  REQUIRE(sums["controller/all"] == cycles);
  const Json block_counters = block_of(counters, "controller");
  for (const auto& [name, value] : block_counters.items()) {
    if (name.rfind("stall_", 0) == 0 || name == "busy_issue")
      REQUIRE(sums["controller/" + name] == value.get<uint64_t>());
  }
  // Queued units: their commands' cycles are their busy and stall cycles.
  const std::map<std::string, std::string> issued = {
      {"dma", "issued_dma"}, {"mac_array", "issued_mac"}, {"vector_unit", "issued_vector"}};
  for (const auto& [block, issued_counter] : issued) {
    uint64_t busy = 0;
    const Json block_counters = block_of(counters, block);
    for (const auto& [name, value] : block_counters.items()) {
      if (name.rfind("busy_", 0) == 0 || name.rfind("stall_sram_", 0) == 0)
        busy += value.get<uint64_t>();
      if (name.rfind("stall_sram_", 0) == 0)
        REQUIRE(sums[block + "/" + name] == value.get<uint64_t>());
    }
    REQUIRE(sums[block + "/busy"] == busy);
    REQUIRE(sums[block + "/commands"] == counter(counters, "controller", issued_counter));
  }
  REQUIRE(macs == counter(counters, "mac_array", "macs"));
  REQUIRE(dram_bytes ==
          counter(counters, "dram", "read_bytes") + counter(counters, "dram", "write_bytes"));
  REQUIRE(std::fabs(counted_bytes - static_cast<double>(dram_bytes)) <= 1e-5 * dram_bytes);
  const double pes = meta["pes"].get<double>();
  REQUIRE(macs > 0);
  REQUIRE(std::fabs(counted_macs * pes - static_cast<double>(macs)) <= 1e-5 * macs);
  if (layer_cycles > 0) REQUIRE(layer_cycles == cycles);
}

// A VCD read back: per signal ("scope.name"), its values over time as (ps, value).
struct Waveform {
  std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> values;
  uint64_t end_ps = 0;
};

Waveform read_vcd(const std::string& path) {
  std::ifstream in(path);
  Waveform w;
  std::map<std::string, std::string> names;  // identifier -> scope.name
  std::vector<std::string> scope;
  uint64_t now = 0;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string first;
    words >> first;
    if (first == "$scope") {
      std::string kind, name;
      words >> kind >> name;
      scope.push_back(name);
    } else if (first == "$upscope") {
      scope.pop_back();
    } else if (first == "$var") {
      std::string kind, width, id, name;
      words >> kind >> width >> id >> name;
      std::string full;
      for (size_t i = 1; i < scope.size(); ++i) full += scope[i] + ".";
      names[id] = full + name;
    } else if (!first.empty() && first[0] == '#') {
      now = std::stoull(first.substr(1));
      w.end_ps = now;
    } else if (!first.empty() && first[0] == 'b') {
      std::string id;
      words >> id;
      REQUIRE(names.count(id) == 1);
      w.values[names.at(id)].emplace_back(now, std::stoull(first.substr(1), nullptr, 2));
    }
  }
  return w;
}

// Cycles a signal holds each value until the end.
std::map<uint64_t, uint64_t> durations(const Waveform& w, const std::string& signal,
                                       uint64_t ps_per_cycle) {
  std::map<uint64_t, uint64_t> out;
  const auto& v = w.values.at(signal);
  for (size_t i = 0; i < v.size(); ++i) {
    const uint64_t until = i + 1 < v.size() ? v[i + 1].first : w.end_ps;
    out[v[i].second] += (until - v[i].first) / ps_per_cycle;
  }
  return out;
}

// Checks the waveform's states against the counters of the same run (1 GHz: 1000 ps a cycle).
void check_waveform(const Waveform& w, const Json& counters, uint64_t cycles) {
  REQUIRE(w.end_ps == cycles * 1000);
  const std::map<uint64_t, uint64_t> controller = durations(w, "controller.state", 1000);
  uint64_t all = 0;
  for (const auto& [state, n] : controller) {
    if (state == static_cast<uint64_t>(hw::IssueStall::kCount)) {  // halted: from the end on
      REQUIRE(n == 0);
      continue;
    }
    const std::string name = hw::to_string(static_cast<hw::IssueStall>(state));
    REQUIRE(counter(counters, "controller", state == 0 ? "busy_issue" : "stall_" + name) == n);
    all += n;
  }
  REQUIRE(all == cycles);
  const std::array<std::string, 3> srams = {"wsram", "asram", "acc"};
  for (const char* unit : {"dma", "mac_array", "vector_unit"}) {
    uint64_t busy = 0, counted = 0;
    const Json block_counters = block_of(counters, unit);
    for (const auto& [name, value] : block_counters.items()) {
      if (name.rfind("busy_", 0) == 0 || name.rfind("stall_sram_", 0) == 0)
        busy += value.get<uint64_t>();
    }
    for (const auto& [state, n] : durations(w, std::string(unit) + ".state", 1000)) {
      if (state >= 2) REQUIRE(counter(counters, unit, "stall_sram_" + srams.at(state - 2)) == n);
      if (state >= 1) counted += n;
    }
    REQUIRE(counted == busy);
  }
  // A unit streams through SRAM ports only inside its commands, and stalls on an SRAM only while
  // it streams through one of its ports.
  for (const char* unit : {"dma", "mac_array", "vector_unit"}) {
    const auto& ports = w.values.at(std::string(unit) + ".sram_ports");
    const auto& state = w.values.at(std::string(unit) + ".state");
    std::set<uint64_t> times;
    for (const auto& v : ports) times.insert(v.first);
    for (const auto& v : state) times.insert(v.first);
    // Both signals' values at each change of either, walking both in time order.
    size_t next_port = 0, next_state = 0;
    uint64_t mask = 0, unit_state = 0;
    std::array<uint64_t, 3> held{};
    uint64_t idle_holding = 0;
    for (auto it = times.begin(); it != times.end(); ++it) {
      for (; next_port < ports.size() && ports[next_port].first <= *it; ++next_port)
        mask = ports[next_port].second;
      for (; next_state < state.size() && state[next_state].first <= *it; ++next_state)
        unit_state = state[next_state].second;
      const uint64_t until = std::next(it) == times.end() ? w.end_ps : *std::next(it);
      const uint64_t cycles_here = (until - *it) / 1000;
      if (mask != 0 && unit_state == 0) idle_holding += cycles_here;
      for (size_t s = 0; s < 3; ++s) held[s] += ((mask >> (2 * s)) & 3) ? cycles_here : 0;
    }
    REQUIRE(idle_holding == 0);
    for (size_t s = 0; s < 3; ++s)
      REQUIRE(counter(counters, unit, "stall_sram_" + srams[s]) <= held[s]);
    REQUIRE((held[0] + held[1] + held[2] > 0) == counters.contains(unit));
  }
  // Every ACT opens a bank; every refresh sets each bank of its rank refreshing.
  uint64_t opened = 0, refreshing = 0, banks = 0;
  for (const auto& [signal, values] : w.values) {
    if (signal.rfind("dram.", 0) != 0 || signal.size() < 6 ||
        signal.compare(signal.size() - 6, 6, ".state") != 0) {
      continue;
    }
    ++banks;
    for (size_t i = 1; i < values.size(); ++i) {
      opened += values[i].second == 1 && values[i - 1].second != 1;
      refreshing += values[i].second == 2 && values[i - 1].second != 2;
    }
  }
  REQUIRE(banks > 0);
  REQUIRE(opened == counter(counters, "dram", "act"));
  REQUIRE(opened > 0);
  // One rank per channel in these configs: a refresh sets every bank of the channel.
  std::set<std::string> channels;
  for (const auto& [signal, values] : w.values) {
    if (signal.rfind("dram.", 0) == 0) channels.insert(signal.substr(0, signal.find('.', 5)));
  }
  REQUIRE(refreshing == counter(counters, "dram", "ref") * (banks / channels.size()));
}

// The X events as (tid, name, begin, end), clipped to [a, b).
std::multiset<std::tuple<int, std::string, uint64_t, uint64_t>> spans(const Json& timeline,
                                                                      uint64_t a, uint64_t b) {
  std::multiset<std::tuple<int, std::string, uint64_t, uint64_t>> out;
  for (const Json& e : timeline["traceEvents"]) {
    if (e["ph"] != "X") continue;
    const uint64_t begin = std::max(a, e["args"]["begin_cycle"].get<uint64_t>());
    const uint64_t end = std::min(b, e["args"]["end_cycle"].get<uint64_t>());
    if (begin < end) out.emplace(e["tid"].get<int>(), e["name"].get<std::string>(), begin, end);
  }
  return out;
}

// Runs `run` with a timeline in both modes; checks they write the same file and that it adds up
// to the report's counters; returns the timeline and the report.
std::pair<Json, Json> run_timeline(const std::string& run, const std::string& base) {
  REQUIRE(std::system((run + " --out " + base + ".json --timeline " + base + ".tl.json --vcd " +
                       base + ".vcd")
                          .c_str()) == 0);
  REQUIRE(std::system(
              (run + " --lockstep --timeline " + base + ".lock.json --vcd " + base + ".lock.vcd")
                  .c_str()) == 0);
  const std::string file = read_all(base + ".tl.json");
  REQUIRE(file == read_all(base + ".lock.json"));  // byte for byte
  REQUIRE(read_all(base + ".vcd") == read_all(base + ".lock.vcd"));
  Json report = sim::parse_json_file(base + ".json");
  Json timeline = Json::parse(file);
  const uint64_t cycles = report["cycles"]["total"].get<uint64_t>();
  check_against_counters(timeline, report["counters"], cycles);
  check_waveform(read_vcd(base + ".vcd"), report["counters"], cycles);
  for (const char* ext : {".json", ".tl.json", ".lock.json", ".vcd", ".lock.vcd"})
    std::filesystem::remove(base + ext);
  return {timeline, report};
}

}  // namespace

TEST_CASE("run --timeline: spans add up to the counters, in both modes, and windows clip them",
          "[sim]") {
  const std::string base = std::filesystem::temp_directory_path().string() + "/nmpsim-timeline-" +
                           std::to_string(getpid());
  const std::string hw = test::source_path("configs/hw/default.json");
  // The shipped ternary GEMV: the MAC array waits for weight SRAM ports the DMA holds.
  const auto [gemv, gemv_report] =
      run_timeline(std::string(NMPSIM_BINARY) + " run --hw " + hw + " --workload " +
                       test::source_path("configs/workloads/default.json") + " --timing-only -q",
                   base);
  REQUIRE(gemv_report["counters"]["mac_array"]["stall_sram_wsram"].get<uint64_t>() > 0);

  const Json workload = Json::parse(R"({
    "name": "timeline", "tokens": 6,
    "layers": [
      {"type": "rmsnorm", "name": "norm", "inputs": ["input"], "in_features": 96},
      {"type": "linear", "format": "fp16", "name": "up", "in_features": 96, "out_features": 320},
      {"type": "activation", "name": "act", "function": "silu"},
      {"type": "linear", "format": "fp16", "name": "down", "in_features": 320,
       "out_features": 64}]})");
  std::ofstream(base + ".wl.json") << workload.dump();
  const std::string run = std::string(NMPSIM_BINARY) + " run --hw " + hw + " --workload " + base +
                          ".wl.json --set hw.mac_array.pe=fp16 --set hw.dram.channels=2 " +
                          "--set hw.dram.page_policy=closed " +
                          "--timing-only -q --timeline-interval 500";
  const auto [timeline, report] = run_timeline(run, base);
  const uint64_t cycles = report["cycles"]["total"].get<uint64_t>();
  // Both DRAM channels, the layers and every unit appear.
  std::set<int> tids;
  for (const Json& e : timeline["traceEvents"]) {
    if (e["ph"] == "X") tids.insert(e["tid"].get<int>());
  }
  REQUIRE(tids == std::set<int>{1, 2, 3, 4, 5, 16, 17});
  // A window: the same spans, clipped; counter samples from its start, equal to the full run's
  // where the bins coincide.
  const uint64_t a = cycles / 3 / 500 * 500, b = 2 * cycles / 3;
  REQUIRE(std::system((run + " --timeline " + base + ".win.json --timeline-window " +
                       std::to_string(a) + ":" + std::to_string(b))
                          .c_str()) == 0);
  const Json window = sim::parse_json_file(base + ".win.json");
  REQUIRE(window["otherData"]["window_begin_cycle"] == a);
  REQUIRE(spans(window, 0, cycles) == spans(timeline, a, b));
  REQUIRE(spans(window, 0, cycles).size() > 10);
  // Port counters change at events: the window's value at any time is the full run's latest.
  std::map<std::pair<std::string, double>, Json> full_samples;
  for (const Json& e : timeline["traceEvents"]) {
    if (e["ph"] == "C") full_samples[{e["name"], e["ts"]}] = e["args"];
  }
  auto full_at = [&](const std::string& name, double ts) {
    Json latest;
    for (const auto& [key, args] : full_samples) {
      if (key.first == name && key.second <= ts) latest = args;
    }
    return latest;
  };
  size_t samples = 0, port_samples = 0;
  for (const Json& e : window["traceEvents"]) {
    if (e["ph"] != "C") continue;
    const double ts = e["ts"].get<double>();
    const std::string name = e["name"];
    REQUIRE(ts * 1e3 >= static_cast<double>(a) - 1e-6);
    REQUIRE(ts * 1e3 <= static_cast<double>(b));
    if (name.find("ports in use") != std::string::npos) {
      REQUIRE(full_at(name, ts) == e["args"]);
      ++port_samples;
      continue;
    }
    REQUIRE(ts * 1e3 < static_cast<double>(b));
    if (ts * 1e3 + 500 <= static_cast<double>(b)) {
      REQUIRE(full_samples.at({name, ts}) == e["args"]);
    }
    ++samples;
  }
  REQUIRE(samples == 2 * ((b - a + 499) / 500));
  REQUIRE(port_samples >= 3);  // each SRAM's value at the window's start, at least
  for (const char* ext : {".wl.json", ".win.json"}) std::filesystem::remove(base + ext);
}

TEST_CASE("exec --timeline: a program's spans add up to its counters, in both modes", "[sim]") {
  const std::string base = std::filesystem::temp_directory_path().string() +
                           "/nmpsim-timeline-exec-" + std::to_string(getpid());
  std::ofstream(base + ".s") << R"(
        li r1, 0
        li r2, 0
        li r3, 65536
        li r4, 4
loop:   dma.load space=asram, sram=r1, dram=r2, rows=8, row_bytes=512, sram_stride=512, dram_stride=512
        dma.load space=wsram, sram=r1, dram=r3, rows=16, row_bytes=1024, sram_stride=1024, dram_stride=1024
        gemm act=r1, wgt=r1, acc=r1, m=8, n=32, k=256, act_stride=256, acc_stride=128, mode=overwrite
        dma.store space=acc, sram=r1, dram=r3, rows=8, row_bytes=128, sram_stride=128, dram_stride=128
        dbnz r4, loop
        halt
)";
  const std::string exec = std::string(NMPSIM_BINARY) + " exec --hw " +
                           test::source_path("configs/hw/default.json") + " " + base +
                           ".s --timeline-interval 100";
  REQUIRE(std::system(
              (exec + " --timeline " + base + ".tl.json --vcd " + base + ".vcd > " + base + ".json")
                  .c_str()) == 0);
  REQUIRE(std::system(
              (exec + " --lockstep --timeline " + base + ".lock.json > /dev/null").c_str()) == 0);
  const std::string file = read_all(base + ".tl.json");
  REQUIRE(file == read_all(base + ".lock.json"));
  const Json result = sim::parse_json_file(base + ".json");
  check_against_counters(Json::parse(file), result["counters"], result["cycles"].get<uint64_t>());
  check_waveform(read_vcd(base + ".vcd"), result["counters"], result["cycles"].get<uint64_t>());
  for (const char* ext : {".s", ".json", ".tl.json", ".lock.json", ".vcd"})
    std::filesystem::remove(base + ext);
}

TEST_CASE("a timeline window past the run's end is refused, leaving no file behind", "[sim]") {
  const std::string base = std::filesystem::temp_directory_path().string() +
                           "/nmpsim-timeline-late-" + std::to_string(getpid());
  const std::string run = std::string(NMPSIM_BINARY) + " run --hw " +
                          test::source_path("configs/hw/default.json") + " --workload " +
                          test::source_path("configs/workloads/default.json") +
                          " --timing-only -q --timeline " + base + ".json --vcd " + base +
                          ".vcd --timeline-window 100000000: 2> /dev/null";
  const int status = std::system(run.c_str());
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 2);
  for (const char* ext : {".json", ".vcd", ".json.partial", ".vcd.partial"})
    REQUIRE_FALSE(std::filesystem::exists(base + ext));
}

TEST_CASE("outputs to a pipe or device are written into it, not renamed over it", "[sim]") {
  const std::string dir =
      std::filesystem::temp_directory_path().string() + "/nmpsim-fifo-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  const std::string report = dir + "/report", timeline = dir + "/timeline";
  for (const std::string& fifo : {report, timeline}) REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  // Readers drain both pipes while the run writes them (the report after the timeline).
  const std::string run = std::string(NMPSIM_BINARY) + " run --hw " +
                          test::source_path("configs/hw/default.json") + " --workload " +
                          test::source_path("configs/workloads/default.json") +
                          " --timing-only -q --out " + report + " --timeline " + timeline;
  REQUIRE(std::system(("cat " + report + " > " + dir + "/report.got & cat " + timeline + " > " +
                       dir + "/timeline.got & " + run + "; status=$?; wait; exit $status")
                          .c_str()) == 0);
  for (const std::string& fifo : {report, timeline})
    REQUIRE(std::filesystem::is_fifo(std::filesystem::status(fifo)));
  REQUIRE(sim::parse_json_file(dir + "/report.got")["cycles"]["total"].get<uint64_t>() > 0);
  REQUIRE(Json::parse(read_all(dir + "/timeline.got")).contains("traceEvents"));
  REQUIRE_FALSE(std::filesystem::exists(report + ".partial"));
  std::filesystem::remove_all(dir);
}
