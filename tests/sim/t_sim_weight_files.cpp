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

// A safetensors file of the given tensors (name, dtype, raw little-endian bytes).
void write_safetensors(const std::string& path,
                       const std::vector<std::tuple<std::string, std::string, std::string>>& ts) {
  Json header = Json::object();
  std::string data;
  for (const auto& [name, dtype, bytes] : ts) {
    const size_t item = dtype == "F32" ? 4 : dtype == "I8" ? 1 : 2;
    header[name] = {{"dtype", dtype},
                    {"shape", {kOut, bytes.size() / item / kOut}},
                    {"data_offsets", {data.size(), data.size() + bytes.size()}}};
    data += bytes;
  }
  const std::string h = header.dump();
  std::ofstream out(path, std::ios::binary);
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((h.size() >> (8 * i)) & 0xff));
  out << h << data;
}

template <class T>
std::string raw_bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
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
