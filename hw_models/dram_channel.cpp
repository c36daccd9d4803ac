#include "hw_models/dram_channel.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace nmp::hw {
namespace {

constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();
constexpr uint32_t kBusTurnaround = 2;  // cycles between read data and write data on the bus

}  // namespace

void DramStats::visit(const CounterFn& fn) const {
  fn({"read_bytes", "bytes", "bytes read over the DRAM channels (whole bursts)", "dram.read_byte"},
     read_bytes);
  fn({"write_bytes", "bytes", "bytes written over the DRAM channels (whole bursts)",
      "dram.write_byte"},
     write_bytes);
  fn({"useful_bytes", "bytes", "bytes the DMA transfers asked for", ""}, useful_bytes);
  fn({"act", "commands", "ACTIVATE commands (with their PRECHARGE: energy IDD0 - background)",
      "dram.act"},
     act);
  fn({"pre", "commands", "PRECHARGE commands, explicit or automatic (priced with ACT)", ""}, pre);
  fn({"rd", "commands", "READ bursts", "dram.rd"}, rd);
  fn({"wr", "commands", "WRITE bursts", "dram.wr"}, wr);
  fn({"ref", "commands", "all-bank REFRESH commands", "dram.ref"}, ref);
  fn({"row_hits", "requests",
      "requests served from a row already open for another (no ACT of their own)", ""},
     row_hits);
  fn({"row_misses", "requests", "requests that opened a closed bank with an ACT of their own", ""},
     row_misses);
  fn({"row_conflicts", "requests",
      "requests that closed another row (PRE) and opened their own (ACT)", ""},
     row_conflicts);
  fn({"active_cycles", "rank-cycles", "DRAM-clock cycles of each rank with a row open",
      "dram.active_cycle"},
     active_cycles);
  fn({"precharged_cycles", "rank-cycles", "DRAM-clock cycles of each rank with every bank closed",
      "dram.precharged_cycle"},
     precharged_cycles);
}

DramChannel::DramChannel(const DramDevice& device, PagePolicy policy, uint32_t queue_depth)
    : device_(device),
      t_(device.timing),
      policy_(policy),
      queue_depth_(queue_depth),
      banks_per_group_(device.org.banks_per_group) {
  ranks_.resize(device_.org.ranks);
  for (uint32_t r = 0; r < ranks_.size(); ++r) {
    Rank& rank = ranks_[r];
    rank.banks.resize(device_.banks_per_rank());
    rank.group_last_act.assign(device_.org.bank_groups, 0);
    rank.group_last_col.assign(device_.org.bank_groups, 0);
    rank.group_wr_data_end.assign(device_.org.bank_groups, 0);
    // Ranks refresh staggered, evenly spread over tREFI.
    rank.refresh_due = t_.refi * (r + 1) / ranks_.size();
  }
}

void DramChannel::account(uint32_t rank, uint64_t until) {
  Rank& r = ranks_[rank];
  if (until <= r.accounted_until) return;
  (r.open_banks > 0 ? stats_->active_cycles : stats_->precharged_cycles) +=
      until - r.accounted_until;
  r.accounted_until = until;
}

void DramChannel::settle_closes(uint32_t rank, uint64_t until) {
  // Automatic precharges scheduled at future cycles close their banks when time reaches them.
  Rank& r = ranks_[rank];
  for (;;) {
    uint64_t first = kNever;
    Bank* which = nullptr;
    for (Bank& b : r.banks) {
      if (b.closing && b.close_at <= until && b.close_at < first) {
        first = b.close_at;
        which = &b;
      }
    }
    if (!which) break;
    account(rank, first);
    which->closing = false;
    --r.open_banks;
  }
  account(rank, until);
}

void DramChannel::open_bank(uint32_t rank, uint64_t at) {
  settle_closes(rank, at);
  ++ranks_[rank].open_banks;
}

void DramChannel::close_bank(uint32_t rank, uint64_t at) {
  settle_closes(rank, at);
  --ranks_[rank].open_banks;
}

uint64_t DramChannel::pre_ready(const Bank& b) const { return b.next_pre; }

uint64_t DramChannel::act_ready(const Entry& e) const {
  const Rank& r = ranks_[e.r.rank];
  const Bank& b = r.banks[e.flat_bank];
  return std::max({b.next_act, r.refresh_busy_until, after(r.last_act, t_.rrd_s),
                   after(r.group_last_act[e.r.bank_group], t_.rrd_l),
                   after(r.act_window[r.act_window_next], t_.faw)});  // the 4th-last ACT
}

