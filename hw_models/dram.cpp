#include "hw_models/dram.hpp"

#include <algorithm>
#include <limits>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace nmp::hw {
namespace {

constexpr const char* kFieldNames[] = {"ch", "ra", "bg", "ba", "ro", "co"};

uint32_t log2_of(uint64_t v) {
  uint32_t b = 0;
  while ((uint64_t{1} << b) < v) ++b;
  return b;
}

}  // namespace

const char* to_string(DramField f) { return kFieldNames[static_cast<size_t>(f)]; }

std::vector<DramField> parse_dram_mapping(const std::string& text) {
  std::vector<DramField> fields;
  std::array<bool, kNumDramFields> seen{};
  std::istringstream in(text);
  for (std::string token; std::getline(in, token, ',');) {
    const auto* it = std::find(std::begin(kFieldNames), std::end(kFieldNames), token);
    if (it == std::end(kFieldNames)) {
      throw std::invalid_argument("unknown field '" + token +
                                  "' (expected ch, ra, bg, ba, ro, co)");
    }
    const auto f = static_cast<size_t>(it - std::begin(kFieldNames));
    if (seen[f]) throw std::invalid_argument("field '" + token + "' appears twice");
    seen[f] = true;
    fields.push_back(static_cast<DramField>(f));
  }
  for (size_t f = 0; f < kNumDramFields; ++f) {
    if (!seen[f]) {
      throw std::invalid_argument(std::string("field '") + kFieldNames[f] +
                                  "' is missing (every one of ch, ra, bg, ba, ro, co must appear "
                                  "once, most significant first)");
    }
  }
  return fields;
}

Dram::Dram(const DramParams& params, ZeroPages contents, uint64_t unbacked_bytes)
    : params_(params), data_(std::move(contents)), unbacked_bytes_(unbacked_bytes) {
  if (params_.simple) return;
  const DramDevice& d = params_.device;
  const uint64_t common = std::gcd(params_.accelerator_clock_khz, uint64_t{d.timing.clock_khz});
  acc_per_dram_.num = params_.accelerator_clock_khz / common;
  acc_per_dram_.den = d.timing.clock_khz / common;
  acc_per_dram_.max_fast = (UINT64_MAX - acc_per_dram_.den) / acc_per_dram_.num;
  if ((acc_per_dram_.den & (acc_per_dram_.den - 1)) == 0) {
    acc_per_dram_.den_shift = static_cast<int>(log2_of(acc_per_dram_.den));
  }
  for (uint32_t c = 0; c < d.org.channels; ++c) {
    channels_.emplace_back(d, params_.page_policy, params_.queue_depth);
  }
  layout_ = address_layout_of(params_);
  const auto column = static_cast<size_t>(DramField::kColumn);
  for (size_t f = 0; f < kNumDramFields; ++f) {
    if (f != column && layout_.shift[f] < layout_.shift[column]) period_ <<= layout_.bits[f];
  }
}

Dram::AddressLayout Dram::address_layout_of(const DramParams& params) {
  const DramDevice& d = params.device;
  const uint64_t sizes[kNumDramFields] = {d.org.channels,    d.org.ranks,
                                          d.org.bank_groups, d.org.banks_per_group,
                                          d.org.rows,        d.org.columns / d.org.burst_length};
  AddressLayout layout;
  uint32_t shift = log2_of(d.burst_bytes());
  for (auto it = params.mapping.rbegin(); it != params.mapping.rend(); ++it) {
    const auto f = static_cast<size_t>(*it);
    layout.bits[f] = log2_of(sizes[f]);
    layout.shift[f] = shift;
    shift += layout.bits[f];
  }
  const auto column = static_cast<size_t>(DramField::kColumn);
  for (size_t f = 0; f < kNumDramFields; ++f) {
    if (f != column)
      layout.same_row_mask |= ((uint64_t{1} << layout.bits[f]) - 1) << layout.shift[f];
  }
  return layout;
}

uint64_t Dram::to_dram_cycle(Cycles accelerator_cycle) const {
  const unsigned __int128 f_dram = params_.device.timing.clock_khz;
  const unsigned __int128 num = static_cast<unsigned __int128>(accelerator_cycle) * f_dram;
  return static_cast<uint64_t>((num + params_.accelerator_clock_khz - 1) /
                               params_.accelerator_clock_khz);
}

