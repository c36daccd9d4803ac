// What every fuzz harness shares: the input as a file (a memfd, so the parsers' own file checks
// run too), and the rule that decides what is a finding. Bad input must end in the refusal the
// command line turns into exit code 2 (ConfigError, the assembler's and the program format's
// errors); any other exception escaping, a crash, a sanitizer report, a hang or an allocation
// past libFuzzer's limit is a finding.
//
// Example (one harness per parser, tests/fuzz/fuzz_<parser>.cpp):
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
//     return nmp::fuzz::run(data, size, [](const std::string& path) { load_hardware(path, {}); });
//   }
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "isa/assembler.hpp"
#include "isa/isa.hpp"
#include "isa/program.hpp"
#include "sim/input_limits.hpp"
#include "sim/json_reader.hpp"

namespace nmp::fuzz {

// The bytes as a regular file at /proc/self/fd/N: one memfd per process, rewritten for each
// input (creating one per input spent a third of the run in the kernel).
class InputFile {
 public:
  InputFile(const uint8_t* data, size_t size) {
    static const int fd = memfd_create("fuzz-input", 0);
    fd_ = fd;
    if (fd_ < 0 || ftruncate(fd_, 0) != 0) std::abort();
    size_t done = 0;
    while (done < size) {
      const ssize_t n = pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

template <class Parse>
int run(const uint8_t* data, size_t size, Parse&& parse) {
  // Inputs may ask for host memory; the limit keeps them under libFuzzer's -rss_limit_mb.
  sim::set_max_host_memory_bytes(uint64_t{256} << 20);
  const InputFile file(data, size);
  try {
    parse(file.path());
  } catch (const sim::ConfigError&) {
  } catch (const isa::AsmError&) {
  } catch (const isa::FormatError&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "finding: an exception other than a refusal escaped: %s\n", e.what());
    std::abort();
  }
  return 0;
}

}  // namespace nmp::fuzz
