// Graph models: layers wired by name through DRAM tensors in the vector format. Bit-exact
// against the exact model in every PE kind with every operand tiled, in both modes; looped code
// whose size does not grow with the tensors; clear errors for bad wiring.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <random>

#include "../arith/slow_reference.hpp"
#include "../support.hpp"
#include "hw_models/arith/format.hpp"
#include "sim/npy.hpp"
#include "workloads/graph.hpp"
#include "workloads/layer_fields.hpp"
#include "workloads/tiling.hpp"

using namespace nmp;
using sim::Json;

namespace {

// A pre-norm gated FFN block with a residual: norm -> (gate, up) -> act(gate) * up -> down ->
// + input; the linear layers in `loop_order` (empty: the mapper's).
Json ffn_block(const std::string& type, const std::string& format, uint32_t tokens, uint32_t hidden,
               uint32_t ffn, const std::string& function = "silu",
               const std::string& loop_order = "") {
  auto linear = [&](const std::string& name, uint32_t in, uint32_t out, const std::string& from) {
    Json l = {{"type", type},
              {"name", name},
              {"in_features", in},
              {"out_features", out},
              {"weights", {{"distribution", "normal"}, {"std", 0.1}, {"seed", name.size() + in}}}};
    if (type == "linear") l["format"] = format;
    if (!from.empty()) l["inputs"] = {from};
    if (!loop_order.empty()) l["loop_order"] = loop_order;
    return l;
  };
  return {{"name", "ffn"},
          {"tokens", tokens},
          {"input", {{"distribution", "uniform"}, {"low", -1}, {"high", 1}, {"seed", 3}}},
          {"layers",
           {{{"type", "rmsnorm"},
             {"name", "norm"},
             {"in_features", hidden},
             {"gain", {{"distribution", "uniform"}, {"low", 0.5}, {"high", 1.5}, {"seed", 4}}}},
            linear("gate", hidden, ffn, ""),
            linear("up", hidden, ffn, "norm"),
            {{"type", "activation"}, {"name", "act"}, {"function", function}, {"inputs", {"gate"}}},
            {{"type", "mul"}, {"name", "glu"}, {"inputs", {"act", "up"}}},
            linear("down", ffn, hidden, ""),
            {{"type", "add"}, {"name", "residual"}, {"inputs", {"down", "input"}}}}}};
}

std::string pe_of(const std::string& type, const std::string& format) {
  if (type == "bitlinear") return "ternary_int8";
  return format == "int8" ? "int8_int8" : format;
}

}  // namespace

TEST_CASE("graph layers equal their exact model in every PE kind, tiled every way", "[sim]") {
  struct Kind {
    std::string type, format;
  };
  const Kind k = GENERATE(Kind{"bitlinear", ""}, Kind{"linear", "int8"}, Kind{"linear", "fp16"},
                          Kind{"linear", "bf16"}, Kind{"linear", "posit16_1"},
                          Kind{"linear", "fixed2_14"}, Kind{"linear", "fp32"});
  const std::string dataflow = GENERATE("adder_tree", "weight_stationary");
  const std::string function = GENERATE("silu", "gelu", "squared_relu");
  const std::string order = GENERATE("rows_outer", "weights_outer");
  INFO(k.type << " " << k.format << " " << dataflow << " " << function << " " << order);
  // 7 tokens in m-tiles (rows_outer) or output blocks (weights_outer) of fewer rows; weight
  // tiles with edges in both dimensions.
  const Json r = test::run_both_modes(test::make_config(
      ffn_block(k.type, k.format, 7, 72, 100, function, order),
      {"hw.mac_array.pe=" + pe_of(k.type, k.format), "hw.mac_array.rows=16",
       std::string("hw.mac_array.cols=") + (k.type == "bitlinear" ? "24" : "12"),
       "hw.mac_array.dataflow=" + dataflow,
       std::string("hw.weight_sram.capacity_kib=") + (k.type == "bitlinear" ? "1" : "2"),
       "hw.act_sram.capacity_kib=4", "hw.acc_sram.capacity_kib=2"}));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  // weights_outer runs act in gate's epilogue, glu in up's (act is computed by then) and the
  // residual in down's: gate, up and down store no output of their own.
  const bool fused = order == "weights_outer";
  REQUIRE(r["invariants"]["outputs_checked"] ==
          7 * (fused ? 72 + 100 + 100 + 72 : 72 + 100 + 100 + 100 + 100 + 72 + 72));
  for (const auto& [host, layer] : {std::pair{1, "act"}, {2, "glu"}, {5, "residual"}}) {
    const Json& h = r["layers"][host];
    REQUIRE(h["mapping"].value("fused", std::string()) == (fused ? layer : ""));
    REQUIRE(h["output_in_dram"].is_null() == fused);
  }
  REQUIRE(r["counters"]["mac_array"]["macs"] == 7 * 3 * 72 * 100);
  // The small SRAMs really tile: several tiles of rows, output blocks and reduction blocks.
  for (const Json& l : r["layers"]) {
    if (l["name"] == "down") {
      REQUIRE(l["mapping"]["loop_order"] == order);
      // weights_outer keeps all 7 rows' accumulators and may keep all outputs in one block
      // (t_sim_mapper.cpp tiles its rows and outputs on random shapes).
      if (order == "rows_outer") {
        REQUIRE(l["tiles"]["m"].get<uint32_t>() < 7);
        REQUIRE(l["tiles"]["n"].get<uint32_t>() < 72);
      }
      REQUIRE(l["tiles"]["k"].get<uint32_t>() < 100);
    }
    // gate and up read the norm's rows: in weights_outer, up uses the rows gate quantized
    // (integer kinds); the other kinds' rows need one rounding, which the DMA gives them.
    const bool int_kind = k.type == "bitlinear" || k.format == "int8";
    if (order == "weights_outer" && (l["name"] == "gate" || l["name"] == "up")) {
      REQUIRE(l["mapping"]["row_conversion"] == (int_kind ? "pass" : "dma"));
      REQUIRE((l["mapping"]["rows"]["quantize"] == 0) == !int_kind);  // no pass, no rows
      REQUIRE(l["mapping"]["quantize_pass"] == (!int_kind           ? "none"
                                                : l["name"] == "up" ? "shared with gate"
                                                                    : "own"));
    }
  }
  for (const auto& [name, e] : r["error"].items()) {
    INFO(name);
    if (e.is_null()) {  // a fused layer's host: no output of its own to compare
      REQUIRE(fused);
      continue;
    }
    if (k.format != "fixed2_14") REQUIRE(e["sqnr_db"].get<double>() > 20);
  }
}

TEST_CASE("a graph's program grows with its layers, not with its tensors", "[sim]") {
  const std::string order = GENERATE("rows_outer", "weights_outer", "");
  INFO("loop order " << (order.empty() ? "the mapper's" : order));
  auto instructions = [&](uint32_t tokens, uint32_t hidden, uint32_t ffn) {
    const sim::SimConfig c =
        test::make_config(ffn_block("bitlinear", "", tokens, hidden, ffn, "silu", order));
    return workloads::lower_graph(c.workload.model, nullptr, c.hw.params).program.size();
  };
  const size_t small = instructions(3, 100, 260);
  const size_t large = instructions(300, 2500, 6900);
  INFO(small << " vs " << large);
  if (order == "rows_outer") {
    // Partial tiles in every dimension at 1x and ~1,000x the weights and 100x the tokens: the
    // larger one only adds the set-up of loops the smaller one did not need (at most 12
    // instructions for each of the three linear layers) and, in each of the four vector
    // layers' pipelined row loops, a loop's two instructions and at most two more copies of a
    // tile's steps (the last full tile's and the edge tile's: at most 16 instructions each).
    REQUIRE(large <= small + 3 * 12 + 4 * (2 + 2 * 16));
  }
  // A rows_outer linear layer is one loop nest, a weights_outer one two (the quantize pass and
  // the gemm pass, whose edge super tile repeats its body; an inline epilogue's blocks are
  // emitted up to four times, the first, the loop's, the last full one and the edge, as each
  // loads the next one's first tile; overlapped epilogues are unrolled, up to four chunks of
  // rows, in three places); a vector layer's pipelined row loop holds up to three copies of a
  // tile's steps: at most 70 instructions for each of the seven layers, and 450 more for each
  // weights_outer one.
  const size_t budget = 7 * 70 + (order == "rows_outer" ? 0 : 3 * 450);
  REQUIRE(large < budget);
  // One BitNet b1.58 2B4T-sized FFN block of one decode token, and of 64 prefill tokens.
  REQUIRE(instructions(1, 2560, 6912) < budget);
  REQUIRE(instructions(64, 2560, 6912) < budget);
}

