#include "hw_models/dram.hpp"

#include <algorithm>
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
  const uint64_t sizes[kNumDramFields] = {d.org.channels,    d.org.ranks,
                                          d.org.bank_groups, d.org.banks_per_group,
                                          d.org.rows,        d.org.columns / d.org.burst_length};
  uint32_t shift = log2_of(d.burst_bytes());
  for (auto it = params_.mapping.rbegin(); it != params_.mapping.rend(); ++it) {
    const auto f = static_cast<size_t>(*it);
    bits_[f] = log2_of(sizes[f]);
    shift_[f] = shift;
    shift += bits_[f];
  }
}

DramAddress Dram::decode(uint64_t address) const {
  auto field = [&](DramField f) {
    const auto i = static_cast<size_t>(f);
    return static_cast<uint32_t>((address >> shift_[i]) & ((uint64_t{1} << bits_[i]) - 1));
  };
  DramAddress a;
  a.channel = field(DramField::kChannel);
  a.request.rank = field(DramField::kRank);
  a.request.bank_group = field(DramField::kBankGroup);
  a.request.bank = field(DramField::kBank);
  a.request.row = field(DramField::kRow);
  return a;
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
void Dram::issue_in_order(size_t count, const Request& request, DramStats& stats) {
  for (DramChannel& c : channels_) {
    c.set_stats(&stats);
    c.set_done_table(&done_dram_);
  }
  done_dram_.resize(count);  // every request's done cycle is written when it issues
  admitted_dram_.resize(count);
  const auto width = static_cast<uint32_t>(channels_.size());
  uint64_t t = 0;
  uint32_t in_cycle = 0;
  for (size_t i = 0; i < count; ++i) {
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
    admitted_dram_[i] = at;
    if (at > t) {
      t = at;
      in_cycle = 0;
    }
    ++in_cycle;
  }
  for (DramChannel& c : channels_) c.drain();
  if (timeline_) forward_bank_changes();
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
      s);
  for (const TimedRequest& r : requests) {
    (r.write ? s.write_bytes : s.read_bytes) += params_.request_bytes();
  }
  return {admitted_dram_, done_dram_};
}

void Dram::transfer(const std::vector<uint64_t>& burst_addresses, bool write, Cycles start,
                    uint32_t layer, std::vector<Cycles>& done) {
  DramStats& s = stats(layer);
  const uint64_t first = to_dram_cycle(start);
  issue_in_order(
      burst_addresses.size(),
      [&](size_t i, uint64_t& address, bool& is_write, uint64_t& earliest) {
        address = burst_addresses[i];
        is_write = write;
        earliest = first;
      },
      s);
  done.resize(burst_addresses.size());
  for (size_t i = 0; i < done.size(); ++i) done[i] = to_accelerator_cycle(done_dram_[i]);
  (write ? s.write_bytes : s.read_bytes) += burst_addresses.size() * params_.request_bytes();
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
