#include "workloads/linear_mapping.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <tuple>
#include <vector>

#include "hw_models/weight_layout.hpp"
#include "workloads/program_builder.hpp"

namespace nmp::workloads {

namespace {

constexpr uint64_t kMaxRowBytes = (uint64_t{1} << 24) - 1;  // dma row_bytes, gemm strides
constexpr uint32_t kMaxRows16 = 65535;                      // dma rows, gemm m and n
constexpr uint64_t kNumConstBytes = 2;                      // 127 and s_W / 127, in vec
// An overlapped epilogue is unrolled a chunk of rows at a time: its code grows with them.
constexpr uint64_t kMaxOverlappedChunks = 4;
// Resident slices leave each chunk of an epilogue at least this many rows (or all): the more
// slices stay, the more chunks each block's epilogue stores; the score decides.
constexpr uint64_t kResidentChunkRows[] = {8, 16, 32, 64};

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// f(nt, kt) summed over the tiles of an n x k matrix cut into nb x kt tiles.
uint64_t over_tiles(uint32_t n, uint32_t k, uint32_t nb, uint32_t kt,
                    const std::function<uint64_t(uint32_t, uint32_t)>& f) {
  const uint64_t nf = n / nb, kf = k / kt;
  const uint32_t ne = n % nb, ke = k % kt;
  uint64_t sum = nf * kf * f(nb, kt);
  if (ke) sum += nf * f(nb, ke);
  if (ne) sum += kf * f(ne, kt) + (ke ? f(ne, ke) : 0);
  return sum;
}

// f(rows) summed over the tiles of m rows cut into tiles of mt.
uint64_t over_rows(uint32_t m, uint32_t mt, const std::function<uint64_t(uint32_t)>& f) {
  return uint64_t{m / mt} * f(mt) + (m % mt ? f(m % mt) : 0);
}

struct Scorer {
  const LinearShape& s;
  const MapperContext& c;

