#include <catch2/catch.hpp>

#include <deque>
#include <map>
#include <memory>
#include <random>

#include "hw_models/beat_cursor.hpp"

using namespace nmp::hw;

namespace {

// Shaped groups point into `shapes`, which must outlive the groups (a deque keeps them put).
std::vector<BeatGroup> random_groups(std::mt19937& rng, const std::vector<Sram*>& srams,
                                     std::deque<std::vector<BeatShape>>& shapes) {
  std::vector<BeatGroup> groups(1 + rng() % 4);
  for (BeatGroup& g : groups) {
    g.beats = rng() % 6;  // sometimes empty
    g.min_cycles = 1 + rng() % 5;
    if (rng() % 4 == 0) {    // a shaped group: beats of their own place, size and time
      g.beats = rng() % 40;  // long enough that a skip crosses many whole beats at once
      std::vector<BeatShape>& beats = shapes.emplace_back(g.beats);
      for (BeatShape& b : beats) {
        b = {rng() % 2048, 1 + static_cast<uint32_t>(rng() % 300),
             1 + static_cast<uint32_t>(rng() % 5)};
      }
      g.shapes = beats.data();
      g.add({srams[rng() % srams.size()], rng() % 2 ? Access::kRead : Access::kWrite, 0, 0, 1});
      continue;
    }
    const unsigned streams = rng() % 3;
    for (unsigned s = 0; s < streams; ++s) {
      Stream st{srams[rng() % srams.size()], rng() % 2 ? Access::kRead : Access::kWrite,
                rng() % 512, rng() % 200, 1 + static_cast<uint32_t>(rng() % 300)};
      for (unsigned i = 0; i < g.stream_count; ++i) {
        const Stream& o = g.streams[i];
        if (o.sram == st.sram && o.sram->port_class(o.access) == st.sram->port_class(st.access)) {
          // On a shared port class, only a read-modify-write of the same words is allowed.
          st.access = o.access == Access::kRead ? Access::kWrite : Access::kRead;
          st.first_byte = o.first_byte;
          st.stride_bytes = o.stride_bytes;
          st.bytes = o.bytes;
        }
      }
      if (st.sram->params().ports == PortConfig::kOneRw && g.stream_count > 0 &&
          g.streams[0].sram == st.sram) {
        continue;  // a single port cannot read and write a word in one cycle
      }
      g.add(st);
    }
  }
  return groups;
}

}  // namespace

TEST_CASE("alone, a cursor takes its closed-form cycles whether ticked or skipped", "[unit]") {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 400; ++trial) {
    const auto ports = static_cast<PortConfig>(rng() % 3);
    Sram a({"a", 1 << 16, 1 + static_cast<uint32_t>(rng() % 8),
            8u * (1 + static_cast<uint32_t>(rng() % 8)), ports},
           0);
    Sram b({"b", 1 << 16, 1 + static_cast<uint32_t>(rng() % 8),
            8u * (1 + static_cast<uint32_t>(rng() % 8)), PortConfig::kOneROneW},
           1);
    std::deque<std::vector<BeatShape>> shapes;
    const std::vector<BeatGroup> groups = random_groups(rng, {&a, &b}, shapes);
    const Cycles closed_form = BeatCursor::uncontended_cycles(groups);

    BeatCursor ticked;
    ticked.start(groups, 0);
    REQUIRE(ticked.remaining_cycles() == closed_form);
    Cycles now = 0;
    while (!ticked.done()) REQUIRE(ticked.tick(now++) == StepResult::kProgress);
    REQUIRE(now == closed_form);

    // Skip every quiet stretch, tick the cycles that end a group: the same total. (Cycle numbers
    // start after the first pass: the SRAMs remember which ports it claimed in which cycle.)
    const Cycles base = closed_form;
    BeatCursor skipped;
    skipped.start(groups, 0);
    Cycles t = 0;
    while (!skipped.done()) {
      const Cycles quiet = skipped.quiet_cycles();
      REQUIRE(quiet < skipped.remaining_cycles());
      const Cycles n = quiet == 0 ? 0 : 1 + rng() % quiet;  // any part of the quiet stretch
      skipped.skip(n);
      t += n;
      if (n < quiet || quiet == 0) {
        REQUIRE(skipped.tick(base + t++) == StepResult::kProgress);
      }
      REQUIRE(t + skipped.remaining_cycles() == closed_form);
    }
    REQUIRE(t == closed_form);
    REQUIRE(skipped.beats_finished() == ticked.beats_finished());
  }
}

