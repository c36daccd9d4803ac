// The mapper of linear layers (workloads/linear_mapping.hpp): both loop orders give the same
// bits on random shapes, PE kinds, dataflows and SRAM sizes; its predicted DRAM payload is what
// the DMA commands move, up to whole bursts; it picks the order that moves fewer bytes on a
// prefill and keeps rows_outer on a decode; forcing an order that cannot fit is exit-2 input.
// Vector layers give the same bits in one set of tile buffers or two, and the mapper's choice
// between them is the faster.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "../support.hpp"
#include "workloads/linear_mapping.hpp"

using namespace nmp;
using sim::Json;

namespace {

struct Kind {
  const char* type;
  const char* format;  // linear layers' format
  const char* pe;
};
constexpr Kind kKinds[] = {{"bitlinear", "", "ternary_int8"},  {"bitlinear", "", "int8_int8"},
                           {"linear", "int8", "int8_int8"},    {"linear", "fp16", "fp16"},
                           {"linear", "bf16", "bf16"},         {"linear", "fp8_e4m3", "fp8_e4m3"},
                           {"linear", "posit8_0", "posit8_0"}, {"linear", "fp32", "fp32"}};
constexpr const char* kDataflows[] = {"adder_tree", "weight_stationary", "output_stationary",
                                      "input_stationary"};

// `kind`'s PEs on `dataflow` in an array of 8-20 rows and columns, a weight SRAM of 2-8 KiB and
// activation and accumulator SRAMs of `lo`-`hi` KiB, drawn in that order.
std::vector<std::string> random_array(test::Pick& pick, const Kind& kind, const char* dataflow,
                                      uint32_t lo, uint32_t hi) {
  return {std::string("hw.mac_array.pe=") + kind.pe,
          "hw.mac_array.rows=" + std::to_string(pick(2, 5) * 4),
          "hw.mac_array.cols=" + std::to_string(pick(2, 5) * 4),
          std::string("hw.mac_array.dataflow=") + dataflow,
          "hw.weight_sram.capacity_kib=" + std::to_string(pick(2, 8)),
          "hw.act_sram.capacity_kib=" + std::to_string(pick(lo, hi)),
          "hw.acc_sram.capacity_kib=" + std::to_string(pick(lo, hi))};
}

// norm -> a (k -> n, with a bias) -> b (n -> k): two linear layers in `order`.
Json two_linear(const Kind& kind, uint32_t tokens, uint32_t k, uint32_t n, const std::string& order,
                uint64_t seed) {
  auto linear = [&](const std::string& name, uint32_t in, uint32_t out) {
    Json l = {{"type", kind.type},
              {"name", name},
              {"in_features", in},
              {"out_features", out},
              {"loop_order", order},
              {"weights", {{"distribution", "normal"}, {"std", 0.1}, {"seed", seed + name[0]}}}};
    if (std::string(kind.type) == "linear") l["format"] = kind.format;
    return l;
  };
  Json a = linear("a", k, n);
  a["biases"] = {{"distribution", "uniform"}, {"low", -0.5}, {"high", 0.5}, {"seed", seed + 7}};
  return {{"name", "two-linear"},
          {"tokens", tokens},
          {"input", {{"distribution", "uniform"}, {"low", -1}, {"high", 1}, {"seed", seed}}},
          {"layers",
           {{{"type", "rmsnorm"}, {"name", "norm"}, {"in_features", k}}, a, linear("b", n, k)}}};
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The output tensors a run dumped into `dir` (--dump), by file name: their bytes.
std::map<std::string, std::string> dumped_outputs(const std::string& dir) {
  std::map<std::string, std::string> outputs;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    const std::string name = f.path().filename().string();
    if (name.find("output") != std::string::npos) outputs[name] = slurp(f.path());
  }
  return outputs;
}

// The bytes a run moved through DRAM, both ways.
uint64_t dram_bytes(const Json& report) {
  return report["counters"]["dram"]["read_bytes"].get<uint64_t>() +
         report["counters"]["dram"]["write_bytes"].get<uint64_t>();
}

// Runs `workload` with a --mapping file of `entries` (layer name -> its mapping).
Json run_mapped(const Json& workload, const std::vector<std::string>& sets, const Json& entries,
                const sim::RunOptions& options) {
  const std::filesystem::path file = std::filesystem::temp_directory_path() /
                                     ("nmpsim_mapping_" + std::to_string(::getpid()) + ".json");
  std::ofstream(file) << Json{{"layers", entries}}.dump();
  sim::SimConfig c = test::make_config(workload, sets, options);
  sim::apply_mapping_file(c.workload, file.string());
  Json r = sim::run_isolated(c);
  std::filesystem::remove(file);
  return r;
}
Json run_mapped(const Json& workload, const std::vector<std::string>& sets, const Json& entries,
                bool timing_only) {
  sim::RunOptions options;
  options.timing_only = timing_only;
  return run_mapped(workload, sets, entries, options);
}

}  // namespace