TEST_CASE("a recurrent layer's program does not grow with its weights", "[sim]") {
  auto instructions = [](uint32_t hidden, const std::string& weight_kib) {
    Json w = {{"name", "rnn"},
              {"tokens", 50},
              {"layers",
               {{{"type", "gru"},
                 {"name", "gru"},
                 {"format", "posit8_0"},
                 {"in_features", hidden},
                 {"hidden", hidden},
                 {"bidirectional", true},
                 {"inputs", {"input"}}}}}};
    const sim::SimConfig c = test::make_config(
        w, {"hw.mac_array.pe=posit8_0", "hw.weight_sram.capacity_kib=" + weight_kib});
    return workloads::lower_graph(c.workload.model, nullptr, c.hw.params).program.size();
  };
  // Streamed through 16 KiB halves: 300 x 100 gate weights in a few output blocks of one
  // reduction tile, all 50 timesteps in one chunk; 3000 x 1000 and 6000 x 2000 in hundreds of
  // tiles with edges both ways, and chunks of fewer timesteps (a loop of full chunks, then an
  // edge chunk: the chunk's code twice). Once both edges exist the code stops growing: each of
  // the 8 matrix products (W and U, two directions, full and edge chunks) is at most two output
  // blocks of a first tile, a reduction loop and an edge.
  const size_t small = instructions(100, "16"), large = instructions(1000, "16");
  INFO(small << " vs " << large);
  REQUIRE(large == instructions(2000, "16"));
  REQUIRE(large <= 2 * small + 8 * 24);
  REQUIRE(large < 2 * 2 * 2 * 80);
}

TEST_CASE("a graph runs timing-only without values, with the same cycles", "[sim]") {
  const Json w = ffn_block("bitlinear", "", 2, 128, 256);
  sim::RunOptions timing;
  timing.timing_only = true;
  const Json full = sim::run_isolated(test::make_config(w));
  const Json fast = sim::run_isolated(test::make_config(w, {}, timing));
  REQUIRE(full["cycles"] == fast["cycles"]);
  REQUIRE(full["counters"]["dram"] == fast["counters"]["dram"]);
  // Zero-weight skips: counted with values; estimated (and flagged) without, within 2% of the
  // count on these 2 x 64K ternary weights (the estimate's standard error is ~0.5%).
  REQUIRE(full["estimates"].empty());
  REQUIRE(fast["estimates"].contains("mac_array.zero_skips"));
  const double counted = full["counters"]["mac_array"]["zero_skips"].get<double>();
  const double estimated = fast["counters"]["mac_array"]["zero_skips"].get<double>();
  REQUIRE(counted > 0);
  REQUIRE(std::fabs(estimated - counted) < 0.02 * counted);
  REQUIRE(fast["counters"]["mac_array"]["mac_ops"].get<double>() + estimated ==
          fast["counters"]["mac_array"]["macs"].get<double>());
  REQUIRE(std::fabs(fast["energy_pj"]["total"].get<double>() /
                        full["energy_pj"]["total"].get<double>() -
                    1) < 1e-3);
}

TEST_CASE("bad graph wiring is a clear error", "[sim]") {
  Json w = ffn_block("bitlinear", "", 2, 64, 96);
  w["layers"][4]["inputs"] = {"act", "nope"};
  REQUIRE_THROWS_WITH(test::make_config(w),
                      Catch::Contains("/layers/4/inputs") &&
                          Catch::Contains("no earlier layer or model input is named \"nope\""));
  w = ffn_block("bitlinear", "", 2, 64, 96);
  w["layers"][6]["inputs"] = {"down", "up"};
  REQUIRE_THROWS_WITH(test::make_config(w),
                      Catch::Contains("the two inputs differ in width (64 and 96)"));
  w = ffn_block("bitlinear", "", 2, 64, 96);
  w["layers"][5]["in_features"] = 64;
  REQUIRE_THROWS_WITH(test::make_config(w),
                      Catch::Contains("/layers/5/in_features") &&
                          Catch::Contains("expected 96 (the width of its input), got 64"));
  w = ffn_block("bitlinear", "", 2, 64, 96);
  w["layers"][4].erase("inputs");
  REQUIRE_THROWS_WITH(test::make_config(w), Catch::Contains("add, mul and concat need two inputs"));
}

TEST_CASE("every field a layer type describes is read, range-checked and required as described",
          "[sim]") {
  // Iterates the kinds' own descriptions (workloads/layer_fields.hpp), so a kind added with its
  // fields is checked here without a line of this test.
  using workloads::FieldType;
  const auto json_of = [](const workloads::LayerField& f, double v) {
    if (f.type == FieldType::kChoice) return Json(f.choices[static_cast<size_t>(v)]);
    return f.type == FieldType::kCount ? Json(static_cast<int64_t>(v)) : Json(v);
  };
  size_t fields_checked = 0;
  for (const workloads::LayerKindInfo& info : workloads::kLayerKinds) {
    const workloads::LayerKindFields& kind = workloads::layer_kind_fields(info.kind);
    if (kind.fields.empty()) continue;
    REQUIRE(info.inputs == 1);  // a kind of two inputs with fields needs a second input here
    // One layer of the kind over a model input of 2048 columns (twice rope's most heads) and
    // 4096 rows (a pool's largest stride), each required field at its least.
    const auto workload = [&](const workloads::LayerField* changed, const Json& value) {
      Json layer = {{"type", info.name}, {"name", "x"}, {"in_features", 2048}};
      for (const workloads::LayerField& f : kind.fields) {
        if (f.required) layer[f.name] = json_of(f, f.low);
      }
      if (changed) layer[changed->name] = value;
      return Json{{"name", "fields"}, {"tokens", 4096}, {"layers", {layer}}};
    };
    const workloads::LayerSpec defaults;
    for (const workloads::LayerField& f : kind.fields) {
      INFO(info.name << "/" << f.name);
      const std::string pointer = "/layers/0/" + std::string(f.name);
      // A valid value other than its default reads back as itself.
      const double value = f.type == FieldType::kChoice ? f.choices.size() - 1.0
                           : f.get(defaults) == f.high  ? f.low
                                                        : f.high;
      const sim::SimConfig c = test::make_config(workload(&f, json_of(f, value)));
      REQUIRE(f.get(c.workload.model.layers.front()) == value);
      // Outside its range, or not one of its names: an error at its JSON path.
      const Json bad = f.type == FieldType::kChoice  ? Json("no_such_name")
                       : f.type == FieldType::kCount ? json_of(f, f.high + 1)
                                                     : json_of(f, f.high * 2);
      REQUIRE_THROWS_WITH(test::make_config(workload(&f, bad)), Catch::Contains(pointer));
      REQUIRE_THROWS_WITH(test::make_config(workload(&f, Json(true))), Catch::Contains(pointer));
      if (f.type != FieldType::kChoice && f.low > 0) {
        REQUIRE_THROWS_WITH(test::make_config(workload(&f, json_of(f, f.low - 1))),
                            Catch::Contains(pointer));
      }
      // Left out: the default, or an error if required.
      Json without = workload(nullptr, nullptr);
      without["layers"][0].erase(f.name);
      if (f.required) {
        REQUIRE_THROWS_WITH(test::make_config(without), Catch::Contains(pointer));
      } else {
        REQUIRE(f.get(test::make_config(without).workload.model.layers.front()) == f.get(defaults));
      }
      ++fields_checked;
    }
  }
  REQUIRE(fields_checked >= 8);
}

TEST_CASE("every vector layer type alone equals its exact model in both modes, tiled", "[sim]") {
  // Iterates the kinds' table: a kind added there is run here. An embedding reads token ids,
  // not rows (its own test is below).
  size_t kinds_run = 0;
  for (const workloads::LayerKindInfo& info : workloads::kLayerKinds) {
    if (info.row_work == workloads::RowWork::kNone || info.kind == workloads::LayerKind::kEmbedding)
      continue;
    INFO(info.name);
    Json layer = {{"type", info.name}, {"name", "x"}, {"in_features", 64}};
    for (const workloads::LayerField& f : workloads::layer_kind_fields(info.kind).fields) {
      if (!f.required) continue;
      layer[f.name] = f.type == workloads::FieldType::kChoice ? Json(f.choices.front())
                                                              : Json(static_cast<int64_t>(f.low));
    }
    Json w = {{"name", "one-layer"}, {"tokens", 6}, {"input", test::uniform(2, 3)}};
    if (info.inputs == 2) {  // a second model input of the same rows
      layer["inputs"] = {"input", "other"};
      w["inputs"] = {{"other", {{"tokens", 6}, {"distribution", "uniform"}, {"seed", 4}}}};
    }
    w["layers"] = {layer};
    // An activation SRAM of 2 KiB holds a few rows of 64 (and their second input) at a time.
    const Json r = test::run_both_modes(test::make_config(w, {"hw.act_sram.capacity_kib=2"}));
    REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
    REQUIRE(r["invariants"]["outputs_checked"].get<uint64_t>() > 0);
    REQUIRE(r["layers"][0]["tiles"]["m"].get<uint32_t>() < 6);
    ++kinds_run;
  }
  REQUIRE(kinds_run >= 8);
}

