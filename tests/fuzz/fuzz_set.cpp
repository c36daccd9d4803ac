// Fuzzes --set: each line of the input is one option, applied to the shipped default hardware,
// technology and workload. The three files are read and parsed once (parse_* is what load_*
// runs after reading a file); a technology other than the default one, which an option may
// name, is loaded from its file.
#include <sstream>

#include "fuzz_support.hpp"
#include "sim/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return nmp::fuzz::run(data, size, [&](const std::string&) {
    static const std::string root = NMP_SOURCE_DIR;
    static const std::string hw_path = root + "/configs/hw/default.json";
    static const std::string workload_path = root + "/configs/workloads/default.json";
    static const nmp::sim::Json hw_json = nmp::sim::parse_json_file(hw_path);
    static const std::string tech_path =
        nmp::sim::parse_hardware(hw_json, hw_path, {}).technology_path;
    static const nmp::sim::Json tech_json = nmp::sim::parse_json_file(tech_path);
    static const nmp::sim::Json workload_json = nmp::sim::parse_json_file(workload_path);
    std::vector<std::string> options;
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
    for (std::string line; std::getline(in, line);) options.push_back(line);
    const auto sets = nmp::sim::parse_set_options(options);
    const nmp::sim::HardwareConfig hw = nmp::sim::parse_hardware(hw_json, hw_path, sets);
    if (hw.technology_path == tech_path) {
      (void)nmp::sim::parse_technology(tech_json, tech_path, sets);
    } else {
      (void)nmp::sim::load_technology(hw.technology_path, sets);
    }
    (void)nmp::sim::parse_workload(workload_json, workload_path, sets);
  });
}
