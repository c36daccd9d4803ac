// Fuzzes the hardware config reader: JSON text, every field's type and range, cross-field rules.
#include "fuzz_support.hpp"
#include "sim/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return nmp::fuzz::run(data, size,
                        [](const std::string& path) { (void)nmp::sim::load_hardware(path, {}); });
}