namespace {

// A pre-norm attention block: norm -> q, k, v -> attention (its own tokens' keys and values
// appended to a cached context) -> o -> + input.
Json attention_block(const std::string& format, const std::string& mode, uint32_t tokens,
                     uint32_t context) {
  auto linear = [&](const std::string& name, uint32_t out, const Json& inputs) {
    Json l = {{"type", "linear"},
              {"format", format},
              {"name", name},
              {"in_features", 64},
              {"out_features", out},
              {"weights", {{"distribution", "normal"}, {"std", 0.2}, {"seed", name[0]}}}};
    if (!inputs.is_null()) l["inputs"] = inputs;
    return l;
  };
  return {{"name", "attention-block"},
          {"tokens", tokens},
          {"layers",
           {{{"type", "rmsnorm"}, {"name", "norm"}, {"in_features", 64}},
            linear("q", 64, nullptr),
            linear("k", 32, {"norm"}),
            linear("v", 32, {"norm"}),
            {{"type", "attention"},
             {"name", "attn"},
             {"heads", 4},
             {"kv_heads", 2},
             {"head_dim", 16},
             {"mode", mode},
             {"context", context},
             {"format", format},
             {"inputs", {"q", "k", "v"}}},
            linear("o", 64, nullptr),
            {{"type", "add"}, {"name", "res"}, {"inputs", {"o", "input"}}}}}};
}

}  // namespace

TEST_CASE("attention in a graph appends its tokens' keys and values and equals its exact model",
          "[sim]") {
  struct Mode {
    std::string mode;
    uint32_t tokens, context;
  };
  const Mode m = GENERATE(Mode{"prefill", 5, 3}, Mode{"prefill", 6, 0}, Mode{"decode", 1, 9},
                          Mode{"encoder", 6, 0}, Mode{"encoder", 5, 3});
  const std::string format = GENERATE("int8", "fp16", "bf16", "posit16_1", "fixed2_14", "fp32");
  const std::string dataflow =
      GENERATE("adder_tree", "weight_stationary", "output_stationary", "input_stationary");
  INFO(m.mode << " " << m.tokens << " after " << m.context << ", " << format << ", " << dataflow);
  const std::string pe = format == "int8" ? "int8_int8" : format;
  const Json r = test::run_both_modes(
      test::make_config(attention_block(format, m.mode, m.tokens, m.context),
                        {"hw.mac_array.pe=" + pe, "hw.mac_array.rows=8", "hw.mac_array.cols=8",
                         "hw.mac_array.dataflow=" + dataflow}));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(r["invariants"]["outputs_checked"] == m.tokens * (64 * 5 + 32 * 2));
  // Q K^T and P V over every position: 2 x heads x tokens x positions x d MACs, beside the
  // projections' 64 x (64 + 32 + 32 + 64) per token; and where the array transposes the
  // appended value columns (a prefill chunk longer than the vector pipeline, a layout whose
  // value blocks hold a position as a column: the adder tree's and input stationary's), an
  // identity gemm of d x d per token and key/value head.
  const uint64_t positions = m.context + m.tokens;
  const bool transposed_on_array =
      m.tokens > 4 && (dataflow == "adder_tree" || dataflow == "input_stationary");
  const uint64_t transpose_macs = transposed_on_array ? m.tokens * 2 * 16 * 16 : 0;
  REQUIRE(r["layers"][4]["transpose_macs"] == transpose_macs);
  REQUIRE(r["counters"]["mac_array"]["macs"] ==
          m.tokens * (64 * 192 + 2 * 4 * positions * 16) + transpose_macs);
  if (format == "fp16" || format == "fp32") REQUIRE(r["error"]["attn.output"]["max_abs"] < 1e-2);
}

TEST_CASE("a prefill's cache columns are transposed on chip, not stored a burst per element",
          "[sim]") {
  // With the adder tree's and input-stationary layouts an appended position is a column of the
  // value cache's blocks (with the others, of the key cache's); a column stored from SRAM takes
  // one DRAM burst per element. The attention layer's DRAM bytes written (whole bursts) stay
  // within 1.5x of what it asks to write: its output and the appended keys and values (a burst
  // per element of a column would be 32x the column's bytes here).
  const std::string dataflow =
      GENERATE("adder_tree", "weight_stationary", "output_stationary", "input_stationary");
  INFO(dataflow);
  const uint32_t tokens = 64, heads = 4, kv_heads = 2, d = 16;
  sim::RunOptions options;
  options.timing_only = true;
  const Json r = sim::run_isolated(
      test::make_config(attention_block("fp16", "prefill", tokens, 0),
                        {"hw.mac_array.pe=fp16", "hw.mac_array.dataflow=" + dataflow}, options));
  const Json& attn = r["layers"][4];
  REQUIRE(attn["name"] == "attn");
  const double written = attn["dram"]["write_bytes"].get<double>();
  const double output = double{tokens} * heads * d * 4, appended = 2.0 * tokens * kv_heads * d * 2;
  REQUIRE(written >= output + appended);
  REQUIRE(written <= 1.5 * (output + appended));
}

namespace {

// q, k and v projections of the model's input (random weights from `seed`) and attention over
// them in `mode`.
Json projected_attention(const std::string& format, const std::string& mode, uint32_t tokens,
                         uint32_t context, uint32_t heads, uint32_t kv_heads, uint32_t d,
                         int seed) {
  auto linear = [&](const std::string& name, uint32_t out) {
    return Json{{"type", "linear"},
                {"format", format},
                {"name", name},
                {"in_features", heads * d},
                {"out_features", out},
                {"inputs", {"input"}},
                {"weights", {{"distribution", "normal"}, {"std", 0.2}, {"seed", seed}}}};
  };
  return {{"name", mode},
          {"tokens", tokens},
          {"input", {{"distribution", "uniform"}, {"low", -1}, {"high", 1}, {"seed", seed}}},
          {"layers",
           {linear("q", heads * d),
            linear("k", kv_heads * d),
            linear("v", kv_heads * d),
            {{"type", "attention"},
             {"name", "attn"},
             {"heads", heads},
             {"kv_heads", kv_heads},
             {"head_dim", d},
             {"mode", mode},
             {"context", context},
             {"format", format},
             {"inputs", {"q", "k", "v"}}}}}};
}

}  // namespace

TEST_CASE(
    "appended value columns transposed by an identity gemm equal the exact model on "
    "random shapes",
    "[sim]") {
  // Attention prefills of random PE kinds, heads, head sizes, tokens (in one chunk or
  // several: the activation SRAM is drawn small), contexts, arrays and dataflows; where the
  // array transposes (adder tree and input stationary), the outputs equal the reference's.
  test::Pick pick(1515);
  int on_array = 0;
  const char* formats[] = {"int8", "fp16", "bf16", "fp8_e4m3", "posit16_1", "fixed2_14"};
  for (int trial = 0; trial < 60; ++trial) {
    const std::string format = formats[pick(0, 5)];
    const uint32_t kv_heads = pick(1, 3), heads = kv_heads * pick(1, 2), d = 4 * pick(2, 12);
    const uint32_t tokens = pick(5, 48), context = pick(0, 20);
    const char* dataflows[] = {"adder_tree", "input_stationary", "weight_stationary"};
    const std::string dataflow = dataflows[pick(0, 2)];
    const Json w =
        projected_attention(format, "prefill", tokens, context, heads, kv_heads, d, trial);
    const std::vector<std::string> sets = {
        "hw.mac_array.pe=" + (format == "int8" ? std::string("int8_int8") : format),
        "hw.mac_array.dataflow=" + dataflow,
        "hw.mac_array.rows=" + std::to_string(8u << pick(0, 2)),
        "hw.mac_array.cols=" + std::to_string(8u << pick(0, 2)),
        "hw.act_sram.capacity_kib=" + std::to_string(pick(8, 32)),
        "hw.acc_sram.capacity_kib=" + std::to_string(pick(16, 64))};
    INFO("trial " << trial << ", " << format << ": " << heads << " heads, " << kv_heads
                  << " kv heads, d " << d << ", " << tokens << " tokens after " << context << ", "
                  << Json(sets).dump());
    Json r;
    try {
      r = sim::run_isolated(test::make_config(w, sets));
    } catch (const sim::ConfigError&) {
      continue;  // these SRAMs cannot hold some layer: not a legal trial
    }
    REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
    if (r["layers"][3]["transpose_macs"].get<uint64_t>() > 0) {
      REQUIRE(dataflow != "weight_stationary");
      REQUIRE(r["layers"][3]["transpose_macs"] == uint64_t{kv_heads} * tokens * d * d);
      ++on_array;
    }
  }
  INFO(on_array << " trials transposed on the array");
  REQUIRE(on_array >= 25);
}

