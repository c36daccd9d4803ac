// Reading reports back: the energy-per-operation report (`nmpsim energy REPORT.json`) and the
// side-by-side comparison of two runs (`nmpsim compare A.json B.json`). Both print only what the
// reports hold, or ratios of it.
//
// Example:
//   std::cout << energy_report(load_report("out/report.json"));
#pragma once

#include <string>

#include "sim/json_reader.hpp"

namespace nmp::sim {

// Parses a report file; a file that is not an nmpsim report is a ConfigError.
Json load_report(const std::string& path);

// Every energy event (count, pJ per event, total, share, source), then by unit, by layer, and
// per MAC.
std::string energy_report(const Json& report);

// Every figure of two reports side by side with the ratio B / A.
std::string compare_reports(const Json& a, const Json& b, const std::string& name_a,
                            const std::string& name_b);

}  // namespace nmp::sim
