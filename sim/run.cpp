#include "sim/run.hpp"

#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <systemc>

#include "hw_models/nmp_top.hpp"
#include "isa/assembler.hpp"
#include "sim/energy_model.hpp"
#include "sim/input_limits.hpp"
#include "sim/npy.hpp"
#include "sim/progress.hpp"
#include "sim/report.hpp"
#include "sim/text.hpp"
#include "sim/trace.hpp"
#include "workloads/attention.hpp"
#include "workloads/graph.hpp"
#include "workloads/layer_fields.hpp"
#include "workloads/lowering.hpp"
#include "workloads/reference.hpp"

namespace nmp::sim {
namespace {

std::string dram_capacity_text(const hw::DramParams& dram) {
  const hw::DramOrganization& o = dram.device.org;
  auto count = [](uint32_t n, const char* what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
  };
  return "the DRAM (" + dram.device.standard + ", " + count(o.channels, "channel") + " x " +
         count(o.ranks, "rank") + ") holds " + bytes_text(dram.device.capacity_bytes());
}

hw::NmpParams machine_params(const SimConfig& cfg) {
  hw::NmpParams p = cfg.hw.params;
  p.lockstep = cfg.options.lockstep;
  p.mac_array.timing_only = cfg.options.timing_only;
  p.vector_unit.timing_only = cfg.options.timing_only;
  p.max_cycles = cfg.options.max_cycles;
  p.max_instructions = cfg.options.max_instructions;
  return p;
}

// Opens the occupancy trace file and hooks it to every cycle of `top`.
class TraceSink {
 public:
  TraceSink(const std::string& path, hw::NmpTop& top, const hw::MacArrayParams& array) {
    if (path.empty()) return;
    file_.open(path);
    if (!file_) throw ConfigError(path, "", "cannot write the trace file");
    trace_ = std::make_unique<OccupancyTrace>(file_, array);
    top.set_cycle_observer(
        [this, &top](hw::Cycles now) { trace_->record(now, top.mac_array().activity()); });
  }

