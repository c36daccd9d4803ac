#include "hw_models/dram_channel.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <utility>

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

void DramStats::add_repeats(const DramStats& from, const DramStats& to, uint64_t times) {
  // Every field visit() lists (the repeated-stream test compares them all).
  auto add = [&](uint64_t DramStats::*field) { this->*field += (to.*field - from.*field) * times; };
  for (auto field :
       {&DramStats::read_bytes, &DramStats::write_bytes, &DramStats::useful_bytes, &DramStats::act,
        &DramStats::pre, &DramStats::rd, &DramStats::wr, &DramStats::ref, &DramStats::row_hits,
        &DramStats::row_misses, &DramStats::row_conflicts, &DramStats::active_cycles,
        &DramStats::precharged_cycles}) {
    add(field);
  }
}

const char* to_string(PagePolicy p) { return p == PagePolicy::kOpen ? "open" : "closed"; }

DramChannel::DramChannel(const DramDevice& device, PagePolicy policy, uint32_t queue_depth)
    : device_(device),
      t_(device.timing),
      policy_(policy),
      queue_depth_(queue_depth),
      banks_per_group_(device.org.banks_per_group),
      groups_(device.org.bank_groups),
      horizon_(uint64_t{t_.burst_cycles} + t_.cl + t_.cwl + t_.rcd_rd + t_.rcd_wr + t_.rp + t_.ras +
               t_.rc + t_.rrd_s + t_.rrd_l + t_.faw + t_.ccd_s + t_.ccd_l + t_.wtr_s + t_.wtr_l +
               t_.wr + t_.rtp + t_.rtrs + kBusTurnaround),
      column_horizon_(uint64_t{t_.burst_cycles} + t_.cl + t_.cwl + t_.ccd_s + t_.ccd_l + t_.wtr_s +
                      t_.wtr_l + t_.wr + t_.rtp + t_.rtrs + kBusTurnaround),
      queue_(queue_depth) {
  ranks_.resize(device_.org.ranks);
  rank_queued_.assign(device_.org.ranks, 0);
  group_queued_.assign(size_t{device_.org.ranks} * groups_, 0);
  group_ready_cache_.assign(group_queued_.size() * 2, 0);
  group_ready_generation_.assign(group_queued_.size() * 2, 0);
  for (uint32_t r = 0; r < ranks_.size(); ++r) {
    Rank& rank = ranks_[r];
    rank.banks.resize(device_.banks_per_rank());
    rank.group_last_act.assign(device_.org.bank_groups, 0);
    rank.group_last_col.assign(device_.org.bank_groups, 0);
    rank.group_wr_data_end.assign(device_.org.bank_groups, 0);
    // Ranks refresh staggered, evenly spread over tREFI.
    rank.refresh_due = uint64_t{t_.refi} * (r + 1) / ranks_.size();
  }
}

DramChannel::EntryQueue::EntryQueue(uint32_t depth) {
  size_t capacity = 1;
  while (capacity < depth) capacity *= 2;
  slots_.resize(capacity);
  mask_ = capacity - 1;
}

void DramChannel::EntryQueue::erase(size_t index) {
  for (size_t i = index; i + 1 < size_; ++i) (*this)[i] = (*this)[i + 1];
  --size_;
}

void DramChannel::log_bank(uint64_t at, uint32_t rank, uint32_t flat_bank, BankChange::State state,
                           uint32_t row) {
  if (!bank_log_ || bank_log_->size() >= bank_log_limit_) return;
  BankChange& c = bank_log_->emplace_back();
  c.at = at;
  c.bank = rank * device_.banks_per_rank() + flat_bank;
  c.state = state;
  c.row = row;
}

void DramChannel::log_rank(uint64_t at, uint32_t rank, BankChange::State state) {
  for (uint32_t b = 0; bank_log_ && b < device_.banks_per_rank(); ++b) log_bank(at, rank, b, state);
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
  const Bank& b = ranks_[e.r.rank].banks[e.flat_bank];
  return std::max(b.act_at + (e.r.write ? t_.rcd_wr : t_.rcd_rd),
                  group_column_ready(e.r.rank, e.r.bank_group, e.r.write));
}

