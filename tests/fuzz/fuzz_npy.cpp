// Fuzzes the .npy reader.
#include "fuzz_support.hpp"
#include "sim/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return nmp::fuzz::run(data, size,
                        [](const std::string& path) { (void)nmp::sim::read_npy(path); });
}
