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
// host owns the allocator); CMakeLists.txt leaves it out of sanitizer and fuzzing builds, whose
// AddressSanitizer checks every new against its delete. Blocks come from malloc or
// posix_memalign, so the standard operator delete (free) releases them.
#include <sys/mman.h>

#include <cstdlib>
#include <new>

namespace {

constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

// A block of at least half a huge page starts on a huge-page boundary (glibc's memalign maps a
// little more address space, not memory) and spans whole huge pages, all advised: its tail
// then takes one fault instead of up to 511.
void* allocate(std::size_t bytes) {
  if (bytes < kHugePageBytes / 2) return std::malloc(bytes == 0 ? 1 : bytes);
  const std::size_t whole = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  void* block = nullptr;
  if (whole < bytes || posix_memalign(&block, kHugePageBytes, whole) != 0) return nullptr;
  // Advice only: a kernel without transparent huge pages refuses it, and pages stay 4 KiB.
  madvise(block, whole, MADV_HUGEPAGE);
  return block;
}

}  // namespace

void* operator new(std::size_t bytes) {
  for (;;) {
    if (void* block = allocate(bytes)) return block;
    const std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}
