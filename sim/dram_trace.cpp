#include "sim/dram_trace.hpp"

#include <cerrno>
#include <cstdlib>

#include "hw_models/dram.hpp"
#include "sim/energy_model.hpp"
#include "sim/input_limits.hpp"
#include "sim/text.hpp"

namespace nmp::sim {
namespace {

// Requests a trace may hold: each is a few dozen bytes in memory.
constexpr size_t kMaxTraceRequests = size_t{1} << 26;

std::vector<hw::Dram::TimedRequest> parse_trace(const std::string& text, const std::string& file,
                                                uint64_t capacity) {
  std::vector<hw::Dram::TimedRequest> requests;
  size_t line = 0, pos = 0;
  uint64_t last_cycle = 0;
  while (pos < text.size()) {
    ++line;
    const size_t end = std::min(text.find('\n', pos), text.size());
    const std::string row = text.substr(pos, end - pos);
    pos = end + 1;
    const std::vector<Word> words = split_words(row);
    if (words.empty()) continue;
    auto fail = [&](size_t column, const std::string& message) {
      throw ConfigError(file + ":" + std::to_string(line) + ":" + std::to_string(column), "",
                        message);
    };
    if (words.size() != 3) {
      fail(words.front().column,
           "expected 0xADDRESS READ|WRITE CYCLE, got " + std::to_string(words.size()) + " words");
    }
    auto number = [&](const Word& w, int base) {
      const std::string& s = w.text;
      const size_t skip = base == 16 ? 2 : 0;
      if (s.size() <= skip ||
          (base == 16 && s.compare(0, 2, "0x") != 0 && s.compare(0, 2, "0X") != 0) ||
          s.find_first_not_of(base == 16 ? "0123456789abcdefABCDEF" : "0123456789", skip) !=
              std::string::npos) {
        fail(w.column, base == 16 ? "expected a hex address (0x...), got '" + s + "'"
                                  : "expected a cycle (a non-negative integer), got '" + s + "'");
      }
      errno = 0;
      const uint64_t v = std::strtoull(s.c_str() + skip, nullptr, base);
      if (errno == ERANGE) fail(w.column, "'" + s + "' does not fit 64 bits");
      return v;
    };
    hw::Dram::TimedRequest r;
    r.address = number(words[0], 16);
    if (r.address >= capacity) {
      fail(words[0].column,
           "address " + words[0].text + " is beyond the memory's " + bytes_text(capacity));
    }
    if (words[1].text == "READ") {
      r.write = false;
    } else if (words[1].text == "WRITE") {
      r.write = true;
    } else {
      fail(words[1].column, "expected READ or WRITE, got '" + words[1].text + "'");
    }
    r.cycle = number(words[2], 10);
    if (r.cycle < last_cycle) {
      fail(words[2].column, "cycles must not decrease (the previous request's is " +
                                std::to_string(last_cycle) + ")");
    }
    last_cycle = r.cycle;
    if (requests.size() == kMaxTraceRequests) {
      fail(1, "more than " + std::to_string(kMaxTraceRequests) + " requests");
    }
    requests.push_back(r);
  }
  return requests;
}

}  // namespace

Json run_dram_trace(const HardwareConfig& hw, const std::string& trace_path) {
  const hw::DramParams& params = hw.params.dram;
  if (params.simple) {
    throw ConfigError(hw.file, "/dram/standard",
                      "nmpsim dram simulates a DRAM standard; the simple channel has no commands");
  }
  const std::string text = read_input_file(trace_path);
  hw::Dram dram(params, hw::ZeroPages(), params.device.capacity_bytes());
  const std::vector<hw::Dram::TimedRequest> requests =
      parse_trace(text, trace_path, dram.capacity_bytes());
  const double tck_ns = 1e6 / static_cast<double>(params.device.timing.clock_khz);
  const hw::Dram::Served served = dram.serve(requests);
  uint64_t cycles = 0, read_latency = 0, read_turnaround = 0, reads = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    cycles = std::max(cycles, served.done[i]);
    if (!requests[i].write) {
      read_latency += served.done[i] - served.admitted[i];
      read_turnaround += served.done[i] - requests[i].cycle;
      ++reads;
    }
  }
  auto mean_ns = [&](uint64_t total_cycles) {
    return reads ? static_cast<double>(total_cycles) / static_cast<double>(reads) * tck_ns : 0.0;
  };
  // Background and refresh up to the last request's end.
  dram.finish_dram(cycles, 0);
  const hw::DramStats& s = dram.stats_by_layer().front();
  const uint64_t bytes = s.read_bytes + s.write_bytes;
  const double time_ns = static_cast<double>(cycles) * tck_ns;
  const auto prices = dram_prices(params, {});
  Json energy = Json::object();
  double total = 0;
  auto add = [&](const char* component, const char* key, uint64_t count) {
    const double pj = prices.at(key).pj * static_cast<double>(count);
    energy[component] = pj;
    total += pj;
  };
  add("activate", "dram.act", s.act);
  add("read", "dram.rd", s.rd);
  add("write", "dram.wr", s.wr);
  add("refresh", "dram.ref", s.ref);
  add("active_standby", "dram.active_cycle", s.active_cycles);
  add("precharge_standby", "dram.precharged_cycle", s.precharged_cycles);
  add("io_read", "dram.read_byte", s.read_bytes);
  add("io_write", "dram.write_byte", s.write_bytes);
  energy["total"] = total;
  return {
      {"standard", params.device.standard},
      {"requests", requests.size()},
      {"cycles", cycles},
      {"time_ns", time_ns},
      {"bytes", bytes},
      {"bandwidth_gbps", time_ns > 0 ? static_cast<double>(bytes) / time_ns : 0.0},
      {"peak_bandwidth_gbps", params.device.peak_bytes_per_s() * 1e-9},
      {"avg_read_latency_ns", mean_ns(read_latency)},
      {"avg_read_turnaround_ns", mean_ns(read_turnaround)},
      {"row_hits", s.row_hits},
      {"row_misses", s.row_misses},
      {"row_conflicts", s.row_conflicts},
      {"commands", {{"act", s.act}, {"pre", s.pre}, {"rd", s.rd}, {"wr", s.wr}, {"ref", s.ref}}},
      {"energy_pj", energy},
      {"pj_per_bit", bytes ? total / (8.0 * static_cast<double>(bytes)) : 0.0},
      {"config", hw.resolved["dram"]}};
}