TEST_CASE("both loop orders give the same bits on random shapes, kinds, dataflows and SRAMs",
          "[sim]") {
  test::Pick pick(20261204);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("nmpsim_mapper_" + std::to_string(::getpid()));
  int compared = 0, weights_outer_tiled = 0, weights_outer_blocked = 0, overlapped_blocked = 0,
      overlapped_chunked = 0, dma_converted = 0, resident_blocked = 0, resident_partly = 0,
      two_sets_edge = 0;
  for (int trial = 0; trial < 120; ++trial) {
    const Kind& kind = kKinds[pick(0, std::size(kKinds) - 1)];
    const char* dataflow = kDataflows[pick(0, std::size(kDataflows) - 1)];
    const uint32_t tokens = pick(1, 40), k = pick(4, 150), n = pick(4, 150);
    std::vector<std::string> sets = random_array(pick, kind, dataflow, 2, 8);
    // DRAM's activation format: the vector format (fp32), or a narrower one the DMA converts.
    const char* stored = std::array{"", "bf16", "fp16", "fp8_e4m3"}[pick(0, 3)];
    if (*stored) sets.push_back(std::string("hw.dram.activation_format=") + stored);
    const bool int_kind =
        std::string(kind.pe) == "ternary_int8" || std::string(kind.pe) == "int8_int8";
    const uint64_t seed = pick(1, 1000);
    INFO("trial " << trial << ": " << kind.type << " " << kind.pe << " " << dataflow << " "
                  << tokens << " x " << k << " -> " << n << ", seed " << seed << ", "
                  << Json(sets).dump());
    std::map<std::string, std::map<std::string, std::string>> outputs;  // variant -> file -> bytes
    bool legal = true;
    // weights_outer with each block's epilogue inline, then overlapped, each after a quantize
    // pass (every block streaming its rows' slices); then with the DMA converting the rows
    // (kinds quantized by one rounding), either epilogue; then with the first tiles' slices
    // resident across the blocks, either epilogue and row conversion (a --mapping file).
    for (const std::string variant :
         {"rows_outer", "weights_outer", "overlapped", "dma", "resident"}) {
      INFO(variant);
      const bool resident = variant == "resident";
      const bool dma = variant == "dma" || (resident && !int_kind && pick(0, 1) == 1);
      if (dma && int_kind) continue;
      const bool overlapped = variant == "overlapped" || ((dma || resident) && pick(0, 1) == 1);
      const std::string order = variant == "rows_outer" ? variant : "weights_outer";
      sim::RunOptions options;
      options.dump_dir = (dir / variant).string();
      std::filesystem::remove_all(options.dump_dir);
      const Json w = two_linear(kind, tokens, k, n, order, seed);
      const Json epilogue = {{"epilogue", overlapped ? "overlapped" : "inline"},
                             {"row_conversion", dma ? "dma" : "pass"},
                             {"input_residency", resident ? "resident" : "streamed"}};
      Json r;
      try {
        r = order == "rows_outer"
                ? sim::run_isolated(test::make_config(w, sets, options))
                : run_mapped(w, sets, {{"a", epilogue}, {"b", epilogue}}, options);
      } catch (const sim::ConfigError&) {
        if (overlapped || resident) continue;  // two buffers of accumulators, or a slice, more
        REQUIRE_FALSE(dma);  // the DMA's rows need none of the quantize pass's buffers
        legal = false;       // a tile or a row does not fit these SRAMs in this order
        break;
      }
      REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
      for (const Json& l : r["layers"]) {
        if (!l["mapping"].contains("loop_order")) continue;  // not a linear layer
        REQUIRE(l["mapping"]["loop_order"] == order);
        if (order != "weights_outer") continue;
        REQUIRE(l["mapping"]["epilogue"] == epilogue["epilogue"]);
        REQUIRE(l["mapping"]["row_conversion"] == epilogue["row_conversion"]);
        REQUIRE(l["tiles"]["m"] == l["mapping"]["rows"]["super_tile"]);
        const Json& residency = l["mapping"]["input_residency"];
        REQUIRE((residency["resident_tiles"] > 0) == resident);
        REQUIRE(residency["resident_tiles"] <= residency["reduction_tiles"]);
        const bool blocked = l["tiles"]["n"] < l["shape"]["n"];
        if (resident && blocked) ++resident_blocked;
        if (resident && blocked && residency["resident_tiles"] < residency["reduction_tiles"])
          ++resident_partly;
        if (l["mapping"]["rows"]["super_tile"] < tokens) ++weights_outer_tiled;
        if (blocked) ++weights_outer_blocked;
        if (overlapped && blocked) ++overlapped_blocked;
        // Inline epilogues in two sets of chunk buffers whose last chunk is shorter.
        const Json& r = l["mapping"]["rows"];
        if (!overlapped && l["mapping"]["epilogue_sets"] == 2 &&
            r["super_tile"].get<uint32_t>() % r["epilogue"].get<uint32_t>() != 0)
          ++two_sets_edge;
        if (overlapped && l["mapping"]["rows"]["epilogue"] < l["mapping"]["rows"]["super_tile"])
          ++overlapped_chunked;
      }
      outputs[variant] = dumped_outputs(options.dump_dir);
    }
    if (!legal) continue;
    REQUIRE(outputs["rows_outer"].size() == 3 * 2);  // each layer's patterns and values
    REQUIRE(outputs["rows_outer"] == outputs["weights_outer"]);
    if (outputs.count("overlapped")) REQUIRE(outputs["rows_outer"] == outputs["overlapped"]);
    if (outputs.count("dma")) {
      REQUIRE(outputs["rows_outer"] == outputs["dma"]);
      ++dma_converted;
    }
    if (outputs.count("resident")) REQUIRE(outputs["rows_outer"] == outputs["resident"]);
    ++compared;
  }
  std::filesystem::remove_all(dir);
  INFO(compared << " compared; weights_outer layers with several super tiles: "
                << weights_outer_tiled << ", with several output blocks: " << weights_outer_blocked
                << "; overlapped with several blocks: " << overlapped_blocked
                << ", with several chunks: " << overlapped_chunked
                << "; rows converted by the DMA: " << dma_converted
                << "; resident slices with several blocks: " << resident_blocked << ", of some "
                << "of the tiles: " << resident_partly << "; inline epilogues with a short last "
                << "chunk in two sets of buffers: " << two_sets_edge);
  REQUIRE(compared >= 80);
  REQUIRE(dma_converted >= 30);
  REQUIRE(weights_outer_tiled >= 10);
  REQUIRE(weights_outer_blocked >= 10);
  REQUIRE(overlapped_blocked >= 10);
  REQUIRE(overlapped_chunked >= 10);
  REQUIRE(resident_blocked >= 10);
  REQUIRE(resident_partly >= 3);
  REQUIRE(two_sets_edge >= 3);
}

namespace {

// norm -> gate (a bias on float kinds) -> act; up; glu = act * up (or up * act); down;
// residual = input + down (or down + input): every element-wise layer fusable.
Json fusable_block(const Kind& kind, uint32_t tokens, uint32_t h, uint32_t f,
                   const std::string& function, bool swap, uint64_t seed) {
  auto linear = [&](const std::string& name, uint32_t in, uint32_t out, const std::string& from) {
    Json l = {{"type", kind.type},
              {"name", name},
              {"in_features", in},
              {"out_features", out},
              {"loop_order", "weights_outer"},
              {"weights", {{"distribution", "normal"}, {"std", 0.1}, {"seed", seed + name[0]}}}};
    if (std::string(kind.type) == "linear") l["format"] = kind.format;
    if (!from.empty()) l["inputs"] = {from};
    return l;
  };
  Json gate = linear("gate", h, f, "norm");
  if (std::string(kind.type) == "linear")
    gate["biases"] = {{"distribution", "uniform"}, {"low", -0.5}, {"high", 0.5}, {"seed", seed}};
  const Json glu_in = swap ? Json{"up", "act"} : Json{"act", "up"};
  const Json res_in = swap ? Json{"input", "down"} : Json{"down", "input"};
  return {{"name", "fusable"},
          {"tokens", tokens},
          {"input", {{"distribution", "uniform"}, {"low", -2}, {"high", 2}, {"seed", seed}}},
          {"layers",
           {{{"type", "rmsnorm"}, {"name", "norm"}, {"in_features", h}},
            gate,
            linear("up", h, f, "norm"),
            {{"type", "activation"}, {"name", "act"}, {"function", function}, {"inputs", {"gate"}}},
            {{"type", "mul"}, {"name", "glu"}, {"inputs", glu_in}},
            linear("down", f, h, "glu"),
            {{"type", "add"}, {"name", "residual"}, {"inputs", res_in}}}}};
}

}  // namespace

TEST_CASE("an inline epilogue in one set of chunk buffers equals the exact reference", "[sim]") {
  // Blocks of every output in a small activation SRAM, where two sets of converted chunks do
  // not fit beside the tiles' buffers: each chunk (of one row) converted, then stored. The
  // one-set code path of the inline epilogue, which the random shapes above do not reach.
  test::Pick pick(20261207);
  int one_set = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const Kind& kind = kKinds[pick(0, std::size(kKinds) - 1)];
    const uint32_t tokens = pick(5, 40), k = pick(8, 64), n = pick(100, 240);
    std::vector<std::string> sets = random_array(pick, kind, "adder_tree", 2, 3);
    INFO("trial " << trial << ": " << kind.pe << " " << tokens << " x " << k << " -> " << n << ", "
                  << Json(sets).dump());
    const Json entry = {{"loop_order", "weights_outer"},
                        {"n_tile", n},
                        {"epilogue", "inline"},
                        {"input_residency", "streamed"}};
    Json r;
    try {
      r = run_mapped(two_linear(kind, tokens, k, n, "auto", 5), sets, {{"a", entry}}, false);
    } catch (const sim::ConfigError&) {
      continue;  // a tile or a row's buffers do not fit
    }
    REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
    const Json& a = r["layers"][1];
    REQUIRE(a["name"] == "a");
    const Json& rows = a["mapping"]["rows"];
    if (a["mapping"]["epilogue_sets"] == 1) {
      REQUIRE(rows["epilogue"] == 1);
      if (rows["super_tile"] > 1) ++one_set;
    }
  }
  INFO(one_set << " layers in one set, of several chunks");
  REQUIRE(one_set >= 5);
}

