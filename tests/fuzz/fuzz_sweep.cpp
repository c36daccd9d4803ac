// Fuzzes the sweep spec reader and the enumeration of its points.
#include "fuzz_support.hpp"
#include "sim/sweep.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return nmp::fuzz::run(data, size, [](const std::string& path) {
    const nmp::sim::SweepSpec spec = nmp::sim::load_sweep_spec(path);
    (void)nmp::sim::sweep_points(spec);
  });
}