TEST_CASE("two streams on one single-ported bank take turns by priority", "[unit]") {
  Sram s({"s", 1024, 1, 64, PortConfig::kOneRw}, 0);
  BeatGroup reads, writes;
  reads.add({&s, Access::kRead, 0, 0, 32});     // 4 words
  writes.add({&s, Access::kWrite, 64, 0, 32});  // 4 other words, same bank
  BeatCursor first, second;
  first.start({reads}, 0);
  second.start({writes}, 0);
  Cycles now = 0, stalls = 0;
  while (!second.done()) {
    if (!first.done()) first.tick(now);  // ticks first: higher priority
    if (second.tick(now) == StepResult::kStalled) {
      ++stalls;
      REQUIRE(second.stalled_on() == &s);
    }
    ++now;
  }
  REQUIRE(now == 8);
  REQUIRE(stalls == 4);
}

TEST_CASE("a 1r1w bank serves a read and a write in the same cycle", "[unit]") {
  Sram s({"s", 1024, 1, 64, PortConfig::kOneROneW}, 0);
  BeatGroup reads, writes;
  reads.add({&s, Access::kRead, 0, 0, 32});
  writes.add({&s, Access::kWrite, 64, 0, 32});
  BeatCursor r, w;
  r.start({reads}, 0);
  w.start({writes}, 0);
  for (Cycles now = 0; now < 4; ++now) {
    REQUIRE(r.tick(now) == StepResult::kProgress);
    REQUIRE(w.tick(now) == StepResult::kProgress);
  }
  REQUIRE(r.done());
  REQUIRE(w.done());
}

TEST_CASE("a wide stream takes the banks a narrow one leaves free", "[unit]") {
  // 4 banks, one port: a 2-word writer ticks first each cycle; the reader gets the other two.
  Sram s({"s", 4096, 4, 64, PortConfig::kOneRw}, 0);
  BeatGroup narrow, wide;
  narrow.beats = 4;
  narrow.add({&s, Access::kWrite, 1024, 16, 16});  // words 128, 129 (+2 per beat): banks 0,1
  wide.add({&s, Access::kRead, 0, 0, 8 * 16});     // words 0..15, all banks
  BeatCursor n, w;
  n.start({narrow}, 0);
  w.start({wide}, 0);
  Cycles now = 0;
  while (!w.done()) {
    if (!n.done()) REQUIRE(n.tick(now) == StepResult::kProgress);
    w.tick(now);
    ++now;
  }
  // Alone the reader needs 4 cycles; sharing with the writer for 4 cycles it needs 6.
  REQUIRE(now == 6);
}

TEST_CASE("words moved are counted once per beat, whatever the contention", "[unit]") {
  Sram s({"s", 4096, 2, 32, PortConfig::kOneRw}, 0);
  BeatGroup g;
  g.beats = 3;
  g.add({&s, Access::kRead, 3, 10, 9});  // unaligned, non-uniform stride
  BeatCursor c;
  c.start({g}, 2);
  // Beats at bytes 3..11, 13..21, 23..31: words 0-2, 3-5, 5-7 -> 2 + 2 + 1 words... computed:
  uint64_t words = 0;
  for (uint64_t b = 0; b < 3; ++b) words += (3 + b * 10 + 8) / 4 - (3 + b * 10) / 4 + 1;
  REQUIRE(s.stats_by_layer().size() == 3);
  REQUIRE(s.stats_by_layer()[2].read_words == words);
}

namespace {

// An independent, deliberately plain model of the cursor rules (beat_cursor.hpp): per cycle,
// every stream requests each word of its window it does not hold, word by word, and a bank
// grants while it has a free port of the request's class; cursors ask in priority order.
struct ReferenceCursor {
  struct Beat {
    std::vector<const Stream*> streams;
    std::vector<uint64_t> first, last, window;
    uint32_t min_cycles = 1;
  };
  std::vector<Beat> beats;
  size_t beat = 0;
  uint32_t cycle_in_beat = 0;
  std::vector<uint64_t> next;
  std::vector<std::vector<bool>> held;  // by word offset from `next`

