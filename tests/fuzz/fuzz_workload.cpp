// Fuzzes the workload reader (graphs, every layer kind, tensor sources) and the memory estimate
// taken before any tensor is drawn.
#include "fuzz_support.hpp"
#include "sim/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return nmp::fuzz::run(data, size, [](const std::string& path) {
    const nmp::sim::WorkloadConfig w = nmp::sim::load_workload(path, {});
    (void)nmp::workloads::tensor_elements(w.model);
  });
}
