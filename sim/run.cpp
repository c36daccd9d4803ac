#include "sim/run.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <systemc>

#include "hw_models/nmp_top.hpp"
#include "sim/energy_model.hpp"
#include "sim/npy.hpp"
#include "sim/report.hpp"
#include "workloads/lowering.hpp"
#include "workloads/reference.hpp"

namespace nmp::sim {
namespace {

hw::NmpParams machine_params(const SimConfig& cfg) {
  hw::NmpParams p = cfg.hw.params;
  p.lockstep = cfg.options.lockstep;
  p.mac_array.timing_only = cfg.options.timing_only;
  p.vector_unit.timing_only = cfg.options.timing_only;
  p.max_cycles = cfg.options.max_cycles;
  p.max_instructions = cfg.options.max_instructions;
  return p;
}

std::vector<CounterRecord> collect_counters(const hw::NmpTop& top) {
  std::vector<CounterRecord> records;
  const uint32_t layers = top.layer_count();
  top.visit_counters([&](const std::string& block, uint32_t layer, const hw::CounterInfo& info,
                         uint64_t value) {
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

std::string file_stem(size_t index, const std::string& name) {
  std::string s = std::to_string(index) + "_";
  for (char c : name) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s;
}

void dump_tensors(const std::string& dir, const workloads::ModelSpec& model,
                  const workloads::ModelData& data, const workloads::Lowered& lowered,
                  const hw::Dram& dram, const std::vector<workloads::LayerReference>& refs,
                  const std::vector<std::vector<float>>& dequantized) {
  std::filesystem::create_directories(dir);
  const size_t m = model.tokens;
  const size_t k0 = model.layers.front().in_features;
  std::vector<int8_t> xq(data.input_q.values.begin(), data.input_q.values.end());
  write_npy(dir + "/input_f32.npy", NpyType::kFloat32, data.input.data(), {m, k0});
  write_npy(dir + "/input_q.npy", NpyType::kInt8, xq.data(), {m, k0});
  write_npy(dir + "/input_absmax.npy", NpyType::kFloat32, data.input_q.absmax.data(), {m});
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const workloads::LayerSpec& spec = model.layers[l];
    const workloads::LayerPlan& plan = lowered.layers[l];
    const std::string stem = dir + "/" + file_stem(l, spec.name);
    const size_t n = spec.out_features, k = spec.in_features;
    write_npy(stem + "_weights_f32.npy", NpyType::kFloat32, data.layers[l].weights.data(), {n, k});
    write_npy(stem + "_weights_ternary.npy", NpyType::kInt8, data.layers[l].ternary.trits.data(),
              {n, k});
    write_npy(stem + "_gamma.npy", NpyType::kFloat32, data.layers[l].ternary.gamma.data(), {1});
    write_npy(stem + "_output_q.npy", NpyType::kInt8, dram.data() + plan.y_dram, {m, n});
    write_npy(stem + "_output_absmax.npy", NpyType::kUint32, dram.data() + plan.y_scale_dram, {m});
    if (!dequantized.empty()) {
      write_npy(stem + "_output_dequant.npy", NpyType::kFloat32, dequantized[l].data(), {m, n});
    }
    if (!refs.empty()) {
      write_npy(stem + "_reference_fp32.npy", NpyType::kFloat32, refs[l].fp32.data(), {m, n});
    }
  }
}

}  // namespace

SimConfig load_sim_config(const SimInputs& inputs) {
  const std::vector<SetOption> sets = parse_set_options(inputs.sets);
  SimConfig c;
  c.hw = load_hardware(inputs.hw_path, sets);
  c.tech = load_technology(inputs.tech_path.empty() ? c.hw.technology_path : inputs.tech_path,
                           sets);
  c.workload = load_workload(inputs.workload_path, sets);
  c.options = inputs.options;
  (void)build_energy_model(c.hw, c.tech);  // every event priced, every primitive used
  return c;
}

Json run_simulation(const SimConfig& cfg) {
  const workloads::ModelSpec& model = cfg.workload.model;
  const EnergyModel energy = build_energy_model(cfg.hw, cfg.tech);
  const workloads::ModelData data = workloads::generate(model);
  workloads::Lowered lowered;
  try {
    lowered = workloads::lower_model(model, data, cfg.hw.params);
  } catch (const workloads::LoweringError& e) {
    throw ConfigError(e.document() == "hw" ? cfg.hw.file : cfg.workload.file, e.pointer(),
                      e.what());
  }

  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  hw::NmpTop top("nmp", machine_params(cfg), lowered.program, lowered.dram_image);
  sc_core::sc_start();
  if (!top.error().empty()) throw hw::SimulationError(top.error());

  ReportInputs in;
  in.config = &cfg;
  in.energy = &energy;
  in.lowered = &lowered;
  in.cycles = top.cycles();
  in.layer_starts = top.layer_starts();
  in.counters = collect_counters(top);

  std::vector<workloads::LayerReference> refs;
  std::vector<std::vector<float>> dequantized;
  const bool check = cfg.options.verify && !cfg.options.timing_only;
  if (check) refs = workloads::reference_outputs(model, data);
  std::vector<double> input_scale(model.tokens);
  for (uint32_t r = 0; r < model.tokens; ++r) input_scale[r] = data.input_q.absmax[r] / 127.0;
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const workloads::LayerPlan& plan = lowered.layers[l];
    const size_t outputs = size_t{plan.m} * plan.n;
    const auto* y = reinterpret_cast<const int8_t*>(top.dram().data() + plan.y_dram);
    std::vector<int8_t> q(y, y + outputs);
    std::vector<uint32_t> absmax(plan.m);
    std::memcpy(absmax.data(), top.dram().data() + plan.y_scale_dram, 4 * size_t{plan.m});
    const std::vector<double> out_scale =
        workloads::output_scales(absmax, data.layers[l].ternary.gamma[0], input_scale);
    LayerCheck lc;
    lc.outputs = outputs;
    if (check) {
      lc.checked = true;
      for (size_t i = 0; i < outputs; ++i) lc.mismatches += q[i] != refs[l].q[i];
      for (uint32_t r = 0; r < plan.m; ++r) lc.mismatches += absmax[r] != refs[l].absmax[r];
      dequantized.push_back(workloads::dequantize(q, out_scale, plan.n));
      lc.error = workloads::compare(dequantized.back(), refs[l].fp32);
    }
    in.checks.push_back(lc);
    input_scale = out_scale;
  }
  if (!cfg.options.dump_dir.empty()) {
    dump_tensors(cfg.options.dump_dir, model, data, lowered, top.dram(), refs, dequantized);
  }
  return build_report(in);
}

Json run_in_child(const std::function<Json()>& work) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    close(fds[0]);
    Json msg;
    try {
      msg = {{"ok", true}, {"result", work()}};
    } catch (const ConfigError& e) {
      Json issues = Json::array();
      for (const ConfigIssue& i : e.issues()) {
        issues.push_back({{"file", i.file}, {"pointer", i.pointer}, {"message", i.message}});
      }
      msg = {{"ok", false}, {"kind", "config"}, {"issues", issues}};
    } catch (const hw::SimulationError& e) {
      msg = {{"ok", false}, {"kind", "simulation"}, {"message", e.what()}};
    } catch (const std::exception& e) {
      msg = {{"ok", false}, {"kind", "internal"}, {"message", e.what()}};
    }
    const std::string text = msg.dump();
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = write(fds[1], text.data() + done, text.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || text.empty()) {
    throw std::runtime_error("the simulation process died" +
                             (WIFSIGNALED(status)
                                  ? " with signal " + std::to_string(WTERMSIG(status))
                                  : std::string()));
  }
  const Json msg = Json::parse(text);
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

Json run_program(const hw::NmpParams& params, const isa::Program& program,
                 std::vector<uint8_t> dram_image) {
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  hw::NmpTop top("nmp", params, program, std::move(dram_image));
  sc_core::sc_start();
  if (!top.error().empty()) throw hw::SimulationError(top.error());
  Json counters = Json::object();
  for (const CounterRecord& c : collect_counters(top)) counters[c.block][c.info.name] = c.total;
  return {{"cycles", top.cycles()}, {"counters", counters}};
}

}  // namespace nmp::sim
