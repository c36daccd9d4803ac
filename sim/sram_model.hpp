// The SRAM model: energy per access, area and leakage of a macro (one bank) as functions of its
// bits, word width and ports, fitted to a technology library's macro points (CACTI runs at
// 45 nm; docs/energy-model.md#sram). Per port configuration, by least squares:
//
//   read_pj  = exp(c) x bits^b x width^w        (in log space)
//   write_pj = exp(c) x bits^b x width^w
//   area_um2 = a_bit x bits + a_width x width   (relative error; the width term is the per-bank
//                                                periphery: sense amplifiers, drivers, muxes)
//   leakage_mw = l_bit x bits + l_width x width + l_macro
//
// An SRAM of `banks` banks is `banks` macros of capacity / banks: more banks cost area and
// leakage (periphery per bank) and save energy per access (shorter bit lines and word lines).
//
// Example:
//   const SramMacroFit f = fit_sram_macros(tech.sram_macros, hw::PortConfig::kOneRw);
//   const SramMacroCost c = sram_macro_cost(f, 8.0 * 32768, 64);   // c.read_pj, c.area_um2
#pragma once

#include <string>
#include <vector>

#include "sim/config.hpp"

namespace nmp::sim {

struct SramMacroFit {
  double read_log_c = 0, read_bits_exp = 0, read_width_exp = 0;
  double write_log_c = 0, write_bits_exp = 0, write_width_exp = 0;
  double area_per_bit = 0, area_per_width_bit = 0;
  double leakage_per_bit = 0, leakage_per_width_bit = 0, leakage_per_macro = 0;
  size_t points = 0;
  // Root-mean-square relative error of the fit over its points.
  double read_rms = 0, write_rms = 0, area_rms = 0, leakage_rms = 0;
};

struct SramMacroCost {
  double read_pj = 0, write_pj = 0, area_um2 = 0, leakage_mw = 0;
};

// The fit through the points of one port configuration. Throws std::invalid_argument if they
// cannot determine it (sram_fit_problem() says why).
SramMacroFit fit_sram_macros(const std::vector<SramMacroPoint>& points, hw::PortConfig ports);

// Why the points cannot give every port configuration a fit ("" if they can): fewer than four
// points, a single capacity or width, or a fit with a negative area or leakage term.
std::string sram_fit_problem(const std::vector<SramMacroPoint>& points);

SramMacroCost sram_macro_cost(const SramMacroFit& fit, double bits, double width_bits);

// The fit of each port configuration of `tech`, what it gives for typical banks, and its
// 64-bit reads beside Horowitz's 45 nm SRAM figures (markdown): `nmpsim energy --sram`.
std::string sram_model_markdown(const TechLibrary& tech);

}  // namespace nmp::sim
