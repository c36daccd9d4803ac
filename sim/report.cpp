#include "sim/report.hpp"

#include "isa/isa.hpp"
#include "sim/text.hpp"

#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace nmp::sim {
namespace {

// Each SRAM's static power, and the rest of the design's at the library's mW per mm^2.
Json leakage_by_component(const EnergyModel& energy) {
  Json out = Json::object();
  double sram = 0;
  for (const LeakageItem& l : energy.leakage) {
    out[l.component] = l.mw;
    sram += l.mw;
  }
  out["other"] = energy.leakage_mw() - sram;
  return out;
}

const char* const kUnits[] = {"controller", "mac_array", "vector_unit", "dma"};

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// JSON has no infinity: an exact result has no finite SQNR.
Json finite_or_null(double v) { return std::isfinite(v) ? Json(v) : Json(); }

Json error_json(const LayerCheck& c) {
  if (!c.checked) return Json();
  return {{"max_abs", c.error.max_abs},
          {"rmse", c.error.rmse},
          {"sqnr_db", finite_or_null(c.error.sqnr_db)}};
}

// Layers whose arithmetic saturated, or whose outputs are further from FP32 than the run's
// threshold allows: a bit-exact match with the reference says nothing about these, since the
// reference makes the same rounding choices.
Json numeric_warnings(const ReportInputs& in) {
  const SimConfig& cfg = *in.config;
  Json warnings = Json::array();
  for (size_t l = 0; l < in.checks.size(); ++l) {
    const std::string& name = cfg.workload.model.layers[l].name;
    std::string saturated;
    uint64_t total = 0;
    for (const CounterRecord& c : in.counters) {
      // The vector unit's results, and the DMA's conversions to and from the activation format.
      if ((c.block != "vector_unit" && c.block != "dma") ||
          !starts_with(c.info.name, "saturations_"))
        continue;
      const uint64_t v = c.per_layer[l];
      if (v == 0) continue;
      total += v;
      saturated +=
          (saturated.empty() ? "" : ", ") + c.info.name.substr(12) + " " + std::to_string(v);
    }
    if (total > 0) {
      warnings.push_back(
          {{"layer", name},
           {"kind", "saturation"},
           {"message", std::to_string(total) + " results saturated (" + saturated + ")"}});
    }
    const LayerCheck& check = in.checks[l];
    if (check.checked && check.error.sqnr_db < cfg.options.min_sqnr_db) {
      warnings.push_back(
          {{"layer", name},
           {"kind", "sqnr"},
           {"message", format_text("SQNR against FP32 is %.1f dB, below the threshold of %.1f "
                                   "dB (--min-sqnr-db)",
                                   check.error.sqnr_db, cfg.options.min_sqnr_db)}});
    }
  }
  return warnings;
}

// Cycle accounts of one unit from its busy_* and stall_* counters.
Json cycle_account(const std::vector<CounterRecord>& counters, const std::string& unit,
                   uint64_t total, int layer) {
  Json busy_by = Json::object(), stall = Json::object();
  uint64_t busy = 0, stalled = 0;
  for (const CounterRecord& c : counters) {
    if (c.block != unit) continue;
    const uint64_t v = layer < 0 ? c.total : c.per_layer[static_cast<size_t>(layer)];
    if (starts_with(c.info.name, "busy_")) {
      busy_by[c.info.name.substr(5)] = v;
      busy += v;
    } else if (starts_with(c.info.name, "stall_")) {
      if (v) stall[c.info.name.substr(6)] = v;
      stalled += v;
    }
  }
  Json a = {
      {"busy", busy}, {"busy_by_activity", busy_by}, {"stall", stall}, {"stall_total", stalled}};
  if (layer < 0) a["idle"] = total - busy - stalled;
  return a;
}

struct EnergySums {
  double dynamic_pj = 0;
  std::map<std::string, double> by_unit;
  std::map<std::string, std::pair<uint64_t, double>> by_event;  // key -> count, pJ
};

EnergySums sum_energy(const std::vector<CounterRecord>& counters, const EnergyModel& energy,
                      int layer) {
  EnergySums s;
  for (const CounterRecord& c : counters) {
    if (c.info.energy_key.empty()) continue;
    const uint64_t v = layer < 0 ? c.total : c.per_layer[static_cast<size_t>(layer)];
    const auto rate = energy.per_event.find(c.info.energy_key);
    if (rate == energy.per_event.end()) {
      throw std::logic_error("counter " + c.block + "." + c.info.name + " has energy key " +
                             c.info.energy_key + ", which the energy model does not price");
    }
    const double pj = static_cast<double>(v) * rate->second.pj;
    s.dynamic_pj += pj;
    s.by_unit[c.block] += pj;
    auto& e = s.by_event[c.info.energy_key];
    e.first += v;
    e.second += pj;
  }
  return s;
}

uint64_t counter(const std::vector<CounterRecord>& counters, const std::string& block,
                 const std::string& name, int layer = -1) {
  for (const CounterRecord& c : counters) {
    if (c.block == block && c.info.name == name) {
      return layer < 0 ? c.total : c.per_layer[static_cast<size_t>(layer)];
    }
  }
  return 0;
}

Json config_json(const SimConfig& cfg) {
  const RunOptions& o = cfg.options;
  return {{"hw", cfg.hw.resolved},
          {"tech", cfg.tech.resolved},
          {"workload", cfg.workload.resolved},
          {"mapping", cfg.workload.mapping},
          {"run",
           {{"mode", o.analytical ? "analytical"
                     : o.lockstep ? "lockstep"
                                  : "default"},
            {"timing_only", o.timing_only || o.analytical},
            {"verify", o.verify && !o.analytical},
            {"min_sqnr_db", o.min_sqnr_db},
            {"sets", cfg.sets}}}};
}

Json area_json(const EnergyModel& energy) {
  Json components = Json::object();
  for (const AreaItem& a : energy.area) {
    components[a.component] = {{"um2", a.um2}, {"derivation", a.derivation}};
  }
  return {{"total", energy.total_area_um2()},
          {"by_component", components},
          {"not_modelled", energy.area_not_modelled}};
}

// A linear layer's mapping and the mapper's prediction, a vector layer's sets of buffers or the
// linear layer whose epilogue runs it; null for the other kinds.
Json mapping_json(const workloads::LayerPlan& plan, workloads::MappingObjective objective) {
  if (!plan.fused_into.empty()) return {{"fused_into", plan.fused_into}};
  if (plan.buffer_sets > 0)
    return {{"buffer_sets", plan.buffer_sets}, {"row_split", plan.row_split}};
  if (plan.loop_order.empty()) return Json();
  Json mapping = {{"loop_order", plan.loop_order},
                  {"mappings_scored", plan.mappings_scored},
                  {"objective", workloads::to_string(objective)},
                  {"predicted",
                   {{"dram_payload_bytes", plan.predicted_dram_bytes},
                    {"cycles", plan.predicted_cycles},
                    {"energy_pj", plan.predicted_energy_pj}}}};
  if (plan.super_rows > 0) {
    mapping["rows"] = {{"super_tile", plan.super_rows},
                       {"quantize", plan.quantize_rows},
                       {"epilogue", plan.epilogue_rows}};
    mapping["epilogue_sets"] = plan.epilogue_sets;
    mapping["epilogue"] = plan.epilogue_overlapped ? "overlapped" : "inline";
    mapping["row_conversion"] = plan.dma_rows ? "dma" : "pass";
    mapping["input_residency"] = {{"resident_tiles", plan.resident_tiles},
                                  {"reduction_tiles", (plan.k + plan.k_tile - 1) / plan.k_tile}};
    mapping["quantize_pass"] = plan.dma_rows ? "none"
                               : plan.quantized_rows_of.empty()
                                   ? "own"
                                   : "shared with " + plan.quantized_rows_of;
    if (!plan.fused_layer.empty()) mapping["fused"] = plan.fused_layer;
  }
  return mapping;
}

// The analytical model's figures of layer l: its first entry and its cycles.
Json analytical_layer_json(const hw::ProgramEstimate& e, size_t l) {
  const hw::LayerEstimate none;
  const hw::LayerEstimate& le = l < e.layers.size() ? e.layers[l] : none;
  return {{"start_cycle", le.start},
          {"span_cycles", le.cycles},
          {"dram_payload_bytes", le.dram_bytes},
          {"macs", le.macs},
          {"commands",
           {{"dma", le.dma_commands},
            {"mac_array", le.mac_commands},
            {"vector_unit", le.vector_commands}}},
          {"busy",
           {{"dma", le.dma_busy}, {"mac_array", le.mac_busy}, {"vector_unit", le.vector_busy}}}};
}

}  // namespace

