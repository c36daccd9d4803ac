// sim/host_pages.cpp: large host allocations sit on huge-page boundaries and are advised for
// transparent huge pages; blocks from 64 KiB to a quarter of a huge page have their pages faulted
// in at once (docs/performance.md#host-page-faults).
#include <sys/mman.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <new>
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

// Whether the kernel takes MADV_POPULATE_WRITE (Linux 5.14 on).
bool populate_offered() {
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* region = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED) return false;
  const bool offered = madvise(region, page, MADV_POPULATE_WRITE) == 0;
  munmap(region, page);
  return offered;
}

}  // namespace

TEST_CASE("large host allocations start on a huge-page boundary and ask for huge pages", "[unit]") {
#if NMP_HOST_PAGES_LINKED
  // From a quarter of a huge page: a block spans whole huge pages, its tail's included.
  for (const size_t bytes : {size_t{1} << 19, size_t{3} << 18, size_t{1} << 20, size_t{3} << 19,
                             size_t{2} << 20, size_t{3} << 20, size_t{33} << 20}) {
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
  // Below a quarter of a huge page, malloc's own placement.
  std::vector<uint8_t> small((size_t{1} << 18) - 64, 1);
  REQUIRE(small.back() == 1);
#else
  WARN("sim/host_pages.cpp is left out of sanitizer builds: nothing to check");
#endif
}

TEST_CASE("mid-sized host allocations come with their pages faulted in", "[unit]") {
#if NMP_HOST_PAGES_LINKED
  if (!populate_offered()) {
    WARN("this kernel has no MADV_POPULATE_WRITE: nothing to check");
    return;
  }
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  for (const size_t bytes : {size_t{64} << 10, size_t{300} << 10, (size_t{1} << 19) - 64}) {
    INFO("bytes " << bytes);
    void* block = ::operator new(bytes);
    // Untouched since the allocation: every whole page inside it is resident all the same.
    const auto begin = reinterpret_cast<uintptr_t>(block);
    const size_t head = (page - begin % page) % page;
    const size_t whole = (bytes - head) / page * page;
    std::vector<unsigned char> resident(whole / page);
    REQUIRE(mincore(static_cast<char*>(block) + head, whole, resident.data()) == 0);
    size_t absent = 0;
    for (const unsigned char r : resident) absent += (r & 1) == 0;
    REQUIRE(absent == 0);
    ::operator delete(block);
  }
#else
  WARN("sim/host_pages.cpp is left out of sanitizer builds: nothing to check");
#endif
}
