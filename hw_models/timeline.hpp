// What a run's units did and when, for a timeline viewer (sim/timeline.hpp writes the file).
// The units report to it as they tick; nothing here changes what they do. Recorded, within a
// window of cycles [begin, end) (spans crossing its edges are clipped to it):
//   commands    per queued unit (DMA, MAC array, vector unit): from the cycle a command starts
//               to the cycle after it ends, with its pc, layer and opcode; for the MAC array
//               also its MACs (the `macs` counter's share of the command).
//   SRAM stalls per queued unit: runs of cycles refused a port, with the SRAM (inside a command).
//   controller  runs of cycles that issued an instruction, or stalled for one reason.
//   MACs        a MAC array command's MACs spread evenly over its cycles, binned like the DRAM
//               bytes (the utilization counter).
//   DRAM        per channel, per DMA command: from the command's start to the cycle its last
//               burst on that channel was through; and the bytes of every burst binned by that
//               cycle, `interval` cycles per bin (the bandwidth counter).
// Every change of the SRAM port classes each unit streams through (the port counters); with
// signals on (for waveforms, sim/vcd.hpp), also every change of: the controller's pc, each unit
// queue's occupancy, and each DRAM bank's state and open row. Changes before the window are kept
// as the values the window starts with.
// Because units report at the cycles where something changes, and the default mode ticks every
// such cycle (unit.hpp), default and lockstep runs record the same spans.
//
// Example:
//   Timeline timeline({0, kNever}, 1024, Timeline::kDefaultMaxSpans);
//   top.set_timeline(&timeline);  sc_start();
//   for (const Timeline::Span& s : timeline.spans()) ...
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "hw_models/command.hpp"
#include "hw_models/cycles.hpp"
#include "hw_models/dram_channel.hpp"
#include "isa/isa.hpp"

namespace nmp::hw {

struct CycleWindow {
  Cycles begin = 0;
  Cycles end = kNever;  // exclusive
};

class Timeline {
 public:
  enum class SpanKind : uint8_t { kCommand, kSramStall, kController, kDramChannel };
  // Tracks: one per unit (by isa::Unit: controller, dma, mac_array, vector_unit), then one per
  // DRAM channel.
  static constexpr uint32_t kFirstDramTrack = 4;
  struct Span {
    Cycles begin = 0, end = 0;  // [begin, end)
    uint64_t work = 0;          // a MAC array command's MACs; a DRAM span's bytes
    uint32_t pc = 0, layer = 0;
    uint32_t track = 0;
    isa::Opcode opcode = isa::Opcode::kNop;
    SpanKind kind = SpanKind::kCommand;
    uint8_t reason = 0;  // kSramStall: the SRAM's id; kController: the IssueStall (0: issue)
  };
  enum class Signal : uint8_t { kPc, kQueue, kBankState, kBankRow, kPorts };
  struct Change {
    Cycles at = 0;
    uint64_t value = 0;
    uint32_t channel = 0;  // kBank*: the DRAM channel
    uint32_t index = 0;    // kQueue, kPorts: the isa::Unit; kBank*: the bank in its channel
    Signal signal = Signal::kPc;
  };
  // Past `max_spans` spans (or signal changes), recording stops and truncated() says so.
  static constexpr size_t kDefaultMaxSpans = size_t{1} << 21;

  Timeline(CycleWindow window, Cycles interval, size_t max_spans);

  void command(isa::Unit unit, const Command& cmd, Cycles begin, Cycles end, uint64_t work);
  void sram_stall(isa::Unit unit, uint32_t sram, Cycles at);  // one cycle
  void controller(uint8_t state, Cycles at, Cycles n);        // n cycles in one state
  void dram_channel(uint32_t channel, const Command& cmd, Cycles begin, Cycles end, uint64_t bytes);
  void dram_burst(Cycles done, uint64_t bytes);

  void record_signals() { signals_ = true; }
  bool signals() const { return signals_; }
  void pc(Cycles at, uint32_t pc);  // from cycle `at` on
  void queue(isa::Unit unit, Cycles at, size_t occupancy);
  // The SRAM port classes a queued unit streams through from cycle `at` on (its sram_use():
  // bit sram id x 2 + port class); recorded with or without signals, for the port counters.
  void ports(isa::Unit unit, Cycles at, uint32_t mask);
  // A bank's change of state, at accelerator cycle `at`.
  void bank(uint32_t channel, Cycles at, const BankChange& change);
  // The changes in the window, in the order they were recorded (not always that of `at`).
  const std::vector<Change>& changes() const { return changes_; }
  // Per signal, the last change before the window.
  std::vector<Change> initial_values() const;

  const std::vector<Span>& spans() const { return spans_; }
  CycleWindow window() const { return window_; }
  Cycles interval() const { return interval_; }
  // Bytes through the DRAM channels in bin i: cycles [window.begin + i x interval, + interval).
  const std::vector<uint64_t>& dram_bins() const { return dram_bins_; }
  // MACs in bin i (commands spread evenly over their cycles).
  const std::vector<double>& mac_bins() const { return mac_bins_; }
  // Stops recording (a producer's own log ran past the limit at cycle `at`).
  void truncate(Cycles at);
  size_t max_spans() const { return max_spans_; }
  bool truncated() const { return truncated_; }
  Cycles truncated_at() const { return truncated_at_; }

 private:
  // Clips [begin, end) to the window; false if nothing of it is left or recording stopped.
  bool clip(Cycles& begin, Cycles& end);
  Span* push(const Span& span);
  // A run of cycles in one state: extends the track's last run of the same kind and reason if
  // it ends at `begin`, else starts one.
  void run(uint32_t track, SpanKind kind, uint8_t reason, Cycles begin, Cycles end);
  void command_span(uint32_t track, SpanKind kind, const Command& cmd, Cycles begin, Cycles end,
                    uint64_t work);
  // The bin of cycle `at` (in the window), growing `bins` to hold it; nullptr past the limit.
  template <class T>
  T* bin(std::vector<T>& bins, Cycles at);
  void spread_macs(uint64_t macs, Cycles begin, Cycles end);
  void change(const Change& c, bool always = false);

  CycleWindow window_;
  Cycles interval_;
  size_t max_spans_;
  std::vector<Span> spans_;
  std::array<size_t, kFirstDramTrack> last_run_{};  // per unit track: its last run's index + 1
  std::vector<uint64_t> dram_bins_;
  std::vector<double> mac_bins_;
  bool signals_ = false;
  std::vector<Change> changes_;
  std::map<std::tuple<Signal, uint32_t, uint32_t>, Change> before_window_;
  bool truncated_ = false;
  Cycles truncated_at_ = 0;
};

}  // namespace nmp::hw