Json build_report(const ReportInputs& in) {
  const SimConfig& cfg = *in.config;
  const hw::NmpParams& p = cfg.hw.params;
  const EnergyModel& energy = *in.energy;
  Json r;
  r["schema_version"] = kReportSchemaVersion;
  r["nmpsim_version"] = NMPSIM_VERSION;
  r["config"] = config_json(cfg);

  Json units = Json::object();
  for (const char* u : kUnits) units[u] = cycle_account(in.counters, u, in.cycles, -1);
  r["cycles"] = {{"total", in.cycles}, {"units", units}};

  Json counters = Json::object(), meta = Json::object();
  for (const CounterRecord& c : in.counters) {
    counters[c.block][c.info.name] = c.total;
    meta[c.block][c.info.name] = {{"unit", c.info.unit},
                                  {"energy_key", c.info.energy_key},
                                  {"description", c.info.description}};
  }
  r["counters"] = counters;
  r["counter_meta"] = meta;

  const double clock_hz = p.clock_mhz * 1e6;
  const double latency_s = static_cast<double>(in.cycles) / clock_hz;
  const double area_um2 = energy.total_area_um2();
  const double leakage_pj = energy.leakage_mw() * latency_s * 1e9;
  const double clock_pj = energy.clock_pj_per_cycle * static_cast<double>(in.cycles);
  const EnergySums sums = sum_energy(in.counters, energy, -1);
  Json by_event = Json::object();
  for (const auto& [key, e] : sums.by_event) {
    by_event[key] = {{"count", e.first},
                     {"pj_per_event", energy.per_event.at(key).pj},
                     {"total_pj", e.second},
                     {"source", energy.per_event.at(key).source}};
  }
  r["energy_pj"] = {{"total", sums.dynamic_pj + leakage_pj + clock_pj},
                    {"dynamic", sums.dynamic_pj},
                    {"leakage", leakage_pj},
                    {"leakage_mw", energy.leakage_mw()},
                    {"leakage_mw_by_component", leakage_by_component(energy)},
                    {"leakage_source", energy.leakage_derivation()},
                    {"clock", clock_pj},
                    {"clock_source", energy.clock_source},
                    {"by_unit", sums.by_unit},
                    {"by_event", by_event}};

  r["area_um2"] = area_json(energy);

  const uint64_t tokens = cfg.workload.model.tokens();
  const uint64_t macs = counter(in.counters, "mac_array", "macs");
  const double total_j = (sums.dynamic_pj + leakage_pj + clock_pj) * 1e-12;
  const double ops = 2.0 * static_cast<double>(macs);  // a MAC is a multiply and an add
  const double peak_macs = static_cast<double>(p.mac_array.rows) * p.mac_array.cols;
  // The model's weights: parameters (the weight matrices of the linear and recurrent layers;
  // gains, biases, tables and caches aside), the bytes they take in DRAM as stored (packed
  // ternary, tile rows aligned), and at FP16.
  uint64_t parameters = 0, stored = 0;
  for (size_t l = 0; l < in.lowered->layers.size(); ++l) {
    const workloads::LayerSpec& spec = cfg.workload.model.layers[l];
    if (spec.kind == workloads::LayerKind::kBitLinear ||
        spec.kind == workloads::LayerKind::kLinear) {
      parameters += uint64_t{spec.in_features} * spec.out_features;
    } else if (workloads::is_recurrent(spec.kind)) {
      parameters += uint64_t{spec.directions()} * spec.gates() * spec.hidden *
                    (uint64_t{spec.in_features} + spec.hidden);
    } else {
      continue;
    }
    stored += in.lowered->layers[l].w_bytes;
  }
  // The formats layer outputs are stored in DRAM in (the hardware's, docs/configs.md).
  Json activation_formats = Json::array();
  for (const workloads::LayerPlan& plan : in.lowered->layers) {
    if (std::find(activation_formats.begin(), activation_formats.end(), plan.y_format) ==
        activation_formats.end()) {
      activation_formats.push_back(plan.y_format);
    }
  }
  const uint64_t program_bytes = in.lowered->program.size() * isa::kInstrBytes;
  r["derived"] = {
      {"clock_mhz", p.clock_mhz},
      // What the instruction memory must hold, beside what it was given (its area is priced).
      {"program",
       {{"instructions", in.lowered->program.size()},
        {"bytes", program_bytes},
        {"min_imem_kib", (program_bytes + 1023) / 1024},
        {"imem_kib", p.controller.imem_bytes / 1024}}},
      {"activations_in_dram", activation_formats},
      {"latency_s", latency_s},
      {"latency_per_token_s", latency_s / static_cast<double>(tokens)},
      {"weights",
       {{"parameters", parameters},
        {"stored_bytes", stored},
        {"bits_per_weight", parameters ? 8.0 * static_cast<double>(stored) / parameters : 0.0},
        {"fp16_bytes", 2 * parameters},
        {"fp16_over_stored", stored ? 2.0 * static_cast<double>(parameters) / stored : 0.0}}},
      {"tokens_per_s", static_cast<double>(tokens) / latency_s},
      {"energy_per_token_j", total_j / static_cast<double>(tokens)},
      {"utilization",
       {{"mac_array", static_cast<double>(macs) / (peak_macs * static_cast<double>(in.cycles))}}},
      {"tops_per_w", total_j > 0 ? ops / total_j / 1e12 : 0.0},
      {"tops_per_mm2", ops / latency_s / 1e12 / (area_um2 * 1e-6)}};

  Json error = Json::object();
  uint64_t mismatches = 0, outputs = 0;
  bool checked = true;
  for (size_t l = 0; l < in.checks.size(); ++l) {
    error[cfg.workload.model.layers[l].name + ".output"] = error_json(in.checks[l]);
    mismatches += in.checks[l].mismatches;
    outputs += in.checks[l].outputs;
    checked &= in.checks[l].checked || !in.checks[l].stored;
  }
  r["error"] = error;
  r["invariants"] = {
      {"outputs_equal_reference",
       checked ? Json(mismatches == 0) : Json("not checked (timing-only or --no-verify)")},
      {"mismatching_outputs", checked ? Json(mismatches) : Json()},
      {"outputs_checked", checked ? Json(outputs) : Json(0)},
      {"invalid_weight_codes", counter(in.counters, "mac_array", "invalid_weight_codes")}};
  Json estimates = Json::object();
  for (const auto& [counter_name, why] : in.estimates) estimates[counter_name] = why;
  r["estimates"] = estimates;

  Json layers = Json::array();
  for (size_t l = 0; l < in.lowered->layers.size(); ++l) {
    const workloads::LayerPlan& plan = in.lowered->layers[l];
    const int li = static_cast<int>(l);
    const hw::LayerTime time = l < in.layer_times.size() ? in.layer_times[l] : hw::LayerTime{};
    const hw::Cycles start = time.start, end = time.start + time.cycles;
    const EnergySums ls = sum_energy(in.counters, energy, li);
    const uint64_t layer_macs = counter(in.counters, "mac_array", "macs", li);
    Json lu = Json::object();
    for (const char* u : kUnits) lu[u] = cycle_account(in.counters, u, 0, li);
    Json recurrent = Json();
    if (plan.timesteps > 0) {
      recurrent = {{"timesteps", plan.timesteps},
                   {"cycles_per_timestep",
                    static_cast<double>(end - start) / static_cast<double>(plan.timesteps)},
                   {"weights_resident", plan.u_rows_resident == plan.u_rows},
                   {"u_rows_resident", plan.u_rows_resident},
                   {"u_rows", plan.u_rows},
                   {"u_bytes", plan.u_bytes},
                   {"gemm_tiles",
                    {{"w", {{"n", plan.w_n_tile}, {"k", plan.w_k_tile}}},
                     {"u", {{"n", plan.u_n_tile}, {"k", plan.u_k_tile}}}}}};
    }
    Json sram_words = Json::object();  // per SRAM, by the counters it keeps
    for (const CounterRecord& c : in.counters) {
      if (c.info.name == "read_words" || c.info.name == "write_words")
        sram_words[c.block][c.info.name == "read_words" ? "read" : "write"] = c.per_layer[l];
    }
    layers.push_back(
        {{"index", l},
         {"name", plan.name},
         {"shape", {{"m", plan.m}, {"k", plan.k}, {"n", plan.n}}},
         {"tiles", {{"m", plan.m_tile}, {"n", plan.n_tile}, {"k", plan.k_tile}}},
         {"start_cycle", start},
         {"span_cycles", end - start},
         {"units", lu},
         {"macs", layer_macs},
         {"transpose_macs", plan.transpose_macs},
         {"dram_bytes", counter(in.counters, "dram", "read_bytes", li) +
                            counter(in.counters, "dram", "write_bytes", li)},
         {"dram",
          {{"read_bytes", counter(in.counters, "dram", "read_bytes", li)},
           {"write_bytes", counter(in.counters, "dram", "write_bytes", li)}}},
         {"sram_words", sram_words},
         {"weight_bytes", plan.w_bytes},
         {"output_in_dram", plan.fused_layer.empty() ? Json{{"format", plan.y_format},
                                                            {"element_bytes", plan.y_element_bytes}}
                                                     : Json()},
         {"utilization", end > start ? static_cast<double>(layer_macs) /
                                           (peak_macs * static_cast<double>(end - start))
                                     : 0.0},
         {"energy_pj", {{"dynamic", ls.dynamic_pj}, {"by_unit", ls.by_unit}}},
         {"error", error_json(in.checks[l])},
         {"recurrent", recurrent},
         {"mapping", mapping_json(plan, cfg.workload.model.objective)},
         {"analytical", analytical_layer_json(*in.analytical, l)}});
  }
  r["layers"] = layers;
  r["analytical"] = {{"cycles", in.analytical->cycles},
                     {"model", "docs/architecture.md#analytical-model"}};
  r["warnings"] = numeric_warnings(in);
  return r;
}