std::string dram_standards_markdown() {
  std::string table =
      "| standard | channels x bits, BL | banks x row | capacity | clock MHz | peak GB/s | "
      "CL-tRCD-tRP-tRAS | tRFC / tREFI | ACT+PRE pJ | RD pJ/bit | WR pJ/bit | I/O pJ/bit | "
      "active standby mW |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  std::string sources;
  for (const hw::DramDevice& d : hw::dram_presets()) {
    hw::DramParams params;
    params.simple = false;
    params.device = d;
    const auto prices = dram_prices(params, {});
    const hw::DramOrganization& o = d.org;
    const hw::DramTiming& t = d.timing;
    const double burst_bits = 8.0 * static_cast<double>(d.burst_bytes());
    const double tck_ns = 1e6 / static_cast<double>(t.clock_khz);
    table += format_text(
        "| %s | %u x %u, BL%u | %u x %llu B | %llu GiB | %.0f | %.1f | %u-%u-%u-%u | %u / %u "
        "(%.2f%%) | "
        "%.0f | %.2f | %.2f | %.2f | %.0f |\n",
        d.standard.c_str(), o.channels, o.bus_width_bits, o.burst_length,
        o.bank_groups * o.banks_per_group, static_cast<unsigned long long>(d.row_bytes()),
        static_cast<unsigned long long>(d.capacity_bytes() >> 30),
        static_cast<double>(t.clock_khz) / 1e3, d.peak_bytes_per_s() * 1e-9, t.cl, t.rcd_rd, t.rp,
        t.ras, t.rfc, t.refi, 100.0 * t.rfc / t.refi, prices.at("dram.act").pj,
        prices.at("dram.rd").pj / burst_bits, prices.at("dram.wr").pj / burst_bits,
        d.power.io_pj_per_bit, prices.at("dram.active_cycle").pj / tck_ns);
    sources += "- **" + d.standard + "**: timing: " + d.timing_source +
               "; currents: " + d.power.source + "; I/O: " + d.power.io_source + "\n";
  }
  return table +
         "\nPeak bandwidth and capacity of all channels; energies (the IDD method, "
         "docs/energy-model.md#dram) and standby power per rank of one channel.\n\n" +
         sources;
}

}  // namespace nmp::sim
