// Fuzzes the regression suite reader.
#include "fuzz_support.hpp"
#include "sim/regress.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return nmp::fuzz::run(data, size,
                        [](const std::string& path) { (void)nmp::sim::load_suite(path); });
}
