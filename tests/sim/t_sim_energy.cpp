// Energy and area: the technology libraries, the seeds' headline ratios, the 28 nm array area,
// and the report tools.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "../support.hpp"
#include "sim/energy_model.hpp"
#include "sim/report_tools.hpp"

using namespace nmp;
using sim::Json;

namespace {

Json layer(const std::string& type, const std::string& format) {
  Json l = {{"type", type}, {"name", "up"}, {"in_features", 256}, {"out_features", 512}};
  if (type == "linear") l["format"] = format;
  return {{"name", "layer"}, {"tokens", 1}, {"layers", {l}}};
}

Json run_with_tech(const Json& workload, const std::vector<std::string>& sets,
                   const std::string& tech) {
  sim::SimConfig c = test::make_config(workload, sets);
  c.tech = sim::load_technology(test::source_path("configs/tech/" + tech), {});
  return sim::run_isolated(c);
}

double arithmetic_pj_per_mac(const Json& r) {
  double pj = 0;
  for (const auto& [key, e] : r["energy_pj"]["by_event"].items()) {
    if (key.rfind("pe.mac.", 0) == 0) pj += e["total_pj"].get<double>();
  }
  return pj / r["counters"]["mac_array"]["mac_ops"].get<double>();
}

}  // namespace

TEST_CASE("every technology library loads, and every entry names its source", "[sim]") {
  for (const char* name : {"45nm.json", "7nm.json", "28nm.json", "90nm.json"}) {
    INFO(name);
    const sim::TechLibrary t =
        sim::load_technology(test::source_path(std::string("configs/tech/") + name), {});
    REQUIRE(!t.ops.empty());
    for (const auto& [op, o] : t.ops) {
      INFO(op);
      REQUIRE(!o.source.empty());
      REQUIRE(o.energy_pj > 0);
    }
    for (const sim::SourcedValue* v :
         {&t.dram_pj_per_bit, &t.register_bit_area_um2, &t.leakage_mw_per_mm2}) {
      REQUIRE(!v->source.empty());
    }
    REQUIRE(!t.sram_source.empty());
    // The default hardware prices every event with it.
    const sim::HardwareConfig hw =
        sim::load_hardware(test::source_path("configs/hw/default.json"), {});
    REQUIRE(sim::build_energy_model(hw, t).total_area_um2() > 0);
  }
}

TEST_CASE("a library for another node follows the documented scaling rule", "[sim]") {
  const sim::TechLibrary base =
      sim::load_technology(test::source_path("configs/tech/45nm.json"), {});
  const sim::TechLibrary t28 =
      sim::load_technology(test::source_path("configs/tech/28nm.json"), {});
  // int8_add is not in the 28 nm table: scaled as energy x (28/45)^0.58, area x (28/45)^1.05.
  REQUIRE(t28.ops.at("int8_add").energy_pj ==
          Approx(base.ops.at("int8_add").energy_pj * std::pow(28.0 / 45.0, 0.58)).epsilon(1e-12));
  REQUIRE(t28.ops.at("int8_add").area_um2 ==
          Approx(base.ops.at("int8_add").area_um2 * std::pow(28.0 / 45.0, 1.05)).epsilon(1e-12));
  // Entries the table gives are taken as they are: Johnson's areas; energies from one source
  // across nodes (its energies exceed the 45 nm ones: docs/energy-model.md).
  REQUIRE(t28.ops.at("int8_mult").area_um2 == 121.212);
  REQUIRE(t28.ops.at("int32_add").area_um2 == 117.81);
  REQUIRE(t28.ops.at("int8_mult").energy_pj ==
          Approx(base.ops.at("int8_mult").energy_pj * std::pow(28.0 / 45.0, 0.58)).epsilon(1e-12));
  // DRAM is off chip: unchanged.
  REQUIRE(t28.dram_pj_per_bit.value == base.dram_pj_per_bit.value);
}

