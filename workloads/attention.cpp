#include "workloads/attention.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>

#include "hw_models/arith/vector_math.hpp"
#include "hw_models/kernels.hpp"
#include "workloads/program_builder.hpp"
#include "workloads/reference.hpp"
#include "workloads/tiling.hpp"

namespace nmp::workloads {
namespace {

using arith::Unpacked;
using arith::VectorFunction;
using hw::ElemType;
using hw::VectorBinary;
using isa::Opcode;
using isa::Space;

enum Reg : unsigned {
  kRegHeads = 1,  // loop counter over the query heads of a key/value group
  kRegQDram = 2,  // Q of the current head, row 0
  kRegODram = 3,  // output of the current head, row 0
  kRegSram = 4,
  kRegDram = 5,
  kRegAct = 6,
  kRegWgt = 7,
  kRegAcc = 8,
  kRegKv = 9,     // loop counter over the key/value heads
  kRegK = 10,     // the current key/value head's key cache in DRAM
  kRegV = 11,     // ... its value cache
  kRegBase = 12,  // ... its place in the weight SRAM
};

// Constants (vec): 127; s_K / 127 / sqrt(d); s_V / 127; 1 / sqrt(d).
enum Const : uint32_t { kC127, kCQK, kCPV, kCInvSqrtD, kNumConsts };

std::vector<uint32_t> const_patterns(const LayerSpec& l, const RecurrentMatrix& keys,
                                     const RecurrentMatrix& values, const arith::VectorMath& vm) {
  const double inv_sqrt_d = l.scaled ? 1.0 / std::sqrt(static_cast<double>(l.head_dim)) : 1.0;
  std::vector<uint32_t> c(kNumConsts);
  c[kC127] = vm.from_double(127.0);
  c[kCQK] = vm.from_double(double{keys.encoded.scale[0]} / 127.0 * inv_sqrt_d);
  c[kCPV] = vm.from_double(double{values.encoded.scale[0]} / 127.0);
  c[kCInvSqrtD] = vm.from_double(inv_sqrt_d);
  return c;
}

// The key or value cache entry of group g, position p, dimension i.
size_t kv_index(const LayerSpec& l, uint32_t positions, uint32_t g, uint32_t p, uint32_t i) {
  return (size_t{g} * positions + p) * l.head_dim + i;
}

struct Layout {
  uint32_t mt = 0;  // query rows per tile
  // SRAM row strides; s_row 0 where no scores stay in vec (a float kind's softmax writes P in
  // the array's format; an integer kind quantizes P from vec by its rows' maxima).
  uint64_t q_row, s_row, o_row, qq_row, pq_row;
  uint64_t qv, qq, sv, pq, ov, a, r, q, f, consts, act_end;
  uint64_t acc_s, acc_o, s_acc_row, o_acc_row;
  uint64_t k_bytes, v_bytes, group_bytes;  // weight SRAM
  bool kv_double_buffered = false;         // two heads' caches fit (kv_cache not "sram")
  // Every key/value head's K and V^T built in the weight SRAM, head g's at g x group_bytes (an
  // encoder's: builds_kv_on_chip), none loaded from DRAM.
  bool kv_on_chip = false;
  // Q's rows converted to the array's format by the DMA as they load, into the quantized buffer
  // (no vcvt, no Q rows in vec): a float kind whose vector format holds DRAM's activation
  // format exactly, so that the one rounding is the vcvt's. So far with kv_on_chip only; the
  // other modes keep the vcvt, which the decode step's documented timing
  // (docs/architecture.md#timing-of-an-attention-step) counts.
  bool q_by_dma = false;
  // Two query heads share each Q tile's load and output's store, a row of 2 d elements each
  // (d elements of DRAM row hold one head's: a short row, which the DRAM serves at one bank
  // group's pace): the even head's at the start of the buffers' rows, the odd one's d
  // elements on.
  bool paired = false;
};

// Whether consecutive heads can share a buffer row: an even count of key/value heads, the odd
// head's half of a row starting on a word of the activation SRAM.
bool heads_pair(const LayerSpec& l, uint64_t eb, const Geometry& g) {
  return l.kv_heads % 2 == 0 && uint64_t{l.head_dim} * eb % g.act_word == 0;
}

Layout plan_layout(const LayerSpec& l, uint32_t tokens, uint32_t positions, uint64_t eb,
                   const Geometry& g, bool paired, bool q_by_dma) {
  const uint64_t d = l.head_dim, L = positions, ab = g.traits.act_bytes, accb = g.traits.acc_bytes;
  Layout x{};
  x.paired = paired;
  x.q_by_dma = q_by_dma;
  x.q_row = round_up((paired ? 2 : 1) * d * eb, g.act_word);
  x.s_row = g.int_kind ? round_up(L * eb, g.act_word) : 0;
  x.o_row = x.q_row;
  // Q converted by the DMA lands in the quantized buffer, both heads' rows where paired.
  x.qq_row = round_up((paired && q_by_dma ? 2 : 1) * d * ab, g.act_word);
  const uint64_t qv_row = q_by_dma ? 0 : x.q_row;  // no Q rows in vec then
  x.pq_row = round_up(L * ab, g.act_word);
  x.s_acc_row = round_up(L * accb, g.acc_word);
  x.o_acc_row = round_up(d * accb, g.acc_word);
  auto act_bytes = [&](uint64_t m) {
    return m * (qv_row + x.qq_row + x.s_row + x.pq_row + x.o_row) +
           4 * round_up(m * eb, g.act_word) + round_up(kNumConsts * eb, g.act_word);
  };
  uint64_t mt = std::min<uint64_t>(tokens, kMaxVectorRows);
  while (mt > 0 && (act_bytes(mt) > g.act_cap || mt * (x.s_acc_row + x.o_acc_row) > g.acc_cap))
    --mt;
  x.mt = static_cast<uint32_t>(mt);
  RegionAllocator region(g.act_word);
  x.qv = region(mt * qv_row);
  x.qq = region(mt * x.qq_row);
  x.sv = region(mt * x.s_row);
  x.pq = region(mt * x.pq_row);
  x.ov = region(mt * x.o_row);
  x.a = region(mt * eb);
  x.r = region(mt * eb);
  x.q = region(mt * eb);
  x.f = region(mt * eb);
  x.consts = region(kNumConsts * eb);
  x.act_end = region.top();
  x.acc_s = 0;
  x.acc_o = mt * x.s_acc_row;
  x.k_bytes = hw::weight_operand_bytes(static_cast<uint32_t>(L), l.head_dim, g.layout);
  x.v_bytes = hw::weight_operand_bytes(l.head_dim, static_cast<uint32_t>(L), g.layout);
  x.group_bytes = round_up(x.k_bytes, g.wgt_word) + round_up(x.v_bytes, g.wgt_word);
  return x;
}

bool builds_kv_on_chip(const LayerSpec& l, uint32_t tokens, const hw::NmpParams& hw,
                       uint64_t group_bytes);

// Whether the DMA's conversion into the array's format (dma.load convert=array) rounds rows
// from DRAM as a load into the vector format and a vcvt to the array's format do: a float
// kind, whose vector format holds DRAM's activation format exactly.
bool loads_array_rows(const hw::NmpParams& hw) {
  return !hw::is_integer(hw.mac_array.pe) &&
         arith::holds_exactly(*arith::make_format(hw.vector_unit.math.format),
                              *arith::make_format(TensorStorage::of_graph(hw).format));
}

// The layout of layer `index`, checked against the hardware.
Layout fit_attention(const LayerSpec& l, size_t index, uint32_t T, const hw::NmpParams& hw,
                     const Geometry& g, uint64_t eb) {
  const uint32_t L = l.positions(T);
  const std::string where = "layer " + std::to_string(index) + " (" + l.name + ")";
  const std::string at = "/layers/" + std::to_string(index);
  if (l.pe != hw.mac_array.pe) {
    throw LoweringError("workload", at + "/format",
                        where + " needs " + std::string(hw::to_string(l.pe)) +
                            " processing elements; the hardware's MAC array has " +
                            hw::to_string(hw.mac_array.pe));
  }
  if (L > 65535) {
    throw LoweringError("workload", at + "/context",
                        where + ": at most 65535 key positions (the gemm's n field)");
  }
  Layout x = plan_layout(l, T, L, eb, g, false, false);
  if (x.mt == 0) {
    throw LoweringError("hw", "/act_sram/capacity_kib",
                        where +
                            ": the activation and accumulator SRAMs must hold one query row's "
                            "scores over " +
                            std::to_string(L) + " positions");
  }
  const uint64_t kv_bytes = (l.kv_in_sram ? l.kv_heads : 1) * x.group_bytes;
  if (kv_bytes > g.wgt_cap) {
    throw LoweringError(
        "hw", "/weight_sram/capacity_kib",
        where + ": the weight SRAM must hold " +
            (l.kv_in_sram ? std::string("the whole KV cache") : "one key/value head") + " (" +
            std::to_string(kv_bytes) + " bytes); it holds " + std::to_string(g.wgt_cap));
  }
  const bool on_chip = builds_kv_on_chip(l, T, hw, x.group_bytes);
  if (on_chip && loads_array_rows(hw)) x = plan_layout(l, T, L, eb, g, false, true);
  x.kv_on_chip = on_chip;
  x.kv_double_buffered = !l.kv_in_sram && !on_chip && 2 * x.group_bytes <= g.wgt_cap;
  // Paired query heads (Layout): where one tile holds every query row, each key/value head has
  // one query head, their caches double buffered or all built on chip, in pairs, and the odd
  // head's half of a row starts on a word of the activation SRAM.
  const uint32_t group = l.heads / l.kv_heads;
  if ((x.kv_double_buffered || x.kv_on_chip) && x.mt >= T && group == 1 && heads_pair(l, eb, g)) {
    Layout pairs = plan_layout(l, T, L, eb, g, true, x.q_by_dma);
    if (pairs.mt >= T) {
      pairs.kv_double_buffered = x.kv_double_buffered;
      pairs.kv_on_chip = x.kv_on_chip;
      x = pairs;
    }
  }
  return x;
}

// Where a layer's tensors sit in DRAM: Q and the output (tokens rows of heads x d vec), the
// key and value caches of each key/value head in the array's layout, the constants.
struct Placement {
  uint64_t q_dram = 0, o_dram = 0, c_dram = 0;
  std::vector<uint64_t> k_dram, v_dram;
};

// The DRAM distance between consecutive key/value heads' caches (the same for keys and values).
uint64_t kv_stride(const std::vector<uint64_t>& k_dram, const std::vector<uint64_t>& v_dram) {
  if (k_dram.size() < 2) return 0;
  const uint64_t stride = k_dram[1] - k_dram[0];
  for (size_t i = 1; i < k_dram.size(); ++i) {
    if (k_dram[i] - k_dram[i - 1] != stride || v_dram[i] - v_dram[i - 1] != stride)
      throw std::logic_error("key/value caches must sit at one stride");
  }
  return stride;
}

// The attention program of one layer (docs/architecture.md#lowering-attention).
// Q and the output are stored as `storage` says.
void emit_attention(ProgramBuilder& b, const LayerSpec& l, uint32_t T, const Layout& x,
                    const Placement& at, const TensorStorage& storage, const hw::NmpParams& hw) {
  const Geometry g = geometry_of(hw);
  const uint64_t eb = arith::element_bytes(hw.vector_unit.math);
  const uint32_t L = l.positions(T), d = l.head_dim, group = l.heads / l.kv_heads;
  const uint64_t db = storage.dram_bytes;           // an element of Q or the output in DRAM
  const uint64_t row = uint64_t{l.heads} * d * db;  // a token's Q or output row in DRAM
  const uint64_t q_dram = at.q_dram, o_dram = at.o_dram, c_dram = at.c_dram;
  const std::vector<uint64_t>& k_dram = at.k_dram;
  const std::vector<uint64_t>& v_dram = at.v_dram;
  const bool int_kind = hw::is_integer(hw.mac_array.pe);
  auto vec = [](uint64_t addr, uint64_t stride = 0) { return VecRef{addr, false, stride}; };
  auto cst = [&](Const c) { return vec(x.consts + uint64_t{c} * eb); };
  auto load = [&](Space space, uint64_t sram, uint64_t dram, uint64_t bytes) {
    b.li(kRegSram, sram);
    b.li(kRegDram, dram);
    b.dma(Opcode::kDmaLoad, space, kRegSram, kRegDram, 1, bytes, bytes, bytes);
  };
  // rows x n of src (stride) to the activation format at dst; factor[i] = a_i c (integer kinds).
  auto quantize = [&](uint32_t m, uint64_t n, VecRef src, VecRef dst, Const c) {
    if (!int_kind) {
      b.vcvt(dst, ElemType::kAct, src, ElemType::kVec, m, n);
      return;
    }
    b.vred(hw::VectorReduce::kAbsMax, vec(x.a), src, m, n);
    b.vfn(VectorFunction::kReciprocal, vec(x.r), vec(x.a), 1, m);
    b.vbin(VectorBinary::kMul, vec(x.q), vec(x.r), cst(kC127), true, 1, m);
    b.vbin(VectorBinary::kMul, dst, src, vec(x.q, eb), true, m, n, ElemType::kAct);
    b.vbin(VectorBinary::kMul, vec(x.f), vec(x.a), cst(c), true, 1, m);
  };
  // The output's accumulators (m rows) to vec at dst, times the per-row factor (integer kinds).
  auto dequantize = [&](uint32_t m, uint64_t n, VecRef acc, VecRef dst) {
    const std::optional<VecRef> scale = int_kind ? std::optional(vec(x.f, eb)) : std::nullopt;
    b.vact(dst, acc, scale, std::nullopt, std::nullopt, false, m, n);
  };
  load(Space::kActSram, x.consts, c_dram, kNumConsts * eb);
  // Key/value heads loop with their caches' addresses in registers: the caches sit at one
  // stride from each other in DRAM (and, loaded once, in the weight SRAM).
  const uint64_t cache_stride = kv_stride(at.k_dram, at.v_dram);
  const uint64_t v_offset = round_up(x.k_bytes, g.wgt_word);
  auto load_kv = [&]() {  // this head's caches into the weight SRAM at kRegBase
    b.addi(kRegSram, kRegBase, 0);
    b.dma(Opcode::kDmaLoad, Space::kWeightSram, kRegSram, kRegK, 1, x.k_bytes, x.k_bytes,
          x.k_bytes);
    b.addi(kRegSram, kRegBase, static_cast<int64_t>(v_offset));
    b.dma(Opcode::kDmaLoad, Space::kWeightSram, kRegSram, kRegV, 1, x.v_bytes, x.v_bytes,
          x.v_bytes);
  };
  auto kv_init = [&]() {
    b.li(kRegK, k_dram.front());
    b.li(kRegV, v_dram.front());
    b.li(kRegBase, 0);
  };
  // `count` key/value heads (from the registers' current head), each `body`.
  auto kv_loop = [&](const std::function<void()>& body, uint64_t base_step, uint32_t count) {
    if (count == 0) return;
    b.li(kRegKv, count);
    const uint64_t loop = b.here();
    body();
    b.addi(kRegK, kRegK, static_cast<int64_t>(cache_stride));
    b.addi(kRegV, kRegV, static_cast<int64_t>(cache_stride));
    if (base_step) b.addi(kRegBase, kRegBase, static_cast<int64_t>(base_step));
    b.dbnz(kRegKv, loop);
  };
  if (l.kv_in_sram && !x.kv_on_chip) {
    kv_init();
    kv_loop(load_kv, x.group_bytes, l.kv_heads);
  }
  b.li(kRegQDram, q_dram);
  b.li(kRegODram, o_dram);
  // Q's tiles load one ahead: a tile's successor (the head's next tile, or the next head's
  // first) loads into the Q buffer once this tile's scores gemm has taken its quantized rows, so
  // the DMA moves it, and this tile's output, under the vector unit's work instead of between
  // the heads. `head_offset`: the next head's (d elements on in each row).
  // Paired heads (Layout) load and store both heads' rows at once: the even head's Q with the
  // odd one's, the odd head's output with the even one's.
  const uint64_t head_bytes = (x.paired ? 2 : 1) * uint64_t{d} * eb;
  const auto load_q = [&](uint32_t q0, uint64_t head_offset) {
    const uint32_t m = std::min(x.mt, T - q0);
    b.addi(kRegDram, kRegQDram, static_cast<int64_t>(head_offset + uint64_t{q0} * row));
    if (x.q_by_dma) {  // straight into the quantized buffer
      b.li(kRegSram, x.qq);
      b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, kRegDram, m,
            (x.paired ? 2 : 1) * uint64_t{d} * g.traits.act_bytes, x.qq_row, row, storage.to_array);
      return;
    }
    b.li(kRegSram, x.qv);
    b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, kRegDram, m, head_bytes, x.q_row, row,
          storage.convert);
  };
  load_q(0, 0);
  // One query head over the key/value head whose caches sit at kRegBase in the weight SRAM;
  // `after_scores` follows its first tile of rows' first gemm; the last head loads no next Q.
  // `odd`: the second head of a pair.
  const auto head = [&](const std::function<void()>& after_scores, bool last, bool odd) {
    const uint64_t half = odd ? d * eb : 0;
    const bool loads_next = !x.paired || odd, stores = !x.paired || odd;
    for (uint32_t q0 = 0; q0 < T; q0 += x.mt) {
      const uint32_t m = std::min(x.mt, T - q0);
      if (!x.q_by_dma) quantize(m, d, vec(x.qv + half, x.q_row), vec(x.qq, x.qq_row), kCQK);
      b.li(kRegAct, x.q_by_dma && odd ? x.qq + uint64_t{d} * g.traits.act_bytes : x.qq);
      b.addi(kRegWgt, kRegBase, 0);
      b.li(kRegAcc, x.acc_s);
      b.gemm(kRegAct, kRegWgt, kRegAcc, m, L, d, x.qq_row, x.s_acc_row, isa::AccMode::kOverwrite);
      if (q0 + x.mt < T) {
        load_q(q0 + x.mt, 0);
      } else if (!last && loads_next) {
        load_q(0, d * db);
      }
      if (q0 == 0 && after_scores) after_scores();
      // The scores' dequantization fused into the softmax; a float kind's P also rounds to
      // the activation format there (the integer kinds quantize P by its rows' maxima).
      SoftmaxOperands fusion;
      fusion.src_acc = true;
      fusion.scale = int_kind ? vec(x.f, eb) : cst(kCInvSqrtD);
      fusion.scale_per_row = int_kind;
      fusion.dst_act = !int_kind;
      const VecRef p_out = int_kind ? vec(x.sv, x.s_row) : vec(x.pq, x.pq_row);
      b.softmax(p_out, VecRef{x.acc_s, true, x.s_acc_row}, m, L, L, l.causal(),
                l.causal() ? l.context + q0 : 0, fusion);
      if (int_kind) quantize(m, L, vec(x.sv, x.s_row), vec(x.pq, x.pq_row), kCPV);
      b.li(kRegAct, x.pq);
      b.addi(kRegWgt, kRegBase, static_cast<int64_t>(v_offset));
      b.li(kRegAcc, x.acc_o);
      b.gemm(kRegAct, kRegWgt, kRegAcc, m, d, L, x.pq_row, x.o_acc_row, isa::AccMode::kOverwrite);
      dequantize(m, d, VecRef{x.acc_o, true, x.o_acc_row}, vec(x.ov + half, x.o_row));
      if (!stores) continue;
      b.li(kRegSram, x.ov);
      b.addi(kRegDram, kRegODram,
             static_cast<int64_t>(uint64_t{q0} * row) - static_cast<int64_t>(odd ? d * db : 0));
      b.dma(Opcode::kDmaStore, Space::kActSram, kRegSram, kRegDram, m, head_bytes, x.o_row, row,
            storage.convert);
    }
    b.addi(kRegQDram, kRegQDram, static_cast<int64_t>(d * db));
    b.addi(kRegODram, kRegODram, static_cast<int64_t>(d * db));
  };
  // The query heads of a key/value head: the first (with `after_scores`), then a loop; in the
  // last group, its last head apart (it loads no next Q).
  // `odd`: the group's (one) head is the second of a pair.
  const auto heads = [&](const std::function<void()>& after_scores, bool last_group,
                         bool odd = false) {
    head(after_scores, last_group && group == 1, odd);
    if (group < 2) return;
    const uint32_t looped = last_group ? group - 2 : group - 1;
    if (looped > 0) {
      b.li(kRegHeads, looped);
      const uint64_t loop = b.here();
      head(nullptr, false, false);
      b.dbnz(kRegHeads, loop);
    }
    if (last_group) head(nullptr, true, false);
  };
  if (!x.paired && (l.kv_in_sram || x.kv_on_chip)) {
    kv_init();
    kv_loop([&] { heads(nullptr, false); }, x.group_bytes, l.kv_heads - 1);
    heads(nullptr, true);
    return;
  }
  if (!x.kv_double_buffered && !x.kv_on_chip) {
    kv_init();
    kv_loop(
        [&] {
          load_kv();
          heads(nullptr, false);
        },
        0, l.kv_heads - 1);
    load_kv();
    heads(nullptr, true);
    return;
  }
  // Two buffers of one head's caches: the next key/value head's caches load into the other
  // buffer right after this head's first scores gemm is issued (so that its queries are not
  // queued behind them), and the DMA streams them while the array and the vector unit attend;
  // without it the in-order controller issues each head's loads only after the last head's
  // output store. kRegBase alternates between the buffers; the last head prefetches nothing.
  // Built on chip, every head's caches stay: the next head's are group_bytes on, none loads.
  const auto other_buffer = [&] {
    if (x.kv_on_chip) {
      b.addi(kRegBase, kRegBase, static_cast<int64_t>(x.group_bytes));
    } else {
      b.rsubi(kRegBase, x.group_bytes, kRegBase, kRegWgt);
    }
  };
  const auto prefetch = [&] {
    if (x.kv_on_chip) return;
    b.addi(kRegK, kRegK, static_cast<int64_t>(cache_stride));
    b.addi(kRegV, kRegV, static_cast<int64_t>(cache_stride));
    other_buffer();
    load_kv();
    other_buffer();
  };
  kv_init();
  if (!x.kv_on_chip) load_kv();
  if (x.paired) {  // a loop over pairs of heads, the last pair apart
    if (l.kv_heads > 2) {
      b.li(kRegKv, l.kv_heads / 2 - 1);
      const uint64_t loop = b.here();
      for (const bool odd : {false, true}) {
        heads(prefetch, false, odd);
        other_buffer();
      }
      b.dbnz(kRegKv, loop);
    }
    heads(prefetch, false, false);
    other_buffer();
    heads(nullptr, true, true);
    return;
  }
  if (l.kv_heads > 1) {
    b.li(kRegKv, l.kv_heads - 1);
    const uint64_t loop = b.here();
    heads(prefetch, false);
    other_buffer();
    b.dbnz(kRegKv, loop);
  }
  heads(nullptr, true);
}

