// Fuzzes the assembler through the program loader; a program it accepts must disassemble and
// assemble back to the same instructions.
#include "fuzz_support.hpp"
#include "sim/run.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size >= 4 && std::string(reinterpret_cast<const char*>(data), 4) == "NMPB") return 0;
  return nmp::fuzz::run(data, size, [](const std::string& path) {
    const nmp::isa::Program p = nmp::sim::load_program_file(path);
    if (nmp::isa::assemble(nmp::isa::disassemble(p)) != p) {
      std::fprintf(stderr, "finding: disassembly does not assemble back\n");
      std::abort();
    }
  });
}