TEST_CASE(
    "an encoder builds its keys and values in the weight SRAM where they fit, with the values "
    "of the cache in DRAM, on random shapes",
    "[sim]") {
  // Encoder attention (q, k and v appended, no context) of random PE kinds, heads, head sizes,
  // tokens, arrays, dataflows and SRAMs, once with a weight SRAM that holds every key/value
  // head's K and V^T (built on chip, dma.copy into the weight SRAM: the layer writes only its
  // output to DRAM and reads only Q, K, V and its constants) and once with one that holds two
  // heads' at most (caches written to DRAM and loaded back). Both equal the exact model, so
  // their outputs are the same bits.
  test::Pick pick(2727);
  int on_chip = 0, compared = 0;
  const char* formats[] = {"int8", "fp16", "bf16", "fp8_e4m3", "posit16_1", "fixed2_14"};
  for (int trial = 0; trial < 40; ++trial) {
    const std::string format = formats[pick(0, 5)];
    const uint32_t kv_heads = pick(1, 4), heads = kv_heads * pick(1, 2), d = 4 * pick(2, 16);
    const uint32_t hidden = heads * d, tokens = pick(2, 48);
    const char* dataflows[] = {"adder_tree", "input_stationary", "weight_stationary",
                               "output_stationary"};
    const std::string dataflow = dataflows[pick(0, 3)];
    const Json w = projected_attention(format, "encoder", tokens, 0, heads, kv_heads, d, trial);
    const std::string pe = format == "int8" ? std::string("int8_int8") : format;
    std::vector<std::string> sets = {"hw.mac_array.pe=" + pe,
                                     "hw.mac_array.dataflow=" + dataflow,
                                     "hw.mac_array.rows=" + std::to_string(8u << pick(0, 2)),
                                     "hw.mac_array.cols=" + std::to_string(8u << pick(0, 2)),
                                     "hw.act_sram.capacity_kib=" + std::to_string(pick(8, 32)),
                                     "hw.acc_sram.capacity_kib=" + std::to_string(pick(16, 64))};
    // One key/value head's K and V^T in the array's layout; a weight SRAM of 1.5 times that
    // holds one head's (the least attention needs), never two.
    const workloads::Geometry g = workloads::geometry_of(test::make_config(w, sets).hw.params);
    const uint64_t head_bytes =
        workloads::round_up(hw::weight_operand_bytes(tokens, d, g.layout), g.wgt_word) +
        workloads::round_up(hw::weight_operand_bytes(d, tokens, g.layout), g.wgt_word);
    const uint64_t small_kib = (head_bytes * 3 / 2 + 1023) / 1024;
    INFO("trial " << trial << ", " << format << ": " << heads << " heads, " << kv_heads
                  << " kv heads, d " << d << ", " << tokens << " tokens, " << Json(sets).dump());
    std::vector<Json> runs;
    for (const uint64_t kib : {uint64_t{4096}, small_kib}) {
      std::vector<std::string> with = sets;
      with.push_back("hw.weight_sram.capacity_kib=" + std::to_string(kib));
      try {
        runs.push_back(sim::run_isolated(test::make_config(w, with)));
      } catch (const sim::ConfigError&) {
        break;  // these SRAMs cannot hold some layer: not a legal trial
      }
    }
    if (runs.size() < 2) continue;
    const uint64_t output = uint64_t{tokens} * hidden * 2;  // bf16 in DRAM
    // The appended keys and values in the array's format, one byte an element at least.
    const uint64_t caches = 2 * uint64_t{tokens} * kv_heads * d;
    for (const Json& r : runs) {
      REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
      REQUIRE(r["layers"][3]["name"] == "attn");
    }
    const Json& big = runs[0]["layers"][3];
    const Json& small = runs[1]["layers"][3];
    const bool big_on_chip = runs[0]["counters"]["dma"]["copies"].get<uint64_t>() > 0;
    const bool small_on_chip = runs[1]["counters"]["dma"]["copies"].get<uint64_t>() > 0;
    if (big_on_chip) {
      ++on_chip;
      REQUIRE(big["weight_bytes"] == 0);
      REQUIRE(big["dram"]["write_bytes"].get<uint64_t>() >= output);
    }
    if (!small_on_chip) REQUIRE(small["weight_bytes"].get<uint64_t>() > 0);
    if (big_on_chip && !small_on_chip) {
      // The DRAM path writes the caches and reads them back; the on-chip one does neither.
      ++compared;
      REQUIRE(small["dram"]["write_bytes"].get<uint64_t>() >=
              big["dram"]["write_bytes"].get<uint64_t>() + caches);
      REQUIRE(small["dram"]["read_bytes"].get<uint64_t>() >=
              big["dram"]["read_bytes"].get<uint64_t>() + caches);
    }
  }
  INFO(on_chip << " trials built their keys and values on chip, " << compared
               << " of them also in DRAM");
  REQUIRE(on_chip >= 20);
  REQUIRE(compared >= 10);
}

TEST_CASE(
    "a float cache transposed by an identity gemm holds what the gemm gives: -0 beside a "
    "positive entry becomes +0, an infinity makes its position NaN",
    "[sim]") {
  // fp16 attention over 8 appended positions whose keys and values come from files. Position 2
  // has a value of 1e6, beyond fp16 (infinity in the cache: times the identity's zeros, NaN in
  // every dimension of that position); position 5 has a -0 beside positive entries (+0 after the
  // gemm's sum); position 6 is -0 throughout (stays -0). The outputs equal the reference's only
  // if it models the transposing gemm: a plain transpose would keep the NaN to one dimension.
  const uint32_t tokens = 8, d = 16;
  const std::string dir = (std::filesystem::temp_directory_path() / "nmpsim_identity_gemm");
  std::filesystem::create_directories(dir);
  std::vector<float> q(size_t{tokens} * 2 * d), k(size_t{tokens} * d), v(size_t{tokens} * d);
  for (size_t i = 0; i < q.size(); ++i) q[i] = 0.05f * static_cast<float>(i % 7) - 0.1f;
  for (size_t i = 0; i < k.size(); ++i) k[i] = 0.03f * static_cast<float>(i % 5) - 0.05f;
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.25f + 0.01f * static_cast<float>(i % 11);
  v[2 * d + 4] = 1e6f;
  v[5 * d + 3] = -0.0f;
  for (uint32_t i = 0; i < d; ++i) v[6 * d + i] = -0.0f;
  sim::write_npy(dir + "/q.npy", sim::NpyType::kFloat32, q.data(), {tokens, 2 * d});
  sim::write_npy(dir + "/k.npy", sim::NpyType::kFloat32, k.data(), {tokens, d});
  sim::write_npy(dir + "/v.npy", sim::NpyType::kFloat32, v.data(), {tokens, d});
  const Json w = {{"name", "identity-gemm"},
                  {"tokens", tokens},
                  {"input", {{"file", dir + "/q.npy"}}},
                  {"inputs",
                   {{"kin", {{"tokens", tokens}, {"file", dir + "/k.npy"}}},
                    {"vin", {{"tokens", tokens}, {"file", dir + "/v.npy"}}}}},
                  {"layers",
                   {{{"type", "attention"},
                     {"name", "attn"},
                     {"heads", 2},
                     {"kv_heads", 1},
                     {"head_dim", d},
                     {"mode", "prefill"},
                     {"context", 0},
                     {"format", "fp16"},
                     {"inputs", {"input", "kin", "vin"}}}}}};
  const Json r = test::run_both_modes(test::make_config(
      w, {"hw.mac_array.pe=fp16", "hw.mac_array.rows=16", "hw.mac_array.cols=16"}));
  REQUIRE(r["layers"][0]["transpose_macs"] == uint64_t{tokens} * d * d);
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(r["invariants"]["outputs_checked"] == tokens * 2 * d);
}