uint64_t DramChannel::group_column_ready(uint32_t rank, uint32_t group, bool write) const {
  const Rank& r = ranks_[rank];
  uint64_t t = std::max(after(r.last_col, t_.ccd_s), after(r.group_last_col[group], t_.ccd_l));
  if (!write) {
    t = std::max({t, after(r.wr_data_end, t_.wtr_s), after(r.group_wr_data_end[group], t_.wtr_l)});
  }
  // The data bus: this burst's data may start once the previous burst's has ended, plus a
  // turnaround for a change of direction and tRTRS for a change of rank.
  const uint32_t latency = write ? t_.cwl : t_.cl;
  uint64_t bus = bus_free_;
  if (bus > 0 && bus_last_write_ != write) bus += kBusTurnaround;
  if (bus > 0 && bus_last_rank_ != rank) bus += t_.rtrs;
  if (bus > latency) t = std::max(t, bus - latency);
  return t;
}

uint64_t DramChannel::stream_front_ready() {
  if (!front_ready_valid_) {
    front_ready_ = compute_stream_front_ready();
    front_ready_valid_ = true;
  }
  return front_ready_;
}

uint64_t DramChannel::compute_stream_front_ready() const {
  // Exact when the oldest queued request is a row hit, every queued request has its direction
  // and rank, the oldest waits on no tRCD of its own bank, and every other bank group with
  // queued requests becomes ready no earlier: then no other row hit is ready before it (step()
  // weighs the requests that want an ACT or PRE). Otherwise kNever: the full scan decides.
  if (!fast_path_ || queue_.empty()) return kNever;
  const Entry& front = queue_.front();
  if (ranks_[front.r.rank].banks[front.flat_bank].open_row != static_cast<int64_t>(front.r.row)) {
    return kNever;
  }
  const bool write = front.r.write;
  if (queued_writes_ != (write ? queue_.size() : 0)) return kNever;
  const uint32_t rank = front.r.rank;
  if (rank_queued_[rank] != queue_.size()) return kNever;
  const uint64_t ready = group_column_ready(rank, front.r.bank_group, write);
  const Rank& r = ranks_[rank];
  if (r.banks[front.flat_bank].act_at + (write ? t_.rcd_wr : t_.rcd_rd) > ready) return kNever;
  // Another group's requests are ready no earlier if their group's own constraints (tCCD_L,
  // tWTR_L) hold them at least as long: the rank's and the bus's are common to all.
  auto own = [&](uint32_t g) {
    const uint64_t t = after(r.group_last_col[g], t_.ccd_l);
    return write ? t : std::max(t, after(r.group_wr_data_end[g], t_.wtr_l));
  };
  const uint64_t front_own = own(front.r.bank_group);
  if (front_own < ready) return ready;  // the common constraints decide for every group
  for (uint32_t g = 0; g < groups_; ++g) {
    if (g != front.r.bank_group && group_queued_[rank * groups_ + g] > 0 && own(g) < front_own) {
      return kNever;
    }
  }
  return ready;
}

void DramChannel::set_queued_hits(Bank& b, uint32_t hits) {
  queued_hit_total_ = queued_hit_total_ - b.queued_hits + hits;
  b.queued_hits = hits;
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
  uint32_t hits = 0;
  for (size_t i = 0; i < queue_.size(); ++i) {
    const Entry& q = queue_[i];
    hits += q.r.rank == e.r.rank && q.flat_bank == e.flat_bank && q.r.row == e.r.row;
  }
  set_queued_hits(b, hits);
  movers_valid_ = front_ready_valid_ = false;
  b.act_at = now_;
  log_bank(now_, e.r.rank, e.flat_bank, BankChange::kOpen, e.r.row);
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
  log_bank(at, rank, flat_bank, BankChange::kClosed);
  b.open_row = -1;
  set_queued_hits(b, 0);
  b.next_act = std::max(b.next_act, at + t_.rp);
  movers_valid_ = front_ready_valid_ = false;
  ++stats_->pre;
}