namespace {

std::string si(double v, const char* unit) {
  static const std::pair<double, const char*> kPrefixes[] = {
      {1e12, "T"}, {1e9, "G"},  {1e6, "M"},  {1e3, "k"},  {1, ""},
      {1e-3, "m"}, {1e-6, "u"}, {1e-9, "n"}, {1e-12, "p"}};
  char buf[64];
  for (const auto& [scale, prefix] : kPrefixes) {
    if (std::fabs(v) >= scale || scale == 1e-12) {
      std::snprintf(buf, sizeof buf, "%.4g %s%s", v / scale, prefix, unit);
      return buf;
    }
  }
  return "0";
}

std::string pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * v);
  return buf;
}

}  // namespace

Json build_analytical_report(const SimConfig& cfg, const EnergyModel& energy,
                             const workloads::Lowered& lowered, const hw::ProgramEstimate& est,
                             const workloads::MapperCosts& costs) {
  const hw::NmpParams& p = cfg.hw.params;
  Json r;
  r["schema_version"] = kReportSchemaVersion;
  r["nmpsim_version"] = NMPSIM_VERSION;
  r["config"] = config_json(cfg);
  r["cycles"] = {{"total", est.cycles}};
  uint64_t macs = 0, dram_bytes = 0;
  Json layers = Json::array();
  for (size_t l = 0; l < lowered.layers.size(); ++l) {
    const workloads::LayerPlan& plan = lowered.layers[l];
    Json layer = analytical_layer_json(est, l);
    macs += layer["macs"].get<uint64_t>();
    dram_bytes += layer["dram_payload_bytes"].get<uint64_t>();
    layer["index"] = l;
    layer["name"] = plan.name;
    layer["shape"] = {{"m", plan.m}, {"k", plan.k}, {"n", plan.n}};
    layer["tiles"] = {{"m", plan.m_tile}, {"n", plan.n_tile}, {"k", plan.k_tile}};
    layer["transpose_macs"] = plan.transpose_macs;
    layer["mapping"] = mapping_json(plan, cfg.workload.model.objective);
    layers.push_back(layer);
  }
  const double latency_s = static_cast<double>(est.cycles) / (p.clock_mhz * 1e6);
  const double dram_pj = static_cast<double>(dram_bytes) * costs.dram_pj_per_byte;
  const double mac_pj = static_cast<double>(macs) * costs.mac_pj;
  const double static_pj = static_cast<double>(est.cycles) * costs.static_pj_per_cycle;
  r["energy_pj"] = {{"total", dram_pj + mac_pj + static_pj},
                    {"dram_payload", dram_pj},
                    {"macs", mac_pj},
                    {"static", static_pj},
                    {"covers",
                     "the DRAM payload, the array's MACs and the static power (leakage, clock, "
                     "DRAM background) over the predicted cycles, priced as the mapper prices "
                     "them; SRAM accesses, vector operations and instruction issue are not "
                     "included (a cycle run counts them)"}};
  r["area_um2"] = area_json(energy);
  const uint64_t tokens = cfg.workload.model.tokens();
  const double peak_macs = static_cast<double>(p.mac_array.rows) * p.mac_array.cols;
  r["derived"] = {
      {"clock_mhz", p.clock_mhz},
      {"latency_s", latency_s},
      {"tokens_per_s", static_cast<double>(tokens) / latency_s},
      {"dram_payload_bytes", dram_bytes},
      {"utilization",
       {{"mac_array", static_cast<double>(macs) / (peak_macs * static_cast<double>(est.cycles))}}}};
  r["counters"] = {{"mac_array", {{"macs", macs}}}};
  r["layers"] = layers;
  r["error"] = Json::object();
  r["analytical"] = {{"cycles", est.cycles}, {"model", "docs/architecture.md#analytical-model"}};
  return r;
}

