// Design-space sweeps: a grid and seeded random samples over any config field (the `--set`
// paths), run in parallel child processes, every finished point committed at once to an SQLite
// database; resumable, shardable across machines, mergeable; a Pareto front over latency,
// energy, area and numerical error. docs/dse.md is the user's guide.
//
// Spec (JSON):
//   { "name": "arrays", "hw": "configs/hw/default.json", "workload": "...", "tech": "...",
//     "grid": { "hw.mac_array.rows": [16, 32, 64], "hw.mac_array.dataflow": ["adder_tree"] },
//     "random": { "samples": 20, "seed": 1,
//                 "fields": { "hw.dram.bytes_per_cycle": { "min": 8, "max": 128,
//                                                          "integer": true },
//                             "hw.mac_array.pe": { "choices": ["int8_int8", "fp16"] } } },
//     "zip": [ { "hw.mac_array.pe": ["int8_int8", "fp16"],
//                "workload.layers.0.format": ["int8", "fp16"] } ],
//     "constraints": { "area_um2.total": { "max": 2e6 }, "derived.tokens_per_s": { "min": 50 } },
//     "timing_only": false, "verify": true }
// Points: every grid combination (keys in sorted order, then each zip group, whose fields take
// their i-th values together; the last varying fastest), each combined with every random
// sample; point i of a sweep is the same on every machine. Constraints (bounds on any figure of
// the report, by its path in the `metrics` table) decide which points the Pareto front is
// chosen from.
//
// Database: table `sweeps` (name, spec, points), `points` (one row per point: its sets, status
// ok or failed, error, headline figures, the resolved config and the whole report as JSON), and
// `metrics` (every numeric figure of the report, by its JSON path), so one SQL query can
// compare points across sweeps.
//
// Example:
//   SweepSpec spec = load_sweep_spec("sweep.json");
//   run_sweep(spec, {.jobs = 2, .db_path = "out/sweep.sqlite"});
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/json_reader.hpp"

namespace nmp::sim {

// Points a sweep may have: enumerating them holds each one's overrides in memory.
inline constexpr uint64_t kMaxSweepPoints = uint64_t{1} << 20;

struct SweepSpec {
  std::string file;
  std::string name;
  std::string hw_path, workload_path, tech_path;
  Json grid = Json::object();         // key -> array of values
  Json random = Json::object();       // key -> {min, max, integer} or {choices}
  Json zip = Json::array();           // groups: key -> array of values, all of one length
  Json constraints = Json::object();  // figure path -> {min, max} (either may be absent)
  uint64_t samples = 0;
  uint64_t seed = 1;
  bool timing_only = false;
  bool verify = true;
  Json text;  // the spec as read
};

// Throws ConfigError (file, JSON path, what was expected).
SweepSpec load_sweep_spec(const std::string& path);
// The same from JSON in memory; `path` names it in errors, and paths in it that do not exist
// from the working directory are taken beside it.
SweepSpec parse_sweep_spec(const Json& json, const std::string& path);

struct SweepPoint {
  uint64_t index = 0;
  std::vector<std::string> sets;  // "root.path=value"
  bool operator==(const SweepPoint& o) const { return index == o.index && sets == o.sets; }
};
std::vector<SweepPoint> sweep_points(const SweepSpec& spec);

struct SweepOptions {
  unsigned jobs = 1;
  bool resume = false;
  uint32_t shard = 0, shards = 1;  // run the points with index % shards == shard
  std::string db_path;
  bool progress = true;     // a progress line on standard error
  bool analytical = false;  // every point by the analytical model (run --analytical)
};

struct SweepSummary {
  uint64_t points = 0;   // of this shard
  uint64_t skipped = 0;  // already in the database (resume)
  uint64_t done = 0;
  uint64_t failed = 0;
};

SweepSummary run_sweep(const SweepSpec& spec, const SweepOptions& options);

// The points of a sweep, in order: point, sets (array), status, error, and the headline figures
// of the ok ones (cycles, latency_s, energy_pj, area_um2, error_rmse, macs, tokens_per_s; null
// where not computed).
Json sweep_rows(const std::string& db_path, const std::string& sweep);

// Every point of every sweep in the database, as CSV (one row per point, headline figures).
void export_csv(const std::string& db_path, const std::string& csv_path);

// Joins shard databases into `out`; throws ConfigError naming the point that is missing or
// present twice.
void merge_databases(const std::string& out, const std::vector<std::string>& inputs);

// The Pareto front of the ok points of a sweep that meet `constraints` (SweepSpec), over
// latency, energy, area and (when verified) RMSE, all minimized: the points no other such point
// matches or beats in every objective. A point lacking a constrained figure does not meet it.
struct ParetoPoint {
  uint64_t point;
  std::string sets;  // JSON array of "root.path=value"
  double latency_s, energy_pj, area_um2, error_rmse;
};
struct ParetoFront {
  std::vector<ParetoPoint> points;
  uint64_t ok = 0;                           // finished points
  uint64_t feasible = 0;                     // of those, the ones meeting every constraint
  std::vector<std::string> unknown_figures;  // constrained figures no finished point reports
};
ParetoFront pareto_front(const std::string& db_path, const std::string& sweep,
                         const Json& constraints = Json::object());

}  // namespace nmp::sim
