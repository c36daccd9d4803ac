// Fuzzes `nmpsim arith`: the first line names the format, the rest are calculator lines.
#include <sstream>

#include "fuzz_support.hpp"
#include "sim/arith_tools.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return nmp::fuzz::run(data, size, [&](const std::string&) {
    std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
    std::string format;
    std::getline(in, format);
    std::ostringstream out, err;
    (void)nmp::sim::run_calculator(format, in, out, err);
  });
}