TEST_CASE("attention in a graph rejects what it cannot run", "[sim]") {
  Json w = attention_block("fp16", "decode", 3, 2);
  REQUIRE_THROWS_WITH(sim::run_isolated(test::make_config(w, {"hw.mac_array.pe=fp16"})),
                      Catch::Contains("a decode step that appends its keys and values takes one "
                                      "token"));
  w = attention_block("fp16", "prefill", 3, 2);
  w["layers"][4]["inputs"] = {"q", "norm", "v"};
  REQUIRE_THROWS_WITH(
      test::make_config(w, {"hw.mac_array.pe=fp16"}),
      Catch::Contains("input 1, k (kv_heads x head_dim), must be 32 wide; it is 64"));
  w["layers"][4]["inputs"] = {"q", "norm"};
  REQUIRE_THROWS_WITH(test::make_config(w, {"hw.mac_array.pe=fp16"}),
                      Catch::Contains("/layers/4/inputs") &&
                          Catch::Contains("expected an array of three layer names, q, k and v, "
                                          "or of one"));
}

TEST_CASE("a post-LayerNorm encoder block equals its exact model", "[sim]") {
  const std::string format = GENERATE("fp16", "bf16", "posit16_1", "fp32");
  Json w = attention_block(format, "prefill", 6, 0);
  w["layers"][0] = {
      {"type", "layernorm"},
      {"name", "norm"},
      {"in_features", 64},
      {"eps_log2", 30},
      {"gain", {{"distribution", "uniform"}, {"low", 0.5}, {"high", 1.5}, {"seed", 2}}},
      {"bias", {{"distribution", "uniform"}, {"low", -1}, {"high", 1}, {"seed", 3}}}};
  w["layers"].push_back({{"type", "layernorm"}, {"name", "post_norm"}});
  INFO(format);
  const Json r = test::run_both_modes(test::make_config(w, {"hw.mac_array.pe=" + format}));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(r["error"]["post_norm.output"]["sqnr_db"].get<double>() > 30);
}

TEST_CASE("an embedding lookup gathers the token ids' rows", "[sim]") {
  const Json w = {{"name", "emb"},
                  {"tokens", 7},
                  {"layers",
                   {{{"type", "embedding"},
                     {"name", "embed"},
                     {"vocab", 1000},
                     {"out_features", 48},
                     {"weights", {{"std", 0.5}, {"seed", 3}}}},
                    {{"type", "rmsnorm"}, {"name", "norm"}},
                    {{"type", "bitlinear"},
                     {"name", "proj"},
                     {"in_features", 48},
                     {"out_features", 32},
                     {"loop_order", "rows_outer"}}}}};  // one loop nest at any number of tokens
  // A 1 KiB activation SRAM: the rows gather in m-tiles of fewer than 7.
  const Json r = test::run_both_modes(test::make_config(w, {"hw.act_sram.capacity_kib=1"}));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(r["layers"][0]["tiles"]["m"].get<uint32_t>() < 7);
  // The lookup itself is exact: its rows are the table's, rounded to the vector format (fp32).
  REQUIRE(r["error"]["embed.output"]["max_abs"] == 0.0);
  // One 192-byte row read per token: 7 x 3 bursts of 64 bytes.
  REQUIRE(r["layers"][0]["dram_bytes"].get<uint64_t>() >= 7 * 192);
  // The lookup loops: one gather per m-tile, so 1,000x the tokens adds at most the code of
  // an edge tile (each layer's loop may or may not need one). The lookup and the norm are
  // pipelined row loops: at most three copies of a tile's steps each (the loop's, the last
  // full tile's, the edge tile's).
  auto instructions = [&](uint32_t tokens) {
    Json big = w;
    big["tokens"] = tokens;
    const sim::SimConfig c = test::make_config(big, {"hw.act_sram.capacity_kib=1"});
    return workloads::lower_graph(c.workload.model, nullptr, c.hw.params).program.size();
  };
  REQUIRE(instructions(7000) <= instructions(7) + 3 * 12);
  REQUIRE(instructions(7000) < 130);
  Json bad = w;
  std::swap(bad["layers"][0], bad["layers"][1]);
  REQUIRE_THROWS_WITH(
      test::make_config(bad),
      Catch::Contains("/layers/1/inputs") && Catch::Contains("its input must be a model input"));
}

