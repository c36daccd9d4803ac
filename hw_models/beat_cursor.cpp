#include "hw_models/beat_cursor.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace nmp::hw {
namespace {

struct WordRange {
  uint64_t first;
  uint64_t last;
};

// The words stream `i` of group `g` touches in beat `beat`.
WordRange words_of(const BeatGroup& g, unsigned i, uint64_t beat) {
  const Stream& s = g.streams[i];
  if (g.shapes) {
    const BeatShape& b = g.shapes[beat];
    return {s.sram->word_of(b.first_byte), s.sram->word_of(b.first_byte + b.bytes - 1)};
  }
  const uint64_t first_byte = s.first_byte + beat * s.stride_bytes;
  return {s.sram->word_of(first_byte), s.sram->word_of(first_byte + s.bytes - 1)};
}

}  // namespace

BeatGroup& BeatGroup::add(const Stream& s) {
  if (stream_count == kMaxStreams) throw std::logic_error("a beat has at most 3 streams");
  for (unsigned i = 0; i < stream_count; ++i) {
    const Stream& o = streams[i];
    const bool same_class =
        o.sram == s.sram && o.sram->port_class(o.access) == s.sram->port_class(s.access);
    const bool same_words =
        o.first_byte == s.first_byte && o.stride_bytes == s.stride_bytes && o.bytes == s.bytes;
    const bool one_port = s.sram->words_per_cycle(s.access) == s.sram->params().banks;
    if (same_class && (!same_words || one_port)) {
      throw std::logic_error(
          "streams of one beat share a port class only to read and write the "
          "same words, on two ports");
    }
  }
  streams[stream_count++] = s;
  return *this;
}

uint64_t BeatCursor::window_size(const BeatGroup& g, unsigned stream) {
  // Streams of one beat that share an SRAM port class split its ports evenly (the MAC array's
  // accumulator read-modify-write on 2rw ports: half the ports read, half write, each cycle).
  const Stream& s = g.streams[stream];
  const unsigned cls = s.sram->port_class(s.access);
  unsigned sharing = 0;
  for (unsigned i = 0; i < g.stream_count; ++i) {
    const Stream& o = g.streams[i];
    sharing += o.sram == s.sram && o.sram->port_class(o.access) == cls;
  }
  return std::max<uint64_t>(1, s.sram->words_per_cycle(s.access) / sharing);
}

bool BeatCursor::is_uniform(const BeatGroup& g) {
  if (g.shapes) return false;
  for (unsigned i = 0; i < g.stream_count; ++i) {
    if (g.streams[i].stride_bytes % g.streams[i].sram->word_bytes() != 0) return false;
  }
  return true;
}

Cycles BeatCursor::walk_group(const BeatGroup& g, std::array<uint64_t, kMaxStreams>& words,
                              std::vector<Cycles>* ends) {
  words.fill(0);
  if (ends && g.shapes) ends->push_back(0);
  if (g.beats == 0) return 0;
  std::array<uint64_t, kMaxStreams> window{};
  for (unsigned i = 0; i < g.stream_count; ++i) window[i] = window_size(g, i);
  const bool uniform = is_uniform(g);
  const uint64_t walked = uniform ? 1 : g.beats;  // a uniform group's beats are all alike
  Cycles total = 0;
  for (uint64_t b = 0; b < walked; ++b) {
    Cycles cycles = min_cycles_of(g, b);
    for (unsigned i = 0; i < g.stream_count; ++i) {
      const WordRange w = words_of(g, i, b);
      words[i] += w.last - w.first + 1;
      cycles = std::max<Cycles>(cycles, (w.last - w.first + window[i]) / window[i]);
    }
    total += cycles;
    if (ends && g.shapes) ends->push_back(total);
  }
  if (uniform) {
    for (uint64_t& w : words) w *= g.beats;
    total *= g.beats;
  }
  return total;
}

Cycles BeatCursor::uncontended_cycles(const std::vector<BeatGroup>& groups,
                                      std::vector<WordCount>* words, uint32_t* mask) {
  Cycles total = 0;
  std::array<uint64_t, kMaxStreams> moved{};
  for (const BeatGroup& g : groups) {
    total += walk_group(g, moved);
    for (unsigned i = 0; i < g.stream_count; ++i) {
      const Stream& s = g.streams[i];
      if (words) words->push_back({s.sram, s.access, moved[i]});
      if (mask && g.beats > 0) *mask |= 1u << (s.sram->id() * 2 + s.sram->port_class(s.access));
    }
  }
  return total;
}

