#include "workloads/program_builder.hpp"

#include <algorithm>
#include <iterator>
#include <stdexcept>

namespace nmp::workloads {

using isa::Opcode;

void ProgramBuilder::emit(Opcode opcode, const std::vector<int64_t>& fields) {
  program_.push_back(isa::encode(opcode, fields));
}

void ProgramBuilder::li(unsigned rd, uint64_t value) {
  emit(Opcode::kLi, {rd, static_cast<int64_t>(value)});
}

void ProgramBuilder::addi(unsigned rd, unsigned rs, int64_t imm) {
  emit(Opcode::kAddi, {rd, rs, imm});
}

void ProgramBuilder::sub(unsigned rd, unsigned rs, unsigned rt) {
  emit(Opcode::kSub, {rd, rs, rt});
}

void ProgramBuilder::rsubi(unsigned rd, uint64_t value, unsigned rs, unsigned scratch) {
  if (scratch == rs) throw std::logic_error("rsubi: the scratch register would clobber rs");
  li(scratch, value);
  sub(rd, scratch, rs);
}

void ProgramBuilder::dbnz(unsigned rs, uint64_t target) {
  emit(Opcode::kDbnz, {rs, static_cast<int64_t>(target)});
}

void ProgramBuilder::layer(uint32_t id) { emit(Opcode::kLayer, {id}); }

void ProgramBuilder::dma(Opcode opcode, isa::Space space, unsigned sram_reg, unsigned dram_reg,
                         uint64_t rows, uint64_t row_bytes, uint64_t sram_stride,
                         uint64_t dram_stride, isa::dma::Conversion convert) {
  emit(opcode, {static_cast<int64_t>(space), sram_reg, dram_reg, static_cast<int64_t>(rows),
                static_cast<int64_t>(row_bytes), static_cast<int64_t>(sram_stride),
                static_cast<int64_t>(dram_stride), static_cast<int64_t>(convert)});
}

void ProgramBuilder::dma_gather(isa::Space space, unsigned sram_reg, unsigned dram_reg,
                                unsigned index_reg, uint64_t rows, uint64_t row_bytes,
                                uint64_t sram_stride, uint64_t table_stride) {
  emit(Opcode::kDmaGather,
       {static_cast<int64_t>(space), sram_reg, dram_reg, static_cast<int64_t>(rows),
        static_cast<int64_t>(row_bytes), static_cast<int64_t>(sram_stride),
        static_cast<int64_t>(table_stride), index_reg});
}

void ProgramBuilder::dma_copy(isa::Space src_space, unsigned src_reg, isa::Space dst_space,
                              unsigned dst_reg, uint64_t rows, uint64_t row_bytes,
                              uint64_t src_stride, uint64_t dst_stride) {
  emit(Opcode::kDmaCopy, {static_cast<int64_t>(src_space), static_cast<int64_t>(dst_space), src_reg,
                          dst_reg, static_cast<int64_t>(rows), static_cast<int64_t>(row_bytes),
                          static_cast<int64_t>(src_stride), static_cast<int64_t>(dst_stride)});
}

void ProgramBuilder::gemm(unsigned act_reg, unsigned wgt_reg, unsigned acc_reg, uint64_t m,
                          uint64_t n, uint64_t k, uint64_t act_stride, uint64_t acc_stride,
                          isa::AccMode mode, bool ternary_weights) {
  emit(Opcode::kGemm,
       {act_reg, wgt_reg, acc_reg, static_cast<int64_t>(m), static_cast<int64_t>(n),
        static_cast<int64_t>(k), static_cast<int64_t>(act_stride), static_cast<int64_t>(acc_stride),
        static_cast<int64_t>(mode), ternary_weights ? 1 : 0});
}

void ProgramBuilder::requant(unsigned src_reg, unsigned dst_reg, unsigned scale_reg, uint64_t m,
                             uint64_t n, uint64_t src_stride, uint64_t dst_stride) {
  emit(Opcode::kRequant,
       {src_reg, dst_reg, scale_reg, static_cast<int64_t>(m), static_cast<int64_t>(n),
        static_cast<int64_t>(src_stride), static_cast<int64_t>(dst_stride)});
}

void ProgramBuilder::convert(unsigned src_reg, unsigned dst_reg, uint64_t m, uint64_t n,
                             uint64_t src_stride, uint64_t dst_stride) {
  emit(Opcode::kConvert, {src_reg, dst_reg, static_cast<int64_t>(m), static_cast<int64_t>(n),
                          static_cast<int64_t>(src_stride), static_cast<int64_t>(dst_stride)});
}

std::vector<int64_t> ProgramBuilder::load(const std::vector<VecRef>& refs) {
  std::vector<int64_t> regs;
  unsigned r = kFirstVecReg;
  for (size_t i = 0; i < refs.size(); ++i) {
    const VecRef& ref = refs[i];
    if (!needs_register(ref)) {  // its base register, or r0 (address 0)
      regs.push_back(ref.base);
      continue;
    }
    // An address an earlier operand loaded (an in-place command's source and destination).
    const auto same =
        std::find_if(refs.begin(), refs.begin() + static_cast<ptrdiff_t>(i), [&](const VecRef& o) {
          return needs_register(o) && o.addr == ref.addr && o.base == ref.base;
        });
    if (same != refs.begin() + static_cast<ptrdiff_t>(i)) {
      regs.push_back(regs[static_cast<size_t>(same - refs.begin())]);
      continue;
    }
    if (r >= isa::kNumRegs) throw std::logic_error("a vector command needs too many addresses");
    if (ref.base != 0) {
      addi(r, ref.base, static_cast<int64_t>(ref.addr));
    } else {
      li(r, ref.addr);
    }
    regs.push_back(r++);
  }
  return regs;
}

namespace {
int64_t mem(const VecRef& r) { return r.acc ? 1 : 0; }
int64_t i64(uint64_t v) { return static_cast<int64_t>(v); }
}  // namespace

void ProgramBuilder::vcvt(VecRef dst, hw::ElemType dst_type, VecRef src, hw::ElemType src_type,
                          uint64_t m, uint64_t n) {
  const auto r = load({dst, src});
  emit(Opcode::kVcvt,
       {r[0], mem(dst), static_cast<int64_t>(dst_type), r[1], mem(src),
        static_cast<int64_t>(src_type), i64(m), i64(n), i64(dst.stride), i64(src.stride)});
}

void ProgramBuilder::vbin(hw::VectorBinary op, VecRef dst, VecRef a, VecRef b, bool b_scalar,
                          uint64_t m, uint64_t n, hw::ElemType result) {
  const auto r = load({dst, a, b});
  const auto* at = std::find(std::begin(hw::kVbinRounding), std::end(hw::kVbinRounding), result);
  if (at == std::end(hw::kVbinRounding))
    throw std::logic_error("vbin rounds to vec, stored or act");
  const int64_t round = at - std::begin(hw::kVbinRounding);
  emit(Opcode::kVbin,
       {static_cast<int64_t>(op), r[0], mem(dst), r[1], mem(a), r[2], mem(b), b_scalar ? 1 : 0,
        i64(m), i64(n), i64(dst.stride), i64(a.stride), i64(b.stride), round});
}

void ProgramBuilder::vfn(arith::VectorFunction fn, VecRef dst, VecRef src, uint64_t m, uint64_t n) {
  const auto r = load({dst, src});
  emit(Opcode::kVfn, {static_cast<int64_t>(fn), r[0], mem(dst), r[1], mem(src), i64(m), i64(n),
                      i64(dst.stride), i64(src.stride)});
}

void ProgramBuilder::vact(VecRef dst, VecRef src, std::optional<VecRef> scale,
                          std::optional<VecRef> bias, std::optional<arith::VectorFunction> fn,
                          bool round_stored, uint64_t m, uint64_t n, isa::vact::Bias bias_as) {
  // Absent terms read no register: r0 in their place.
  const VecRef none{0, false, 0, 0};
  const VecRef s = scale.value_or(none), b = bias.value_or(none);
  if (bias_as != isa::vact::Bias::kRow && (!bias || b.stride != dst.stride))
    throw std::logic_error("vact: bias rows need a bias at dst's stride");
  std::vector<VecRef> refs = {dst, src};
  if (scale) refs.push_back(s);
  if (bias) refs.push_back(b);
  const std::vector<int64_t> r = load(refs);
  const int64_t scale_reg = scale ? r[2] : 0, bias_reg = bias ? r.back() : 0;
  emit(Opcode::kVact,
       {fn ? static_cast<int64_t>(*fn) + 1 : 0, r[0], mem(dst), r[1], mem(src), scale_reg, mem(s),
        bias_reg, mem(b), (scale ? 1 : 0) | (bias ? 2 : 0), round_stored ? 1 : 0, i64(m), i64(n),
        i64(dst.stride), i64(src.stride), i64(s.stride), static_cast<int64_t>(bias_as)});
}

void ProgramBuilder::vrope(VecRef dst, VecRef src, VecRef cos, VecRef sin, uint64_t m, uint64_t n,
                           uint64_t heads) {
  const auto r = load({dst, src, cos, sin});
  emit(Opcode::kVrope, {r[0], mem(dst), r[1], mem(src), r[2], mem(cos), r[3], mem(sin), i64(m),
                        i64(n), i64(heads), i64(dst.stride), i64(src.stride), i64(cos.stride)});
}

void ProgramBuilder::vred(hw::VectorReduce op, VecRef dst, VecRef src, uint64_t m, uint64_t n) {
  const auto r = load({dst, src});
  emit(Opcode::kVred,
       {static_cast<int64_t>(op), r[0], mem(dst), r[1], mem(src), i64(m), i64(n), i64(src.stride)});
}

void ProgramBuilder::softmax(VecRef dst, VecRef src, uint64_t m, uint64_t n, uint64_t valid,
                             bool causal, uint64_t offset, const SoftmaxOperands& fusion) {
  using isa::softmax::ScaleMode;
  std::vector<VecRef> refs = {dst, src};
  if (fusion.scale) refs.push_back(*fusion.scale);
  const auto r = load(refs);
  const ScaleMode mode = !fusion.scale          ? ScaleMode::kNone
                         : fusion.scale_per_row ? ScaleMode::kRows
                                                : ScaleMode::kScalar;
  emit(Opcode::kSoftmax,
       {r[0], mem(dst), r[1], mem(src), i64(m), i64(n), i64(dst.stride), i64(src.stride),
        i64(valid), causal ? 1 : 0, i64(offset), fusion.src_acc ? 1 : 0, fusion.scale ? r[2] : 0,
        fusion.scale ? mem(*fusion.scale) : 0, static_cast<int64_t>(mode), fusion.dst_act ? 1 : 0});
}

void ProgramBuilder::rmsnorm(VecRef dst, VecRef src, VecRef gain, uint64_t m, uint64_t n,
                             uint64_t eps_log2) {
  const auto r = load({dst, src, gain});
  emit(Opcode::kRmsnorm, {r[0], mem(dst), r[1], mem(src), r[2], mem(gain), i64(m), i64(n),
                          i64(dst.stride), i64(src.stride), i64(eps_log2)});
}

void ProgramBuilder::layernorm(VecRef dst, VecRef src, VecRef gain, VecRef bias, uint64_t m,
                               uint64_t n, uint64_t eps_log2) {
  const auto r = load({dst, src, gain, bias});
  emit(Opcode::kLayernorm, {r[0], mem(dst), r[1], mem(src), r[2], mem(gain), r[3], mem(bias),
                            i64(m), i64(n), i64(dst.stride), i64(src.stride), i64(eps_log2)});
}

void ProgramBuilder::cell(Opcode opcode, VecRef a, VecRef b, VecRef out, uint64_t m, uint64_t n) {
  const auto r = load({a, b, out});
  emit(opcode, {r[0], mem(a), r[1], mem(b), r[2], mem(out), i64(m), i64(n), i64(a.stride),
                i64(b.stride), i64(out.stride)});
}

void ProgramBuilder::halt() { emit(Opcode::kHalt, {}); }

void row_loop(ProgramBuilder& b, unsigned counter, uint32_t rows, uint32_t mt,
              const std::vector<Stream>& streams, const std::function<void(uint32_t)>& body) {
  for (const Stream& s : streams) b.li(s.reg, s.dram);
  const uint32_t full = rows / mt, edge = rows % mt;
  if (full > 0) {
    b.li(counter, full);
    const uint64_t loop = b.here();
    body(mt);
    for (const Stream& s : streams)
      b.addi(s.reg, s.reg, static_cast<int64_t>(uint64_t{mt} * s.row_bytes));
    b.dbnz(counter, loop);
  }
  if (edge > 0) body(edge);
}

void pipelined_row_loop(ProgramBuilder& b, const PipelineRegs& regs, uint32_t rows, uint32_t mt,
                        uint64_t set_bytes, const std::vector<Stream>& inputs,
                        const std::vector<Stream>& outputs, const PipelinedTile& tile) {
  const auto advance = [&](const std::vector<Stream>& streams, uint32_t m) {
    for (const Stream& s : streams)
      b.addi(s.reg, s.reg, static_cast<int64_t>(uint64_t{m} * s.row_bytes));
  };
  const auto load = [&](unsigned set_reg, uint32_t m) {
    tile.load(set_reg, m);
    advance(inputs, m);
  };
  // Tile i of m rows in the current set, the next tile's load (of next_m rows) into the other.
  const auto step = [&](uint32_t m, uint32_t next_m) {
    tile.compute(regs.set, m);
    b.rsubi(regs.other, set_bytes, regs.set, regs.other);
    if (next_m > 0) load(regs.other, next_m);
    tile.store(regs.set, m);
    advance(outputs, m);
    b.addi(regs.set, regs.other, 0);
  };
  for (const Stream& s : inputs) b.li(s.reg, s.dram);
  for (const Stream& s : outputs) b.li(s.reg, s.dram);
  const uint32_t full = rows / mt, edge = rows % mt;
  b.li(regs.set, 0);
  load(regs.set, full > 0 ? mt : edge);
  if (full > 1) {  // every full tile followed by a full tile
    b.li(regs.counter, full - 1);
    const uint64_t loop = b.here();
    step(mt, mt);
    b.dbnz(regs.counter, loop);
  }
  if (full > 0) step(mt, edge);
  if (edge > 0) step(edge, 0);
}

void emit_quantize(ProgramBuilder& b, const QuantizeBuffers& q, uint32_t m, uint32_t k,
                   bool int_kind, uint64_t vb) {
  using hw::ElemType;
  using hw::VectorBinary;
  const auto at = [&](uint64_t addr, uint64_t stride = 0) {
    return VecRef{addr, false, stride, q.base};
  };
  const auto constant = [](uint64_t addr) { return VecRef{addr, false, 0}; };
  const VecRef xv = at(q.xv, q.xv_row), xq = at(q.xq, q.xq_row);
  if (int_kind) {
    b.vred(hw::VectorReduce::kAbsMax, at(q.a), xv, m, k);
    b.vfn(arith::VectorFunction::kReciprocal, at(q.r), at(q.a), 1, m);
    b.vbin(VectorBinary::kMul, at(q.q), at(q.r), constant(q.c127), true, 1, m);
    b.vbin(VectorBinary::kMul, xq, xv, at(q.q, vb), true, m, k, ElemType::kAct);
    if (q.factors) b.vbin(VectorBinary::kMul, at(q.f), at(q.a), constant(q.scale), true, 1, m);
  } else {
    b.vcvt(xq, ElemType::kAct, xv, ElemType::kVec, m, k);
  }
}

}  // namespace nmp::workloads
