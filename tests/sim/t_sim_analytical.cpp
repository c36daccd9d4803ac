// The analytical model (hw_models/analytical.hpp) against the cycle simulation it stands in for:
// on the simple DRAM channel (transformer blocks; recurrent layers, pooling and additive
// attention) it is exact up to SRAM port contention, which it prices as shares of the ports
// (so it never predicts fewer cycles than the simulation minus the cycles units were refused
// SRAM ports, and within 2% of the simulation); on a DRAM standard, whose row hits and misses
// it averages, it stays within a guard band; `run --analytical` reports the same figures
// without simulating.
#include <catch2/catch.hpp>

#include <iterator>
#include <random>

#include "../support.hpp"
#include "hw_models/analytical.hpp"

using namespace nmp;
using sim::Json;

namespace {

// One transformer block (BitLinear projections on int8 PEs, RoPE, int8 attention, a gated FFN,
// residuals): every layer kind a decoder runs.
Json transformer_block(uint32_t heads, uint32_t kv_heads, uint32_t hidden, uint32_t ffn,
                       uint32_t tokens, bool decode, uint32_t context) {
  const uint32_t head_dim = hidden / heads;
  auto bitlinear = [](const char* name, uint32_t in, uint32_t out, const char* input,
                      uint64_t seed) {
    Json l = {{"type", "bitlinear"},
              {"name", name},
              {"in_features", in},
              {"out_features", out},
              {"weights", {{"distribution", "normal"}, {"std", 0.02}, {"seed", seed}}}};
    if (input) l["inputs"] = {input};
    return l;
  };
  auto rope = [&](const char* name, uint32_t h, const char* input) {
    return Json{
        {"type", "rope"}, {"name", name}, {"heads", h}, {"context", context}, {"inputs", {input}}};
  };
  const Json layers = {
      {{"type", "rmsnorm"}, {"name", "attn_norm"}, {"inputs", {"input"}}, {"in_features", hidden}},
      bitlinear("q", hidden, hidden, nullptr, 2),
      bitlinear("k", hidden, kv_heads * head_dim, "attn_norm", 3),
      bitlinear("v", hidden, kv_heads * head_dim, "attn_norm", 4),
      rope("q_rope", heads, "q"),
      rope("k_rope", kv_heads, "k"),
      {{"type", "attention"},
       {"name", "attn"},
       {"heads", heads},
       {"kv_heads", kv_heads},
       {"head_dim", head_dim},
       {"mode", decode ? "decode" : "prefill"},
       {"context", context},
       {"format", "int8"},
       {"inputs", {"q_rope", "k_rope", "v"}}},
      bitlinear("o", hidden, hidden, "attn", 5),
      {{"type", "add"}, {"name", "attn_residual"}, {"inputs", {"o", "input"}}},
      {{"type", "rmsnorm"}, {"name", "ffn_norm"}},
      bitlinear("gate", hidden, ffn, nullptr, 6),
      bitlinear("up", hidden, ffn, "ffn_norm", 7),
      {{"type", "activation"}, {"name", "act"}, {"function", "silu"}, {"inputs", {"gate"}}},
      {{"type", "mul"}, {"name", "glu"}, {"inputs", {"act", "up"}}},
      bitlinear("down", ffn, hidden, nullptr, 8),
      {{"type", "add"}, {"name", "ffn_residual"}, {"inputs", {"down", "attn_residual"}}}};
  return {{"name", "block"},
          {"tokens", tokens},
          {"input", {{"distribution", "normal"}, {"std", 1}, {"seed", 1}}},
          {"layers", layers}};
}

struct Trial {
  Json workload;
  std::string label;
};

Trial random_block(test::Pick& pick) {
  const uint32_t heads = 1u << pick(0, 2), kv_heads = heads >> pick(0, heads == 1 ? 0 : 1);
  const uint32_t hidden = heads * 64 * pick(1, 2), ffn = 64 * pick(2, 16);
  const bool decode = pick(0, 1) == 0;
  const uint32_t tokens = decode ? 1 : pick(8, 80), context = pick(16, 300);
  return {transformer_block(heads, kv_heads, hidden, ffn, tokens, decode, context),
          std::to_string(heads) + "/" + std::to_string(kv_heads) + " heads, hidden " +
              std::to_string(hidden) + ", ffn " + std::to_string(ffn) + ", " +
              std::to_string(tokens) + " tokens, context " + std::to_string(context)};
}

const std::vector<std::string> kInt8 = {"hw.mac_array.pe=int8_int8",
                                        "hw.dram.activation_format=bf16"};

Json run_timing_only(const Json& workload, std::vector<std::string> sets) {
  sim::RunOptions options;
  options.timing_only = true;
  return sim::run_isolated(test::make_config(workload, sets, options));
}

// Cycles the units were refused an SRAM port, over the run.
uint64_t sram_stall_cycles(const Json& report) {
  uint64_t stalls = 0;
  for (const char* unit : {"dma", "mac_array", "vector_unit"}) {
    for (const auto& [name, value] : report["counters"][unit].items()) {
      if (name.rfind("stall_sram_", 0) == 0) stalls += value.get<uint64_t>();
    }
  }
  return stalls;
}

}  // namespace

