// Off-chip DRAM: its contents, and the memory system the DMA unit (its only user) moves them
// through. Two models:
//
//   simple     one channel of `bytes_per_cycle` bytes per accelerator cycle that moves whole
//              bursts of `burst_bytes`, a fixed `latency_cycles` from a transfer's first
//              request to its first data: for closed-form studies. Timing is applied by the
//              DMA (dma.hpp).
//   a standard (DDR4, DDR5, LPDDR4, LPDDR5, HBM2, HBM3; dram_standard.hpp): channels of
//              ranks, bank groups, banks and rows behind FR-FCFS controllers (dram_channel.hpp),
//              with refresh, an address mapping given as a field order, and its own clock.
//              transfer() runs a DMA command's bursts through it and returns when each burst's
//              data has crossed its channel's bus, in accelerator cycles converted exactly
//              (both clocks are whole kHz: DRAM cycle d ends accelerator cycle
//              ceil(d x f_acc / f_dram)).
//
// A DMA command issues its bursts in order, at most one per channel per DRAM cycle, each when
// its channel's queue has room (head-of-line blocking); channels then run independently.
//
// Streams repeat: a transfer of consecutive bursts sends the same pattern of channels, banks
// and rows again and again, and once queues and banks settle, each stretch of requests leaves
// every channel in the state it found it, only later. When two snapshots one stretch apart
// (DramChannel::Snapshot) show that, and the coming requests repeat the stretch's pattern,
// the stretches up to the end of the pattern or the next refresh are not simulated: their
// done cycles, counts and final state follow by shifting the last one. Exact: the same done
// cycles and counts as command by command (tested), without the per-request cost.
//
// Example:
//   Dram d(params, image);
//   d.transfer(bursts, /*write=*/false, now, layer, done);   // done[i]: burst i's cycle
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw_models/counters.hpp"
#include "hw_models/cycles.hpp"
#include "hw_models/dram_channel.hpp"
#include "hw_models/dram_standard.hpp"
#include "hw_models/timeline.hpp"
#include "hw_models/zero_pages.hpp"

namespace nmp::hw {

// Address fields, most significant first in a mapping.
enum class DramField : uint8_t { kChannel, kRank, kBankGroup, kBank, kRow, kColumn };
inline constexpr size_t kNumDramFields = 6;
const char* to_string(DramField f);  // ch, ra, bg, ba, ro, co

struct DramParams {
  // The simple channel.
  uint32_t bytes_per_cycle = 64;
  uint32_t latency_cycles = 100;
  uint32_t burst_bytes = 64;
  // A standard: its device (a preset with overrides), mapping, policy and queue.
  bool simple = true;
  DramDevice device;
  std::vector<DramField> mapping;  // all six fields, most significant first
  PagePolicy page_policy = PagePolicy::kOpen;
  uint32_t queue_depth = 32;
  uint64_t accelerator_clock_khz = 1000000;
  // The format of activation tensors in DRAM (empty: the vector unit's); the DMA converts.
  std::string activation_format;
  // The bytes of one request (the simple channel's burst, or a standard's).
  uint64_t request_bytes() const { return simple ? burst_bytes : device.burst_bytes(); }
};

// A burst's place in the memory system.
struct DramAddress {
  uint32_t channel = 0;
  DramRequest request;
};

class Dram {
 public:
  // `unbacked_bytes` > 0 (timing only, `contents` empty): a DRAM of that size that holds no
  // bytes; transfers take their time and move nothing.
  Dram(const DramParams& params, ZeroPages contents, uint64_t unbacked_bytes = 0);
  const DramParams& params() const { return params_; }
  bool backed() const { return unbacked_bytes_ == 0; }
  uint8_t* data() { return data_.data(); }
  const uint8_t* data() const { return data_.data(); }
  uint64_t size_bytes() const { return backed() ? data_.size() : unbacked_bytes_; }

  DramStats& stats(uint32_t layer) { return stats_for_layer<DramStats>(stats_, layer); }
  const std::vector<DramStats>& stats_by_layer() const { return stats_; }

  // A standard's bursts (request_bytes() each, aligned) from accelerator cycle `start`: done[i]
  // is the accelerator cycle by the end of which burst i's data has crossed the bus. Counts
  // into `layer`.
  void transfer(const std::vector<uint64_t>& burst_addresses, bool write, Cycles start,
                uint32_t layer, std::vector<Cycles>& done);
  // transfer() of `count` consecutive bursts from `first_address`, when only the first and the
  // last burst's done cycles are wanted (a long read's rate and latency): no list of
  // addresses or done cycles is built.
  struct Span {
    Cycles first_done = 0, last_done = 0;
  };
  Span transfer_sequential(uint64_t first_address, uint64_t count, bool write, Cycles start,
                           uint32_t layer);
  // A standard driven as DRAM simulators are, in DRAM cycles: requests (whole bursts) enter
  // in order, none before its cycle, each when its channel's queue has room; returns the cycle
  // each entered its controller's queue and the cycle it was done (read data or write data
  // through the bus). Counts into layer 0.
  struct TimedRequest {
    uint64_t address = 0;
    bool write = false;
    uint64_t cycle = 0;
  };
  struct Served {
    std::vector<uint64_t> admitted, done;
  };
  Served serve(const std::vector<TimedRequest>& requests);
  // Accounts every channel's background and refresh up to accelerator cycle `end` (or DRAM
  // cycle `end_dram`).
  void finish(Cycles end, uint32_t layer) { finish_dram(to_dram_cycle(end), layer); }
  void finish_dram(uint64_t end_dram, uint32_t layer);

