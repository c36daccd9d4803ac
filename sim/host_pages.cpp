// Large host allocations ask the kernel for transparent huge pages (where it offers them on
// request: /sys/kernel/mm/transparent_hugepage/enabled set to `madvise` or `always`).
//
// Why: on the virtual machines nmpsim is built, tested and benchmarked on, the first touch of
// a 4 KiB page costs about 10 us (docs/performance.md#host-page-faults), so a run's page faults,
// not its arithmetic, were most of workload generation: the demo's 17.7 M weights took 29,000
// faults. One 2 MiB page replaces 512 of them. The same as glibc's `glibc.malloc.hugetlb=1`
// tunable, which only works when set before the process starts.
//
// Linked into the nmpsim executable and the test executables (not the Python module, whose
// host owns the allocator); left out under AddressSanitizer, which checks every new against
// its delete. Blocks come from malloc, so the standard operator delete (free) releases them.
#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <new>

#if !defined(__SANITIZE_ADDRESS__)

namespace {

constexpr std::uintptr_t kHugePageBytes = std::uintptr_t{2} << 20;
// Smaller blocks may hold no whole huge page, and those that do gain little.
constexpr std::size_t kAdviseFromBytes = 2 * kHugePageBytes;

void advise_huge_pages(void* block, std::size_t bytes) {
  const auto first = reinterpret_cast<std::uintptr_t>(block);
  const std::uintptr_t begin = (first + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  const std::uintptr_t end = (first + bytes) & ~(kHugePageBytes - 1);
  // Advice only: a kernel without transparent huge pages refuses it, and pages stay 4 KiB.
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

}  // namespace

void* operator new(std::size_t bytes) {
  for (;;) {
    if (void* block = std::malloc(bytes == 0 ? 1 : bytes)) {
      if (bytes >= kAdviseFromBytes) advise_huge_pages(block, bytes);
      return block;
    }
    const std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

#endif