Cycles Dram::to_accelerator_cycle(uint64_t dram_cycle) const {
  // Per burst, so no 128-bit division: the clock ratio reduced, a shift when its denominator
  // is a power of two, and 64 bits whenever the product fits.
  if (dram_cycle <= acc_per_dram_.max_fast) {
    const uint64_t num = dram_cycle * acc_per_dram_.num + acc_per_dram_.den - 1;
    return acc_per_dram_.den_shift >= 0 ? num >> acc_per_dram_.den_shift : num / acc_per_dram_.den;
  }
  const unsigned __int128 num =
      static_cast<unsigned __int128>(dram_cycle) * acc_per_dram_.num + acc_per_dram_.den - 1;
  return static_cast<Cycles>(num / acc_per_dram_.den);
}

uint64_t Dram::capacity_bytes() const {
  return params_.simple ? UINT64_MAX : params_.device.capacity_bytes();
}

template <class Request>
void Dram::issue_in_order(size_t count, const Request& request, DramStats& stats,
                          bool record_admissions) {
  record_admissions_ = record_admissions;
  for (DramChannel& c : channels_) {
    c.set_stats(&stats);
    c.set_done_table(&done_dram_);
  }
  done_dram_.resize(count);  // every request's done cycle is written when it issues
  admitted_dram_.resize(record_admissions_ ? count : 0);
  const auto width = static_cast<uint32_t>(channels_.size());
  uint64_t t = 0;
  uint32_t in_cycle = 0;
  // A waveform logs every bank change, which a repeated stretch would skip.
  const bool repeat = repeat_streams_ && !(timeline_ && timeline_->signals());
  size_t boundary = period_;
  last_.valid = base_.valid = false;
  for (size_t i = 0; i < count; ++i) {
    if (repeat && i == boundary) {
      i += repeat_stretches(i, count, t, in_cycle, request, stats);
      boundary = i + period_;
      if (i == count) break;
    }
    uint64_t address = 0, earliest = 0;
    bool write = false;
    request(i, address, write, earliest);
    if (earliest > t) {
      t = earliest;
      in_cycle = 0;
    }
    if (in_cycle == width) {
      ++t;
      in_cycle = 0;
    }
    DramAddress a = decode(address);
    a.request.write = write;
    a.request.id = i;
    const uint64_t at = channels_[a.channel].admit(a.request, t);
    if (record_admissions_) admitted_dram_[i] = at;
    if (at > t) {
      t = at;
      in_cycle = 0;
    }
    ++in_cycle;
  }
  for (DramChannel& c : channels_) c.drain();
  if (timeline_) forward_bank_changes();
}

void Dram::mark(Checkpoint& c, size_t i, uint64_t t, uint32_t in_cycle) const {
  c.valid = true;
  c.request = i;
  c.t = t;
  c.in_cycle = in_cycle;
  c.now.resize(channels_.size());
  c.admissions.resize(channels_.size());
  c.queue_shape.resize(channels_.size());
  for (size_t ch = 0; ch < channels_.size(); ++ch) {
    c.now[ch] = channels_[ch].now();
    c.admissions[ch] = channels_[ch].admissions();
    c.queue_shape[ch] = channels_[ch].queue_shape();
  }
}