uint64_t DramChannel::column_ready(const Entry& e) const {
  const Rank& r = ranks_[e.r.rank];
  const Bank& b = r.banks[e.flat_bank];
  const bool write = e.r.write;
  uint64_t t = std::max({b.act_at + (write ? t_.rcd_wr : t_.rcd_rd), after(r.last_col, t_.ccd_s),
                         after(r.group_last_col[e.r.bank_group], t_.ccd_l)});
  if (!write) {
    t = std::max(
        {t, after(r.wr_data_end, t_.wtr_s), after(r.group_wr_data_end[e.r.bank_group], t_.wtr_l)});
  }
  // The data bus: this burst's data may start once the previous burst's has ended, plus a
  // turnaround for a change of direction and tRTRS for a change of rank.
  const uint32_t latency = write ? t_.cwl : t_.cl;
  uint64_t bus = bus_free_;
  if (bus > 0 && bus_last_write_ != write) bus += kBusTurnaround;
  if (bus > 0 && bus_last_rank_ != e.r.rank) bus += t_.rtrs;
  if (bus > latency) t = std::max(t, bus - latency);
  return t;
}

bool DramChannel::row_wanted(const DramRequest& r) const {
  return ranks_[r.rank].banks[flat(r)].queued_hits > 0;
}

void DramChannel::issue_act(const Entry& e) {
  Rank& r = ranks_[e.r.rank];
  Bank& b = r.banks[e.flat_bank];
  open_bank(e.r.rank, now_);
  b.open_row = e.r.row;
  b.opened_for = e.seq;
  b.opened_after_conflict = e.forced_pre;
  b.queued_hits = 0;
  for (const Entry& q : queue_) {
    b.queued_hits += q.r.rank == e.r.rank && q.flat_bank == e.flat_bank && q.r.row == e.r.row;
  }
  b.act_at = now_;
  b.next_act = now_ + t_.rc;
  b.next_pre = now_ + t_.ras;
  r.last_act = stamp();
  r.group_last_act[e.r.bank_group] = stamp();
  r.act_window[r.act_window_next] = stamp();
  r.act_window_next = (r.act_window_next + 1) % 4;
  ++stats_->act;
}

void DramChannel::issue_pre(uint32_t rank, uint32_t flat_bank, uint64_t at) {
  Bank& b = ranks_[rank].banks[flat_bank];
  close_bank(rank, at);
  b.open_row = -1;
  b.queued_hits = 0;
  b.next_act = std::max(b.next_act, at + t_.rp);
  ++stats_->pre;
}

void DramChannel::issue_column(size_t index) {
  const Entry e = queue_[index];
  Rank& r = ranks_[e.r.rank];
  Bank& b = r.banks[e.flat_bank];
  const bool write = e.r.write;
  const uint64_t data_start = now_ + (write ? t_.cwl : t_.cl);
  const uint64_t data_end = data_start + t_.burst_cycles;
  r.last_col = stamp();
  r.group_last_col[e.r.bank_group] = stamp();
  bus_free_ = data_end;
  bus_last_write_ = write;
  bus_last_rank_ = e.r.rank;
  if (write) {
    r.wr_data_end = data_end + kLongAgo;
    r.group_wr_data_end[e.r.bank_group] = data_end + kLongAgo;
    b.next_pre = std::max(b.next_pre, data_end + t_.wr);
    ++stats_->wr;
  } else {
    b.next_pre = std::max(b.next_pre, now_ + t_.rtp);
    ++stats_->rd;
  }
  if (b.opened_for != e.seq) {
    ++stats_->row_hits;
  } else {
    ++(b.opened_after_conflict ? stats_->row_conflicts : stats_->row_misses);
  }
  if (done_) (*done_)[e.r.id] = data_end;
  queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(index));
  --b.queued_hits;
  if (policy_ == PagePolicy::kClosed && !row_wanted(e.r)) {
    // Auto-precharge: no command slot; the bank closes when tRAS/tRTP/tWR allow.
    b.closing = true;
    b.close_at = b.next_pre;
    b.open_row = -1;
    b.queued_hits = 0;
    b.next_act = std::max(b.next_act, b.close_at + t_.rp);
    ++stats_->pre;
  }
}

