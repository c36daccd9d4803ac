// Weights from .npy and safetensors files: the simulated layer uses exactly the file's values,
// pre-quantized ternary weights equal the same weights quantized on load, and every dtype
// decodes to the value it encodes.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "../support.hpp"
#include "hw_models/arith/minifloat.hpp"
#include "hw_models/arith/ternary.hpp"
#include "sim/npy.hpp"
#include "sim/safetensors.hpp"
#include "workloads/random.hpp"

using namespace nmp;
using sim::Json;

namespace {

constexpr uint32_t kIn = 40, kOut = 24;

std::string temp_dir() {
  const std::string dir = std::filesystem::temp_directory_path() / "nmpsim_weight_files";
  std::filesystem::create_directories(dir);
  return dir;
}

std::vector<float> latent_weights() {
  workloads::TensorSource s;
  s.seed = 77;
  return workloads::generate_tensor(s, size_t{kOut} * kIn);
}

using test::raw_bytes;
using test::Tensor;
using test::write_safetensors;

// A safetensors file of kOut-row matrices (name, dtype, raw little-endian bytes).
void write_safetensors(const std::string& path,
                       const std::vector<std::tuple<std::string, std::string, std::string>>& ts) {
  std::vector<Tensor> tensors;
  for (const auto& [name, dtype, bytes] : ts) {
    const size_t item = dtype == "F32" ? 4 : dtype == "I8" ? 1 : 2;
    tensors.push_back({name, dtype, {kOut, bytes.size() / item / kOut}, bytes});
  }
  write_safetensors(path, tensors);
}

Json linear_layer(const std::string& type, const Json& weights) {
  Json l = {{"type", type},
            {"name", "l"},
            {"in_features", kIn},
            {"out_features", kOut},
            {"weights", weights}};
  if (type == "linear") l["format"] = "fp16";
  return {{"name", "files"}, {"tokens", 3}, {"layers", {l}}};
}

}  // namespace

TEST_CASE("safetensors tensors decode every dtype exactly", "[sim]") {
  const std::string dir = temp_dir();
  const std::vector<float> w = latent_weights();
  std::vector<uint16_t> f16, b16;
  std::vector<int8_t> i8;
  for (float v : w) {
    f16.push_back(static_cast<uint16_t>(arith::kFp16.encode(arith::from_double(v))));
    b16.push_back(static_cast<uint16_t>(arith::kBf16.encode(arith::from_double(v))));
    i8.push_back(static_cast<int8_t>(std::lround(v * 40)));
  }
  write_safetensors(dir + "/m.safetensors", {{"f32", "F32", raw_bytes(w)},
                                             {"f16", "F16", raw_bytes(f16)},
                                             {"bf16", "BF16", raw_bytes(b16)},
                                             {"i8", "I8", raw_bytes(i8)}});
  const auto f32 = sim::read_safetensors(dir + "/m.safetensors", "f32");
  REQUIRE(f32.shape == std::vector<size_t>{kOut, kIn});
  REQUIRE(f32.values == w);
  const auto h = sim::read_safetensors(dir + "/m.safetensors", "f16").values;
  const auto b = sim::read_safetensors(dir + "/m.safetensors", "bf16").values;
  const auto q = sim::read_safetensors(dir + "/m.safetensors", "i8").values;
  for (size_t i = 0; i < w.size(); ++i) {
    REQUIRE(h[i] == static_cast<float>(arith::to_double(arith::kFp16.decode(f16[i]))));
    REQUIRE(b[i] == static_cast<float>(arith::to_double(arith::kBf16.decode(b16[i]))));
    REQUIRE(q[i] == static_cast<float>(i8[i]));
  }
  REQUIRE_THROWS_WITH(sim::read_safetensors(dir + "/m.safetensors", "nope"),
                      Catch::Contains("no tensor \"nope\""));
}

TEST_CASE("a layer runs on exactly the weights of its file", "[sim]") {
  const std::string dir = temp_dir();
  const std::vector<float> w = latent_weights();
  sim::write_npy(dir + "/w.npy", sim::NpyType::kFloat32, w.data(), {kOut, kIn});
  write_safetensors(dir + "/w.safetensors", {{"model.up.weight", "F32", raw_bytes(w)}});
  // The same weights drawn from the seed, from the .npy file and from the safetensors file.
  const Json seeded = sim::run_isolated(
      test::make_config(linear_layer("linear", {{"seed", 77}}), {"hw.mac_array.pe=fp16"}));
  const Json npy = sim::run_isolated(test::make_config(
      linear_layer("linear", {{"file", dir + "/w.npy"}}), {"hw.mac_array.pe=fp16"}));
  const Json st = sim::run_isolated(test::make_config(
      linear_layer("linear", {{"file", dir + "/w.safetensors"}, {"tensor", "model.up.weight"}}),
      {"hw.mac_array.pe=fp16"}));
  for (const Json* r : {&npy, &st}) {
    REQUIRE((*r)["invariants"]["outputs_equal_reference"] == true);
    REQUIRE((*r)["error"] == seeded["error"]);
    REQUIRE((*r)["cycles"] == seeded["cycles"]);
  }
}

