// The report of a run: one JSON object (schema below), and the text summary rendered from it.
//
// Top-level keys: schema_version, nmpsim_version, config (resolved hw, tech, workload, run),
// cycles (total; per unit busy, busy_by_activity, stall by reason, idle), counters (every
// counter by block), energy_pj (total, dynamic, leakage, by_unit, by_event with count, pJ per
// event and source), area_um2 (total, by_component with derivation, not_modelled), derived
// (latency_s, tokens_per_s, energy_per_token_j, utilization, tops_per_w, tops_per_mm2), error
// (per layer output against FP32), invariants, layers (the same figures per layer).
//
// Example:
//   Json report = build_report(inputs);
//   std::cout << render_summary(report);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw_models/counters.hpp"
#include "hw_models/cycles.hpp"
#include "sim/energy_model.hpp"
#include "sim/run.hpp"
#include "workloads/lowering.hpp"
#include "workloads/reference.hpp"

namespace nmp::sim {

inline constexpr int kReportSchemaVersion = 1;

struct CounterRecord {
  std::string block;
  hw::CounterInfo info;
  std::vector<uint64_t> per_layer;
  uint64_t total = 0;
};

struct LayerCheck {
  bool checked = false;  // references computed (not timing-only, not --no-verify)
  bool stored = true;    // the output is in DRAM (not a linear layer running a fused layer)
  uint64_t outputs = 0;
  uint64_t mismatches = 0;      // outputs differing from the bit-exact reference model
  workloads::ErrorStats error;  // dequantized output against FP32
};

struct ReportInputs {
  const SimConfig* config = nullptr;
  const EnergyModel* energy = nullptr;
  const workloads::Lowered* lowered = nullptr;
  hw::Cycles cycles = 0;
  std::vector<hw::LayerTime> layer_times;  // each layer's first entry and cycles
  std::vector<CounterRecord> counters;
  std::vector<LayerCheck> checks;
  // Counters that are estimates, not counts, and why (the report lists them; the summary
  // flags them).
  std::vector<std::pair<std::string, std::string>> estimates;
  // The analytical model's estimate of the same program (every layer's predicted cycles).
  const hw::ProgramEstimate* analytical = nullptr;
};

Json build_report(const ReportInputs& in);
// `run --analytical`: the analytical model's figures (hw_models/analytical.hpp) and the
// mapper's energy prices, with the fields a sweep's database reads (docs/architecture.md
// #analytical-model); no counters beyond the MACs, no error figures.
Json build_analytical_report(const SimConfig& cfg, const EnergyModel& energy,
                             const workloads::Lowered& lowered, const hw::ProgramEstimate& est,
                             const workloads::MapperCosts& costs);
std::string render_analytical_summary(const Json& report);
std::string render_summary(const Json& report);
// One row per layer, the columns SCALE-Sim users look for: shape, cycles, MAC utilization,
// DRAM bytes read and written, each SRAM's words read and written, dynamic energy in all and
// by unit, error against FP32 (empty when not computed), loop order (README, `run --csv`).
std::string layers_csv(const Json& report);

}  // namespace nmp::sim