void DramChannel::issue_column(size_t index) {
  front_ready_valid_ = false;
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
  if (index == 0) {
    queue_.pop_front();
  } else {
    queue_.erase(index);
  }
  set_queued_hits(b, b.queued_hits - 1);
  if (b.queued_hits == 0) movers_valid_ = false;  // a row no longer wanted may be closed
  queued_writes_ -= write;
  --group_queued_[e.r.rank * groups_ + e.r.bank_group];
  --rank_queued_[e.r.rank];
  if (policy_ == PagePolicy::kClosed && !row_wanted(e.r)) {
    // Auto-precharge: no command slot; the bank closes when tRAS/tRTP/tWR allow.
    b.closing = true;
    b.close_at = b.next_pre;
    log_bank(b.close_at, e.r.rank, e.flat_bank, BankChange::kClosed);
    b.open_row = -1;
    set_queued_hits(b, 0);
    b.next_act = std::max(b.next_act, b.close_at + t_.rp);
    movers_valid_ = false;
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
  log_rank(ready, rank, BankChange::kRefreshing);
  log_rank(r.refresh_busy_until, rank, BankChange::kClosed);
  for (Bank& b : r.banks) b.next_act = std::max(b.next_act, r.refresh_busy_until);
  r.refresh_due += t_.refi;
  movers_valid_ = front_ready_valid_ = false;
  ++stats_->ref;
  now_ = ready + 1;
  return true;
}

bool DramChannel::step(uint64_t limit) {
  uint64_t refresh_next = kNever;
  for (uint32_t r = 0; r < ranks_.size(); ++r) {
    if (now_ >= ranks_[r].refresh_due && refresh(r)) return true;
    refresh_next = std::min(refresh_next, ranks_[r].refresh_due);
  }
  if (queue_.empty()) return false;
  if (const uint64_t ready = stream_front_ready(); ready < refresh_next) {
    // The oldest request is the first row hit to become ready; if it is ready now, or no ACT
    // or PRE may issue before it (row hits win ties), nothing else can issue before it: jump
    // there and issue it, as the scans below would after as many idle steps.
    const uint64_t movers = queued_hit_total_ == queue_.size() ? kNever : movers_ready();
    if (ready <= now_ || (movers > now_ && ready <= movers)) {
      if (ready > now_ && ready >= limit) {  // the caller's cycle comes first
        now_ = std::max(now_ + 1, limit);
        return true;
      }
      now_ = std::max(now_, ready);
      issue_column(0);
      ++now_;
      return true;
    }
  }
  ++scan_generation_;
  // Row hits first, oldest first.
  uint64_t hit_next = kNever;
  size_t hit_at = 0;
  for (size_t i = 0; i < queue_.size(); ++i) {
    const Entry& e = queue_[i];
    const Bank& b = ranks_[e.r.rank].banks[e.flat_bank];
    if (b.open_row != static_cast<int64_t>(e.r.row)) continue;
    const uint64_t ready = std::max(b.act_at + (e.r.write ? t_.rcd_wr : t_.rcd_rd),
                                    cached_group_ready(e.r.rank, e.r.bank_group, e.r.write));
    if (ready <= now_) {
      issue_column(i);
      ++now_;
      return true;
    }
    if (ready < hit_next) {
      hit_next = ready;
      hit_at = i;
    }
  }
  // Then the oldest request that can move its bank: ACT a closed bank, PRE a conflicting row.
  uint64_t move_next = kNever;
  size_t move_at = 0;
  for (size_t i = 0; i < queue_.size(); ++i) {
    const uint64_t ready = move_ready(queue_[i]);
    if (ready <= now_) {
      move(i);
      ++now_;
      return true;
    }
    if (ready < move_next) {
      move_next = ready;
      move_at = i;
    }
  }
  const uint64_t next = std::min({hit_next, move_next, refresh_next});
  if (next == kNever) throw std::logic_error("DRAM channel: queued requests can never issue");
  if (next < limit && next < refresh_next) {
    // Nothing changes until `next`: issue there what the next step's scans would choose.
    now_ = next;
    if (hit_next == next) {
      issue_column(hit_at);
    } else {
      move(move_at);
    }
    ++now_;
    return true;
  }
  now_ = std::max(now_ + 1, std::min(next, limit));
  return true;
}

uint64_t DramChannel::move_ready(const Entry& e) const {
  const Bank& b = ranks_[e.r.rank].banks[e.flat_bank];
  if (b.open_row < 0) return act_ready(e);
  if (b.open_row != static_cast<int64_t>(e.r.row) && !row_wanted(e.r)) return pre_ready(b);
  return kNever;
}

uint64_t DramChannel::movers_ready() {
  if (!movers_valid_) {
    movers_ready_ = kNever;
    for (size_t i = 0; i < queue_.size(); ++i) {
      movers_ready_ = std::min(movers_ready_, move_ready(queue_[i]));
    }
    movers_valid_ = true;
  }
  return movers_ready_;
}

void DramChannel::move(size_t index) {
  Entry& e = queue_[index];
  if (ranks_[e.r.rank].banks[e.flat_bank].open_row < 0) {
    issue_act(e);
  } else {
    issue_pre(e.r.rank, e.flat_bank, now_);
    e.forced_pre = true;
  }
}

uint64_t DramChannel::cached_group_ready(uint32_t rank, uint32_t group, bool write) {
  const size_t k = (size_t{rank} * groups_ + group) * 2 + write;
  if (group_ready_generation_[k] != scan_generation_) {
    group_ready_generation_[k] = scan_generation_;
    group_ready_cache_[k] = group_column_ready(rank, group, write);
  }
  return group_ready_cache_[k];
}

bool DramChannel::quiet_until(uint64_t t) const {
  if (!front_ready_valid_ || front_ready_ == kNever || front_ready_ < t) return false;
  if (queued_hit_total_ != queue_.size() && (!movers_valid_ || movers_ready_ < t)) return false;
  for (const Rank& r : ranks_) {
    if (r.refresh_due < t) return false;
  }
  return true;
}

uint64_t DramChannel::admit(const DramRequest& request, uint64_t earliest) {
  while (now_ < earliest && !queue_.empty()) {
    if (quiet_until(earliest)) {
      now_ = earliest;  // what step(earliest) would do, from the cached cycles
      break;
    }
    step(earliest);
  }
  if (now_ < earliest) idle_until(earliest);
  while (queue_.size() >= queue_depth_) step(kNever);
  if (front_ready_valid_ && !queue_.empty() && front_ready_ != kNever) {
    // The stream path's answer stands if the request shares the oldest one's rank and
    // direction (else it has none), and its bank group already has queued requests (the only
    // ones whose readiness it compares; a row hit in one becomes ready no earlier).
    const DramRequest& front = queue_.front().r;
    if (request.rank != front.rank || request.write != front.write) {
      front_ready_ = kNever;
    } else if (group_queued_[request.rank * groups_ + request.bank_group] == 0) {
      front_ready_valid_ = false;
    }
  } else if (queue_.empty()) {
    front_ready_valid_ = false;
  }  // a cached kNever stays: no request makes the oldest a hit, nor mends a mixed queue
  Entry& e = queue_.push_back();  // filled in place: a braced temporary stalls store forwarding
  e.r = request;
  e.flat_bank = flat(request);
  e.seq = next_seq_++;
  e.forced_pre = false;
  Bank& bank = ranks_[request.rank].banks[flat(request)];
  set_queued_hits(bank, bank.queued_hits + (bank.open_row == static_cast<int64_t>(request.row)));
  queued_writes_ += request.write;
  ++group_queued_[request.rank * groups_ + request.bank_group];
  ++rank_queued_[request.rank];
  // A new request can only lower the earliest ACT or PRE (a row hit that makes a row wanted
  // again leaves the cached time early, which only sends step() to the scan).
  if (movers_valid_) movers_ready_ = std::min(movers_ready_, move_ready(e));
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
        for (uint64_t i = 0; bank_log_ && i < more && !bank_log_full(); ++i) {
          log_rank(r.refresh_due + i * t_.refi, ri, BankChange::kRefreshing);
          log_rank(r.refresh_due + i * t_.refi + t_.rfc, ri, BankChange::kClosed);
        }
        stats_->ref += more;
        r.refresh_due += more * t_.refi;
        r.refresh_busy_until = last_ref + t_.rfc;
        for (Bank& b : r.banks) b.next_act = std::max(b.next_act, r.refresh_busy_until);
        movers_valid_ = front_ready_valid_ = false;
      }
    }
    settle_closes(ri, t);
  }
  now_ = std::max(now_, t);
}

}  // namespace nmp::hw