void BeatCursor::start(const std::vector<BeatGroup>& groups, uint32_t layer, bool count) {
  groups_.assign(groups.begin(), groups.end());
  group_cycles_.resize(groups_.size());
  shaped_ends_.clear();
  shaped_first_.resize(groups_.size());
  later_groups_cycles_ = 0;
  for (size_t j = 0; j < groups_.size(); ++j) {
    const BeatGroup& g = groups_[j];
    if (g.shapes && g.stream_count != 1) {
      throw std::logic_error("a shaped beat group has exactly one stream");
    }
    std::array<uint64_t, kMaxStreams> words{};
    shaped_first_[j] = shaped_ends_.size();
    group_cycles_[j] = walk_group(g, words, &shaped_ends_);
    for (unsigned i = 0; count && i < g.stream_count; ++i) {
      g.streams[i].sram->count_words(layer, g.streams[i].access, words[i]);
    }
    later_groups_cycles_ += group_cycles_[j];
  }
  group_ = 0;
  beats_finished_ = 0;
  enter_group();
}

void BeatCursor::enter_group() {
  while (group_ < groups_.size() && groups_[group_].beats == 0) ++group_;
  if (done()) {
    later_groups_cycles_ = 0;
    return;
  }
  const BeatGroup& g = groups_[group_];
  uniform_ = is_uniform(g);
  const Cycles total = group_cycles_[group_];
  later_groups_cycles_ -= total;
  for (unsigned i = 0; i < g.stream_count; ++i) {
    windows_[i].size = static_cast<uint32_t>(window_size(g, i));
    if (windows_[i].held.size() != windows_[i].size)
      windows_[i].held.assign(windows_[i].size, false);
  }
  beat_ = 0;
  enter_beat();
  rest_cycles_ = total - (uniform_ ? total / g.beats : fresh_beat_cycles());
}

void BeatCursor::enter_beat() {
  const BeatGroup& g = groups_[group_];
  for (unsigned i = 0; i < g.stream_count; ++i) {
    const WordRange w = words_of(g, i, beat_);
    Window& win = windows_[i];
    win.next = w.first;
    win.last = w.last;
    win.head = 0;
    if (win.held_count != 0) std::fill(win.held.begin(), win.held.end(), false);
    win.held_count = 0;
  }
  cycle_in_beat_ = 0;
}

void BeatCursor::finish_beat() {
  ++beats_finished_;
  const BeatGroup& g = groups_[group_];
  if (++beat_ == g.beats) {
    ++group_;
    enter_group();
    return;
  }
  enter_beat();
  rest_cycles_ -= fresh_beat_cycles();
}

Cycles BeatCursor::words_cycles_left() const {
  const BeatGroup& g = groups_[group_];
  Cycles cycles = 0;
  for (unsigned i = 0; i < g.stream_count; ++i) {
    const Window& w = windows_[i];
    if (w.next <= w.last) cycles = std::max<Cycles>(cycles, (w.last - w.next + w.size) / w.size);
  }
  return cycles;
}

Cycles BeatCursor::fresh_beat_cycles() const {
  return std::max<Cycles>(min_cycles_of(groups_[group_], beat_), words_cycles_left());
}

Cycles BeatCursor::current_beat_remaining() const {
  const uint32_t min_cycles = min_cycles_of(groups_[group_], beat_);
  const Cycles by_time = min_cycles > cycle_in_beat_ ? min_cycles - cycle_in_beat_ : 0;
  return std::max<Cycles>({by_time, words_cycles_left(), Cycles{1}});
}

Cycles BeatCursor::quiet_cycles() const {
  if (done()) return kNever;
  return current_beat_remaining() + rest_cycles_ - 1;
}

Cycles BeatCursor::remaining_cycles() const {
  if (done()) return 0;
  return current_beat_remaining() + rest_cycles_ + later_groups_cycles_;
}

