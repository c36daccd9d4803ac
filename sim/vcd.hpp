// The waveform file of `run --vcd` and `exec --vcd`: IEEE 1364 value change dump (VCD), as
// GTKWave opens it, from what hw::Timeline recorded (with signals on). One time unit is 1 ps;
// a cycle lasts 10^6 / clock_mhz ps (rounded to whole ps). Signals, under module nmpsim:
//   controller.state   4 bits: 0 issue, 1 queue_full_dma, 2 queue_full_mac,
//                      3 queue_full_vector, 4 hazard_raw, 5 hazard_war, 6 hazard_waw,
//                      7 barrier, 8 drain, 9 branch, 10 halted
//   controller.pc      32 bits: the instruction the controller considers
//   controller.layer   32 bits: the layer whose `layer` instruction ran last
//   <unit>.state       3 bits (dma, mac_array, vector_unit): 0 idle, 1 busy, 2 stalled on a
//                      port of wsram, 3 of asram, 4 of acc
//   <unit>.queue       16 bits: commands waiting in the unit's queue
//   <unit>.sram_ports  6 bits: the SRAM port classes it streams through, bit sram x 2 + class
//                      (SRAMs wsram 0, asram 1, acc 2; class 1: the write port of a 1r1w SRAM)
//   dram.ch<c>.bank<b>.state  2 bits: 0 precharged, 1 a row open, 2 refreshing
//   dram.ch<c>.bank<b>.row    32 bits: the row last opened (b: rank x banks per rank + bank
//                             group x banks per group + bank)
// The header's $comment repeats these encodings. docs/architecture.md#waveforms.
#pragma once

#include <ostream>

#include "hw_models/timeline.hpp"
#include "sim/timeline.hpp"

namespace nmp::sim {

void write_vcd(std::ostream& out, const hw::Timeline& timeline, const TimelineContext& ctx);

}  // namespace nmp::sim
