// Whole-machine tests: functional truth, mode equivalence, determinism, closed-form timing.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "../support.hpp"
#include "hw_models/mac_array.hpp"
#include "hw_models/sram.hpp"
#include "timing_model.hpp"
#include "workloads/graph.hpp"
#include "workloads/program_builder.hpp"

using namespace nmp;
using sim::Json;
using test::ceil_div;
using test::closed_form_gemm_cycles;
using test::GemmShape;
using test::read_ports;
using test::words;

namespace {

hw::NmpParams params(const std::vector<std::string>& sets) {
  return sim::load_hardware(test::source_path("configs/hw/default.json"),
                            sim::parse_set_options(test::with_simple_dram(sets)))
      .params;
}

// Runs `program` in both modes; requires equal results; returns the default one.
Json run_program_both(hw::NmpParams p, const isa::Program& program, uint64_t dram_bytes) {
  p.lockstep = false;
  const Json fast = sim::run_in_child([&] { return sim::run_program(p, program, dram_bytes); });
  p.lockstep = true;
  const Json lockstep = sim::run_in_child([&] { return sim::run_program(p, program, dram_bytes); });
  REQUIRE(fast == lockstep);
  return fast;
}

}  // namespace

TEST_CASE("simulated outputs equal the integer reference on odd and oversized shapes", "[sim]") {
  struct Case {
    uint32_t tokens;
    std::vector<std::pair<uint32_t, uint32_t>> layers;
    std::vector<std::string> sets;
  };
  const Case c =
      GENERATE(Case{1, {{77, 33}}, {}}, Case{3, {{33, 77}, {77, 5}}, {}},
               // Many times larger than every SRAM: weights, activations and accumulators all tile.
               Case{37,
                    {{300, 260}, {260, 90}},
                    {"hw.weight_sram.capacity_kib=2", "hw.act_sram.capacity_kib=2",
                     "hw.acc_sram.capacity_kib=2", "hw.mac_array.rows=16", "hw.mac_array.cols=8",
                     "hw.controller.imem_kib=1024"}},
               Case{2,
                    {{1000, 129}},
                    {"hw.mac_array.rows=13", "hw.mac_array.cols=7", "hw.weight_sram.packing=1.6bit",
                     "hw.weight_sram.capacity_kib=4"}},
               Case{5,
                    {{130, 70}},
                    {"hw.mac_array.weight_preload_overlap=false", "hw.acc_sram.ports=2rw",
                     "hw.act_sram.width_bits=64", "hw.vector_unit.lanes=5",
                     "hw.dram.bytes_per_cycle=7", "hw.dram.burst_bytes=48"}},
               // DRAM standards whose bursts arrive irregularly against the 1 GHz clock (shaped
               // beat groups), into single-ported SRAMs the MAC array reads meanwhile.
               Case{9,
                    {{600, 300}, {300, 130}},
                    {"hw.dram.standard=LPDDR5_16Gb_x16_6400", "hw.dram.channels=4",
                     "hw.weight_sram.capacity_kib=8", "hw.weight_sram.ports=1rw",
                     "hw.mac_array.rows=16", "hw.mac_array.cols=16"}},
               Case{4,
                    {{500, 260}},
                    {"hw.dram.standard=DDR4_8Gb_x8_2400", "hw.weight_sram.capacity_kib=4",
                     "hw.act_sram.ports=1rw", "hw.mac_array.rows=8", "hw.mac_array.cols=32"}});
  const Json r =
      test::run_both_modes(test::make_config(test::bitlinear_workload(c.tokens, c.layers), c.sets));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  uint64_t outputs = 0;
  for (auto [in, out] : c.layers) outputs += uint64_t{c.tokens} * out;
  REQUIRE(r["invariants"]["outputs_checked"] == outputs);
  REQUIRE(r["invariants"]["invalid_weight_codes"] == 0);
  // Dense MACs: every token meets every weight once.
  uint64_t macs = 0;
  for (auto [in, out] : c.layers) macs += uint64_t{c.tokens} * in * out;
  REQUIRE(r["counters"]["mac_array"]["macs"] == macs);
  REQUIRE(r["counters"]["mac_array"]["mac_ops"].get<uint64_t>() +
              r["counters"]["mac_array"]["zero_skips"].get<uint64_t>() ==
          macs);
}

