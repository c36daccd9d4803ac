// Graphs with several model inputs: an encoder over frames and a decoder over characters in one
// graph, the decoder's attention reading the encoder's output as its memory. Bit-exact against
// the exact model on random shapes in every attention form; the memory the program writes into
// the caches equals the same memory given as a file; bad wiring is a clear error.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "../support.hpp"
#include "sim/npy.hpp"
#include "workloads/graph.hpp"

using namespace nmp;
using sim::Json;

namespace {

// How the decoder attends to the encoder's output: cross attention reading the memory as its
// keys and values, cross attention over projections k and v of it, or additive attention over
// projected keys and the memory.
enum class Attend { kMemory, kProjected, kAdditive };

struct EncoderDecoder {
  std::string format;  // the linear layers' (and attention's) format
  Attend attend = Attend::kMemory;
  uint32_t frames = 0, width = 0;  // input "input": frames x width
  bool pool = false;               // the encoder's output pooled by 2 (the memory's rows halved)
  uint32_t characters = 0, vocab = 0, embed = 0;  // input "characters": token ids
  uint32_t heads = 0, kv_heads = 0, head_dim = 0;
  uint32_t memory_width = 0;    // the encoder's output
  uint32_t additive_width = 0;  // additive attention's A
  uint32_t memory_rows() const { return pool ? frames / 2 : frames; }
  uint32_t query_width() const {
    return attend == Attend::kAdditive ? additive_width : heads * head_dim;
  }
  uint32_t attention_width() const {
    return attend == Attend::kAdditive ? memory_width : heads * head_dim;
  }
};

Json linear(const EncoderDecoder& m, const std::string& name, uint32_t in, uint32_t out,
            const std::string& input = "") {
  Json l = {{"type", "linear"},    {"name", name},
            {"format", m.format},  {"in_features", in},
            {"out_features", out}, {"weights", test::uniform(0.4, name.size() * 7 + in)}};
  if (!input.empty()) l["inputs"] = {input};
  return l;
}

// The graph: encoder (linear, optional pool) over the frames; decoder: embedding of the
// characters, the query, attention over the encoder's output, an output projection.
Json encoder_decoder(const EncoderDecoder& m) {
  Json layers = {linear(m, "encoder", m.width, m.memory_width)};
  if (m.pool) layers.push_back({{"type", "pool"}, {"name", "pool"}, {"stride", 2}});
  const std::string memory = m.pool ? "pool" : "encoder";
  layers.push_back({{"type", "embedding"},
                    {"name", "embed"},
                    {"vocab", m.vocab},
                    {"out_features", m.embed},
                    {"inputs", {"characters"}},
                    {"weights", test::uniform(1, 31)}});
  layers.push_back(linear(m, "query", m.embed, m.query_width()));
  Json attention = {{"name", "attention"}};
  if (m.attend == Attend::kAdditive) {
    layers.push_back(linear(m, "keys", m.memory_width, m.additive_width, memory));
    attention.update({{"type", "mlp_attention"},
                      {"inputs", {"query", "keys", memory}},
                      {"weights", test::uniform(1, 50)}});
  } else {
    attention.update({{"type", "attention"},
                      {"mode", "cross"},
                      {"format", m.format},
                      {"heads", m.heads},
                      {"kv_heads", m.kv_heads},
                      {"head_dim", m.head_dim},
                      {"weights", test::uniform(1, 50)}});
    if (m.attend == Attend::kMemory) {
      attention["shared_kv"] = true;
      attention["inputs"] = {"query", memory};
    } else {
      const uint32_t kv = m.kv_heads * m.head_dim;
      layers.push_back(linear(m, "k", m.memory_width, kv, memory));
      layers.push_back(linear(m, "v", m.memory_width, kv, memory));
      attention["inputs"] = {"query", "k", "v"};
    }
  }
  layers.push_back(attention);
  layers.push_back(linear(m, "out", m.attention_width(), 8));
  return {{"name", "encoder-decoder"},
          {"tokens", m.frames},
          {"input", test::uniform(1, 3)},
          {"inputs", {{"characters", {{"tokens", m.characters}, {"seed", 9}}}}},
          {"layers", layers}};
}

std::string pe_of(const std::string& format) { return format == "int8" ? "int8_int8" : format; }

// The message of the ConfigError a workload raises.
std::string error_of(const Json& w) {
  try {
    (void)test::make_config(w);
  } catch (const sim::ConfigError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE(
    "an encoder and a decoder in one graph equal their exact model, the memory from the "
    "encoder",
    "[sim]") {
  test::Pick pick(20261206);
  for (int trial = 0; trial < 36; ++trial) {
    EncoderDecoder m;
    m.format = std::vector<std::string>{"fp16", "int8", "posit8_0", "bf16"}[trial % 4];
    m.attend = static_cast<Attend>(trial % 3);
    m.frames = pick(2, 40);
    m.width = pick(4, 40);
    m.pool = pick(0, 1) == 1 && m.frames >= 4;
    m.characters = pick(1, 12);
    m.vocab = pick(2, 40);
    m.embed = pick(4, 40);
    m.kv_heads = pick(1, 2);
    m.heads = m.kv_heads * pick(1, 2);
    m.head_dim = pick(4, 24);
    m.additive_width = pick(4, 32);
    m.memory_width = m.attend == Attend::kMemory ? m.kv_heads * m.head_dim : pick(4, 40);
    const std::string dataflow = pick(0, 1) ? "adder_tree" : "weight_stationary";
    const uint32_t array = pick(0, 1) ? 8 : 16;
    INFO("trial " << trial << ": " << m.format << ", attend " << int(m.attend) << ", frames "
                  << m.frames << (m.pool ? " pooled" : "") << " x " << m.width << ", "
                  << m.characters << " characters, heads " << m.heads << "/" << m.kv_heads << " x "
                  << m.head_dim << ", memory " << m.memory_width << ", " << dataflow << " "
                  << array);
    const sim::SimConfig c =
        test::make_config(encoder_decoder(m), {"hw.mac_array.pe=" + pe_of(m.format),
                                               "hw.mac_array.dataflow=" + dataflow,
                                               "hw.mac_array.rows=" + std::to_string(array),
                                               "hw.mac_array.cols=" + std::to_string(array)});
    const Json r = sim::run_isolated(c);
    REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
    // Every layer's outputs checked: the encoder's rows are the frames', the decoder's the
    // characters'.
    const uint32_t M = m.memory_rows(), T = m.characters;
    uint64_t outputs = uint64_t{m.frames} * m.memory_width + uint64_t{T} * m.embed +
                       uint64_t{T} * m.query_width() + uint64_t{T} * m.attention_width() + T * 8;
    if (m.pool) outputs += uint64_t{M} * m.memory_width;
    uint64_t macs = uint64_t{m.frames} * m.width * m.memory_width +
                    uint64_t{T} * m.embed * m.query_width() + uint64_t{T} * m.attention_width() * 8;
    if (m.attend == Attend::kAdditive) {
      outputs += uint64_t{M} * m.additive_width;
      macs += uint64_t{M} * m.memory_width * m.additive_width;
    } else {
      macs += 2ull * m.heads * T * M * m.head_dim;
    }
    if (m.attend == Attend::kProjected) {
      outputs += 2ull * M * m.kv_heads * m.head_dim;
      macs += 2ull * M * m.memory_width * m.kv_heads * m.head_dim;
    }
    REQUIRE(r["invariants"]["outputs_checked"] == outputs);
    for (const Json& l : r["layers"]) {
      macs += l.value("transpose_macs", uint64_t{0});
      if (l["name"] == "attention") {
        REQUIRE(l["shape"]["m"] == T);
        if (m.attend != Attend::kAdditive) REQUIRE(l["tiles"]["n"] == M);  // the positions
      }
    }
    REQUIRE(r["counters"]["mac_array"]["macs"] == macs);
  }
}

TEST_CASE("a memory the program writes into the caches equals the same memory from a file",
          "[sim]") {
  const std::string format = GENERATE("fp16", "posit8_0");
  const Attend attend = GENERATE(Attend::kMemory, Attend::kAdditive);
  EncoderDecoder m;
  m.format = format;
  m.attend = attend;
  m.frames = 22;
  m.width = 24;
  m.pool = true;
  m.characters = 5;
  m.vocab = 11;
  m.embed = 16;
  m.heads = m.kv_heads = 2;
  m.head_dim = 12;
  m.additive_width = 20;
  m.memory_width = attend == Attend::kMemory ? 24 : 28;
  INFO(format << (attend == Attend::kMemory ? ", cross attention" : ", additive attention"));
  const std::vector<std::string> sets = {"hw.mac_array.pe=" + pe_of(format), "hw.mac_array.rows=8",
                                         "hw.mac_array.cols=8"};
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("nmpsim_model_inputs_" + std::to_string(::getpid()));
  sim::RunOptions whole_options;
  whole_options.dump_dir = dir + "/whole";
  const Json whole_graph = encoder_decoder(m);
  const Json whole = sim::run_isolated(test::make_config(whole_graph, sets, whole_options));
  REQUIRE(whole["invariants"]["outputs_equal_reference"] == true);
  // The layers' file stems in the whole graph: index_name.
  std::map<std::string, std::string> stem;
  for (size_t i = 0; i < whole_graph["layers"].size(); ++i) {
    const std::string name = whole_graph["layers"][i]["name"];
    stem[name] = dir + "/whole/" + std::to_string(i) + "_" + name;
  }
  auto values = [](const std::string& path) { return sim::read_npy(path).values; };
  const std::vector<float> memory = values(stem["pool"] + "_output_values.npy");
  const uint32_t M = m.memory_rows();
  REQUIRE(memory.size() == size_t{M} * m.memory_width);
  // The decoder alone, its characters as its only input and its memory from a file.
  Json decoder = encoder_decoder(m);
  Json layers = Json::array();
  for (const Json& l : decoder["layers"]) {
    if (l["name"] == "encoder" || l["name"] == "pool" || l["name"] == "keys") continue;
    layers.push_back(l);
  }
  layers[0].erase("inputs");  // the embedding reads "input"
  Json& attention = layers[2];
  attention.erase("inputs");
  const std::string file = dir + "/memory.safetensors";
  if (attend == Attend::kMemory) {
    // kv_heads x positions x head_dim, from rows of kv_heads x head_dim.
    std::vector<float> cache(memory.size());
    for (uint32_t p = 0; p < M; ++p) {
      for (uint32_t g = 0; g < m.kv_heads; ++g) {
        for (uint32_t i = 0; i < m.head_dim; ++i)
          cache[(size_t{g} * M + p) * m.head_dim + i] =
              memory[size_t{p} * m.memory_width + g * m.head_dim + i];
      }
    }
    const std::vector<size_t> shape = {m.kv_heads, M, m.head_dim};
    test::write_safetensors(file, {{"keys", "F32", shape, test::raw_bytes(cache)},
                                   {"values", "F32", shape, test::raw_bytes(cache)}});
    attention["context"] = M;
  } else {
    const std::vector<float> keys = values(stem["keys"] + "_output_values.npy");
    const std::vector<float> v = values(stem["attention"] + "_v_f32.npy");
    test::write_safetensors(file, {{"keys", "F32", {M, m.additive_width}, test::raw_bytes(keys)},
                                   {"values", "F32", {M, m.memory_width}, test::raw_bytes(memory)},
                                   {"v", "F32", {m.additive_width}, test::raw_bytes(v)}});
    attention["context"] = M;
    attention["out_features"] = m.memory_width;
  }
  attention["weights"] = {{"file", file}, {"keys", "keys"}, {"values", "values"}};
  if (attend == Attend::kAdditive) attention["weights"]["v"] = "v";
  decoder["layers"] = layers;
  decoder["tokens"] = m.characters;
  decoder["input"] = {{"seed", 9}};
  decoder.erase("inputs");
  sim::RunOptions part_options;
  part_options.dump_dir = dir + "/decoder";
  const Json part = sim::run_isolated(test::make_config(decoder, sets, part_options));
  REQUIRE(part["invariants"]["outputs_equal_reference"] == true);
  // The decoder's layers output the same patterns in both runs.
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string name = layers[i]["name"];
    INFO(name);
    const std::string mine = dir + "/decoder/" + std::to_string(i) + "_" + name;
    REQUIRE(values(mine + "_output_values.npy") == values(stem[name] + "_output_values.npy"));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("bad model inputs and memories are clear errors", "[sim]") {
  EncoderDecoder m;
  m.format = "fp16";
  m.frames = 8;
  m.width = 16;
  m.characters = 3;
  m.vocab = 10;
  m.embed = 16;
  m.heads = m.kv_heads = 1;
  m.head_dim = 16;
  m.memory_width = 16;
  Json w = encoder_decoder(m);
  w["layers"][1]["inputs"] = {"nowhere"};
  REQUIRE_THAT(error_of(w), Catch::Contains("/layers/1/inputs") &&
                                Catch::Contains("no earlier layer or model input is named"));
  w = encoder_decoder(m);
  w["layers"][2]["inputs"] = {"characters"};  // token ids read as activations
  REQUIRE_THAT(error_of(w), Catch::Contains("/layers/2/inputs") &&
                                Catch::Contains("holds token ids") &&
                                Catch::Contains("only embeddings may read it"));
  w = encoder_decoder(m);
  w["layers"][1]["inputs"] = {"encoder"};  // an embedding of a layer's output
  REQUIRE_THAT(error_of(w), Catch::Contains("/layers/1/inputs") &&
                                Catch::Contains("its input must be a model input"));
  w = encoder_decoder(m);
  w["inputs"]["unused"] = {{"tokens", 4}};
  REQUIRE_THAT(error_of(w), Catch::Contains("/inputs/unused") &&
                                Catch::Contains("no layer reads model input \"unused\""));
  w = encoder_decoder(m);
  w["layers"][3]["context"] = 5;  // the memory has 8 rows
  REQUIRE_THAT(error_of(w), Catch::Contains("/layers/3/context") &&
                                Catch::Contains("the memory (input 1) has 8 rows"));
  w = encoder_decoder(m);
  w["layers"][3]["head_dim"] = 8;  // the memory is 16 wide
  w["layers"][2]["out_features"] = 8;
  REQUIRE_THAT(error_of(w), Catch::Contains("/layers/3/inputs") &&
                                Catch::Contains("input 1, the memory (kv_heads x head_dim), "
                                                "must be 8 wide; it is 16"));
  w = encoder_decoder(m);
  w["layers"][1]["name"] = "characters";
  REQUIRE_THAT(error_of(w),
               Catch::Contains("/layers/1/name") && Catch::Contains("names a model input"));
  w = encoder_decoder(m);
  w["inputs"]["characters"].erase("tokens");
  REQUIRE_THAT(error_of(w), Catch::Contains("/inputs/characters/tokens"));
}

TEST_CASE("concat joins two tensors' rows, exact in every stored format and buffer layout",
          "[sim]") {
  // Two model inputs of random widths, each through a vector layer, joined, then normalized:
  // tiles of every size (small activation SRAMs), one set of buffers or two, stored formats
  // that convert on every DMA.
  test::Pick pick(31);
  int sets_seen[3] = {};
  for (int trial = 0; trial < 30; ++trial) {
    const uint32_t tokens = pick(1, 40), a = pick(1, 100), b = pick(1, 100);
    const std::string stored = std::vector<std::string>{"", "bf16", "fp16"}[trial % 3];
    const Json w = {{"name", "concat"},
                    {"tokens", tokens},
                    {"input", test::uniform(2, 3)},
                    {"inputs", {{"other", {{"tokens", tokens}, {"seed", 4}}}}},
                    {"layers",
                     {{{"type", "rmsnorm"}, {"name", "n"}, {"in_features", a}},
                      {{"type", "activation"},
                       {"name", "t"},
                       {"function", "tanh"},
                       {"in_features", b},
                       {"inputs", {"other"}}},
                      {{"type", "concat"}, {"name", "cat"}, {"inputs", {"n", "t"}}},
                      {{"type", "rmsnorm"}, {"name", "out"}}}}};
    std::vector<std::string> sets = {"hw.act_sram.capacity_kib=" + std::to_string(pick(2, 16))};
    if (!stored.empty()) sets.push_back("hw.dram.activation_format=" + stored);
    INFO("trial " << trial << ": " << tokens << " rows of " << a << " + " << b << ", stored "
                  << stored << ", " << sets.front());
    // The concat's sets of buffers forced in turn (a mapping file), where two fit.
    sim::SimConfig c = test::make_config(w, sets);
    const std::string mapping = std::filesystem::temp_directory_path() /
                                ("nmpsim_concat_" + std::to_string(::getpid()) + ".json");
    std::ofstream(mapping) << Json{{"layers", {{"cat", {{"buffer_sets", 1 + trial % 2}}}}}};
    sim::apply_mapping_file(c.workload, mapping);
    std::filesystem::remove(mapping);
    Json r;
    try {
      r = test::run_both_modes(c);
    } catch (const sim::ConfigError& e) {
      REQUIRE(std::string(e.what()).find("/layers/cat/buffer_sets") != std::string::npos);
      continue;
    }
    REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
    REQUIRE(r["invariants"]["outputs_checked"] == uint64_t{tokens} * 3 * (a + b));
    const Json& cat = r["layers"][2];
    REQUIRE(cat["shape"]["n"] == a + b);
    // A copy: its error against FP32 is its inputs' (nothing rounds on the way when the
    // stored format is the vector format).
    if (stored.empty()) {
      const Json& e = r["error"];
      REQUIRE(e["cat.output"]["max_abs"] == std::max(e["n.output"]["max_abs"].get<double>(),
                                                     e["t.output"]["max_abs"].get<double>()));
    }
    ++sets_seen[cat["mapping"]["buffer_sets"].get<int>()];
  }
  REQUIRE(sets_seen[1] >= 10);
  REQUIRE(sets_seen[2] >= 10);
}

namespace {

// A decoder over characters whose layers run in a step loop: proj (linear), rec (lstm or
// gru), query (linear), attention (cross, over the encoder's output), out (tanh). Fed: proj
// reads [embedding; the previous step's out] (input feeding).
struct Decoder {
  std::string format, recurrent;
  uint32_t frames = 0, width = 0, characters = 0, vocab = 0, embed = 0;
  uint32_t proj = 0, hidden = 0, heads = 0, head_dim = 0;
  bool fed = false, loop = true;
};

Json decoder_graph(const Decoder& d) {
  EncoderDecoder m;  // for its linear layers' format
  m.format = d.format;
  const uint32_t width = d.heads * d.head_dim;
  // The memory: one key/value head, its keys the values.
  Json layers = {linear(m, "encoder", d.width, d.head_dim),
                 {{"type", "embedding"},
                  {"name", "embed"},
                  {"vocab", d.vocab},
                  {"out_features", d.embed},
                  {"inputs", {"characters"}},
                  {"weights", test::uniform(1, 31)}}};
  if (d.fed)
    layers.push_back({{"type", "concat"}, {"name", "feed_in"}, {"inputs", {"embed", "feed"}}});
  layers.push_back(linear(m, "proj", d.fed ? d.embed + width : d.embed, d.proj));
  layers.push_back({{"type", d.recurrent},
                    {"name", "rec"},
                    {"format", d.format},
                    {"in_features", d.proj},
                    {"hidden", d.hidden},
                    {"weights", test::uniform(0.3, 41)},
                    {"biases", test::uniform(0.3, 42)}});
  layers.push_back(linear(m, "query", d.hidden, width));
  layers.push_back({{"type", "attention"},
                    {"name", "attention"},
                    {"mode", "cross"},
                    {"format", d.format},
                    {"heads", d.heads},
                    {"kv_heads", 1},
                    {"head_dim", d.head_dim},
                    {"shared_kv", true},
                    {"inputs", {"query", "encoder"}}});
  layers.push_back({{"type", "activation"}, {"name", "out"}, {"function", "tanh"}});
  Json w = {{"name", "decoder"},
            {"tokens", d.frames},
            {"input", test::uniform(1, 3)},
            {"inputs", {{"characters", {{"tokens", d.characters}, {"seed", 9}}}}},
            {"layers", layers}};
  if (d.loop) {
    w["step_loop"] = {{"first", d.fed ? "feed_in" : "proj"}, {"last", "out"}};
    if (d.fed) w["step_loop"]["carried"] = {{"feed", {{"from", "out"}, {"width", width}}}};
  }
  return w;
}

Decoder random_decoder(test::Pick& pick, int trial) {
  Decoder d;
  d.format = std::vector<std::string>{"fp16", "posit8_0", "int8", "bf16"}[trial % 4];
  d.recurrent = trial % 2 ? "gru" : "lstm";
  d.frames = pick(1, 20);
  d.width = pick(4, 32);
  d.characters = pick(1, 9);
  d.vocab = pick(2, 20);
  d.embed = pick(4, 32);
  d.proj = pick(4, 40);
  d.hidden = pick(4, 40);
  d.heads = pick(1, 2);
  d.head_dim = pick(4, 16);
  return d;
}

}  // namespace

TEST_CASE("a step loop's layers give the same bits as the same layers run layer by layer",
          "[sim]") {
  // Without a carried tensor, running the decoder a row per step (its recurrence's state
  // through DRAM between steps, the memory written once) must change no value.
  test::Pick pick(77);
  const std::string dir =
      std::filesystem::temp_directory_path() / ("nmpsim_step_loop_" + std::to_string(::getpid()));
  for (int trial = 0; trial < 16; ++trial) {
    Decoder d = random_decoder(pick, trial);
    INFO("trial " << trial << ": " << d.format << " " << d.recurrent << ", " << d.characters
                  << " steps, hidden " << d.hidden << ", heads " << d.heads << " x " << d.head_dim
                  << " over " << d.frames << " positions");
    std::map<bool, std::map<std::string, std::vector<float>>> outputs;
    for (const bool loop : {false, true}) {
      d.loop = loop;
      sim::RunOptions options;
      options.dump_dir = dir + (loop ? "/loop" : "/layers");
      const Json w = decoder_graph(d);
      const Json r = sim::run_isolated(test::make_config(
          w, {"hw.mac_array.pe=" + pe_of(d.format), "hw.controller.imem_kib=1024"}, options));
      REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
      for (size_t i = 0; i < w["layers"].size(); ++i) {
        const std::string name = w["layers"][i]["name"];
        outputs[loop][name] = sim::read_npy(options.dump_dir + "/" + std::to_string(i) + "_" +
                                            name + "_output_values.npy")
                                  .values;
      }
    }
    REQUIRE(outputs[true] == outputs[false]);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("an input-fed decoder equals its exact model step by step", "[sim]") {
  test::Pick pick(78);
  for (int trial = 0; trial < 20; ++trial) {
    Decoder d = random_decoder(pick, trial);
    d.fed = true;
    const std::string dataflow = pick(0, 1) ? "adder_tree" : "weight_stationary";
    INFO("trial " << trial << ": " << d.format << " " << d.recurrent << ", " << d.characters
                  << " steps, hidden " << d.hidden << ", heads " << d.heads << " x " << d.head_dim
                  << " over " << d.frames << " positions, " << dataflow);
    const Json r = test::run_both_modes(test::make_config(
        decoder_graph(d),
        {"hw.mac_array.pe=" + pe_of(d.format), "hw.controller.imem_kib=1024",
         "hw.mac_array.dataflow=" + dataflow, "hw.mac_array.rows=8", "hw.mac_array.cols=8"}));
    REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
    const uint64_t width = d.heads * d.head_dim, T = d.characters;
    REQUIRE(r["invariants"]["outputs_checked"] ==
            d.frames * d.head_dim +
                T * (d.embed + (d.embed + width) + d.proj + d.hidden + width + width + width));
    // Every step reads the previous step's output: the loop's layers report every row, and
    // their cycles are summed over the steps (each layer entered once per step), so the layers'
    // spans add up to the run's cycles, simulated and predicted alike.
    uint64_t simulated = 0, predicted = 0;
    for (const Json& l : r["layers"]) {
      if (l["name"] != "encoder" && l["name"] != "embed") REQUIRE(l["shape"]["m"] == T);
      simulated += l["span_cycles"].get<uint64_t>();
      predicted += l["analytical"]["span_cycles"].get<uint64_t>();
    }
    REQUIRE(simulated == r["cycles"]["total"].get<uint64_t>());
    REQUIRE(predicted == r["analytical"]["cycles"].get<uint64_t>());
  }
}

TEST_CASE("a step loop that cannot run a row per step is a clear error", "[sim]") {
  Decoder d;
  d.format = "fp16";
  d.recurrent = "lstm";
  d.frames = 6;
  d.width = 8;
  d.characters = 4;
  d.vocab = 5;
  d.embed = 8;
  d.proj = 8;
  d.hidden = 8;
  d.heads = 1;
  d.head_dim = 8;
  d.fed = true;
  Json w = decoder_graph(d);
  w["step_loop"]["carried"]["feed"]["width"] = 9;
  w["layers"][3]["in_features"] = 8 + 9;  // proj reads [embedding; feed]
  REQUIRE_THAT(error_of(w), Catch::Contains("/step_loop/carried/feed/width") &&
                                Catch::Contains("\"out\" writes 8 per row; got 9"));
  w = decoder_graph(d);
  w["step_loop"]["carried"]["feed"]["from"] = "encoder";
  REQUIRE_THAT(error_of(w), Catch::Contains("/step_loop/carried/feed/from") &&
                                Catch::Contains("expected a layer of the step loop"));
  w = decoder_graph(d);
  w["step_loop"]["first"] = "proj";  // feed_in, reading the carried tensor, is outside
  REQUIRE_THAT(error_of(w), Catch::Contains("/layers/2/inputs") &&
                                Catch::Contains("only its layers may read it"));
  w = decoder_graph(d);
  w["step_loop"]["first"] = "out";
  w["step_loop"]["last"] = "proj";
  REQUIRE_THAT(error_of(w), Catch::Contains("/step_loop/last") &&
                                Catch::Contains("comes before the first layer"));
  w = decoder_graph(d);
  w["step_loop"]["first"] = "encoder";  // the attention's memory inside the loop
  REQUIRE_THAT(error_of(w), Catch::Contains("/layers/6/inputs") &&
                                Catch::Contains("must come from before the step loop"));
  w = decoder_graph(d);
  w["layers"][4]["bidirectional"] = true;
  w["layers"][5]["in_features"] = 16;
  REQUIRE_THAT(error_of(w),
               Catch::Contains("/layers/4/type") && Catch::Contains("no bidirectional recurrence"));
  // Unrolled, a loop of many steps outgrows the instruction memory: an error as soon as it
  // does, not after building the whole program.
  d.characters = 60000;
  const sim::SimConfig many = test::make_config(decoder_graph(d), {"hw.mac_array.pe=fp16"});
  const auto begun = std::chrono::steady_clock::now();
  REQUIRE_THROWS_WITH(workloads::lower_graph(many.workload.model, nullptr, many.hw.params),
                      Catch::Contains("bytes of instruction memory; it has 65536"));
  REQUIRE(std::chrono::steady_clock::now() - begun < std::chrono::seconds(5));
  d.characters = 4;
  w = decoder_graph(d);
  w["step_loop"]["last"] = "nowhere";
  REQUIRE_THAT(error_of(w),
               Catch::Contains("/step_loop/last") && Catch::Contains("no layer is named"));
}