  explicit ReferenceCursor(const std::vector<BeatGroup>& groups) {
    for (const BeatGroup& g : groups) {
      for (uint64_t b = 0; b < g.beats; ++b) {
        Beat beat_words;
        beat_words.min_cycles = g.shapes ? g.shapes[b].min_cycles : g.min_cycles;
        for (unsigned i = 0; i < g.stream_count; ++i) {
          const Stream& s = g.streams[i];
          const uint64_t wb = s.sram->word_bytes();
          const uint64_t start =
              g.shapes ? g.shapes[b].first_byte : s.first_byte + b * s.stride_bytes;
          const uint64_t bytes = g.shapes ? g.shapes[b].bytes : s.bytes;
          unsigned sharing = 0;
          for (unsigned o = 0; o < g.stream_count; ++o) {
            sharing += g.streams[o].sram == s.sram &&
                       s.sram->port_class(g.streams[o].access) == s.sram->port_class(s.access);
          }
          beat_words.streams.push_back(&s);
          beat_words.first.push_back(start / wb);
          beat_words.last.push_back((start + bytes - 1) / wb);
          beat_words.window.push_back(
              std::max<uint64_t>(1, s.sram->words_per_cycle(s.access) / sharing));
        }
        beats.push_back(beat_words);
      }
    }
    enter();
  }
  bool done() const { return beat >= beats.size(); }
  void enter() {
    cycle_in_beat = 0;
    if (done()) return;
    next = beats[beat].first;
    held.assign(next.size(), {});
    for (size_t i = 0; i < next.size(); ++i) held[i].assign(beats[beat].window[i], false);
  }
  // ports[sram][bank][class]: accesses granted in this cycle.
  bool tick(std::map<const Sram*, std::vector<std::array<uint32_t, 2>>>& ports) {
    bool stalled = false;
    const Beat& b = beats[beat];
    for (size_t i = 0; i < b.streams.size(); ++i) {
      const Stream& s = *b.streams[i];
      const unsigned cls = s.sram->port_class(s.access);
      const uint32_t limit = s.sram->words_per_cycle(s.access) / s.sram->params().banks;
      for (uint64_t j = 0; j < b.window[i] && next[i] + j <= b.last[i]; ++j) {
        if (held[i][j]) continue;
        uint32_t& used = ports[s.sram][(next[i] + j) % s.sram->params().banks][cls];
        if (used < limit) {
          ++used;
          held[i][j] = true;
        } else {
          stalled = true;
        }
      }
      while (next[i] <= b.last[i] && held[i][0]) {
        held[i].erase(held[i].begin());
        held[i].push_back(false);
        ++next[i];
      }
    }
    ++cycle_in_beat;
    bool words_done = true;
    for (size_t i = 0; i < b.streams.size(); ++i) words_done &= next[i] > b.last[i];
    if (words_done && cycle_in_beat >= b.min_cycles) {
      ++beat;
      enter();
    }
    return stalled;
  }
};

}  // namespace

TEST_CASE("contending cursors match a plain word-by-word model of the port rules", "[unit]") {
  std::mt19937 rng(23);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<std::unique_ptr<Sram>> owned;
    std::vector<Sram*> srams;
    for (unsigned i = 0; i < 1 + rng() % 2; ++i) {
      const auto ports = static_cast<PortConfig>(rng() % 3);
      owned.push_back(
          std::make_unique<Sram>(SramParams{"s", 1 << 16, 1 + static_cast<uint32_t>(rng() % 8),
                                            8u * (1 + static_cast<uint32_t>(rng() % 4)), ports},
                                 i));
      srams.push_back(owned.back().get());
    }
    const unsigned count = 2 + rng() % 2;
    std::vector<std::vector<BeatGroup>> plans;
    std::deque<std::vector<BeatShape>> shapes;
    for (unsigned c = 0; c < count; ++c) plans.push_back(random_groups(rng, srams, shapes));
    std::vector<BeatCursor> cursors(count);
    std::vector<ReferenceCursor> reference;
    for (unsigned c = 0; c < count; ++c) {
      cursors[c].start(plans[c], 0);
      reference.emplace_back(plans[c]);
    }
    for (Cycles now = 0; now < 100000; ++now) {
      std::map<const Sram*, std::vector<std::array<uint32_t, 2>>> ports;
      for (Sram* s : srams) ports[s].assign(s->params().banks, {0, 0});
      bool all_done = true;
      for (unsigned c = 0; c < count; ++c) {
        INFO("trial " << trial << " cycle " << now << " cursor " << c);
        REQUIRE(cursors[c].done() == reference[c].done());
        if (cursors[c].done()) continue;
        all_done = false;
        const bool stalled = cursors[c].tick(now) == StepResult::kStalled;
        REQUIRE(stalled == reference[c].tick(ports));
      }
      if (all_done) break;
    }
  }
}
