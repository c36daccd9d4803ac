// Loading and validating the three inputs of a run, before any module exists:
//   hardware   configs/hw/*.json   -> hw::NmpParams (defaults: the member initializers there)
//   technology configs/tech/*.json -> TechLibrary
//   workload   configs/workloads/*.json, workloads/models/*.json -> workloads::ModelSpec
// `--set root.path.to.field=value` (root: hw, tech or workload) overrides any field by its JSON
// path before validation; the value is JSON (a bare word is a string).
//
// Example:
//   auto sets = parse_set_options({"hw.mac_array.rows=32"});
//   HardwareConfig hw = load_hardware("configs/hw/default.json", sets);
#pragma once

#include <map>
#include <string>
#include <vector>

#include "hw_models/nmp_top.hpp"
#include "sim/json_reader.hpp"
#include "workloads/model.hpp"

namespace nmp::sim {

struct SetOption {
  std::string root;     // "hw", "tech" or "workload"
  std::string pointer;  // JSON pointer inside that document
  Json value;
  std::string text;  // as given, for error messages
};

// Throws ConfigError for a malformed option.
std::vector<SetOption> parse_set_options(const std::vector<std::string>& options);

struct HardwareConfig {
  std::string file;
  std::string name;
  hw::NmpParams params;
  std::string technology_path;  // resolved against the hardware file's folder
  Json resolved;
  std::vector<FieldRecord> fields;
};

struct TechOp {
  double energy_pj = 0.0;
  double area_um2 = 0.0;
  bool has_area = false;
  bool optional = false;  // may go unused by the simulator's event map
  std::string source;
  std::string origin;  // the file or --set option that gave it (for errors)
};

struct SourcedValue {
  double value = 0.0;
  std::string source;
};

// One SRAM macro (a bank) as a memory model (CACTI) gives it.
struct SramMacroPoint {
  double capacity_kib = 0.0;
  double width_bits = 0.0;
  hw::PortConfig ports = hw::PortConfig::kOneRw;
  double read_pj = 0.0;   // per access of width_bits
  double write_pj = 0.0;  // per access of width_bits
  double leakage_mw = 0.0;
  double area_um2 = 0.0;
};

struct TechLibrary {
  std::string file;
  std::string name;
  double node_nm = 0.0;
  double voltage_v = 0.0;
  std::map<std::string, TechOp> ops;  // primitive operations by name
  SourcedValue dram_pj_per_bit;
  std::vector<SramMacroPoint> sram_macros;  // the points the SRAM model fits
  std::string sram_source;
  SourcedValue register_bit_area_um2;
  SourcedValue leakage_mw_per_mm2;
  // Energy of one register bit (flip-flop and its clock load) per clock cycle: the clock
  // energy of every modelled register, every cycle (optional: 0 when absent).
  SourcedValue register_bit_pj_per_cycle{0.0, "not modelled: no sourced figure for the node"};
  Json resolved;
  std::vector<FieldRecord> fields;
};

struct WorkloadConfig {
  std::string file;
  workloads::ModelSpec model;
  Json resolved;
  std::vector<FieldRecord> fields;
  std::string mapping_file;  // --mapping, if given
  Json mapping;              // its resolved entries (null without one)
};

HardwareConfig load_hardware(const std::string& path, const std::vector<SetOption>& sets);
// Applies a --mapping file (docs/configs.md#mapping-file) to the workload's linear layers.
void apply_mapping_file(WorkloadConfig& workload, const std::string& path);
TechLibrary load_technology(const std::string& path, const std::vector<SetOption>& sets);
WorkloadConfig load_workload(const std::string& path, const std::vector<SetOption>& sets);

// The same, from JSON already in memory (`file` names it in errors).
HardwareConfig parse_hardware(const Json& json, const std::string& file,
                              const std::vector<SetOption>& sets);
TechLibrary parse_technology(const Json& json, const std::string& file,
                             const std::vector<SetOption>& sets);
// Every entry of a library as it is used (inherited and overridden ones included, each with its
// source): what reports carry under config.tech.
Json technology_json(const TechLibrary& tech);
WorkloadConfig parse_workload(const Json& json, const std::string& file,
                              const std::vector<SetOption>& sets);

}  // namespace nmp::sim