TEST_CASE("a fused element-wise layer gives the same bits as its own pass, with less traffic",
          "[sim]") {
  // Random FFN blocks (PE kinds, dataflows, SRAMs, DRAM formats apart from the vector format,
  // either operand order, inline or overlapped epilogues): act runs in gate's epilogue, glu in
  // up's and the residual in down's unless the mapping file says fuse: no. Every output both
  // runs store is the same bytes; the fused run stores none of gate's, up's or down's.
  test::Pick pick(20261206);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("nmpsim_fusion_" + std::to_string(::getpid()));
  const char* functions[] = {"silu", "gelu", "squared_relu", "sigmoid"};
  const char* stored[] = {"", "bf16", "fp16", "fp8_e4m3", "posit<8,0>", "fixed<4,4>"};
  int compared = 0, overlapped = 0, rounded = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const Kind& kind = kKinds[pick(0, std::size(kKinds) - 1)];
    const uint32_t tokens = pick(1, 24), h = pick(4, 90), f = pick(4, 120);
    const bool swap = pick(0, 1) == 1;
    const std::string format = stored[pick(0, std::size(stored) - 1)];
    const char* dataflow = kDataflows[pick(0, std::size(kDataflows) - 1)];
    std::vector<std::string> sets = random_array(pick, kind, dataflow, 4, 16);
    if (!format.empty()) sets.push_back("hw.dram.activation_format=" + format);
    const Json w = fusable_block(kind, tokens, h, f, functions[pick(0, 3)], swap, pick(1, 999));
    const Json epilogue = {{"epilogue", pick(0, 1) ? "overlapped" : "inline"}};
    INFO("trial " << trial << ": " << kind.type << " " << kind.pe << " " << tokens << " x " << h
                  << " / " << f << (swap ? " swapped" : "") << " " << epilogue.dump() << " "
                  << Json(sets).dump());
    std::map<std::string, Json> reports;
    std::map<std::string, std::map<std::string, std::string>> outputs;  // variant -> file -> bytes
    for (const std::string variant : {"fused", "apart"}) {
      sim::RunOptions options;
      options.dump_dir = (dir / variant).string();
      std::filesystem::remove_all(options.dump_dir);
      Json entries = {{"gate", epilogue}, {"up", epilogue}, {"down", epilogue}};
      for (const char* e : {"act", "glu", "residual"})
        entries[e] = {{"fuse", variant == "fused" ? "yes" : "no"}};
      try {
        reports[variant] = run_mapped(w, sets, entries, options);
      } catch (const sim::ConfigError&) {
        break;  // an overlapped epilogue's two buffers do not fit these SRAMs
      }
      REQUIRE(reports[variant]["invariants"]["outputs_equal_reference"] == true);
      outputs[variant] = dumped_outputs(options.dump_dir);
    }
    if (reports.size() < 2) continue;
    const Json& fused = reports["fused"];
    for (const auto& [host, layer] : {std::pair{1, "act"}, {2, "glu"}, {5, "residual"}}) {
      REQUIRE(fused["layers"][host]["mapping"]["fused"] == layer);
      REQUIRE(reports["apart"]["layers"][host]["mapping"].count("fused") == 0);
    }
    // Each layer's patterns and values; the fused run has none of its three hosts'.
    REQUIRE(outputs["apart"].size() == 7 * 2);
    REQUIRE(outputs["fused"].size() == 4 * 2);
    for (const auto& [file, bytes] : outputs["fused"]) REQUIRE(outputs["apart"][file] == bytes);
    REQUIRE(dram_bytes(fused) < dram_bytes(reports["apart"]));
    ++compared;
    overlapped += epilogue["epilogue"] == "overlapped";
    rounded += !format.empty();
  }
  std::filesystem::remove_all(dir);
  INFO(compared << " compared, " << overlapped << " with overlapped epilogues, " << rounded
                << " rounding through a DRAM format");
  REQUIRE(compared >= 25);
  REQUIRE(overlapped >= 8);
  REQUIRE(rounded >= 15);
}

TEST_CASE("a rope fused into its linear layer's epilogue gives the same bits as its own pass",
          "[sim]") {
  // Random projections to heads, each turned by a rope (PE kinds, dataflows, SRAMs, DRAM
  // formats, head widths, positions, inline or overlapped epilogues), with fuse: yes against
  // fuse: no. Where the angles' rows (head_dim vec elements) fit in an output row of DRAM, the
  // fused run maps whole heads per block, stores the same bytes and moves fewer; where they do
  // not, fuse: yes is an error naming the rope's field.
  test::Pick pick(20261208);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("nmpsim_rope_" + std::to_string(::getpid()));
  const std::pair<const char*, uint32_t> stored[] = {
      {"", 4}, {"bf16", 2}, {"fp16", 2}, {"fp8_e4m3", 1}, {"posit<8,0>", 1}, {"fixed<4,4>", 1}};
  int compared = 0, overlapped = 0, refused = 0, several_blocks = 0;
  for (int trial = 0; trial < 80; ++trial) {
    const Kind& kind = kKinds[pick(0, std::size(kKinds) - 1)];
    const uint32_t tokens = pick(1, 24), h = pick(4, 60), heads = pick(1, 6),
                   head_dim = 2 * pick(1, 20), context = pick(0, 500);
    const auto& [format, dram_bytes_per_element] = stored[pick(0, std::size(stored) - 1)];
    const char* dataflow = kDataflows[pick(0, std::size(kDataflows) - 1)];
    std::vector<std::string> sets = random_array(pick, kind, dataflow, 4, 16);
    if (!std::string(format).empty())
      sets.push_back(std::string("hw.dram.activation_format=") + format);
    Json q = {{"type", kind.type},
              {"name", "q"},
              {"in_features", h},
              {"out_features", heads * head_dim},
              {"loop_order", "weights_outer"},
              {"weights", {{"distribution", "normal"}, {"std", 0.2}, {"seed", trial + 1}}}};
    if (std::string(kind.type) == "linear") q["format"] = kind.format;
    const Json w = {
        {"name", "rope-block"},
        {"tokens", tokens},
        {"input", {{"distribution", "uniform"}, {"low", -2}, {"high", 2}, {"seed", trial}}},
        {"layers",
         {{{"type", "rmsnorm"}, {"name", "norm"}, {"in_features", h}},
          q,
          {{"type", "rope"},
           {"name", "q_rope"},
           {"heads", heads},
           {"context", context},
           {"theta", pick(0, 1) ? 10000.0 : 500000.0}}}}};
    const Json epilogue = {{"epilogue", pick(0, 1) ? "overlapped" : "inline"}};
    const bool legal =
        uint64_t{head_dim} * 4 <= uint64_t{heads} * head_dim * dram_bytes_per_element;
    INFO("trial " << trial << ": " << kind.type << " " << kind.pe << " " << tokens << " x " << h
                  << " -> " << heads << " x " << head_dim << " at " << context << " "
                  << epilogue.dump() << " " << Json(sets).dump());
    std::map<std::string, Json> reports;
    std::map<std::string, std::map<std::string, std::string>> outputs;
    for (const std::string variant : {"fused", "apart"}) {
      sim::RunOptions options;
      options.dump_dir = (dir / variant).string();
      std::filesystem::remove_all(options.dump_dir);
      const Json entries = {{"q", epilogue},
                            {"q_rope", {{"fuse", variant == "fused" ? "yes" : "no"}}}};
      try {
        reports[variant] = run_mapped(w, sets, entries, options);
      } catch (const sim::ConfigError& e) {
        // Not legal, or no weights_outer mapping with the angles' buffers fits these SRAMs.
        const std::string what = e.what();
        const bool fuse_refused = what.find("/layers/q_rope/fuse") != std::string::npos;
        REQUIRE((legal || (fuse_refused && variant == "fused")));
        refused += !legal;
        break;  // or a tile, a row's buffers or an overlapped epilogue's do not fit
      }
      REQUIRE(reports[variant]["invariants"]["outputs_equal_reference"] == true);
      outputs[variant] = dumped_outputs(options.dump_dir);
    }
    if (reports.size() < 2) continue;
    REQUIRE(legal);
    const Json& fused = reports["fused"]["layers"][1];
    REQUIRE(fused["mapping"]["fused"] == "q_rope");
    REQUIRE(fused["tiles"]["n"].get<uint32_t>() % head_dim == 0);
    REQUIRE(outputs["apart"].size() == 3 * 2);
    REQUIRE(outputs["fused"].size() == 2 * 2);
    for (const auto& [file, bytes] : outputs["fused"]) REQUIRE(outputs["apart"][file] == bytes);
    REQUIRE(dram_bytes(reports["fused"]) < dram_bytes(reports["apart"]));
    ++compared;
    overlapped += epilogue["epilogue"] == "overlapped";
    several_blocks += fused["tiles"]["n"].get<uint32_t>() < heads * head_dim;
  }
  std::filesystem::remove_all(dir);
  INFO(compared << " compared, " << overlapped << " overlapped, " << several_blocks
                << " of several blocks, " << refused << " refused");
  REQUIRE(compared >= 30);
  REQUIRE(overlapped >= 10);
  REQUIRE(several_blocks >= 10);
  REQUIRE(refused >= 6);
}