template <class Request>
size_t Dram::repeat_stretches(size_t i, size_t count, uint64_t& t, uint32_t in_cycle,
                              const Request& request, DramStats& stats) {
  const size_t stretch = period_;
  const size_t channels = channels_.size();
  auto touched = [&](size_t ch) { return channels_[ch].admissions() != base_.admissions[ch]; };
  if (base_.valid && base_.request + stretch == i) {
    base_.valid = false;
    const uint64_t delta = t - base_.t;
    bool same = delta > 0 && in_cycle == base_.in_cycle;
    now_snapshots_.resize(channels);
    for (size_t ch = 0; ch < channels && same; ++ch) {
      if (!touched(ch)) continue;
      channels_[ch].snapshot(i, now_snapshots_[ch]);
      same = DramChannel::repeats(base_snapshots_[ch], now_snapshots_[ch], delta);
    }
    const uint64_t times = same ? stretches_to_repeat(i, count, t, delta, request, stats) : 0;
    if (times > 0) {
      repeat(i, times, delta, stats);
      t += times * delta;
      last_.valid = false;
      return times * stretch;
    }
  }
  // Snapshots are dear: taken only where the last stretch moved every channel it touched on
  // by the same cycles and left its queue's shape as it was, and no refresh is so near that
  // no stretch could repeat before it.
  bool settled =
      last_.valid && last_.request + stretch == i && t > last_.t && in_cycle == last_.in_cycle;
  for (size_t ch = 0; ch < channels && settled; ++ch) {
    const DramChannel& c = channels_[ch];
    settled = c.admissions() == last_.admissions[ch]
                  ? c.now() == last_.now[ch]
                  : c.now() - last_.now[ch] == t - last_.t &&
                        c.queue_shape() == last_.queue_shape[ch] &&
                        std::max(t, c.now()) + 2 * (t - last_.t) < c.repeat_limit(true);
  }
  mark(last_, i, t, in_cycle);
  if (settled) {
    base_ = last_;
    base_snapshots_.resize(channels);
    for (size_t ch = 0; ch < channels; ++ch) channels_[ch].snapshot(i, base_snapshots_[ch]);
    base_stats_ = stats;
  }
  return 0;
}

template <class Request>
uint64_t Dram::stretches_to_repeat(size_t i, size_t count, uint64_t t, uint64_t delta,
                                   const Request& request, const DramStats& stats) const {
  const size_t stretch = period_;
  // As many as come before any touched channel's next refresh, and while the requests repeat
  // the stretch's places and directions and none waits for a later cycle.
  uint64_t times = std::numeric_limits<uint64_t>::max();
  for (size_t ch = 0; ch < channels_.size(); ++ch) {
    if (channels_[ch].admissions() == base_.admissions[ch]) continue;
    // Column commands alone reach less far ahead than ACTs and PREs.
    const bool hits_only = base_snapshots_[ch].hits_only && now_snapshots_[ch].hits_only &&
                           stats.act == base_stats_.act && stats.pre == base_stats_.pre;
    const uint64_t from = std::max(t, channels_[ch].now());
    const uint64_t limit = channels_[ch].repeat_limit(hits_only);
    times = std::min(times, limit > from ? (limit - from) / delta : 0);
  }
  auto key = [&](size_t j, uint64_t& earliest) {
    uint64_t address = 0;
    bool write = false;
    request(j, address, write, earliest);
    return (address & layout_.same_row_mask) | uint64_t{write};
  };
  uint64_t earliest = 0, earlier = 0;
  for (size_t j = base_.request; j < i; ++j) {
    key(j, earliest);
    if (earliest > base_.t) return 0;
  }
  const size_t last =
      i + static_cast<size_t>(std::min<uint64_t>((count - i) / stretch, times)) * stretch;
  size_t end = i;
  while (end < last && key(end, earliest) == key(end - stretch, earlier) && earliest <= base_.t) {
    ++end;
  }
  return (end - i) / stretch;
}

void Dram::repeat(size_t i, uint64_t times, uint64_t delta, DramStats& stats) {
  const size_t stretch = period_;
  stats.add_repeats(base_stats_, stats, times);
  // The requests the stretch issued: queued at its start or admitted in it, and not queued at
  // its end. Each stretch after issues the same, `stretch` requests later, `delta` cycles on.
  std::vector<uint64_t>& still_queued = still_queued_;
  still_queued.clear();
  issued_.clear();
  for (size_t ch = 0; ch < channels_.size(); ++ch) {
    if (channels_[ch].admissions() == base_.admissions[ch]) continue;
    const DramChannel::Snapshot &from = base_snapshots_[ch], &to = now_snapshots_[ch];
    issued_.insert(issued_.end(), from.queued_ids.begin(), from.queued_ids.end());
    still_queued.insert(still_queued.end(), to.queued_ids.begin(), to.queued_ids.end());
    channels_[ch].repeat(from, to, times, stretch);
  }
  for (size_t j = base_.request; j < i; ++j) issued_.push_back(j);
  std::sort(still_queued.begin(), still_queued.end());
  issued_.erase(std::remove_if(issued_.begin(), issued_.end(),
                               [&](uint64_t j) {
                                 return std::binary_search(still_queued.begin(), still_queued.end(),
                                                           j);
                               }),
                issued_.end());
  for (uint64_t k = 1; k <= times; ++k) {
    for (const uint64_t j : issued_) done_dram_[j + k * stretch] = done_dram_[j] + k * delta;
  }
  for (uint64_t k = 1; k <= times && record_admissions_; ++k) {
    for (size_t j = base_.request; j < i; ++j) {
      admitted_dram_[j + k * stretch] = admitted_dram_[j] + k * delta;
    }
  }
  repeated_requests_ += times * stretch;
}

