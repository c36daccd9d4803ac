// What every lowering needs to place weights: the SRAM geometry, weight tiles that fit a budget
// of weight SRAM, and the bytes of a tile as the array reads them (weight_layout.hpp).
//
// Example:
//   const Geometry g = geometry_of(hw);
//   WeightTiling t = tile_weights(n, k, g.wgt_half, g);   // t.n_tile, t.k_tile (0: no fit)
//   write_weight_tile(at, n0, nt, k0, kt, g, dram + offset);
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "hw_models/arith/ternary.hpp"
#include "hw_models/nmp_top.hpp"

namespace nmp::workloads {

inline uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// Writes elements of `element_bytes` each (little-endian patterns) at image[at...].
inline void put_patterns(hw::ZeroPages& image, uint64_t at, const std::vector<uint32_t>& patterns,
                         uint64_t element_bytes) {
  for (size_t i = 0; i < patterns.size(); ++i)
    std::memcpy(&image[at + i * element_bytes], &patterns[i], element_bytes);
}

// Where the lowerings place tensors: one after another, each starting on an `align`-byte
// boundary. In DRAM a 64-byte one (a burst of the default DRAM); in an SRAM, a word.
inline constexpr uint64_t kDramAlign = 64;
class RegionAllocator {
 public:
  explicit RegionAllocator(uint64_t align = kDramAlign) : align_(align) {}
  uint64_t operator()(uint64_t bytes) {
    const uint64_t at = top_;
    top_ = round_up(top_ + bytes, align_);
    return at;
  }
  uint64_t top() const { return top_; }  // the bytes allocated so far

 private:
  uint64_t align_;
  uint64_t top_ = 0;
};

struct Geometry {
  hw::WeightLayout layout;
  hw::PeTraits traits;
  uint64_t act_word, acc_word, wgt_word;  // SRAM word bytes
  uint64_t wgt_words_per_cycle;           // the weight SRAM's banks x read ports
  uint64_t act_cap, acc_cap, wgt_cap, wgt_half;
  bool int_kind;
};
Geometry geometry_of(const hw::NmpParams& hw);

// Reduction tile: all of k if one array column block of it fits `budget`, else the largest
// multiple of the array's rows that does; output tile: as many array columns as then fit.
// k_tile = 0 when not even one array tile fits.
struct WeightTiling {
  uint32_t n_tile = 0, k_tile = 0;
};
WeightTiling tile_weights(uint32_t n, uint32_t k, uint64_t budget, const Geometry& g);

// One tile of a weight matrix: outputs [n0, n0 + nt) x inputs [k0, k0 + kt), `bytes` as the
// array reads them, at `dram` once placed.
struct WeightTile {
  uint32_t n0, nt, k0, kt;
  uint64_t bytes;
  uint64_t dram = 0;
};
// Every tile of an n x k matrix in the order a streamed gemm reads them (streamed_gemm.hpp):
// output blocks outer, reduction blocks inner, edge tiles last in each.
std::vector<WeightTile> weight_tiles(uint32_t n, uint32_t k, const WeightTiling& t,
                                     const Geometry& g);

// Writes the weights of outputs [n0, n0+nt) x inputs [k0, k0+kt) as the array reads them.
// `at(n, k)` (positions as uint64_t) gives the weight of output n, input k: a trit (as a
// two's-complement int8) for ternary PEs, else the pattern of the PE kind's weight format. A
// template, not a std::function: it runs for every weight of a model.
template <class WeightAt>
void write_weight_tile(const WeightAt& at, uint32_t n0, uint32_t nt, uint32_t k0, uint32_t kt,
                       const Geometry& g, uint8_t* out) {
  const bool ternary = g.layout.pe == hw::PeKind::kTernaryInt8;
  // Staged as uint32: stores of int8 may alias anything, and made `at` reload its tensor's
  // pointers for every weight.
  std::vector<uint32_t> staged;
  std::vector<int8_t> trits;
  auto write_row = [&](const hw::WeightBlock& b, uint32_t r) {
    const uint32_t length = b.row_length();
    uint8_t* row = out + b.offset + r * b.row_bytes;
    // Position i of block row r: along k for an output-major block, along n otherwise.
    const uint32_t n = n0 + b.n0 + (b.n_major ? r : 0), k = k0 + b.k0 + (b.n_major ? 0 : r);
    // 64-bit positions, so that a row's indices are affine in i (a uint32 sum may wrap) and
    // its loop vectorizes.
    auto weight = [&](uint32_t i) {
      return b.n_major ? at(n, uint64_t{k} + i) : at(uint64_t{n} + i, k);
    };
    if (ternary) {
      staged.resize(length);
      for (uint32_t i = 0; i < length; ++i) staged[i] = weight(i);
      trits.assign(staged.begin(), staged.end());
      arith::pack_trits(trits.data(), length, g.layout.packing, row);
    } else {
      for (uint32_t i = 0; i < length; ++i) {
        const uint32_t p = weight(i);
        std::memcpy(row + uint64_t{i} * g.traits.weight_bytes, &p, g.traits.weight_bytes);
      }
    }
  };
  // Output-major blocks a band at a time (the blocks of the same outputs, which come one after
  // another), row by row across the band: each output's weights are then read in order along
  // k, where block by block they would be read as many short runs as the band has rows, a
  // stride apart (a band of 64 outputs, 64 streams, which the host's prefetchers do not follow).
  const std::vector<hw::WeightBlock> blocks = hw::weight_blocks(nt, kt, g.layout);
  for (size_t first = 0; first < blocks.size();) {
    size_t end = first + 1;
    while (end < blocks.size() && blocks[first].n_major && blocks[end].n0 == blocks[first].n0)
      ++end;
    for (uint32_t r = 0; r < blocks[first].rows(); ++r) {
      for (size_t b = first; b < end; ++b) write_row(blocks[b], r);
    }
    first = end;
  }
}
// Writes each tile at its DRAM address in `image`.
template <class WeightAt>
void write_weight_tiles(const WeightAt& at, const std::vector<WeightTile>& tiles, const Geometry& g,
                        hw::ZeroPages& image) {
  for (const WeightTile& t : tiles)
    write_weight_tile(at, t.n0, t.nt, t.k0, t.kt, g, image.data() + t.dram);
}

}  // namespace nmp::workloads