 private:
  std::ofstream file_;
  std::unique_ptr<OccupancyTrace> trace_;
};

TimelineContext timeline_context(const hw::NmpParams& p, const hw::NmpTop& top,
                                 std::vector<std::string> layer_names) {
  TimelineContext c;
  c.clock_mhz = p.clock_mhz;
  c.cycles = top.cycles();
  c.layer_entries = top.layer_entries();
  c.layer_names = std::move(layer_names);
  c.pes = uint64_t{p.mac_array.rows} * p.mac_array.cols;
  c.sram_names = {p.weight_sram.name, p.act_sram.name, p.acc_sram.name};
  c.sram_split_ports = {p.weight_sram.ports == hw::PortConfig::kOneROneW,
                        p.act_sram.ports == hw::PortConfig::kOneROneW,
                        p.acc_sram.ports == hw::PortConfig::kOneROneW};
  if (!p.dram.simple) {
    c.dram_channels = p.dram.device.org.channels;
    c.dram_banks = p.dram.device.org.ranks * p.dram.device.banks_per_rank();
  }
  return c;
}

// Per layer for `layers` layers at least (the last may have run no command: one fused into an
// earlier layer's epilogue).
std::vector<CounterRecord> collect_counters(const hw::NmpTop& top, size_t layers = 0) {
  std::vector<CounterRecord> records;
  layers = std::max<size_t>(layers, top.layer_count());
  top.visit_counters(
      [&](const std::string& block, uint32_t layer, const hw::CounterInfo& info, uint64_t value) {
        // Counters arrive layer by layer in the same order: find this one among layer 0's.
        CounterRecord* rec = nullptr;
        if (layer == 0) {
          records.push_back({block, info, std::vector<uint64_t>(layers, 0), 0});
          rec = &records.back();
        } else {
          for (CounterRecord& r : records) {
            if (r.block == block && r.info.name == info.name) rec = &r;
          }
        }
        rec->per_layer[layer] = value;
        rec->total += value;
      });
  return records;
}

// Timing-only graph runs hold no weight values, so the MAC array cannot see which ternary
// weights are zero: each bitlinear layer's zero-weight skips become its MACs times the expected
// zero fraction of its weights (workloads::ternary_zero_fraction), and its MACs performed the
// rest. Returns the estimates made, for the report.
std::vector<std::pair<std::string, std::string>> estimate_zero_skips(
    const workloads::ModelSpec& model, std::vector<CounterRecord>& counters) {
  auto find = [&](const char* name) -> CounterRecord* {
    for (CounterRecord& r : counters) {
      if (r.block == "mac_array" && r.info.name == name) return &r;
    }
    return nullptr;
  };
  CounterRecord *macs = find("macs"), *ops = find("mac_ops"), *skips = find("zero_skips");
  if (!macs || !ops || !skips) return {};
  bool estimated = false;
  for (size_t l = 0; l < model.layers.size() && l < macs->per_layer.size(); ++l) {
    if (model.layers[l].kind != workloads::LayerKind::kBitLinear) continue;
    const double p = workloads::ternary_zero_fraction(model.layers[l].weights);
    const auto zeros =
        static_cast<uint64_t>(std::llround(static_cast<double>(macs->per_layer[l]) * p));
    skips->per_layer[l] = zeros;
    ops->per_layer[l] = macs->per_layer[l] - zeros;
    estimated = true;
  }
  if (!estimated) return {};
  for (CounterRecord* r : {ops, skips}) {
    r->total = 0;
    for (uint64_t v : r->per_layer) r->total += v;
  }
  const std::string why =
      "timing-only run without weight values: bitlinear layers' MACs times the expected zero "
      "fraction of their weights' distribution";
  return {{"mac_array.zero_skips", why}, {"mac_array.mac_ops", why}};
}

// A layer's simulated outputs, read back from DRAM.
struct LayerOutputs {
  std::vector<uint32_t> out;  // encoded elements
  std::vector<float> values;  // their real values (runs with values)
};

std::string file_stem(size_t index, const std::string& name) {
  std::string s = std::to_string(index) + "_";
  for (char c : name) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s;
}

// Writes a tensor of encoded elements (`bytes` each) as the matching .npy integer type.
void dump_patterns(const std::string& path, const std::vector<uint32_t>& patterns, uint32_t bytes,
                   const std::vector<size_t>& shape) {
  if (bytes == 1) {
    std::vector<int8_t> v(patterns.begin(), patterns.end());
    write_npy(path, NpyType::kInt8, v.data(), shape);
  } else if (bytes == 2) {
    std::vector<uint16_t> v(patterns.begin(), patterns.end());
    write_npy(path, NpyType::kUint16, v.data(), shape);
  } else {
    write_npy(path, NpyType::kUint32, patterns.data(), shape);
  }
}

// Model input i's dump file: input_f32.npy, or input_<name>_f32.npy.
std::string input_file(const workloads::ModelSpec& model, size_t i) {
  if (i == 0) return "input_f32.npy";
  std::string name;
  for (char c : model.inputs[i].name) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return "input_" + name + "_f32.npy";
}

// What check_dump.py needs to recompute each layer: its kind and shapes, and the format of the
// dumped outputs.
Json dump_manifest(const workloads::ModelSpec& model, const std::string& output_format) {
  Json layers = Json::array();
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const workloads::LayerSpec& s = model.layers[l];
    Json j = {
        {"stem", file_stem(l, s.name)},         {"rows", model.rows_of(static_cast<int32_t>(l))},
        {"type", workloads::to_string(s.kind)}, {"format", hw::to_string(s.pe)},
        {"in_features", s.in_features},         {"out_features", s.out_features}};
    if (workloads::is_recurrent(s.kind)) {
      j["hidden"] = s.hidden;
      j["directions"] = s.directions();
    }
    j["inputs"] = s.inputs;
    std::vector<int> carried;
    for (size_t k = 0; k < s.inputs.size(); ++k) carried.push_back(s.carried_input(k) ? 1 : 0);
    j["carried"] = carried;
    for (const workloads::LayerField& f : workloads::layer_kind_fields(s.kind).fields) {
      const double value = f.get(s);
      switch (f.type) {
        case workloads::FieldType::kCount:
          j[f.name] = static_cast<uint64_t>(value);
          break;
        case workloads::FieldType::kNumber:
          j[f.name] = value;
          break;
        case workloads::FieldType::kChoice:
          j[f.name] = f.choices[static_cast<size_t>(value)];
          break;
      }
    }
    if (s.kind == workloads::LayerKind::kAttention) {
      j["heads"] = s.heads;
      j["kv_heads"] = s.kv_heads;
      j["head_dim"] = s.head_dim;
      j["context"] = s.context;
      j["mode"] = workloads::to_string(s.mode);
      j["scaled"] = s.scaled;
      j["positions"] = s.positions(model.rows_of(static_cast<int32_t>(l)));
    }
    layers.push_back(j);
  }
  Json inputs = Json::array();
  for (size_t i = 0; i < model.inputs.size(); ++i) {
    inputs.push_back({{"name", model.inputs[i].name},
                      {"file", input_file(model, i)},
                      {"rows", model.inputs[i].rows}});
  }
  Json manifest = {{"tokens", model.tokens()},
                   {"inputs", inputs},
                   {"output_format", output_format},
                   {"layers", layers}};
  if (model.loop_end > model.loop_begin)
    manifest["step_loop"] = {{"begin", model.loop_begin}, {"end", model.loop_end}};
  return manifest;
}

// A matrix's latent values and its encoding for the MAC array (patterns, and a scale if any).
void dump_matrix(const std::string& stem, const workloads::RecurrentMatrix& m, hw::PeKind kind,
                 const std::vector<size_t>& shape) {
  write_npy(stem + "_f32.npy", NpyType::kFloat32, m.latent.data(), shape);
  dump_patterns(stem + "_q.npy", m.encoded.patterns,
                std::max<uint32_t>(1, hw::pe_traits(kind).weight_bytes), shape);
  if (hw::is_integer(kind))
    write_npy(stem + "_scale.npy", NpyType::kFloat32, m.encoded.scale.data(), {1});
}

// Outputs are dumped as their encoded elements of `out_format` (the format the plans name) and
// as values.
void dump_tensors(const std::string& dir, const workloads::ModelSpec& model,
                  const workloads::ModelData& data, const std::vector<LayerOutputs>& outputs,
                  const std::vector<workloads::LayerReference>& refs,
                  const arith::NumberFormat& out_format) {
  const uint32_t out_bytes = out_format.element_bytes();
  std::error_code failed;
  std::filesystem::create_directories(dir, failed);
  if (failed) throw ConfigError(dir, "", "cannot create the dump folder: " + failed.message());
  {
    std::ofstream manifest(dir + "/model.json");
    manifest << dump_manifest(model, out_format.name()).dump(2) << "\n";
    if (!manifest) throw ConfigError(dir + "/model.json", "", "cannot write the dump manifest");
  }
  const hw::PeKind kind = model.pe();
  for (size_t i = 0; i < model.inputs.size(); ++i) {
    const size_t m = model.inputs[i].rows;
    write_npy(dir + "/" + input_file(model, i), NpyType::kFloat32, data.inputs[i].data(),
              {m, data.inputs[i].size() / m});
  }
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const workloads::LayerSpec& spec = model.layers[l];
    const workloads::LayerData& ld = data.layers[l];
    const LayerOutputs& o = outputs[l];
    const std::string stem = dir + "/" + file_stem(l, spec.name);
    const size_t rows = model.rows_of(static_cast<int32_t>(l));
    const size_t n = model.width_of(static_cast<int32_t>(l)), k = spec.in_features;
    if (workloads::is_recurrent(spec.kind)) {
      const size_t gate_rows = size_t{spec.gates()} * spec.hidden;
      for (size_t d = 0; d < ld.directions.size(); ++d) {
        const workloads::RecurrentDirection& dir_data = ld.directions[d];
        const std::string ds = stem + "_d" + std::to_string(d);
        dump_matrix(ds + "_w", dir_data.w, spec.pe, {gate_rows, k});
        dump_matrix(ds + "_u", dir_data.u, spec.pe, {gate_rows, size_t{spec.hidden}});
        write_npy(ds + "_b_ih.npy", NpyType::kFloat32, dir_data.b_ih.data(), {gate_rows});
        write_npy(ds + "_b_hh.npy", NpyType::kFloat32, dir_data.b_hh.data(), {gate_rows});
      }
    } else if (spec.kind == workloads::LayerKind::kAttention) {
      const std::vector<size_t> shape = {spec.kv_heads, spec.positions(static_cast<uint32_t>(rows)),
                                         spec.head_dim};
      dump_matrix(stem + "_keys", ld.keys, spec.pe, shape);
      dump_matrix(stem + "_values", ld.values, spec.pe, shape);
    } else if (spec.kind == workloads::LayerKind::kMlpAttention && spec.memory_from_graph()) {
      write_npy(stem + "_v_f32.npy", NpyType::kFloat32, ld.weights.data(), {k});
    } else if (spec.kind == workloads::LayerKind::kMlpAttention) {
      const size_t positions = spec.context;
      write_npy(stem + "_keys_f32.npy", NpyType::kFloat32, ld.keys.latent.data(), {positions, k});
      write_npy(stem + "_memory_f32.npy", NpyType::kFloat32, ld.values.latent.data(),
                {positions, n});
      write_npy(stem + "_v_f32.npy", NpyType::kFloat32, ld.weights.data(), {k});
    } else if (spec.kind == workloads::LayerKind::kEmbedding) {
      write_npy(stem + "_table_f32.npy", NpyType::kFloat32, ld.weights.data(), {spec.vocab, n});
    } else if (!workloads::layer_kind_fields(spec.kind).tensors.empty()) {
      for (const workloads::LayerTensor& t : workloads::layer_kind_fields(spec.kind).tensors) {
        write_npy(stem + "_" + t.name + "_f32.npy", NpyType::kFloat32, (ld.*t.values).data(), {n});
      }
    } else if (spec.uses_mac_array()) {
      if (ld.weights.empty() && spec.kind == workloads::LayerKind::kBitLinear) {
        // Drawn as trits (no latent weights): the deployed weights, gamma x trit.
        std::vector<float> deployed(ld.ternary.trits.size());
        for (size_t i = 0; i < deployed.size(); ++i)
          deployed[i] = ld.ternary.gamma[0] * ld.ternary.trits[i];
        write_npy(stem + "_weights_f32.npy", NpyType::kFloat32, deployed.data(), {n, k});
      } else {
        write_npy(stem + "_weights_f32.npy", NpyType::kFloat32, ld.weights.data(), {n, k});
      }
      if (spec.has_bias) write_npy(stem + "_bias_f32.npy", NpyType::kFloat32, ld.bias.data(), {n});
      if (spec.kind == workloads::LayerKind::kBitLinear) {
        write_npy(stem + "_weights_ternary.npy", NpyType::kInt8, ld.ternary.trits.data(), {n, k});
        write_npy(stem + "_gamma.npy", NpyType::kFloat32, ld.ternary.gamma.data(), {1});
      } else {
        dump_patterns(stem + "_weights_q.npy", ld.encoded.patterns,
                      hw::pe_traits(kind).weight_bytes, {n, k});
        if (!ld.encoded.scale.empty()) {
          write_npy(stem + "_weight_scale.npy", NpyType::kFloat32, ld.encoded.scale.data(), {1});
        }
      }
    }
    if (!o.out.empty()) dump_patterns(stem + "_output_q.npy", o.out, out_bytes, {rows, n});
    if (!o.values.empty())
      write_npy(stem + "_output_values.npy", NpyType::kFloat32, o.values.data(), {rows, n});
    if (!refs.empty())
      write_npy(stem + "_reference_fp32.npy", NpyType::kFloat32, refs[l].fp32.data(), {rows, n});
  }
}

}  // namespace

