// LSTM and GRU layers end to end: bit-exact against the exact model, close to FP32, weights
// resident or streamed as documented, the same in both modes.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "../support.hpp"
#include "hw_models/arith/format.hpp"
#include "hw_models/pe.hpp"
#include "timing_model.hpp"

using namespace nmp;
using sim::Json;

namespace {

constexpr uint32_t kH0 = 40, kH1 = 40;

Json recurrent_workload(const std::string& type, const std::string& format, uint32_t tokens,
                        bool bidirectional, double weight_range) {
  auto source = [&](uint64_t seed) {
    return Json{{"distribution", "uniform"},
                {"low", -weight_range},
                {"high", weight_range},
                {"seed", seed}};
  };
  Json w = {{"name", "rnn"},
            {"tokens", tokens},
            {"input", {{"distribution", "uniform"}, {"low", -1.0}, {"high", 1.0}, {"seed", 3}}}};
  // Sizes whose recurrent weights U exceed 1 KiB in every format, packed ternary included
  // (streamed from a 1 KiB weight SRAM), and fit 64 KiB (resident).
  w["layers"].push_back({{"type", type},
                         {"name", "l0"},
                         {"in_features", 20},
                         {"hidden", kH0},
                         {"format", format},
                         {"bidirectional", bidirectional},
                         {"weights", source(7)},
                         {"biases", source(8)}});
  w["layers"].push_back({{"type", type},
                         {"name", "l1"},
                         {"in_features", (bidirectional ? 2 : 1) * kH0},
                         {"hidden", kH1},
                         {"format", format},
                         {"weights", source(9)},
                         {"biases", source(10)}});
  return w;
}

// The PE kind that runs a layer format.
std::string pe_of(const std::string& format) {
  for (const hw::PeKindInfo& info : hw::kPeKinds) {
    if (format == info.layer_format) return info.name;
  }
  throw std::logic_error("no PE kind runs format " + format);
}

}  // namespace

TEST_CASE("recurrent layers equal their exact model in every format, resident or streamed",
          "[sim]") {
  const std::string type = GENERATE("lstm", "gru");
  const std::string format = hw::kPeKinds[GENERATE(range(0, hw::kNumPeKinds))].layer_format;
  // U wholly in a 64 KiB weight SRAM; wholly streamed from 1 KiB; partly resident in 4 KiB
  // (with a DRAM whose one-cycle latency makes small streaming buffers pay: packed ternary U
  // fits whole).
  const std::string placement = GENERATE("resident", "streamed", "partly");
  const uint32_t T = 4;
  INFO(type << " " << format << " " << placement);
  const std::string kib = placement == "resident" ? "64" : placement == "streamed" ? "1" : "4";
  std::vector<std::string> sets = {"hw.mac_array.pe=" + pe_of(format), "hw.mac_array.rows=8",
                                   "hw.mac_array.cols=8", "hw.mac_array.dataflow=weight_stationary",
                                   "hw.weight_sram.capacity_kib=" + kib};
  if (placement == "partly") sets.push_back("hw.dram.latency_cycles=1");
  const Json r =
      test::run_both_modes(test::make_config(recurrent_workload(type, format, T, true, 0.5), sets));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  REQUIRE(r["invariants"]["outputs_checked"] == T * (2 * kH0 + kH1));
  for (const Json& l : r["layers"]) {
    const Json& rec = l["recurrent"];
    REQUIRE(rec["timesteps"] == T * (l["index"] == 0 ? 2 : 1));
    const auto rows = rec["u_rows"].get<uint32_t>(), stay = rec["u_rows_resident"].get<uint32_t>();
    REQUIRE(rows == (type == "lstm" ? 4 : 3) * kH0);
    if (placement == "resident" || (placement == "partly" && format == "ternary")) {
      REQUIRE(rec["weights_resident"] == true);
      REQUIRE(stay == rows);
    } else if (placement == "streamed") {
      REQUIRE(rec["weights_resident"] == false);
      REQUIRE(stay == 0);
    } else {
      REQUIRE(rec["weights_resident"] == false);
      REQUIRE(stay > 0);
      REQUIRE(stay < rows);
    }
  }
}

