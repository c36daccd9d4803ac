// Helpers shared by the tests: paths, configs built in memory, and running simulations in
// forked children (SystemC elaborates once per process).
#pragma once

#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "sim/config.hpp"
#include "sim/run.hpp"

namespace nmp::test {

inline std::string source_path(const std::string& relative) {
  return std::string(NMP_SOURCE_DIR) + "/" + relative;
}

// Uniform integers in [lo, hi] from a seeded generator: the random shapes of a test.
class Pick {
 public:
  explicit Pick(uint64_t seed) : rng_(seed) {}
  uint32_t operator()(uint32_t lo, uint32_t hi) {
    return std::uniform_int_distribution<uint32_t>(lo, hi)(rng_);
  }

 private:
  std::mt19937_64 rng_;
};

// Tests of closed-form timing run on the simple DRAM channel (64 B per cycle, 100 cycles of
// latency, 64 B bursts), whose time is a formula; the shipped configs name DRAM standards, which
// tests/hw_models/t_hw_dram.cpp and the end-to-end tests on them check. `sets` that choose a
// standard keep it.
inline std::vector<std::string> with_simple_dram(std::vector<std::string> sets) {
  for (const std::string& s : sets) {
    if (s.rfind("hw.dram.standard=", 0) == 0 || s.rfind("hw.dram=", 0) == 0) return sets;
  }
  sets.insert(sets.begin(), "hw.dram.standard=simple");
  return sets;
}

// The default hardware with `sets` ("hw.x.y=v", "workload.x=v") applied, and `workload` JSON.
// A tensor source: uniform in [-w, w] from `seed`.
inline sim::Json uniform(double w, uint64_t seed) {
  return {{"distribution", "uniform"}, {"low", -w}, {"high", w}, {"seed", seed}};
}

inline sim::SimConfig make_config(const sim::Json& workload,
                                  const std::vector<std::string>& sets = {},
                                  const sim::RunOptions& options = {}) {
  const auto parsed = sim::parse_set_options(with_simple_dram(sets));
  sim::SimConfig c;
  c.hw = sim::load_hardware(source_path("configs/hw/default.json"), parsed);
  c.tech = sim::load_technology(c.hw.technology_path, parsed);
  c.workload = sim::parse_workload(workload, "test-workload", parsed);
  c.options = options;
  c.sets = with_simple_dram(sets);
  return c;
}

inline sim::Json bitlinear_workload(uint32_t tokens,
                                    std::vector<std::pair<uint32_t, uint32_t>> layers,
                                    uint64_t seed = 1) {
  sim::Json w = {{"name", "test"}, {"tokens", tokens}, {"input", {{"seed", seed}}}};
  uint32_t i = 0;
  for (auto [in, out] : layers) {
    w["layers"].push_back({{"type", "bitlinear"},
                           {"name", "l" + std::to_string(i)},
                           {"in_features", in},
                           {"out_features", out},
                           {"weights", {{"seed", seed * 100 + i}}}});
    ++i;
  }
  return w;
}

// Everything in a report that both modes must agree on.
inline sim::Json mode_independent(sim::Json report) {
  report["config"].erase("run");
  return report;
}

// Runs in default and lockstep mode, requires identical reports apart from the mode, and
// returns the default one.
inline sim::Json run_both_modes(sim::SimConfig config) {
  config.options.lockstep = false;
  const sim::Json fast = sim::run_isolated(config);
  config.options.lockstep = true;
  const sim::Json lockstep = sim::run_isolated(config);
  REQUIRE(fast["cycles"] == lockstep["cycles"]);
  REQUIRE(fast["counters"] == lockstep["counters"]);
  REQUIRE(mode_independent(fast) == mode_independent(lockstep));
  return fast;
}

// A safetensors file of tensors (name, dtype such as "F32", shape, raw little-endian bytes).
struct Tensor {
  std::string name, dtype;
  std::vector<size_t> shape;
  std::string bytes;
};
inline void write_safetensors(const std::string& path, const std::vector<Tensor>& ts) {
  sim::Json header = sim::Json::object();
  std::string data;
  for (const Tensor& t : ts) {
    header[t.name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
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

}  // namespace nmp::test
