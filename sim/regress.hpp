// Regression of hardware variants: a suite names cases (a variant: hardware file and --set
// overrides; a workload: inline JSON or a file such as a whole model, run with values or timing
// only), and a baseline holds every case's figures.
// `nmpsim regress` runs the cases, compares each figure with its baseline under the suite's
// tolerances (exact unless the suite says otherwise), and fails on any difference, on a missing
// baseline, and on a case whose outputs differ from their bit-exact reference.
//
// Suite (JSON):
//   { "name": "core", "baseline": "core.baseline.json",
//     "tolerances": { "energy_pj": 1e-9 },       // relative, by figure-name prefix
//     "variants": { "tree": { "hw": "../hw/default.json", "set": ["hw.mac_array.rows=16"] } },
//     "workloads": { "gemv": { "workload": { ...inline... } },
//                    "2b4t": { "file": "../../workloads/models/bitnet_b158_2b4t_decode.json",
//                              "timing_only": true } },
//     "cases": [ ["tree", "gemv"] ] }
// Figures: cycles.total, every counter, energy_pj.total and by unit, area_um2.total, every
// error figure and the outputs_equal_reference invariant.
//
// Example:
//   RegressResult r = run_regress(load_suite("configs/suites/core.json"), {});
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sim/json_reader.hpp"

namespace nmp::sim {

struct RegressCase {
  std::string name;  // "variant/workload"
  std::string hw_path;
  std::vector<std::string> sets;
  Json workload;              // inline JSON, or the file's
  std::string workload_file;  // names it in errors; the file's path when read from one
  bool timing_only = false;
};

struct RegressSuite {
  std::string file, name, baseline_path;
  std::map<std::string, double> tolerances;  // figure-name prefix -> relative tolerance
  std::vector<RegressCase> cases;
};

RegressSuite load_suite(const std::string& path);

struct RegressDifference {
  std::string case_name, figure;
  std::string baseline, now;  // JSON text; empty: absent
};

struct RegressOptions {
  bool update = false;
  std::string junit_path;
};

struct RegressResult {
  std::vector<RegressDifference> differences;   // beyond tolerance
  std::map<std::string, std::string> failures;  // case -> why (run failed, not bit-exact)
  size_t cases = 0;
  bool ok() const { return differences.empty() && failures.empty(); }
  // Cases that failed or differ from the baseline (what JUnit counts as failures).
  size_t failed_cases() const;
};

// Runs every case (each in a child process) and compares, or with update rewrites the baseline.
RegressResult run_regress(const RegressSuite& suite, const RegressOptions& options);

// The figures regress compares, flattened: "cycles.total", "counters.mac_array.macs", ...
std::map<std::string, Json> regress_figures(const Json& report);

}  // namespace nmp::sim