TEST_CASE("pre-quantized ternary weights equal the same weights quantized on load", "[sim]") {
  const std::string dir = temp_dir();
  const std::vector<float> w = latent_weights();
  const arith::TernaryTensor t = arith::quantize_absmean(w.data(), w.size());
  write_safetensors(dir + "/t.safetensors", {{"trits", "I8", raw_bytes(t.trits)}});
  sim::write_npy(dir + "/latent.npy", sim::NpyType::kFloat32, w.data(), {kOut, kIn});
  const Json on_load = sim::run_isolated(
      test::make_config(linear_layer("bitlinear", {{"file", dir + "/latent.npy"}})));
  const Json pre = sim::run_isolated(
      test::make_config(linear_layer("bitlinear", {{"file", dir + "/t.safetensors"},
                                                   {"tensor", "trits"},
                                                   {"prequantized", true},
                                                   {"scale", t.gamma[0]}})));
  REQUIRE(pre["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(pre["counters"] == on_load["counters"]);
  REQUIRE(pre["error"]["l.output"]["rmse"].get<double>() > 0);
  // Not ternary: a clear error naming the element.
  const std::vector<float> halves(size_t{kOut} * kIn, 0.5f);
  sim::write_npy(dir + "/halves.npy", sim::NpyType::kFloat32, halves.data(), {kOut, kIn});
  REQUIRE_THROWS_WITH(test::make_config(linear_layer(
                          "bitlinear", {{"file", dir + "/halves.npy"}, {"prequantized", true}})),
                      Catch::Contains("/layers/0/weights/file") &&
                          Catch::Contains("must be -1, 0 or +1") &&
                          Catch::Contains("element [0, 0] is 0.5"));
}

namespace {

// Every kind of tensor a graph model reads: token ids, an embedding table, layernorm gain and
// bias, a bidirectional GRU's weights and biases, a linear layer's weights.
Json every_source_model() {
  return {{"name", "sources"},
          {"tokens", 5},
          {"input", {{"seed", 3}}},
          {"layers",
           {{{"type", "embedding"},
             {"name", "embed"},
             {"vocab", 50},
             {"out_features", 24},
             {"weights", test::uniform(1, 4)}},
            {{"type", "layernorm"},
             {"name", "norm"},
             {"gain", test::uniform(1, 5)},
             {"bias", test::uniform(0.5, 6)}},
            {{"type", "gru"},
             {"name", "gru"},
             {"format", "fp16"},
             {"in_features", 24},
             {"hidden", 8},
             {"bidirectional", true},
             {"weights", test::uniform(0.5, 7)},
             {"biases", test::uniform(0.5, 8)}},
            {{"type", "linear"},
             {"name", "proj"},
             {"format", "fp16"},
             {"in_features", 16},
             {"out_features", 12},
             {"weights", test::uniform(0.5, 9)}}}}};
}

}  // namespace

TEST_CASE("every tensor of a graph model can come from a file, as PyTorch names them", "[sim]") {
  const std::string dir = temp_dir();
  const Json seeded_model = every_source_model();
  const std::vector<std::string> sets = {"hw.mac_array.pe=fp16"};
  const sim::SimConfig seeded_cfg = test::make_config(seeded_model, sets);
  // The values the seeds give, written to files; the model then reads them from the files.
  const workloads::ModelData d = workloads::generate(seeded_cfg.workload.model);
  const uint32_t H = 8, G = 3;
  sim::write_npy(dir + "/ids.npy", sim::NpyType::kFloat32, d.inputs[0].data(), {5});
  sim::write_npy(dir + "/table.npy", sim::NpyType::kFloat32, d.layers[0].weights.data(), {50, 24});
  std::vector<Tensor> ts = {{"norm.weight", "F32", {24}, raw_bytes(d.layers[1].weights)},
                            {"norm.bias", "F32", {24}, raw_bytes(d.layers[1].bias)},
                            {"proj.weight", "F32", {12, 16}, raw_bytes(d.layers[3].weights)}};
  for (size_t dir_index = 0; dir_index < 2; ++dir_index) {
    const workloads::RecurrentDirection& r = d.layers[2].directions[dir_index];
    const std::string suffix = dir_index == 1 ? "_l1_reverse" : "_l1";
    ts.push_back({"enc.rnn.weight_ih" + suffix, "F32", {G * H, 24}, raw_bytes(r.w.latent)});
    ts.push_back({"enc.rnn.weight_hh" + suffix, "F32", {G * H, H}, raw_bytes(r.u.latent)});
    ts.push_back({"enc.rnn.bias_ih" + suffix, "F32", {G * H}, raw_bytes(r.b_ih)});
    ts.push_back({"enc.rnn.bias_hh" + suffix, "F32", {G * H}, raw_bytes(r.b_hh)});
  }
  write_safetensors(dir + "/model.safetensors", ts);
  Json from_files = seeded_model;
  const std::string st = dir + "/model.safetensors";
  from_files["input"] = {{"file", dir + "/ids.npy"}};
  from_files["layers"][0]["weights"] = {{"file", dir + "/table.npy"}};
  from_files["layers"][1]["gain"] = {{"file", st}, {"tensor", "norm.weight"}};
  from_files["layers"][1]["bias"] = {{"file", st}, {"tensor", "norm.bias"}};
  from_files["layers"][2]["weights"] = {{"file", st}, {"prefix", "enc.rnn."}, {"layer", 1}};
  from_files["layers"][2].erase("biases");
  from_files["layers"][3]["weights"] = {{"file", st}, {"tensor", "proj.weight"}};
  const Json a = sim::run_isolated(seeded_cfg);
  const Json b = sim::run_isolated(test::make_config(from_files, sets));
  REQUIRE(b["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(a["cycles"] == b["cycles"]);
  REQUIRE(a["counters"] == b["counters"]);
  REQUIRE(a["error"] == b["error"]);
  REQUIRE(b["error"]["proj.output"]["rmse"].get<double>() > 0);

  // What cannot be read is a clear error naming the JSON path and the tensor.
  Json bad = from_files;
  bad["layers"][2]["weights"]["layer"] = 0;
  REQUIRE_THROWS_WITH(test::make_config(bad, sets),
                      Catch::Contains("/layers/2/weights/file") &&
                          Catch::Contains("no tensor \"enc.rnn.weight_ih_l0\""));
  bad = from_files;
  bad["layers"][2]["biases"] = {{"seed", 1}};
  REQUIRE_THROWS_WITH(test::make_config(bad, sets),
                      Catch::Contains("/layers/2/biases") &&
                          Catch::Contains("the biases come from the weights' file"));
  bad = seeded_model;
  bad["layers"][2]["biases"] = {{"file", st}, {"tensor", "enc.rnn.bias_ih_l1"}};
  REQUIRE_THROWS_WITH(test::make_config(bad, sets),
                      Catch::Contains("/layers/2/biases/file") &&
                          Catch::Contains("lstm and gru biases come from a file with their "
                                          "weights"));
  bad = from_files;
  bad["layers"][2]["weights"] = {{"file", dir + "/table.npy"}};
  REQUIRE_THROWS_WITH(test::make_config(bad, sets),
                      Catch::Contains("lstm and gru weights come from a .safetensors file"));
  bad = from_files;
  bad["layers"][1]["gain"]["tensor"] = "proj.weight";
  REQUIRE_THROWS_WITH(test::make_config(bad, sets),
                      Catch::Contains("/layers/1/gain/file") &&
                          Catch::Contains("expected shape [24] (out_features), got [12, 16]"));
  const std::vector<float> ids = {1, 2, 50, 3, 4};
  sim::write_npy(dir + "/bad_ids.npy", sim::NpyType::kFloat32, ids.data(), {5});
  bad = from_files;
  bad["input"]["file"] = dir + "/bad_ids.npy";
  REQUIRE_THROWS_WITH(test::make_config(bad, sets),
                      Catch::Contains("/input/file") &&
                          Catch::Contains("token 2's id is 50.000000; expected an integer in "
                                          "[0, 50)"));
}

TEST_CASE("an attention layer's caches and input can come from a file", "[sim]") {
  const std::string dir = temp_dir();
  const Json seeded = {{"name", "kv"},
                       {"tokens", 2},
                       {"input", {{"seed", 5}}},
                       {"layers",
                        {{{"type", "attention"},
                          {"name", "attn"},
                          {"heads", 4},
                          {"kv_heads", 2},
                          {"head_dim", 8},
                          {"mode", "prefill"},
                          {"context", 3},
                          {"format", "fp16"},
                          {"weights", {{"seed", 11}}}}}}};
  const std::vector<std::string> sets = {"hw.mac_array.pe=fp16"};
  const sim::SimConfig seeded_cfg = test::make_config(seeded, sets);
  const workloads::ModelData d = workloads::generate(seeded_cfg.workload.model);
  write_safetensors(dir + "/kv.safetensors",
                    {{"k", "F32", {2, 5, 8}, raw_bytes(d.layers[0].keys.latent)},
                     {"v", "F32", {2, 5, 8}, raw_bytes(d.layers[0].values.latent)}});
  sim::write_npy(dir + "/q.npy", sim::NpyType::kFloat32, d.inputs[0].data(), {2, 32});
  Json from_files = seeded;
  from_files["input"] = {{"file", dir + "/q.npy"}};
  from_files["layers"][0]["weights"] = {
      {"file", dir + "/kv.safetensors"}, {"keys", "k"}, {"values", "v"}};
  const Json a = sim::run_isolated(seeded_cfg);
  const Json b = sim::run_isolated(test::make_config(from_files, sets));
  REQUIRE(b["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(a["cycles"] == b["cycles"]);
  REQUIRE(a["error"] == b["error"]);
  from_files["layers"][0]["context"] = 4;
  REQUIRE_THROWS_WITH(test::make_config(from_files, sets),
                      Catch::Contains("/layers/0/weights/file") &&
                          Catch::Contains("expected shape [2, 6, 8] (kv_heads, positions, "
                                          "head_dim), got [2, 5, 8]"));
}