  // Off: each channel chooses every command by its full FR-FCFS scan (dram_channel.hpp), and
  // no stream is repeated.
  void set_fast_path(bool on);
  // Requests whose cycles came from a repeated stretch, not from the channels' commands.
  uint64_t repeated_requests() const { return repeated_requests_; }
  // Reports every bank's changes of state to `timeline` if it records signals (nullptr: none).
  void set_timeline(Timeline* timeline);

  // Where an address's fields lie (after the burst offset): bits and shift per field. Also a
  // burst's bank numbered densely (channel, rank, bank group, bank: as nested loops) and its
  // row, for the analytical model's rows left open; a loop that stores what it decodes takes
  // a copy, which stays in registers.
  struct AddressLayout {
    std::array<uint32_t, kNumDramFields> bits{}, shift{};
    // The bits of every field but the column: addresses that agree on them lie in one row.
    uint64_t same_row_mask = 0;
    uint32_t field(uint64_t address, DramField f) const {
      const auto i = static_cast<size_t>(f);
      return static_cast<uint32_t>((address >> shift[i]) & ((uint64_t{1} << bits[i]) - 1));
    }
    uint32_t bank(uint64_t address) const {
      const auto shifted = [&](uint32_t index, DramField f) {
        return (index << bits[static_cast<size_t>(f)]) | field(address, f);
      };
      return shifted(shifted(shifted(field(address, DramField::kChannel), DramField::kRank),
                             DramField::kBankGroup),
                     DramField::kBank);
    }
    uint32_t row(uint64_t address) const { return field(address, DramField::kRow); }
  };
  const AddressLayout& address_layout() const { return layout_; }
  // A standard's layout without building its channels (the analytical model's decode).
  static AddressLayout address_layout_of(const DramParams& params);
  DramAddress decode(uint64_t address) const {  // inline: per burst, in the DMA
    DramAddress a;
    a.channel = layout_.field(address, DramField::kChannel);
    a.request.rank = layout_.field(address, DramField::kRank);
    a.request.bank_group = layout_.field(address, DramField::kBankGroup);
    a.request.bank = layout_.field(address, DramField::kBank);
    a.request.row = layout_.row(address);
    return a;
  }
  uint64_t capacity_bytes() const;
  uint64_t to_dram_cycle(Cycles accelerator_cycle) const;  // the first DRAM cycle at or after
  Cycles to_accelerator_cycle(uint64_t dram_cycle) const;  // the cycle in which it ends

 private:
  DramParams params_;
  ZeroPages data_;
  uint64_t unbacked_bytes_ = 0;
  std::vector<DramStats> stats_;
  std::vector<DramChannel> channels_;
  std::vector<uint64_t> done_dram_, admitted_dram_;
  bool record_admissions_ = false;  // this issue_in_order's: serve() reports admissions
  Timeline* timeline_ = nullptr;
  std::vector<std::vector<BankChange>> bank_logs_;  // per channel, while a timeline records
  void forward_bank_changes();
  // Accelerator cycles per DRAM cycle, as a reduced fraction (to_accelerator_cycle()).
  struct ClockRatio {
    uint64_t num = 1, den = 1;
    int den_shift = -1;     // log2(den) if den is a power of two
    uint64_t max_fast = 0;  // the largest DRAM cycle whose product fits 64 bits
  } acc_per_dram_;
  AddressLayout layout_;

  // Repeated streams: a stretch is `period_` consecutive bursts (every combination of the
  // fields below the column); requests whose addresses agree on the layout's same_row_mask go
  // to the same row.
  struct Checkpoint {
    bool valid = false;
    size_t request = 0;
    uint64_t t = 0;
    uint32_t in_cycle = 0;
    std::vector<uint64_t> now, admissions;
    std::vector<uint64_t> queue_shape;
  };
  bool repeat_streams_ = true;
  uint64_t period_ = 1;
  uint64_t repeated_requests_ = 0;
  Checkpoint last_;  // the previous stretch boundary
  Checkpoint base_;  // with snapshots: the boundary a repeat starts from
  std::vector<DramChannel::Snapshot> base_snapshots_, now_snapshots_;
  DramStats base_stats_;
  std::vector<uint64_t> issued_, still_queued_;  // repeat()'s
  // At a stretch boundary (before request i): takes snapshots when the stream looks settled,
  // and repeats stretches when they show it is; returns the requests repeated (t moves on).
  template <class Request>
  size_t repeat_stretches(size_t i, size_t count, uint64_t& t, uint32_t in_cycle,
                          const Request& request, DramStats& stats);
  template <class Request>
  uint64_t stretches_to_repeat(size_t i, size_t count, uint64_t t, uint64_t delta,
                               const Request& request, const DramStats& stats) const;
  // Repeats the stretch from base_ to request i `times` more (its snapshots in base_snapshots_
  // and now_snapshots_): counts, done and admission cycles, and the channels' state.
  void repeat(size_t i, uint64_t times, uint64_t delta, DramStats& stats);
  void mark(Checkpoint& c, size_t i, uint64_t t, uint32_t in_cycle) const;

  // Admits requests in order (at most one per channel per DRAM cycle, none before
  // earliest(i)) and drains every channel; done_dram_[i] (and, when `record_admissions`,
  // admitted_dram_[i]) then hold request i's cycles.
  template <class Request>
  void issue_in_order(size_t count, const Request& request, DramStats& stats,
                      bool record_admissions);
  // Reads or writes burst i at address_of(i), i < count, from accelerator cycle `start`;
  // done_dram_ then holds their done cycles. Counts into `layer`.
  template <class Address>
  void transfer_bursts(size_t count, const Address& address_of, bool write, Cycles start,
                       uint32_t layer);
};

// Parses "ro,ra,bg,ba,ch,co" (most significant first); throws std::invalid_argument naming a
// missing, repeated or unknown field.
std::vector<DramField> parse_dram_mapping(const std::string& text);

}  // namespace nmp::hw
