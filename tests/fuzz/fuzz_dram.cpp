// Fuzzes nmpsim dram: the trace reader (lines, hex addresses, operations, cycles, order,
// capacity) and the DRAM model that serves what it accepts, on the shipped DDR4 config.
#include "fuzz_support.hpp"
#include "sim/config.hpp"
#include "sim/dram_trace.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nmp::sim::HardwareConfig hw =
      nmp::sim::load_hardware(std::string(NMP_SOURCE_DIR) + "/configs/hw/default.json", {});
  return nmp::fuzz::run(data, size,
                        [](const std::string& path) { (void)nmp::sim::run_dram_trace(hw, path); });
}