TEST_CASE("ternary against FP16 arithmetic: 71.4x at 7 nm and 50x at 45 nm per MAC", "[sim]") {
  // BitNet b1.58 Table 2: an FP16 MAC (add + multiply) against a ternary MAC (one INT8 add).
  for (const auto& [tech, ratio] :
       {std::pair{"7nm.json", (0.16 + 0.34) / 0.007}, std::pair{"45nm.json", (0.4 + 1.1) / 0.03}}) {
    INFO(tech);
    const Json ternary = run_with_tech(layer("bitlinear", ""), {}, tech);
    const Json fp16 =
        run_with_tech(layer("linear", "fp16"),
                      {"hw.mac_array.pe=fp16", "hw.mac_array.float_accumulation=native"}, tech);
    REQUIRE(ternary["invariants"]["outputs_equal_reference"] == true);
    REQUIRE(fp16["invariants"]["outputs_equal_reference"] == true);
    REQUIRE(arithmetic_pj_per_mac(fp16) / arithmetic_pj_per_mac(ternary) ==
            Approx(ratio).epsilon(1e-9));
    // End to end, memory traffic makes the ratio far smaller (docs/energy-model.md).
    const double end_to_end =
        fp16["energy_pj"]["total"].get<double>() / ternary["energy_pj"]["total"].get<double>();
    REQUIRE(end_to_end > 1.0);
    REQUIRE(end_to_end < ratio / 4);
  }
}

TEST_CASE("the 28 nm 32x32 int8 systolic array lands within 1.3% of the seed's 348,231 um^2",
          "[sim]") {
  const sim::TechLibrary t28 =
      sim::load_technology(test::source_path("configs/tech/28nm.json"), {});
  const sim::HardwareConfig hw = sim::load_hardware(
      test::source_path("configs/hw/default.json"),
      sim::parse_set_options({"hw.mac_array.pe=int8_int8", "hw.mac_array.rows=32",
                              "hw.mac_array.cols=32", "hw.mac_array.dataflow=weight_stationary",
                              "hw.mac_array.weight_preload_overlap=false"}));
  double array = 0;
  for (const sim::AreaItem& a : sim::build_energy_model(hw, t28).area) {
    if (a.component == "mac_array") array = a.um2;
  }
  // 1024 PEs of Johnson's parts: multiply 121.212 + add 117.810 + 48 register bits of 2.016.
  REQUIRE(array == Approx(1024 * (121.212 + 117.81 + 48 * 2.016)).epsilon(1e-12));
  REQUIRE(std::fabs(array / 348231.0 - 1) < 0.013);
}

TEST_CASE("native float accumulation matches its exact model on every dataflow", "[sim]") {
  const std::string pe = GENERATE("fp16", "bf16", "fp8_e4m3", "fp8_e5m2");
  const std::string dataflow =
      GENERATE("adder_tree", "weight_stationary", "output_stationary", "input_stationary");
  Json w = layer("linear", pe);
  w["tokens"] = 3;
  w["layers"][0]["in_features"] = 100;
  w["layers"][0]["out_features"] = 30;
  const Json r = test::run_both_modes(test::make_config(
      w, {"hw.mac_array.pe=" + pe, "hw.mac_array.float_accumulation=native",
          "hw.mac_array.dataflow=" + dataflow, "hw.mac_array.rows=16", "hw.mac_array.cols=8"}));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(r["counter_meta"]["mac_array"]["mac_ops"]["energy_key"] == "pe.mac." + pe + "_native");
}

TEST_CASE("nmpsim energy and compare read reports back, and reject other files", "[sim]") {
  const Json a = run_with_tech(layer("bitlinear", ""), {}, "45nm.json");
  const Json b = run_with_tech(layer("bitlinear", ""), {"hw.mac_array.rows=32"}, "45nm.json");
  const std::string text = sim::energy_report(a);
  REQUIRE(text.find("pe.mac.ternary_tree") != std::string::npos);
  REQUIRE(text.find("by layer:") != std::string::npos);
  const std::string cmp = sim::compare_reports(a, b, "a", "b");
  char expected[64];
  std::snprintf(expected, sizeof expected, "%.4g",
                b["cycles"]["total"].get<double>() / a["cycles"]["total"].get<double>());
  REQUIRE(cmp.find(std::string("cycles")) != std::string::npos);
  REQUIRE(cmp.find(expected) != std::string::npos);
  const std::string path =
      (std::filesystem::temp_directory_path() / "nmpsim_not_a_report.json").string();
  std::ofstream(path) << "{\"hello\": 1}";
  REQUIRE_THROWS_AS(sim::load_report(path), sim::ConfigError);
  std::filesystem::remove(path);
}

