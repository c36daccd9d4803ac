// The per-cycle occupancy trace: what it shows adds up to what the array computed.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "../support.hpp"
#include "workloads/program_builder.hpp"

using namespace nmp;
using sim::Json;

namespace {

struct TraceLine {
  uint64_t cycle = 0;
  std::string state;
  uint64_t active = 0;
};

std::vector<TraceLine> read_trace(const std::string& path, uint64_t& picture_rows) {
  std::ifstream in(path);
  std::vector<TraceLine> lines;
  std::string line;
  picture_rows = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::vector<std::string> tokens;
    for (std::string t; fields >> t;) tokens.push_back(t);
    if (tokens.size() == 1 && tokens[0].find_first_not_of("#.") == std::string::npos) {
      ++picture_rows;
      continue;
    }
    REQUIRE(tokens.size() >= 4);
    TraceLine t;
    t.cycle = std::stoull(tokens[0]);
    t.state = tokens[1];
    t.active = std::stoull(tokens[tokens.size() - 2]);
    lines.push_back(t);
  }
  return lines;
}

}  // namespace

TEST_CASE("the occupancy trace accounts for every MAC, cycle by cycle", "[sim]") {
  struct Case {
    std::string dataflow;
    uint32_t rows, cols, m, n, k;
  };
  const Case c =
      GENERATE(Case{"adder_tree", 4, 4, 3, 4, 4}, Case{"adder_tree", 5, 3, 2, 7, 11},
               Case{"weight_stationary", 4, 4, 3, 4, 4}, Case{"weight_stationary", 5, 3, 2, 7, 11},
               Case{"output_stationary", 4, 6, 5, 9, 7}, Case{"input_stationary", 3, 5, 6, 4, 8},
               Case{"weight_stationary", 32, 32, 1, 40, 70});
  hw::NmpParams p = sim::load_hardware(test::source_path("configs/hw/default.json"),
                                       sim::parse_set_options({
                                           "hw.mac_array.dataflow=" + c.dataflow,
                                           "hw.mac_array.rows=" + std::to_string(c.rows),
                                           "hw.mac_array.cols=" + std::to_string(c.cols),
                                       }))
                        .params;
  p.lockstep = true;
  workloads::ProgramBuilder b;
  b.li(1, 0);
  b.li(2, 0);
  b.li(3, 0);
  b.gemm(1, 2, 3, c.m, c.n, c.k, c.k, uint64_t{4} * c.n, isa::AccMode::kOverwrite);
  b.halt();
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("nmpsim_trace_" + std::to_string(::getpid()) + ".txt"))
                               .string();
  const isa::Program program = b.program();
  sim::RunOptions options;
  options.trace_path = path;
  const Json r = sim::run_in_child([&] { return sim::run_program(p, program, 64, {}, options); });
  uint64_t picture_rows = 0;
  const std::vector<TraceLine> lines = read_trace(path, picture_rows);
  std::filesystem::remove(path);
  INFO(c.dataflow << " " << c.rows << "x" << c.cols << " m " << c.m << " n " << c.n << " k "
                  << c.k);
  REQUIRE(lines.size() == r["cycles"].get<uint64_t>());
  uint64_t active = 0, compute_cycles = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    REQUIRE(lines[i].cycle == i);
    REQUIRE(lines[i].active <= uint64_t{c.rows} * c.cols);
    active += lines[i].active;
    compute_cycles += lines[i].state.rfind("compute", 0) == 0;
  }
  // Every MAC happens in exactly one traced cycle, at one PE.
  REQUIRE(active == uint64_t{c.m} * c.n * c.k);
  REQUIRE(active == r["counters"]["mac_array"]["macs"].get<uint64_t>());
  REQUIRE(compute_cycles == r["counters"]["mac_array"]["busy_compute"].get<uint64_t>());
  // Small arrays get a picture of every computing cycle, one text row per PE row.
  const bool pictures = c.rows <= 16 && c.cols <= 64;
  REQUIRE(picture_rows == (pictures ? compute_cycles * c.rows : 0));
}

TEST_CASE("run --trace writes one line per cycle of a workload, as README says", "[sim]") {
  // The command line, as a user runs it: --trace turns lockstep on and writes the trace.
  const std::string dir = std::filesystem::temp_directory_path().string();
  const std::string trace = dir + "/nmpsim-run-trace-" + std::to_string(getpid()) + ".txt";
  const std::string report = trace + ".json";
  const std::string workload = dir + "/nmpsim-run-trace-" + std::to_string(getpid()) + ".wl.json";
  std::ofstream(workload) << test::bitlinear_workload(2, {{64, 48}}).dump();
  const std::string cmd = std::string(NMPSIM_BINARY) + " run --hw " +
                          test::source_path("configs/hw/default.json") + " --workload " + workload +
                          " --trace " + trace + " --out " + report + " -q";
  REQUIRE(std::system(cmd.c_str()) == 0);
  uint64_t pictures = 0;
  const std::vector<TraceLine> lines = read_trace(trace, pictures);
  const Json r = sim::parse_json_file(report);
  REQUIRE(lines.size() == r["cycles"]["total"].get<uint64_t>());
  REQUIRE(r["config"]["run"]["mode"] == "lockstep");
  uint64_t active = 0;
  for (const TraceLine& l : lines) active += l.active;
  REQUIRE(active == r["counters"]["mac_array"]["macs"].get<uint64_t>());
  for (const std::string& f : {trace, report, workload}) std::filesystem::remove(f);
}