std::string render_analytical_summary(const Json& r) {
  std::ostringstream o;
  const Json& d = r["derived"];
  o << "nmpsim (analytical: predicted without cycle simulation, docs/architecture.md"
       "#analytical-model)\n";
  o << "  cycles     " << r["cycles"]["total"].get<uint64_t>() << " ("
    << si(d["latency_s"].get<double>(), "s") << " at " << d["clock_mhz"].get<double>() << " MHz), "
    << si(d["tokens_per_s"].get<double>(), "tokens/s") << "\n";
  o << "  MACs       " << r["counters"]["mac_array"]["macs"].get<uint64_t>() << ", utilization "
    << pct(d["utilization"]["mac_array"].get<double>()) << "\n";
  o << "  DRAM       " << si(static_cast<double>(d["dram_payload_bytes"].get<uint64_t>()), "B")
    << " payload\n";
  o << "  energy     " << si(r["energy_pj"]["total"].get<double>() * 1e-12, "J")
    << " (DRAM payload, MACs and static power only)\n";
  o << "  area       " << si(r["area_um2"]["total"].get<double>() * 1e-6, "mm2") << "\n";
  return o.str();
}

std::string render_summary(const Json& r) {
  std::ostringstream o;
  const Json& hw = r["config"]["hw"];
  const Json& wl = r["config"]["workload"];
  // The names are the files'; --set options may have changed what they describe.
  std::string sets;
  for (const Json& s : r["config"]["run"]["sets"]) sets += " --set " + s.get<std::string>();
  o << "nmpsim " << r["nmpsim_version"].get<std::string>() << " - " << wl["name"].get<std::string>()
    << " on " << hw["name"].get<std::string>() << (sets.empty() ? "" : " with" + sets) << " ("
    << r["config"]["run"]["mode"].get<std::string>()
    << (r["config"]["run"]["timing_only"].get<bool>() ? ", timing only" : "") << ")\n";
  const uint64_t total = r["cycles"]["total"];
  o << "  cycles            " << total << "  (" << si(r["derived"]["latency_s"], "s") << " at "
    << r["derived"]["clock_mhz"].get<double>() << " MHz)\n";
  for (const auto& [unit, a] : r["cycles"]["units"].items()) {
    o << "    " << unit << std::string(14 - std::min<size_t>(13, unit.size()), ' ') << "busy "
      << a["busy"].get<uint64_t>() << " (" << pct(a["busy"].get<double>() / total) << ")";
    if (a["stall_total"].get<uint64_t>()) {
      o << ", stall " << a["stall_total"].get<uint64_t>() << ":";
      for (const auto& [why, n] : a["stall"].items()) o << " " << why << " " << n.get<uint64_t>();
    }
    o << "\n";
  }
  o << "  MAC utilization   " << pct(r["derived"]["utilization"]["mac_array"]) << "  ("
    << r["counters"]["mac_array"]["macs"].get<uint64_t>() << " MACs, "
    << r["counters"]["mac_array"]["zero_skips"].get<uint64_t>() << " with zero weights)\n";
  o << "  throughput        " << si(r["derived"]["tokens_per_s"], "tokens/s") << ", "
    << si(r["derived"]["latency_per_token_s"], "s") << " and "
    << si(r["derived"]["energy_per_token_j"], "J") << " per token\n";
  const Json& w = r["derived"]["weights"];
  if (w["parameters"].get<uint64_t>() > 0) {
    o << "  weights           " << si(w["parameters"].get<double>(), "")
      << " (linear and recurrent layers), " << si(w["stored_bytes"].get<double>(), "B")
      << " as stored (" << w["bits_per_weight"].get<double>() << " bits each), "
      << si(w["fp16_bytes"].get<double>(), "B") << " at FP16 ("
      << w["fp16_over_stored"].get<double>() << "x)\n";
  }
  std::string formats;
  for (const Json& f : r["derived"]["activations_in_dram"]) {
    formats += (formats.empty() ? "" : ", ") + f.get<std::string>();
  }
  o << "  activations       stored in DRAM as " << formats << "\n";
  o << "  energy            " << si(r["energy_pj"]["total"].get<double>() * 1e-12, "J") << ":";
  for (const auto& [unit, pj] : r["energy_pj"]["by_unit"].items()) {
    o << " " << unit << " " << pct(pj.get<double>() / r["energy_pj"]["total"].get<double>());
  }
  for (const char* term : {"leakage", "clock"}) {
    o << " " << term << " "
      << pct(r["energy_pj"][term].get<double>() / r["energy_pj"]["total"].get<double>());
  }
  char area[64];
  std::snprintf(area, sizeof area, "%.4g mm^2", r["area_um2"]["total"].get<double>() * 1e-6);
  o << "\n  area              " << area << "\n  efficiency        "
    << r["derived"]["tops_per_w"].get<double>() << " TOPS/W, "
    << r["derived"]["tops_per_mm2"].get<double>() << " TOPS/mm^2\n";
  for (const auto& [name, e] : r["error"].items()) {
    if (e.is_null()) continue;
    o << "  error " << name << "  max_abs " << e["max_abs"].get<double>() << ", rmse "
      << e["rmse"].get<double>();
    if (!e["sqnr_db"].is_null()) o << ", SQNR " << e["sqnr_db"].get<double>() << " dB";
    o << "  (vs FP32)\n";
  }
  for (const Json& l : r["layers"]) {
    if (l["recurrent"].is_null()) continue;
    o << "  timesteps " << l["name"].get<std::string>() << "  "
      << l["recurrent"]["cycles_per_timestep"].get<double>()
      << " cycles per timestep, recurrent weights U "
      << (l["recurrent"]["weights_resident"].get<bool>()
              ? "resident in the weight SRAM"
              : std::to_string(l["recurrent"]["u_rows_resident"].get<uint32_t>()) + " of " +
                    std::to_string(l["recurrent"]["u_rows"].get<uint32_t>()) +
                    " rows resident, the rest streamed every timestep")
      << "\n";
  }
  for (const Json& w : r["warnings"]) {
    o << "  WARNING           " << w["layer"].get<std::string>() << ": "
      << w["message"].get<std::string>() << "\n";
  }
  for (const auto& [counter_name, why] : r["estimates"].items()) {
    o << "  ESTIMATED         " << counter_name << ": " << why.get<std::string>() << "\n";
  }
  const Json& inv = r["invariants"]["outputs_equal_reference"];
  o << "  bit-exact check   "
    << (inv.is_boolean()
            ? (inv.get<bool>()
                   ? "all " + std::to_string(r["invariants"]["outputs_checked"].get<uint64_t>()) +
                         " outputs equal the bit-exact reference"
                   : "MISMATCH in " +
                         std::to_string(r["invariants"]["mismatching_outputs"].get<uint64_t>()) +
                         " outputs")
            : inv.get<std::string>())
    << "\n";
  return o.str();
}

