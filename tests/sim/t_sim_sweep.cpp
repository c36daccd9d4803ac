// Sweep points, failure handling and the Pareto front.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <sqlite3.h>
#include <unistd.h>

#include "../support.hpp"
#include "sim/sweep.hpp"

using namespace nmp;
using sim::Json;

namespace {

std::string temp(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("nmpsim_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

std::string write_spec(const Json& spec) {
  const std::string path = temp("spec.json");
  std::ofstream(path) << spec.dump();
  return path;
}

// A stored figure of every point of a sweep's database, by point.
std::vector<double> stored(const std::string& db_path, const std::string& column) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  const std::string sql = "SELECT " + column + " FROM points ORDER BY point";
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &q, nullptr) == SQLITE_OK);
  std::vector<double> values;
  while (sqlite3_step(q) == SQLITE_ROW) values.push_back(sqlite3_column_double(q, 0));
  sqlite3_finalize(q);
  sqlite3_close(db);
  return values;
}

void remove_db(const std::string& db) {
  for (const std::string& f : {db, db + "-wal", db + "-shm", temp("spec.json")})
    std::filesystem::remove(f);
}

// Four points of a GEMM on configs/hw/default.json (a DDR4 standard), timing-only.
Json four_points() {
  return {{"name", "four"},
          {"hw", test::source_path("configs/hw/default.json")},
          {"workload", test::source_path("configs/workloads/bench/gemm_64x256x256_posit8.json")},
          {"timing_only", true},
          {"grid",
           {{"hw.mac_array.rows", {16, 32}},
            {"hw.mac_array.pe", {"posit8_0"}},
            {"hw.act_sram.capacity_kib", {128, 256}}}}};
}

// Runs a sweep of four points twice: as given, and with `key` swept over its file's own value
// (which makes every point read or measure again what the sweep otherwise does once, before
// the points fork). Every point's cycles, energy and area must be the same. Returns the first
// run's database, which the caller removes.
std::string require_same_points_with(Json spec, const std::string& key, const Json& value,
                                     bool analytical) {
  std::string once = temp("once.sqlite");
  const std::string each = temp("each.sqlite");
  remove_db(once);
  remove_db(each);
  sim::SweepOptions opt;
  opt.progress = false;
  opt.analytical = analytical;
  opt.db_path = once;
  REQUIRE(sim::run_sweep(sim::load_sweep_spec(write_spec(spec)), opt).done == 4);
  spec["grid"][key] = {value};
  opt.db_path = each;
  REQUIRE(sim::run_sweep(sim::load_sweep_spec(write_spec(spec)), opt).done == 4);
  for (const char* figure : {"cycles", "energy_pj", "area_um2"}) {
    INFO(figure);
    const std::vector<double> a = stored(once, figure), b = stored(each, figure);
    REQUIRE(a.size() == 4);
    REQUIRE(a == b);
  }
  remove_db(each);
  return once;
}

}  // namespace

TEST_CASE("sweep points are the grid times the samples, the same every time", "[sim]") {
  const Json spec = {{"name", "p"},
                     {"hw", test::source_path("configs/hw/default.json")},
                     {"workload", test::source_path("configs/workloads/default.json")},
                     {"grid",
                      {{"hw.mac_array.rows", {8, 16, 32}},
                       {"hw.mac_array.dataflow", {"adder_tree", "weight_stationary"}}}},
                     {"random",
                      {{"samples", 4},
                       {"seed", 3},
                       {"fields",
                        {{"hw.dram.bytes_per_cycle", {{"min", 8}, {"max", 64}, {"integer", true}}},
                         {"hw.mac_array.pe", {{"choices", {"int8_int8", "fp16"}}}}}}}}};
  const sim::SweepSpec s = sim::load_sweep_spec(write_spec(spec));
  const auto points = sim::sweep_points(s);
  REQUIRE(points.size() == 3 * 2 * 4);
  REQUIRE(points == sim::sweep_points(s));
  // Sorted keys, the last varying fastest; each grid point meets every sample.
  REQUIRE(points[0].sets[0] == "hw.mac_array.dataflow=adder_tree");
  REQUIRE(points[0].sets[1] == "hw.mac_array.rows=8");
  REQUIRE(points[4].sets[1] == "hw.mac_array.rows=16");
  REQUIRE(points[0].sets[2] == points[4].sets[2]);
  for (const auto& p : points) {
    const int bw = std::stoi(p.sets[2].substr(p.sets[2].find('=') + 1));
    REQUIRE(bw >= 8);
    REQUIRE(bw <= 64);
  }
  std::filesystem::remove(temp("spec.json"));
}

