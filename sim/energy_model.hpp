// Energy per event and area per component, from a technology library and a hardware config.
//
// Energy: every counter a block exposes names an energy key. Keys of arithmetic events map to
// primitive operations of the library through kEventMap (energy_model.cpp), which says why
// (e.g. a non-zero ternary MAC is one int8 add). SRAM keys ("sram.<name>.read_word") come from
// the SRAM model (sram_model.hpp): an access of one bank, a macro of capacity / banks. DRAM keys
// come from the standard's currents, or the simple channel's pJ/bit. An instruction costs one
// 128-bit read of the instruction memory. Energy = sum(count x pJ) + leakage x time + clock x
// cycles, where leakage = every SRAM bank's (the SRAM model) + the library's leakage per area x
// the area, and clock = the register bits of the area model x the library's energy per bit and
// cycle (no clock gating: an upper bound for idle cycles).
//
// Area: docs/energy-model.md gives every derivation; each item carries its own.
//
// Every key a block can emit must be priced, and every primitive of the library must be used
// here or marked optional: a gap is a ConfigError naming the library file and entry.
//
// Example:
//   EnergyModel e = build_energy_model(hw, tech);   // e.per_event.at("pe.ternary_add").pj
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sim/config.hpp"
#include "workloads/linear_mapping.hpp"

namespace nmp::sim {

struct EventEnergy {
  double pj = 0.0;
  std::string source;  // how this figure was obtained
};

struct AreaItem {
  std::string component;
  double um2 = 0.0;
  std::string derivation;
  double register_bits = 0.0;  // flip-flops in it, clocked every cycle
};

struct LeakageItem {
  std::string component;
  double mw = 0.0;
  std::string derivation;
};

struct EnergyModel {
  std::map<std::string, EventEnergy> per_event;
  std::vector<LeakageItem> leakage;  // static power of the SRAMs, bank by bank
  double leakage_mw_per_mm2 = 0.0;   // of everything else, by area
  std::string leakage_source;
  double clock_pj_per_cycle = 0.0;  // every register bit of the area model, every cycle
  std::string clock_source;
  std::vector<AreaItem> area;
  std::vector<std::string> area_not_modelled;
  double total_area_um2() const;
  // Static power of the whole design: the SRAMs' plus leakage_mw_per_mm2 x the other area.
  double leakage_mw() const;
  std::string leakage_derivation() const;
};

EnergyModel build_energy_model(const HardwareConfig& hw, const TechLibrary& tech);

// The DRAM's energy keys (dram.*): a standard's from its device's currents (the IDD method) and
// I/O figure, whatever the logic node; the simple channel's bytes at `simple_pj_per_bit`.
std::map<std::string, EventEnergy> dram_prices(const hw::DramParams& dram,
                                               const SourcedValue& simple_pj_per_bit);

// The event map as a markdown table: energy key, primitive operations, why (docs/).
std::string event_map_markdown();

// The mapper's prices (docs/architecture.md#mapper), from the same figures as the report: a
// byte streamed through DRAM (its I/O energy, plus on a standard each burst's RD and each row's
// ACT-PRE pair, rows read whole), one MAC, and the static energy of a cycle (leakage, clock,
// and on a standard every rank's active background).
workloads::MapperCosts mapper_costs(const EnergyModel& energy, const HardwareConfig& hw);

}  // namespace nmp::sim
