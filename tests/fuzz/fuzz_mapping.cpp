// Fuzzes --mapping files: each input is applied to a small graph (two linear layers with a
// bias, on tight SRAMs so that many tiles do not fit) and lowered, so the mapper's checks of
// forced orders, tiles and rows run too. A refused mapping must come out as the LoweringError
// that `nmpsim run` turns into exit code 2.
#include "fuzz_support.hpp"
#include "sim/config.hpp"
#include "workloads/graph.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return nmp::fuzz::run(data, size, [](const std::string& path) {
    static const nmp::sim::Json kWorkload = nmp::sim::Json::parse(R"({
      "name": "mapping-fuzz", "tokens": 37,
      "layers": [
        {"type": "rmsnorm", "name": "norm", "inputs": ["input"], "in_features": 200},
        {"type": "linear", "format": "fp16", "name": "a", "in_features": 200,
         "out_features": 300, "biases": {"seed": 5}},
        {"type": "linear", "format": "fp16", "name": "b", "in_features": 300,
         "out_features": 130}]})");
    static const std::vector<nmp::sim::SetOption> kSets = nmp::sim::parse_set_options(
        {"hw.mac_array.pe=fp16", "hw.mac_array.rows=16", "hw.mac_array.cols=16",
         "hw.act_sram.capacity_kib=16", "hw.acc_sram.capacity_kib=8",
         "hw.weight_sram.capacity_kib=16"});
    static const nmp::sim::HardwareConfig kHw =
        nmp::sim::load_hardware(std::string(NMP_SOURCE_DIR) + "/configs/hw/default.json", kSets);
    nmp::sim::WorkloadConfig w = nmp::sim::parse_workload(kWorkload, "mapping-fuzz", kSets);
    nmp::sim::apply_mapping_file(w, path);
    try {
      (void)nmp::workloads::lower_graph(w.model, nullptr, kHw.params);
    } catch (const nmp::workloads::LoweringError& e) {
      throw nmp::sim::ConfigError(path, e.pointer(), e.what());
    }
  });
}