  uint64_t weight_bytes(const WeightTiling& t) const {
    return over_tiles(s.n, s.k, t.n_tile, t.k_tile, [&](uint32_t nt, uint32_t kt) {
      return hw::weight_operand_bytes(nt, kt, c.g.layout);
    });
  }
  uint64_t tile_count(const WeightTiling& t) const {
    return ceil_div(s.n, t.n_tile) * ceil_div(s.k, t.k_tile);
  }
  // MAC array cycles of a gemm of `rows` rows over one nt x kt weight tile.
  uint64_t tile_gemm_cycles(uint32_t nt, uint32_t kt, uint32_t rows) const {
    const uint32_t R = c.g.layout.array_rows, C = c.g.layout.array_cols;
    // A stationary tile's load: the adder tree reads the whole tile across the weight SRAM's
    // banks at once; the systolic arrays shift it in a row per cycle.
    const uint64_t tile_words = ceil_div(
        hw::weight_operand_bytes(std::min(C, s.n), std::min(R, s.k), c.g.layout), c.g.wgt_word);
    const uint64_t load = c.g.layout.dataflow == hw::Dataflow::kAdderTree
                              ? ceil_div(tile_words, c.g.wgt_words_per_cycle)
                              : tile_words;
    const uint64_t row_cycles = std::max<uint64_t>(
        1, ceil_div(uint64_t{std::min(C, s.n)} * c.g.traits.acc_bytes, c.acc_bytes_per_cycle));
    const uint64_t streamed = rows * row_cycles;
    const uint64_t per_fold =
        c.preload_overlap ? std::max<uint64_t>(streamed, load) : streamed + load;
    return per_fold * ceil_div(nt, C) * ceil_div(kt, R);
  }
  // A DMA command of `bytes`: its latency, then its bytes at the DRAM's sustained rate.
  double transfer(uint64_t bytes) const {
    return c.dma_latency_cycles + static_cast<double>(bytes) / c.dram_bytes_per_cycle;
  }
  // `rows` rows of `row_bytes` every `stride` bytes in one DMA command: strided rows on a
  // standard at the rate its model shows for that shape.
  double transfer_rows(uint64_t rows, uint64_t row_bytes, uint64_t stride) const {
    if (c.dram_rows == nullptr || rows < 2 || stride <= row_bytes)
      return transfer(rows * row_bytes);
    return c.dma_latency_cycles +
           static_cast<double>(rows) * c.dram_rows->row_cycles(row_bytes, stride);
  }
  // Vector unit beats of one command over `rows` rows of `elements` moving `bytes` bytes of the
  // activation SRAM per element: per lane group, the cycles the SRAM takes to move them (at
  // least one), then the pipeline's drain.
  double vector(uint64_t rows, uint64_t elements, uint64_t bytes) const {
    const uint64_t per_group =
        std::max<uint64_t>(1, ceil_div(uint64_t{c.vector_lanes} * bytes, c.act_bytes_per_cycle));
    return static_cast<double>(rows * ceil_div(elements, c.vector_lanes) * per_group +
                               c.vector_pipeline_cycles);
  }
  // Quantizing `rows` rows. Integer kinds: absmax (reads the rows), its reciprocal and the
  // scale (per row), scaling and rounding in one pass (a beat per row for its scale, then the
  // rows read as vec and written as act), the factor (per row); others: rounding.
  double quantize_work(uint64_t rows) const {
    const uint64_t vb = c.vec_bytes, ab = c.g.traits.act_bytes;
    if (!c.int_kind) return vector(rows, s.k, vb + ab);
    return vector(rows, s.k, vb) + 3 * vector(1, rows, 3 * vb) + vector(rows, s.k, vb + ab) +
           static_cast<double>(rows);
  }
  // Loading and quantizing `rows` rows.
  double quantize(uint64_t rows) const {
    return transfer(rows * s.k * c.tensor_bytes) + quantize_work(rows);
  }
  // The vector work of converting `rows` x `nt` accumulators in one vact (x factor, + bias, a
  // fused function): per row the factor's beat (integer kinds), then the converted rows written
  // to the activation SRAM and the bias read beside them (the accumulators come from their own
  // SRAM). A fused add's or mul's other input is read in the same pass where the layer has no
  // bias (vact's bias rows); beside a bias, a vbin after it reads both operands and writes. A
  // fused rotary embedding is one vrope after it: per row a pass reading the row's cosines and
  // sines, then one reading and writing its heads.
  double epilogue_work(uint64_t rows, uint64_t nt) const {
    const uint64_t vb = c.vec_bytes;
    const bool binary = s.fused == FusedOp::kBinary;
    const double rope = s.fused == FusedOp::kRope
                            ? vector(rows, s.rope_head_dim / 2, 2 * vb) + vector(rows, nt, 2 * vb) -
                                  static_cast<double>(c.vector_pipeline_cycles)
                            : 0.0;
    return vector(rows, nt, vb + (s.has_bias || binary ? vb : 0)) + (c.int_kind ? rows : 0) +
           (binary && s.has_bias ? vector(rows, nt, 3 * vb) : 0.0) + rope;
  }
  // The store of `rows` x `nt` converted outputs (or the load of a fused operand's).
  double epilogue_io(uint64_t rows, uint64_t nt) const {
    return transfer_rows(rows, nt * c.tensor_bytes, s.n * c.tensor_bytes);
  }
  // ... and storing them (a fused add or mul: its other input's rows loaded first).
  double epilogue(uint64_t rows, uint64_t nt) const {
    return (s.fused == FusedOp::kBinary ? 2 : 1) * epilogue_io(rows, nt) + epilogue_work(rows, nt);
  }
  // The same over chunks of `chunk` rows. Pipelined (two sets of chunk buffers), each chunk is
  // converted while the one before it stores (and the next one's other input loads): the first
  // chunk's work and the last's transfers exposed, between them the longer of each chunk's work
  // and transfers; else one chunk after another, each its transfers and work in turn.
  double chunked_epilogue(uint64_t rows, uint64_t nt, uint64_t chunk, bool pipelined) const {
    const uint64_t full = rows / chunk, edge = rows % chunk;
    if (!pipelined) {
      return static_cast<double>(full) * epilogue(chunk, nt) + (edge ? epilogue(edge, nt) : 0.0);
    }
    const bool binary = s.fused == FusedOp::kBinary;
    const uint64_t first = std::min(rows, chunk), last = edge ? edge : chunk;
    double t =
        (binary ? epilogue_io(first, nt) : 0.0) + epilogue_work(first, nt) + epilogue_io(last, nt);
    const auto step = [&](uint64_t r) {  // chunk r's work beside the previous store
      return std::max(epilogue_work(r, nt), (binary ? 2 : 1) * epilogue_io(r, nt));
    };
    if (full > 0) t += static_cast<double>(full - 1) * step(chunk);
    if (full > 0 && edge) t += step(edge);
    return t;
  }
  // What every order does once: the constants and the bias in.
  double setup() const {
    return transfer(kNumConstBytes * c.vec_bytes) + (s.has_bias ? transfer(s.n * c.vec_bytes) : 0);
  }
  // f(nt) summed over the output blocks of n cut into blocks of nb.
  double over_blocks(uint32_t nb, const std::function<double(uint32_t)>& f) const {
    return static_cast<double>(s.n / nb) * f(nb) + (s.n % nb ? f(s.n % nb) : 0);
  }
  // The weight tiles of output blocks through the weight SRAM's two halves: the first tile's
  // load, then each gemm beside the next tile's load. Its cycles are the longer of all the
  // loads with the last tile's gemm and the first load with every gemm.
  struct Stream {
    double loads = 0, first = 0, gemms = 0, last = 0;
    double cycles() const { return std::max(loads + last, first + gemms); }
  };
  // One output block of nt outputs, rows x k: each tile's weights, and (`act_stride`, the
  // bytes between the rows in DRAM, nonzero) the rows' slice of its inputs streamed beside them,
  // `act_dram_bytes` per input in DRAM, but for the first `resident` tiles (already on chip).
  Stream block(uint32_t nt, uint32_t kt, uint32_t rows, uint64_t act_stride,
               uint64_t act_dram_bytes, uint32_t resident = 0) const {
    const auto load = [&](uint32_t kk, bool with_act) {
      return transfer(hw::weight_operand_bytes(nt, kk, c.g.layout)) +
             (act_stride && with_act ? transfer_rows(rows, kk * act_dram_bytes, act_stride) : 0.0);
    };
    const uint32_t full = s.k / kt, edge = s.k % kt;
    const uint32_t full_resident = std::min(full, resident);
    Stream b;
    b.loads = full_resident * load(kt, false) + (full - full_resident) * load(kt, true) +
              (edge ? load(edge, resident <= full) : 0.0);
    b.first = load(std::min(kt, s.k), resident == 0);
    b.gemms = static_cast<double>(full * tile_gemm_cycles(nt, kt, rows) +
                                  (edge ? tile_gemm_cycles(nt, edge, rows) : 0));
    // Streamed slices written into an activation SRAM whose one port the array reads through:
    // the DMA's beats take the port from the array while they arrive (the DRAM delivers them
    // slower than the port serves), so the array loses the slices' port cycles. (Which
    // mappings this favours, the lowering's analytical estimate checks: graph.cpp.)
    if (act_stride && c.act_port_shared) {
      const uint64_t streamed_inputs =
          uint64_t{full - full_resident} * kt + (edge && resident <= full ? edge : 0);
      b.gemms += static_cast<double>(uint64_t{rows} * streamed_inputs * c.g.traits.act_bytes) /
                 static_cast<double>(c.act_bytes_per_cycle);
    }
    b.last = static_cast<double>(tile_gemm_cycles(nt, edge ? edge : kt, rows));
    return b;
  }
  void finish(LinearMapping& m, double cycles) const {
    m.predicted_cycles = static_cast<uint64_t>(std::ceil(cycles));
    const double macs = static_cast<double>(s.m) * s.n * s.k;
    m.energy_pj = static_cast<double>(m.dram_bytes) * c.costs.dram_pj_per_byte +
                  macs * c.costs.mac_pj +
                  static_cast<double>(m.cycles()) * c.costs.static_pj_per_cycle;
  }