SimConfig load_sim_config(const SimInputs& inputs) {
  const std::vector<SetOption> sets = parse_set_options(inputs.sets);
  SimConfig c;
  c.hw = load_hardware(inputs.hw_path, sets);
  c.tech = inputs.tech
               ? *inputs.tech
               : load_technology(inputs.tech_path.empty() ? c.hw.technology_path : inputs.tech_path,
                                 sets);
  c.workload = load_workload(inputs.workload_path, sets);
  if (!inputs.mapping_path.empty()) apply_mapping_file(c.workload, inputs.mapping_path);
  c.options = inputs.options;
  c.sets = inputs.sets;
  c.dram = inputs.dram;
  (void)build_energy_model(c.hw, c.tech);  // every event priced, every primitive used
  return c;
}

workloads::ModelData generate_checked(const WorkloadConfig& workload) {
  // Each element: its float value, its encoding, its bytes in the DRAM image, and the
  // reference's copies (measured peaks stay under 16 bytes per element).
  constexpr uint64_t kHostBytesPerElement = 16;
  const uint64_t elements = workloads::tensor_elements(workload.model);
  const uint64_t bytes =
      elements > UINT64_MAX / kHostBytesPerElement ? UINT64_MAX : elements * kHostBytesPerElement;
  require_host_memory(bytes,
                      "the workload's tensors (" + std::to_string(elements) +
                          " elements; --timing-only runs need none)",
                      workload.file);
  return workloads::generate(workload.model);
}

