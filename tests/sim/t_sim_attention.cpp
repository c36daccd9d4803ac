// Attention end to end: decode, prefill and encoder, multi-head and grouped-query, KV cache in DRAM
// or SRAM, every non-ternary format; bit-exact against the exact model, close to FP32.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include "../support.hpp"

#include "hw_models/arith/format.hpp"
#include "sim/npy.hpp"
#include "timing_model.hpp"

using namespace nmp;
using sim::Json;

namespace {

Json attention_workload(const std::string& mode, uint32_t tokens, uint32_t context, uint32_t heads,
                        uint32_t kv_heads, const std::string& format, const std::string& kv_cache,
                        uint32_t head_dim = 16) {
  return {{"name", "attn"},
          {"tokens", tokens},
          {"input", {{"distribution", "normal"}, {"mean", 0}, {"std", 1}, {"seed", 5}}},
          {"layers",
           {{{"type", "attention"},
             {"name", "attn"},
             {"heads", heads},
             {"kv_heads", kv_heads},
             {"head_dim", head_dim},
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
                          Case{"prefill", 7, 11, 2, 2, "sram", "input_stationary"},
                          Case{"prefill", 12, 5, 4, 2, "dram", "adder_tree"},
                          Case{"encoder", 9, 0, 4, 2, "dram", "weight_stationary"},
                          Case{"encoder", 6, 5, 2, 2, "sram", "adder_tree"});
  const std::string format = GENERATE("int8", "fp16", "bf16", "fp8_e4m3", "posit8_0", "posit16_1",
                                      "fixed2_6", "fixed2_14", "fp32");
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

namespace {

// Cycles of one query head's decode step (one query row against L cached positions, K and V
// resident in the weight SRAM, a float or posit kind) from the documented model
// (docs/architecture.md#timing-of-an-attention-step): the step's chain, each command by its
// own closed form, plus one cycle per hand-over between units.
uint64_t attention_step_model(const hw::NmpParams& p, uint64_t L, uint64_t d) {
  using test::VecOperandTiming;
  const hw::PeTraits t = p.mac_array.traits();
  const test::VectorUnitTiming vu(p);
  const uint64_t depth = vu.depth;
  uint64_t tree = 0;  // ceil(log2 lanes): the reduction tree of the sum
  while ((uint64_t{1} << tree) < vu.lanes) ++tree;
  const hw::SramParams* act = &p.act_sram;
  auto pass = [&](const std::vector<VecOperandTiming>& ops, uint64_t n) { return vu.pass(ops, n); };
  const VecOperandTiming vec_in = vu.vec_in, vec_out = vu.vec_out;
  const VecOperandTiming acc_in{t.acc_bytes, &p.acc_sram, false};
  const VecOperandTiming act_out{t.act_bytes, act, true};
  const uint64_t wb = p.weight_sram.width_bits / 8;
  const uint64_t k_bytes = L * d * t.weight_bytes;
  const uint64_t quantize_q = pass({vec_in, act_out}, d) + depth;
  const uint64_t gemm_s =
      test::closed_form_gemm_cycles(p, {1, uint32_t(L), uint32_t(d), 0, 0, 0, 0, 0, false});
  // One softmax from the accumulators, scaled, to P in the activation format: the row's
  // scale, then max, the max's tree, exp and sum, the sum's tree and reciprocal, and the scale
  // pass computing exp again from the accumulators.
  const uint64_t softmax = pass({vec_in}, 1) + pass({acc_in}, L) + tree + depth +
                           pass({acc_in}, L) + tree + depth + pass({acc_in, act_out}, L) + depth;
  const uint64_t gemm_o = test::closed_form_gemm_cycles(
      p, {1, uint32_t(d), uint32_t(L), 0, 0, test::ceil_div(k_bytes, wb) * wb, 0, 0, false});
  const uint64_t convert_o = pass({acc_in, vec_out}, d) + depth;
  // The next head's Q loaded under this head's work: convert O -> quantize the next Q (issued
  // after the store O, which waits for convert O) -> Q K^T -> softmax -> P V -> convert O.
  // The next head's Q loads under this head's work and the output's store under the next
  // head's, so the step is the chain of the array and the vector unit (the DRAM's latency kept
  // short: the cases' DMA per head stays under the chain) plus the controller's issue on it: a
  // cycle for each hand-over between the units (quantize -> Q K^T -> softmax -> P V ->
  // convert O) and seven instructions from the store of O (issued as convert O ends) to
  // the next quantize: two address steps, the loop's branch and its penalty cycle, the
  // quantize's address register, the store and the quantize themselves.
  return quantize_q + gemm_s + softmax + gemm_o + convert_o + 4 + 7;
}

}  // namespace

TEST_CASE("a decode attention step takes the documented timing model's cycles", "[sim]") {
  struct Case {
    uint32_t context, head_dim;
    std::string format;
    std::vector<std::string> sets;
  };
  const Case c = GENERATE(
      Case{63, 16, "fp16", {"hw.dram.latency_cycles=10"}},
      Case{127, 64, "bf16", {"hw.vector_unit.lanes=32", "hw.dram.latency_cycles=10"}},
      Case{255, 32, "posit16_1", {"hw.vector_unit.format=fp16", "hw.dram.latency_cycles=30"}},
      Case{100,
           16,
           "fixed2_6",
           {"hw.mac_array.rows=16", "hw.mac_array.cols=32", "hw.dram.latency_cycles=10"}});
  // Grouped-query heads over one resident key/value head: one more query head adds one step.
  auto run = [&](uint32_t heads) {
    std::vector<std::string> sets = c.sets;
    sets.push_back("hw.mac_array.pe=" + pe_of(c.format));
    return test::run_both_modes(test::make_config(
        attention_workload("decode", 1, c.context, heads, 1, c.format, "sram", c.head_dim), sets));
  };
  const Json two = run(2), three = run(3);
  std::vector<std::string> sets = c.sets;
  sets.push_back("hw.mac_array.pe=" + pe_of(c.format));
  const hw::NmpParams p =
      test::make_config(attention_workload("decode", 1, c.context, 1, 1, c.format, "sram"), sets)
          .hw.params;
  INFO(c.format << " L " << c.context + 1 << " d " << c.head_dim);
  REQUIRE(three["cycles"]["total"].get<uint64_t>() - two["cycles"]["total"].get<uint64_t>() ==
          attention_step_model(p, c.context + 1, c.head_dim));
}

TEST_CASE(
    "a fixed-point softmax sums in a wide accumulator, and a narrow one saturates and is flagged",
    "[sim]") {
  // fixed<4,12> holds at most 7.9998: a softmax over 100 positions whose sum of exponentials
  // exceeds 8 saturated when sums stayed in the internal format, scaling every probability up.
  // The inputs are small (std 0.25) so that fixed2_14 operands do not clip: the error is the
  // vector unit's.
  Json w = attention_workload("decode", 1, 99, 4, 2, "fixed2_14", "dram");
  w["input"]["std"] = 0.25;
  w["layers"][0]["weights"]["std"] = 0.25;
  const std::vector<std::string> sets = {"hw.mac_array.pe=fixed2_14",
                                         "hw.vector_unit.format=fixed<4,12>"};
  auto run = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> all = sets;
    all.insert(all.end(), extra.begin(), extra.end());
    return sim::run_isolated(test::make_config(w, all));
  };
  const Json wide = run({});
  const Json narrow = run({"hw.vector_unit.accumulator_format=fixed<4,12>"});
  INFO("wide " << wide["error"].dump() << "\nnarrow " << narrow["error"].dump());
  // Both match their bit-exact reference: only FP32 and the counters tell them apart.
  REQUIRE(wide["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(narrow["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(wide["counters"]["vector_unit"]["saturations_reduce"] == 0);
  REQUIRE(narrow["counters"]["vector_unit"]["saturations_reduce"].get<uint64_t>() > 0);
  const double wide_db = wide["error"]["attn.output"]["sqnr_db"];
  const double narrow_db = narrow["error"]["attn.output"]["sqnr_db"];
  REQUIRE(wide_db > 30);
  REQUIRE(narrow_db < wide_db - 10);
  bool flagged = false;
  for (const Json& warning : narrow["warnings"]) flagged |= warning["kind"] == "saturation";
  REQUIRE(flagged);
  REQUIRE(wide["warnings"].empty());
  // The reductions' adds are priced in the accumulator's class.
  REQUIRE(wide["energy_pj"]["by_event"].contains("vec.add.fixed32"));
  REQUIRE(narrow["energy_pj"]["by_event"].contains("vec.add.fixed16"));
}

TEST_CASE("encoder attention is unmasked: every query sees every position", "[sim]") {
  // Not against the reference (which shares the mode's mask): against softmax(Q K^T / sqrt(d)) V
  // computed here in double over every position, from the dumped FP32 queries, keys and values.
  // The encoder's outputs are within a few fp16 steps of it; a prefill's (causal) are not.
  const uint32_t tokens = 8, heads = 2, d = 16;
  const auto max_error = [&](const std::string& mode) {
    const std::string dir =
        std::filesystem::temp_directory_path() / ("nmpsim_encoder_test_" + mode);
    std::filesystem::remove_all(dir);
    sim::RunOptions options;
    options.dump_dir = dir;
    const Json r = sim::run_isolated(
        test::make_config(attention_workload(mode, tokens, 0, heads, heads, "fp16", "dram", d),
                          {"hw.mac_array.pe=fp16"}, options));
    REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
    const std::vector<float> q = sim::read_npy(dir + "/input_f32.npy").values;
    const std::vector<float> k = sim::read_npy(dir + "/0_attn_keys_f32.npy").values;
    const std::vector<float> v = sim::read_npy(dir + "/0_attn_values_f32.npy").values;
    const std::vector<float> out = sim::read_npy(dir + "/0_attn_output_values.npy").values;
    std::filesystem::remove_all(dir);
    REQUIRE(out.size() == size_t{tokens} * heads * d);
    double worst = 0;
    for (uint32_t h = 0; h < heads; ++h) {
      for (uint32_t i = 0; i < tokens; ++i) {
        std::vector<double> p(tokens);
        double top = -1e300, sum = 0;
        for (uint32_t j = 0; j < tokens; ++j) {
          double s = 0;
          for (uint32_t e = 0; e < d; ++e)
            s += double{q[(i * heads + h) * d + e]} * k[(h * tokens + j) * d + e];
          p[j] = s / std::sqrt(double{d});
          top = std::max(top, p[j]);
        }
        for (double& x : p) sum += x = std::exp(x - top);
        for (uint32_t e = 0; e < d; ++e) {
          double o = 0;
          for (uint32_t j = 0; j < tokens; ++j) o += p[j] / sum * v[(h * tokens + j) * d + e];
          worst = std::max(worst, std::abs(o - out[(i * heads + h) * d + e]));
        }
      }
    }
    return worst;
  };
  REQUIRE(max_error("encoder") < 4e-3);  // fp16 operands: a few steps of 2^-11 at magnitude 1
  REQUIRE(max_error("prefill") > 0.1);
}
