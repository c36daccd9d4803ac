// One DRAM channel: its ranks and banks, their row buffers and timing state, all-bank refresh,
// and a controller with a transaction queue of `queue_depth` entries scheduled first-ready,
// first-come-first-served (FR-FCFS): each DRAM cycle the channel issues at most one command:
// the oldest queued request whose column command (RD/WR to its open row) may issue now; else
// the oldest request whose ACT (bank closed) or PRE (another row open, and no queued request
// hits it) may issue now. Open-page policy leaves rows open; closed-page precharges a row
// (auto-precharge) once no queued request hits it.
//
// Timing rules (cycles of the DRAM clock; t the command's cycle):
//   ACT   bank closed; t >= PRE + tRP, previous ACT + tRC (bank); previous ACT + tRRD_L (same
//         bank group) / tRRD_S (rank); at most 4 ACTs per tFAW (rank); not refreshing.
//   RD    row open; t >= ACT + tRCD_RD; previous RD/WR + tCCD_L (same group) / tCCD_S;
//         write data end + tWTR_L / tWTR_S; data t + CL .. t + CL + burst on a free data bus.
//   WR    row open; t >= ACT + tRCD_WR; tCCD as RD; data t + CWL .. + burst, 2 cycles after
//         read data (turnaround).
//   PRE   t >= ACT + tRAS, RD + tRTP, WR data end + tWR.
//   REF   every tREFI per rank: every bank precharged (PREs issued as allowed), then tRFC with
//         no ACT to the rank.
// A rank switch on the data bus costs tRTRS. A read is done when its data has crossed the bus
// (RD + CL + burst), a write when its data has (WR + CWL + burst).
//
// Abstracted: power-down and self-refresh, per-bank refresh, command/address bus conflicts
// beyond one command per cycle, write buffering beyond the queue (writes are scheduled like
// reads), data-bus inversion and ECC.
//
// Example:
//   DramChannel ch(device, params, layer_stats);
//   const uint64_t admitted = ch.admit({bank, row, column, false, id}, earliest);
//   ch.drain();   // every admitted request done; done_at(id) gives its cycle
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include "hw_models/counters.hpp"
#include "hw_models/dram_standard.hpp"

namespace nmp::hw {

enum class PagePolicy : uint8_t { kOpen, kClosed };
inline constexpr size_t kNumPagePolicies = 2;
const char* to_string(PagePolicy p);  // open, closed

// Counters of the DRAM (every channel), per layer.
struct DramStats {
  uint64_t read_bytes = 0;    // channel bytes, whole bursts
  uint64_t write_bytes = 0;   // channel bytes, whole bursts
  uint64_t useful_bytes = 0;  // bytes the transfers asked for
  uint64_t act = 0, pre = 0, rd = 0, wr = 0, ref = 0;
  uint64_t row_hits = 0, row_misses = 0, row_conflicts = 0;
  uint64_t active_cycles = 0;      // rank-cycles with a bank open (DRAM clock)
  uint64_t precharged_cycles = 0;  // rank-cycles with every bank closed
  void visit(const CounterFn& fn) const;
  // Adds `times` x (to - from): the counts of a stretch that repeats (Dram's repeated streams).
  void add_repeats(const DramStats& from, const DramStats& to, uint64_t times);
};

// A request as the channel sees it: its place in the channel's banks.
struct DramRequest {
  uint32_t rank = 0, bank_group = 0, bank = 0;  // bank within its group
  uint32_t row = 0;
  bool write = false;
  uint64_t id = 0;  // the caller's index for done times
};

// A bank's change of state at a DRAM cycle, for waveforms (nothing reads it back).
struct BankChange {
  enum State : uint8_t { kClosed, kOpen, kRefreshing };
  uint64_t at = 0;    // DRAM cycle
  uint32_t bank = 0;  // rank x banks per rank + bank group x banks per group + bank
  State state = kClosed;
  uint32_t row = 0;  // kOpen: the row
};

class DramChannel {
 public:
  // `stats` receives every count; set_layer() switches it to another layer's.
  DramChannel(const DramDevice& device, PagePolicy policy, uint32_t queue_depth);

  void set_stats(DramStats* stats) { stats_ = stats; }
  // Admits a request at the first cycle >= `earliest` when the queue has room, running the
  // channel up to it; returns that cycle.
  uint64_t admit(const DramRequest& request, uint64_t earliest);
  // Runs until every admitted request is done.
  void drain();
  // Accounts the background (and refresh) of an idle channel up to cycle `t`.
  void idle_until(uint64_t t);
  // Done cycle of request `id` (valid once drained). The caller sizes the table.
  void set_done_table(std::vector<uint64_t>* done) { done_ = done; }
  uint64_t now() const { return now_; }
  // Appends every bank's change of state to `log` (nullptr: none), up to `limit` entries
  // (bank_log_full() then says so); the changes come in the order the channel decides them,
  // which is not always the order of their cycles.
  void set_bank_log(std::vector<BankChange>* log, size_t limit) {
    bank_log_ = log;
    bank_log_limit_ = limit;
  }
  bool bank_log_full() const { return bank_log_ && bank_log_->size() >= bank_log_limit_; }
  // Off: every command is chosen by the full FR-FCFS scan (for the test that the fast path for
  // row-hit streams decides exactly as the scan does).
  void set_fast_path(bool on) {
    fast_path_ = on;
    front_ready_valid_ = false;
  }