bool DramChannel::refresh(uint32_t rank) {
  Rank& r = ranks_[rank];
  if (now_ < r.refresh_due) return false;
  // Precharge every open bank as soon as each may, then refresh: the rank's part of the
  // channel's command slots, issued back to back.
  uint64_t t = now_;
  for (uint32_t i = 0; i < r.banks.size(); ++i) {
    Bank& b = r.banks[i];
    if (b.open_row < 0) continue;
    t = std::max(t, pre_ready(b));
    issue_pre(rank, i, t);
    ++t;
  }
  // REF needs tRP after every precharge (automatic ones included) and tRC after every ACT:
  // both are in the banks' next ACT cycles.
  uint64_t ready = t;
  for (const Bank& b : r.banks) ready = std::max(ready, b.next_act);
  settle_closes(rank, ready);
  r.refresh_busy_until = ready + t_.rfc;
  for (Bank& b : r.banks) b.next_act = std::max(b.next_act, r.refresh_busy_until);
  r.refresh_due += t_.refi;
  ++stats_->ref;
  now_ = ready + 1;
  return true;
}

bool DramChannel::step(uint64_t limit) {
  for (uint32_t r = 0; r < ranks_.size(); ++r) {
    if (refresh(r)) return true;
  }
  if (queue_.empty()) return false;
  uint64_t next = kNever;
  for (const Rank& r : ranks_) next = std::min(next, r.refresh_due);
  // Row hits first, oldest first.
  for (size_t i = 0; i < queue_.size(); ++i) {
    const Entry& e = queue_[i];
    const Bank& b = ranks_[e.r.rank].banks[e.flat_bank];
    if (b.open_row != static_cast<int64_t>(e.r.row)) continue;
    const uint64_t ready = column_ready(e);
    if (ready <= now_) {
      issue_column(i);
      ++now_;
      return true;
    }
    next = std::min(next, ready);
  }
  // Then the oldest request that can move its bank: ACT a closed bank, PRE a conflicting row.
  for (size_t i = 0; i < queue_.size(); ++i) {
    Entry& e = queue_[i];
    const Bank& b = ranks_[e.r.rank].banks[e.flat_bank];
    if (b.open_row < 0) {
      const uint64_t ready = act_ready(e);
      if (ready <= now_) {
        issue_act(e);
        ++now_;
        return true;
      }
      next = std::min(next, ready);
    } else if (b.open_row != static_cast<int64_t>(e.r.row) && !row_wanted(e.r)) {
      const uint64_t ready = pre_ready(b);
      if (ready <= now_) {
        issue_pre(e.r.rank, e.flat_bank, now_);
        e.forced_pre = true;
        ++now_;
        return true;
      }
      next = std::min(next, ready);
    }
  }
  if (next == kNever) throw std::logic_error("DRAM channel: queued requests can never issue");
  now_ = std::max(now_ + 1, std::min(next, limit));
  return true;
}

uint64_t DramChannel::admit(const DramRequest& request, uint64_t earliest) {
  while (now_ < earliest && !queue_.empty()) step(earliest);
  if (now_ < earliest) idle_until(earliest);
  while (queue_.size() >= queue_depth_) step(kNever);
  queue_.push_back({request, flat(request), next_seq_++, false});
  Bank& bank = ranks_[request.rank].banks[flat(request)];
  bank.queued_hits += bank.open_row == static_cast<int64_t>(request.row);
  return now_;
}

void DramChannel::drain() {
  while (!queue_.empty()) step(kNever);
}

void DramChannel::idle_until(uint64_t t) {
  // Refreshes fall due while idle: the first closes the open rows; later ones refresh closed
  // banks, counted in closed form.
  for (uint32_t ri = 0; ri < ranks_.size(); ++ri) {
    Rank& r = ranks_[ri];
    if (r.refresh_due < t) {
      const uint64_t saved = now_;
      now_ = std::max(now_, r.refresh_due);
      refresh(ri);
      now_ = saved;
      if (r.refresh_due < t) {
        const uint64_t more = (t - r.refresh_due + t_.refi - 1) / t_.refi;
        const uint64_t last_ref = r.refresh_due + (more - 1) * t_.refi;
        stats_->ref += more;
        r.refresh_due += more * t_.refi;
        r.refresh_busy_until = last_ref + t_.rfc;
        for (Bank& b : r.banks) b.next_act = std::max(b.next_act, r.refresh_busy_until);
      }
    }
    settle_closes(ri, t);
  }
  now_ = std::max(now_, t);
}

}  // namespace nmp::hw