// The caches' first `filled` positions (of L) from the layer's data, in the array's layout, and
// the constants. Positions from `filled` on are left for the program to write.
void write_cache(const LayerSpec& l, const LayerData& ld, uint32_t L, uint32_t filled,
                 const Placement& at, const Geometry& g, const arith::VectorMath& vm,
                 hw::ZeroPages& image) {
  const uint32_t d = l.head_dim, eb = vm.element_bytes();
  const uint32_t zero = hw::activation_format(l.pe).encode(Unpacked::zero());
  for (uint32_t kv = 0; kv < l.kv_heads; ++kv) {
    write_weight_tile(
        [&](uint64_t n, uint64_t k) {
          return n < filled ? ld.keys.encoded.patterns[kv_index(l, L, kv, n, k)] : zero;
        },
        0, L, 0, d, g, image.data() + at.k_dram[kv]);
    write_weight_tile(
        [&](uint64_t n, uint64_t k) {
          return k < filled ? ld.values.encoded.patterns[kv_index(l, L, kv, k, n)] : zero;
        },
        0, d, 0, L, g, image.data() + at.v_dram[kv]);
  }
  put_patterns(image, at.c_dram, const_patterns(l, ld.keys, ld.values, vm), eb);
}

// The layer's plan, its outputs stored as `storage` says.
LayerPlan attention_plan(const LayerSpec& l, uint32_t T, const Layout& x, const Placement& at,
                         const TensorStorage& storage) {
  LayerPlan plan = plan_of(l, T);
  plan.k = l.head_dim;
  plan.m_tile = x.mt;
  plan.n_tile = l.positions(T);
  plan.k_tile = l.head_dim;
  plan.x_dram = at.q_dram;
  plan.w_dram = at.k_dram.front();
  plan.w_bytes = x.kv_on_chip ? 0 : uint64_t{l.kv_heads} * (x.k_bytes + x.v_bytes);
  plan.y_dram = at.o_dram;
  outputs_stored_as(plan, storage);
  return plan;
}