  // Streams that repeat (Dram::issue_in_order()). A snapshot holds what decides the channel's
  // future, every cycle relative to now() and every request relative to the next one to come
  // (`next_request`), with the cycles that no constraint can reach any more read as past: two
  // snapshots with equal fingerprints behave alike, the later one shifted in time. Refresh
  // times and background accounting are kept apart: a refresh is absolute, and a repeat must
  // not reach one.
  struct Snapshot {
    std::vector<int64_t> fingerprint;
    uint64_t now = 0, admissions = 0;
    bool hits_only = false;  // every queued request hits its bank's open row
    std::vector<uint64_t> refresh_due, accounted_until;  // per rank
    std::vector<uint64_t> queued_ids;
  };
  void snapshot(uint64_t next_request, Snapshot& s) const;
  // True if `later` is `earlier` moved on by `cycles`, with no refresh between.
  static bool repeats(const Snapshot& earlier, const Snapshot& later, uint64_t cycles);
  // The last cycle up to which the channel may run repeated stretches: far enough before the
  // next refresh that no constraint reaches it. `hits_only`: stretches with no ACT or PRE
  // whose queue holds only row hits throughout, where only column constraints (and no ACT's
  // or PRE's) can reach ahead.
  uint64_t repeat_limit(bool hits_only) const;
  // Moves the channel, now in state `later`, on as if the stretch from `earlier` ran `times`
  // more: cycles, admissions, request ids (`requests` per stretch) and background accounting.
  void repeat(const Snapshot& earlier, const Snapshot& later, uint64_t times, uint64_t requests);
  uint64_t admissions() const { return next_seq_; }
  // A cheap digest of the queue (its length, its oldest and newest requests' banks and rows,
  // and the oldest one's bank's queued hits): unchanged over a stretch when the stream has
  // settled, before the dearer snapshots are worth taking.
  uint64_t queue_shape() const;

 private:
  struct Bank {
    int64_t open_row = -1;
    uint32_t queued_hits = 0;  // queued requests to the open row
    // The request whose ACT opened the row, and whether it first closed another row: it is a
    // miss (or conflict); every other request served from the row is a hit.
    uint64_t opened_for = std::numeric_limits<uint64_t>::max();
    bool opened_after_conflict = false;
    uint64_t act_at = 0;    // last ACT
    uint64_t next_act = 0;  // from tRP, tRC
    uint64_t next_pre = 0;  // from tRAS, tRTP, tWR
    uint64_t close_at = 0;  // when open_row >= 0 and a PRE is scheduled (closed page)
    bool closing = false;
  };
  struct Rank {
    std::vector<Bank> banks;
    // Cycles of past commands plus kLongAgo (0: never), so that every "at least this long
    // after" constraint holds from cycle 0 before the first command (DramChannel::after()).
    std::array<uint64_t, 4> act_window{};  // the last 4 ACTs (tFAW), the oldest next
    uint32_t act_window_next = 0;
    std::vector<uint64_t> group_last_act;  // per bank group
    uint64_t last_act = 0;
    std::vector<uint64_t> group_last_col;  // per bank group, RD or WR
    uint64_t last_col = 0;
    std::vector<uint64_t> group_wr_data_end;  // per bank group
    uint64_t wr_data_end = 0;
    uint64_t refresh_due = 0;
    uint64_t refresh_busy_until = 0;
    // Background accounting: banks open, since when.
    uint32_t open_banks = 0;
    uint64_t accounted_until = 0;
  };
  struct Entry {
    DramRequest r;
    uint32_t flat_bank = 0;
    uint64_t seq = 0;         // admission order, unique
    bool forced_pre = false;  // a PRE closed another row for it
  };
  // The transaction queue, oldest first: a ring of fixed capacity (a deque's segment lookups
  // cost more than the rest of a row-hit step).
  class EntryQueue {
   public:
    explicit EntryQueue(uint32_t depth);
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    Entry& operator[](size_t i) { return slots_[(head_ + i) & mask_]; }
    const Entry& operator[](size_t i) const { return slots_[(head_ + i) & mask_]; }
    const Entry& front() const { return slots_[head_]; }
    Entry& push_back() { return slots_[(head_ + size_++) & mask_]; }  // the new last entry
    void pop_front() {
      head_ = (head_ + 1) & mask_;
      --size_;
    }
    void erase(size_t index);  // the later entries move up one place