void Dram::set_timeline(Timeline* timeline) {
  timeline_ = timeline;
  bank_logs_.assign(channels_.size(), {});
  for (size_t c = 0; c < channels_.size(); ++c) {
    channels_[c].set_bank_log(timeline && timeline->signals() ? &bank_logs_[c] : nullptr,
                              timeline ? timeline->max_spans() : 0);
  }
}

void Dram::forward_bank_changes() {
  for (uint32_t c = 0; c < bank_logs_.size(); ++c) {
    for (const BankChange& change : bank_logs_[c]) {
      timeline_->bank(c, to_accelerator_cycle(change.at), change);
    }
    // A log at its limit dropped changes: the recording stops there (its file says truncated).
    if (channels_[c].bank_log_full())
      timeline_->truncate(to_accelerator_cycle(bank_logs_[c].back().at));
    bank_logs_[c].clear();
  }
}

void Dram::set_fast_path(bool on) {
  repeat_streams_ = on;
  for (DramChannel& c : channels_) c.set_fast_path(on);
}

Dram::Served Dram::serve(const std::vector<TimedRequest>& requests) {
  DramStats& s = stats(0);
  issue_in_order(
      requests.size(),
      [&](size_t i, uint64_t& address, bool& write, uint64_t& earliest) {
        address = requests[i].address;
        write = requests[i].write;
        earliest = requests[i].cycle;
      },
      s, true);
  for (const TimedRequest& r : requests) {
    (r.write ? s.write_bytes : s.read_bytes) += params_.request_bytes();
  }
  return {admitted_dram_, done_dram_};
}

template <class Address>
void Dram::transfer_bursts(size_t count, const Address& address_of, bool write, Cycles start,
                           uint32_t layer) {
  DramStats& s = stats(layer);
  const uint64_t first = to_dram_cycle(start);
  issue_in_order(
      count,
      [&](size_t i, uint64_t& address, bool& is_write, uint64_t& earliest) {
        address = address_of(i);
        is_write = write;
        earliest = first;
      },
      s, false);
  (write ? s.write_bytes : s.read_bytes) += count * params_.request_bytes();
}

void Dram::transfer(const std::vector<uint64_t>& burst_addresses, bool write, Cycles start,
                    uint32_t layer, std::vector<Cycles>& done) {
  transfer_bursts(
      burst_addresses.size(), [&](size_t i) { return burst_addresses[i]; }, write, start, layer);
  done.resize(burst_addresses.size());
  for (size_t i = 0; i < done.size(); ++i) done[i] = to_accelerator_cycle(done_dram_[i]);
}

Dram::Span Dram::transfer_sequential(uint64_t first_address, uint64_t count, bool write,
                                     Cycles start, uint32_t layer) {
  if (count == 0) return {};
  const uint64_t burst = params_.request_bytes();
  transfer_bursts(
      count, [&](size_t i) { return first_address + i * burst; }, write, start, layer);
  return {to_accelerator_cycle(done_dram_.front()), to_accelerator_cycle(done_dram_.back())};
}

void Dram::finish_dram(uint64_t t, uint32_t layer) {
  if (params_.simple) return;
  DramStats& s = stats(layer);
  for (DramChannel& c : channels_) {
    c.set_stats(&s);
    c.idle_until(t);
  }
  if (timeline_) forward_bank_changes();
}

}  // namespace nmp::hw