// One layer's exact and FP32 outputs (tokens x heads x d): q in vec patterns and in float, the
// caches (kv_heads x L x d) encoded for the array and as latent floats.
LayerReference attention_reference(const LayerSpec& l, uint32_t T, const std::vector<uint32_t>& q,
                                   const std::vector<float>& q_fp32, const RecurrentMatrix& keys,
                                   const RecurrentMatrix& values, const hw::NmpParams& hw) {
  const arith::VectorMath vm(hw.vector_unit.math);
  const hw::PeKind pe = hw.mac_array.pe;
  const uint32_t L = l.positions(T), d = l.head_dim;
  const uint32_t group = l.heads / l.kv_heads, lanes = hw.vector_unit.lanes;
  const std::vector<uint32_t> c = const_patterns(l, keys, values, vm);
  const bool int_kind = hw::is_integer(pe);
  // x (vec patterns) in the activation format; factor = a c (integer kinds).
  auto quantize = [&](const std::vector<uint32_t>& x, uint32_t cf, uint32_t& factor) {
    return reference_quantize_row(vm, pe, x, c[kC127], cf, factor);
  };
  LayerReference ref;
  ref.out.assign(size_t{T} * l.heads * d, 0);
  ref.fp32.assign(size_t{T} * l.heads * d, 0.0f);
  std::optional<GemmReference> scores, outputs;  // K (L x d) and V^T (d x L) of one kv head
  std::vector<arith::Unpacked> acc;
  for (uint32_t h = 0; h < l.heads; ++h) {
    const uint32_t kv = h / group;
    if (h % group == 0) {
      std::vector<uint32_t> k_rows(size_t{L} * d), v_cols(size_t{d} * L);
      for (uint32_t p = 0; p < L; ++p) {
        for (uint32_t i = 0; i < d; ++i) {
          k_rows[size_t{p} * d + i] = keys.encoded.patterns[kv_index(l, L, kv, p, i)];
          v_cols[size_t{i} * L + p] = values.encoded.patterns[kv_index(l, L, kv, p, i)];
        }
      }
      scores.emplace(pe, k_rows.data(), L, d, d, hw.mac_array);
      outputs.emplace(pe, v_cols.data(), d, L, L, hw.mac_array);
    }
    for (uint32_t t = 0; t < T; ++t) {
      std::vector<uint32_t> qrow(d);
      std::vector<double> qf(d);
      for (uint32_t i = 0; i < d; ++i) {
        qrow[i] = q[(size_t{t} * l.heads + h) * d + i];
        qf[i] = q_fp32[(size_t{t} * l.heads + h) * d + i];
      }
      const uint32_t valid = l.causal() ? l.context + t + 1 : L;
      // Exact model.
      uint32_t fq = 0;
      const std::vector<uint32_t> qq = quantize(qrow, c[kCQK], fq);
      std::vector<uint32_t> s(L);
      scores->row(qq.data(), acc);
      for (uint32_t p = 0; p < L; ++p)
        s[p] = vm.mul(vm.round(acc[p]), int_kind ? fq : c[kCInvSqrtD]);
      const std::vector<uint32_t> prob = reference_softmax(vm, s, valid, lanes);
      uint32_t fp = 0;
      const std::vector<uint32_t> pq = quantize(prob, c[kCPV], fp);
      outputs->row(pq.data(), acc);
      for (uint32_t i = 0; i < d; ++i) {
        uint32_t o = vm.round(acc[i]);
        if (int_kind) o = vm.mul(o, fp);
        ref.out[(size_t{t} * l.heads + h) * d + i] = o;
      }
      // FP32 model.
      std::vector<double> sc(valid);
      double smax = -INFINITY;
      for (uint32_t p = 0; p < valid; ++p) {
        double dot = 0;
        for (uint32_t i = 0; i < d; ++i) dot += qf[i] * keys.latent[kv_index(l, L, kv, p, i)];
        sc[p] = l.scaled ? dot / std::sqrt(static_cast<double>(d)) : dot;
        smax = std::max(smax, sc[p]);
      }
      double total = 0;
      for (double& v : sc) total += (v = std::exp(v - smax));
      for (uint32_t i = 0; i < d; ++i) {
        double o = 0;
        for (uint32_t p = 0; p < valid; ++p)
          o += sc[p] / total * values.latent[kv_index(l, L, kv, p, i)];
        ref.fp32[(size_t{t} * l.heads + h) * d + i] = static_cast<float>(o);
      }
    }
  }
  return ref;
}

}  // namespace

