// LSTM and GRU layers end to end: bit-exact against the exact model, close to FP32, weights
// resident or streamed as documented, the same in both modes.
#include <catch2/catch.hpp>

#include <cmath>

#include "../support.hpp"

using namespace nmp;
using sim::Json;

namespace {

constexpr uint32_t kH0 = 40, kH1 = 16;

Json recurrent_workload(const std::string& type, const std::string& format, uint32_t tokens,
                        bool bidirectional, double weight_range) {
  auto source = [&](uint64_t seed) {
    return Json{{"distribution", "uniform"},
                {"low", -weight_range},
                {"high", weight_range},
                {"seed", seed}};
  };
  Json w = {{"name", "rnn"},
            {"tokens", tokens},
            {"input", {{"distribution", "uniform"}, {"low", -1.0}, {"high", 1.0}, {"seed", 3}}}};
  // Sizes whose gate weights exceed 1 KiB in every format (streamed from a 1 KiB weight SRAM)
  // and fit 64 KiB (resident).
  w["layers"].push_back({{"type", type},
                         {"name", "l0"},
                         {"in_features", 20},
                         {"hidden", kH0},
                         {"format", format},
                         {"bidirectional", bidirectional},
                         {"weights", source(7)},
                         {"biases", source(8)}});
  w["layers"].push_back({{"type", type},
                         {"name", "l1"},
                         {"in_features", (bidirectional ? 2 : 1) * kH0},
                         {"hidden", kH1},
                         {"format", format},
                         {"weights", source(9)},
                         {"biases", source(10)}});
  return w;
}

std::string pe_of(const std::string& format) {
  if (format == "ternary") return "ternary_int8";
  if (format == "int8") return "int8_int8";
  return format;
}

}  // namespace

TEST_CASE("recurrent layers equal their exact model in every format, resident or streamed",
          "[sim]") {
  const std::string type = GENERATE("lstm", "gru");
  const std::string format =
      GENERATE("ternary", "int8", "fp16", "bf16", "fp8_e4m3", "fp8_e5m2", "posit8_0", "posit16_1");
  const bool resident = GENERATE(true, false);
  const uint32_t T = 4;
  INFO(type << " " << format << (resident ? " resident" : " streamed"));
  const Json r = test::run_both_modes(
      test::make_config(recurrent_workload(type, format, T, true, 0.5),
                        {"hw.mac_array.pe=" + pe_of(format), "hw.mac_array.rows=8",
                         "hw.mac_array.cols=8", "hw.mac_array.dataflow=weight_stationary",
                         std::string("hw.weight_sram.capacity_kib=") + (resident ? "64" : "1")}));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(r["invariants"]["outputs_checked"] == T * (2 * kH0 + kH1));
  for (const Json& l : r["layers"]) {
    REQUIRE(l["recurrent"]["weights_resident"] == resident);
    REQUIRE(l["recurrent"]["timesteps"] == T * (l["index"] == 0 ? 2 : 1));
  }
}

TEST_CASE("streamed gate weights cost DRAM traffic every timestep; resident ones once", "[sim]") {
  const uint32_t T = 6;
  auto run = [&](const std::string& kib) {
    return sim::run_isolated(
        test::make_config(recurrent_workload("lstm", "int8", T, false, 0.5),
                          {"hw.mac_array.pe=int8_int8", "hw.mac_array.rows=8",
                           "hw.mac_array.cols=8", "hw.weight_sram.capacity_kib=" + kib}));
  };
  const Json resident = run("64"), streamed = run("1");
  const uint64_t weight_bytes = resident["layers"][0]["weight_bytes"].get<uint64_t>() +
                                resident["layers"][1]["weight_bytes"].get<uint64_t>();
  const uint64_t resident_reads = resident["counters"]["dram"]["read_bytes"].get<uint64_t>();
  const uint64_t streamed_reads = streamed["counters"]["dram"]["read_bytes"].get<uint64_t>();
  // Resident: the weights once, plus inputs and constants; streamed: the weights every step.
  REQUIRE(resident_reads < 2 * weight_bytes);
  REQUIRE(streamed_reads >= T * weight_bytes);
  REQUIRE(streamed["cycles"]["total"].get<uint64_t>() >
          resident["cycles"]["total"].get<uint64_t>());
}

TEST_CASE("an fp16 LSTM with an fp32 cell stays within fp16's error of the FP32 model", "[sim]") {
  // Inputs and weights rounded to fp16 (relative error <= 2^-11 each), products exact, fp32
  // sums, PWL sigmoid and tanh with 64 segments and 12 fraction bits (each <= 2e-3): the output
  // h is within 1e-2 of FP32 over every step.
  const Json r =
      sim::run_isolated(test::make_config(recurrent_workload("lstm", "fp16", 8, false, 0.3),
                                          {"hw.mac_array.pe=fp16", "hw.vector_unit.format=fp32"}));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  for (const auto& [name, e] : r["error"].items()) {
    INFO(name);
    REQUIRE(e["max_abs"].get<double>() < 1e-2);
    REQUIRE(e["max_abs"].get<double>() > 0);
  }
}