TEST_CASE("leakage and clock are explicit terms of the total", "[sim]") {
  sim::SimConfig c = test::make_config(
      layer("bitlinear", ""),
      {"tech.register_bit_pj_per_cycle.value=0.01",
       "tech.register_bit_pj_per_cycle.source=test figure", "tech.leakage_mw_per_mm2.value=2"});
  const Json r = sim::run_isolated(c);
  const double area_mm2 = r["area_um2"]["total"].get<double>() * 1e-6;
  const double cycles = r["cycles"]["total"].get<double>();
  // The default 64 x 64 adder tree holds 2 x 2 weight-register bits per PE (preload overlap);
  // the controller 16 x 64 register bits.
  const double bits = 64 * 64 * 4 + 16 * 64;
  REQUIRE(r["energy_pj"]["clock"].get<double>() == Approx(0.01 * bits * cycles).epsilon(1e-12));
  REQUIRE(r["energy_pj"]["clock_source"].get<std::string>().find("test figure") !=
          std::string::npos);
  // Leakage: every SRAM bank's (the SRAM model), and the rest of the area at 2 mW/mm^2.
  double sram_mw = 0, sram_mm2 = 0;
  for (const char* sram : {"wsram", "asram", "acc", "imem"}) {
    INFO(sram);
    REQUIRE(r["energy_pj"]["leakage_mw_by_component"][sram].get<double>() > 0);
    sram_mw += r["energy_pj"]["leakage_mw_by_component"][sram].get<double>();
    sram_mm2 += r["area_um2"]["by_component"][sram]["um2"].get<double>() * 1e-6;
  }
  REQUIRE(r["energy_pj"]["leakage_mw_by_component"]["other"].get<double>() ==
          Approx(2 * (area_mm2 - sram_mm2)).epsilon(1e-12));
  REQUIRE(r["energy_pj"]["leakage_mw"].get<double>() ==
          Approx(sram_mw + 2 * (area_mm2 - sram_mm2)).epsilon(1e-12));
  const double leakage =
      r["energy_pj"]["leakage_mw"].get<double>() * r["derived"]["latency_s"].get<double>() * 1e9;
  REQUIRE(r["energy_pj"]["leakage"].get<double>() == Approx(leakage).epsilon(1e-12));
  REQUIRE(r["energy_pj"]["total"].get<double>() ==
          Approx(r["energy_pj"]["dynamic"].get<double>() + leakage +
                 r["energy_pj"]["clock"].get<double>())
              .epsilon(1e-12));
}

namespace {

const char* const kNodes[] = {"7nm.json", "28nm.json", "45nm.json", "90nm.json"};

std::vector<sim::TechLibrary> libraries_by_node() {
  std::vector<sim::TechLibrary> libs;
  for (const char* name : kNodes)
    libs.push_back(
        sim::load_technology(test::source_path(std::string("configs/tech/") + name), {}));
  return libs;
}

}  // namespace

