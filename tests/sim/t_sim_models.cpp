// The model library (workloads/models, written by scripts/gen_models.py): every model lowers and
// validates at its real size on the LLM hardware config, and a scaled-down copy of each (every
// width divided, the same wiring and layer count) equals its exact model bit for bit.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <numeric>
#include <set>

#include "../support.hpp"
#include "workloads/graph.hpp"

using namespace nmp;
using sim::Json;

namespace {

std::vector<std::string> model_files() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(test::source_path("workloads/models")))
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

// The PE kind a model's layers need: its attention's (bitlinear layers run on int8 PEs with
// their weights packed ternary), else ternary for bitlinear layers, else the layers' format.
std::string pe_of(const Json& w) {
  auto kind = [](const std::string& format) {
    return format == "int8" ? std::string("int8_int8") : format;
  };
  for (const Json& l : w["layers"])
    if (l["type"] == "attention") return kind(l["format"]);
  for (const Json& l : w["layers"]) {
    if (l["type"] == "bitlinear") return "ternary_int8";
    if (l.contains("format")) return kind(l["format"]);
  }
  return "ternary_int8";
}

// Every width divided by `by` (at least 4), the same value always mapping to the same width so
// the wiring stays consistent; attention keeps heads x head_dim equal to its (shrunk) q width
// with as many of its heads as divide it, and kv_heads x head_dim to its k width; at most
// `tokens` tokens, or as many as the model's poolings need.
Json scaled(Json w, uint32_t by, uint32_t tokens) {
  auto shrunk = [by](uint32_t v) { return std::max<uint32_t>(4, v / by); };
  for (Json& l : w["layers"]) {
    for (const char* key : {"in_features", "out_features", "hidden", "vocab"})
      if (l.contains(key)) l[key] = shrunk(l[key].get<uint32_t>());
    if (l["type"] == "attention") {
      const uint32_t d = l["head_dim"].get<uint32_t>();
      const uint32_t width = shrunk(l["heads"].get<uint32_t>() * d);
      const uint32_t kv_width = shrunk(l["kv_heads"].get<uint32_t>() * d);
      const uint32_t heads = std::gcd(l["heads"].get<uint32_t>(), width / 2);  // even head_dim
      l["heads"] = heads;
      l["head_dim"] = width / heads;
      l["kv_heads"] = kv_width / (width / heads);
    }
  }
  if (w.contains("step_loop") && w["step_loop"].contains("carried")) {
    for (auto& [name, carried] : w["step_loop"]["carried"].items())
      carried["width"] = shrunk(carried["width"].get<uint32_t>());
  }
  // A rope layer rotates the heads of the attention input it feeds.
  std::map<std::string, uint32_t> rope_heads;
  for (const Json& l : w["layers"]) {
    if (l["type"] != "attention" || !l.contains("inputs")) continue;
    rope_heads[l["inputs"][0]] = l["heads"];
    if (l["inputs"].size() > 1) rope_heads[l["inputs"][1]] = l["kv_heads"];
  }
  for (Json& l : w["layers"])
    if (l["type"] == "rope") l["heads"] = rope_heads.at(l["name"]);
  // Enough tokens to leave a row after every pooling.
  uint32_t pooled = 1;
  for (const Json& l : w["layers"])
    if (l["type"] == "pool") pooled *= l["stride"].get<uint32_t>();
  w["tokens"] = std::min<uint32_t>(w["tokens"].get<uint32_t>(), std::max(tokens, pooled));
  return w;
}

}  // namespace

TEST_CASE("every shipped model has a name of its own, its file's", "[unit]") {
  // Reports, sweeps and regress baselines tell runs apart by the workload's name.
  std::set<std::string> names;
  for (const std::string& file : model_files()) {
    const std::string name = sim::parse_json_file(file)["name"];
    std::string stem = std::filesystem::path(file).stem().string();
    std::replace(stem.begin(), stem.end(), '_', '-');
    std::string normalized = name;
    std::replace(normalized.begin(), normalized.end(), '_', '-');
    INFO(file << ": " << name);
    REQUIRE(normalized == stem);
    REQUIRE(names.insert(name).second);
  }
}

TEST_CASE("every shipped model lowers and validates at its real size", "[sim]") {
  const std::vector<std::string> files = model_files();
  REQUIRE(files.size() >= 29);
  for (const std::string& file : files) {
    INFO(file);
    const Json w = sim::parse_json_file(file);
    REQUIRE(w.contains("source"));
    const sim::SimConfig c =
        test::make_config(w, {"hw.mac_array.pe=" + pe_of(w), "hw.controller.imem_kib=2048"});
    const workloads::ModelSpec& m = c.workload.model;
    const workloads::Lowered l = workloads::lower_graph(m, nullptr, c.hw.params);
    // Loops: a layer's code (a recurrent layer's per direction, a weights_outer linear layer's
    // two passes, whose overlapped epilogues are unrolled) stays small whatever its widths; a
    // step loop's layers have theirs once per step (unrolled).
    size_t units = 0;
    for (size_t i = 0; i < m.layers.size(); ++i) {
      const workloads::LayerSpec& s = m.layers[i];
      const size_t copies = m.in_step_loop(i) ? m.rows_of(static_cast<int32_t>(i)) : 1;
      units += copies * (1 + (workloads::is_recurrent(s.kind) ? s.directions() : 0));
    }
    for (const workloads::LayerPlan& p : l.layers)
      if (p.loop_order == "weights_outer") units += 4;
    REQUIRE(l.program.size() < 80 * units);
  }
}

TEST_CASE("scaled-down copies of the shipped models equal their exact model", "[sim]") {
  for (const std::string& file : model_files()) {
    const Json w = sim::parse_json_file(file);
    // Whole-model decodes keep every layer; widths shrink so each runs in well under a second.
    const bool whole = w["layers"].size() > 20;
    const Json small = scaled(w, whole ? 64 : 32, 3);
    INFO(file);
    const Json r = sim::run_isolated(
        test::make_config(small, {"hw.mac_array.pe=" + pe_of(w), "hw.controller.imem_kib=2048"}));
    REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
    REQUIRE(r["invariants"]["outputs_checked"].get<uint64_t>() > 0);
  }
}