// Host wall time per phase, for --profile (never in the report: reports are deterministic).
class PhaseTimer {
 public:
  explicit PhaseTimer(bool on) : on_(on), last_(std::chrono::steady_clock::now()) {}
  void mark(const char* phase, const std::string& detail = "") {
    const auto now = std::chrono::steady_clock::now();
    if (on_) {
      std::fprintf(stderr, "profile: %-12s %10.6f s%s%s\n", phase,
                   std::chrono::duration<double>(now - last_).count(), detail.empty() ? "" : "  ",
                   detail.c_str());
    }
    last_ = now;
  }

 private:
  bool on_;
  std::chrono::steady_clock::time_point last_;
};

Json run_simulation(const SimConfig& cfg, const workloads::ModelData* pregenerated) {
  PhaseTimer timer(cfg.options.profile);
  ProgressLine line(cfg.options.progress, 1.0);  // from a second on
  const workloads::ModelSpec& model = cfg.workload.model;
  const EnergyModel energy = build_energy_model(cfg.hw, cfg.tech);
  workloads::ModelData generated;
  // Timing-only runs need no values: nothing is generated, the DRAM holds no bytes (so whole
  // models of billions of weights fit in memory, and set-up costs nothing).
  const bool values = !cfg.options.timing_only && !cfg.options.analytical;
  if (!values && !cfg.options.dump_dir.empty()) {
    throw ConfigError("--dump", "", "a timing-only or analytical run has no values to dump");
  }
  if (cfg.options.analytical &&
      (cfg.options.lockstep || !cfg.options.trace_path.empty() ||
       !cfg.options.timeline.path.empty() || !cfg.options.timeline.vcd_path.empty())) {
    throw ConfigError("--analytical", "",
                      "an analytical run simulates no cycles: it has no trace, timeline, waveform "
                      "or lockstep mode");
  }
  if (!pregenerated && values) generated = generate_checked(cfg.workload);
  const workloads::ModelData& data = pregenerated ? *pregenerated : generated;
  timer.mark("generate");
  workloads::Lowered lowered;
  try {
    const workloads::ModelData* values_in = values ? &data : nullptr;
    lowered = workloads::lower_graph(model, values_in, cfg.hw.params, mapper_costs(energy, cfg.hw),
                                     cfg.dram);
  } catch (const workloads::LoweringError& e) {
    const std::string& file = e.document() == "hw"        ? cfg.hw.file
                              : e.document() == "mapping" ? cfg.workload.mapping_file
                                                          : cfg.workload.file;
    throw ConfigError(file, e.pointer(), e.what());
  }

  timer.mark("lower", std::to_string(lowered.program.size()) + " instructions");
  const hw::DramParams& dram = cfg.hw.params.dram;
  const uint64_t dram_needed = std::max<uint64_t>(lowered.dram_bytes, lowered.dram_image.size());
  if (!dram.simple && dram_needed > dram.device.capacity_bytes()) {
    throw ConfigError(cfg.hw.file, "/dram",
                      dram_capacity_text(dram) +
                          "; the workload's weights, activations and "
                          "caches need " +
                          bytes_text(dram_needed));
  }
  const hw::NmpParams machine = machine_params(cfg);
  // Beside a cycle run the simulation's own watchdog judges the cycles: a prediction above the
  // limit (the model may predict more than the simulation takes) must not refuse the run.
  hw::NmpParams estimated = machine;
  if (!cfg.options.analytical) estimated.max_cycles = std::numeric_limits<hw::Cycles>::max();
  const hw::ProgramEstimate estimate = hw::estimate_program(
      estimated, lowered.program, dram_needed, lowered.dram_rate, lowered.dram_rows.get());
  const hw::DramRate& rate = lowered.dram_rate;
  timer.mark(
      "estimate",
      format_text("%llu cycles predicted, %llu instructions executed; DRAM %.1f B/cycle, "
                  "first data %.0f (closed), %.0f (hit), %.0f (conflict) cycles",
                  static_cast<unsigned long long>(estimate.cycles),
                  static_cast<unsigned long long>(estimate.instructions), rate.bytes_per_cycle,
                  rate.latency_cycles, rate.hit_latency_cycles, rate.conflict_latency_cycles));
  if (cfg.options.analytical) {
    Json report =
        build_analytical_report(cfg, energy, lowered, estimate, mapper_costs(energy, cfg.hw));
    timer.mark("report");
    return report;
  }
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  const uint64_t unbacked = lowered.dram_image.empty() ? lowered.dram_bytes : 0;
  hw::NmpTop top("nmp", machine, lowered.program, std::move(lowered.dram_image), unbacked);
  const TraceSink trace(cfg.options.trace_path, top, machine.mac_array);
  TimelineSink timeline(cfg.options.timeline, top);
  timer.mark("elaborate");
  if (line.on()) {
    const auto begun = std::chrono::steady_clock::now();
    top.set_progress([&, begun](hw::Cycles now, size_t layers) {
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - begun).count();
      const size_t layer = std::min(std::max<size_t>(layers, 1), model.layers.size());
      line.show(format_text("nmpsim: simulating layer %zu/%zu (%s), %llu cycles, %.3g cycles/s",
                            layer, model.layers.size(), model.layers[layer - 1].name.c_str(),
                            static_cast<unsigned long long>(now), s > 0 ? now / s : 0.0));
    });
  }
  sc_core::sc_start();
  if (!top.error().empty()) throw hw::SimulationError(top.error());
  std::string simulated = std::to_string(top.cycles()) + " cycles";
  if (!top.dram().params().simple) {
    // How much of the DRAM's traffic the channels simulated command by command (the rest came
    // from repeated stretches of streams, docs/architecture.md#dram).
    uint64_t requests = 0;
    for (const hw::DramStats& s : top.dram().stats_by_layer()) requests += s.rd + s.wr;
    const uint64_t repeated = top.dram().repeated_requests();
    simulated += format_text("; %llu DRAM requests, %.0f%% from repeated stretches",
                             static_cast<unsigned long long>(requests),
                             requests ? 100.0 * static_cast<double>(repeated) / requests : 0.0);
  }
  timer.mark("simulate", simulated);
  if (timeline.on()) {
    std::vector<std::string> names;
    for (const workloads::LayerSpec& l : model.layers) names.push_back(l.name);
    timeline.write(timeline_context(machine, top, names));
    timer.mark("timeline");
  }

  ReportInputs in;
  in.config = &cfg;
  in.energy = &energy;
  in.lowered = &lowered;
  in.cycles = top.cycles();
  in.layer_times = hw::layer_times(top.layer_entries(), top.cycles());
  in.counters = collect_counters(top, model.layers.size());
  in.analytical = &estimate;
  if (!values) in.estimates = estimate_zero_skips(model, in.counters);

  // Outputs are in the format the plans name (dram.activation_format).
  const std::unique_ptr<arith::NumberFormat> out_format =
      arith::make_format(lowered.layers.front().y_format);
  const uint32_t ab = lowered.layers.front().y_element_bytes;
  std::vector<workloads::LayerReference> refs;
  const bool check = cfg.options.verify && !cfg.options.timing_only;
  if (check) {
    line.show("nmpsim: checking every output against the bit-exact reference and FP32");
    refs = workloads::reference_graph(model, data, lowered, cfg.hw.params);
    timer.mark("reference");
  }
  std::vector<LayerOutputs> outputs;
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const workloads::LayerPlan& plan = lowered.layers[l];
    LayerCheck lc;
    lc.stored = plan.fused_layer.empty();  // a fused layer's host stores its output instead
    const size_t count = lc.stored ? size_t{plan.m} * plan.n : 0;
    LayerOutputs o;
    o.out.resize(count);
    for (size_t i = 0; i < count && top.dram().backed(); ++i) {
      std::memcpy(&o.out[i], top.dram().data() + plan.y_dram + i * ab, ab);
    }
    lc.outputs = count;
    if (values) {
      for (uint32_t p : o.out) o.values.push_back(static_cast<float>(out_format->to_double(p)));
    }
    if (check && lc.stored) {
      lc.checked = true;
      for (size_t i = 0; i < count; ++i) lc.mismatches += o.out[i] != refs[l].out[i];
      lc.error = workloads::compare(o.values, refs[l].fp32);
    }
    in.checks.push_back(lc);
    outputs.push_back(std::move(o));
  }
  if (!cfg.options.dump_dir.empty())
    dump_tensors(cfg.options.dump_dir, model, data, outputs, refs, *out_format);
  Json report = build_report(in);
  timer.mark("report");
  return report;
}