TEST_CASE("energy and area grow with the node and with the width, in every library", "[sim]") {
  // Each operation is priced from one source across nodes (docs/energy-model.md), so no entry
  // may cost less at a larger node, and within a node no wider operation less than a narrower
  // one. There are no exceptions to document.
  const std::vector<sim::TechLibrary> libs = libraries_by_node();
  for (const auto& [op, entry] : libs.back().ops) {
    for (size_t i = 1; i < libs.size(); ++i) {
      INFO(op << ": " << libs[i - 1].name << " against " << libs[i].name);
      REQUIRE(libs[i - 1].ops.at(op).energy_pj <= libs[i].ops.at(op).energy_pj);
      REQUIRE(libs[i - 1].ops.at(op).area_um2 <= libs[i].ops.at(op).area_um2);
    }
  }
  const std::vector<std::vector<std::string>> widths = {
      {"int8_add", "int16_add", "int32_add", "int64_add", "int128_add"},
      {"int8_mult", "int16_mult", "int32_mult"},
      {"fp16_add", "fp32_add"},
      {"fp8_mult", "fp16_mult", "fp32_mult"},
      {"posit8_add", "posit16_add"},
      {"posit8_mult", "posit16_mult"},
      {"posit8_convert", "posit16_convert"}};
  for (const sim::TechLibrary& t : libs) {
    for (const auto& chain : widths) {
      for (size_t i = 1; i < chain.size(); ++i) {
        INFO(t.name << ": " << chain[i - 1] << " against " << chain[i]);
        REQUIRE(t.ops.at(chain[i - 1]).energy_pj <= t.ops.at(chain[i]).energy_pj);
        REQUIRE(t.ops.at(chain[i - 1]).area_um2 <= t.ops.at(chain[i]).area_um2);
      }
    }
    // A multiply costs more than an add of its operands' width.
    REQUIRE(t.ops.at("int8_add").energy_pj < t.ops.at("int8_mult").energy_pj);
    REQUIRE(t.ops.at("fp16_add").energy_pj < t.ops.at("fp16_mult").energy_pj);
  }
  // Every priced event of every PE kind, and the clock, likewise across nodes.
  for (int k = 0; k < hw::kNumPeKinds; ++k) {
    const std::string pe = hw::to_string(static_cast<hw::PeKind>(k));
    const sim::HardwareConfig hw =
        sim::load_hardware(test::source_path("configs/hw/default.json"),
                           sim::parse_set_options({"hw.mac_array.pe=" + pe,
                                                   "hw.mac_array.dataflow=weight_stationary"}));
    std::vector<sim::EnergyModel> models;
    for (const sim::TechLibrary& t : libs) models.push_back(sim::build_energy_model(hw, t));
    for (size_t i = 1; i < models.size(); ++i) {
      for (const auto& [key, e] : models[i].per_event) {
        INFO(pe << ": " << key << ", " << libs[i - 1].name << " against " << libs[i].name);
        if (key.rfind("dram.", 0) == 0) continue;  // off chip: not a function of the node
        REQUIRE(models[i - 1].per_event.at(key).pj <= e.pj);
      }
      REQUIRE(models[i - 1].clock_pj_per_cycle <= models[i].clock_pj_per_cycle);
      REQUIRE(models[i - 1].total_area_um2() <= models[i].total_area_um2());
    }
  }
}

TEST_CASE("a technology value set on the command line says so in its source", "[sim]") {
  const auto sets = sim::parse_set_options(
      {"tech.ops.int8_add.energy_pj=0.5", "tech.leakage_mw_per_mm2.value=3",
       "tech.ops.int8_mult.energy_pj=0.25", "tech.ops.int8_mult.source=my own figure"});
  const sim::TechLibrary t =
      sim::load_technology(test::source_path("configs/tech/45nm.json"), sets);
  REQUIRE(t.ops.at("int8_add").energy_pj == 0.5);
  REQUIRE(
      t.ops.at("int8_add")
          .source.rfind(
              "energy_pj overridden by --set tech.ops.int8_add.energy_pj=0.5 (the file's source: "
              "Horowitz",
              0) == 0);
  REQUIRE(t.leakage_mw_per_mm2.source.rfind("overridden by --set tech.leakage_mw_per_mm2.value=3",
                                            0) == 0);
  // A source set beside the value replaces the file's.
  REQUIRE(t.ops.at("int8_mult").source == "my own figure");
  // The report carries every resolved entry, inherited ones too.
  const sim::TechLibrary t7 = sim::load_technology(test::source_path("configs/tech/7nm.json"), {});
  REQUIRE(t7.resolved["ops"].size() == t7.ops.size());
  REQUIRE(t7.resolved["ops"]["posit8_mult"]["source"].get<std::string>().find("scaled from") !=
          std::string::npos);
  REQUIRE(t7.resolved["sram"]["points"].get<size_t>() == 165);
  for (const char* ports : {"1rw", "1r1w", "2rw"}) {
    REQUIRE(t7.resolved["sram"]["fit"][ports]["area_um2_per_bit"].get<double>() > 0);
  }
  REQUIRE(t7.resolved["sram"]["source"].get<std::string>().find("scaled from") !=
          std::string::npos);
}