namespace {

// How a layer appends its tokens' keys and values (append_tokens_kv): in chunks of tokens
// whose rows fit the activation SRAM, and, where a position is a column of a cache's blocks,
// either transposed on chip (`transpose`) or stored a column at a time.
//
// The transposition runs on the MAC array where the layout allows it: an identity gemm with
// the chunk's rows as its weights, which needs a position to be a row of their blocks (the
// adder tree's layout: n-major); else on the vector unit, one vcvt per dimension. The gemm
// changes no integer; a float's -0 and infinities it changes as the reference models
// (reference_graph_attention).
struct AppendPlan {
  std::vector<hw::WeightBlock> k_blocks, v_blocks;  // the caches' blocks
  bool columns = false;                             // a position is a column of some cache's blocks
  uint64_t v_row = 0, q_row = 0;  // activation SRAM: a token's row in vec and quantized
  uint64_t chunk = 0;             // tokens per chunk
  // Activation SRAM: two sets (keys', values') of a chunk's rows in vec at 0 and quantized at
  // kv_q, the second set_bytes on; then 1/s_K and 1/s_V.
  uint64_t kv_q = 0, set_bytes = 0, inverse_scales = 0;
  uint64_t t_row = 0;  // accumulator SRAM: a dimension's positions (transposed)
  bool transpose = false, by_gemm = false;
  // Two key/value heads share each load, a token's row of 2 d elements (as Layout's paired
  // query heads): the even head's at the start of a row of the set, the odd one's d elements
  // on.
  bool paired = false;
  uint64_t identity = 0;               // activation SRAM: d rows of the identity (by_gemm)
  uint64_t acc_rows = 0, acc_row = 0;  // accumulator SRAM: the gemm's rows of positions
  uint64_t scratch_bytes = 0;          // DRAM: a chunk's rows in the gemm's weight layout
  // The rows load converted to the array's format (loads_array_rows; no transposition on the
  // vector unit, which reads them in vec): no vcvt. They land in the vec rows' place, the odd
  // head's d elements on.
  bool rows_by_dma = false;
};

// Whether a position is a row (`as_row`) or a column of some block of a cache (keys: the new
// axis is n; values, stored transposed: k).
bool any_block(const std::vector<hw::WeightBlock>& blocks, bool new_is_n, bool as_row) {
  return std::any_of(blocks.begin(), blocks.end(), [&](const hw::WeightBlock& blk) {
    return (new_is_n == blk.n_major) == as_row;
  });
}

AppendPlan plan_append(const LayerSpec& l, uint32_t tokens, const hw::NmpParams& hw, bool paired) {
  const Geometry g = geometry_of(hw);
  const TensorStorage storage = TensorStorage::of_graph(hw);
  const uint64_t eb = storage.vec_bytes, ab = g.traits.act_bytes, d = l.head_dim;
  const uint32_t L = l.positions(tokens);
  AppendPlan p;
  p.k_blocks = hw::weight_blocks(L, l.head_dim, g.layout);
  p.v_blocks = hw::weight_blocks(l.head_dim, L, g.layout);
  p.columns = any_block(p.k_blocks, true, false) || any_block(p.v_blocks, false, false);
  p.paired = paired;
  p.v_row = round_up((paired ? 2 : 1) * d * eb, g.act_word);
  p.q_row = round_up(d * ab, g.act_word);
  const auto layout = [&](uint64_t identity_bytes) {
    const uint64_t room = g.act_cap - std::min(g.act_cap, 4 * g.act_word + identity_bytes);
    p.chunk = std::max<uint64_t>(
        1, std::min<uint64_t>(l.appended_positions(tokens), room / (2 * (p.v_row + p.q_row))));
    p.kv_q = round_up(p.chunk * p.v_row, g.act_word);
    p.set_bytes = round_up(p.kv_q + p.chunk * p.q_row, g.act_word);
    p.inverse_scales = 2 * p.set_bytes;
    p.identity = round_up(p.inverse_scales + 2 * eb, g.act_word);
    p.t_row = round_up(p.chunk * ab, g.acc_word);
    p.transpose =
        p.columns && p.chunk > hw.vector_unit.pipeline_depth_cycles && d * p.t_row <= g.acc_cap;
  };
  layout(d * p.q_row);
  // The gemm's weights: the chunk's positions as n (a position must be a row of their blocks).
  const std::vector<hw::WeightBlock> rows =
      hw::weight_blocks(static_cast<uint32_t>(p.chunk), l.head_dim, g.layout);
  p.acc_row = round_up(p.chunk * g.traits.acc_bytes, g.acc_word);
  p.acc_rows = round_up(d * p.t_row, g.acc_word);
  p.scratch_bytes = hw::weight_operand_bytes(static_cast<uint32_t>(p.chunk), l.head_dim, g.layout);
  p.by_gemm = p.transpose && !any_block(rows, true, false) &&
              p.identity + d * p.q_row <= g.act_cap && p.scratch_bytes <= g.wgt_cap &&
              p.acc_rows + d * p.acc_row <= g.acc_cap;
  if (!p.by_gemm) layout(0);  // the vector unit transposes: no identity to hold
  p.rows_by_dma = loads_array_rows(hw) && (!p.transpose || p.by_gemm);
  return p;
}

// The append's plan, its key/value heads paired where they pair up, the odd head's half of a
// row starts on a word, and one chunk still holds every appended token, transposed as alone.
AppendPlan plan_append(const LayerSpec& l, uint32_t tokens, const hw::NmpParams& hw) {
  const AppendPlan alone = plan_append(l, tokens, hw, false);
  const uint64_t eb = TensorStorage::of_graph(hw).vec_bytes;
  if (!heads_pair(l, eb, geometry_of(hw))) return alone;
  const AppendPlan pairs = plan_append(l, tokens, hw, true);
  const bool same = pairs.chunk >= l.appended_positions(tokens) &&
                    pairs.transpose == alone.transpose && pairs.by_gemm == alone.by_gemm;
  return same ? pairs : alone;
}

// An encoder's keys and values live only in its layer: where every key/value head's K and V^T
// fit the weight SRAM at once (and after them the chunk a transposing gemm reads), the program
// builds them there with dma.copy instead of writing caches to DRAM and loading them back.
bool builds_kv_on_chip(const LayerSpec& l, uint32_t tokens, const hw::NmpParams& hw,
                       uint64_t group_bytes) {
  if (l.mode != AttentionMode::kEncoder || !l.appends_kv() || l.context != 0) return false;
  const AppendPlan p = plan_append(l, tokens, hw);
  const uint64_t chunk = p.by_gemm ? p.scratch_bytes : 0;
  return uint64_t{l.kv_heads} * group_bytes + chunk <= geometry_of(hw).wgt_cap;
}

}  // namespace