   private:
    std::vector<Entry> slots_;
    size_t mask_ = 0, head_ = 0, size_ = 0;
  };

  static constexpr uint64_t kLongAgo = uint64_t{1} << 32;
  // The earliest cycle a constraint of `gap` after a stored (shifted) cycle allows.
  static uint64_t after(uint64_t stored, uint64_t gap) {
    return stored + gap > kLongAgo ? stored + gap - kLongAgo : 0;
  }
  uint64_t stamp() const { return now_ + kLongAgo; }
  uint32_t flat(const DramRequest& r) const { return r.bank_group * banks_per_group_ + r.bank; }
  Bank& bank_of(const DramRequest& r) { return ranks_[r.rank].banks[flat(r)]; }
  // One scheduling step at now_: issues a command if one may issue, else jumps now_ to the
  // next cycle where one may (or to `limit`). Returns false if nothing is queued.
  bool step(uint64_t limit);
  uint64_t column_ready(const Entry& e) const;
  // A column command's earliest cycle from its rank, bank group and the bus (not its bank).
  uint64_t group_column_ready(uint32_t rank, uint32_t group, bool write) const;
  // The cycle the oldest request's column command issues, if a row-hit stream decides it
  // without a scan; else kNever.
  // Cached between the commands that change it (and admissions that may).
  uint64_t stream_front_ready();
  uint64_t compute_stream_front_ready() const;
  void set_queued_hits(Bank& b, uint32_t hits);
  // group_column_ready(), computed once per scan (nothing it reads changes within one).
  uint64_t cached_group_ready(uint32_t rank, uint32_t group, bool write);
  // ACT for queue_[index]'s closed bank, or PRE of the other row open in it.
  void move(size_t index);
  // The earliest cycle of that ACT or PRE (kNever for a row hit, or a row still wanted).
  uint64_t move_ready(const Entry& e) const;
  // The earliest move_ready() over the queue, cached: no cycle it depends on changes except
  // by an ACT, PRE, refresh, or a row's last queued hit, which clear the cache.
  uint64_t movers_ready();
  // True if the cached cycles show that no command can issue before cycle `t`.
  bool quiet_until(uint64_t t) const;
  uint64_t act_ready(const Entry& e) const;
  uint64_t pre_ready(const Bank& b) const;
  bool row_wanted(const DramRequest& r) const;
  void issue_column(size_t index);
  void issue_act(const Entry& e);
  void issue_pre(uint32_t rank, uint32_t flat_bank, uint64_t at);
  void open_bank(uint32_t rank, uint64_t at);
  void close_bank(uint32_t rank, uint64_t at);
  void account(uint32_t rank, uint64_t until);
  void settle_closes(uint32_t rank, uint64_t until);
  // Refreshes rank `r` if due by now_; returns true if it issued a command.
  bool refresh(uint32_t r);

  const DramDevice device_;
  DramTiming t_;  // a copy: channels move when their vector grows
  PagePolicy policy_;
  uint32_t queue_depth_;
  uint32_t banks_per_group_;
  uint32_t groups_;
  // More cycles than any chain of constraints reaches past the command that starts it (tRFC
  // apart: a repeated stretch holds no refresh, and starts after the last one has ended).
  uint64_t horizon_;
  uint64_t column_horizon_;  // the same for column commands alone
  bool fast_path_ = true;
  std::vector<Rank> ranks_;
  EntryQueue queue_;
  // Queue composition, kept as requests come and go, for the row-hit stream fast path.
  uint64_t queued_hit_total_ = 0;  // sum of the banks' queued_hits
  uint64_t queued_writes_ = 0;
  std::vector<uint32_t> rank_queued_;
  std::vector<uint32_t> group_queued_;                                // per rank and bank group
  std::vector<uint64_t> group_ready_cache_, group_ready_generation_;  // per rank, group, write
  uint64_t scan_generation_ = 0;
  uint64_t movers_ready_ = 0;
  bool movers_valid_ = false;
  uint64_t front_ready_ = 0;
  bool front_ready_valid_ = false;
  uint64_t now_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t bus_free_ = 0;  // first cycle the data bus is free
  bool bus_last_write_ = false;
  uint32_t bus_last_rank_ = 0;
  DramStats* stats_ = nullptr;
  std::vector<uint64_t>* done_ = nullptr;
  std::vector<BankChange>* bank_log_ = nullptr;
  size_t bank_log_limit_ = 0;
  void log_bank(uint64_t at, uint32_t rank, uint32_t flat_bank, BankChange::State state,
                uint32_t row = 0);
  void log_rank(uint64_t at, uint32_t rank, BankChange::State state);
};

}  // namespace nmp::hw