TEST_CASE("a fused layer needs no buffers of its own", "[sim]") {
  // a x b element by element, both fp16 weights_outer: in a 1 KiB activation SRAM the mul's own
  // pass (a row of each input and of its output) does not fit; fused into b's epilogue, it
  // needs none, and the block runs, equal to its exact model.
  const Json w = {{"name", "tight"},
                  {"tokens", 24},
                  {"layers",
                   {{{"type", "linear"},
                     {"name", "a"},
                     {"format", "fp16"},
                     {"in_features", 64},
                     {"out_features", 96},
                     {"loop_order", "weights_outer"}},
                    {{"type", "linear"},
                     {"name", "b"},
                     {"format", "fp16"},
                     {"in_features", 64},
                     {"out_features", 96},
                     {"inputs", {"input"}},
                     {"loop_order", "weights_outer"}},
                    {{"type", "mul"}, {"name", "m"}, {"inputs", {"a", "b"}}}}}};
  const std::vector<std::string> sets = {"hw.mac_array.pe=fp16", "hw.act_sram.capacity_kib=1"};
  const Json r = sim::run_isolated(test::make_config(w, sets));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(r["layers"][1]["mapping"]["fused"] == "m");
  REQUIRE_THROWS_WITH(run_mapped(w, sets, {{"m", {{"fuse", "no"}}}}, true),
                      Catch::Contains("/act_sram/capacity_kib") && Catch::Contains("layer 2 (m)"));
}

TEST_CASE("fuse: yes where fusion is not legal names the layer and its field", "[sim]") {
  Json w = fusable_block(kKinds[0], 4, 32, 48, "silu", false, 1);
  w["layers"][1]["loop_order"] = "rows_outer";  // gate: no weights_outer epilogue for act
  try {
    (void)run_mapped(w, {"hw.mac_array.pe=ternary_int8"}, {{"act", {{"fuse", "yes"}}}}, true);
    FAIL("expected a ConfigError");
  } catch (const sim::ConfigError& e) {
    const std::string what = e.what();
    INFO(what);
    REQUIRE(what.find("/layers/act/fuse") != std::string::npos);
    REQUIRE(what.find("layer 3 (act)") != std::string::npos);
  }
  // A second reader of up's output: glu cannot take it over.
  w = fusable_block(kKinds[0], 4, 32, 48, "silu", false, 1);
  w["layers"].push_back({{"type", "add"}, {"name", "extra"}, {"inputs", {"up", "up"}}});
  const Json r = run_mapped(w, {"hw.mac_array.pe=ternary_int8"}, Json::object(), true);
  REQUIRE(r["layers"][2]["mapping"].count("fused") == 0);
  REQUIRE(r["layers"][1]["mapping"]["fused"] == "act");
}

TEST_CASE("the mapper's predicted DRAM payload is what the DMA moves, up to whole bursts",
          "[sim]") {
  // Bursts of the simple channel (64 B): a row of the DMA costs at most two partial bursts.
  constexpr uint64_t kBurst = 64;
  test::Pick pick(7);
  for (int trial = 0; trial < 40; ++trial) {
    const Kind& kind = kKinds[pick(0, std::size(kKinds) - 1)];
    const uint32_t tokens = pick(1, 60), k = pick(16, 200), n = pick(16, 200);
    const std::string order = trial % 2 ? "weights_outer" : "rows_outer";
    INFO("trial " << trial << ": " << kind.pe << " " << tokens << " x " << k << " -> " << n << " "
                  << order);
    Json r;
    try {
      sim::RunOptions options;
      options.timing_only = true;
      r = sim::run_isolated(
          test::make_config(two_linear(kind, tokens, k, n, order, 3),
                            {std::string("hw.mac_array.pe=") + kind.pe, "hw.mac_array.rows=16",
                             "hw.mac_array.cols=16", "hw.act_sram.capacity_kib=8",
                             "hw.acc_sram.capacity_kib=4", "hw.weight_sram.capacity_kib=8"},
                            options));
    } catch (const sim::ConfigError&) {
      continue;
    }
    for (const Json& l : r["layers"]) {
      if (!l["mapping"].contains("loop_order")) continue;  // not a linear layer
      const uint64_t m = l["shape"]["m"], kk = l["shape"]["k"], nn = l["shape"]["n"];
      const uint64_t nb = l["tiles"]["n"], kt = l["tiles"]["k"], mt = l["tiles"]["m"];
      const uint64_t blocks = (nn + nb - 1) / nb, ktiles = (kk + kt - 1) / kt;
      const uint64_t supers = (m + mt - 1) / mt;
      const bool bias = l["name"] == "a", factors = std::string(kind.pe).find("int8") == 0 ||
                                                    std::string(kind.pe) == "ternary_int8";
      // DMA rows: constants, bias; rows_outer: per tile of rows its rows in and out and every
      // weight tile; weights_outer: rows in, quantized rows and factors out, then per super
      // tile its factors and per block the bias, per weight tile the tile and the rows' slice,
      // and the rows out.
      const uint64_t dma_rows = order == "rows_outer" ? 1 + bias + 2 * m + supers * blocks * ktiles
                                                      : 1 + m * (2 + 2 * factors) +
                                                            supers * blocks * (bias + ktiles) +
                                                            blocks * ktiles * m + blocks * m;
      const uint64_t predicted = l["mapping"]["predicted"]["dram_payload_bytes"];
      const uint64_t simulated = l["dram_bytes"];
      INFO(l["name"] << ": predicted " << predicted << ", simulated " << simulated << ", "
                     << dma_rows << " DMA rows");
      REQUIRE(simulated >= predicted);
      REQUIRE(simulated - predicted <= 2 * kBurst * dma_rows);
    }
  }
}