std::string child_message(const std::function<Json()>& work) {
  Json msg;
  try {
    msg = {{"ok", true}, {"result", work()}};
  } catch (const ConfigError& e) {
    Json issues = Json::array();
    std::string text;
    for (const ConfigIssue& i : e.issues()) {
      issues.push_back({{"file", i.file}, {"pointer", i.pointer}, {"message", i.message}});
      text += (text.empty() ? "" : "; ") + i.text();
    }
    msg = {{"ok", false}, {"kind", "config"}, {"issues", issues}, {"message", text}};
  } catch (const hw::SimulationError& e) {
    msg = {{"ok", false}, {"kind", "simulation"}, {"message", e.what()}};
  } catch (const std::exception& e) {
    msg = {{"ok", false}, {"kind", "internal"}, {"message", e.what()}};
  }
  return msg.dump();
}

Json child_outcome(const std::string& text, int status) {
  if (!WIFEXITED(status) || text.empty()) {
    return {
        {"ok", false},
        {"kind", "internal"},
        {"message", "the simulation process died" +
                        (WIFSIGNALED(status) ? " with signal " + std::to_string(WTERMSIG(status))
                                             : std::string())}};
  }
  return Json::parse(text);
}

namespace {

void write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
}

struct ChildProcess {
  pid_t pid;
  int fd;  // the read end of the child's pipe
};

