// A banked on-chip SRAM: its contents, and the per-cycle arbitration of its bank ports.
//
// Modelled: `banks` banks, word-interleaved (word w lives in bank w % banks), each word
// `width_bits` wide, with one of three port configurations per bank:
//   1rw   one port shared by reads and writes
//   1r1w  one read port and one write port
//   2rw   two ports, each for a read or a write
// Every access moves one whole word (a partial write is a byte-masked word write). In a cycle a
// bank serves at most as many accesses of a port class as it has ports of that class, granted
// first come, first served in the fixed priority order in which units tick
// (docs/architecture.md#arbitration).
// Abstracted: read/write latency inside a bank (folded into the unit pipelines), refresh, ECC.
//
// Example:
//   Sram s({"wsram", 512 * 1024, 16, 256, PortConfig::kOneRw}, 0);
//   if (s.try_claim(now, word, Access::kRead)) { ... }
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "hw_models/counters.hpp"
#include "hw_models/cycles.hpp"
#include "hw_models/zero_pages.hpp"

namespace nmp::hw {

enum class PortConfig : uint8_t { kOneRw, kOneROneW, kTwoRw };
inline constexpr size_t kNumPortConfigs = static_cast<size_t>(PortConfig::kTwoRw) + 1;
enum class Access : uint8_t { kRead, kWrite };

const char* to_string(PortConfig ports);

// The port class an access uses (0 or 1: two streams contend only within a class), and a
// bank's ports of a class.
inline unsigned port_class(PortConfig ports, Access access) {
  return ports == PortConfig::kOneROneW && access == Access::kWrite ? 1 : 0;
}
inline uint32_t ports_of_class(PortConfig ports, unsigned cls) {
  switch (ports) {
    case PortConfig::kOneRw:
      return cls == 0 ? 1 : 0;
    case PortConfig::kOneROneW:
      return 1;
    case PortConfig::kTwoRw:
      return cls == 0 ? 2 : 0;
  }
  return 0;
}
// Accesses of one kind a bank serves in a cycle.
inline uint32_t bank_ports(PortConfig ports, Access access) {
  return ports_of_class(ports, port_class(ports, access));
}

struct SramParams {
  std::string name;  // "wsram", "asram", "acc": also the prefix of its energy keys
  uint64_t capacity_bytes = 0;
  uint32_t banks = 1;
  uint32_t width_bits = 64;
  PortConfig ports = PortConfig::kOneRw;
};

struct SramStats {
  uint64_t read_words = 0;
  uint64_t write_words = 0;
  void visit(const std::string& sram, const CounterFn& fn) const;
};

class Sram {
 public:
  // `id` (0..15) identifies the SRAM in contention masks.
  Sram(const SramParams& params, unsigned id);

  const SramParams& params() const { return params_; }
  unsigned id() const { return id_; }
  uint32_t word_bytes() const { return word_bytes_; }
  // The word holding byte `byte`.
  uint64_t word_of(uint64_t byte) const {
    return word_shift_ >= 0 ? byte >> word_shift_ : byte / word_bytes_;
  }
  uint64_t capacity_bytes() const { return params_.capacity_bytes; }
  // Byte addresses this far apart fall at the same place in the same bank: accesses shifted by
  // a multiple of it take the same cycles.
  uint64_t bank_period_bytes() const { return uint64_t{params_.banks} * word_bytes_; }
  // Words of one access kind the whole SRAM can serve in a cycle (banks x ports of the class).
  uint32_t words_per_cycle(Access access) const {
    return params_.banks * ports_of_class(port_class(access));
  }
  // Port class an access uses: 0 or 1. Two streams contend only if they use the same class.
  unsigned port_class(Access access) const { return hw::port_class(params_.ports, access); }

  uint8_t* data() { return data_.data(); }
  const uint8_t* data() const { return data_.data(); }

  // Claims a port of the bank of `word` in cycle `now`, if one of its class is still free.
  bool try_claim(Cycles now, uint64_t word, Access access) {
    const unsigned cls = port_class(access);
    if (run_[cls].cycle == now) materialize_run(cls);
    last_claim_[cls] = now;
    const uint64_t bank = bank_mask_ ? word & bank_mask_ : word % params_.banks;
    PortUse& u = use_[bank * 2 + cls];
    if (u.cycle != now) {
      u.cycle = now;
      u.used = 0;
    }
    if (u.used == ports_of_class(cls)) return false;
    ++u.used;
    return true;
  }
  // Claims words first .. first+count-1 (count <= words_per_cycle) at once if no port of their
  // class has been claimed yet in cycle `now`: they then fall on distinct bank ports and are
  // all granted. Returns false, claiming nothing, otherwise.
  bool try_claim_run(Cycles now, uint64_t first, uint32_t count, Access access) {
    const unsigned cls = port_class(access);
    if (last_claim_[cls] == now) return false;
    last_claim_[cls] = now;
    run_[cls] = {now, first, count};
    return true;
  }

  void count_words(uint32_t layer, Access access, uint64_t words);
  const std::vector<SramStats>& stats_by_layer() const { return stats_; }

 private:
  struct PortUse {
    Cycles cycle = kNever;
    uint32_t used = 0;
  };
  // A run granted whole by try_claim_run, recorded per bank only if another claim of its
  // class follows in the same cycle.
  struct Run {
    Cycles cycle = kNever;
    uint64_t first = 0;
    uint32_t count = 0;
  };
  void materialize_run(unsigned cls);
  uint32_t ports_of_class(unsigned cls) const { return hw::ports_of_class(params_.ports, cls); }

  SramParams params_;
  unsigned id_;
  uint32_t word_bytes_;
  uint64_t bank_mask_;  // banks - 1 when banks is a power of two above 1, else 0
  int word_shift_;      // log2(word_bytes) when a power of two, else -1
  ZeroPages data_;
  std::vector<PortUse> use_;  // banks x 2 port classes
  std::array<Run, 2> run_{};
  std::array<Cycles, 2> last_claim_{kNever, kNever};  // last cycle a port of the class was claimed
  std::vector<SramStats> stats_;
};

}  // namespace nmp::hw