TEST_CASE("a failing point is recorded with its error and the sweep goes on", "[sim]") {
  const Json spec = {
      {"name", "f"},
      {"hw", test::source_path("configs/hw/default.json")},
      {"workload", test::source_path("configs/workloads/bench/gemm_256x768x768_ternary.json")},
      {"timing_only", true},
      {"grid", {{"hw.weight_sram.capacity_kib", {1, 512}}}}};
  const std::string db = temp("f.sqlite");
  std::filesystem::remove(db);
  const sim::SweepSpec s = sim::load_sweep_spec(write_spec(spec));
  sim::SweepOptions opt;
  opt.db_path = db;
  opt.progress = false;
  const sim::SweepSummary sum = sim::run_sweep(s, opt);
  REQUIRE(sum.points == 2);
  REQUIRE(sum.failed == 1);  // 1 KiB cannot hold one 64 x 64 tile
  REQUIRE(sum.done == 1);
  const std::string csv = temp("f.csv");
  sim::export_csv(db, csv);
  std::ifstream in(csv);
  std::string header, row0, row1;
  std::getline(in, header);
  std::getline(in, row0);
  std::getline(in, row1);
  REQUIRE(row0.find(",failed,") != std::string::npos);
  REQUIRE(row0.find("weight_sram/capacity_kib") != std::string::npos);
  REQUIRE(row1.find(",ok,") != std::string::npos);
  // The one ok point is its own Pareto front.
  REQUIRE(sim::pareto_front(db, "f").points.size() == 1);
  for (const std::string& f : {db, csv, temp("spec.json")}) std::filesystem::remove(f);
  std::filesystem::remove(db + "-wal");
  std::filesystem::remove(db + "-shm");
}

TEST_CASE("an analytical sweep's workers run point after point as each would run alone", "[sim]") {
  // An analytical point elaborates no SystemC, so a worker process runs many: each point's
  // stored report must be the bytes of the same point run in a process of its own (nothing a
  // point leaves behind reaches the next), and a failing point (half of 1 KiB of weight SRAM
  // cannot hold a 64 x 64 ternary tile) is recorded while its worker goes on with the others.
  // Two workers.
  const Json spec = {
      {"name", "w"},
      {"hw", test::source_path("configs/hw/default.json")},
      {"workload", test::source_path("configs/workloads/bench/gemm_256x768x768_ternary.json")},
      {"grid",
       {{"hw.weight_sram.capacity_kib", {1, 64, 512}},
        {"hw.act_sram.capacity_kib", {64, 256}},
        {"hw.mac_array.rows", {16, 64}}}}};
  const std::string db = temp("w.sqlite");
  remove_db(db);
  const sim::SweepSpec s = sim::load_sweep_spec(write_spec(spec));
  sim::SweepOptions opt;
  opt.db_path = db;
  opt.progress = false;
  opt.analytical = true;
  opt.jobs = 2;
  const sim::SweepSummary sum = sim::run_sweep(s, opt);
  REQUIRE(sum.points == 12);
  REQUIRE(sum.failed == 2);
  REQUIRE(sum.done == 10);
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &handle) == SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  REQUIRE(sqlite3_prepare_v2(handle, "SELECT point, status, report FROM points ORDER BY point", -1,
                             &q, nullptr) == SQLITE_OK);
  const std::vector<sim::SweepPoint> points = sim::sweep_points(s);
  int compared = 0;
  while (sqlite3_step(q) == SQLITE_ROW) {
    const auto index = static_cast<size_t>(sqlite3_column_int64(q, 0));
    const std::string status = reinterpret_cast<const char*>(sqlite3_column_text(q, 1));
    INFO("point " << index << " " << status);
    const std::vector<std::string>& sets = points[index].sets;
    const auto has = [&](const char* set) {
      return std::find(sets.begin(), sets.end(), set) != sets.end();
    };
    REQUIRE((status == "failed") ==
            (has("hw.weight_sram.capacity_kib=1") && has("hw.mac_array.rows=64")));
    if (status != "ok") continue;
    sim::SimInputs in;
    in.hw_path = s.hw_path;
    in.workload_path = s.workload_path;
    in.sets = points[index].sets;
    in.options.analytical = true;
    const Json alone =
        sim::run_in_child([&] { return sim::run_simulation(sim::load_sim_config(in)); });
    REQUIRE(reinterpret_cast<const char*>(sqlite3_column_text(q, 2)) == alone.dump());
    ++compared;
  }
  sqlite3_finalize(q);
  sqlite3_close(handle);
  REQUIRE(compared == 10);
  remove_db(db);
}

