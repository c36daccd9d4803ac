// Large host allocations ask the kernel for transparent huge pages (where it offers them on
// request: /sys/kernel/mm/transparent_hugepage/enabled set to `madvise` or `always`).
//
// Why: on the virtual machines nmpsim is built, tested and benchmarked on, the first touch of
// a 4 KiB page costs about 10 us (docs/performance.md#host-page-faults), so a run's page faults,
// not its arithmetic, were most of workload generation: the demo's 17.7 M weights took 29,000
// faults. One 2 MiB page replaces 512 of them. The same as glibc's `glibc.malloc.hugetlb=1`
// tunable, which only works when set before the process starts. From a quarter of a huge page
// (512 KiB: a 786 KB input tensor took 192 traps, about 2 ms, and faulted in at once still
// about 1 ms), at the price of up to 4x the memory for blocks that small: a BERT layer with
// values peaks at 192 MB instead of 167 MB. Blocks from 64 KiB up to that stay malloc's, but
// have their pages faulted in by one madvise(MADV_POPULATE_WRITE) call.
//
// Linked into the nmpsim executable and the test executables (not the Python module, whose
// host owns the allocator); CMakeLists.txt leaves it out of sanitizer and fuzzing builds, whose
// AddressSanitizer checks every new against its delete. Blocks come from malloc or
// posix_memalign, so the standard operator delete (free) releases them.
#include <malloc.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <new>

namespace {

constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;
constexpr std::size_t kHugeFromBytes = kHugePageBytes / 4;
constexpr std::size_t kPopulateBytes = std::size_t{64} << 10;
constexpr std::size_t kPageBytes = 4096;

// A block too small for huge pages has its whole pages faulted in by one call: one kernel entry
// instead of one trap per 4 KiB page. Advice only: a kernel before 5.14 refuses it.
void populate(void* block, std::size_t bytes) {
  if (block == nullptr) return;
  // The whole pages inside the block, by offsets from its start.
  const auto begin = reinterpret_cast<std::uintptr_t>(block);
  const std::size_t head = (kPageBytes - begin % kPageBytes) % kPageBytes;
  if (bytes <= head) return;
  const std::size_t whole = (bytes - head) / kPageBytes * kPageBytes;
  if (whole > 0) madvise(static_cast<char*>(block) + head, whole, MADV_POPULATE_WRITE);
}

// A block of at least a quarter of a huge page starts on a huge-page boundary (glibc's memalign
// maps a little more address space, not memory) and spans whole huge pages, all advised: its tail
// then takes one fault instead of up to 511.
void* allocate(std::size_t bytes) {
  if (bytes < kPopulateBytes) return std::malloc(bytes == 0 ? 1 : bytes);
  if (bytes < kHugeFromBytes) {
    void* block = std::malloc(bytes);
    populate(block, bytes);
    return block;
  }
  const std::size_t whole = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  void* block = nullptr;
  if (whole < bytes || posix_memalign(&block, kHugePageBytes, whole) != 0) return nullptr;
  // Advice only: a kernel without transparent huge pages refuses it, and pages stay 4 KiB.
  madvise(block, whole, MADV_HUGEPAGE);
  return block;
}

// Freed blocks stay with the process for the next allocation instead of going back to the
// kernel: blocks up to 32 MiB (glibc's largest threshold) come from the heap rather than a
// mapping of their own, and the heap's top is never trimmed, so that the pages a run has
// touched once serve its later buffers without new faults. At the price of a peak resident
// size that does not fall while the process runs.
const bool kKeepFreedPages = [] {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, -1);
  return true;
}();

}  // namespace

void* operator new(std::size_t bytes) {
  for (;;) {
    if (void* block = allocate(bytes)) return block;
    const std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}
