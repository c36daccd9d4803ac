// Zero-filled byte storage whose pages the operating system supplies on first touch: the
// backing of SRAMs and DRAM. Reserving it costs no time and no memory, whatever its size
// (an anonymous, unreserved mapping); only the pages a run writes or reads take host memory,
// so a 4 GiB SRAM or a 1 TiB DRAM elaborates at once and a run that touches 1 MiB of it uses
// 1 MiB.
//
// Example:
//   ZeroPages mem(uint64_t{1} << 32);   // 4 GiB of zeros, nothing allocated yet
//   mem.data()[123] = 7;                 // one page now
#pragma once

#include <cstdint>

namespace nmp::hw {

class ZeroPages {
 public:
  ZeroPages() = default;
  // Throws std::bad_alloc if the address space cannot be reserved.
  explicit ZeroPages(uint64_t bytes);
  ~ZeroPages();
  ZeroPages(ZeroPages&& other) noexcept;
  ZeroPages& operator=(ZeroPages&& other) noexcept;
  ZeroPages(const ZeroPages&) = delete;
  ZeroPages& operator=(const ZeroPages&) = delete;

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint8_t& operator[](uint64_t i) { return data_[i]; }
  const uint8_t& operator[](uint64_t i) const { return data_[i]; }

 private:
  void release();
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace nmp::hw