TEST_CASE("the analytical model is the simulation within 2%, its SRAM port contention priced",
          "[sim]") {
  // Simple DRAM channel: a DMA command's cycles are its closed form there, so the model differs
  // only in how it prices the units' contention for SRAM ports: as shares of each port class
  // rather than word by word. Without that contention (no unit refused a port) its commands'
  // cycles are the simulation's; the shares only slow commands down.
  test::Pick pick(16);
  int uncontended = 0;
  for (int trial = 0; trial < 100; ++trial) {
    const Trial t = random_block(pick);
    INFO("trial " << trial << ": " << t.label);
    const Json r = run_timing_only(t.workload, kInt8);
    const uint64_t simulated = r["cycles"]["total"], predicted = r["analytical"]["cycles"];
    const uint64_t stalls = sram_stall_cycles(r);
    INFO("simulated " << simulated << ", predicted " << predicted << ", SRAM stalls " << stalls);
    REQUIRE(predicted + stalls >= simulated);
    if (stalls == 0) REQUIRE(predicted >= simulated);
    REQUIRE(static_cast<double>(predicted) == Approx(static_cast<double>(simulated)).epsilon(0.02));
    uncontended += stalls == 0;
    uint64_t dram_payload = 0;
    for (const Json& l : r["layers"]) {
      const uint64_t moved = l["dram_bytes"];
      const uint64_t payload = l["analytical"]["dram_payload_bytes"];
      INFO(l["name"] << ": DMA payload " << payload << ", DRAM bytes " << moved);
      REQUIRE(payload <= moved);  // the channel moves whole bursts
      dram_payload += payload;
    }
    REQUIRE(dram_payload > 0);
  }
  REQUIRE(uncontended >= 15);
}

// A speech model's layers on posit<8,0> PEs: an LSTM or GRU encoder (one or both
// directions), pooling in time, and a GRU decoder step with additive attention over a memory.
Json speech_model(bool lstm, bool bidirectional, uint32_t features, uint32_t hidden,
                  uint32_t frames, uint32_t context) {
  const Json weights = {{"distribution", "uniform"}, {"low", -0.1}, {"high", 0.1}, {"seed", 3}};
  const uint32_t encoded = hidden * (bidirectional ? 2 : 1);
  return {{"name", "speech"},
          {"tokens", frames},
          {"input", {{"distribution", "normal"}, {"std", 1}, {"seed", 1}}},
          {"layers",
           {{{"type", lstm ? "lstm" : "gru"},
             {"name", "encoder"},
             {"in_features", features},
             {"hidden", hidden},
             {"bidirectional", bidirectional},
             {"format", "posit8_0"},
             {"weights", weights},
             {"biases", weights}},
            {{"type", "pool"}, {"name", "pool"}, {"stride", 2}},
            {{"type", "gru"},
             {"name", "decoder"},
             {"in_features", encoded},
             {"hidden", hidden},
             {"format", "posit8_0"},
             {"weights", weights}},
            {{"type", "linear"},
             {"name", "query"},
             {"format", "posit8_0"},
             {"in_features", hidden},
             {"out_features", hidden},
             {"weights", weights}},
            {{"type", "mlp_attention"},
             {"name", "attention"},
             {"context", context},
             {"out_features", encoded},
             {"weights", weights}}}}};
}

TEST_CASE("the analytical model follows recurrent layers and additive attention", "[sim]") {
  // Besides port contention between units, these layers meet what the model's uncontended
  // beats also leave out: bank conflicts within one command (a cvt of posit accumulator rows
  // whose words share banks takes 8 cycles where its beats count 6), which no stall counter
  // records. So: never above the simulation, and within 2.5% of it.
  test::Pick pick(19);
  for (int trial = 0; trial < 12; ++trial) {
    const bool lstm = pick(0, 1) == 1, bidirectional = pick(0, 1) == 1;
    const uint32_t features = 16 * pick(1, 6), hidden = 32 * pick(1, 4);
    const uint32_t frames = 2 * pick(2, 12), context = pick(4, 30);
    INFO("trial " << trial << ": " << (lstm ? "LSTM " : "GRU ") << (bidirectional ? "bi " : "")
                  << features << " -> " << hidden << ", " << frames << " frames, context "
                  << context);
    const Json r = run_timing_only(
        speech_model(lstm, bidirectional, features, hidden, frames, context),
        {"hw.mac_array.pe=posit8_0", "hw.mac_array.rows=32", "hw.mac_array.cols=32"});
    const uint64_t simulated = r["cycles"]["total"], predicted = r["analytical"]["cycles"];
    INFO("simulated " << simulated << ", predicted " << predicted);
    REQUIRE(predicted <= simulated);
    REQUIRE(static_cast<double>(predicted) >= 0.975 * static_cast<double>(simulated));
  }
}