TEST_CASE("every PE kind on every dataflow matches its bit-exact reference end to end", "[sim]") {
  // Two chained layers of odd sizes on a non-square array with small SRAMs, so every operand
  // tiles; the reference (workloads/reference.cpp) follows the kind's arithmetic and the
  // dataflow's accumulation order.
  const hw::PeKindInfo& kind = hw::kPeKinds[GENERATE(range(0, hw::kNumPeKinds))];
  const std::string pe = kind.name;
  const std::string dataflow =
      GENERATE("adder_tree", "weight_stationary", "output_stationary", "input_stationary");
  Json w = {{"name", "kinds"}, {"tokens", 5}, {"input", {{"seed", 3}}}};
  const std::vector<std::pair<uint32_t, uint32_t>> layers = {{70, 45}, {45, 29}};
  for (size_t i = 0; i < layers.size(); ++i) {
    Json l = {{"name", "l" + std::to_string(i)},
              {"in_features", layers[i].first},
              {"out_features", layers[i].second},
              {"weights", {{"seed", 40 + i}}}};
    if (kind.weight_bytes == 0) {
      l["type"] = "bitlinear";
    } else {
      l["type"] = "linear";
      l["format"] = kind.layer_format;
    }
    w["layers"].push_back(l);
  }
  INFO(pe << " on " << dataflow);
  const Json r = test::run_both_modes(test::make_config(
      w, {"hw.mac_array.pe=" + pe, "hw.mac_array.dataflow=" + dataflow, "hw.mac_array.rows=12",
          "hw.mac_array.cols=7", "hw.weight_sram.capacity_kib=2", "hw.act_sram.capacity_kib=4",
          "hw.acc_sram.capacity_kib=4"}));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(r["invariants"]["outputs_checked"] == 5 * (45 + 29));
  REQUIRE(r["counters"]["mac_array"]["macs"] == 5 * (70 * 45 + 45 * 29));
}

TEST_CASE("a stall-free gemm takes the documented closed-form cycles", "[sim]") {
  struct Case {
    std::vector<std::string> sets;
    GemmShape g;
  };
  const Case c = GENERATE(
      // GEMV (m = 1) on the default 64 x 64 array: weight-load bound.
      Case{{}, {1, 640, 2560, 0, 0, 0, 0, 0, false}},
      Case{{"hw.weight_sram.capacity_kib=8192"}, {1, 6912, 2560, 0, 0, 0, 0, 0, false}},
      // Several tokens: compute bound; sizes that do not divide the array.
      Case{{}, {9, 100, 130, 64, 160, 32, 0, 512, true}},
      // Non-square arrays, unaligned operands, no preload overlap, 1.6-bit weights, 2rw acc.
      Case{{"hw.mac_array.rows=32", "hw.mac_array.cols=48",
            "hw.mac_array.weight_preload_overlap=false"},
           {7, 100, 300, 5, 301, 17, 4, 404, false}},
      Case{{"hw.mac_array.rows=3", "hw.mac_array.cols=5", "hw.weight_sram.packing=1.6bit",
            "hw.acc_sram.ports=2rw", "hw.acc_sram.banks=3"},
           {2, 17, 23, 1, 23, 3, 8, 68, true}},
      Case{{"hw.mac_array.rows=128", "hw.mac_array.cols=16", "hw.weight_sram.banks=4",
            "hw.act_sram.width_bits=32"},
           {4, 40, 1000, 0, 1000, 0, 0, 160, false}},
      // Unpacked weights; one-cycle tile loads.
      Case{{"hw.mac_array.pe=fp8_e4m3", "hw.mac_array.rows=32", "hw.mac_array.cols=16"},
           {1, 128, 96, 0, 96, 0, 0, 512, false}},
      Case{{"hw.mac_array.pe=fp16"}, {3, 256, 128, 0, 256, 0, 0, 1024, true}});
  const hw::NmpParams p = params(c.sets);
  workloads::ProgramBuilder b;
  b.li(1, c.g.act);
  b.li(2, c.g.wgt);
  b.li(3, c.g.acc);
  b.gemm(1, 2, 3, c.g.m, c.g.n, c.g.k, c.g.act_stride, c.g.acc_stride,
         c.g.accumulate ? isa::AccMode::kAccumulate : isa::AccMode::kOverwrite);
  b.halt();
  const Json r = run_program_both(p, b.program(), 64);
  const uint64_t gemm = closed_form_gemm_cycles(p, c.g);
  // Three li, the gemm's issue cycle, the gemm, the halt.
  REQUIRE(r["cycles"] == 3 + 1 + gemm + 1);
  const Json& mac = r["counters"]["mac_array"];
  REQUIRE(mac["busy_compute"].get<uint64_t>() + mac["busy_load"].get<uint64_t>() +
              mac["busy_drain"].get<uint64_t>() ==
          gemm);
  REQUIRE(mac["busy_drain"] == hw::adder_tree_drain_cycles(p.mac_array.rows));
}