TEST_CASE("a timing-only sweep runs whole library models without their values", "[sim]") {
  // BitNet b1.58 2B4T's whole-model decode: 2.1 billion weights it never generates.
  const Json spec = {
      {"name", "m"},
      {"hw", test::source_path("configs/hw/llm_64x64.json")},
      {"workload", test::source_path("workloads/models/bitnet_b158_2b4t_decode.json")},
      {"timing_only", true},
      {"grid", {{"hw.dram.channels", {4, 8}}, {"hw.mac_array.pe", {"int8_int8"}}}}};
  const std::string db = temp("m.sqlite");
  std::filesystem::remove(db);
  sim::SweepOptions opt;
  opt.db_path = db;
  opt.progress = false;
  const sim::SweepSummary sum = sim::run_sweep(sim::load_sweep_spec(write_spec(spec)), opt);
  REQUIRE(sum.done == 2);
  REQUIRE(sum.failed == 0);
  for (const std::string& f : {db, db + "-wal", db + "-shm", temp("spec.json")})
    std::filesystem::remove(f);
}

TEST_CASE("bad sweep specs are errors with the JSON path", "[sim]") {
  const std::string path = write_spec({{"name", "x"},
                                       {"hw", "a"},
                                       {"workload", "b"},
                                       {"grid", {{"hw.mac_array.rows", Json::array()}}}});
  try {
    sim::load_sweep_spec(path);
    FAIL("accepted an empty grid axis");
  } catch (const sim::ConfigError& e) {
    REQUIRE(e.issues().front().pointer == "/grid/hw.mac_array.rows");
  }
  std::filesystem::remove(path);
}

TEST_CASE("zip groups vary their fields together, after the grid's axes", "[sim]") {
  const Json spec = {{"name", "z"},
                     {"hw", test::source_path("configs/hw/default.json")},
                     {"workload", test::source_path("configs/workloads/default.json")},
                     {"grid", {{"hw.mac_array.rows", {8, 16}}}},
                     {"zip",
                      {{{"hw.mac_array.pe", {"int8_int8", "fp16", "bf16"}},
                        {"workload.layers.0.format", {"int8", "fp16", "bf16"}}},
                       {{"hw.dram.channels", {1, 2}}, {"hw.dram.queue_depth", {16, 64}}}}}};
  const auto points = sim::sweep_points(sim::load_sweep_spec(write_spec(spec)));
  REQUIRE(points.size() == 2 * 3 * 2);
  for (size_t i = 0; i < points.size(); ++i) {
    const auto& sets = points[i].sets;
    REQUIRE(sets.size() == 5);
    // The grid's key, then each group's fields (sorted), the second group fastest.
    REQUIRE(sets[0] == std::string("hw.mac_array.rows=") + (i < 6 ? "8" : "16"));
    const size_t pair = i / 2 % 3;
    const char* kinds[] = {"int8_int8", "fp16", "bf16"};
    const char* formats[] = {"int8", "fp16", "bf16"};
    REQUIRE(sets[1] == std::string("hw.mac_array.pe=") + kinds[pair]);
    REQUIRE(sets[2] == std::string("workload.layers.0.format=") + formats[pair]);
    REQUIRE(sets[3] == std::string("hw.dram.channels=") + (i % 2 ? "2" : "1"));
    REQUIRE(sets[4] == std::string("hw.dram.queue_depth=") + (i % 2 ? "64" : "16"));
  }
  std::filesystem::remove(temp("spec.json"));
}

TEST_CASE("the Pareto front is chosen among the points that meet the constraints", "[sim]") {
  Json spec = {{"name", "c"},
               {"hw", test::source_path("configs/hw/default.json")},
               {"workload", test::source_path("configs/workloads/default.json")},
               {"timing_only", true},
               {"grid", {{"hw.mac_array.rows", {16, 32, 64}}, {"hw.mac_array.cols", {16, 64}}}}};
  const std::string db = temp("c.sqlite");
  std::filesystem::remove(db);
  sim::SweepOptions opt;
  opt.db_path = db;
  opt.progress = false;
  const sim::SweepSummary sum = sim::run_sweep(sim::load_sweep_spec(write_spec(spec)), opt);
  REQUIRE(sum.done == 6);
  const sim::ParetoFront unconstrained = sim::pareto_front(db, "c");
  REQUIRE(unconstrained.ok == 6);
  REQUIRE(unconstrained.feasible == 6);
  // A bound every point meets changes nothing.
  const sim::ParetoFront loose = sim::pareto_front(db, "c", {{"area_um2.total", {{"min", 0}}}});
  REQUIRE(loose.feasible == 6);
  REQUIRE(loose.points.size() == unconstrained.points.size());
  // Area at most halfway between the front's smallest and largest, and a throughput bound:
  // the front holds only points that meet both.
  double largest = 0, smallest = 1e300;
  for (const auto& p : unconstrained.points) {
    largest = std::max(largest, p.area_um2);
    smallest = std::min(smallest, p.area_um2);
  }
  REQUIRE(smallest < largest);
  const double cap = (smallest + largest) / 2;
  const Json constraints = {{"area_um2.total", {{"max", cap}}},
                            {"derived.tokens_per_s", {{"min", 0}}}};
  const sim::ParetoFront front = sim::pareto_front(db, "c", constraints);
  REQUIRE(front.feasible > 0);
  REQUIRE(front.feasible < 6);
  REQUIRE(front.unknown_figures.empty());
  REQUIRE_FALSE(front.points.empty());
  for (const auto& p : front.points) REQUIRE(p.area_um2 <= cap);
  // A figure no report has: no point meets it, and it is named.
  const sim::ParetoFront none = sim::pareto_front(db, "c", {{"no.such.figure", {{"max", 1}}}});
  REQUIRE(none.feasible == 0);
  REQUIRE(none.unknown_figures == std::vector<std::string>{"no.such.figure"});
  // sets are stored as a JSON array.
  REQUIRE(Json::parse(front.points.front().sets).is_array());
  for (const std::string& f : {db, db + "-wal", db + "-shm", temp("spec.json")})
    std::filesystem::remove(f);
}

