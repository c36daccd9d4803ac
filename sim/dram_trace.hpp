// `nmpsim dram`: the memory system alone, driven by a trace, as DRAM simulators are used.
//
// Trace: one request per line, `0xADDR READ|WRITE CYCLE` (CYCLE in DRAM clock cycles,
// non-decreasing; '#' starts a comment). A request is one burst (bus_width_bits x burst_length
// / 8 bytes, the address rounded down to it); requests enter in order, none before its cycle,
// each when its channel's queue has room. The result: DRAM cycles until every request is done,
// time, bytes, bandwidth, average read latency (entry cycle to data), row hits, commands and
// energy (the IDD method: docs/energy-model.md#dram).
//
// Example:
//   Json r = run_dram_trace(load_hardware("configs/hw/llm_64x64.json", sets), "trace.txt");
#pragma once

#include <string>

#include "sim/config.hpp"

namespace nmp::sim {

// Throws ConfigError for a simple-channel config, a line that does not parse (file:line:column)
// or an address beyond the memory's capacity.
Json run_dram_trace(const HardwareConfig& hw, const std::string& trace_path);

// The presets as a markdown table (organization, peak bandwidth, key timings, refresh overhead,
// per-command energy of the IDD method) followed by each one's sources: `nmpsim dram
// --standards`, generated into docs/architecture.md.
std::string dram_standards_markdown();

}  // namespace nmp::sim