  // rows_outer with tiles nb x kt and tiles of `rows` rows (at most what fits).
  bool rows_outer(uint32_t nb, uint32_t kt, uint32_t rows, LinearMapping& m) const {
    const uint64_t tile_bytes = hw::weight_operand_bytes(nb, kt, c.g.layout);
    if (rows > c.rows_outer_m_tile || tile_bytes > c.g.wgt_half || tile_bytes > kMaxRowBytes)
      return false;
    m = LinearMapping{};
    m.order = LoopOrder::kRowsOuter;
    m.tiling = {nb, kt};
    m.m_tile = rows;
    const uint64_t vb = c.vec_bytes;
    const uint64_t tiles_of_rows = ceil_div(s.m, m.m_tile);
    const uint64_t streamed = tiles_of_rows * weight_bytes(m.tiling);
    m.dram_bytes = kNumConstBytes * vb + (s.has_bias ? uint64_t{s.n} * vb : 0) + streamed +
                   uint64_t{s.m} * s.k * c.tensor_bytes + uint64_t{s.m} * s.n * c.tensor_bytes;
    m.weight_tiles = tiles_of_rows * tile_count(m.tiling);
    // Per tile of rows: its rows in and quantized, every weight tile streamed past them (the
    // output blocks one after another without a pause), its outputs converted and stored.
    finish(m,
           setup() + static_cast<double>(over_rows(s.m, m.m_tile, [&](uint32_t r) {
             const Stream first = block(std::min(nb, s.n), kt, r, 0, 0);
             Stream all;
             all.first = first.first;
             all.last = block(s.n % nb ? s.n % nb : nb, kt, r, 0, 0).last;
             all.loads = over_blocks(nb, [&](uint32_t nt) { return block(nt, kt, r, 0, 0).loads; });
             all.gemms = over_blocks(nb, [&](uint32_t nt) { return block(nt, kt, r, 0, 0).gemms; });
             return static_cast<uint64_t>(quantize(r) + all.cycles() + epilogue(r, s.n));
           })));
    return true;
  }