GraphAttention place_graph_attention(const LayerSpec& l, size_t index, uint32_t tokens,
                                     const hw::NmpParams& hw, RegionAllocator& allocate) {
  const Geometry g = geometry_of(hw);
  const uint64_t eb = arith::element_bytes(hw.vector_unit.math);
  if (l.appends_kv() && l.mode == AttentionMode::kDecode && tokens != 1) {
    throw LoweringError("workload", "/layers/" + std::to_string(index) + "/mode",
                        "layer " + std::to_string(index) + " (" + l.name +
                            "): a decode step that appends its keys and values takes one token "
                            "(prefill takes several; reading q alone, decode takes several)");
  }
  const Layout x = fit_attention(l, index, tokens, hw, g, eb);
  GraphAttention a;
  a.index = index;
  for (uint32_t kv = 0; kv < l.kv_heads; ++kv) {
    a.k_dram.push_back(allocate(x.k_bytes));
    a.v_dram.push_back(allocate(x.v_bytes));
  }
  a.c_dram = allocate(kNumConsts * eb);
  if (g.int_kind) a.inverse_scales_dram = allocate(2 * eb);
  if (l.appends_kv()) {
    const AppendPlan p = plan_append(l, tokens, hw);
    if (p.by_gemm) {
      a.transpose_by_gemm = true;
      a.identity_dram = allocate(uint64_t{l.head_dim} * l.head_dim * g.traits.act_bytes);
      // Built on chip (Layout::kv_on_chip), the chunk goes to the weight SRAM, not to DRAM.
      if (!x.kv_on_chip) a.transpose_dram = allocate(p.scratch_bytes);
    }
  }
  return a;
}

