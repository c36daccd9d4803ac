// run --csv: one row per layer, whose columns add up to the report's totals.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <unistd.h>

#include "../support.hpp"
#include "sim/text.hpp"

using namespace nmp;
using sim::Json;

namespace {

// The CSV's rows as maps from column to cell (no quoted fields in these layer names).
std::vector<std::map<std::string, std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::istringstream fields(line);
    for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    if (header.empty()) {
      header = cells;
      continue;
    }
    REQUIRE(cells.size() == header.size());
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < cells.size(); ++i) row[header[i]] = cells[i];
    rows.push_back(row);
  }
  return rows;
}

double number(const std::map<std::string, std::string>& row, const std::string& column) {
  REQUIRE(row.count(column) == 1);
  return std::stod(row.at(column));
}

}  // namespace

TEST_CASE("run --csv writes a row per layer that adds up to the report", "[sim]") {
  const std::string dir = std::filesystem::temp_directory_path().string();
  const std::string base = dir + "/nmpsim-csv-" + std::to_string(getpid());
  const Json workload = Json::parse(R"({
    "name": "csv", "tokens": 5,
    "layers": [
      {"type": "rmsnorm", "name": "norm", "inputs": ["input"], "in_features": 96},
      {"type": "linear", "format": "fp16", "name": "up", "in_features": 96, "out_features": 160,
       "biases": {"seed": 3}},
      {"type": "linear", "format": "fp16", "name": "down", "in_features": 160,
       "out_features": 64}]})");
  std::ofstream(base + ".wl.json") << workload.dump();
  for (const bool timing_only : {false, true}) {
    const std::string cmd = std::string(NMPSIM_BINARY) + " run --hw " +
                            test::source_path("configs/hw/default.json") + " --workload " + base +
                            ".wl.json --set hw.mac_array.pe=fp16 --out " + base + ".json --csv " +
                            base + ".csv -q" + (timing_only ? " --timing-only" : "");
    REQUIRE(std::system(cmd.c_str()) == 0);
    const Json r = sim::parse_json_file(base + ".json");
    const auto rows = read_csv(base + ".csv");
    REQUIRE(rows.size() == 3);
    double cycles = 0, macs = 0, dram_read = 0, dram_write = 0, energy = 0;
    std::map<std::string, double> sram_reads, unit_energy;
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& row = rows[i];
      const Json& l = r["layers"][i];
      REQUIRE(row.at("name") == l["name"].get<std::string>());
      REQUIRE(number(row, "start_cycle") == static_cast<double>(cycles));
      cycles += number(row, "cycles");
      macs += number(row, "macs");
      dram_read += number(row, "dram_read_bytes");
      dram_write += number(row, "dram_write_bytes");
      energy += number(row, "energy_pj");
      for (const char* s : {"wsram", "asram", "acc"})
        sram_reads[s] += number(row, std::string(s) + "_read_words");
      for (const auto& [unit, pj] : r["energy_pj"]["by_unit"].items())
        unit_energy[unit] += number(row, "energy_" + unit + "_pj");
      // The error against FP32: the report's, or empty when nothing was computed.
      if (timing_only) {
        REQUIRE(row.at("rmse_vs_fp32").empty());
      } else {
        REQUIRE(number(row, "rmse_vs_fp32") == l["error"]["rmse"].get<double>());
        REQUIRE(number(row, "rmse_vs_fp32") > 0);
      }
      REQUIRE(row.at("loop_order") == (l["mapping"].is_null()
                                           ? std::string()
                                           : l["mapping"].value("loop_order", std::string())));
    }
    REQUIRE(cycles == r["cycles"]["total"].get<double>());
    REQUIRE(macs == r["counters"]["mac_array"]["macs"].get<double>());
    REQUIRE(macs > 0);
    REQUIRE(dram_read == r["counters"]["dram"]["read_bytes"].get<double>());
    REQUIRE(dram_write == r["counters"]["dram"]["write_bytes"].get<double>());
    for (const char* s : {"wsram", "asram", "acc"})
      REQUIRE(sram_reads[s] == r["counters"][s]["read_words"].get<double>());
    const double dynamic = r["energy_pj"]["dynamic"].get<double>();
    REQUIRE(std::fabs(energy - dynamic) <= 1e-9 * dynamic);
    for (const auto& [unit, pj] : r["energy_pj"]["by_unit"].items()) {
      REQUIRE(std::fabs(unit_energy[unit] - pj.get<double>()) <=
              1e-9 * std::fabs(pj.get<double>()) + 1e-9);
    }
  }
  for (const char* ext : {".wl.json", ".json", ".csv"}) std::filesystem::remove(base + ext);
}

TEST_CASE("CSV fields are quoted only when they must be", "[unit]") {
  REQUIRE(sim::csv_field("ffn_up") == "ffn_up");
  REQUIRE(sim::csv_field("a,b") == "\"a,b\"");
  REQUIRE(sim::csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  REQUIRE(sim::csv_field("two\nlines") == "\"two\nlines\"");
}