  // The quantize pass's layout (independent of the tiles): two sets of buffers if a row fits
  // twice (a tile loads while the one before it is quantized and stored), else one;
  // quantize_rows 0 if no row fits.
  WeightsOuterPlan quantize_plan() const {
    const Geometry& g = c.g;
    const uint64_t vb = c.vec_bytes, ab = g.traits.act_bytes;
    WeightsOuterPlan p;
    p.xv_row = round_up(uint64_t{s.k} * vb, g.act_word);
    p.xq_row = round_up(uint64_t{s.k} * ab, g.act_word);
    p.xq_dram_row = uint64_t{s.k} * ab + (c.int_kind ? vb : 0);
    auto layout = [&](uint32_t rows, uint64_t sets) {
      RegionAllocator region(g.act_word);
      p.consts = region(kNumConstBytes * vb);
      const uint64_t first = region.top();
      p.xv = region(rows * p.xv_row);
      p.xq = region(rows * p.xq_row);
      if (c.int_kind) {
        for (uint64_t* at : {&p.a, &p.r, &p.q, &p.f}) *at = region(rows * vb);
      }
      p.quantize_set = sets > 1 ? region.top() - first : 0;
      return first + sets * (region.top() - first);
    };
    for (const uint64_t sets : {2, 1}) {
      uint32_t lo = 0, hi = std::min(s.m, kMaxVectorRows);
      while (lo < hi) {
        const uint32_t mid = lo + (hi - lo + 1) / 2;
        if (layout(mid, sets) <= g.act_cap) {
          lo = mid;
        } else {
          hi = mid - 1;
        }
      }
      p.quantize_rows = lo;
      layout(std::max<uint32_t>(lo, 1), sets);
      if (lo > 0) break;
    }
    return p;
  }

