// The analytical model: a program's cycles without cycle simulation.
//
// It follows the controller's rules (controller.hpp) instruction by instruction: one
// instruction per cycle, a bubble after a taken branch, bounded in-order unit queues, the
// scoreboard's hazards between units, sync and halt waiting for units to drain. Each unit
// command alone takes:
//   gemm    MacArray::uncontended_gemm_cycles, the array's engines' own closed form;
//   vector  its beats (VectorCommands) at their uncontended cycles;
//   DMA     the DRAM's first-data latency, then the bursts its rows touch at the DRAM's
//           sustained rate (dram_rate: measured once on the configured DRAM's own model), or
//           on a DRAM standard, rows strided apart at the per-row rate its model shows for
//           that row size and stride (measured once per shape).
// Commands in flight together share the SRAMs' ports in the units' priority order, as rates
// (analytical.cpp, `Units`): a command slows where the units before it take ports it needs.
// So the estimate has the simulation's order and dependences, and leaves out what only the
// cycle-by-cycle arbitration shows (which bank each word falls in, and when), and a standard
// DRAM's row misses, turnarounds, refresh and bank conflicts beyond what its sustained rate
// averages over a long read. A gather's rows are priced as if aligned to bursts.
//
// Example:
//   const ProgramEstimate e =
//       estimate_program(params, program, dram_bytes, dram_rate(params.dram));
#pragma once

#include <map>
#include <utility>
#include <vector>

#include "hw_models/nmp_top.hpp"

namespace nmp::hw {

// The DRAM as the analytical model and the mapper see it: bytes per accelerator cycle on a
// long sequential read, and the cycles a command waits for its first data. The simple
// channel's are its parameters; a standard's are measured on its model: the rate serving a
// 2 MiB read from cycle 0 (about ten refresh intervals: a shorter read meets fewer refreshes
// than a long one does on average; as `nmpsim dram` would measure it); the latencies on a
// 512 KiB read with refresh never due, whose first burst finds its bank closed, then one more
// burst in the row the read left open (a hit), and one in another row of that bank (a
// conflict).
struct DramRate {
  double bytes_per_cycle = 0, latency_cycles = 0;
  double hit_latency_cycles = 0, conflict_latency_cycles = 0;
  // Cycles per burst of the long read over those of the read with refresh never due, past
  // their first bursts: refresh's share of a stream's time (1 on the simple channel).
  double refresh_stretch = 1;
};
DramRate dram_rate(const DramParams& dram);

// The units (DRAM bursts, SRAM words) that `rows` rows of `bytes` (>= 1) touch, `stride` apart
// from `first`, each row counted alone (rows that share a unit count it twice): in closed form,
// whatever the stride.
uint64_t units_touched(uint64_t first, uint64_t rows, uint64_t stride, uint64_t bytes,
                       uint64_t unit);

// The cycles per row of a run of rows of `row_bytes` every `stride` bytes on a DRAM standard,
// measured once per shape on its own model (as dram_rate measures a sequential read): the last
// row's data after the first row's, over a run of up to 64 rows and about 1024 bursts, without
// refresh (too short a run to meet it as often as on average), then stretched by refresh's
// average share of a long read's time. Strided rows each open other DRAM rows and banks, so
// they move at this rate, not a long sequential read's.
class DramRowRate {
 public:
  DramRowRate(const DramParams& dram, const DramRate& rate) : dram_(dram), rate_(rate) {}
  double row_cycles(uint64_t row_bytes, uint64_t stride);
  const DramRate& rate() const { return rate_; }
  // What was measured, by row bytes and stride; and a rate measured elsewhere on the same DRAM
  // (another process's: a sweep's first point).
  const std::map<std::pair<uint64_t, uint64_t>, double>& measured() const { return cycles_; }
  void add_measured(uint64_t row_bytes, uint64_t stride, double cycles) {
    cycles_.emplace(std::pair{row_bytes, stride}, cycles);
  }

 private:
  DramParams dram_;
  DramRate rate_;
  std::map<std::pair<uint64_t, uint64_t>, double> cycles_;  // by row bytes and stride
};

// The row each bank of a DRAM standard was left open on by the commands so far: each command's
// last 64 bursts (where the next command, going on where it ended, finds them). What the
// analytical model prices a command's first data by (a hit, a conflict or a closed bank).
class OpenRows {
 public:
  static constexpr uint32_t kClosed = UINT32_MAX;
  // `by_table` false: every burst decoded field by field (what the tables must equal; tests).
  explicit OpenRows(const DramParams& dram, bool by_table = true);
  // `rows` rows of `row_bytes` bytes, `stride` apart from `first`.
  void leave(uint64_t first, uint64_t rows, uint64_t row_bytes, uint64_t stride);
  // The row the bank of `address` is open on, or kClosed.
  uint32_t row_of_bank(uint64_t address) const { return rows_[layout_.bank(address)]; }
  const Dram::AddressLayout& layout() const { return layout_; }
  const std::vector<uint32_t>& rows() const { return rows_; }  // by AddressLayout::bank

 private:
  // Bursts [from, from + n) leave their banks open on their rows.
  void open_run(uint64_t from, uint64_t n);
  Dram::AddressLayout layout_;
  uint64_t burst_ = 0;
  std::vector<uint32_t> rows_;
  // The bank and row parts of every combination of the address fields below the column (none:
  // more than kMaxLowBits of them, bursts of other than a power of two bytes, or not by table:
  // decoded field by field instead).
  static constexpr uint32_t kMaxLowBits = 12;
  uint32_t burst_shift_ = 0, above_shift_ = 0;
  uint64_t low_mask_ = 0;
  std::vector<uint32_t> low_bank_, low_row_;
  // The fields above the column of the last stretch applied (in bursts), and their parts.
  uint64_t above_ = UINT64_MAX;
  uint32_t above_bank_ = 0, above_row_ = 0;
};

struct LayerEstimate {
  Cycles start = 0;         // the cycle its first `layer` instruction executes
  Cycles cycles = 0;        // from each entry into it to the next layer's (layer_times)
  uint64_t dram_bytes = 0;  // DMA payload on the DRAM side
  uint64_t macs = 0;
  uint64_t dma_commands = 0, mac_commands = 0, vector_commands = 0;
  Cycles dma_busy = 0, mac_busy = 0, vector_busy = 0;  // its commands' cycles, by unit
};

struct ProgramEstimate {
  Cycles cycles = 0;  // the halt's cycle + 1, as the simulation counts them
  uint64_t instructions = 0;
  std::vector<LayerEstimate> layers;  // by layer id
};

// Throws SimulationError for what the simulation would refuse (an invalid command, a pc past
// the program's end, more than params.max_instructions executed or params.max_cycles
// reached). `dram_bytes`: the DRAM's size, which commands must stay within. `rows`: the
// strided rows' rates measured so far on params.dram (the lowering's, whose mapper measured
// most of the shapes the program uses); null: measured here.
ProgramEstimate estimate_program(const NmpParams& params, const isa::Program& program,
                                 uint64_t dram_bytes, const DramRate& rate,
                                 DramRowRate* rows = nullptr);

}  // namespace nmp::hw
