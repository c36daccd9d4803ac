// The timeline file of `run --timeline` and `exec --timeline`: Chrome trace-event JSON, the
// format ui.perfetto.dev and chrome://tracing open. What hw::Timeline recorded becomes:
//   tracks      controller (issue and stall runs, by reason), dma, mac_array, vector_unit (a
//               span per command, named by its mnemonic, with SRAM stall spans inside it),
//               layers (a span per layer), and one per DRAM channel (a span per DMA command
//               from its start to its last burst on that channel);
//   counters    DRAM bandwidth (GB/s: bytes whose burst was through in the interval) and MAC
//               utilization (%: MACs, each command's spread evenly over its cycles, over
//               PEs x cycles), one sample per `interval` cycles; and per SRAM, at every change,
//               how many units stream through each of its port classes.
// Every span's args carry its exact cycles [begin_cycle, end_cycle); ts and dur are those in
// microseconds at the accelerator clock. docs/architecture.md#timeline describes it.
//
// Example:
//   TimelineSink sink(options, top);   // opens the file: an unwritable path fails here
//   sc_start();
//   sink.write(context);               // writes it and renames it into place
#pragma once

#include <array>
#include <fstream>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "hw_models/nmp_top.hpp"
#include "hw_models/timeline.hpp"

namespace nmp::sim {

struct TimelineOptions {
  std::string path;      // empty: no timeline
  std::string vcd_path;  // empty: no waveform (sim/vcd.hpp)
  hw::CycleWindow window;
  hw::Cycles interval = 1024;  // cycles per counter sample
};

// "A:B" (cycles, A < B; B may be empty for the end of the run); throws ConfigError naming
// --timeline-window.
hw::CycleWindow parse_cycle_window(const std::string& text);

// What the file needs beyond the recording.
struct TimelineContext {
  double clock_mhz = 1000.0;
  hw::Cycles cycles = 0;                      // the run's length
  std::vector<hw::LayerEntry> layer_entries;  // every entry into a layer, in order
  std::vector<std::string> layer_names;       // empty entries (or none): "layer N"
  uint64_t pes = 1;                           // MAC array rows x cols
  std::array<std::string, hw::kNumSrams> sram_names;
  std::array<bool, hw::kNumSrams> sram_split_ports{};  // 1r1w: a read and a write port class
  uint32_t dram_channels = 0;  // a standard's (0: the simple channel, no banks)
  uint32_t dram_banks = 0;     // per channel: ranks x banks per rank
};

void write_timeline(std::ostream& out, const hw::Timeline& timeline, const TimelineContext& ctx);

// Records a run for its timeline and waveform files, each written beside its path and renamed
// into place by write(); if the run fails, the partial files are removed.
class TimelineSink {
 public:
  TimelineSink(const TimelineOptions& options, hw::NmpTop& top);
  TimelineSink(const TimelineSink&) = delete;
  TimelineSink& operator=(const TimelineSink&) = delete;
  bool on() const { return timeline_ != nullptr; }
  // Writes the files; warns on standard error if the recording was truncated.
  void write(const TimelineContext& context);

 private:
  // An output being written: `path` + ".partial" until it is complete.
  struct Output {
    explicit Output(const std::string& path);
    ~Output();
    Output(const Output&) = delete;
    Output& operator=(const Output&) = delete;
    void commit();
    std::string path, partial;  // partial: where it is written (input_limits.hpp)
    std::ofstream file;
  };
  std::unique_ptr<hw::Timeline> timeline_;
  std::unique_ptr<Output> timeline_file_, vcd_file_;
};

}  // namespace nmp::sim