void write_graph_attention(const GraphAttention& a, const LayerSpec& l, const LayerData& ld,
                           uint32_t tokens, const hw::NmpParams& hw, hw::ZeroPages& image) {
  Placement at;
  at.k_dram = a.k_dram;
  at.v_dram = a.v_dram;
  at.c_dram = a.c_dram;
  const arith::VectorMath vm(hw.vector_unit.math);
  const uint32_t L = l.positions(tokens);
  write_cache(l, ld, L, l.appends_kv() ? l.first_appended() : L, at, geometry_of(hw), vm, image);
  if (hw::is_integer(hw.mac_array.pe)) {
    put_patterns(image, a.inverse_scales_dram,
                 {vm.from_double(1.0 / ld.keys.encoded.scale[0]),
                  vm.from_double(1.0 / ld.values.encoded.scale[0])},
                 vm.element_bytes());
  }
  if (a.transpose_by_gemm) {
    const uint32_t d = l.head_dim;
    const hw::PeKind pe = hw.mac_array.pe;
    std::vector<uint32_t> identity(size_t{d} * d,
                                   hw::activation_format(pe).encode(Unpacked::zero()));
    for (uint32_t i = 0; i < d; ++i)
      identity[size_t{i} * d + i] =
          hw::activation_format(pe).encode(Unpacked::from_integer(false, 1, 0));
    put_patterns(image, a.identity_dram, identity, hw::pe_traits(pe).act_bytes);
  }
}