TEST_CASE("streamed recurrent weights cost DRAM traffic every timestep; input weights once",
          "[sim]") {
  const uint32_t T = 6;
  // A DRAM of one cycle's latency: small streaming buffers cost little, so in 1 KiB part of U
  // stays beside them.
  auto run = [&](const std::string& kib) {
    return sim::run_isolated(test::make_config(
        recurrent_workload("lstm", "int8", T, false, 0.5),
        {"hw.mac_array.pe=int8_int8", "hw.mac_array.rows=8", "hw.mac_array.cols=8",
         "hw.weight_sram.capacity_kib=" + kib, "hw.dram.latency_cycles=1"}));
  };
  const Json resident = run("64"), streamed = run("1");
  REQUIRE(resident["layers"][0]["recurrent"]["weights_resident"] == true);
  REQUIRE(streamed["layers"][0]["recurrent"]["weights_resident"] == false);
  const uint64_t weight_bytes = resident["layers"][0]["weight_bytes"].get<uint64_t>() +
                                resident["layers"][1]["weight_bytes"].get<uint64_t>();
  // U's rows that do not stay (H int8 weights each) are what every timestep must read. In 1
  // KiB, some stay beside the two streaming buffers.
  uint64_t u_bytes = 0;
  for (const Json& l : streamed["layers"]) {
    const Json& rec = l["recurrent"];
    REQUIRE(rec["u_rows"] == 4 * kH0);
    REQUIRE(rec["u_rows_resident"].get<uint32_t>() > 0);
    REQUIRE(rec["u_rows_resident"].get<uint32_t>() < 4 * kH0);
    u_bytes += (rec["u_rows"].get<uint64_t>() - rec["u_rows_resident"].get<uint64_t>()) * kH0;
  }
  const uint64_t resident_reads = resident["counters"]["dram"]["read_bytes"].get<uint64_t>();
  const uint64_t streamed_reads = streamed["counters"]["dram"]["read_bytes"].get<uint64_t>();
  INFO("weights " << weight_bytes << ", U " << u_bytes << ", reads resident " << resident_reads
                  << ", streamed " << streamed_reads);
  // Resident: the weights once, plus inputs, input gates and constants. Streamed: U's rows
  // that do not stay every timestep, but W once (the input gates of every timestep come
  // first, in one pass).
  REQUIRE(resident_reads < 2 * weight_bytes);
  REQUIRE(streamed_reads >= T * u_bytes);
  REQUIRE(streamed_reads < T * weight_bytes);
  REQUIRE(streamed["cycles"]["total"].get<uint64_t>() >
          resident["cycles"]["total"].get<uint64_t>());
}

TEST_CASE("an fp16 LSTM with an fp32 cell stays within fp16's error of the FP32 model", "[sim]") {
  // Inputs and weights rounded to fp16 (relative error <= 2^-11 each), products exact, fp32
  // sums, PWL sigmoid and tanh with 64 segments and 12 fraction bits (each <= 2e-3): the output
  // h is within 1e-2 of FP32 over every step.
  const Json r =
      sim::run_isolated(test::make_config(recurrent_workload("lstm", "fp16", 8, false, 0.3),
                                          {"hw.mac_array.pe=fp16", "hw.vector_unit.format=fp32"}));
  REQUIRE(r["invariants"]["outputs_equal_reference"] == true);
  for (const auto& [name, e] : r["error"].items()) {
    INFO(name);
    REQUIRE(e["max_abs"].get<double>() < 1e-2);
    REQUIRE(e["max_abs"].get<double>() > 0);
  }
}

namespace {

// Cycles per timestep of a unidirectional LSTM layer with a resident U in a float or posit
// kind, from the documented model (docs/architecture.md#timing-of-a-recurrent-timestep). The
// input gates come from the chunk's pass before the timesteps, so from one cell to the next:
// the vector unit quantizes h, the MAC array computes U h_q, the vector unit converts it and
// adds the input gates and the bias; beside it, the DMA stores h, which the next cell may not
// overwrite before. Each command is timed by its own closed form; `vector_stalls` are the
// cycles the vector unit's commands waited for SRAM ports (the DMA reads h meanwhile).
uint64_t u_gemm_cycles(const hw::NmpParams& p, uint64_t H) {
  return test::closed_form_gemm_cycles(p, {1, uint32_t(4 * H), uint32_t(H), 0, 0, 0, 0, 0, false});
}
uint64_t lstm_step_model(const hw::NmpParams& p, uint64_t H, uint64_t vector_stalls) {
  using test::VecOperandTiming;
  const hw::PeTraits t = p.mac_array.traits();
  const test::VectorUnitTiming vu(p);
  const uint64_t vb = vu.vb, depth = vu.depth;
  const hw::SramParams* act = &p.act_sram;
  const hw::SramParams* acc = &p.acc_sram;
  auto pass = [&](const std::vector<VecOperandTiming>& ops, uint64_t n, uint64_t per_beat = 1) {
    return vu.pass(ops, n, per_beat);
  };
  const VecOperandTiming vec_in = vu.vec_in, vec_out = vu.vec_out;
  const uint64_t store_h = test::dma_row_cycles(p, p.act_sram, H * vb);
  const uint64_t quantize_h = pass({vec_in, {t.act_bytes, act, true}}, H) + depth;
  const uint64_t convert = pass({{t.acc_bytes, acc, false}, vec_out}, 4 * H) + depth;
  const uint64_t add = pass({vec_in, vec_in, vec_out}, 4 * H) + depth;
  const uint64_t cell =
      pass({vec_in, vec_in, vec_in, vec_in, vec_in}, H, 5) + pass({vec_out, vec_out}, H) + depth;
  // After the cell: the store of h issues (its RAW hazard on h: one cycle), one instruction
  // loads the quantize's source address (its destination h_q sits at address 0, which r0
  // reads), so it starts 3 cycles after the cell (it issued in the 2nd). The gemm waits for
  // h_q (one cycle after the quantize) and for the instructions before it: two addi, dbnz and
  // its branch penalty, three address loads, 7 + penalty cycles after the quantize issued.
  const uint64_t gemm_start = std::max<uint64_t>(3 + quantize_h + vector_stalls + 1,
                                                 2 + 7 + p.controller.branch_penalty_cycles + 1);
  const uint64_t compute_chain = gemm_start + u_gemm_cycles(p, H) + 1 + convert + 2 * add;
  const uint64_t store_chain = 1 + store_h + 1;
  return cell + std::max(compute_chain, store_chain);
}

}  // namespace

