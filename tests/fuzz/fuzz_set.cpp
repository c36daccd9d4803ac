// Fuzzes --set: each line of the input is one option, applied to the shipped default hardware,
// technology and workload.
#include <fstream>
#include <sstream>

#include "fuzz_support.hpp"
#include "sim/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return nmp::fuzz::run(data, size, [&](const std::string&) {
    std::vector<std::string> options;
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
    for (std::string line; std::getline(in, line);) options.push_back(line);
    const auto sets = nmp::sim::parse_set_options(options);
    const std::string root = NMP_SOURCE_DIR;
    const nmp::sim::HardwareConfig hw =
        nmp::sim::load_hardware(root + "/configs/hw/default.json", sets);
    (void)nmp::sim::load_technology(hw.technology_path, sets);
    (void)nmp::sim::load_workload(root + "/configs/workloads/default.json", sets);
  });
}