TEST_CASE("the analytical model stays near the simulation on a DRAM standard", "[sim]") {
  // LPDDR5 x 4 channels: the model prices each DMA command at the sustained rate measured on
  // a long read, after a first-data latency measured for a bank found closed, on the row open
  // or on another row (the rows commands before left open, as the model tracks them); what it
  // leaves out is the DRAM's reordering, turnarounds and refresh between commands. The bounds
  // are today's agreement on small blocks (docs/validation.md has the library's), not a target.
  test::Pick pick(17);
  double lowest = 1, highest = 1;
  for (int trial = 0; trial < 30; ++trial) {
    const Trial t = random_block(pick);
    INFO("trial " << trial << ": " << t.label);
    std::vector<std::string> sets = kInt8;
    sets.insert(sets.end(), {"hw.dram.standard=LPDDR5_16Gb_x16_6400", "hw.dram.channels=4"});
    const Json r = run_timing_only(t.workload, sets);
    const double ratio =
        r["analytical"]["cycles"].get<double>() / r["cycles"]["total"].get<double>();
    INFO("predicted / simulated " << ratio);
    REQUIRE(ratio >= 0.95);
    REQUIRE(ratio <= 1.12);
    lowest = std::min(lowest, ratio);
    highest = std::max(highest, ratio);
  }
  WARN("analytical / simulated on LPDDR5: " << lowest << " .. " << highest);
}

TEST_CASE("run --analytical reports the model's figures without simulating", "[sim]") {
  test::Pick pick(18);
  const Trial t = random_block(pick);
  const Json simulated = run_timing_only(t.workload, kInt8);
  sim::RunOptions options;
  options.analytical = true;
  const Json a = sim::run_isolated(test::make_config(t.workload, kInt8, options));
  REQUIRE(a["config"]["run"]["mode"] == "analytical");
  REQUIRE(a["cycles"]["total"] == simulated["analytical"]["cycles"]);
  REQUIRE(a["layers"].size() == simulated["layers"].size());
  uint64_t macs = 0;
  for (size_t l = 0; l < a["layers"].size(); ++l) {
    const Json& la = a["layers"][l];
    const Json& ls = simulated["layers"][l];
    REQUIRE(la["span_cycles"] == ls["analytical"]["span_cycles"]);
    REQUIRE(la["macs"] == ls["macs"]);  // every gemm's m x n x k
    REQUIRE(la["mapping"] == ls["mapping"]);
    macs += la["macs"].get<uint64_t>();
  }
  REQUIRE(a["counters"]["mac_array"]["macs"] == macs);
  REQUIRE(macs == simulated["counters"]["mac_array"]["macs"]);
  // What a sweep's database reads, and energy from the same prices as the mapper's.
  REQUIRE(a["derived"]["latency_s"].get<double>() > 0);
  REQUIRE(a["area_um2"]["total"] == simulated["area_um2"]["total"]);
  const Json& e = a["energy_pj"];
  REQUIRE(e["total"].get<double>() == Approx(e["dram_payload"].get<double>() +
                                             e["macs"].get<double>() + e["static"].get<double>()));
  REQUIRE(e["total"].get<double>() > 0);
  REQUIRE(e["total"].get<double>() < simulated["energy_pj"]["total"].get<double>());
}

TEST_CASE("the units a run of rows touches, in closed form, equal counting them row by row",
          "[unit]") {
  // Random units (powers of two and not), starts, strides (zero, below the row, beyond it) and
  // rows, a quarter of them with start and stride whole units (a shortcut's case), against the
  // row-by-row count the closed form replaced; and one run whose sums reach beyond 64 bits.
  const auto by_rows = [](uint64_t first, uint64_t rows, uint64_t stride, uint64_t bytes,
                          uint64_t unit) {
    uint64_t touched = 0;
    for (uint64_t r = 0; r < rows; ++r) {
      const uint64_t at = first + r * stride;
      touched += (at + bytes - 1) / unit - at / unit + 1;
    }
    return touched;
  };
  std::mt19937_64 rng(11);
  const uint64_t units[] = {1, 2, 3, 7, 32, 64, 96, 4096};
  for (int trial = 0; trial < 3000; ++trial) {
    const uint64_t unit = trial % 3 == 0 ? 1 + rng() % 5000 : units[rng() % std::size(units)];
    uint64_t first = rng() % (uint64_t{1} << (rng() % 40));
    const uint64_t rows = 1 + rng() % 600;
    uint64_t stride = rng() % (uint64_t{1} << (rng() % 24));
    const uint64_t bytes = 1 + rng() % (uint64_t{1} << (rng() % 16));
    if (trial % 4 == 1) {
      first -= first % unit;
      stride -= stride % unit;
    }
    INFO("first " << first << " rows " << rows << " stride " << stride << " bytes " << bytes
                  << " unit " << unit);
    REQUIRE(hw::units_touched(first, rows, stride, bytes, unit) ==
            by_rows(first, rows, stride, bytes, unit));
  }
  // Each sum of rows' last units passes 2^64 (3 M rows from 2^50); their difference does not.
  const uint64_t first = (uint64_t{1} << 50) + 17, rows = 3000000, stride = (uint64_t{1} << 22) + 5;
  REQUIRE(hw::units_touched(first, rows, stride, 100, 32) == by_rows(first, rows, stride, 100, 32));
}