TEST_CASE("the mapper streams a prefill's weights once and keeps a decode rows_outer", "[sim]") {
  // 64 tokens whose accumulators for all 512 outputs do not fit the accumulator SRAM at once.
  auto mapping_of = [](uint32_t tokens) {
    sim::RunOptions options;
    options.timing_only = true;
    const Json r = sim::run_isolated(test::make_config(
        two_linear(kKinds[3], tokens, 256, 512, "auto", 1),
        {"hw.mac_array.pe=fp16", "hw.acc_sram.capacity_kib=32", "hw.act_sram.capacity_kib=64"},
        options));
    return r["layers"][1];
  };
  const Json decode = mapping_of(1), prefill = mapping_of(64);
  REQUIRE(decode["mapping"]["loop_order"] == "rows_outer");
  REQUIRE(prefill["mapping"]["loop_order"] == "weights_outer");
  // The weights (256 x 512 fp16, 256 KiB) cross DRAM once: the prefill moves less than twice
  // them plus its activations in and out.
  const uint64_t weights = 256 * 512 * 2, activations = 64 * (256 + 512) * 4;
  REQUIRE(prefill["dram_bytes"].get<uint64_t>() < weights + 3 * activations);
  // rows_outer forced on the prefill reads the weights once per tile of rows.
  sim::RunOptions options;
  options.timing_only = true;
  const Json forced = sim::run_isolated(test::make_config(
      two_linear(kKinds[3], 64, 256, 512, "rows_outer", 1),
      {"hw.mac_array.pe=fp16", "hw.acc_sram.capacity_kib=32", "hw.act_sram.capacity_kib=64"},
      options));
  const Json& layer = forced["layers"][1];
  const uint64_t tiles_of_rows =
      (64 + layer["tiles"]["m"].get<uint64_t>() - 1) / layer["tiles"]["m"].get<uint64_t>();
  REQUIRE(tiles_of_rows > 1);
  REQUIRE(layer["dram_bytes"].get<uint64_t>() >= tiles_of_rows * weights);
  REQUIRE(forced["cycles"] > mapping_of(64)["span_cycles"]);
}

TEST_CASE("weights_outer runs a layer whose row of accumulators does not fit the SRAM", "[sim]") {
  // 4096 fp32 accumulators of one row are 16 KiB, the accumulator SRAM 8 KiB: rows_outer cannot
  // run it, weights_outer can (blocks of outputs), and the mapper picks it.
  const Json r =
      sim::run_isolated(test::make_config(two_linear(kKinds[3], 3, 64, 4096, "auto", 1),
                                          {"hw.mac_array.pe=fp16", "hw.acc_sram.capacity_kib=8"}));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(r["layers"][1]["mapping"]["loop_order"] == "weights_outer");
  REQUIRE(r["layers"][1]["tiles"]["n"].get<uint32_t>() < 4096);
  // Forced rows_outer, it is the accumulator SRAM that is named.
  try {
    (void)sim::run_isolated(
        test::make_config(two_linear(kKinds[3], 3, 64, 4096, "rows_outer", 1),
                          {"hw.mac_array.pe=fp16", "hw.acc_sram.capacity_kib=8"}));
    FAIL("expected a ConfigError");
  } catch (const sim::ConfigError& e) {
    INFO(e.what());
    REQUIRE(std::string(e.what()).find("/acc_sram/capacity_kib") != std::string::npos);
  }
}

TEST_CASE("a forced loop order that cannot fit names the layer and its JSON path", "[sim]") {
  // 8 inputs, 300 outputs on 128 columns: a block of 128 outputs needs its bias and one row of
  // them converted (1 KiB in fp32) beside the quantized row: more than a 1 KiB activation SRAM.
  try {
    (void)sim::run_isolated(test::make_config(
        two_linear(kKinds[3], 4, 8, 300, "weights_outer", 1),
        {"hw.mac_array.pe=fp16", "hw.mac_array.cols=128", "hw.act_sram.capacity_kib=1"}));
    FAIL("expected a ConfigError");
  } catch (const sim::ConfigError& e) {
    const std::string what = e.what();
    INFO(what);
    REQUIRE(what.find("/layers/1/loop_order") != std::string::npos);
    REQUIRE(what.find("layer 1 (a)") != std::string::npos);
  }
}