namespace {

struct SystolicCase {
  std::string dataflow;
  uint32_t rows, cols, m, n, k;
};

// Systolic timing with SRAMs wide enough never to limit a fold (docs/architecture.md): per
// fold the stationary rows shift in (WS, IS), then T + R + C_used - 2 cycles of fill, steady
// state and drain; `padded` counts the whole array for C_used and for the shift.
uint64_t systolic_cycles(const SystolicCase& c, bool padded, bool overlap) {
  struct F {
    uint64_t load, compute;
  };
  std::vector<F> folds;
  const uint64_t R = c.rows, C = c.cols;
  auto fold = [&](uint64_t t, uint64_t used_cols, uint64_t loaded_rows, uint64_t shift) {
    const uint64_t load = loaded_rows ? std::max(loaded_rows, padded ? R : shift) : 0;
    folds.push_back({load, t + R + (padded ? C : used_cols) - 2});
  };
  if (c.dataflow == "weight_stationary") {
    for (uint32_t n0 = 0; n0 < c.n; n0 += c.cols)
      for (uint32_t k0 = 0; k0 < c.k; k0 += c.rows) {
        const uint64_t kk = std::min(c.rows, c.k - k0);
        fold(c.m, std::min(c.cols, c.n - n0), kk, kk);
      }
  } else if (c.dataflow == "output_stationary") {
    for (uint32_t n0 = 0; n0 < c.n; n0 += c.cols)
      for (uint32_t m0 = 0; m0 < c.m; m0 += c.rows) fold(c.k, std::min(c.cols, c.n - n0), 0, 0);
  } else {
    for (uint32_t m0 = 0; m0 < c.m; m0 += c.cols)
      for (uint32_t k0 = 0; k0 < c.k; k0 += c.rows) {
        const uint64_t mm = std::min(c.cols, c.m - m0);
        fold(c.n, mm, mm, std::min(c.rows, c.k - k0));
      }
  }
  uint64_t start = 0, end = 0;
  for (size_t j = 0; j < folds.size(); ++j) {
    const uint64_t load_start = j == 0 ? 0 : (overlap ? start : end);
    start = std::max(load_start + folds[j].load, end);
    end = start + folds[j].compute;
  }
  return end;
}

Json run_gemm(const SystolicCase& c, const std::vector<std::string>& extra,
              bool both_modes = true) {
  std::vector<std::string> sets = {
      "hw.mac_array.dataflow=" + c.dataflow, "hw.mac_array.rows=" + std::to_string(c.rows),
      "hw.mac_array.cols=" + std::to_string(c.cols), "hw.weight_sram.capacity_kib=4096"};
  sets.insert(sets.end(), extra.begin(), extra.end());
  const hw::NmpParams p = params(sets);
  workloads::ProgramBuilder b;
  b.li(1, 0);
  b.li(2, 0);
  b.li(3, 0);
  b.gemm(1, 2, 3, c.m, c.n, c.k, c.k, uint64_t{4} * c.n, isa::AccMode::kOverwrite);
  b.halt();
  if (!both_modes) {
    return sim::run_in_child([&] { return sim::run_program(p, b.program(), 64); });
  }
  return run_program_both(p, b.program(), 64);
}

const std::vector<std::string> kWideSrams = {
    "hw.weight_sram.banks=64",       "hw.weight_sram.width_bits=1024",
    "hw.act_sram.banks=64",          "hw.act_sram.width_bits=1024",
    "hw.acc_sram.banks=64",          "hw.acc_sram.width_bits=1024",
    "hw.act_sram.capacity_kib=4096", "hw.acc_sram.capacity_kib=4096"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST_CASE("systolic folds take SCALE-Sim's cycles in padded mode", "[sim]") {
  // SCALE-Sim (Samajdar et al., ISPASS 2020; scale-sim-v2 systolic_compute_*.py) runs folds
  // one after the other, each padded to the whole R x C array: WS and IS 2R + C + T - 2 cycles
  // per fold (R to load the stationary operand), OS R + C + T - 2.
  const SystolicCase c =
      GENERATE(SystolicCase{"weight_stationary", 8, 8, 16, 16, 16},
               SystolicCase{"weight_stationary", 32, 32, 1, 100, 300},  // GEMV
               SystolicCase{"weight_stationary", 7, 12, 10, 30, 40},    // non-square, non-dividing
               SystolicCase{"output_stationary", 8, 8, 16, 16, 16},
               SystolicCase{"output_stationary", 16, 4, 1, 50, 200},
               SystolicCase{"output_stationary", 5, 9, 23, 19, 31},
               SystolicCase{"input_stationary", 8, 8, 16, 16, 16},
               SystolicCase{"input_stationary", 12, 6, 1, 64, 100},
               SystolicCase{"input_stationary", 9, 5, 17, 21, 40});
  const Json r = run_gemm(c, with(kWideSrams, {"hw.mac_array.fold_timing=padded",
                                               "hw.mac_array.weight_preload_overlap=false"}));
  uint64_t scalesim = 0;
  const uint64_t R = c.rows, C = c.cols;
  const bool os = c.dataflow == "output_stationary";
  const bool is = c.dataflow == "input_stationary";
  const uint64_t sr = os ? c.m : c.k, sc = is ? c.m : c.n, t = os ? c.k : is ? c.n : c.m;
  const uint64_t folds = ceil_div(sr, R) * ceil_div(sc, C);
  scalesim = folds * ((os ? R : 2 * R) + C + t - 2);
  REQUIRE(r["cycles"] == 3 + 1 + scalesim + 1);
  REQUIRE(systolic_cycles(c, true, false) == scalesim);
  REQUIRE(r["counters"]["mac_array"]["folds"] == folds);
}

TEST_CASE("systolic folds match SCALE-Sim's closed form on hundreds of random shapes", "[sim]") {
  // Padded folds, no preload overlap, SRAMs that never limit a beat: SCALE-Sim's
  // stall-free cycles per fold, WS 2R + C + T - 2, OS R + C + T - 2, IS 2R + C + T - 2 where
  // the fold's activations fit the array's rows (C_used <= R). nmpsim's IS reads its stationary
  // activations one row of M per cycle (they are stored M-major), so a fold with more columns
  // than rows fills in C_used cycles: max(R, C_used) + R + C + T - 2 (docs/validation.md).
  // (SCALE-Sim itself prints one cycle less than its formula.)
  const uint64_t seed = GENERATE(1, 2, 3);
  std::mt19937_64 rng(seed);
  auto draw = [&](uint32_t lo, uint32_t hi) {
    return static_cast<uint32_t>(lo + rng() % (hi - lo + 1));
  };
  for (int i = 0; i < 100; ++i) {
    const char* dataflows[] = {"weight_stationary", "output_stationary", "input_stationary"};
    const SystolicCase c{dataflows[i % 3], draw(1, 24), draw(1, 24), i % 10 == 0 ? 1 : draw(1, 64),
                         draw(1, 64),      draw(1, 64)};
    INFO("seed " << seed << " case " << i << ": " << c.dataflow << " " << c.rows << " x " << c.cols
                 << ", m " << c.m << " n " << c.n << " k " << c.k);
    const uint64_t R = c.rows, C = c.cols;
    const bool os = c.dataflow == std::string("output_stationary");
    const bool is = c.dataflow == std::string("input_stationary");
    const uint64_t sr = os ? c.m : c.k, sc = is ? c.m : c.n, t = os ? c.k : is ? c.n : c.m;
    uint64_t closed = 0;
    for (uint64_t col = 0; col < ceil_div(sc, C); ++col) {
      const uint64_t used_cols = std::min(C, sc - col * C);
      const uint64_t fill = os ? 0 : is ? std::max(R, used_cols) : R;
      closed += ceil_div(sr, R) * (fill + R + C + t - 2);
    }
    const Json r = run_gemm(c,
                            with(kWideSrams, {"hw.mac_array.fold_timing=padded",
                                              "hw.mac_array.weight_preload_overlap=false"}),
                            false);
    const Json& mac = r["counters"]["mac_array"];
    REQUIRE(mac["busy_compute"].get<uint64_t>() + mac["busy_load"].get<uint64_t>() == closed);
    REQUIRE(r["cycles"] == 3 + 1 + closed + 1);
    REQUIRE(mac["folds"] == ceil_div(sr, R) * ceil_div(sc, C));
  }
}

TEST_CASE("systolic folds take the documented exact cycles, with and without overlap", "[sim]") {
  const SystolicCase c = GENERATE(SystolicCase{"weight_stationary", 32, 32, 1, 100, 300},
                                  SystolicCase{"weight_stationary", 7, 12, 10, 30, 40},
                                  SystolicCase{"output_stationary", 5, 9, 23, 19, 31},
                                  SystolicCase{"input_stationary", 9, 5, 17, 21, 40},
                                  SystolicCase{"input_stationary", 64, 64, 3, 200, 100});
  const bool overlap = GENERATE(false, true);
  const Json r = run_gemm(c, with(kWideSrams, {std::string("hw.mac_array.weight_preload_overlap=") +
                                               (overlap ? "true" : "false")}));
  REQUIRE(r["cycles"] == 3 + 1 + systolic_cycles(c, false, overlap) + 1);
  // Exact timing never exceeds SCALE-Sim's padded count.
  REQUIRE(systolic_cycles(c, false, overlap) <= systolic_cycles(c, true, false));
}

TEST_CASE("a narrow SRAM makes folds SRAM-bound, as the closed form says", "[sim]") {
  const SystolicCase c = GENERATE(SystolicCase{"weight_stationary", 16, 16, 40, 64, 64},
                                  SystolicCase{"output_stationary", 16, 16, 40, 64, 64},
                                  SystolicCase{"input_stationary", 16, 16, 40, 64, 64});
  const std::vector<std::string> narrow = {"hw.act_sram.banks=1", "hw.act_sram.width_bits=32",
                                           "hw.weight_sram.banks=1",
                                           "hw.weight_sram.width_bits=32"};
  const Json r = run_gemm(c, narrow);
  // The simulator's own closed form over its engines' beats (MacArray::uncontended_gemm_cycles).
  hw::NmpParams p = params(with({"hw.mac_array.dataflow=" + c.dataflow, "hw.mac_array.rows=16",
                                 "hw.mac_array.cols=16", "hw.weight_sram.capacity_kib=4096"},
                                narrow));
  hw::Sram w(p.weight_sram, 0), a(p.act_sram, 1), acc(p.acc_sram, 2);
  hw::Command cmd;
  cmd.args = {0, 0, 0, c.m, c.n, c.k, c.k, uint64_t{4} * c.n, 0};
  const uint64_t closed = hw::MacArray::uncontended_gemm_cycles(p.mac_array, cmd, {&w, &a, &acc});
  REQUIRE(r["cycles"] == 3 + 1 + closed + 1);
  REQUIRE(closed > systolic_cycles(c, false, true));
}

TEST_CASE("a DMA transfer takes the documented closed-form cycles", "[sim]") {
  struct Case {
    std::vector<std::string> sets;
    bool load;
    uint64_t rows, row_bytes, sram, sram_stride, dram, dram_stride;
  };
  const Case c = GENERATE(
      Case{{}, true, 1, 4096, 0, 0, 0, 0}, Case{{}, false, 1, 4096, 0, 0, 0, 0},
      Case{{}, true, 5, 100, 3, 128, 17, 300},
      Case{{"hw.dram.bytes_per_cycle=16", "hw.dram.burst_bytes=32"}, true, 3, 200, 0, 256, 5, 210},
      // A narrow SRAM limits the transfer, not the DRAM.
      Case{{"hw.act_sram.banks=1", "hw.act_sram.width_bits=64", "hw.dram.latency_cycles=0"},
           false,
           2,
           1000,
           8,
           1000,
           0,
           1000});
  const hw::NmpParams p = params(c.sets);
  workloads::ProgramBuilder b;
  b.li(1, c.sram);
  b.li(2, c.dram);
  b.dma(c.load ? isa::Opcode::kDmaLoad : isa::Opcode::kDmaStore, isa::Space::kActSram, 1, 2, c.rows,
        c.row_bytes, c.sram_stride, c.dram_stride);
  b.halt();
  const Json r = run_program_both(p, b.program(), c.dram + c.rows * c.dram_stride + c.row_bytes);

  const uint64_t burst = p.dram.burst_bytes, wb = p.act_sram.width_bits / 8;
  const uint64_t cap = p.act_sram.banks * read_ports(p.act_sram.ports);
  uint64_t dma = p.dram.latency_cycles, bursts = 0;
  for (uint64_t row = 0; row < c.rows; ++row) {
    const uint64_t d0 = c.dram + row * c.dram_stride, s0 = c.sram + row * c.sram_stride;
    for (uint64_t at = d0; at < d0 + c.row_bytes;) {
      const uint64_t end = std::min(d0 + c.row_bytes, (at / burst + 1) * burst);
      dma += std::max(ceil_div(burst, p.dram.bytes_per_cycle),
                      ceil_div(words(s0 + (at - d0), end - at, wb), cap));
      ++bursts;
      at = end;
    }
  }
  REQUIRE(r["cycles"] == 2 + 1 + dma + 1);
  REQUIRE(r["counters"]["dram"][c.load ? "read_bytes" : "write_bytes"] == bursts * burst);
  REQUIRE(r["counters"]["dram"]["useful_bytes"] == c.rows * c.row_bytes);
}

TEST_CASE("a dma.copy between SRAMs takes its closed-form cycles on random shapes", "[sim]") {
  // Per row one beat: the source's words at its read ports, the destination's at its write
  // ports, the two SRAMs in parallel; no DRAM traffic; every word counted once on each side.
  std::mt19937_64 rng(4242);
  auto draw = [&](uint64_t lo, uint64_t hi) { return lo + rng() % (hi - lo + 1); };
  const char* ports[] = {"1rw", "1r1w", "2rw"};
  using isa::Space;
  const std::pair<Space, Space> pairs[] = {{Space::kActSram, Space::kWeightSram},
                                           {Space::kAccSram, Space::kWeightSram},
                                           {Space::kWeightSram, Space::kActSram},
                                           {Space::kActSram, Space::kAccSram}};
  for (int trial = 0; trial < 16; ++trial) {
    const auto [from, to] = pairs[trial % 4];
    const char* names[] = {"weight_sram", "act_sram", "acc_sram"};
    std::vector<std::string> sets;
    for (const char* name : names) {
      sets.push_back("hw." + std::string(name) + ".banks=" + std::to_string(1u << draw(0, 4)));
      sets.push_back("hw." + std::string(name) + ".width_bits=" + (draw(0, 1) ? "64" : "256"));
      const bool acc = std::string(name) == "acc_sram";  // a read and a write each cycle
      sets.push_back("hw." + std::string(name) + ".ports=" + ports[draw(acc ? 1 : 0, 2)]);
    }
    const hw::NmpParams p = params(sets);
    const uint64_t rows = draw(1, 20), row_bytes = draw(1, 700);
    const uint64_t src = draw(0, 300), dst = draw(0, 300);
    const uint64_t src_stride = row_bytes + draw(0, 100), dst_stride = row_bytes + draw(0, 100);
    workloads::ProgramBuilder b;
    b.li(1, src);
    b.li(2, dst);
    b.dma_copy(from, 1, to, 2, rows, row_bytes, src_stride, dst_stride);
    b.halt();
    const Json r = run_program_both(p, b.program(), 4096);
    const hw::SramParams* srams[] = {&p.weight_sram, &p.act_sram, &p.acc_sram};
    const hw::SramParams& a = *srams[static_cast<size_t>(from)];
    const hw::SramParams& z = *srams[static_cast<size_t>(to)];
    uint64_t copy = 0, read = 0, written = 0;
    for (uint64_t row = 0; row < rows; ++row) {
      const uint64_t in = words(src + row * src_stride, row_bytes, a.width_bits / 8);
      const uint64_t out = words(dst + row * dst_stride, row_bytes, z.width_bits / 8);
      copy += std::max(ceil_div(in, a.banks * read_ports(a.ports)),
                       ceil_div(out, z.banks * test::write_ports(z.ports)));
      read += in;
      written += out;
    }
    INFO("trial " << trial << " rows " << rows << " x " << row_bytes);
    REQUIRE(r["cycles"] == 2 + 1 + copy + 1);
    REQUIRE(r["counters"]["dma"]["copies"] == 1);
    REQUIRE(r["counters"]["dram"]["read_bytes"] == 0);
    REQUIRE(r["counters"]["dram"]["write_bytes"] == 0);
    const std::string sram_names[] = {"wsram", "asram", "acc"};
    REQUIRE(r["counters"][sram_names[static_cast<size_t>(from)]]["read_words"] == read);
    REQUIRE(r["counters"][sram_names[static_cast<size_t>(to)]]["write_words"] == written);
  }
}

TEST_CASE("a dma.copy within one SRAM or outside it is a simulation error", "[sim]") {
  const hw::NmpParams p = params({});
  auto run = [&](isa::Space to, uint64_t dst) {
    workloads::ProgramBuilder b;
    b.li(1, 0);
    b.li(2, dst);
    b.dma_copy(isa::Space::kActSram, 1, to, 2, 2, 64, 64, 64);
    b.halt();
    return sim::run_in_child([&] { return sim::run_program(p, b.program(), 64); });
  };
  REQUIRE_THROWS_WITH(run(isa::Space::kActSram, 1024),
                      Catch::Contains("pc 2: dma.copy: src_space and dst_space must be two"));
  REQUIRE_THROWS_WITH(run(isa::Space::kAccSram, p.acc_sram.capacity_bytes - 100),
                      Catch::Contains("pc 2: dma.copy: bytes") && Catch::Contains("outside acc"));
}

TEST_CASE("a whole layer respects the DRAM and compute bounds", "[sim]") {
  const Json r =
      test::run_both_modes(test::make_config(test::bitlinear_workload(2, {{2560, 1024}})));
  const hw::NmpParams p = params({});
  const uint64_t cycles = r["cycles"]["total"];
  const uint64_t dram = r["counters"]["dram"]["read_bytes"].get<uint64_t>() +
                        r["counters"]["dram"]["write_bytes"].get<uint64_t>();
  REQUIRE(cycles >= dram / p.dram.bytes_per_cycle);
  REQUIRE(cycles >= r["counters"]["mac_array"]["macs"].get<uint64_t>() /
                        (uint64_t{p.mac_array.rows} * p.mac_array.cols));
  for (const auto& [unit, a] : r["cycles"]["units"].items()) {
    REQUIRE(a["busy"].get<uint64_t>() + a["stall_total"].get<uint64_t>() +
                a["idle"].get<uint64_t>() ==
            cycles);
  }
}

TEST_CASE("two runs give byte-identical reports", "[sim]") {
  const auto cfg = test::make_config(test::bitlinear_workload(3, {{200, 100}, {100, 50}}));
  REQUIRE(sim::run_isolated(cfg).dump() == sim::run_isolated(cfg).dump());
}

TEST_CASE("timing-only mode changes no cycle and no count but the estimated ones", "[sim]") {
  auto cfg = test::make_config(test::bitlinear_workload(4, {{300, 200}}));
  const Json full = sim::run_isolated(cfg);
  cfg.options.timing_only = true;
  const Json timing = sim::run_isolated(cfg);
  REQUIRE(full["cycles"] == timing["cycles"]);
  REQUIRE(timing["error"]["l0.output"].is_null());
  // Without values the ternary weights' zeros are the distribution's expected fraction of the
  // MACs (named in `estimates`); every other count is the same. The real count is a binomial
  // draw around the expectation: within 5 standard deviations of it.
  const double macs = full["counters"]["mac_array"]["macs"].get<double>();
  for (const auto& [block, counters] : full["counters"].items()) {
    for (const auto& [name, value] : counters.items()) {
      INFO(block << "." << name);
      if (!timing["estimates"].contains(block + "." + name)) {
        REQUIRE(timing["counters"][block][name] == value);
        continue;
      }
      const double p = value.get<double>() / macs;
      REQUIRE(std::fabs(timing["counters"][block][name].get<double>() - value.get<double>()) <=
              5 * std::sqrt(macs * p * (1 - p)));
    }
  }
  REQUIRE(timing["estimates"].size() == 2);  // mac_ops and zero_skips
}

TEST_CASE("energy recomputes from the report's own counts", "[sim]") {
  const Json r = sim::run_isolated(test::make_config(test::bitlinear_workload(2, {{256, 96}})));
  double total = 0;
  for (const auto& [block, counters] : r["counters"].items()) {
    for (const auto& [name, value] : counters.items()) {
      const std::string key = r.at("counter_meta").at(block).at(name).at("energy_key");
      if (key.empty()) continue;
      total += value.get<double>() *
               r.at("energy_pj").at("by_event").at(key).at("pj_per_event").get<double>();
    }
  }
  REQUIRE(total == Approx(r["energy_pj"]["dynamic"].get<double>()).epsilon(1e-12));
  REQUIRE(r["energy_pj"]["total"].get<double>() ==
          Approx(r["energy_pj"]["dynamic"].get<double>() + r["energy_pj"]["leakage"].get<double>() +
                 r["energy_pj"]["clock"].get<double>()));
  // The ternary adder tree is priced as one 45 nm int8 add per MAC (Horowitz: 0.03 pJ).
  REQUIRE(r.at("energy_pj").at("by_event").at("pe.mac.ternary_tree").at("pj_per_event") == 0.03);
}

TEST_CASE("dumped tensors hold the simulated outputs", "[sim]") {
  const std::string dir = std::filesystem::temp_directory_path() / "nmpsim_dump_test";
  std::filesystem::remove_all(dir);
  sim::RunOptions options;
  options.dump_dir = dir;
  const Json w = test::bitlinear_workload(3, {{50, 20}});
  const auto cfg = test::make_config(w, {}, options);
  sim::run_isolated(cfg);
  const auto spec = cfg.workload.model;
  const workloads::ModelData data = workloads::generate(spec);
  const auto refs = workloads::reference_graph(
      spec, data, workloads::lower_graph(spec, &data, cfg.hw.params), cfg.hw.params);
  std::ifstream in(dir + "/0_l0_output_q.npy", std::ios::binary);
  REQUIRE(in);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(bytes.substr(0, 6) == "\x93NUMPY");
  const size_t header = 10 + static_cast<uint8_t>(bytes[8]) + 256 * static_cast<uint8_t>(bytes[9]);
  REQUIRE(header % 64 == 0);
  REQUIRE(bytes.find("'shape': (3, 20)") != std::string::npos);
  REQUIRE(bytes.find("'descr': '<u4'") != std::string::npos);  // fp32 patterns
  REQUIRE(bytes.size() == header + 60 * 4);
  for (size_t i = 0; i < 60; ++i) {
    uint32_t pattern = 0;
    std::memcpy(&pattern, &bytes[header + 4 * i], 4);
    REQUIRE(pattern == refs[0].out[i]);
  }
  for (const char* f : {"input_f32.npy", "0_l0_weights_ternary.npy", "0_l0_gamma.npy",
                        "0_l0_reference_fp32.npy", "0_l0_output_values.npy"}) {
    REQUIRE(std::filesystem::exists(dir + "/" + f));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("a program without halt is stopped by the watchdog", "[sim]") {
  hw::NmpParams p = params({});
  p.max_instructions = 1000;
  workloads::ProgramBuilder b;
  b.li(1, 0);
  isa::Program program = b.program();
  program.push_back(isa::encode(isa::Opcode::kJmp, {0}));
  REQUIRE_THROWS_WITH(sim::run_in_child([&] { return sim::run_program(p, program, 64); }),
                      Catch::Contains("watchdog"));
  isa::Program off_the_end = b.program();
  REQUIRE_THROWS_WITH(sim::run_in_child([&] { return sim::run_program(p, off_the_end, 64); }),
                      Catch::Contains("ran past the end"));
}

TEST_CASE("an operand outside its memory is a simulation error naming the instruction", "[sim]") {
  const hw::NmpParams p = params({});
  workloads::ProgramBuilder b;
  b.li(1, p.act_sram.capacity_bytes - 10);
  b.li(2, 0);
  b.dma(isa::Opcode::kDmaLoad, isa::Space::kActSram, 1, 2, 1, 64, 64, 64);
  b.halt();
  REQUIRE_THROWS_WITH(sim::run_in_child([&] { return sim::run_program(p, b.program(), 64); }),
                      Catch::Contains("pc 2: dma.load: bytes [262134, 262198) lie outside asram"));
}

TEST_CASE("runs of folds crossed at once give the lockstep results on random gemms", "[sim]") {
  // The default mode crosses runs of folds in closed form (docs/architecture.md#mac-array);
  // lockstep ticks every cycle. Random shapes on every dataflow, with and without overlap,
  // padded and exact, narrow and wide SRAMs of one port class or two, some with a DMA load
  // into the weight SRAM beside the gemm (contention ends a run; skips land inside runs).
  std::mt19937_64 rng(99);
  auto draw = [&](uint32_t lo, uint32_t hi) {
    return static_cast<uint32_t>(lo + rng() % (hi - lo + 1));
  };
  const char* dataflows[] = {"adder_tree", "weight_stationary", "output_stationary",
                             "input_stationary"};
  for (int i = 0; i < 24; ++i) {
    const SystolicCase c{dataflows[i % 4], draw(2, 12), draw(2, 12),
                         draw(1, 40),      draw(8, 90), draw(8, 90)};
    std::vector<std::string> sets = {
        "hw.mac_array.dataflow=" + c.dataflow,
        "hw.mac_array.rows=" + std::to_string(c.rows),
        "hw.mac_array.cols=" + std::to_string(c.cols),
        "hw.mac_array.pe=int8_int8",
        "hw.weight_sram.capacity_kib=4096",
        std::string("hw.mac_array.weight_preload_overlap=") + (rng() % 2 ? "true" : "false"),
        std::string("hw.mac_array.fold_timing=") + (rng() % 2 ? "padded" : "exact"),
        "hw.weight_sram.width_bits=" + std::to_string(32 << (rng() % 4)),
        "hw.act_sram.width_bits=" + std::to_string(32 << (rng() % 4)),
        std::string("hw.weight_sram.ports=") + (rng() % 2 ? "1rw" : "1r1w")};
    const bool with_dma = i % 3 != 0;
    INFO("case " << i << ": " << c.dataflow << " " << c.rows << " x " << c.cols << ", m " << c.m
                 << " n " << c.n << " k " << c.k << (with_dma ? ", with a DMA load" : ""));
    const hw::NmpParams p = params(sets);
    workloads::ProgramBuilder b;
    b.li(1, 0);
    b.li(2, 0);
    b.li(3, 0);
    if (with_dma) {
      b.li(4, uint64_t{1} << 20);  // weight SRAM bytes beyond the gemm's
      b.li(5, 0);
      b.dma(isa::Opcode::kDmaLoad, isa::Space::kWeightSram, 4, 5, 64, 512, 512, 512);
    }
    b.gemm(1, 2, 3, c.m, c.n, c.k, c.k, uint64_t{4} * c.n, isa::AccMode::kOverwrite);
    b.halt();
    const Json r = run_program_both(p, b.program(), uint64_t{1} << 20);
    REQUIRE(r["counters"]["mac_array"]["folds"].get<uint64_t>() > 1);
  }
}
