#include "hw_models/vector_unit.hpp"

#include <array>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "hw_models/kernels.hpp"

namespace nmp::hw {

namespace op = isa::requant;
namespace cv = isa::convert;
using isa::Opcode;

void VectorUnitStats::visit(const std::array<Sram*, kNumSrams>& srams, PeKind pe,
                            const std::string& vec_class, const std::string& acc_class,
                            const CounterFn& fn) const {
  fn({"requants", "commands", "requant commands", ""}, requants);
  fn({"compares", "ops", "int32 magnitude comparisons (row absmax)", "vec.int32_compare"},
     compares);
  fn({"multiplies", "ops", "int32 x int32 multiplications by the row reciprocal", "vec.int32_mult"},
     multiplies);
  fn({"adds", "ops", "int32 rounding additions", "vec.int32_add"}, adds);
  fn({"reciprocals", "ops", "per-row reciprocals (one division each)", "vec.int32_div"},
     reciprocals);
  fn({"converts", "commands", "cvt commands", ""}, converts);
  fn({"conversions", "ops", "accumulators rounded to the activation format",
      "vec.convert." + std::string(to_string(pe))},
     conversions);
  fn({"vector_commands", "commands",
      "vcvt, vbin, vfn, vact, vrope, vred, softmax, rmsnorm, layernorm, lstm.cell and gru.cell "
      "commands",
      ""},
     vector_commands);
  fn({"vec_adds", "ops",
      "adds, subtracts, compares and conversions in the vector format (" + vec_class + ")",
      "vec.add." + vec_class},
     vec_adds);
  fn({"vec_acc_adds", "ops", "reductions' adds in the accumulator format (" + acc_class + ")",
      "vec.add." + acc_class},
     vec_acc_adds);
  fn({"vec_muls", "ops", "multiplications in the vector format (" + vec_class + ")",
      "vec.mul." + vec_class},
     vec_muls);
  fn({"vec_functions", "ops", "function evaluations through a PWL table", "vec.pwl"},
     vec_functions);
  for (size_t i = 0; i < arith::kNumVectorOpClasses; ++i) {
    const char* op = arith::to_string(static_cast<arith::VectorOpClass>(i));
    fn({std::string("saturations_") + op, "results",
        std::string("vector-format results of ") + op +
            " operations beyond the format's largest finite value (saturated or overflowed)",
        ""},
       saturations[i]);
  }
  fn({"busy_requant", "cycles", "cycles executing requant", ""}, busy_requant);
  fn({"busy_convert", "cycles", "cycles executing cvt", ""}, busy_convert);
  fn({"busy_vector", "cycles", "cycles executing the other vector commands", ""}, busy_vector);
  for (unsigned i = 0; i < kNumSrams; ++i) {
    const std::string& name = srams[i]->params().name;
    fn({"stall_sram_" + name, "cycles", "cycles refused a port of " + name, ""}, stall_sram[i]);
  }
}

VectorCommands::VectorCommands(const VectorUnitParams& params, std::array<Sram*, kNumSrams> srams)
    : params_(params),
      srams_(srams),
      math_(params.math),
      // None where tensors in DRAM are in the vector format: rounding through it changes nothing.
      stored_format_(params.stored_format.empty() || params.stored_format == params.math.format
                         ? nullptr
                         : arith::make_format(params.stored_format)),
      ops_(math_, params.pe, params.accumulation, params.lanes, stored_format_.get()) {}

VectorUnit::VectorUnit(sc_core::sc_module_name name, const VectorUnitParams& params,
                       std::array<Sram*, kNumSrams> srams, uint32_t queue_depth,
                       Scoreboard& scoreboard)
    : sc_module(name),
      QueuedUnit(isa::Unit::kVector, queue_depth, scoreboard),
      commands_(params, srams),
      vec_class_(commands_.math().format_class()),
      acc_class_(commands_.math().accumulator_class()) {}

Footprint VectorCommands::footprint(const Command& cmd) const {
  if (cmd.opcode != Opcode::kRequant && cmd.opcode != Opcode::kConvert) {
    return vector_footprint(cmd);
  }
  const bool rq = cmd.opcode == Opcode::kRequant;
  const PeTraits t = pe_traits(params_.pe, params_.accumulation);
  const bool int_acc = params_.pe == PeKind::kTernaryInt8 || params_.pe == PeKind::kInt8Int8;
  if (rq != int_acc) {
    throw SimulationError(std::string(rq ? "requant" : "cvt") + " does not apply to the " +
                          to_string(params_.pe) + " accumulators (use " +
                          (int_acc ? "requant" : "cvt") + ")");
  }
  // The operands the two instructions share, by their positions in each.
  auto arg = [&](unsigned in_requant, unsigned in_convert) {
    return cmd.args[rq ? in_requant : in_convert];
  };
  const uint64_t m = arg(op::kM, cv::kM), n = arg(op::kN, cv::kN);
  const uint64_t src = arg(op::kSrc, cv::kSrc), src_stride = arg(op::kSrcStride, cv::kSrcStride);
  const uint64_t dst = arg(op::kDst, cv::kDst), dst_stride = arg(op::kDstStride, cv::kDstStride);
  if (m == 0 || n == 0) throw SimulationError("m and n must be >= 1");
  if (src % t.acc_bytes || src_stride % t.acc_bytes) {
    throw SimulationError("src and src_stride must be multiples of the accumulator size (" +
                          std::to_string(t.acc_bytes) + " bytes)");
  }
  const Region in{MemSpace::kAccSram, src, src + (m - 1) * src_stride + n * t.acc_bytes};
  const Region out{MemSpace::kActSram, dst, dst + (m - 1) * dst_stride + n * t.act_bytes};
  Footprint fp;
  fp.read(in);
  fp.write(out);
  std::vector<Region> all{in, out};
  if (rq) {
    const Region scale{MemSpace::kActSram, cmd.args[op::kScale], cmd.args[op::kScale] + 4 * m};
    if (out.overlaps(scale)) throw SimulationError("the scale output overlaps the int8 output");
    fp.write(scale);
    all.push_back(scale);
  }
  for (const Region& r : all) {
    const Sram& s = *srams_[static_cast<size_t>(r.space)];
    if (r.end > s.capacity_bytes() || r.begin > r.end) {
      throw SimulationError("bytes [" + std::to_string(r.begin) + ", " + std::to_string(r.end) +
                            ") lie outside " + s.params().name + " (" +
                            std::to_string(s.capacity_bytes()) + " bytes)");
    }
  }
  return fp;
}

uint64_t& VectorUnit::busy_counter() {
  switch (current().opcode) {
    case Opcode::kRequant:
      return stats().busy_requant;
    case Opcode::kConvert:
      return stats().busy_convert;
    default:
      return stats().busy_vector;
  }
}

void VectorCommands::requant(const Command& cmd, VectorUnitStats& s,
                             std::vector<BeatGroup>& groups) {
  const auto m = static_cast<uint32_t>(cmd.args[op::kM]);
  const auto n = static_cast<uint32_t>(cmd.args[op::kN]);
  Sram* acc = srams_[static_cast<size_t>(MemSpace::kAccSram)];
  Sram* asram = srams_[static_cast<size_t>(MemSpace::kActSram)];
  if (!params_.timing_only) {
    std::vector<int32_t> row(n);
    for (uint32_t r = 0; r < m; ++r) {
      std::memcpy(row.data(), acc->data() + cmd.args[op::kSrc] + r * cmd.args[op::kSrcStride],
                  4 * size_t{n});
      auto* out = reinterpret_cast<int8_t*>(asram->data() + cmd.args[op::kDst] +
                                            r * cmd.args[op::kDstStride]);
      const uint32_t absmax = requantize_row(row.data(), n, out);
      std::memcpy(asram->data() + cmd.args[op::kScale] + 4 * r, &absmax, 4);
    }
  }
  const uint32_t lanes = params_.lanes;
  const uint64_t full = n / lanes;
  const uint32_t tail = n % lanes;
  for (uint32_t r = 0; r < m; ++r) {
    const uint64_t src = cmd.args[op::kSrc] + r * cmd.args[op::kSrcStride];
    const uint64_t dst = cmd.args[op::kDst] + r * cmd.args[op::kDstStride];
    auto pass = [&](bool writes) {
      BeatGroup g;
      g.beats = full;
      g.add({acc, Access::kRead, src, 4ull * lanes, 4 * lanes});
      if (writes) g.add({asram, Access::kWrite, dst, lanes, lanes});
      groups.push_back(g);
      if (tail) {
        BeatGroup t;
        t.add({acc, Access::kRead, src + 4 * full * lanes, 0, 4 * tail});
        if (writes) t.add({asram, Access::kWrite, dst + full * lanes, 0, tail});
        groups.push_back(t);
      }
    };
    pass(false);
    if (params_.pipeline_depth_cycles > 0) {
      BeatGroup bubble;
      bubble.min_cycles = params_.pipeline_depth_cycles;
      groups.push_back(bubble);
    }
    pass(true);
    BeatGroup scale;
    scale.add({asram, Access::kWrite, cmd.args[op::kScale] + 4ull * r, 0, 4});
    groups.push_back(scale);
  }
  ++s.requants;
  s.compares += uint64_t{m} * n;
  s.multiplies += uint64_t{m} * n;
  s.adds += uint64_t{m} * n;
  s.reciprocals += m;
}

void VectorCommands::convert(const Command& cmd, VectorUnitStats& s,
                             std::vector<BeatGroup>& groups) {
  const auto m = static_cast<uint32_t>(cmd.args[cv::kM]);
  const auto n = static_cast<uint32_t>(cmd.args[cv::kN]);
  Sram* acc = srams_[static_cast<size_t>(MemSpace::kAccSram)];
  Sram* asram = srams_[static_cast<size_t>(MemSpace::kActSram)];
  const PeTraits t = pe_traits(params_.pe, params_.accumulation);
  if (!params_.timing_only) {
    for (uint32_t r = 0; r < m; ++r) {
      const uint8_t* in = acc->data() + cmd.args[cv::kSrc] + r * cmd.args[cv::kSrcStride];
      uint8_t* out = asram->data() + cmd.args[cv::kDst] + r * cmd.args[cv::kDstStride];
      for (uint32_t i = 0; i < n; ++i) {
        const uint32_t p =
            convert_accumulator(params_.pe, params_.accumulation, in + uint64_t{i} * t.acc_bytes);
        std::memcpy(out + uint64_t{i} * t.act_bytes, &p, t.act_bytes);  // little-endian
      }
    }
  }
  const uint32_t lanes = params_.lanes;
  const uint64_t full = n / lanes;
  const uint32_t tail = n % lanes;
  for (uint32_t r = 0; r < m; ++r) {
    const uint64_t src = cmd.args[cv::kSrc] + r * cmd.args[cv::kSrcStride];
    const uint64_t dst = cmd.args[cv::kDst] + r * cmd.args[cv::kDstStride];
    BeatGroup g;
    g.beats = full;
    g.add({acc, Access::kRead, src, uint64_t{lanes} * t.acc_bytes, lanes * t.acc_bytes});
    g.add({asram, Access::kWrite, dst, uint64_t{lanes} * t.act_bytes, lanes * t.act_bytes});
    groups.push_back(g);
    if (tail) {
      BeatGroup tg;
      tg.add({acc, Access::kRead, src + full * lanes * t.acc_bytes, 0, tail * t.acc_bytes});
      tg.add({asram, Access::kWrite, dst + full * lanes * t.act_bytes, 0, tail * t.act_bytes});
      groups.push_back(tg);
    }
  }
  if (params_.pipeline_depth_cycles > 0) {
    BeatGroup drain;
    drain.min_cycles = params_.pipeline_depth_cycles;
    groups.push_back(drain);
  }
  ++s.converts;
  s.conversions += uint64_t{m} * n;
}

namespace {

// One operand of a vector command: where its rows are and what the command does with them.
struct VecOperand {
  unsigned reg, mem;  // operand positions of its address register and its SRAM
  ElemType type;
  uint64_t stride;  // bytes between rows
  uint64_t rows;
  uint64_t elems;  // per row
  bool read, write;
};

ElemType elem_type(uint64_t v) { return static_cast<ElemType>(v); }

// `vec_bytes`: an element of the vector format (softmax's per-row scales are consecutive).
std::vector<VecOperand> vector_operands(const Command& cmd, uint64_t vec_bytes) {
  const uint64_t* a = cmd.args.data();
  switch (cmd.opcode) {
    case Opcode::kVcvt: {
      namespace o = isa::vcvt;
      return {{o::kDst, o::kDstMem, elem_type(a[o::kDstType]), a[o::kDstStride], a[o::kM], a[o::kN],
               false, true},
              {o::kSrc, o::kSrcMem, elem_type(a[o::kSrcType]), a[o::kSrcStride], a[o::kM], a[o::kN],
               true, false}};
    }
    case Opcode::kVbin: {
      namespace o = isa::vbin;
      const bool scalar = a[o::kBMode] == 1;
      return {{o::kDst, o::kDstMem, a[o::kRound] == 2 ? ElemType::kAct : ElemType::kVec,
               a[o::kDstStride], a[o::kM], a[o::kN], false, true},
              {o::kA, o::kAMem, ElemType::kVec, a[o::kAStride], a[o::kM], a[o::kN], true, false},
              {o::kB, o::kBMem, ElemType::kVec, a[o::kBStride], a[o::kM], scalar ? 1 : a[o::kN],
               true, false}};
    }
    case Opcode::kVfn: {
      namespace o = isa::vfn;
      return {
          {o::kDst, o::kDstMem, ElemType::kVec, a[o::kDstStride], a[o::kM], a[o::kN], false, true},
          {o::kSrc, o::kSrcMem, ElemType::kVec, a[o::kSrcStride], a[o::kM], a[o::kN], true, false}};
    }
    case Opcode::kVrope: {
      namespace o = isa::vrope;
      const uint64_t half = a[o::kN] / 2, row = a[o::kN] * a[o::kHeads];
      return {
          {o::kDst, o::kDstMem, ElemType::kVec, a[o::kDstStride], a[o::kM], row, false, true},
          {o::kSrc, o::kSrcMem, ElemType::kVec, a[o::kSrcStride], a[o::kM], row, true, false},
          {o::kCos, o::kCosMem, ElemType::kVec, a[o::kTableStride], a[o::kM], half, true, false},
          {o::kSin, o::kSinMem, ElemType::kVec, a[o::kTableStride], a[o::kM], half, true, false}};
    }
    case Opcode::kVact: {
      namespace o = isa::vact;
      // dst, src, then the scale and the bias where the terms read them.
      std::vector<VecOperand> ops = {
          {o::kDst, o::kDstMem, ElemType::kVec, a[o::kDstStride], a[o::kM], a[o::kN], false, true},
          {o::kSrc, o::kSrcMem, ElemType::kAcc, a[o::kSrcStride], a[o::kM], a[o::kN], true, false}};
      if (a[o::kTerms] & 1)
        ops.push_back({o::kScale, o::kScaleMem, ElemType::kVec, a[o::kScaleStride], a[o::kM], 1,
                       true, false});
      // The bias: one row, or (bias_as add, mul, ...) m rows as dst's.
      const bool rows = a[o::kBiasAs] != static_cast<uint64_t>(isa::vact::Bias::kRow);
      if (a[o::kTerms] & 2)
        ops.push_back({o::kBias, o::kBiasMem, ElemType::kVec, rows ? a[o::kDstStride] : 0,
                       rows ? a[o::kM] : 1, a[o::kN], true, false});
      return ops;
    }
    case Opcode::kVred: {
      namespace o = isa::vred;
      return {
          {o::kDst, o::kDstMem, ElemType::kVec, 0, 1, a[o::kM], false, true},
          {o::kSrc, o::kSrcMem, ElemType::kVec, a[o::kSrcStride], a[o::kM], a[o::kN], true, false}};
    }
    case Opcode::kSoftmax: {
      namespace o = isa::softmax;
      using isa::softmax::ScaleMode;
      const auto mode = static_cast<ScaleMode>(a[o::kScaleMode]);
      const bool dst_act = a[o::kDstType] == 1;
      // dst is read back by the scale pass unless it holds the activation format.
      std::vector<VecOperand> ops = {
          {o::kDst, o::kDstMem, dst_act ? ElemType::kAct : ElemType::kVec, a[o::kDstStride],
           a[o::kM], a[o::kN], !dst_act, true},
          {o::kSrc, o::kSrcMem, a[o::kSrcType] == 1 ? ElemType::kAcc : ElemType::kVec,
           a[o::kSrcStride], a[o::kM], a[o::kN], true, false}};
      if (mode != ScaleMode::kNone)
        ops.push_back({o::kScale, o::kScaleMem, ElemType::kVec,
                       mode == ScaleMode::kRows ? vec_bytes : 0, a[o::kM], 1, true, false});
      return ops;
    }
    case Opcode::kRmsnorm: {
      namespace o = isa::rmsnorm;
      return {
          {o::kDst, o::kDstMem, ElemType::kVec, a[o::kDstStride], a[o::kM], a[o::kN], false, true},
          {o::kSrc, o::kSrcMem, ElemType::kVec, a[o::kSrcStride], a[o::kM], a[o::kN], true, false},
          {o::kGain, o::kGainMem, ElemType::kVec, 0, 1, a[o::kN], true, false}};
    }
    case Opcode::kLayernorm: {
      namespace o = isa::layernorm;
      return {
          {o::kDst, o::kDstMem, ElemType::kVec, a[o::kDstStride], a[o::kM], a[o::kN], false, true},
          {o::kSrc, o::kSrcMem, ElemType::kVec, a[o::kSrcStride], a[o::kM], a[o::kN], true, false},
          {o::kGain, o::kGainMem, ElemType::kVec, 0, 1, a[o::kN], true, false},
          {o::kBias, o::kBiasMem, ElemType::kVec, 0, 1, a[o::kN], true, false}};
    }
    case Opcode::kLstmCell:
    case Opcode::kGruCell: {
      namespace o = isa::cell;
      const bool lstm = cmd.opcode == Opcode::kLstmCell;
      const uint64_t n = a[o::kN];
      return {
          {o::kA, o::kAMem, ElemType::kVec, a[o::kAStride], a[o::kM], (lstm ? 4 : 3) * n, true,
           false},
          {o::kB, o::kBMem, ElemType::kVec, a[o::kBStride], a[o::kM], lstm ? n : 3 * n, true, lstm},
          {o::kOut, o::kOutMem, ElemType::kVec, a[o::kOutStride], a[o::kM], n, !lstm, true}};
    }
    default:
      break;
  }
  return {};
}

MemSpace space_of(const Command& cmd, const VecOperand& op) {
  return cmd.args[op.mem] == 1 ? MemSpace::kAccSram : MemSpace::kActSram;
}

// A function's evaluations over `count` elements (squared_relu is a multiplication; exp also
// multiplies by log2(e)).
void count_function(arith::VectorFunction f, uint64_t count, VectorUnitStats& st) {
  if (f == arith::VectorFunction::kSquaredRelu) {
    st.vec_muls += count;
    return;
  }
  st.vec_functions += count;
  if (f == arith::VectorFunction::kExp) st.vec_muls += count;  // x log2(e)
}

// Elements of a row, streamed `lanes` per beat through the SRAM of each piece.
struct Piece {
  Sram* sram;
  Access access;
  uint64_t first;   // byte address in row 0
  uint64_t stride;  // bytes between rows
  uint32_t elem_bytes;
};

// Appends, for row r, the beats that stream `elems` elements of every piece: pieces on distinct
// SRAM port classes share beats; the rest follow in later beats. The first beats take at least
// `cycles_per_beat` each (the compute of a lane-wide chunk). The pieces come as a pointer and a
// count (the overloads below take a braced list or a vector): a pass is appended per row,
// thousands of times per command, and a vector of them would allocate each time.
void append_row_pass(std::vector<BeatGroup>& groups, const Piece* pieces, size_t count, uint64_t r,
                     uint64_t elems, uint32_t lanes, uint32_t cycles_per_beat) {
  // Each piece joins the first set holding no piece on its SRAM port class.
  constexpr size_t kMaxPieces = 8;
  if (count > kMaxPieces) throw SimulationError("a vector pass streams too many operands");
  std::array<size_t, kMaxPieces> set_of{};
  size_t sets = 0;
  for (size_t i = 0; i < count; ++i) {
    const Piece& p = pieces[i];
    set_of[i] = sets;
    for (size_t k = 0; k < sets && set_of[i] == sets; ++k) {
      bool clash = false;
      for (size_t j = 0; j < i; ++j) {
        const Piece& q = pieces[j];
        clash |= set_of[j] == k && q.sram == p.sram &&
                 q.sram->port_class(q.access) == p.sram->port_class(p.access);
      }
      if (!clash) set_of[i] = k;
    }
    if (set_of[i] == sets) ++sets;
  }
  const uint64_t full = elems / lanes, tail = elems % lanes;
  for (size_t k = 0; k < sets; ++k) {
    const uint32_t min_cycles = k == 0 ? cycles_per_beat : 1;
    for (int part = 0; part < 2; ++part) {
      const uint64_t chunk = part == 0 ? lanes : tail;
      const uint64_t beats = part == 0 ? full : (tail ? 1 : 0);
      if (beats == 0) continue;
      BeatGroup g;
      g.beats = beats;
      g.min_cycles = min_cycles;
      for (size_t i = 0; i < count; ++i) {
        if (set_of[i] != k) continue;
        const Piece& p = pieces[i];
        const uint64_t start =
            p.first + r * p.stride + (part == 0 ? 0 : full * lanes * p.elem_bytes);
        g.add({p.sram, p.access, start, part == 0 ? uint64_t{lanes} * p.elem_bytes : 0,
               static_cast<uint32_t>(chunk * p.elem_bytes)});
      }
      groups.push_back(g);
    }
  }
}

void append_row_pass(std::vector<BeatGroup>& groups, std::initializer_list<Piece> pieces,
                     uint64_t r, uint64_t elems, uint32_t lanes, uint32_t cycles_per_beat) {
  append_row_pass(groups, pieces.begin(), pieces.size(), r, elems, lanes, cycles_per_beat);
}
void append_row_pass(std::vector<BeatGroup>& groups, const std::vector<Piece>& pieces, uint64_t r,
                     uint64_t elems, uint32_t lanes, uint32_t cycles_per_beat) {
  append_row_pass(groups, pieces.data(), pieces.size(), r, elems, lanes, cycles_per_beat);
}

void append_idle(std::vector<BeatGroup>& groups, uint64_t cycles) {
  if (cycles == 0) return;
  BeatGroup g;
  g.min_cycles = static_cast<uint32_t>(cycles);
  groups.push_back(g);
}

// m rows through k passes (`append_pass(j, groups, r)` appends row r's pass j), a row's pass
// starting only `wait` cycles after its previous pass ended (a reduction's tree and pipeline:
// the row's max or sum is needed). The rows are software pipelined: step t runs pass j of row
// t - kRowsApart j for every j, so a row's consecutive passes are kRowsApart steps' work apart,
// and an idle group fills only what that work leaves of the wait (counted uncontended:
// contention only lengthens the gap).
// Two steps apart: a row of two beats a pass (128 fp32 scores on 64 lanes) is 6-10 cycles of
// work a step, less than a tree's wait on 64 lanes (10 cycles); the unit keeps a row's max or
// sum for 2 k rows in flight.
constexpr uint64_t kRowsApart = 2;
template <size_t k, class Pass>
void append_pipelined_rows(std::vector<BeatGroup>& groups, uint32_t m, uint64_t wait,
                           const Pass& append_pass) {
  std::vector<Cycles> ended(m);
  std::vector<BeatGroup> pass;
  Cycles now = 0;
  for (uint64_t t = 0; t < m + (k - 1) * kRowsApart; ++t) {
    for (uint64_t j = 0; j < k; ++j) {
      if (t < j * kRowsApart || t - j * kRowsApart >= m) continue;
      const auto r = static_cast<uint32_t>(t - j * kRowsApart);
      if (j > 0 && now < ended[r] + wait) {
        append_idle(groups, ended[r] + wait - now);
        now = ended[r] + wait;
      }
      pass.clear();
      append_pass(j, pass, r);
      now += BeatCursor::uncontended_cycles(pass);
      groups.insert(groups.end(), pass.begin(), pass.end());
      ended[r] = now;
    }
  }
}

uint32_t ceil_log2(uint32_t x) {
  uint32_t l = 0;
  while ((1ull << l) < x) ++l;
  return l;
}

}  // namespace

Footprint VectorCommands::vector_footprint(const Command& cmd) const {
  const std::vector<VecOperand> ops = vector_operands(cmd, ops_.bytes(ElemType::kVec));
  if (ops.empty()) throw SimulationError("not a vector command");
  for (const VecOperand& op : ops) {
    if (op.rows == 0 || op.elems == 0) throw SimulationError("m and n must be >= 1");
  }
  if (cmd.opcode == Opcode::kVcvt && elem_type(cmd.args[isa::vcvt::kDstType]) == ElemType::kAcc) {
    throw SimulationError("vcvt cannot write the accumulator type");
  }
  if (cmd.opcode == Opcode::kVact &&
      cmd.args[isa::vact::kBiasAs] != static_cast<uint64_t>(isa::vact::Bias::kRow) &&
      (cmd.args[isa::vact::kTerms] & 2) == 0) {
    throw SimulationError("vact bias_as other than row needs terms with bias");
  }
  if (cmd.opcode == Opcode::kVrope &&
      (cmd.args[isa::vrope::kN] % 2 != 0 || cmd.args[isa::vrope::kHeads] == 0)) {
    throw SimulationError("vrope n must be even and heads >= 1");
  }
  if (cmd.opcode == Opcode::kSoftmax &&
      (cmd.args[isa::softmax::kValid] == 0 ||
       cmd.args[isa::softmax::kValid] > cmd.args[isa::softmax::kN])) {
    throw SimulationError("softmax valid must be in [1, n]");
  }
  Footprint fp;
  for (const VecOperand& op : ops) {
    const uint64_t begin = cmd.args[op.reg];
    const Region r{space_of(cmd, op), begin,
                   begin + (op.rows - 1) * op.stride + op.elems * ops_.bytes(op.type)};
    const Sram& s = *srams_[static_cast<size_t>(r.space)];
    if (r.end > s.capacity_bytes() || r.begin > r.end) {
      throw SimulationError("bytes [" + std::to_string(r.begin) + ", " + std::to_string(r.end) +
                            ") lie outside " + s.params().name + " (" +
                            std::to_string(s.capacity_bytes()) + " bytes)");
    }
    if (op.read) fp.read(r);
    if (op.write) fp.write(r);
  }
  return fp;
}

Command VectorCommands::timing_key(const Command& cmd) const {
  Command key = cmd;
  auto reduce = [&](unsigned operand, MemSpace space) {
    key.args[operand] %= srams_[static_cast<size_t>(space)]->bank_period_bytes();
  };
  if (cmd.opcode == Opcode::kRequant || cmd.opcode == Opcode::kConvert) {
    const bool rq = cmd.opcode == Opcode::kRequant;
    const unsigned src = rq ? unsigned{op::kSrc} : unsigned{cv::kSrc};
    const unsigned dst = rq ? unsigned{op::kDst} : unsigned{cv::kDst};
    reduce(src, MemSpace::kAccSram);
    reduce(dst, MemSpace::kActSram);
    if (rq) reduce(op::kScale, MemSpace::kActSram);
    return key;
  }
  for (const VecOperand& operand : vector_operands(cmd, ops_.bytes(ElemType::kVec)))
    reduce(operand.reg, space_of(cmd, operand));
  return key;
}

void VectorCommands::vector_command(const Command& cmd, VectorUnitStats& st,
                                    std::vector<BeatGroup>& groups) {
  const std::vector<VecOperand> ops = vector_operands(cmd, ops_.bytes(ElemType::kVec));
  auto rows_of = [&](const VecOperand& op) {
    Sram* sram = srams_[static_cast<size_t>(space_of(cmd, op))];
    return Rows{sram->data() + cmd.args[op.reg], op.stride};
  };
  auto piece = [&](const VecOperand& op, Access access, uint64_t elem_offset = 0) {
    const uint32_t eb = ops_.bytes(op.type);
    return Piece{srams_[static_cast<size_t>(space_of(cmd, op))], access,
                 cmd.args[op.reg] + elem_offset * eb, op.stride, eb};
  };
  const uint64_t* a = cmd.args.data();
  const uint32_t lanes = params_.lanes, depth = params_.pipeline_depth_cycles;
  const bool values = !params_.timing_only;
  ++st.vector_commands;
  const auto m = static_cast<uint32_t>(ops[1].rows);
  // Element-wise commands: one pass reading the inputs and writing the output.
  // With a per-row scalar operand, each row's pass follows a beat reading its element.
  auto elementwise = [&](const std::vector<Piece>& pieces, uint64_t n,
                         const VecOperand* row_scalar = nullptr) {
    for (uint32_t r = 0; r < m; ++r) {
      if (row_scalar) append_row_pass(groups, {piece(*row_scalar, Access::kRead)}, r, 1, lanes, 1);
      append_row_pass(groups, pieces, r, n, lanes, 1);
    }
    append_idle(groups, depth);
  };
  switch (cmd.opcode) {
    case Opcode::kVcvt: {
      namespace o = isa::vcvt;
      const auto n = static_cast<uint32_t>(a[o::kN]);
      if (values) {
        ops_.convert(ops[1].type, rows_of(ops[1]), ops[0].type, rows_of(ops[0]), m, n);
      }
      // A conversion is one rounding, priced as an add; to stored, two.
      st.vec_adds += uint64_t{m} * n * (ops[0].type == ElemType::kStored ? 2 : 1);
      elementwise({piece(ops[1], Access::kRead), piece(ops[0], Access::kWrite)}, n);
      break;
    }
    case Opcode::kVbin: {
      namespace o = isa::vbin;
      const auto n = static_cast<uint32_t>(a[o::kN]);
      const auto op = static_cast<VectorBinary>(a[o::kOp]);
      const bool scalar = a[o::kBMode] == 1;
      const ElemType result = kVbinRounding[a[o::kRound]];
      if (values) {
        ops_.binary(op, rows_of(ops[0]), rows_of(ops[1]), rows_of(ops[2]), scalar, m, n, result);
      }
      (op == VectorBinary::kMul ? st.vec_muls : st.vec_adds) += uint64_t{m} * n;
      if (result != ElemType::kVec) st.vec_adds += uint64_t{m} * n;  // the further rounding
      std::vector<Piece> pieces = {piece(ops[1], Access::kRead), piece(ops[0], Access::kWrite)};
      if (!scalar) pieces.push_back(piece(ops[2], Access::kRead));
      elementwise(pieces, n, scalar ? &ops[2] : nullptr);
      break;
    }
    case Opcode::kVfn: {
      namespace o = isa::vfn;
      const auto n = static_cast<uint32_t>(a[o::kN]);
      const auto f = static_cast<arith::VectorFunction>(a[o::kFn]);
      if (values) ops_.function(f, rows_of(ops[0]), rows_of(ops[1]), m, n);
      count_function(f, uint64_t{m} * n, st);
      elementwise({piece(ops[1], Access::kRead), piece(ops[0], Access::kWrite)}, n);
      break;
    }
    case Opcode::kVrope: {
      // Per row: its cosines and sines in (latched: every head of the row turns by the same
      // angles), then its heads streamed through like an element-wise pass, lanes of elements
      // in and out per beat (a head's two halves are paired in the lanes' buffer).
      namespace o = isa::vrope;
      const auto n = static_cast<uint32_t>(a[o::kN]), heads = static_cast<uint32_t>(a[o::kHeads]);
      const uint64_t half = n / 2, count = uint64_t{m} * heads * half;
      if (values) {
        ops_.rope(rows_of(ops[0]), rows_of(ops[1]), rows_of(ops[2]), rows_of(ops[3]), m, n, heads);
      }
      st.vec_muls += 4 * count;
      st.vec_adds += 2 * count;
      for (uint32_t r = 0; r < m; ++r) {
        append_row_pass(groups, {piece(ops[2], Access::kRead), piece(ops[3], Access::kRead)}, r,
                        half, lanes, 1);
        append_row_pass(groups, {piece(ops[1], Access::kRead), piece(ops[0], Access::kWrite)}, r,
                        uint64_t{n} * heads, lanes, 1);
      }
      append_idle(groups, depth);
      break;
    }
    case Opcode::kVact: {
      // vcvt, vbin (scalar mul; add) and vfn in turn on dst: their values and counts, in one
      // pass (per row the scale's beat, then the accumulators, the bias and dst together).
      namespace o = isa::vact;
      using Bias = isa::vact::Bias;
      const auto n = static_cast<uint32_t>(a[o::kN]);
      const bool scale = (a[o::kTerms] & 1) != 0, bias = (a[o::kTerms] & 2) != 0;
      const auto bias_as = static_cast<Bias>(a[o::kBiasAs]);
      const bool bias_row = bias && bias_as == Bias::kRow, bias_rows = bias && !bias_row;
      const bool stored = a[o::kRound] == 1;
      const VecOperand* scale_op = scale ? &ops[2] : nullptr;
      const VecOperand* bias_op = bias ? &ops[scale ? 3 : 2] : nullptr;
      const uint64_t count = uint64_t{m} * n;
      const bool rows_mul = bias_as == Bias::kMul || bias_as == Bias::kReversedMul;
      if (values) {
        const Rows dst = rows_of(ops[0]);
        ops_.convert(ElemType::kAcc, rows_of(ops[1]),
                     stored && !scale && !bias_row ? ElemType::kStored : ElemType::kVec, dst, m, n);
        const auto rounded = [&](bool last) {
          return stored && last ? ElemType::kStored : ElemType::kVec;
        };
        if (scale) {
          ops_.binary(VectorBinary::kMul, dst, dst, rows_of(*scale_op), true, m, n,
                      rounded(!bias_row));
        }
        if (bias_row)
          ops_.binary(VectorBinary::kAdd, dst, dst, rows_of(*bias_op), false, m, n, rounded(true));
        if (a[o::kFn] != 0) {
          ops_.function(static_cast<arith::VectorFunction>(a[o::kFn] - 1), dst, dst, m, n);
        }
        if (bias_rows) {  // vbin with the rows, in the operands' order
          const bool reversed = bias_as == Bias::kReversedAdd || bias_as == Bias::kReversedMul;
          const Rows t = rows_of(*bias_op);
          ops_.binary(rows_mul ? VectorBinary::kMul : VectorBinary::kAdd, dst, reversed ? t : dst,
                      reversed ? dst : t, false, m, n, ElemType::kVec);
        }
      }
      st.vec_adds += count * (1 + bias_row + stored);  // the conversion, the bias, as stored
      if (bias_rows) (rows_mul ? st.vec_muls : st.vec_adds) += count;
      if (scale) st.vec_muls += count;
      if (a[o::kFn] != 0)
        count_function(static_cast<arith::VectorFunction>(a[o::kFn] - 1), count, st);
      std::vector<Piece> pieces = {piece(ops[1], Access::kRead), piece(ops[0], Access::kWrite)};
      if (bias) pieces.push_back(piece(*bias_op, Access::kRead));
      elementwise(pieces, n, scale_op);
      break;
    }
    case Opcode::kVred: {
      namespace o = isa::vred;
      const auto n = static_cast<uint32_t>(a[o::kN]);
      const auto op = static_cast<VectorReduce>(a[o::kOp]);
      if (values) ops_.reduce(op, rows_of(ops[0]).base, rows_of(ops[1]), m, n);
      const bool sums =
          op == VectorReduce::kSum || op == VectorReduce::kSumSquares || op == VectorReduce::kMean;
      (sums ? st.vec_acc_adds : st.vec_adds) += uint64_t{m} * (n - 1);
      if (op == VectorReduce::kSumSquares) st.vec_muls += uint64_t{m} * n;
      if (op == VectorReduce::kMean) st.vec_muls += m;  // x (1/n)
      for (uint32_t r = 0; r < m; ++r)
        append_row_pass(groups, {piece(ops[1], Access::kRead)}, r, n, lanes, 1);
      append_idle(groups, ceil_log2(lanes) + depth);
      append_row_pass(groups, {piece(ops[0], Access::kWrite)}, 0, m, lanes, 1);
      break;
    }
    case Opcode::kSoftmax: {
      namespace o = isa::softmax;
      const auto n = static_cast<uint32_t>(a[o::kN]);
      const auto valid = static_cast<uint32_t>(a[o::kValid]);
      const bool causal = a[o::kCausal] == 1;
      const auto offset = static_cast<uint32_t>(a[o::kOffset]);
      const VecOperand* scale_op = ops.size() > 2 ? &ops[2] : nullptr;
      const bool from_acc = ops[1].type == ElemType::kAcc, dst_act = ops[0].type == ElemType::kAct;
      if (values) {
        const Rows scale = scale_op ? rows_of(*scale_op) : Rows{};
        ops_.softmax(rows_of(ops[0]), rows_of(ops[1]), m, n, valid, causal, offset,
                     {ops[1].type, scale_op ? &scale : nullptr, ops[0].type});
      }
      // The elements of row r that take part (the others are masked: zeros out).
      const auto valid_of = [&](uint32_t r) {
        const uint64_t v = std::min(valid, n);
        return causal ? std::min<uint64_t>(v, uint64_t{offset} + r + 1) : v;
      };
      // Passes reading src: max and exp, and with dst act the scale pass (exp again). Each
      // read converts accumulators and scales them anew.
      const uint64_t src_reads = dst_act ? 3 : 2;
      for (uint32_t r = 0; r < m; ++r) {
        const uint64_t v = valid_of(r);
        st.vec_adds += (v - 1) + v;  // max compares, subtracts
        st.vec_acc_adds += v - 1;    // the sum
        st.vec_muls += v + v;        // x log2(e) in exp, and the final scaling
        st.vec_functions += v + 1;   // exp per element, one reciprocal
        if (dst_act) {               // exp again, and the rounding to act
          st.vec_adds += v + v;
          st.vec_muls += v;
          st.vec_functions += v;
        }
        if (from_acc) st.vec_adds += src_reads * v;  // conversions
        if (scale_op) st.vec_muls += src_reads * v;
      }
      // max; exp and sum (after the max's tree); scale (after the sum's tree and reciprocal).
      // Each over the row's valid elements only (the row's position tells the masked ones);
      // the pass writing dst first also writes the masked ones' zeros.
      append_pipelined_rows<3>(
          groups, m, ceil_log2(lanes) + depth,
          [&](uint64_t j, std::vector<BeatGroup>& g, uint32_t r) {
            const uint64_t v = valid_of(r);
            if (j == 0) {
              if (scale_op) append_row_pass(g, {piece(*scale_op, Access::kRead)}, r, 1, lanes, 1);
              append_row_pass(g, {piece(ops[1], Access::kRead)}, r, v, lanes, 1);
              return;
            }
            if (j == 1 && dst_act) {  // the sum alone: nothing written
              append_row_pass(g, {piece(ops[1], Access::kRead)}, r, v, lanes, 1);
              return;
            }
            const VecOperand& in = j == 1 || dst_act ? ops[1] : ops[0];
            append_row_pass(g, {piece(in, Access::kRead), piece(ops[0], Access::kWrite)}, r, v,
                            lanes, 1);
            // The masked zeros from the next beat on (the valid elements' last beat writes its
            // lanes' zeros with them).
            const uint64_t written = std::min<uint64_t>(n, (v + lanes - 1) / lanes * lanes);
            if (j == (dst_act ? 2 : 1) && written < n)
              append_row_pass(g, {piece(ops[0], Access::kWrite, written)}, r, n - written, lanes,
                              1);
          });
      append_idle(groups, depth);
      break;
    }
    case Opcode::kRmsnorm: {
      namespace o = isa::rmsnorm;
      const auto n = static_cast<uint32_t>(a[o::kN]);
      if (values) {
        ops_.rmsnorm(rows_of(ops[0]), rows_of(ops[1]), rows_of(ops[2]).base, m, n,
                     static_cast<uint32_t>(a[o::kEpsLog2]));
      }
      st.vec_muls += uint64_t{m} * (n + 1 + 2 * n);  // squares, x (1/n), x scale, x gain
      st.vec_acc_adds += uint64_t{m} * n;            // n - 1 sum adds, + eps
      st.vec_functions += m;                         // rsqrt
      // sum of squares; scale (after the sum's tree and rsqrt).
      append_pipelined_rows<2>(
          groups, m, ceil_log2(lanes) + depth,
          [&](uint64_t j, std::vector<BeatGroup>& g, uint32_t r) {
            if (j == 0) {
              append_row_pass(g, {piece(ops[1], Access::kRead)}, r, n, lanes, 1);
            } else {
              append_row_pass(g,
                              {piece(ops[1], Access::kRead), piece(ops[2], Access::kRead),
                               piece(ops[0], Access::kWrite)},
                              r, n, lanes, 1);
            }
          });
      append_idle(groups, depth);
      break;
    }
    case Opcode::kLayernorm: {
      // vred mean, vbin subtracting it, rmsnorm and vbin adding the bias: their values, in
      // three passes a row; the third centres x again instead of reading it back.
      namespace o = isa::layernorm;
      const auto n = static_cast<uint32_t>(a[o::kN]);
      if (values) {
        ops_.layernorm(rows_of(ops[0]), rows_of(ops[1]), rows_of(ops[2]).base, rows_of(ops[3]).base,
                       m, n, static_cast<uint32_t>(a[o::kEpsLog2]));
      }
      // The mean's x (1/n); the squares, x (1/n), x scale and x gain. The two sums (the
      // second's + eps). x - mean twice, + bias. rsqrt.
      st.vec_muls += uint64_t{m} * (1 + n + 1 + 2 * n);
      st.vec_acc_adds += uint64_t{m} * ((n - 1) + n);
      st.vec_adds += uint64_t{m} * (2 * n + n);
      st.vec_functions += m;
      append_pipelined_rows<3>(
          groups, m, ceil_log2(lanes) + depth,
          [&](uint64_t j, std::vector<BeatGroup>& g, uint32_t r) {
            if (j < 2) {
              append_row_pass(g, {piece(ops[1], Access::kRead)}, r, n, lanes, 1);
            } else {
              append_row_pass(g,
                              {piece(ops[1], Access::kRead), piece(ops[2], Access::kRead),
                               piece(ops[3], Access::kRead), piece(ops[0], Access::kWrite)},
                              r, n, lanes, 1);
            }
          });
      append_idle(groups, depth);
      break;
    }
    case Opcode::kLstmCell:
    case Opcode::kGruCell: {
      namespace o = isa::cell;
      const bool lstm = cmd.opcode == Opcode::kLstmCell;
      const auto n = static_cast<uint32_t>(a[o::kN]);
      if (values) {
        if (lstm) {
          ops_.lstm_cell(rows_of(ops[0]), rows_of(ops[1]), rows_of(ops[2]), m, n);
        } else {
          ops_.gru_cell(rows_of(ops[0]), rows_of(ops[1]), rows_of(ops[2]), m, n);
        }
      }
      const uint64_t count = uint64_t{m} * n;
      st.vec_functions += (lstm ? 5 : 3) * count;
      st.vec_muls += 3 * count;
      st.vec_adds += (lstm ? 1 : 5) * count;
      std::vector<Piece> in;
      for (uint64_t g = 0; g < (lstm ? 4u : 3u); ++g)
        in.push_back(piece(ops[0], Access::kRead, g * n));
      if (lstm) {
        in.push_back(piece(ops[1], Access::kRead));
      } else {
        for (uint64_t g = 0; g < 3; ++g) in.push_back(piece(ops[1], Access::kRead, g * n));
        in.push_back(piece(ops[2], Access::kRead));
      }
      std::vector<Piece> out = {piece(ops[2], Access::kWrite)};
      if (lstm) out.push_back(piece(ops[1], Access::kWrite));
      for (uint32_t r = 0; r < m; ++r) {
        append_row_pass(groups, in, r, n, lanes, lstm ? 5 : 3);
        append_row_pass(groups, out, r, n, lanes, 1);
      }
      append_idle(groups, depth);
      break;
    }
    default:
      break;
  }
}

const std::vector<BeatGroup>& VectorCommands::run(const Command& cmd, VectorUnitStats& stats) {
  const arith::SaturationCounts before = math_.saturations();
  const uint64_t stored_before = ops_.stored_saturations();
  groups_.clear();
  switch (cmd.opcode) {
    case Opcode::kRequant:
      requant(cmd, stats, groups_);
      break;
    case Opcode::kConvert:
      convert(cmd, stats, groups_);
      break;
    default:
      vector_command(cmd, stats, groups_);
      break;
  }
  for (size_t i = 0; i < before.size(); ++i)
    stats.saturations[i] += math_.saturations()[i] - before[i];
  stats.saturations[static_cast<size_t>(arith::VectorOpClass::kConvert)] +=
      ops_.stored_saturations() - stored_before;
  return groups_;
}

void VectorUnit::begin(const Command& cmd, Cycles /*now*/) {
  cursor_.start(commands_.run(cmd, stats()), cmd.layer);
}

bool VectorUnit::step(Cycles now) {
  VectorUnitStats& s = stats();
  if (cursor_.tick(now) == StepResult::kStalled) {
    ++s.stall_sram[cursor_.stalled_on()->id()];
  } else {
    ++busy_counter();
  }
  return cursor_.done();
}

void VectorUnit::op_skip(Cycles /*now*/, Cycles n) {
  busy_counter() += n;
  cursor_.skip(n);
}

void VectorUnit::visit_counters(uint32_t layer, const CounterFn& fn) const {
  if (layer < stats_.size()) {
    stats_[layer].visit(commands_.srams(), commands_.params().pe, vec_class_, acc_class_, fn);
  }
}

}  // namespace nmp::hw