namespace {

// The tokens' keys and values (rows at k and v) into the caches after the context; cross
// attention's memory (rows at k and v) as the caches' positions.
//
// A cache stored so that a position is a column of its weight blocks (with the adder tree's
// layout, the values: the new axis is their k) would take one DMA row, and so one DRAM burst,
// per element. When a chunk has more tokens than the vector unit's pipeline is deep, it is
// transposed on chip instead (plan_append), into rows of each dimension's positions side by
// side in the accumulator SRAM, and one DMA command then stores each block's rows of positions
// (the DRAM one burst per block row instead of one per element). On the MAC array: the
// chunk's quantized rows go to DRAM in the weight layout and back into the weight SRAM, and a
// gemm of the identity (d rows) by them writes each dimension's positions as a row of
// accumulators, which one vcvt turns back into the activation format (a few hundred cycles
// per chunk). On the vector unit: one vcvt per dimension, m rows of one element each (its own
// accumulator port, so reading and writing share a beat: m + depth cycles per dimension).
void append_tokens_kv(ProgramBuilder& b, const GraphAttention& a, const LayerSpec& l,
                      uint32_t tokens, uint64_t k, uint64_t v, const Layout& x,
                      const hw::NmpParams& hw) {
  const Geometry g = geometry_of(hw);
  const TensorStorage storage = TensorStorage::of_graph(hw);
  const uint64_t eb = storage.vec_bytes, db = storage.dram_bytes;
  const uint64_t ab = g.traits.act_bytes, d = l.head_dim;
  const AppendPlan p = plan_append(l, tokens, hw);
  const uint64_t v_row = p.v_row, q_row = p.q_row, kv_q = p.kv_q, t_row = p.t_row;
  const uint64_t src_row = uint64_t{l.kv_heads} * d * db;  // a token's K or V row in DRAM
  // Built on chip, the caches are the weight SRAM's (Layout::kv_on_chip), and the
  // transposing gemm's chunk follows them.
  const bool on_chip = x.kv_on_chip;
  const uint64_t cache_stride = on_chip ? x.group_bytes : kv_stride(a.k_dram, a.v_dram);
  const uint64_t k_cache = on_chip ? 0 : a.k_dram.front();
  const uint64_t v_cache = on_chip ? round_up(x.k_bytes, g.wgt_word) : a.v_dram.front();
  const uint64_t chunk_wsram = on_chip ? uint64_t{l.kv_heads} * x.group_bytes : 0;
  // Rows from on-chip memory `from` to a cache (or the chunk) at kRegDram: stored to DRAM, or
  // copied into the weight SRAM.
  const auto put = [&](Space from, uint64_t rows, uint64_t row_bytes, uint64_t from_stride,
                       uint64_t to_stride) {
    if (on_chip) {
      b.dma_copy(from, kRegSram, Space::kWeightSram, kRegDram, rows, row_bytes, from_stride,
                 to_stride);
    } else {
      b.dma(Opcode::kDmaStore, from, kRegSram, kRegDram, rows, row_bytes, from_stride, to_stride);
    }
  };
  if (g.int_kind) {
    b.li(kRegSram, p.inverse_scales);
    b.li(kRegDram, a.inverse_scales_dram);
    b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, kRegDram, 1, 2 * eb, 2 * eb, 2 * eb);
  }
  if (p.by_gemm) {
    b.li(kRegSram, p.identity);
    b.li(kRegDram, a.identity_dram);
    b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, kRegDram, d, d * ab, q_row, d * ab);
  }
  // A set's rows in the array's format: a token's row apart, from `set` (its half of a row:
  // `half` bytes of vec elements on).
  const uint64_t rows_stride = p.rows_by_dma ? v_row : q_row;
  const auto rows_at = [&](uint64_t set, uint64_t half) {
    return p.rows_by_dma ? set + half / eb * ab : set + kv_q;
  };
  // Positions [p0, p1) of a cache (or of the transposing gemm's weights) whose DRAM address is
  // in `cache_reg`, from the rows in the array's format at `quantized_rows`.
  auto append = [&](const std::vector<hw::WeightBlock>& blocks, bool new_is_n, unsigned cache_reg,
                    uint32_t p0, uint32_t p1, uint64_t quantized_rows) {
    for (const hw::WeightBlock& blk : blocks) {
      const uint32_t base = new_is_n ? blk.n0 : blk.k0;
      const uint32_t count = new_is_n ? blk.n_count : blk.k_count;
      const uint32_t other0 = new_is_n ? blk.k0 : blk.n0;
      const uint32_t others = new_is_n ? blk.k_count : blk.n_count;
      const uint32_t lo = std::max(p0, base), hi = std::min(p1, base + count);
      if (lo >= hi) continue;
      const bool new_is_row = new_is_n == blk.n_major;  // a position is a row of the block
      const uint64_t stride_new = new_is_row ? blk.row_bytes : ab;
      const uint64_t quantized = quantized_rows + uint64_t{lo - p0} * rows_stride + other0 * ab;
      b.addi(kRegDram, cache_reg, static_cast<int64_t>(blk.offset + (lo - base) * stride_new));
      if (new_is_row) {  // each position's entries are contiguous in the block
        b.li(kRegSram, quantized);
        put(Space::kActSram, hi - lo, others * ab, rows_stride, blk.row_bytes);
        continue;
      }
      if (p.transpose) {  // each dimension's positions are contiguous on chip and in the block
        b.li(kRegSram, other0 * t_row + uint64_t{lo - p0} * ab);
        put(Space::kAccSram, others, (hi - lo) * ab, t_row, blk.row_bytes);
        continue;
      }
      b.li(kRegSram, quantized);
      b.li(kRegHeads, hi - lo);  // a column per position: one strided store each
      const uint64_t loop = b.here();
      put(Space::kActSram, others, ab, ab, blk.row_bytes);
      b.addi(kRegSram, kRegSram, static_cast<int64_t>(rows_stride));
      b.addi(kRegDram, kRegDram, static_cast<int64_t>(ab));
      b.dbnz(kRegHeads, loop);
    }
  };
  // A chunk's m quantized rows (the set's at `set`) transposed into rows of positions (t_row
  // apart from accumulator address 0).
  auto transpose = [&](uint32_t m, uint64_t set, uint64_t half) {
    if (p.by_gemm) {
      const std::vector<hw::WeightBlock> rows =
          hw::weight_blocks(m, l.head_dim, g.layout);  // positions are their rows
      b.li(kRegBase, on_chip ? chunk_wsram : a.transpose_dram);
      append(rows, true, kRegBase, 0, m, rows_at(set, half));
      if (!on_chip) {  // the chunk back from DRAM into the weight SRAM
        const uint64_t bytes = hw::weight_operand_bytes(m, l.head_dim, g.layout);
        b.li(kRegSram, 0);
        b.dma(Opcode::kDmaLoad, Space::kWeightSram, kRegSram, kRegBase, 1, bytes, bytes, bytes);
      }
      b.li(kRegAct, p.identity);
      b.li(kRegWgt, chunk_wsram);
      b.li(kRegAcc, p.acc_rows);
      b.gemm(kRegAct, kRegWgt, kRegAcc, d, m, d, q_row, p.acc_row, isa::AccMode::kOverwrite);
      b.vcvt(VecRef{0, true, t_row}, ElemType::kAct, VecRef{p.acc_rows, true, p.acc_row},
             ElemType::kAcc, d, m);
      return;
    }
    b.li(kRegHeads, d);         // a loop over the dimensions, its code size fixed
    b.li(kRegAct, 0);           // the dimension's row of positions
    b.li(kRegWgt, set + half);  // its column of the chunk
    const uint64_t loop = b.here();
    b.vcvt(VecRef{0, true, ab, kRegAct}, ElemType::kAct, VecRef{0, false, v_row, kRegWgt},
           ElemType::kVec, m, 1);
    b.addi(kRegAct, kRegAct, static_cast<int64_t>(t_row));
    b.addi(kRegWgt, kRegWgt, static_cast<int64_t>(eb));
    b.dbnz(kRegHeads, loop);
  };
  // A key/value head's work is its chunks' keys and values in turn, the keys in the first set
  // of buffers and the values in the second, software pipelined: each item's successor (the
  // next item, or the next key/value head's first) loads into the other set before the item's
  // vector work, so the DMA loads one while the vector unit and the array quantize, transpose
  // and store the other. The last head's last item loads none (that head is emitted apart).
  struct Item {
    uint32_t t0, m;
    bool keys;
  };
  std::vector<Item> items;
  const uint32_t count = l.appended_positions(tokens), first = l.first_appended();
  for (uint32_t t0 = 0; t0 < count; t0 += static_cast<uint32_t>(p.chunk)) {
    const auto m = static_cast<uint32_t>(std::min<uint64_t>(p.chunk, count - t0));
    items.push_back({t0, m, true});
    items.push_back({t0, m, false});
  }
  const auto set_of = [&](const Item& it) { return it.keys ? 0 : p.set_bytes; };
  // kRegQDram and kRegODram: this key/value head's keys and values (`head_offset` on: the
  // next head's).
  const uint32_t heads_per_load = p.paired ? 2 : 1;
  const auto load = [&](const Item& it, uint64_t head_offset) {
    b.li(kRegSram, set_of(it));
    b.addi(kRegDram, it.keys ? kRegQDram : kRegODram,
           static_cast<int64_t>(head_offset + it.t0 * src_row));
    const uint64_t elem = p.rows_by_dma ? ab : eb;
    b.dma(Opcode::kDmaLoad, Space::kActSram, kRegSram, kRegDram, it.m, heads_per_load * d * elem,
          v_row, src_row, p.rows_by_dma ? storage.to_array : storage.convert);
  };
  // `odd`: the second head of a pair (its rows d elements into the set's, its caches one
  // stride past the registers').
  const auto process = [&](const Item& it, bool odd) {
    const uint64_t set = set_of(it), half = odd ? d * eb : 0;
    const std::vector<hw::WeightBlock>& blocks = it.keys ? p.k_blocks : p.v_blocks;
    const bool transposed = any_block(blocks, it.keys, false) && p.transpose;
    // The quantized rows, unless the vector unit transposes the rows in vec instead.
    const bool quantized = any_block(blocks, it.keys, true) || !transposed || p.by_gemm;
    const VecRef rows{set + half, false, v_row}, q{set + kv_q, false, q_row};
    if (g.int_kind) {  // to the cache's int8 steps (and rounded to int8 in the same pass)
      const VecRef inverse_scale{p.inverse_scales + (it.keys ? 0 : eb), false, 0};
      if (quantized && !(transposed && !p.by_gemm)) {
        b.vbin(VectorBinary::kMul, q, rows, inverse_scale, true, it.m, d, ElemType::kAct);
      } else {
        b.vbin(VectorBinary::kMul, rows, rows, inverse_scale, true, it.m, d);
        if (quantized) b.vcvt(q, ElemType::kAct, rows, ElemType::kVec, it.m, d);
      }
    } else if (quantized && !p.rows_by_dma) {  // (else converted on the way in)
      b.vcvt(q, ElemType::kAct, rows, ElemType::kVec, it.m, d);
    }
    if (transposed) transpose(it.m, set, half);
    const unsigned cache = it.keys ? kRegK : kRegV;
    if (odd) b.addi(cache, cache, static_cast<int64_t>(cache_stride));
    append(blocks, it.keys, cache, first + it.t0, first + it.t0 + it.m, rows_at(set, half));
    if (odd) b.addi(cache, cache, -static_cast<int64_t>(cache_stride));
  };
  // A key/value head (a pair of them, paired).
  const auto kv_head = [&](bool last) {
    for (size_t i = 0; i < items.size(); ++i) {
      if (i + 1 < items.size()) {
        load(items[i + 1], 0);
      } else if (!last) {
        load(items.front(), heads_per_load * d * db);
      }
      process(items[i], false);
      if (p.paired) process(items[i], true);
    }
  };
  b.li(kRegK, k_cache);
  b.li(kRegV, v_cache);
  b.li(kRegQDram, k);  // the tokens' keys of this head
  b.li(kRegODram, v);  // ... and values
  load(items.front(), 0);
  const uint32_t loads = l.kv_heads / heads_per_load;
  if (loads > 1) {
    b.li(kRegKv, loads - 1);
    const uint64_t head_loop = b.here();
    kv_head(false);
    for (unsigned r : {kRegK, kRegV})
      b.addi(r, r, static_cast<int64_t>(heads_per_load * cache_stride));
    for (unsigned r : {kRegQDram, kRegODram})
      b.addi(r, r, static_cast<int64_t>(heads_per_load * d * db));
    b.dbnz(kRegKv, head_loop);
  }
  kv_head(true);
}

}  // namespace