namespace {

// A number or string from the report as a CSV field; null (not computed) stays empty.
std::string csv_value(const Json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return csv_field(v.get<std::string>());
  return v.dump();
}

}  // namespace

std::string layers_csv(const Json& report) {
  // The SRAMs and energy units in the report, in name order, so every row has the same columns.
  std::set<std::string> srams, units;
  for (const Json& l : report["layers"]) {
    for (const auto& [name, words] : l["sram_words"].items()) srams.insert(name);
    for (const auto& [name, pj] : l["energy_pj"]["by_unit"].items()) units.insert(name);
  }
  std::ostringstream out;
  out << "layer,name,m,k,n,start_cycle,cycles,macs,mac_utilization,dram_read_bytes,"
         "dram_write_bytes";
  for (const std::string& s : srams) out << ',' << s << "_read_words," << s << "_write_words";
  out << ",energy_pj";
  for (const std::string& u : units) out << ",energy_" << u << "_pj";
  out << ",rmse_vs_fp32,max_abs_vs_fp32,sqnr_db_vs_fp32,loop_order\n";
  const Json none;
  for (const Json& l : report["layers"]) {
    out << l["index"].get<uint64_t>() << ',' << csv_field(l["name"].get<std::string>()) << ','
        << l["shape"]["m"] << ',' << l["shape"]["k"] << ',' << l["shape"]["n"] << ','
        << l["start_cycle"] << ',' << l["span_cycles"] << ',' << l["macs"] << ','
        << csv_value(l["utilization"]) << ',' << l["dram"]["read_bytes"] << ','
        << l["dram"]["write_bytes"];
    const Json& words = l["sram_words"];
    for (const std::string& s : srams) {
      const Json& w = words.contains(s) ? words[s] : none;
      out << ',' << csv_value(w.is_null() ? none : w["read"]) << ','
          << csv_value(w.is_null() ? none : w["write"]);
    }
    out << ',' << csv_value(l["energy_pj"]["dynamic"]);
    const Json& by_unit = l["energy_pj"]["by_unit"];
    for (const std::string& u : units)
      out << ',' << csv_value(by_unit.contains(u) ? by_unit[u] : none);
    const Json& e = l["error"];
    out << ',' << csv_value(e.is_null() ? none : e["rmse"]) << ','
        << csv_value(e.is_null() ? none : e["max_abs"]) << ','
        << csv_value(e.is_null() ? none : e["sqnr_db"]) << ','
        << csv_value(l["mapping"].is_null() ? none : l["mapping"].value("loop_order", none))
        << '\n';
  }
  return out.str();
}

}  // namespace nmp::sim
