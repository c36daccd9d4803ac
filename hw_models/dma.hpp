// The DMA engine: moves 2-D blocks (rows x row_bytes, with strides) between DRAM and the
// on-chip SRAMs, or from one SRAM to another (dma.copy), one command at a time.
//
// Timing of a command (docs/architecture.md#dma): each row is cut at DRAM burst boundaries; every
// burst a row touches moves whole on the channel. The memory system (dram.hpp) says when each
// burst's data is through: the simple channel after dram.latency_cycles (loads) and
// bytes_per_cycle (exactly: burst i after (i + 1) bursts' bytes); a standard by simulating its
// controllers. The SRAM side is one beat per burst (bursts through in one cycle and adjacent in
// the SRAM share a beat): a beat writes (loads) or reads (stores) the SRAM words it covers, in
// chunks of the SRAM's words per cycle, and ends no earlier than its burst is through and one
// cycle after the previous beat; a beat that the SRAM delays delays the following ones (the
// DMA holds one burst). A simple store then waits dram.latency_cycles for the write
// acknowledgement. A gather reads its indices first. A load or store with `convert` moves
// activation rows between elements of the DRAM's activation format and of the vector format
// (or the MAC array's activation format), each rounded once on the way; each burst's piece of the
// SRAM side is then the vector elements it completes. Abstracted: one outstanding command; a
// standard store's data is taken as ready from the command's start; the conversion adds no cycles
// (a pipelined converter per beat). A copy moves each row in one beat that reads the source
// SRAM's words and writes the destination's, each at its words per cycle, the two in parallel.
//
// Example:
//   Dma dma("dma", dram, srams, "fp32", queue_depth, scoreboard);
#pragma once

#include <array>
#include <memory>
#include <systemc>

#include "hw_models/arith/convert.hpp"
#include "hw_models/arith/format.hpp"
#include "hw_models/beat_cursor.hpp"
#include "hw_models/dram.hpp"
#include "hw_models/unit.hpp"

namespace nmp::hw {

struct DmaStats {
  uint64_t loads = 0;
  uint64_t stores = 0;
  uint64_t copies = 0;
  uint64_t busy_latency = 0;   // waiting for DRAM latency
  uint64_t busy_transfer = 0;  // moving data
  uint64_t conversions = 0;    // elements converted between DRAM's activation format and another
  uint64_t saturations = 0;    // ... of which beyond the destination format's largest value
  std::array<uint64_t, kNumSrams> stall_sram{};
  // `vector_class`: the vector format's class, which prices a conversion (as vcvt's).
  void visit(const std::array<Sram*, kNumSrams>& srams, const std::string& vector_class,
             const CounterFn& fn) const;
};

class Dma : public sc_core::sc_module, public QueuedUnit {
 public:
  // One beat of the SRAM side: bytes landing at (or leaving) consecutive SRAM addresses, done
  // no earlier than cycle `end`.
  struct SramBeat {
    uint64_t sram = 0;
    uint64_t bytes = 0;
    Cycles end = 0;
  };

  // `vector_format` and `array_format` (the MAC array's activations): what `convert`
  // transfers turn DRAM's dram.activation_format (empty: the vector format) into and back.
  Dma(sc_core::sc_module_name name, Dram& dram, std::array<Sram*, kNumSrams> srams,
      const std::string& vector_format, const std::string& array_format, uint32_t queue_depth,
      Scoreboard& scoreboard);

  // What a command's footprint depends on: the memories' sizes and the element sizes that
  // `convert` transfers change between.
  struct Spaces {
    std::array<Sram*, kNumSrams> srams{};
    uint64_t dram_bytes = 0;
    uint64_t vec_element_bytes = 4, array_element_bytes = 1, dram_element_bytes = 4;
    // The SRAM side's element bytes under a conversion (isa::dma::Conversion), 0: none.
    uint64_t sram_element_bytes(uint64_t conversion) const {
      if (conversion == isa::dma::kNoConversion) return 0;
      return conversion == isa::dma::kToArray ? array_element_bytes : vec_element_bytes;
    }
  };
  Footprint footprint(const Command& cmd) const override;
  // Regions a command reads and writes; throws SimulationError for an invalid one.
  static Footprint command_footprint(const Spaces& spaces, const Command& cmd);
  // A dma.copy's beats: one per row, reading its source and writing its destination.
  static BeatGroup copy_beats(const std::array<Sram*, kNumSrams>& srams, const Command& cmd);
  void visit_counters(uint32_t layer, const CounterFn& fn) const override;
  uint32_t layer_count() const override { return static_cast<uint32_t>(stats_.size()); }

 protected:
  void begin(const Command& cmd, Cycles now) override;
  bool step(Cycles now) override;
  Cycles op_quiet_cycles(Cycles /*now*/) const override { return cursor_.quiet_cycles(); }
  void op_skip(Cycles now, Cycles n) override;
  uint32_t op_sram_use() const override { return cursor_.sram_use_mask(); }
  Cycles op_sram_idle_cycles() const override { return cursor_.idle_cycles(); }
  const std::array<uint64_t, kNumSrams>& stall_counts() override { return stats().stall_sram; }

 private:
  void begin_copy(const Command& cmd);
  // Reports the transfer's bursts and channel spans to the timeline.
  void record_transfer(const Command& cmd, Cycles start) const;
  DmaStats& stats() { return stats_for_layer<DmaStats>(stats_, current().layer); }
  bool in_latency() const;
  // The converter from `load`'s source to its destination, `to_array` choosing the array's
  // format over the vector unit's on the SRAM side; built on first use (runs without values
  // convert nothing).
  const arith::ElementConverter& converter(bool load, bool to_array);
  // The SRAM bytes of the elements a transfer's first `dram_bytes` bytes complete, its SRAM
  // elements `sram_element` bytes each (0: no conversion).
  uint64_t sram_offset(uint64_t sram_element, uint64_t dram_bytes) const {
    return sram_element ? dram_bytes / spaces_.dram_element_bytes * sram_element : dram_bytes;
  }

  Dram& dram_;
  std::array<Sram*, kNumSrams> srams_;
  std::unique_ptr<arith::NumberFormat> vec_format_;
  std::unique_ptr<arith::NumberFormat> array_format_;
  std::unique_ptr<arith::NumberFormat> dram_format_;  // of activations
  // By direction (load, store) and SRAM format (vector unit's, array's).
  std::array<std::array<std::unique_ptr<arith::ElementConverter>, 2>, 2> converters_;
  Spaces spaces_;
  BeatCursor cursor_;
  std::vector<DmaStats> stats_;
  // Scratch of begin(), kept to reuse their storage: a command's bursts, the part of each the
  // SRAM sees, when each is through the channel, the SRAM beats and their shapes (which the
  // cursor's shaped groups point into until the command ends), and the beat groups.
  std::vector<uint64_t> bursts_;
  std::vector<SramBeat> pieces_;
  std::vector<Cycles> ready_;
  std::vector<SramBeat> beats_;
  std::vector<BeatShape> shapes_;
  std::vector<BeatGroup> groups_;
};

}  // namespace nmp::hw