TEST_CASE("an LSTM timestep takes the documented timing model's cycles", "[sim]") {
  struct Case {
    uint32_t in, hidden;
    std::vector<std::string> sets;
  };
  const Case c = GENERATE(
      Case{128, 64, {"hw.mac_array.pe=fp16"}},
      Case{64, 128, {"hw.mac_array.pe=posit16_1", "hw.vector_unit.lanes=32"}},
      Case{96,
           32,
           {"hw.mac_array.pe=fp8_e4m3", "hw.vector_unit.format=fp16", "hw.dram.latency_cycles=40",
            "hw.controller.branch_penalty_cycles=3"}},
      Case{64, 64, {"hw.mac_array.pe=fixed2_14", "hw.act_sram.ports=1r1w"}},
      Case{96, 32, {"hw.mac_array.pe=fp8_e4m3", "hw.mac_array.rows=32", "hw.mac_array.cols=16"}});
  Json w = recurrent_workload("lstm", "fp16", 4, false, 0.5);
  w["layers"].erase(1);
  w["layers"][0]["in_features"] = c.in;
  w["layers"][0]["hidden"] = c.hidden;
  std::vector<std::string> sets = c.sets;
  sets.push_back("workload.layers.0.format=" + sets[0].substr(sets[0].find('=') + 1));
  sim::SimConfig config = test::make_config(w, sets);
  test::run_both_modes(config);
  const std::string timeline_path = std::filesystem::temp_directory_path().string() +
                                    "/nmpsim-lstm-step-" + std::to_string(getpid()) + ".json";
  config.options.timeline.path = timeline_path;
  const Json r = sim::run_isolated(config);
  REQUIRE(r["layers"][0]["recurrent"]["weights_resident"] == true);
  const Json timeline = sim::parse_json_file(timeline_path);
  std::filesystem::remove(timeline_path);
  // The units' spans in cycles (1 GHz: a microsecond is 1000 cycles); tracks 3 and 4 are the
  // MAC array and the vector unit.
  struct Span {
    uint64_t begin, end;
    int unit;
    std::string name;
  };
  std::vector<Span> spans;
  for (const Json& e : timeline["traceEvents"]) {
    if (e["ph"] != "X") continue;
    const auto begin = static_cast<uint64_t>(std::llround(e["ts"].get<double>() * 1000));
    const auto dur = static_cast<uint64_t>(std::llround(e["dur"].get<double>() * 1000));
    spans.push_back({begin, begin + dur, e["tid"].get<int>(), e["name"].get<std::string>()});
  }
  std::vector<Span> cells;
  for (const Span& s : spans)
    if (s.name == "lstm.cell") cells.push_back(s);
  REQUIRE(cells.size() == 4);
  // The steady state: every timestep after the first takes the same cycles.
  const uint64_t step = cells[3].begin - cells[2].begin;
  REQUIRE(cells[2].begin - cells[1].begin == step);
  // U h_q: one gemm between the cells, as long as its closed form (the MAC array is never
  // kept from its ports on this chain); then the vector unit's stalls up to its conversion.
  const hw::NmpParams p = config.hw.params;
  std::string variant;
  for (const std::string& set : c.sets) variant += set + " ";
  INFO(variant << "I " << c.in << " H " << c.hidden);
  uint64_t gemm_end = 0, convert_end = 0, vector_stalls = 0;
  for (const Span& s : spans) {
    if (s.begin < cells[2].end || s.begin >= cells[3].begin) continue;
    if (s.name == "gemm") {
      REQUIRE(gemm_end == 0);
      REQUIRE(s.end - s.begin == u_gemm_cycles(p, c.hidden));
      gemm_end = s.end;
    }
    if (s.name == "vcvt" && gemm_end > 0 && convert_end == 0 && s.begin >= gemm_end)
      convert_end = s.end;
  }
  REQUIRE(convert_end > 0);
  for (const Span& s : spans) {
    if (s.unit == 4 && s.name.rfind("stall", 0) == 0 && s.begin >= cells[2].end &&
        s.begin < convert_end)
      vector_stalls += s.end - s.begin;
  }
  INFO("vector stalls " << vector_stalls);
  REQUIRE(step == lstm_step_model(p, c.hidden, vector_stalls));
}