namespace nmp::hw {

uint64_t DramChannel::queue_shape() const {
  if (queue_.empty()) return 0;
  const Entry& front = queue_.front();
  const Entry& back = queue_[queue_.size() - 1];
  uint64_t h = queue_.size();
  for (const uint64_t v : {uint64_t{front.r.rank}, uint64_t{front.flat_bank}, uint64_t{front.r.row},
                           uint64_t{ranks_[front.r.rank].banks[front.flat_bank].queued_hits},
                           uint64_t{back.r.rank}, uint64_t{back.flat_bank}, uint64_t{back.r.row}}) {
    h = h * 0x9E3779B97F4A7C15ull + v;
  }
  return h;
}

void DramChannel::snapshot(uint64_t next_request, Snapshot& s) const {
  constexpr int64_t kPast = std::numeric_limits<int64_t>::min();
  // A cycle whose constraints reach `reach` cycles past it: relative to now_, or past once
  // none of them can bind (every use compares it, plus its gap, with a cycle >= now_).
  auto cycle = [&](uint64_t at, uint64_t reach) {
    return at + reach <= now_ ? kPast : static_cast<int64_t>(at - now_);
  };
  auto stamped = [&](uint64_t stored, uint64_t gap) {
    return stored == 0 ? kPast : cycle(stored - kLongAgo, gap);
  };
  // Sized up front and written through a pointer (appending each value costs twice as much):
  // 1 + 10 per queued request, per rank 7 per bank + 4 (tFAW window) + 3 per bank group + 5,
  // and 3 for the bus; the check at the end keeps the count honest.
  std::vector<int64_t>& f = s.fingerprint;
  f.resize(1 + queue_.size() * 10 +
           ranks_.size() * (device_.banks_per_rank() * 7 + 9 + groups_ * 3) + 3);
  int64_t* out = f.data();
  auto put = [&](int64_t v) { *out++ = v; };
  s.queued_ids.resize(queue_.size());
  put(static_cast<int64_t>(queue_.size()));
  for (size_t i = 0; i < queue_.size(); ++i) {
    const Entry& e = queue_[i];
    const Bank& b = ranks_[e.r.rank].banks[e.flat_bank];
    // opened_for matters only for the queued request it names (issue_column()).
    const bool opened = b.opened_for == e.seq;
    put(e.r.rank);
    put(e.r.bank_group);
    put(e.r.bank);
    put(e.r.row);
    put(e.r.write);
    put(e.forced_pre);
    put(static_cast<int64_t>(next_request - e.r.id));
    put(static_cast<int64_t>(next_seq_ - e.seq));
    put(opened);
    put(opened && b.opened_after_conflict);
    s.queued_ids[i] = e.r.id;
  }
  const uint64_t rcd = std::max(t_.rcd_rd, t_.rcd_wr);
  for (const Rank& r : ranks_) {
    for (const Bank& b : r.banks) {
      put(b.open_row);
      put(b.queued_hits);
      put(cycle(b.act_at, rcd));
      put(cycle(b.next_act, 0));
      put(cycle(b.next_pre, 0));
      put(b.closing);
      put(b.closing ? static_cast<int64_t>(b.close_at - now_) : 0);
    }
    for (uint32_t k = 0; k < 4; ++k)
      put(stamped(r.act_window[(r.act_window_next + k) % 4], t_.faw));
    for (uint32_t g = 0; g < groups_; ++g) {
      put(stamped(r.group_last_act[g], t_.rrd_l));
      put(stamped(r.group_last_col[g], t_.ccd_l));
      put(stamped(r.group_wr_data_end[g], t_.wtr_l));
    }
    put(stamped(r.last_act, t_.rrd_s));
    put(stamped(r.last_col, t_.ccd_s));
    put(stamped(r.wr_data_end, t_.wtr_s));
    put(cycle(r.refresh_busy_until, 0));
    put(r.open_banks);
  }
  const int64_t bus = bus_free_ == 0 ? kPast : cycle(bus_free_, kBusTurnaround + t_.rtrs);
  put(bus);
  put(bus != kPast && bus_last_write_);
  put(bus != kPast ? bus_last_rank_ : 0);
  if (out != f.data() + f.size()) throw std::logic_error("DRAM snapshot: field count mismatch");
  s.now = now_;
  s.admissions = next_seq_;
  s.hits_only = queued_hit_total_ == queue_.size();
  s.refresh_due.resize(ranks_.size());
  s.accounted_until.resize(ranks_.size());
  for (size_t r = 0; r < ranks_.size(); ++r) {
    s.refresh_due[r] = ranks_[r].refresh_due;
    s.accounted_until[r] = ranks_[r].accounted_until;
  }
}

bool DramChannel::repeats(const Snapshot& earlier, const Snapshot& later, uint64_t cycles) {
  if (later.now - earlier.now != cycles || later.refresh_due != earlier.refresh_due ||
      later.fingerprint != earlier.fingerprint) {
    return false;
  }
  // Background accounting either stood still or followed the clock.
  for (size_t r = 0; r < later.accounted_until.size(); ++r) {
    const uint64_t moved = later.accounted_until[r] - earlier.accounted_until[r];
    if (moved != 0 && moved != cycles) return false;
  }
  return true;
}

uint64_t DramChannel::repeat_limit(bool hits_only) const {
  uint64_t due = kNever;
  for (const Rank& r : ranks_) due = std::min(due, r.refresh_due);
  const uint64_t reach = hits_only ? column_horizon_ : horizon_;
  return due > reach ? due - reach : 0;
}

void DramChannel::repeat(const Snapshot& earlier, const Snapshot& later, uint64_t times,
                         uint64_t requests) {
  const uint64_t cycles = (later.now - earlier.now) * times;
  const uint64_t admissions = (later.admissions - earlier.admissions) * times;
  auto stamp_on = [&](uint64_t& stored) { stored += stored == 0 ? 0 : cycles; };
  // A row's opener is either still queued (and moves with it) or never matches again.
  std::vector<std::pair<Bank*, uint64_t>> openers;
  for (size_t i = 0; i < queue_.size(); ++i) {
    Bank& b = bank_of(queue_[i].r);
    if (b.opened_for == queue_[i].seq) openers.emplace_back(&b, queue_[i].seq + admissions);
  }
  for (Rank& r : ranks_) {
    for (Bank& b : r.banks) {
      b.opened_for = std::numeric_limits<uint64_t>::max();
      b.act_at += cycles;
      b.next_act += cycles;
      b.next_pre += cycles;
      b.close_at += cycles;
    }
    for (uint64_t& w : r.act_window) stamp_on(w);
    for (uint64_t& c : r.group_last_act) stamp_on(c);
    for (uint64_t& c : r.group_last_col) stamp_on(c);
    for (uint64_t& c : r.group_wr_data_end) stamp_on(c);
    stamp_on(r.last_act);
    stamp_on(r.last_col);
    stamp_on(r.wr_data_end);
    r.refresh_busy_until += cycles;
  }
  for (const auto& [bank, seq] : openers) bank->opened_for = seq;
  for (size_t r = 0; r < ranks_.size(); ++r) {
    ranks_[r].accounted_until += (later.accounted_until[r] - earlier.accounted_until[r]) * times;
  }
  for (size_t i = 0; i < queue_.size(); ++i) {
    queue_[i].seq += admissions;
    queue_[i].r.id += requests * times;
  }
  if (bus_free_ != 0) bus_free_ += cycles;
  now_ += cycles;
  next_seq_ += admissions;
  movers_valid_ = front_ready_valid_ = false;
}

}  // namespace nmp::hw
