// The one way a unit moves data through on-chip SRAM, shared by every block.
//
// An operation phase is a list of beat groups. A group is `beats` repetitions of one beat; a
// beat touches, for each of its streams, `bytes` bytes starting at first_byte + beat *
// stride_bytes, i.e. a run of consecutive words (a shaped group lists each beat's own bytes
// and time instead). Each stream keeps a window of its next
// `window` words (the SRAM's words per cycle for that access, shared evenly among the beat's
// streams on the same port class) and, every cycle, requests every word of the window it does
// not hold yet; each bank grants what its free ports allow, in unit priority order, and the
// window slides past the words received. A beat ends in the cycle its last word is granted,
// but never before `min_cycles` cycles (the compute or DRAM time of the beat); the next beat
// starts in the following cycle. A cycle in which any requested word is refused is a stall.
//
// Uncontended, every window is granted whole, so a beat takes max(min_cycles, max over streams
// of ceil(words / window)) cycles: skip() applies that closed form, tick() does one cycle with
// real port claims, and both move the same state, so lockstep and block-advance agree.
//
// Example:
//   BeatGroup g; g.beats = m; g.add({&act_sram, Access::kRead, act, act_stride, k});
//   cursor.start({g}, layer);
//   while (!cursor.done()) cursor.tick(now++);
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "hw_models/cycles.hpp"
#include "hw_models/sram.hpp"

namespace nmp::hw {

inline constexpr unsigned kMaxStreams = 3;

struct Stream {
  Sram* sram = nullptr;
  Access access = Access::kRead;
  uint64_t first_byte = 0;
  uint64_t stride_bytes = 0;  // between the starts of consecutive beats
  uint32_t bytes = 0;         // per beat, >= 1
};

// One beat of a shaped group (below): its own place, size and minimum time.
struct BeatShape {
  uint64_t first_byte = 0;
  uint32_t bytes = 1;       // >= 1
  uint32_t min_cycles = 1;  // >= 1
};

// Two streams of one beat may use the same SRAM port class only to read and write the same
// words (a read-modify-write), whose windows then hit each bank once per stream.
struct BeatGroup {
  uint64_t beats = 1;
  uint32_t min_cycles = 1;  // >= 1
  std::array<Stream, kMaxStreams> streams{};
  uint8_t stream_count = 0;
  // A shaped group: beats that differ in size, place and time (the SRAM side of a DMA transfer
  // whose DRAM bursts arrive irregularly), kept as one group so that a quiet stretch spans
  // them all. When set, the group has one stream and beat b covers shapes[b].bytes bytes from
  // shapes[b].first_byte in at least shapes[b].min_cycles cycles; the stream's first_byte,
  // stride_bytes and bytes and the group's min_cycles are unused. The shapes belong to the
  // caller and must outlive the phase.
  const BeatShape* shapes = nullptr;
  BeatGroup& add(const Stream& s);
};

enum class StepResult : uint8_t { kProgress, kStalled };

// The words one stream of a phase moves through an SRAM.
struct WordCount {
  Sram* sram = nullptr;
  Access access = Access::kRead;
  uint64_t words = 0;
  bool operator==(const WordCount& o) const {
    return sram == o.sram && access == o.access && words == o.words;
  }
};

class BeatCursor {
 public:
  // Starts a phase and counts every word it will move into the SRAMs' statistics (unless
  // `count` is false: a caller that counted them in closed form). The groups are copied into
  // storage the cursor keeps, so steady-state phases allocate nothing.
  void start(const std::vector<BeatGroup>& groups, uint32_t layer, bool count = true);
  bool done() const { return group_ >= groups_.size(); }

  // Cycles from now that are plain countdown if uncontended: the current group's remaining
  // cycles minus its last one (which must be ticked, since the group ends in it).
  Cycles quiet_cycles() const;
  // Uncontended cycles to finish the whole phase.
  Cycles remaining_cycles() const;
  void skip(Cycles n);
  StepResult tick(Cycles now);
  // Beats finished since start() (ticked or skipped).
  uint64_t beats_finished() const { return beats_finished_; }
  // The SRAM that refused a word in the last stalled tick.
  const Sram* stalled_on() const { return stalled_on_; }

  // Bit (sram id * 2 + port class) for every stream of the current group.
  uint32_t sram_use_mask() const;
  // Cycles from now in which it requests no word: the rest of a beat whose words have all
  // been received and which waits out its min_cycles (a DMA beat's DRAM time); else 0.
  Cycles idle_cycles() const;

  // Uncontended cycles of a list of groups (the closed form that skip() applies); `words`, if
  // given, receives what each stream moves, in order, and `mask` the sram_use_mask() bits of
  // every group.
  static Cycles uncontended_cycles(const std::vector<BeatGroup>& groups,
                                   std::vector<WordCount>* words = nullptr,
                                   uint32_t* mask = nullptr);

 private:
  struct Window {
    uint64_t next = 0;       // first word not yet received
    uint64_t last = 0;       // last word of the beat
    uint32_t size = 1;       // words requested per cycle
    uint32_t head = 0;       // ring position of `next` in `held`
    std::vector<bool> held;  // words next .. next+size-1 already granted
    uint32_t held_count = 0;
  };
  static uint64_t window_size(const BeatGroup& g, unsigned stream);
  static uint32_t min_cycles_of(const BeatGroup& g, uint64_t beat) {
    return g.shapes ? g.shapes[beat].min_cycles : g.min_cycles;
  }
  static bool is_uniform(const BeatGroup& g);
  // Uncontended cycles of a group; `words` receives the words each stream moves. A shaped
  // group's beats' uncontended cycles are also appended to `ends`, if given, as running sums
  // (beats + 1 values from 0).
  static Cycles walk_group(const BeatGroup& g, std::array<uint64_t, kMaxStreams>& words,
                           std::vector<Cycles>* ends = nullptr);

  void enter_group();  // skips empty groups, sets up beat 0
  void enter_beat();
  void finish_beat();                // moves to the next beat or group
  Cycles words_cycles_left() const;  // uncontended cycles to receive the beat's words
  // Uncontended cycles of the current beat, just entered (windows set up, nothing received):
  // max(min_cycles, over streams ceil(words / window)), as walk_group() counts each beat.
  Cycles fresh_beat_cycles() const;
  Cycles current_beat_remaining() const;

  std::vector<BeatGroup> groups_;
  std::vector<Cycles> group_cycles_;  // uncontended cycles of each group
  // Shaped groups: the running sums of their beats' uncontended cycles, from shaped_first_[j]
  // for group j, so that skip() crosses whole beats by a search instead of beat by beat.
  std::vector<Cycles> shaped_ends_;
  std::vector<size_t> shaped_first_;
  size_t group_ = 0;
  bool uniform_ = true;
  uint64_t beat_ = 0;
  uint32_t cycle_in_beat_ = 0;
  Cycles rest_cycles_ = 0;  // uncontended cycles of the beats after the current one
  Cycles later_groups_cycles_ = 0;
  std::array<Window, kMaxStreams> windows_{};
  const Sram* stalled_on_ = nullptr;
  uint64_t beats_finished_ = 0;
};

}  // namespace nmp::hw
