// The documented timing model (docs/architecture.md, docs/isa.md), written out in the tests
// independently of the simulator: SRAM words per beat, the adder-tree gemm, DMA transfers and
// vector passes, for uncontended runs.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "hw_models/arith/format.hpp"
#include "hw_models/mac_array.hpp"
#include "hw_models/nmp_top.hpp"

namespace nmp::test {

inline uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// Words of `word_bytes` touched by bytes [first, first + bytes).
inline uint64_t words(uint64_t first, uint64_t bytes, uint64_t word_bytes) {
  return (first + bytes - 1) / word_bytes - first / word_bytes + 1;
}

inline uint64_t read_ports(hw::PortConfig p) { return p == hw::PortConfig::kTwoRw ? 2 : 1; }
inline uint64_t write_ports(hw::PortConfig p) { return p == hw::PortConfig::kTwoRw ? 2 : 1; }

struct GemmShape {
  uint32_t m, n, k;
  uint64_t act, act_stride, wgt, acc, acc_stride;
  bool accumulate;
};

// The adder-tree timing model of docs/architecture.md#mac-array, written out independently of
// the simulator: per fold a weight-tile load and m beats, overlapped or not, then the drain.
inline uint64_t closed_form_gemm_cycles(const hw::NmpParams& p, const GemmShape& g) {
  const hw::MacArrayParams& mac = p.mac_array;
  const uint64_t per_byte = mac.packing == arith::TernaryPacking::kTwoBit ? 4 : 5;
  const uint64_t weight_bytes = mac.traits().weight_bytes;  // 0: packed ternary
  const uint64_t act_bytes = mac.traits().act_bytes, acc_bytes = mac.traits().acc_bytes;
  const uint64_t wsram_wb = p.weight_sram.width_bits / 8, asram_wb = p.act_sram.width_bits / 8,
                 acc_wb = p.acc_sram.width_bits / 8;
  const uint64_t wsram_cap = p.weight_sram.banks * read_ports(p.weight_sram.ports);
  const uint64_t asram_cap = p.act_sram.banks * read_ports(p.act_sram.ports);
  // On 2rw, a beat's accumulator read and write share the two ports of every bank.
  const bool shared = p.acc_sram.ports == hw::PortConfig::kTwoRw;
  uint64_t time = 0, load_end = 0, compute_end = 0, offset = 0;
  bool first = true;
  for (uint32_t n0 = 0; n0 < g.n; n0 += mac.cols) {
    for (uint32_t k0 = 0; k0 < g.k; k0 += mac.rows) {
      const uint64_t cols = std::min(mac.cols, g.n - n0), rows = std::min(mac.rows, g.k - k0);
      const uint64_t tile = cols * (weight_bytes ? rows * weight_bytes : ceil_div(rows, per_byte));
      const uint64_t load = ceil_div(words(g.wgt + offset, tile, wsram_wb), wsram_cap);
      offset += tile;
      const bool reads_acc = g.accumulate || k0 > 0;
      uint64_t compute = 0;
      for (uint32_t r = 0; r < g.m; ++r) {
        const uint64_t acc_words =
            words(g.acc + r * g.acc_stride + acc_bytes * n0, acc_bytes * cols, acc_wb);
        const uint64_t acc_cap = p.acc_sram.banks * (shared ? (reads_acc ? 1 : 2) : 1);
        const uint64_t act_words =
            words(g.act + r * g.act_stride + k0 * act_bytes, rows * act_bytes, asram_wb);
        compute +=
            std::max({uint64_t{1}, ceil_div(act_words, asram_cap), ceil_div(acc_words, acc_cap)});
      }
      // Fold timeline: the tile loads, then computes once loaded and the array is free.
      const uint64_t load_start = first ? 0 : (mac.weight_preload_overlap ? time : compute_end);
      load_end = load_start + load;
      time = std::max(load_end, compute_end);  // this fold's compute start
      compute_end = time + compute;
      first = false;
    }
  }
  return compute_end + hw::adder_tree_drain_cycles(mac.rows);
}

// A DMA transfer of one row of `bytes` at DRAM and SRAM addresses aligned to the burst and the
// SRAM word (docs/architecture.md#dma): the latency, then one beat per burst.
inline uint64_t dma_row_cycles(const hw::NmpParams& p, const hw::SramParams& sram, uint64_t bytes) {
  const uint64_t burst = p.dram.burst_bytes, wb = sram.width_bits / 8;
  const uint64_t cap = sram.banks * read_ports(sram.ports);
  uint64_t cycles = p.dram.latency_cycles;
  for (uint64_t at = 0; at < bytes; at += burst) {
    const uint64_t seg = std::min(burst, bytes - at);
    cycles += std::max(ceil_div(burst, p.dram.bytes_per_cycle), ceil_div(ceil_div(seg, wb), cap));
  }
  return cycles;
}

// One pass of a vector command over n elements (docs/isa.md#vector-commands): `sets` lists,
// per group of operands that stream together, their element bytes and SRAM; groups follow one
// another; every beat of the first group takes at least `cycles_per_beat`. Operands start on
// word boundaries.
struct VecOperandTiming {
  uint64_t elem_bytes;
  const hw::SramParams* sram;
  bool write;
};
// Groups operands as the vector unit does: each joins the first group where no operand uses the
// same SRAM port class (1rw and 2rw: one class; 1r1w: reads and writes).
inline std::vector<std::vector<VecOperandTiming>> stream_groups(
    const std::vector<VecOperandTiming>& operands) {
  auto port_class = [](const VecOperandTiming& o) {
    return o.sram->ports == hw::PortConfig::kOneROneW && o.write ? 1 : 0;
  };
  std::vector<std::vector<VecOperandTiming>> groups;
  for (const VecOperandTiming& o : operands) {
    auto fits = [&](const std::vector<VecOperandTiming>& g) {
      return std::none_of(g.begin(), g.end(), [&](const VecOperandTiming& q) {
        return q.sram == o.sram && port_class(q) == port_class(o);
      });
    };
    auto it = std::find_if(groups.begin(), groups.end(), fits);
    if (it == groups.end()) {
      groups.push_back({o});
    } else {
      it->push_back(o);
    }
  }
  return groups;
}

inline uint64_t vector_pass_cycles(const std::vector<std::vector<VecOperandTiming>>& sets,
                                   uint64_t n, uint64_t lanes, uint64_t cycles_per_beat) {
  uint64_t cycles = 0;
  for (size_t s = 0; s < sets.size(); ++s) {
    for (uint64_t done = 0; done < n; done += lanes) {
      const uint64_t chunk = std::min(lanes, n - done);
      uint64_t beat = s == 0 ? cycles_per_beat : 1;
      for (const VecOperandTiming& o : sets[s]) {
        const uint64_t wb = o.sram->width_bits / 8;
        const uint64_t cap =
            o.sram->banks * (o.write ? write_ports(o.sram->ports) : read_ports(o.sram->ports));
        beat = std::max(beat, ceil_div(ceil_div(chunk * o.elem_bytes, wb), cap));
      }
      cycles += beat;
    }
  }
  return cycles;
}

// The vector unit of a machine, for timing its commands: one pass over n elements of operands
// grouped as the unit groups them, and the operands it uses most.
struct VectorUnitTiming {
  explicit VectorUnitTiming(const hw::NmpParams& p)
      : vb(arith::make_format(p.vector_unit.math.format)->element_bytes()),
        lanes(p.vector_unit.lanes),
        depth(p.vector_unit.pipeline_depth_cycles),
        vec_in{vb, &p.act_sram, false},
        vec_out{vb, &p.act_sram, true} {}
  uint64_t pass(const std::vector<VecOperandTiming>& ops, uint64_t n,
                uint64_t cycles_per_beat = 1) const {
    return vector_pass_cycles(stream_groups(ops), n, lanes, cycles_per_beat);
  }
  uint64_t vb, lanes, depth;         // vec element bytes, lanes, pipeline depth
  VecOperandTiming vec_in, vec_out;  // vec elements read or written in the act SRAM
};

}  // namespace nmp::test
