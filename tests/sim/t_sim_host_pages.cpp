// sim/host_pages.cpp: large host allocations sit on huge-page boundaries and are advised for
// transparent huge pages (docs/performance.md#host-page-faults).
#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr uintptr_t kHugePageBytes = uintptr_t{2} << 20;

// Whether the kernel offers huge pages to regions that ask (enabled: [always] or [madvise]).
bool huge_pages_offered() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  return std::getline(in, line) && line.find("[never]") == std::string::npos;
}

// The VmFlags of the mapping holding `address` in /proc/self/smaps ("" if none is found).
std::string vm_flags_of(uintptr_t address) {
  std::ifstream smaps("/proc/self/smaps");
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = address >= begin && address < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

}  // namespace

TEST_CASE("large host allocations start on a huge-page boundary and ask for huge pages", "[unit]") {
#if NMP_HOST_PAGES_LINKED
  // From half a huge page: a block spans whole huge pages, its tail's included.
  for (const size_t bytes :
       {size_t{1} << 20, size_t{3} << 19, size_t{2} << 20, size_t{3} << 20, size_t{33} << 20}) {
    INFO("bytes " << bytes);
    std::vector<uint8_t> block(bytes, 1);  // through operator new
    const auto at = reinterpret_cast<uintptr_t>(block.data());
    REQUIRE(at % kHugePageBytes == 0);
    REQUIRE(block.back() == 1);
    // "hg": the kernel's mark of a range advised MADV_HUGEPAGE.
    if (huge_pages_offered()) {
      REQUIRE(vm_flags_of(at).find(" hg") != std::string::npos);
      REQUIRE(vm_flags_of(at + bytes - 1).find(" hg") != std::string::npos);
    }
  }
  // Below half a huge page, malloc's own placement.
  std::vector<uint8_t> small((size_t{1} << 19) - 64, 1);
  REQUIRE(small.back() == 1);
#else
  WARN("sim/host_pages.cpp is left out of sanitizer builds: nothing to check");
#endif
}