// Forks a child that runs `work` and writes its outcome to the pipe `fd`.
ChildProcess start_child(const std::function<Json()>& work) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    close(fds[0]);
    write_all(fds[1], child_message(work));
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  return {pid, fds[0]};
}

}  // namespace

Json run_in_child(const std::function<Json()>& work) {
  const ChildProcess child = start_child(work);
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(child.fd, buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(child.fd);
  int status = 0;
  waitpid(child.pid, &status, 0);
  const Json msg = child_outcome(text, status);
  if (msg.at("ok").get<bool>()) return msg.at("result");
  const std::string kind = msg.at("kind");
  if (kind == "config") {
    std::vector<ConfigIssue> issues;
    for (const Json& i : msg.at("issues")) {
      issues.push_back({i.at("file"), i.at("pointer"), i.at("message")});
    }
    throw ConfigError(issues);
  }
  if (kind == "simulation") throw hw::SimulationError(msg.at("message").get<std::string>());
  throw std::runtime_error(msg.at("message").get<std::string>());
}

Json run_isolated(const SimConfig& config) {
  return run_in_child([&config] { return run_simulation(config); });
}

isa::Program load_program_file(const std::string& path) {
  const std::string raw = read_input_file(path);
  if (raw.rfind("NMPB", 0) == 0) {
    try {
      return isa::from_binary(std::vector<uint8_t>(raw.begin(), raw.end()));
    } catch (const isa::FormatError& e) {
      throw ConfigError(path, "", e.what());
    }
  }
  try {
    return isa::assemble(raw);
  } catch (const isa::AsmError& e) {
    const std::string what = e.what();
    throw ConfigError(path + ":" + std::to_string(e.line()) + ":" + std::to_string(e.column()), "",
                      what.substr(what.find(' ') + 1));
  }
}

Json run_program(const hw::NmpParams& params, const isa::Program& program, uint64_t dram_bytes,
                 const std::vector<uint8_t>& contents, const RunOptions& options,
                 const std::string& program_name) {
  const uint64_t program_bytes = program.size() * isa::kInstrBytes;
  if (program_bytes > params.controller.imem_bytes) {
    throw ConfigError(program_name, "",
                      "the program is " + std::to_string(program_bytes) +
                          " bytes; the instruction memory holds " +
                          std::to_string(params.controller.imem_bytes) +
                          " (hw.controller.imem_kib)");
  }
  if (!params.dram.simple && dram_bytes > params.dram.device.capacity_bytes()) {
    throw ConfigError(
        "--dram-bytes", "",
        dram_capacity_text(params.dram) + "; --dram-bytes asks for " + bytes_text(dram_bytes));
  }
  if (contents.size() > dram_bytes) {
    throw ConfigError(
        "--dram-bytes", "",
        "the DRAM's initial contents need " + std::to_string(contents.size()) + " bytes");
  }
  hw::ZeroPages dram(dram_bytes);
  if (!contents.empty()) std::memcpy(dram.data(), contents.data(), contents.size());
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  hw::NmpTop top("nmp", params, program, std::move(dram));
  const TraceSink trace(options.trace_path, top, params.mac_array);
  TimelineSink timeline(options.timeline, top);
  sc_core::sc_start();
  if (!top.error().empty()) throw hw::SimulationError(top.error());
  timeline.write(timeline_context(params, top, {}));
  Json counters = Json::object();
  for (const CounterRecord& c : collect_counters(top)) counters[c.block][c.info.name] = c.total;
  return {{"cycles", top.cycles()},
          {"counters", counters},
          {"program",
           {{"instructions", program.size()},
            {"bytes", program_bytes},
            {"min_imem_kib", (program_bytes + 1023) / 1024},
            {"imem_kib", params.controller.imem_bytes / 1024}}}};
}

}  // namespace nmp::sim