TEST_CASE("a mapping file forces orders and tiles, and values do not move", "[sim]") {
  const Json w = two_linear(kKinds[0], 30, 200, 120, "auto", 5);
  const std::vector<std::string> sets = {"hw.act_sram.capacity_kib=16",
                                         "hw.acc_sram.capacity_kib=8"};
  const Json mapped = run_mapped(
      w, sets,
      {{"a", {{"loop_order", "weights_outer"}, {"n_tile", 64}, {"k_tile", 64}, {"rows", 7}}},
       {"b", {{"loop_order", "rows_outer"}, {"n_tile", 100}, {"k_tile", 64}, {"rows", 3}}}},
      false);
  const Json automatic = sim::run_isolated(test::make_config(w, sets));
  REQUIRE(mapped["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(automatic["invariants"]["outputs_equal_reference"] == true);
  const Json& a = mapped["layers"][1];
  const Json& b = mapped["layers"][2];
  REQUIRE(a["mapping"]["loop_order"] == "weights_outer");
  REQUIRE(a["tiles"] == Json{{"m", 7}, {"n", 64}, {"k", 64}});
  REQUIRE(b["mapping"]["loop_order"] == "rows_outer");
  REQUIRE(b["tiles"] == Json{{"m", 3}, {"n", 100}, {"k", 64}});
  REQUIRE(mapped["config"]["mapping"]["layers"]["a"]["rows"] == 7);
  // The same outputs as the mapper's own choice: the error figures are computed from them.
  REQUIRE(mapped["error"] == automatic["error"]);
  REQUIRE(mapped["cycles"]["total"] != automatic["cycles"]["total"]);
}

TEST_CASE("no mapping of a small layer scores better than the mapper's choice", "[sim]") {
  // Every order, output block (multiples of the 16 columns, and all) and reduction tile
  // (multiples of the 16 rows, and all) forced in turn, each with the most rows that fit.
  const uint32_t tokens = 40, k = 96, n = 80;
  const std::vector<std::string> sets = {
      "hw.mac_array.pe=fp16",          "hw.mac_array.rows=16",       "hw.mac_array.cols=16",
      "hw.weight_sram.capacity_kib=8", "hw.act_sram.capacity_kib=8", "hw.acc_sram.capacity_kib=4"};
  const Json w = two_linear(kKinds[3], tokens, k, n, "auto", 9);
  auto score = [](const Json& layer) {
    return std::make_pair(layer["mapping"]["predicted"]["cycles"].get<uint64_t>(),
                          layer["mapping"]["predicted"]["dram_payload_bytes"].get<uint64_t>());
  };
  sim::RunOptions options;
  options.timing_only = true;
  const Json chosen = sim::run_isolated(test::make_config(w, sets, options))["layers"][1];
  // With one estimate, the closed form's own choice: no forced mapping scores better.
  std::vector<std::string> closed_form_sets = sets;
  closed_form_sets.emplace_back("workload.mapper_estimates=1");
  const Json closed_form =
      sim::run_isolated(test::make_config(w, closed_form_sets, options))["layers"][1];
  uint64_t best_simulated = UINT64_MAX;
  int legal = 0;
  // The closed form's best forced mapping: its score and the analytical model's cycles for it.
  std::pair<uint64_t, uint64_t> best_score = {UINT64_MAX, UINT64_MAX};
  uint64_t best_score_estimated = 0;
  // weights_outer's rows from a quantize pass, then converted by the DMA, each with every
  // block streaming its slices and with the first tiles' slices resident.
  for (const std::string order : {"rows_outer", "weights_outer", "weights_outer dma",
                                  "weights_outer resident", "weights_outer dma resident"}) {
    for (uint32_t nb = 16; nb <= n; nb = nb + 16 > n && nb != n ? n : nb + 16) {
      for (uint32_t kt = 16; kt <= k; kt = kt + 16 > k && kt != k ? k : kt + 16) {
        INFO(order << " " << nb << " x " << kt);
        Json entry = {
            {"loop_order", order.substr(0, order.find(' '))}, {"n_tile", nb}, {"k_tile", kt}};
        if (order != "rows_outer") {
          entry["row_conversion"] = order.find("dma") != std::string::npos ? "dma" : "pass";
          entry["input_residency"] =
              order.find("resident") != std::string::npos ? "resident" : "streamed";
        }
        Json r;
        try {
          r = run_mapped(w, sets, {{"a", entry}}, true);
        } catch (const sim::ConfigError&) {
          continue;  // the tile or its buffers do not fit
        }
        ++legal;
        const Json& layer = r["layers"][1];
        REQUIRE(layer["tiles"]["n"] == nb);
        REQUIRE(score(closed_form) <= score(layer));
        if (score(layer) < best_score) {
          best_score = score(layer);
          best_score_estimated = layer["analytical"]["span_cycles"].get<uint64_t>();
        }
        best_simulated = std::min(best_simulated, layer["span_cycles"].get<uint64_t>());
      }
    }
  }
  INFO(legal << " legal mappings; chosen " << chosen["mapping"] << " simulated "
             << chosen["span_cycles"] << ", best simulated " << best_simulated);
  REQUIRE(legal >= 20);
  // The choice is the closed form's best or one the analytical model prefers to it, from the
  // closed form's shortlist (linear_mapping.hpp): no forced mapping scores better by more than
  // the shortlist's slack, and the model prices the choice at most as the closed form's best
  // (within 1%: the lowering estimates each alone, the report within the whole program).
  REQUIRE(score(chosen).first <=
          workloads::kShortlistSlack * static_cast<double>(best_score.first));
  REQUIRE(chosen["analytical"]["span_cycles"].get<double>() <=
          1.01 * static_cast<double>(best_score_estimated));
  // The score is a bound, not the simulation: the choice is within 10% of the best simulated.
  REQUIRE(chosen["span_cycles"].get<double>() <= 1.10 * static_cast<double>(best_simulated));
}

TEST_CASE("under the energy and EDP objectives no mapping of a small layer scores better",
          "[sim]") {
  // The exhaustive search of the test above, scored by the objective's figure: predicted
  // energy (payload bytes, MACs and static power over the predicted cycles, priced as the
  // report prices them) or its product with the predicted cycles. The predicted energy is the
  // documented closed form: linear in bytes and cycles across mappings of the same layer (the
  // MACs do not move), which three mappings fix and every other must follow. The latency choice
  // has at most the fewest cycles times the shortlist's slack (the analytical model decides
  // among the closest: linear_mapping.hpp), the energy choice the least energy, and on a
  // standard DRAM (whose background power makes cycles cost energy) as on the simple channel.
  const std::string dram = GENERATE("simple", "DDR4_8Gb_x8_2400");
  const uint32_t tokens = 40, k = 96, n = 80;
  std::vector<std::string> sets = {"hw.mac_array.pe=fp16",       "hw.mac_array.rows=16",
                                   "hw.mac_array.cols=16",       "hw.weight_sram.capacity_kib=8",
                                   "hw.act_sram.capacity_kib=8", "hw.acc_sram.capacity_kib=4",
                                   "hw.dram.standard=" + dram};
  const Json w = two_linear(kKinds[3], tokens, k, n, "auto", 9);
  sim::RunOptions options;
  options.timing_only = true;
  Json simulated;  // the energy choice's layer, as simulated
  auto chosen_under = [&](const std::string& objective) {
    std::vector<std::string> s = sets;
    s.push_back("workload.objective=" + objective);
    const Json layer = sim::run_isolated(test::make_config(w, s, options))["layers"][1];
    REQUIRE(layer["mapping"]["objective"] == objective);
    if (objective == "energy") simulated = layer;
    return layer["mapping"]["predicted"];
  };
  const Json latency = chosen_under("latency"), energy = chosen_under("energy"),
             edp = chosen_under("edp");
  auto cycles = [](const Json& p) { return p["cycles"].get<double>(); };
  auto joules = [](const Json& p) { return p["energy_pj"].get<double>(); };
  REQUIRE(joules(latency) > 0);
  std::vector<Json> all;
  for (const std::string order : {"rows_outer", "weights_outer"}) {
    for (uint32_t nb = 16; nb <= n; nb = nb + 16 > n && nb != n ? n : nb + 16) {
      for (uint32_t kt = 16; kt <= k; kt = kt + 16 > k && kt != k ? k : kt + 16) {
        try {
          all.push_back(run_mapped(w, sets,
                                   {{"a", {{"loop_order", order}, {"n_tile", nb}, {"k_tile", kt}}}},
                                   true)["layers"][1]["mapping"]["predicted"]);
        } catch (const sim::ConfigError&) {
          continue;  // the tile or its buffers do not fit
        }
      }
    }
  }
  REQUIRE(all.size() >= 20);
  const double slack = 1 + 1e-12;
  for (const Json& p : all) {
    INFO(p);
    REQUIRE(cycles(latency) <= workloads::kShortlistSlack * cycles(p));
    REQUIRE(joules(energy) <= joules(p) * slack);
    REQUIRE(joules(edp) * cycles(edp) <= joules(p) * cycles(p) * slack);
  }
  REQUIRE(joules(energy) <= joules(latency) * slack);
  REQUIRE(cycles(latency) <= workloads::kShortlistSlack * cycles(energy));
  // Linear in bytes and cycles: E = e bytes + s cycles + K, solved from three mappings whose
  // (bytes, cycles) are independent, then checked on all.
  auto bytes = [](const Json& p) { return p["dram_payload_bytes"].get<double>(); };
  const Json& a = all.front();
  const Json* b = nullptr;
  const Json* c = nullptr;
  for (const Json& p : all) {
    if (!b && (bytes(p) != bytes(a) || cycles(p) != cycles(a))) b = &p;
  }
  REQUIRE(b != nullptr);
  for (const Json& p : all) {
    const double det = (bytes(*b) - bytes(a)) * (cycles(p) - cycles(a)) -
                       (cycles(*b) - cycles(a)) * (bytes(p) - bytes(a));
    if (!c && std::fabs(det) > 0) c = &p;
  }
  REQUIRE(c != nullptr);
  const double db1 = bytes(*b) - bytes(a), dc1 = cycles(*b) - cycles(a);
  const double db2 = bytes(*c) - bytes(a), dc2 = cycles(*c) - cycles(a);
  const double de1 = joules(*b) - joules(a), de2 = joules(*c) - joules(a);
  const double det = db1 * dc2 - dc1 * db2;
  const double per_byte = (de1 * dc2 - dc1 * de2) / det, per_cycle = (db1 * de2 - de1 * db2) / det;
  REQUIRE(per_byte > 0);
  if (dram != "simple") REQUIRE(per_cycle > 0);
  for (const Json& p : all) {
    const double predicted =
        joules(a) + per_byte * (bytes(p) - bytes(a)) + per_cycle * (cycles(p) - cycles(a));
    REQUIRE(joules(p) == Approx(predicted).epsilon(1e-9));
  }
  // Against the simulation, not only the closed form: the layer's dynamic energy and its static
  // power (the solved per-cycle price) over the cycles it spanned. The prediction leaves out the
  // SRAMs, the vector unit and DRAM row switches beyond one per row, and takes the cycles as
  // the larger of two bounds: it stays below the simulated energy, within 2x.
  const double measured = simulated["energy_pj"]["dynamic"].get<double>() +
                          per_cycle * simulated["span_cycles"].get<double>();
  INFO("predicted " << joules(energy) << " pJ, simulated " << measured << " pJ");
  CHECK(joules(energy) <= measured);
  CHECK(joules(energy) >= 0.5 * measured);
}

TEST_CASE("the mapper's predicted cycles follow the simulation on random shapes", "[sim]") {
  // Timing-only linear layers on a 64 x 64 adder tree with LPDDR5 (the LLM machine), every PE
  // kind: a decode's rows_outer streams its weights past one tile of rows, where the score's
  // pipeline of loads and gemms is close (small layers' fixed costs are what it misses);
  // weights_outer adds the quantize pass, the epilogues, SRAM port contention and strided
  // short DMA rows, which the score models coarsely or not at all. The bounds are today's
  // agreement, not issue 15's 2% target (docs/validation.md has the figures). The decodes' was
  // 15% until the DRAM's sustained rate was measured over a 2 MiB read instead of 512 KiB
  // (46.8 instead of 47.8 bytes per cycle on this LPDDR5: the shorter read met fewer refreshes
  // than a long stream does on average); the smallest decodes, a thousand cycles, meet fewer
  // still: the worst decode's error went from 14.1% to 15.7% (a 1,151-cycle layer), the
  // others' worst from 34.6% to 33.9%.
  test::Pick pick(15);
  double worst_decode = 0, worst_prefill = 0;
  int decodes = 0, prefills = 0;
  for (int trial = 0; trial < 60; ++trial) {
    const Kind& kind = kKinds[pick(0, std::size(kKinds) - 1)];
    const bool decode = trial % 2 == 0;
    const uint32_t tokens = decode ? 1 : pick(64, 160);
    const uint32_t k = pick(4, 24) * 64, n = pick(4, 24) * 64;
    INFO("trial " << trial << ": " << kind.pe << " " << tokens << " x " << k << " -> " << n);
    sim::RunOptions options;
    options.timing_only = true;
    const Json r = sim::run_isolated(test::make_config(
        two_linear(kind, tokens, k, n, "auto", 3),
        {std::string("hw.mac_array.pe=") + kind.pe, "hw.dram.standard=LPDDR5_16Gb_x16_6400",
         "hw.dram.channels=4", "hw.weight_sram.capacity_kib=512", "hw.weight_sram.banks=16",
         "hw.act_sram.capacity_kib=256", "hw.acc_sram.capacity_kib=256"},
        options));
    for (const Json& l : r["layers"]) {
      if (!l["mapping"].contains("loop_order")) continue;  // not a linear layer
      const double predicted = l["mapping"]["predicted"]["cycles"].get<double>();
      const double simulated = l["span_cycles"].get<double>();
      const double error = std::fabs(predicted / simulated - 1);
      INFO(l["name"] << " " << l["mapping"] << ": simulated " << simulated);
      if (l["mapping"]["loop_order"] == "rows_outer" && decode) {
        worst_decode = std::max(worst_decode, error);
        ++decodes;
        REQUIRE(error <= 0.16);
      } else {
        worst_prefill = std::max(worst_prefill, error);
        ++prefills;
        REQUIRE(error <= 0.40);
      }
    }
  }
  INFO(decodes << " decode layers, worst " << worst_decode << "; " << prefills << " others, worst "
               << worst_prefill);
  REQUIRE(decodes >= 40);
  REQUIRE(prefills >= 40);
  WARN("predicted vs simulated: decodes within " << worst_decode << ", others within "
                                                 << worst_prefill);
}

namespace {

// Vector layers only. Rows in: rmsnorm -> silu -> + input -> layernorm -> x (the norm's
// output) -> mean pool of 2 rows. Token ids in (`heads` > 0): embedding -> rope -> rmsnorm ->
// silu -> + (the rope's output) -> max pool of 2 rows.
Json vector_chain(uint32_t tokens, uint32_t width, uint64_t seed, uint32_t heads = 0) {
  const Json pool = {{"type", "pool"}, {"name", "pool"}, {"stride", 2}, {"op", "mean"}};
  if (heads > 0) {
    Json max_pool = pool;
    max_pool["op"] = "max";
    return {{"name", "vector-chain-ids"},
            {"tokens", tokens},
            {"layers",
             {{{"type", "embedding"},
               {"name", "embed"},
               {"vocab", 300},
               {"out_features", width},
               {"weights", {{"std", 0.5}, {"seed", seed}}}},
              {{"type", "rope"}, {"name", "rope"}, {"heads", heads}, {"context", seed % 50}},
              {{"type", "rmsnorm"}, {"name", "norm"}},
              {{"type", "activation"}, {"name", "act"}, {"function", "silu"}},
              {{"type", "add"}, {"name", "res"}, {"inputs", {"act", "rope"}}},
              max_pool}}};
  }
  return {{"name", "vector-chain"},
          {"tokens", tokens},
          {"input", {{"distribution", "uniform"}, {"low", -1}, {"high", 1}, {"seed", seed}}},
          {"layers",
           {{{"type", "rmsnorm"}, {"name", "norm"}, {"in_features", width}},
            {{"type", "activation"}, {"name", "act"}, {"function", "silu"}},
            {{"type", "add"}, {"name", "res"}, {"inputs", {"act", "input"}}},
            {{"type", "layernorm"}, {"name", "ln"}},
            {{"type", "mul"}, {"name", "gate"}, {"inputs", {"ln", "norm"}}},
            pool}}};
}

Json every_vector_layer(const Json& workload, const Json& mapping) {
  Json entries;
  for (const Json& l : workload["layers"]) entries[l["name"].get<std::string>()] = mapping;
  return entries;
}

}  // namespace

TEST_CASE(
    "vector layers give the same bits in one set of buffers or two, whole rows or split, and "
    "the mapper picks the faster",
    "[sim]") {
  // Random chains of rows or of token ids (every vector layer kind), widths, SRAMs, vector
  // lanes and simple DRAM channels: some where the DMA's
  // first-data latency makes tiles half as large slower, some where running one tile's DMA
  // under another's vector work wins. The mapper scores both with the analytical model, which
  // is exact on the simple channel but for SRAM port contention.
  test::Pick pick(1505);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("nmpsim_vector_" + std::to_string(::getpid()));
  int compared = 0, chose_one = 0, chose_two = 0, chose_split = 0;
  double worst = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const uint32_t tokens = pick(1, 30) * 2, heads = trial % 2 ? pick(1, 4) : 0;
    // Every fourth chain of rows is wide: a whole row's buffers crowd the SRAM, and the
    // element-wise layers may run each row as shorter ones.
    const uint32_t width = heads            ? heads * 2 * pick(2, 40)
                           : trial % 4 == 2 ? 64 * pick(4, 16)
                                            : pick(8, 300);
    const std::vector<std::string> sets = {
        "hw.act_sram.capacity_kib=" + std::to_string(pick(4, 32)),
        "hw.vector_unit.lanes=" + std::to_string(8u << pick(0, 3)), "hw.dram.standard=simple",
        "hw.dram.bytes_per_cycle=" + std::to_string(pick(4, 64)),
        "hw.dram.latency_cycles=" + std::to_string(pick(5, 400))};
    const Json w = vector_chain(tokens, width, pick(1, 1000), heads);
    INFO("trial " << trial << ": " << tokens << " x " << width << ", " << Json(sets).dump());
    std::map<std::string, Json> reports;
    std::map<std::string, std::map<std::string, std::string>> outputs;  // variant -> file -> bytes
    for (const std::string variant : {"one", "two", "auto"}) {
      INFO(variant);
      sim::RunOptions options;
      options.dump_dir = (dir / variant).string();
      std::filesystem::remove_all(options.dump_dir);
      const Json entries = every_vector_layer(
          w, variant == "auto" ? Json::object() : Json{{"buffer_sets", variant == "one" ? 1 : 2}});
      Json r;
      try {
        r = run_mapped(w, sets, entries, options);
      } catch (const sim::ConfigError& e) {
        if (variant == "one") break;  // a row's buffers do not fit: not a legal trial
        REQUIRE(std::string(e.what()).find("/buffer_sets") != std::string::npos);
        continue;  // two sets of a row do not fit
      }
      REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
      reports[variant] = r;
      outputs[variant] = dumped_outputs(options.dump_dir);
    }
    if (!reports.count("one")) continue;
    REQUIRE(outputs["one"].size() == 6 * 2);  // each layer's patterns and values
    REQUIRE(outputs["auto"] == outputs["one"]);
    if (!reports.count("two")) continue;
    REQUIRE(outputs["two"] == outputs["one"]);
    ++compared;
    for (size_t l = 0; l < 6; ++l) {
      const auto m_tile = [&](const std::string& v) {
        return reports[v]["layers"][l]["tiles"]["m"];
      };
      const auto buffer_sets = [&](const std::string& v) {
        return reports[v]["layers"][l]["mapping"]["buffer_sets"];
      };
      const auto row_split = [&](const std::string& v) {
        return reports[v]["layers"][l]["mapping"]["row_split"].get<uint32_t>();
      };
      REQUIRE(buffer_sets("one") == 1);
      REQUIRE(buffer_sets("two") == 2);
      REQUIRE(row_split("one") == 1);
      REQUIRE(row_split("two") == 1);
      if (row_split("auto") > 1) {  // an element-wise layer's rows run as shorter ones
        const std::string name = reports["auto"]["layers"][l]["name"];
        REQUIRE((name == "act" || name == "res" || name == "gate"));
        REQUIRE(width % row_split("auto") == 0);
        ++chose_split;
        continue;
      }
      // Whole rows: the mapper's choice is one of the two layouts.
      REQUIRE((m_tile("auto") == m_tile("one") || m_tile("auto") == m_tile("two")));
      REQUIRE(m_tile("auto") == m_tile(buffer_sets("auto") == 1 ? "one" : "two"));
      if (m_tile("one") != m_tile("two"))
        ++(m_tile("auto") == m_tile("two") ? chose_two : chose_one);
    }
    // Each layer's choice follows its score, which leaves out SRAM port contention and how the
    // layer meets its neighbours: in all, within 1% of the better of one layout of whole rows
    // for every layer (it is often better than both, mixing them and splitting rows).
    const auto cycles = [&](const std::string& v) {
      return reports[v]["cycles"]["total"].get<double>();
    };
    const double best = std::min(cycles("one"), cycles("two"));
    INFO("cycles: one " << cycles("one") << ", two " << cycles("two") << ", auto "
                        << cycles("auto"));
    worst = std::max(worst, cycles("auto") / best);
    REQUIRE(cycles("auto") <= best * 1.01);
  }
  std::filesystem::remove_all(dir);
  INFO(compared << " compared; the mapper chose one set " << chose_one << " times, two "
                << chose_two << " times, split rows " << chose_split
                << " times; the choice at most " << worst << "x the better");
  REQUIRE(compared >= 25);
  REQUIRE(chose_one >= 10);
  REQUIRE(chose_two >= 10);
  REQUIRE(chose_split >= 10);
}

TEST_CASE("a norm's gain and bias sit in the accumulator SRAM where they fit, else beside the rows",
          "[sim]") {
  // 512 fp32 gains (and biases) are 2 KiB each: a 1 KiB accumulator SRAM holds neither, the
  // default holds both. The same bits either way; there, the last pass reads them on the
  // accumulator SRAM's port beside the rows', so the norms take fewer cycles.
  const Json w = vector_chain(24, 512, 5);
  const std::vector<std::string> small = {"hw.acc_sram.capacity_kib=1"};
  const Json apart = run_mapped(w, small, Json::object(), false);
  const Json beside = run_mapped(w, {}, Json::object(), false);
  for (const Json* r : {&apart, &beside}) {
    REQUIRE((*r)["invariants"]["outputs_equal_reference"] == true);
  }
  for (const char* name : {"norm", "ln"}) {
    INFO(name);
    const auto layer = [&](const Json& r) {
      for (const Json& l : r["layers"])
        if (l["name"] == name) return l;
      FAIL("no layer " << name);
      return Json();
    };
    REQUIRE(layer(apart)["sram_words"]["acc"]["read"] == 0);
    REQUIRE(layer(beside)["sram_words"]["acc"]["read"].get<uint64_t>() > 0);
    REQUIRE(layer(beside)["span_cycles"].get<uint64_t>() <
            layer(apart)["span_cycles"].get<uint64_t>());
  }
}

TEST_CASE("a vector layer's forced mapping that does not fit names the layer and its field",
          "[sim]") {
  // 96 fp32 elements a row: one set (the row in and out) fits 1 KiB, two sets not (the gain
  // sits in the accumulator SRAM).
  Json w = vector_chain(8, 96, 1);
  w["layers"] = Json::array({w["layers"][0]});
  const std::vector<std::string> sets = {"hw.act_sram.capacity_kib=1"};
  for (const auto& [mapping, field] :
       {std::pair{Json{{"buffer_sets", 2}}, "/layers/norm/buffer_sets"},
        std::pair{Json{{"buffer_sets", 1}, {"rows", 3}}, "/layers/norm/rows"}}) {
    try {
      (void)run_mapped(w, sets, {{"norm", mapping}}, false);
      FAIL("expected a ConfigError for " << mapping.dump());
    } catch (const sim::ConfigError& e) {
      const std::string what = e.what();
      INFO(what);
      REQUIRE(what.find(field) != std::string::npos);
      REQUIRE(what.find("layer 0 (norm)") != std::string::npos);
    }
  }
  // Within what fits, the rows are the file's.
  const Json r = run_mapped(w, sets, {{"norm", {{"rows", 1}}}}, false);
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(r["layers"][0]["tiles"]["m"] == 1);
}
