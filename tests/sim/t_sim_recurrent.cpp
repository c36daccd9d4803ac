// LSTM and GRU layers end to end: bit-exact against the exact model, close to FP32, weights
// resident or streamed as documented, the same in both modes.
#include <catch2/catch.hpp>

#include <cmath>

#include "../support.hpp"
#include "hw_models/arith/format.hpp"
#include "timing_model.hpp"

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
  const std::string format = GENERATE("ternary", "int8", "fp16", "bf16", "fp8_e4m3", "fp8_e5m2",
                                      "posit8_0", "posit16_1", "fixed2_6", "fixed2_14", "fp32");
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

namespace {

// Cycles per timestep of a unidirectional LSTM layer with resident weights in a float or posit
// kind, from the documented model (docs/architecture.md#timing-of-a-recurrent-timestep): the
// step's dependency chain, each command timed by its own closed form, plus one cycle per
// hand-over between units.
uint64_t lstm_step_model(const hw::NmpParams& p, uint64_t I, uint64_t H) {
  using test::VecOperandTiming;
  const hw::PeTraits t = p.mac_array.traits();
  const test::VectorUnitTiming vu(p);
  const uint64_t vb = vu.vb, depth = vu.depth;
  const hw::SramParams* act = &p.act_sram;
  const hw::SramParams* acc = &p.acc_sram;
  auto pass = [&](const std::vector<VecOperandTiming>& ops, uint64_t n, uint64_t per_beat = 1) {
    return vu.pass(ops, n, per_beat);
  };
  const VecOperandTiming vec_in = vu.vec_in, vec_out = vu.vec_out;
  const uint64_t store_h = test::dma_row_cycles(p, p.act_sram, H * vb);
  const uint64_t load_x = test::dma_row_cycles(p, p.act_sram, I * vb);
  const uint64_t quantize_x = pass({vec_in, {t.act_bytes, act, true}}, I) + depth;
  const uint64_t gemm_w =
      test::closed_form_gemm_cycles(p, {1, uint32_t(4 * H), uint32_t(I), 0, 0, 0, 0, 0, false});
  const uint64_t gemm_u = test::closed_form_gemm_cycles(
      p, {1, uint32_t(4 * H), uint32_t(H), 0, 0, 4 * H * I * t.weight_bytes, 0, 0, false});
  const uint64_t convert = pass({{t.acc_bytes, acc, false}, vec_out}, 4 * H) + depth;
  const uint64_t add = pass({vec_in, vec_in, vec_out}, 4 * H) + depth;
  const uint64_t cell =
      pass({vec_in, vec_in, vec_in, vec_in, vec_in}, H, 5) + pass({vec_out, vec_out}, H) + depth;
  // cell -> store h -> load x -> quantize x -> W x -> (U h, then convert; W's convert beside U)
  // -> convert U h -> two adds -> cell: four hand-overs between units.
  return store_h + load_x + quantize_x + gemm_w + std::max(gemm_u, convert) + convert + 2 * add +
         cell + 4;
}

}  // namespace

TEST_CASE("an LSTM timestep takes the documented timing model's cycles", "[sim]") {
  struct Case {
    uint32_t in, hidden;
    std::vector<std::string> sets;
    bool chain_contended;  // bank conflicts stall a command of the step's chain
  };
  const Case c =
      GENERATE(Case{128, 64, {"hw.mac_array.pe=fp16"}, false},
               Case{64, 128, {"hw.mac_array.pe=posit16_1", "hw.vector_unit.lanes=32"}, false},
               Case{96,
                    32,
                    {"hw.mac_array.pe=fp8_e4m3", "hw.vector_unit.format=fp16",
                     "hw.dram.latency_cycles=40", "hw.controller.branch_penalty_cycles=3"},
                    false},
               Case{64, 64, {"hw.mac_array.pe=fixed2_14", "hw.act_sram.ports=1r1w"}, false},
               // One-cycle folds: U h_q's reads of the activation SRAM meet the writes of W x's
               // conversion, and the MAC array, computing U h_q on the chain, stalls on the banks.
               Case{96,
                    32,
                    {"hw.mac_array.pe=fp8_e4m3", "hw.mac_array.rows=32", "hw.mac_array.cols=16"},
                    true});
  auto run = [&](uint32_t steps) {
    Json w = recurrent_workload("lstm", "fp16", steps, false, 0.5);
    w["layers"].erase(1);
    w["layers"][0]["in_features"] = c.in;
    w["layers"][0]["hidden"] = c.hidden;
    std::vector<std::string> sets = c.sets;
    sets.push_back("workload.layers.0.format=" + sets[0].substr(sets[0].find('=') + 1));
    return test::run_both_modes(test::make_config(w, sets));
  };
  const Json three = run(3), four = run(4);
  REQUIRE(three["layers"][0]["recurrent"]["weights_resident"] == true);
  const hw::NmpParams p =
      test::make_config(recurrent_workload("lstm", "fp16", 1, false, 0.5), c.sets).hw.params;
  std::string variant;
  for (const std::string& set : c.sets) variant += set + " ";
  INFO(variant << "I " << c.in << " H " << c.hidden);
  // One more timestep adds exactly one step of the steady state. Bank conflicts between
  // overlapping commands (the model is uncontended) cost cycles only on the chain.
  auto stalls = [](const Json& r, const char* unit) {
    return r["cycles"]["units"][unit]["stall_total"].get<uint64_t>();
  };
  const uint64_t chain_stalls =
      c.chain_contended ? stalls(four, "mac_array") - stalls(three, "mac_array") : 0;
  if (c.chain_contended) REQUIRE(chain_stalls > 0);
  REQUIRE(four["cycles"]["total"].get<uint64_t>() - three["cycles"]["total"].get<uint64_t>() ==
          lstm_step_model(p, c.in, c.hidden) + chain_stalls);
}