TEST_CASE("BitNet layers run on int8 PEs beside int8 attention, their weights packed ternary",
          "[sim]") {
  // The FFN block's ternary weights on a ternary array and on an int8 array: the same values,
  // the same cycles (the packed tiles are the same bytes); only the MAC energy differs.
  const Json w = ffn_block("bitlinear", "", 3, 64, 96);
  const Json ternary = sim::run_isolated(test::make_config(w));
  const Json int8 = test::run_both_modes(test::make_config(w, {"hw.mac_array.pe=int8_int8"}));
  REQUIRE(int8["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(int8["error"] == ternary["error"]);
  REQUIRE(int8["cycles"]["total"] == ternary["cycles"]["total"]);
  REQUIRE(int8["counters"]["dram"] == ternary["counters"]["dram"]);
  REQUIRE(int8["energy_pj"]["by_unit"]["mac_array"].get<double>() >
          ternary["energy_pj"]["by_unit"]["mac_array"].get<double>());
  // A BitNet decoder layer with its attention in int8 on one int8 array.
  Json layer = attention_block("int8", "decode", 1, 9);
  for (const int i : {1, 2, 3, 5}) {
    layer["layers"][i]["type"] = "bitlinear";
    layer["layers"][i].erase("format");
  }
  const Json r = test::run_both_modes(test::make_config(layer, {"hw.mac_array.pe=int8_int8"}));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  // A ternary array cannot: its PEs cannot multiply int8 by int8.
  REQUIRE_THROWS_WITH(sim::run_isolated(test::make_config(layer)),
                      Catch::Contains("needs int8_int8 processing elements"));
}

namespace {

// A recurrent stack as graph layers: layernorm -> bidirectional GRU -> projection -> LSTM ->
// + projection (a residual around the LSTM).
Json recurrent_block(const std::string& format, uint32_t tokens) {
  return {{"name", "recurrent-block"},
          {"tokens", tokens},
          {"input", test::uniform(1, 5)},
          {"layers",
           {{{"type", "layernorm"}, {"name", "norm"}, {"in_features", 24}},
            {{"type", "gru"},
             {"name", "gru"},
             {"format", format},
             {"in_features", 24},
             {"hidden", 32},
             {"bidirectional", true},
             {"weights", test::uniform(0.4, 7)},
             {"biases", test::uniform(0.2, 8)}},
            {{"type", "linear"},
             {"name", "proj"},
             {"format", format},
             {"in_features", 64},
             {"out_features", 20},
             {"weights", {{"std", 0.2}, {"seed", 9}}}},
            {{"type", "lstm"},
             {"name", "lstm"},
             {"format", format},
             {"in_features", 20},
             {"hidden", 20},
             {"weights", test::uniform(0.4, 10)},
             {"biases", test::uniform(0.2, 11)}},
            {{"type", "add"}, {"name", "res"}, {"inputs", {"lstm", "proj"}}}}}};
}

}  // namespace

TEST_CASE("lstm and gru layers in a graph equal their exact model, resident or streamed", "[sim]") {
  const std::string format = GENERATE("int8", "fp16", "posit8_0", "fixed2_14");
  const std::string weight_kib = GENERATE("64", "1");
  INFO(format << ", weight SRAM " << weight_kib << " KiB");
  const Json r = test::run_both_modes(test::make_config(
      recurrent_block(format, 6),
      {"hw.mac_array.pe=" + std::string(format == "int8" ? "int8_int8" : format),
       "hw.mac_array.rows=8", "hw.mac_array.cols=8", "hw.weight_sram.capacity_kib=" + weight_kib}));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(r["invariants"]["outputs_checked"] == 6 * (24 + 64 + 20 + 20 + 20));
  // Gate products of every timestep: GRU 2 directions x 3 gates x 32 x (24 + 32), LSTM 4 x 20 x
  // (20 + 20), beside the projection's 64 x 20. With 1 KiB, U (3 x 32 x 32 weights) streams.
  REQUIRE(r["counters"]["mac_array"]["macs"] == 6 * (2 * 96 * 56 + 80 * 40 + 64 * 20));
  REQUIRE(r["layers"][1]["recurrent"]["weights_resident"] == (weight_kib == "64"));
  if (format == "fp16") REQUIRE(r["error"]["res.output"]["sqnr_db"].get<double>() > 30);
}

TEST_CASE("a recurrent stack runs the same wired by order and by name", "[sim]") {
  Json plain = recurrent_block("posit16_1", 5);
  plain["layers"] = {plain["layers"][1]};
  plain["layers"].push_back({{"type", "lstm"},
                             {"name", "lstm"},
                             {"format", "posit16_1"},
                             {"in_features", 64},
                             {"hidden", 12},
                             {"bidirectional", true}});
  Json graph = plain;
  graph["layers"][1]["inputs"] = {"gru"};  // what the order implies
  const std::vector<std::string> sets = {"hw.mac_array.pe=posit16_1", "hw.mac_array.rows=8",
                                         "hw.mac_array.cols=8", "hw.weight_sram.capacity_kib=1"};
  const sim::SimConfig plain_cfg = test::make_config(plain, sets);
  const sim::SimConfig graph_cfg = test::make_config(graph, sets);
  REQUIRE(plain_cfg.workload.model.layers[1].inputs == std::vector<int32_t>{0});
  const Json a = sim::run_isolated(plain_cfg);
  const Json b = sim::run_isolated(graph_cfg);
  REQUIRE(a["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(b["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(a["cycles"] == b["cycles"]);
  REQUIRE(a["counters"] == b["counters"]);
  REQUIRE(a["error"] == b["error"]);
}

TEST_CASE("pooling divides the rows and equals its exact model", "[sim]") {
  const std::string format = GENERATE("fp16", "posit16_1", "int8");
  INFO(format);
  // 13 frames -> max over 3 (4 rows, one frame dropped) -> bidirectional GRU -> mean over 2.
  const Json w = {{"name", "pyramid"},
                  {"tokens", 13},
                  {"input", test::uniform(1, 2)},
                  {"layers",
                   {{{"type", "linear"},
                     {"name", "proj"},
                     {"format", format},
                     {"in_features", 20},
                     {"out_features", 16},
                     {"weights", test::uniform(0.3, 3)}},
                    {{"type", "pool"}, {"name", "pool0"}, {"stride", 3}},
                    {{"type", "gru"},
                     {"name", "gru"},
                     {"format", format},
                     {"in_features", 16},
                     {"hidden", 8},
                     {"bidirectional", true},
                     {"weights", test::uniform(0.5, 4)},
                     {"biases", test::uniform(0.2, 5)}},
                    {{"type", "pool"}, {"name", "pool1"}, {"stride", 2}, {"op", "mean"}},
                    {{"type", "add"}, {"name", "res"}, {"inputs", {"pool1", "pool1"}}}}}};
  const Json r = test::run_both_modes(test::make_config(
      w, {"hw.mac_array.pe=" + std::string(format == "int8" ? "int8_int8" : format),
          "hw.act_sram.capacity_kib=1"}));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(r["invariants"]["outputs_checked"] == 13 * 16 + 4 * 16 + 4 * 16 + 2 * 16 + 2 * 16);
  REQUIRE(r["layers"][1]["tiles"]["m"].get<uint32_t>() < 4);  // the pool itself tiles its rows
  // The GRU runs 4 timesteps per direction: 2 x 3 x 8 x (16 + 8) MACs each.
  REQUIRE(r["counters"]["mac_array"]["macs"] == 13 * 20 * 16 + 4 * 2 * 3 * 8 * 24);

  Json bad = w;
  bad["layers"][3]["stride"] = 5;
  REQUIRE_THROWS_WITH(test::make_config(bad, {"hw.mac_array.pe=fp16"}),
                      Catch::Contains("/layers/3/stride") &&
                          Catch::Contains("its input has 4 rows, fewer than one stride of 5"));
  bad = w;
  bad["layers"][4]["inputs"] = {"pool1", "gru"};
  REQUIRE_THROWS_WITH(
      test::make_config(bad, {"hw.mac_array.pe=fp16"}),
      Catch::Contains("/layers/4/inputs") && Catch::Contains("input 1 has 4 rows, input 0 2"));
}

namespace {

// A decoder step over a memory: states -> query projection -> additive attention over a memory
// of 7 positions -> output projection.
Json mlp_attention_block(uint32_t rows, uint32_t positions) {
  return {{"name", "mlp-attention"},
          {"tokens", rows},
          {"input", test::uniform(1, 2)},
          {"layers",
           {{{"type", "linear"},
             {"name", "query"},
             {"format", "fp16"},
             {"in_features", 24},
             {"out_features", 16},
             {"weights", test::uniform(0.3, 3)}},
            {{"type", "mlp_attention"},
             {"name", "attn"},
             {"context", positions},
             {"out_features", 20},
             {"weights", test::uniform(1, 4)}},
            {{"type", "linear"},
             {"name", "out"},
             {"format", "fp16"},
             {"in_features", 20},
             {"out_features", 12},
             {"weights", test::uniform(0.3, 5)}}}}};
}

}  // namespace

TEST_CASE("additive attention over a memory equals its exact model in every vector format",
          "[sim]") {
  const std::string vec = GENERATE("fp32", "fp16", "bf16", "posit<16,1>");
  const uint32_t positions = GENERATE(1u, 7u, 8u, 33u);
  INFO(vec << ", " << positions << " positions");
  const Json r = test::run_both_modes(test::make_config(
      mlp_attention_block(3, positions),
      {"hw.mac_array.pe=fp16", "hw.vector_unit.format=" + vec, "hw.vector_unit.lanes=8"}));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(r["invariants"]["outputs_checked"] == 3 * (16 + 20 + 12));
  if (vec == "fp32") REQUIRE(r["error"]["attn.output"]["max_abs"].get<double>() < 2e-2);
  // The vector unit does the attention: the MAC array only the two projections.
  REQUIRE(r["counters"]["mac_array"]["macs"] == 3 * (24 * 16 + 20 * 12));
}

TEST_CASE("additive attention's memory must fit the activation SRAM", "[sim]") {
  REQUIRE_THROWS_WITH(
      sim::run_isolated(test::make_config(mlp_attention_block(2, 2000),
                                          {"hw.mac_array.pe=fp16", "hw.act_sram.capacity_kib=64"})),
      Catch::Contains("/act_sram/capacity_kib") &&
          Catch::Contains("layer 1 (attn): the activation SRAM must hold the memory's keys"));
}

TEST_CASE("cross attention over a memory equals its exact model", "[sim]") {
  const std::string format = GENERATE("fp16", "int8", "posit16_1");
  struct Shape {
    uint32_t heads, kv_heads, head_dim, positions;
    bool scaled, shared;
  };
  // Luong's general attention (one head, unscaled, keys = values = the memory) and a
  // grouped-query encoder-decoder attention.
  const Shape s = GENERATE(Shape{1, 1, 48, 9, false, true}, Shape{4, 2, 8, 5, true, false});
  INFO(format << ", " << s.heads << " heads over " << s.positions << " positions");
  const uint32_t width = s.heads * s.head_dim;
  const Json w = {
      {"name", "cross"},
      {"tokens", 3},
      {"layers",
       {{{"type", "linear"},
         {"name", "query"},
         {"format", format},
         {"in_features", 32},
         {"out_features", width},
         {"weights", {{"std", 0.2}, {"seed", 3}}}},
        {{"type", "attention"},
         {"name", "attn"},
         {"format", format},
         {"mode", "cross"},
         {"heads", s.heads},
         {"kv_heads", s.kv_heads},
         {"head_dim", s.head_dim},
         {"context", s.positions},
         {"scaled", s.scaled},
         {"shared_kv", s.shared},
         {"weights", {{"distribution", "uniform"}, {"low", -1}, {"high", 1}, {"seed", 4}}}}}}};
  const sim::SimConfig c = test::make_config(
      w, {"hw.mac_array.pe=" + std::string(format == "int8" ? "int8_int8" : format),
          "hw.mac_array.rows=8", "hw.mac_array.cols=8"});
  const Json r = test::run_both_modes(c);
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  // Q K^T and P V over the memory only: nothing appended.
  REQUIRE(r["counters"]["mac_array"]["macs"] ==
          3 * (32 * width + 2 * s.heads * s.positions * s.head_dim));
  if (format == "fp16") REQUIRE(r["error"]["attn.output"]["sqnr_db"].get<double>() > 30);
  const workloads::ModelData d = workloads::generate(c.workload.model);
  REQUIRE((d.layers[1].keys.latent == d.layers[1].values.latent) == s.shared);
}

TEST_CASE("rotary embeddings rotate each head by its position and equal their exact model",
          "[sim]") {
  const std::string vec = GENERATE("fp32", "fp16", "bf16");
  const uint32_t context = GENERATE(0u, 37u);
  INFO(vec << ", rows from position " << context);
  const Json w = {{"name", "rope"},
                  {"tokens", 9},
                  {"layers",
                   {{{"type", "linear"},
                     {"name", "q"},
                     {"format", "fp16"},
                     {"in_features", 24},
                     {"out_features", 32},
                     {"weights", {{"std", 0.3}, {"seed", 3}}}},
                    {{"type", "rope"}, {"name", "rope"}, {"heads", 4}, {"context", context}},
                    {{"type", "add"}, {"name", "res"}, {"inputs", {"rope", "q"}}}}}};
  // A 1 KiB activation SRAM: the rows (and their tables) go in several m-tiles.
  const Json r = test::run_both_modes(test::make_config(
      w, {"hw.mac_array.pe=fp16", "hw.vector_unit.format=" + vec, "hw.act_sram.capacity_kib=1"}));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(r["layers"][1]["tiles"]["m"].get<uint32_t>() < 9);
  if (vec == "fp32") REQUIRE(r["error"]["rope.output"]["max_abs"].get<double>() < 1e-2);
  Json bad = w;
  bad["layers"][1]["heads"] = 3;
  REQUIRE_THROWS_WITH(test::make_config(bad, {"hw.mac_array.pe=fp16"}),
                      Catch::Contains("/layers/1/heads") &&
                          Catch::Contains("its input's width 32 must be heads x an even head_dim"));
}

TEST_CASE("linear layers with biases equal their exact model", "[sim]") {
  struct Kind {
    std::string type, format;
  };
  const Kind k = GENERATE(Kind{"bitlinear", ""}, Kind{"linear", "int8"}, Kind{"linear", "fp16"},
                          Kind{"linear", "posit16_1"});
  INFO(k.type << " " << k.format);
  Json w = ffn_block(k.type, k.format, 5, 48, 80);
  for (Json& l : w["layers"]) {
    if (l["type"] == k.type)
      l["biases"] = {{"std", 0.5}, {"seed", l["name"].get<std::string>().size()}};
  }
  const Json with = test::run_both_modes(test::make_config(
      w, {"hw.mac_array.pe=" + pe_of(k.type, k.format), "hw.act_sram.capacity_kib=4"}));
  REQUIRE(with["invariants"]["outputs_equal_reference"] == true);
  // The biases change the outputs, not the MACs.
  const Json without = sim::run_isolated(test::make_config(
      ffn_block(k.type, k.format, 5, 48, 80),
      {"hw.mac_array.pe=" + pe_of(k.type, k.format), "hw.act_sram.capacity_kib=4"}));
  REQUIRE(with["counters"]["mac_array"]["macs"] == without["counters"]["mac_array"]["macs"]);
  REQUIRE(with["error"]["down.output"] != without["error"]["down.output"]);
  // A lone layer is a graph model too: its bias is added, not ignored.
  const Json lone = {{"name", "lone"},
                     {"tokens", 2},
                     {"layers",
                      {{{"type", "bitlinear"},
                        {"in_features", 16},
                        {"out_features", 8},
                        {"biases", {{"mean", 100}, {"std", 0}, {"seed", 1}}}}}}};
  const Json r = sim::run_isolated(test::make_config(lone));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(r["error"]["layer0.output"]["max_abs"].get<double>() < 1);  // FP32 has the bias too
}

TEST_CASE("a graph may start with a vector layer", "[sim]") {
  // Outside testing once saw an activation as layer 0 fail; every vector kind stays covered.
  for (const Json& first :
       {Json{{"type", "activation"}, {"name", "a"}, {"function", "tanh"}},
        Json{{"type", "rmsnorm"}, {"name", "a"}}, Json{{"type", "layernorm"}, {"name", "a"}},
        Json{{"type", "rope"}, {"name", "a"}, {"heads", 2}}}) {
    INFO(first.dump());
    Json l0 = first;
    l0["in_features"] = 64;
    const Json w = {
        {"name", "vector-first"},
        {"tokens", 3},
        {"layers",
         {l0, {{"type", "bitlinear"}, {"name", "up"}, {"in_features", 64}, {"out_features", 32}}}}};
    const Json r = test::run_both_modes(test::make_config(w));
    REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
    REQUIRE(r["invariants"]["outputs_checked"] == 3 * (64 + 32));
  }
}

TEST_CASE("layer outputs go through DRAM in the format the hardware keeps them in", "[sim]") {
  // Every model's tensors are the vector unit's (its format configurable), a chain of linear
  // layers' too. The report names the format per layer and overall, and a vector-only layer's
  // DRAM traffic follows the element size (rows of whole bursts).
  sim::RunOptions timing;
  timing.timing_only = true;
  const Json w = ffn_block("bitlinear", "", 4, 128, 256);
  std::map<std::string, Json> runs;
  for (const std::string format : {"fp32", "bf16", "fp16"}) {
    runs[format] =
        sim::run_isolated(test::make_config(w, {"hw.vector_unit.format=" + format}, timing));
    const Json& r = runs[format];
    REQUIRE(r["derived"]["activations_in_dram"] == Json::array({format}));
    for (const Json& l : r["layers"]) {
      REQUIRE(l["output_in_dram"]["format"] == format);
      REQUIRE(l["output_in_dram"]["element_bytes"] == (format == "fp32" ? 4 : 2));
    }
  }
  for (const size_t layer : {4, 6}) {  // glu (mul) and residual (add): tensors only
    INFO(runs["fp32"]["layers"][layer]["name"]);
    const uint64_t wide = runs["fp32"]["layers"][layer]["dram_bytes"];
    REQUIRE(wide > 0);
    REQUIRE(runs["bf16"]["layers"][layer]["dram_bytes"].get<uint64_t>() * 2 == wide);
    REQUIRE(runs["fp16"]["layers"][layer]["dram_bytes"] ==
            runs["bf16"]["layers"][layer]["dram_bytes"]);
  }
  const Json chain =
      sim::run_isolated(test::make_config(test::bitlinear_workload(3, {{64, 32}, {32, 16}}), {}));
  REQUIRE(chain["derived"]["activations_in_dram"] == Json::array({"fp32"}));
  REQUIRE(chain["layers"][0]["output_in_dram"]["element_bytes"] == 4);
}

namespace {

// The bytes of one element of a format.
uint32_t element_bytes_of(const std::string& format) {
  return arith::make_format(format)->element_bytes();
}

}  // namespace

TEST_CASE("activations stored in their own format are exact against the reference on random graphs",
          "[sim]") {
  // dram.activation_format apart from the vector format: every tensor between layers crosses
  // DRAM in it, the DMA converting each element. On random FFN blocks (random widths, tokens,
  // PE kinds, loop orders), attention and recurrent blocks: bit-exact against the reference
  // (which rounds every tensor through the stored format), the report names the format, the
  // DMA converts exactly the elements the layers move (8 T (h + ffn) for an FFN block: each
  // tensor read or written once per reader or writer), and a vector layer's DRAM traffic is its
  // rows in the stored element size.
  const std::vector<std::string> stored = {"bf16",       "fp16",        "fp8_e4m3",
                                           "fp8_e5m2",   "posit<8,0>",  "posit<16,1>",
                                           "fixed<4,4>", "fixed<3,13>", "fp32"};
  const std::vector<std::string> vector_formats = {"fp32", "bf16", "fp16", "posit<16,1>"};
  std::mt19937 rng(2026);
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  int converted_ffn = 0, traffic_checked = 0;
  for (int trial = 0; trial < 48; ++trial) {
    const std::string storage = pick(stored), vec = pick(vector_formats);
    const int block = trial % 6;  // 0-3: FFN, 4: attention, 5: recurrent
    std::vector<std::string> sets = {"hw.dram.activation_format=" + storage,
                                     "hw.vector_unit.format=" + vec};
    Json w;
    uint32_t tokens = 1 + rng() % 7, h = 0, ffn = 0;
    if (block < 4) {
      const std::string kinds[] = {"bitlinear", "int8", "fp16", "bf16"};
      const std::string kind = kinds[rng() % 4];
      const std::string orders[] = {"", "rows_outer", "weights_outer"};
      h = 16 * (1 + rng() % 8);
      ffn = 16 * (1 + rng() % 12);
      w = ffn_block(kind == "bitlinear" ? "bitlinear" : "linear", kind, tokens, h, ffn, "silu",
                    orders[rng() % 3]);
      sets.push_back("hw.mac_array.pe=" +
                     pe_of(kind == "bitlinear" ? "bitlinear" : "linear", kind));
      sets.push_back("hw.mac_array.rows=" + std::to_string(8 << (rng() % 3)));
      sets.push_back("hw.mac_array.cols=" + std::to_string(8 << (rng() % 3)));
      sets.push_back("hw.act_sram.capacity_kib=" + std::to_string(8 << (rng() % 3)));
      sets.push_back("hw.acc_sram.capacity_kib=" + std::to_string(4 << (rng() % 3)));
    } else if (block == 4) {
      const bool decode = rng() % 2 == 0;
      tokens = decode ? 1 : 2 + rng() % 5;
      w = attention_block("fp16", decode ? "decode" : "prefill", tokens, rng() % 9);
      sets.push_back("hw.mac_array.pe=fp16");
    } else {
      w = recurrent_block("fp16", tokens);
      sets.push_back("hw.mac_array.pe=fp16");
    }
    const bool simple_dram = rng() % 4 != 0;
    if (!simple_dram) sets.push_back("hw.dram.standard=DDR4_8Gb_x8_2400");
    std::string text;
    for (const std::string& s : sets) text += s + " ";
    INFO("trial " << trial << ": " << text << "tokens " << tokens << " h " << h << " ffn " << ffn);
    const sim::SimConfig config = test::make_config(w, sets);
    const Json r = trial % 8 == 0 ? test::run_both_modes(config) : sim::run_isolated(config);
    REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
    REQUIRE(r["derived"]["activations_in_dram"] == Json::array({storage}));
    // A layer running a fused one stores no output of its own (the fused one's instead).
    uint64_t fused_elements = 0;
    for (const Json& l : r["layers"]) {
      const bool host = l["mapping"].is_object() && l["mapping"].contains("fused");
      REQUIRE(l["output_in_dram"].is_null() == host);
      if (!host) REQUIRE(l["output_in_dram"]["element_bytes"] == element_bytes_of(storage));
      if (l["mapping"].is_object() && l["mapping"].contains("fused_into")) {
        fused_elements += l["shape"]["m"].get<uint64_t>() * l["shape"]["n"].get<uint64_t>();
      }
    }
    const uint64_t conversions = r["counters"]["dma"]["conversions"];
    if (storage == vec) {
      REQUIRE(conversions == 0);
      continue;
    }
    if (block < 4) {
      // Every tensor converts once per reader and writer, but up reads the norm's rows as gate
      // quantized them when both run weights_outer, and a fused layer saves two of each of its
      // elements: act its host's store and its load (3 -> 1), glu and the residual their
      // host's store and their two loads, for one load of the other input (4 -> 2).
      const bool up_shares =
          r["layers"][2]["mapping"].value("quantize_pass", std::string()) == "shared with gate";
      REQUIRE(conversions == 8ull * tokens * (h + ffn) - (up_shares ? uint64_t{tokens} * h : 0) -
                                 2 * fused_elements);
      ++converted_ffn;
      // act, glu and the residual move tensors only: in and out (glu, residual: two in).
      const uint64_t db = element_bytes_of(storage);
      if (h % 64 == 0 && ffn % 64 == 0 && simple_dram && fused_elements == 0) {
        REQUIRE(r["layers"][3]["dram_bytes"] == 2 * tokens * ffn * db);
        REQUIRE(r["layers"][4]["dram_bytes"] == 3 * tokens * ffn * db);
        REQUIRE(r["layers"][6]["dram_bytes"] == 3 * tokens * h * db);
        ++traffic_checked;
      }
    } else {
      REQUIRE(conversions > 0);
    }
  }
  REQUIRE(converted_ffn >= 20);  // the draw covers what it means to
  REQUIRE(traffic_checked >= 2);
}

namespace {

// x (finite) rounded into a format by the slow reference of tests/arith (a search over every
// value of the format), with IEEE formats' signed zero.
uint32_t slow_round(const slowref::Format& f, const slowref::Sorted& values, bool ieee, double x) {
  int exponent = 0;
  const double fraction = std::frexp(std::fabs(x), &exponent);
  const slowref::Dyadic exact = slowref::Dyadic::of(
      x < 0, static_cast<uint64_t>(std::ldexp(fraction, 53)), int64_t{exponent} - 53);
  const uint32_t p = slowref::round_by_search(
      f, values, [&](const slowref::Dyadic& t) { return slowref::cmp(exact, t); }, x < 0);
  const slowref::Value v = f.decode(p);
  if (ieee && x < 0 && v.kind == slowref::Value::kFinite && v.v.zero()) return 1u << (f.bits - 1);
  return p;
}

double value_of(const slowref::Format& f, uint32_t p) {
  const slowref::Value v = f.decode(p);
  REQUIRE(v.kind == slowref::Value::kFinite);
  double d = 0;  // the significand is at most 24 bits here: exact in a double
  for (size_t i = v.v.m.limbs.size(); i-- > 0;) d = d * 4294967296.0 + v.v.m.limbs[i];
  return (v.v.neg ? -1 : 1) * std::ldexp(d, static_cast<int>(v.v.e));
}

}  // namespace

TEST_CASE("the DMA's conversions equal a slow reference of each stored format, saturation counted",
          "[sim]") {
  // y = x + x in an fp32 vector unit, x and y stored in DRAM in a narrower format: the input is
  // rounded into it (the DRAM image), loaded exactly, doubled exactly, and rounded again as it
  // is stored. Every output pattern against tests/arith's slow reference, which searches every
  // value of the format; fixed<2,6> (largest value 2 - 2^-6) saturates where |2 x| is larger, and
  // the DMA counts each and the report warns.
  struct Stored {
    std::string name;
    slowref::Format ref;
    bool ieee;
  };
  const std::vector<Stored> formats = {
      {"fp8_e4m3", slowref::minifloat("fp8_e4m3", 4, 3, true, false), true},
      {"fp8_e5m2", slowref::minifloat("fp8_e5m2", 5, 2, false, false), true},
      {"bf16", slowref::minifloat("bf16", 8, 7, false, false), true},
      {"posit<8,0>", slowref::posit(8, 0), false},
      {"fixed<3,5>", slowref::fixed(3, 5, false, false), false},
      {"fixed<2,6>", slowref::fixed(2, 6, false, false), false}};
  for (const Stored& f : formats) {
    INFO(f.name);
    const slowref::Sorted values = slowref::make_table(f.ref);
    const uint32_t T = 7, n = 40;
    const Json w = {{"name", "twice"},
                    {"tokens", T},
                    {"input", test::uniform(1.5, 11)},
                    {"layers",
                     {{{"type", "add"},
                       {"name", "twice"},
                       {"in_features", n},
                       {"inputs", {"input", "input"}}}}}};
    sim::RunOptions options;
    options.dump_dir = (std::filesystem::temp_directory_path() /
                        ("nmpsim_stored_" + std::to_string(getpid()) + "_" + f.ref.name))
                           .string();
    const Json r =
        sim::run_isolated(test::make_config(w, {"hw.dram.activation_format=" + f.name}, options));
    REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
    const std::vector<float> x = sim::read_npy(options.dump_dir + "/input_f32.npy").values;
    const std::vector<float> y = sim::read_npy(options.dump_dir + "/0_twice_output_q.npy").values;
    REQUIRE(x.size() == T * n);
    REQUIRE(y.size() == T * n);
    const uint32_t mask = f.ref.bits == 8 ? 0xff : 0xffff;
    uint64_t saturated = 0;
    const double largest = value_of(f.ref, values.pattern(values.size - 1));
    for (size_t i = 0; i < x.size(); ++i) {
      const double stored_x = value_of(f.ref, slow_round(f.ref, values, f.ieee, x[i]));
      saturated += std::fabs(2 * stored_x) > largest;
      const uint32_t expected = slow_round(f.ref, values, f.ieee, 2 * stored_x);
      REQUIRE((static_cast<uint32_t>(static_cast<int32_t>(y[i])) & mask) == expected);
    }
    REQUIRE(r["counters"]["dma"]["saturations_activation"] == saturated);
    REQUIRE((saturated > 0) == (f.name == "fixed<2,6>"));
    bool warned = false;
    for (const Json& warning : r["warnings"])
      warned |= warning.dump().find("activation") != std::string::npos;
    REQUIRE(warned == (saturated > 0));
    std::filesystem::remove_all(options.dump_dir);
  }
}