void BeatCursor::skip(Cycles n) {
  while (n > 0 && !done()) {
    const Cycles rem = current_beat_remaining();
    if (n < rem) {
      // Uncontended, each cycle receives one whole window of every stream.
      const BeatGroup& g = groups_[group_];
      for (unsigned i = 0; i < g.stream_count; ++i) {
        Window& w = windows_[i];
        w.next = std::min(w.last + 1, w.next + n * w.size);
        w.head = 0;
        if (w.held_count != 0) std::fill(w.held.begin(), w.held.end(), false);
        w.held_count = 0;
      }
      cycle_in_beat_ += static_cast<uint32_t>(n);
      return;
    }
    n -= rem;
    const size_t group_before = group_;
    finish_beat();
    if (group_ == group_before && n > 0 && groups_[group_].shapes) {
      // Whole beats of a shaped group, found among the running sums of their cycles: the
      // last beat whose start is at most n cycles on, short of the group's last beat.
      const BeatGroup& g = groups_[group_];
      const Cycles* ends = &shaped_ends_[shaped_first_[group_]];
      const Cycles* last = ends + g.beats - 1;
      const Cycles* reached = std::upper_bound(ends + beat_, last + 1, ends[beat_] + n) - 1;
      const auto whole = static_cast<uint64_t>(reached - (ends + beat_));
      if (whole > 0) {
        n -= *reached - ends[beat_];
        beat_ += whole;
        beats_finished_ += whole;
        rest_cycles_ = ends[g.beats] - ends[beat_ + 1];
        enter_beat();
      }
    } else if (uniform_ && group_ == group_before && n > 0) {
      // Whole beats of a uniform group all take the same time.
      const BeatGroup& g = groups_[group_];
      const Cycles per_beat = fresh_beat_cycles();
      const Cycles whole = std::min<Cycles>(n / per_beat, g.beats - beat_ - 1);
      if (whole > 0) {
        beat_ += whole;
        beats_finished_ += whole;
        rest_cycles_ -= whole * per_beat;
        n -= whole * per_beat;
        enter_beat();
      }
    }
  }
}

StepResult BeatCursor::tick(Cycles now) {
  const BeatGroup& g = groups_[group_];
  stalled_on_ = nullptr;
  for (unsigned i = 0; i < g.stream_count; ++i) {
    const Stream& s = g.streams[i];
    Window& w = windows_[i];
    const auto wanted =
        w.next > w.last ? 0u
                        : static_cast<uint32_t>(std::min<uint64_t>(w.size, w.last - w.next + 1));
    if (w.held_count == 0 && wanted > 0 && s.sram->try_claim_run(now, w.next, wanted, s.access)) {
      w.next += wanted;  // the whole window granted: nothing held, the ring stays aligned
      continue;
    }
    for (uint32_t j = 0, slot = w.head; j < wanted; ++j, slot = slot + 1 == w.size ? 0 : slot + 1) {
      if (w.held[slot]) continue;
      if (s.sram->try_claim(now, w.next + j, s.access)) {
        w.held[slot] = true;
        ++w.held_count;
      } else if (!stalled_on_) {
        stalled_on_ = s.sram;
      }
    }
    while (w.next <= w.last && w.held[w.head]) {  // slide past the words received
      w.held[w.head] = false;
      --w.held_count;
      w.head = w.head + 1 == w.size ? 0 : w.head + 1;
      ++w.next;
    }
  }
  ++cycle_in_beat_;
  if (words_cycles_left() == 0 && cycle_in_beat_ >= min_cycles_of(g, beat_)) finish_beat();
  return stalled_on_ ? StepResult::kStalled : StepResult::kProgress;
}

Cycles BeatCursor::idle_cycles() const {
  if (done()) return kNever;
  if (words_cycles_left() > 0) return 0;
  const uint32_t min_cycles = min_cycles_of(groups_[group_], beat_);
  return min_cycles > cycle_in_beat_ ? min_cycles - cycle_in_beat_ : 0;
}

uint32_t BeatCursor::sram_use_mask() const {
  if (done()) return 0;
  uint32_t mask = 0;
  const BeatGroup& g = groups_[group_];
  for (unsigned i = 0; i < g.stream_count; ++i) {
    const Stream& s = g.streams[i];
    mask |= 1u << (s.sram->id() * 2 + s.sram->port_class(s.access));
  }
  return mask;
}

}  // namespace nmp::hw