LayerPlan emit_graph_attention(ProgramBuilder& b, const GraphAttention& a, const LayerSpec& l,
                               uint32_t tokens, const std::vector<uint64_t>& inputs, uint64_t out,
                               const hw::NmpParams& hw, bool append) {
  const Geometry g = geometry_of(hw);
  const uint64_t eb = arith::element_bytes(hw.vector_unit.math);
  const Layout x = fit_attention(l, a.index, tokens, hw, g, eb);
  Placement at;
  at.q_dram = inputs[0];
  at.o_dram = out;
  at.c_dram = a.c_dram;
  at.k_dram = a.k_dram;
  at.v_dram = a.v_dram;
  if (l.appends_kv() && append)  // a memory alone stands for both keys and values
    append_tokens_kv(b, a, l, tokens, inputs[1], inputs.back(), x, hw);
  const TensorStorage storage = TensorStorage::of_graph(hw);
  emit_attention(b, l, tokens, x, at, storage, hw);
  LayerPlan plan = attention_plan(l, tokens, x, at, storage);
  if (a.transpose_by_gemm && append)  // the identity gemm: d x d MACs per position, kv head
    plan.transpose_macs =
        uint64_t{l.kv_heads} * l.appended_positions(tokens) * l.head_dim * l.head_dim;
  return plan;
}

LayerReference reference_graph_attention(const LayerSpec& l, uint32_t tokens,
                                         const std::vector<const std::vector<uint32_t>*>& exact,
                                         const std::vector<const std::vector<float>*>& fp32,
                                         const LayerData& ld, const hw::NmpParams& hw) {
  const arith::VectorMath vm(hw.vector_unit.math);
  const arith::NumberFormat& act = hw::activation_format(l.pe);
  const uint32_t L = l.positions(tokens), d = l.head_dim;
  // The caches: the data's first positions, then the tokens' keys and values (or the memory)
  // as the program writes them (vec rounded to the activation format), if it appends them.
  RecurrentMatrix keys = ld.keys, values = ld.values;
  const bool int_kind = hw::is_integer(l.pe);
  // vcvt to the activation format (int8: symmetric, -128 becomes -127), after the int8 caches'
  // 1 / s.
  auto to_cache = [&](uint32_t x, const RecurrentMatrix& m) {
    if (!int_kind) return act.encode(vm.value(x));
    const uint32_t p = act.encode(vm.value(vm.mul(x, vm.from_double(1.0 / m.encoded.scale[0]))));
    return p == 0x80 ? 0x81u : p;
  };
  const uint32_t appended = l.appended_positions(tokens);
  for (uint32_t kv = 0; kv < l.kv_heads; ++kv) {
    for (uint32_t t = 0; t < appended; ++t) {
      for (uint32_t i = 0; i < d; ++i) {
        const size_t src = (size_t{t} * l.kv_heads + kv) * d + i;
        const size_t dst = kv_index(l, L, kv, l.first_appended() + t, i);
        keys.encoded.patterns[dst] = to_cache((*exact[1])[src], ld.keys);
        values.encoded.patterns[dst] = to_cache((*exact.back())[src], ld.values);
        keys.latent[dst] = (*fp32[1])[src];
        values.latent[dst] = (*fp32.back())[src];
      }
    }
  }
  // Where the program transposes a cache's appended positions on the MAC array (an identity
  // gemm, plan_append), the cache holds what that gemm gives: each entry the sum, in the
  // array's arithmetic, of its position's entries times 1 and times 0, converted to the
  // activation format. For the integer kinds that is the entry itself; a float's -0 becomes
  // +0 beside a non-negative entry, and an infinity or NaN among a position's entries makes
  // every entry of the position NaN (a posit's NaR likewise): what the hardware would store.
  const AppendPlan plan = appended > 0 ? plan_append(l, tokens, hw) : AppendPlan{};
  for (const bool is_keys : {true, false}) {
    if (!plan.by_gemm || !any_block(is_keys ? plan.k_blocks : plan.v_blocks, is_keys, false))
      continue;
    RecurrentMatrix& cache = is_keys ? keys : values;
    const uint32_t one = act.encode(arith::Unpacked::from_integer(false, 1, 0));
    std::vector<uint32_t> identity(size_t{d} * d, act.encode(arith::Unpacked::zero()));
    for (uint32_t i = 0; i < d; ++i) identity[size_t{i} * d + i] = one;
    for (uint32_t kv = 0; kv < l.kv_heads; ++kv) {
      const uint32_t* rows = &cache.encoded.patterns[kv_index(l, L, kv, l.first_appended(), 0)];
      const GemmReference gemm(l.pe, rows, appended, d, d, hw.mac_array);
      std::vector<uint32_t> transposed(size_t{appended} * d);
      gemm.rows(identity.data(), d, [&](uint32_t dim, const arith::Unpacked* acc) {
        for (uint32_t t = 0; t < appended; ++t)
          transposed[size_t{t} * d + dim] = act.encode(acc[t]);
      });
      std::copy(transposed.begin(), transposed.end(),
                cache.encoded.patterns.begin() +
                    static_cast<std::ptrdiff_t>(kv_index(l, L, kv, l.first_appended(), 0)));
    }
  }
  return attention_reference(l, tokens, *exact[0], *fp32[0], keys, values, hw);
}

}  // namespace nmp::workloads
