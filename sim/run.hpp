// Running one simulation: load and validate the inputs, lower the workload, elaborate and run
// the SystemC model, check the outputs against the references, and build the report.
//
// SystemC can elaborate a design once per process, so run_isolated() runs the simulation in a
// forked child and returns its report; tests and sweeps use it to run many.
//
// Example:
//   SimConfig cfg = load_sim_config({"configs/hw/default.json", "configs/workloads/x.json"});
//   Json report = run_isolated(cfg);
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hw_models/analytical.hpp"
#include "hw_models/nmp_top.hpp"
#include "isa/program.hpp"
#include "sim/config.hpp"
#include "sim/timeline.hpp"
#include "workloads/model.hpp"

namespace nmp::sim {

struct RunOptions {
  bool lockstep = false;
  bool timing_only = false;
  // The analytical model's prediction (hw_models/analytical.hpp) without cycle simulation.
  bool analytical = false;
  bool verify = true;  // compare every output with the bit-exact reference model
  // Layers whose outputs are further from FP32 are flagged in the report and summary.
  double min_sqnr_db = 20.0;
  // Watchdog: about 3 minutes of the slowest simulation, 100x the longest model in the library.
  uint64_t max_cycles = uint64_t{1} << 34;
  uint64_t max_instructions = uint64_t{1} << 30;
  std::string dump_dir;   // write .npy tensors here when not empty
  bool profile = false;   // print host wall time per phase to standard error
  bool progress = false;  // a progress line on standard error (sim/progress.hpp)
  // Write the MAC array's per-cycle occupancy here (sim/trace.hpp) when not empty; needs
  // lockstep, which the command line turns on with it.
  std::string trace_path;
  TimelineOptions timeline;  // --timeline: a Perfetto timeline of the run (sim/timeline.hpp)
};

struct SimInputs {
  std::string hw_path;
  std::string workload_path;
  std::string tech_path;     // empty: the hardware file's "technology"
  std::string mapping_path;  // --mapping: forced mappings of linear layers (empty: none)
  std::vector<std::string> sets;
  RunOptions options;
  // Already read (a sweep's, when no point changes it): used instead of reading the file.
  const TechLibrary* tech = nullptr;
  // The hardware's DRAM rate and strided rows' rates, measured already (a sweep's, when no
  // point changes the DRAM or the clock): the lowering starts from them instead of measuring,
  // and adds what it measures (so a sweep's worker measures each shape once).
  std::shared_ptr<hw::DramRowRate> dram;
};

struct SimConfig {
  HardwareConfig hw;
  TechLibrary tech;
  WorkloadConfig workload;
  RunOptions options;
  std::vector<std::string> sets;          // the --set options applied, as given (for the report)
  std::shared_ptr<hw::DramRowRate> dram;  // SimInputs::dram
};

// Throws ConfigError for any problem with the inputs.
SimConfig load_sim_config(const SimInputs& inputs);

// The workload's tensors, after checking that they fit the host memory limit
// (sim/input_limits.hpp): ConfigError naming the workload file and the bytes needed otherwise.
workloads::ModelData generate_checked(const WorkloadConfig& workload);

// Runs in this process (elaborates SystemC: once per process). Throws ConfigError for inputs
// that cannot run on the hardware, hw::SimulationError for a fault of the simulated machine.
// `data`, if given, is the workload's generated tensors (a sweep generates them once).
Json run_simulation(const SimConfig& config, const workloads::ModelData* data = nullptr);

// Runs in a forked child; same results and exceptions as run_simulation().
Json run_isolated(const SimConfig& config);

// Runs `work` in a forked child and returns its result. ConfigError and hw::SimulationError
// thrown there are thrown here again; anything else becomes std::runtime_error.
Json run_in_child(const std::function<Json()>& work);

// The protocol between a child and its parent, for callers that manage children themselves
// (a sweep's workers): the child sends child_message's text, the outcome of `work`; the
// parent turns that text and the child's exit status (0 while it runs on) into {"ok": true,
// "result": ...} or {"ok": false, "kind": "config" | "simulation" | "internal", "message": ...}
// with child_outcome (empty text: the child died before it sent one).
std::string child_message(const std::function<Json()>& work);
Json child_outcome(const std::string& text, int wait_status);

// A program from a file: assembly text or, if it starts with the magic "NMPB", the binary
// format. Errors are ConfigErrors naming the file (and line:column for assembly).
isa::Program load_program_file(const std::string& path);

// Runs a program on a machine (no workload, no report): {"cycles", "counters": {block: {..}},
// "program": {instructions, bytes, min_imem_kib, imem_kib}}.
// The DRAM holds `dram_bytes` (zero pages, backed as touched) with `contents` at address 0.
// Elaborates SystemC, so call it in a child. Of `options`, only the trace (params.lockstep must
// be set for it) and the timeline apply. Throws ConfigError if the program does not fit the
// instruction memory or the contents do not fit the DRAM.
Json run_program(const hw::NmpParams& params, const isa::Program& program, uint64_t dram_bytes,
                 const std::vector<uint8_t>& contents = {}, const RunOptions& options = {},
                 const std::string& program_name = "program");

}  // namespace nmp::sim
