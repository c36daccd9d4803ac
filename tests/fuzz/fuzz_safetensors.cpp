// Fuzzes the safetensors reader: the header, its layout rules, and tensor "w".
#include "fuzz_support.hpp"
#include "sim/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return nmp::fuzz::run(
      data, size, [](const std::string& path) { (void)nmp::sim::read_safetensors(path, "w"); });
}
