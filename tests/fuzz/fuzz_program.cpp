// Fuzzes the binary program reader; a program it accepts must write back to the same bytes.
#include <fstream>
#include <iterator>

#include "fuzz_support.hpp"
#include "sim/run.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Mostly binary: the magic is prepended so that the fuzzer explores past it.
  std::string bytes = "NMPB" + std::string(reinterpret_cast<const char*>(data), size);
  return nmp::fuzz::run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                        [&](const std::string& path) {
                          const nmp::isa::Program p = nmp::sim::load_program_file(path);
                          const std::vector<uint8_t> back = nmp::isa::to_binary(p);
                          if (std::string(back.begin(), back.end()) != bytes) {
                            std::fprintf(stderr, "finding: the program does not write back\n");
                            std::abort();
                          }
                        });
}