  // weights_outer with tiles nb x kt, the epilogue inline or overlapped, the rows from a
  // quantize pass or converted by the DMA (`dma_rows`), and super tiles of the most rows that
  // fit, or of `want` rows (if they fit); `resident_chunk` (nonzero): the first reduction
  // tiles' slices, as many as fit beside an epilogue's chunks of that many rows (or all),
  // stay in the activation SRAM across the blocks (InputResidency). False if nothing fits
  // (resident: not one slice).
  bool weights_outer(uint32_t nb, uint32_t kt, uint32_t want, bool overlapped, bool dma_rows,
                     uint64_t resident_chunk, const WeightsOuterPlan& quantize_pass,
                     LinearMapping& m) const {
    const Geometry& g = c.g;
    const uint64_t vb = c.vec_bytes, ab = g.traits.act_bytes, accb = g.traits.acc_bytes;
    const uint64_t tile_bytes = hw::weight_operand_bytes(nb, kt, g.layout);
    if (tile_bytes > g.wgt_half || tile_bytes > kMaxRowBytes) return false;
    const uint64_t acc_buffers = overlapped ? 2 : 1;
    // Converted chunks alternate between two sets of buffers (one converted while the one
    // before it stores), inline too where two fit; a set is a chunk's converted rows and a
    // fused add's or mul's other input.
    uint64_t chunk_sets = 2;
    const auto chunk_buffers = [&] { return chunk_sets * (s.fused == FusedOp::kBinary ? 2 : 1); };
    WeightsOuterPlan p = quantize_pass;
    p.overlapped = overlapped;
    p.dma_rows = dma_rows;
    if (dma_rows) p.quantize_rows = 0;                    // no pass
    if (p.quantize_rows == 0 && !dma_rows) return false;  // no row of the pass fits
    p.acc_row = round_up(uint64_t{nb} * accb, g.acc_word);
    p.x_row = round_up(uint64_t{kt} * ab, g.act_word);
    p.yv_row = round_up(uint64_t{nb} * vb, g.act_word);
    if (p.acc_row > kMaxRowBytes || p.x_row > kMaxRowBytes || p.yv_row > kMaxRowBytes) return false;
    RegionAllocator fixed(g.act_word);
    fixed(kNumConstBytes * vb);
    if (s.has_bias) p.bias = fixed(uint64_t{nb} * vb);
    const uint64_t base = round_up(fixed.top(), g.act_word);
    // Per row, the tiles' activations (two buffers; resident: the resident slices first), then
    // the rows' factors, a fused rotary embedding's angles, chunks of converted rows.
    uint64_t act_row_bytes = 2 * p.x_row;
    const bool rope = s.fused == FusedOp::kRope;
    p.rope_row = rope ? round_up(uint64_t{s.rope_head_dim} * vb, g.act_word) : 0;
    auto used = [&](uint64_t rows, uint64_t epilogue_rows) {
      return base + rows * act_row_bytes + (c.int_kind ? round_up(rows * vb, g.act_word) : 0) +
             rows * p.rope_row + chunk_buffers() * epilogue_rows * p.yv_row;
    };
    // Overlapped: the second buffer of accumulators starts at a word.
    auto acc_used = [&](uint64_t rows) {
      return overlapped ? round_up(rows * p.acc_row, g.acc_word) + rows * p.acc_row
                        : rows * p.acc_row;
    };
    uint64_t limit = std::min<uint64_t>({s.m, kMaxRows16, g.acc_cap / (acc_buffers * p.acc_row)});
    while (limit > 0 && acc_used(limit) > g.acc_cap) --limit;
    if (!overlapped && used(1, 1) > g.act_cap) chunk_sets = 1;  // inline, one chunk at a time
    if (limit == 0 || used(1, 1) > g.act_cap) return false;
    uint64_t rows =
        std::min<uint64_t>(limit, (g.act_cap - base - chunk_buffers() * p.yv_row - g.act_word) /
                                      (2 * p.x_row + (c.int_kind ? vb : 0) + p.rope_row));
    rows = std::max<uint64_t>(rows, 1);
    while (rows < limit && used(rows + 1, 1) <= g.act_cap) ++rows;
    while (rows > 1 && used(rows, 1) > g.act_cap) --rows;
    if (want > rows) return false;
    if (want > 0) rows = want;
    // Resident slices: the most tiles whose slices fit (tile i at resident + i x_row), with the
    // streamed tiles' two buffers if any tile is left to stream, beside chunks of at least
    // resident_chunk rows (or all; overlapped: few enough chunks).
    if (resident_chunk > 0) {
      const uint32_t tiles = static_cast<uint32_t>(ceil_div(s.k, kt));
      const uint64_t least_epilogue =
          std::max<uint64_t>(std::min<uint64_t>(rows, resident_chunk),
                             overlapped ? ceil_div(rows, kMaxOverlappedChunks) : 1);
      for (p.resident_tiles = tiles; p.resident_tiles > 0; --p.resident_tiles) {
        act_row_bytes = (p.resident_tiles + (p.resident_tiles < tiles ? 2 : 0)) * p.x_row;
        if (used(rows, least_epilogue) <= g.act_cap) break;
      }
      if (p.resident_tiles == 0) return false;
      p.resident_row = uint64_t{p.resident_tiles} * p.x_row;
      if (p.resident_row > kMaxRowBytes) return false;
    }
    p.super_rows = static_cast<uint32_t>(rows);
    p.epilogue_rows = static_cast<uint32_t>(std::min<uint64_t>(
        {rows, kMaxVectorRows, (g.act_cap - used(rows, 0)) / (chunk_buffers() * p.yv_row)}));
    // The overlapped epilogue is unrolled, a chunk of rows at a time: a few chunks only.
    if (overlapped && ceil_div(rows, p.epilogue_rows) > kMaxOverlappedChunks) return false;
    p.resident = base;
    p.x = base + rows * p.resident_row;
    p.factors = base + rows * act_row_bytes;
    p.rope = p.factors + (c.int_kind ? round_up(rows * vb, g.act_word) : 0);
    p.yv = p.rope + rows * p.rope_row;
    p.yv_buffer = chunk_sets == 2 ? p.epilogue_rows * p.yv_row : 0;
    if (s.fused == FusedOp::kBinary) p.operand = p.yv + chunk_sets * p.epilogue_rows * p.yv_row;
    p.acc_buffer = overlapped ? round_up(rows * p.acc_row, g.acc_word) : 0;

    m = LinearMapping{};
    m.order = LoopOrder::kWeightsOuter;
    m.tiling = {nb, kt};
    m.m_tile = p.super_rows;
    m.outer = p;
    const uint64_t supers = ceil_div(s.m, p.super_rows), blocks = ceil_div(s.n, nb);
    const uint64_t rows_k = uint64_t{s.m} * s.k, factor_bytes = c.int_kind ? s.m * vb : 0;
    // The rows streamed per block: the scratch's, or the input's as DRAM holds it.
    const uint64_t row_element = dma_rows ? c.tensor_bytes : ab;
    // Resident slices cross DRAM once per super tile, in its first block.
    const uint64_t resident_k = std::min<uint64_t>(s.k, uint64_t{p.resident_tiles} * kt);
    const uint64_t streamed = supers * weight_bytes(m.tiling) + blocks * rows_k * row_element -
                              (blocks - 1) * s.m * resident_k * row_element;
    const bool quantize_pass_runs = !c.quantized_rows_shared && !dma_rows;
    const uint64_t quantize_bytes =
        quantize_pass_runs ? rows_k * c.tensor_bytes + rows_k * ab + factor_bytes : 0;
    m.dram_bytes = kNumConstBytes * vb                               // constants
                   + quantize_bytes                                  // quantize pass
                   + streamed                                        // weights, quantized rows
                   + factor_bytes                                    // factors
                   + (s.has_bias ? supers * uint64_t{s.n} * vb : 0)  // bias per block
                   + uint64_t{s.m} * s.n * c.tensor_bytes            // outputs
                   + (s.fused == FusedOp::kBinary ? uint64_t{s.m} * s.n * c.tensor_bytes
                                                  : 0)      // a fused add's other input
                   + uint64_t{s.m} * s.rope_head_dim * vb;  // a fused rotary embedding's angles
    m.weight_tiles = supers * tile_count(m.tiling);
    // The quantize pass: with two sets of buffers, each tile's vector work beside the DMA's
    // loading of the next and storing of the last, after the first tile's load.
    const auto quantize_tile = [&](uint32_t r) {
      const double load = transfer(uint64_t{r} * s.k * c.tensor_bytes);
      const double store = transfer(uint64_t{r} * p.xq_dram_row);
      const double work = quantize_work(r);
      return p.quantize_set ? std::max(work, load + store) : load + work + store;
    };
    double cycles = setup();
    if (quantize_pass_runs) {
      cycles += static_cast<double>(over_rows(s.m, p.quantize_rows, [&](uint32_t r) {
        return static_cast<uint64_t>(quantize_tile(r));
      }));
      if (p.quantize_set)
        cycles += transfer(uint64_t{std::min(s.m, p.quantize_rows)} * s.k * c.tensor_bytes);
    }
    const uint64_t act_stride = dma_rows ? uint64_t{s.k} * c.tensor_bytes : p.xq_dram_row;
    // Per super tile, its blocks: each epilogue inline after its block; or overlapped, under
    // the next block's first gemm (what it does not cover is exposed), and the last one after
    // the last block.
    const uint32_t last_nt = s.n % nb ? s.n % nb : nb, first_nt = std::min(nb, s.n);
    const auto epilogue_of = [&](uint32_t r, uint32_t nt) {
      return chunked_epilogue(r, nt, p.epilogue_rows, p.yv_buffer != 0);
    };
    // A super tile's blocks: the first loads the resident slices, the others find them (and
    // before them all, a fused rotary embedding's angles load, rows of the output apart).
    const auto all_blocks = [&](uint32_t r) {
      const double angles =
          rope ? transfer_rows(r, uint64_t{s.rope_head_dim} * vb, uint64_t{s.n} * c.tensor_bytes)
               : 0.0;
      const auto one = [&](uint32_t nt, uint32_t on_chip) {
        return block(nt, kt, r, act_stride, row_element, on_chip).cycles();
      };
      return angles + over_blocks(nb, [&](uint32_t nt) { return one(nt, p.resident_tiles); }) +
             one(first_nt, 0) - one(first_nt, p.resident_tiles);
    };
    cycles += static_cast<double>(over_rows(s.m, p.super_rows, [&](uint32_t r) {
      if (!overlapped) {
        const double blocks_time = all_blocks(r);
        // Inline (each block's first tile loads before the last one's epilogue, ahead of its
        // stores: scored as if after them, which the simulation beats by up to 1%).
        return static_cast<uint64_t>(
            blocks_time + over_blocks(nb, [&](uint32_t nt) { return epilogue_of(r, nt); }));
      }
      const double blocks_time = all_blocks(r);
      // The epilogue under a gemm: what the gemm does not cover, and the cycles the array
      // waits while the vector unit holds the activation SRAM's port (when they share one).
      const double under = static_cast<double>(tile_gemm_cycles(nb, std::min(kt, s.k), r));
      const auto beside = [&](uint32_t nt) {
        return std::max(0.0, epilogue_of(r, nt) - under) +
               (c.act_port_shared ? epilogue_work(r, nt) : 0.0);
      };
      const double hidden = over_blocks(nb, beside) - beside(last_nt);
      return static_cast<uint64_t>(blocks_time + hidden + epilogue_of(r, last_nt));
    }));
    finish(m, cycles);
    return true;
  }
};

// Layers of at most this many array tiles are searched over every multiple of the array.
constexpr uint64_t kExhaustiveArrayTiles = 256;

// Every multiple of `unit` below `all`, and `all`.
std::vector<uint32_t> multiples(uint32_t unit, uint32_t all) {
  std::vector<uint32_t> v;
  for (uint32_t x = unit; x < all; x += unit) v.push_back(x);
  v.push_back(all);
  return v;
}

// Powers-of-two multiples of `unit` below `all`, `all` itself and `extra` (if below `all`).
std::vector<uint32_t> sizes(uint32_t unit, uint32_t all, uint32_t extra) {
  std::vector<uint32_t> v;
  for (uint64_t x = unit; x < all; x *= 2) v.push_back(static_cast<uint32_t>(x));
  v.push_back(all);
  if (extra > 0 && extra < all) v.push_back(extra);
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// The objective's figure of a mapping.
double figure(const LinearMapping& m, MappingObjective objective) {
  switch (objective) {
    case MappingObjective::kEnergy:
      return m.energy_pj;
    case MappingObjective::kEdp:
      return m.energy_pj * static_cast<double>(m.cycles());
    case MappingObjective::kLatency:
      break;
  }
  return static_cast<double>(m.cycles());
}

bool better(const LinearMapping& a, const LinearMapping& b, MappingObjective objective) {
  // Ties keep the earlier: rows_outer first.
  return std::make_tuple(figure(a, objective), a.cycles(), a.dram_bytes, a.weight_tiles) <
         std::make_tuple(figure(b, objective), b.cycles(), b.dram_bytes, b.weight_tiles);
}

}  // namespace

std::vector<LinearMapping> map_linear_shortlist(const LinearShape& s, const MapperContext& c,
                                                const MappingRequest& want, size_t count) {
  const Scorer score{s, c};
  std::vector<LinearMapping> best;  // the best `count`, best first
  uint32_t candidates = 0;
  auto consider = [&](const LinearMapping& m) {
    ++candidates;
    // After every one it does not beat: ties keep the earlier first.
    const auto at = std::upper_bound(
        best.begin(), best.end(), m,
        [&](const LinearMapping& a, const LinearMapping& b) { return better(a, b, c.objective); });
    if (static_cast<size_t>(at - best.begin()) >= count) return;
    best.insert(at, m);
    if (best.size() > count) best.pop_back();
  };
  const uint32_t R = c.g.layout.array_rows, C = c.g.layout.array_cols;
  const uint32_t n_all = std::min(s.n, kMaxRows16);
  // A forced size, clamped to the layer.
  const uint32_t want_n = want.n_tile ? std::min(want.n_tile, n_all) : 0;
  const uint32_t want_k = want.k_tile ? std::min(want.k_tile, s.k) : 0;
  // A forced epilogue is weights_outer's.
  if (want.order != LoopOrder::kWeightsOuter && !want.forces_weights_outer() &&
      c.rows_outer_m_tile > 0) {
    // rows_outer keeps the tiles that fit best (tiling.hpp) unless they are forced.
    LinearMapping m;
    if (score.rows_outer(want_n ? want_n : c.rows_outer_tiling.n_tile,
                         want_k ? want_k : c.rows_outer_tiling.k_tile,
                         want.rows ? want.rows : c.rows_outer_m_tile, m)) {
      consider(m);
    }
  }
  // weights_outer cannot move fewer bytes than a rows_outer whose one tile holds every row
  // (its weights cross DRAM at least once too, beside the quantized rows' scratch): a decode
  // keeps rows_outer without a search.
  const bool rows_in_one_tile = c.rows_outer_m_tile >= s.m;
  if (want.order == LoopOrder::kWeightsOuter ||
      (want.order == LoopOrder::kAuto &&
       (!rows_in_one_tile || candidates == 0 || want.forces_weights_outer()))) {
    const WeightsOuterPlan quantize = score.quantize_plan();
    if (quantize.quantize_rows > 0 || c.dma_row_conversion) {
      // The widest block whose accumulators of every row fit, a multiple of the columns.
      const uint64_t acc_cols = c.g.acc_cap / (uint64_t{s.m} * c.g.traits.acc_bytes);
      const auto resident = static_cast<uint32_t>(std::min<uint64_t>(acc_cols / C * C, n_all));
      const bool exhaustive = ceil_div(n_all, C) * ceil_div(s.k, R) <= kExhaustiveArrayTiles;
      std::vector<uint32_t> k_sizes = exhaustive ? multiples(R, s.k) : sizes(R, s.k, 0);
      if (c.whole_tile_blocks) k_sizes = {c.rows_outer_tiling.k_tile};
      if (want_k) k_sizes = {want_k};
      std::vector<uint32_t> n_sizes = exhaustive ? multiples(C, n_all) : sizes(C, n_all, resident);
      if (want_n) n_sizes = {want_n};
      if (s.fused == FusedOp::kRope) {  // blocks of whole heads
        const uint32_t d = s.rope_head_dim;
        if (!want_n && resident >= d) n_sizes.push_back(resident / d * d);
        n_sizes.erase(std::remove_if(n_sizes.begin(), n_sizes.end(),
                                     [&](uint32_t nb) { return nb % d != 0; }),
                      n_sizes.end());
        std::sort(n_sizes.begin(), n_sizes.end());
        n_sizes.erase(std::unique(n_sizes.begin(), n_sizes.end()), n_sizes.end());
      }
      for (uint32_t nb : n_sizes) {
        std::vector<uint32_t> ks = k_sizes;
        if (!c.whole_tile_blocks && !want_k && !exhaustive) {
          // The deepest reduction tile of this block that fits half the weight SRAM (a tile's
          // bytes grow with its depth: bisect over multiples of the rows below k).
          uint32_t lo = 0, hi = (s.k - 1) / R;
          while (lo < hi) {
            const uint32_t mid = lo + (hi - lo + 1) / 2;
            if (hw::weight_operand_bytes(nb, mid * R, c.g.layout) <= c.g.wgt_half) {
              lo = mid;
            } else {
              hi = mid - 1;
            }
          }
          if (lo > 0 && std::find(ks.begin(), ks.end(), lo * R) == ks.end()) ks.push_back(lo * R);
        }
        for (uint32_t kt : ks) {
          for (const Epilogue e : {Epilogue::kInline, Epilogue::kOverlapped}) {
            if (want.epilogue != Epilogue::kAuto && want.epilogue != e) continue;
            for (const RowConversion rc : {RowConversion::kPass, RowConversion::kDma}) {
              if (want.row_conversion != RowConversion::kAuto && want.row_conversion != rc)
                continue;
              if (rc == RowConversion::kDma && !c.dma_row_conversion) continue;
              const auto try_outer = [&](uint64_t resident_chunk, LinearMapping& m) {
                return score.weights_outer(nb, kt, want.rows, e == Epilogue::kOverlapped,
                                           rc == RowConversion::kDma, resident_chunk, quantize, m);
              };
              LinearMapping m;
              if (want.input_residency != InputResidency::kResident && try_outer(0, m)) consider(m);
              if (want.input_residency == InputResidency::kStreamed) continue;
              uint32_t last_resident = 0;  // chunk sizes that leave as many tiles: one plan
              for (const uint64_t chunk : kResidentChunkRows) {
                if (try_outer(chunk, m) && m.outer.resident_tiles != last_resident) {
                  consider(m);
                  last_resident = m.outer.resident_tiles;
                }
              }
            }
          }
        }
      }
    }
  }
  for (LinearMapping& m : best) m.candidates = candidates;
  return best;
}

}  // namespace nmp::workloads