TEST_CASE("zip groups that change the workload run each point on its own values", "[sim]") {
  // The workload's values are generated once only when no point changes the workload: a zip
  // group that changes a layer's format gives each point its own, as a run of its own would
  // (the sweep once ran the fp16 point on the posit<8,0> point's values: RMSE 16 for 0.005).
  const Json spec = {
      {"name", "zw"},
      {"hw", test::source_path("configs/hw/default.json")},
      {"workload", test::source_path("configs/workloads/bench/gemm_64x256x256_posit8.json")},
      {"grid",
       {{"hw.mac_array.rows", {32}},
        {"hw.mac_array.cols", {32}},
        {"hw.mac_array.dataflow", {"weight_stationary"}}}},
      {"zip",
       {{{"hw.mac_array.pe", {"posit8_0", "fp16"}},
         {"workload.layers.0.format", {"posit8_0", "fp16"}}}}}};
  const std::string db = temp("zw.sqlite");
  remove_db(db);
  const sim::SweepSpec s = sim::load_sweep_spec(write_spec(spec));
  sim::SweepOptions opt;
  opt.db_path = db;
  opt.progress = false;
  REQUIRE(sim::run_sweep(s, opt).done == 2);
  const std::vector<double> rmse = stored(db, "error_rmse");
  const auto points = sim::sweep_points(s);
  REQUIRE(rmse.size() == points.size());
  for (size_t i = 0; i < points.size(); ++i) {
    sim::SimInputs in;
    in.hw_path = s.hw_path;
    in.workload_path = s.workload_path;
    in.sets = points[i].sets;
    const Json report = sim::run_isolated(sim::load_sim_config(in));
    INFO("point " << i);
    REQUIRE(rmse[i] == report["error"]["gemm.output"]["rmse"].get<double>());
  }
  REQUIRE(rmse[1] < 0.01);
  remove_db(db);
}

TEST_CASE("a sweep measures the DRAM's rates once when no point changes the DRAM", "[sim]") {
  // Points on a DDR4 standard, whose sustained rate and strided rows' rates the lowering
  // measures on the DRAM's model: measured once before the points fork (the first point's
  // lowering measuring the rows' shapes its mapper tries), and by each point (a DRAM field at
  // its own value), analytical and simulated. The points differ.
  std::ifstream hw_file(test::source_path("configs/hw/default.json"));
  REQUIRE(Json::parse(hw_file)["dram"].contains("standard"));
  for (const bool analytical : {true, false}) {
    INFO((analytical ? "analytical" : "timing-only"));
    const std::string db =
        require_same_points_with(four_points(), "hw.dram.queue_depth", 32, analytical);
    REQUIRE(stored(db, "cycles")[0] != stored(db, "cycles")[2]);
    remove_db(db);
  }
}

TEST_CASE("a sweep reads the technology library once when no point changes it", "[sim]") {
  // The same points priced by the library read before the points fork, and by each point
  // reading it (a tech field at the file's own value).
  const std::string db = require_same_points_with(four_points(), "tech.voltage_v", 0.9, false);
  REQUIRE(stored(db, "energy_pj")[0] != stored(db, "energy_pj")[1]);
  remove_db(db);
  // A library that cannot be read is each point's error, recorded as such.
  const std::string bad = temp("bad_tech.json");
  std::ofstream(bad) << R"({"name": "broken"})";
  Json spec = four_points();
  spec["tech"] = bad;
  sim::SweepOptions opt;
  opt.progress = false;
  opt.db_path = db;
  const sim::SweepSummary sum = sim::run_sweep(sim::load_sweep_spec(write_spec(spec)), opt);
  REQUIRE(sum.failed == 4);
  REQUIRE(sum.done == 0);
  remove_db(db);
  std::filesystem::remove(bad);
}
