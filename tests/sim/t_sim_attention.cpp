// Attention end to end: decode and prefill, multi-head and grouped-query, KV cache in DRAM or
// SRAM, every non-ternary format; bit-exact against the exact model, close to FP32.
#include <catch2/catch.hpp>

#include "../support.hpp"

using namespace nmp;
using sim::Json;

namespace {

Json attention_workload(const std::string& mode, uint32_t tokens, uint32_t context, uint32_t heads,
                        uint32_t kv_heads, const std::string& format, const std::string& kv_cache) {
  return {{"name", "attn"},
          {"tokens", tokens},
          {"input", {{"distribution", "normal"}, {"mean", 0}, {"std", 1}, {"seed", 5}}},
          {"layers",
           {{{"type", "attention"},
             {"name", "attn"},
             {"heads", heads},
             {"kv_heads", kv_heads},
             {"head_dim", 16},
             {"mode", mode},
             {"context", context},
             {"format", format},
             {"kv_cache", kv_cache},
             {"weights", {{"distribution", "normal"}, {"mean", 0}, {"std", 1}, {"seed", 9}}}}}}};
}

std::string pe_of(const std::string& format) { return format == "int8" ? "int8_int8" : format; }

}  // namespace

TEST_CASE("attention equals its exact model in every mode, grouping, cache and format", "[sim]") {
  struct Case {
    std::string mode;
    uint32_t tokens, context, heads, kv_heads;
    std::string kv_cache, dataflow;
  };
  const Case c = GENERATE(Case{"decode", 1, 37, 4, 4, "dram", "adder_tree"},
                          Case{"decode", 2, 20, 6, 2, "sram", "weight_stationary"},
                          Case{"prefill", 9, 0, 4, 1, "dram", "output_stationary"},
                          Case{"prefill", 7, 11, 2, 2, "sram", "input_stationary"});
  const std::string format = GENERATE("int8", "fp16", "bf16", "fp8_e4m3", "posit8_0", "posit16_1");
  INFO(c.mode << " tokens " << c.tokens << " context " << c.context << " heads " << c.heads << "/"
              << c.kv_heads << " " << c.kv_cache << " " << c.dataflow << " " << format);
  // Small activation SRAM: prefill runs in several tiles of query rows.
  const Json r = test::run_both_modes(test::make_config(
      attention_workload(c.mode, c.tokens, c.context, c.heads, c.kv_heads, format, c.kv_cache),
      {"hw.mac_array.pe=" + pe_of(format), "hw.mac_array.rows=8", "hw.mac_array.cols=8",
       "hw.mac_array.dataflow=" + c.dataflow, "hw.act_sram.capacity_kib=2"}));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(r["invariants"]["outputs_checked"] == c.tokens * c.heads * 16);
  // Q K^T over every position, P V back: 2 x heads x tokens x positions x d MACs.
  const uint64_t positions = c.context + (c.mode == "decode" ? 1 : c.tokens);
  REQUIRE(r["counters"]["mac_array"]["macs"] == 2 * c.heads * c.tokens * positions * 16);
}

TEST_CASE("grouped-query attention reads each key/value head once per group", "[sim]") {
  auto dram_reads = [&](uint32_t kv_heads) {
    const Json r = sim::run_isolated(
        test::make_config(attention_workload("decode", 1, 200, 8, kv_heads, "int8", "dram"),
                          {"hw.mac_array.pe=int8_int8"}));
    REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
    return r["counters"]["dram"]["read_bytes"].get<uint64_t>();
  };
  const uint64_t mha = dram_reads(8), gqa = dram_reads(2);
  // The cache dominates the traffic: 4x fewer key/value heads read about 4x fewer bytes.
  REQUIRE(static_cast<double>(mha) / static_cast<double>(gqa) > 3.5);
}

TEST_CASE("fp16 attention with an fp32 vector unit is within 1e-2 of FP32", "[sim]") {
  const Json r = sim::run_isolated(test::make_config(
      attention_workload("prefill", 8, 8, 2, 1, "fp16", "dram"), {"hw.mac_array.pe=fp16"}));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(r["error"]["attn.output"]["max_abs"].get<double>() < 1e-2);
}
