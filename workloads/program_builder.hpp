// Emits ISA instructions with named helpers, so lowering code reads like assembly.
//
// Example:
//   ProgramBuilder b;
//   b.li(1, 4096);
//   b.dma(isa::Opcode::kDmaLoad, isa::Space::kActSram, 2, 1, rows, row_bytes, stride, stride);
//   b.halt();
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "hw_models/arith/vector_math.hpp"
#include "hw_models/vector_ops.hpp"
#include "isa/program.hpp"

namespace nmp::workloads {

// The most rows one vector command takes (its 12-bit m field).
inline constexpr uint32_t kMaxVectorRows = 4095;

// A row operand of a vector command: address, SRAM (asram or acc) and row stride. The builder
// loads addresses into registers r13-r15, which the lowering leaves to it.
// With `base` (a register other than r0), the address is that register's value plus `addr`:
// code in a loop steps through rows by advancing the register.
struct VecRef {
  uint64_t addr = 0;
  bool acc = false;
  uint64_t stride = 0;
  unsigned base = 0;
};

// softmax's optional operands (isa: softmax): src holding accumulators, a scale (one element
// for every row, or per row: consecutive), dst in the array's activation format.
struct SoftmaxOperands {
  bool src_acc = false;
  std::optional<VecRef> scale;
  bool scale_per_row = false;
  bool dst_act = false;
};

class ProgramBuilder {
 public:
  static constexpr unsigned kFirstVecReg = 13;

  uint64_t here() const { return program_.size(); }  // index of the next instruction
  void li(unsigned rd, uint64_t value);
  void addi(unsigned rd, unsigned rs, int64_t imm);
  void sub(unsigned rd, unsigned rs, unsigned rt);
  // rd = value - rs, through `scratch` (which must not be rs): the other of two buffers
  // whose addresses sum to `value`.
  void rsubi(unsigned rd, uint64_t value, unsigned rs, unsigned scratch);
  void dbnz(unsigned rs, uint64_t target);
  void layer(uint32_t id);
  // dma.load or dma.store; `convert`: activation rows, dram.activation_format in DRAM and the
  // vector format (or the MAC array's activation format) on chip; row_bytes counts the SRAM
  // side.
  void dma(isa::Opcode opcode, isa::Space space, unsigned sram_reg, unsigned dram_reg,
           uint64_t rows, uint64_t row_bytes, uint64_t sram_stride, uint64_t dram_stride,
           isa::dma::Conversion convert = isa::dma::kNoConversion);
  // Rows of a DRAM table picked by the uint32 indices at `index_reg` (activation SRAM).
  void dma_gather(isa::Space space, unsigned sram_reg, unsigned dram_reg, unsigned index_reg,
                  uint64_t rows, uint64_t row_bytes, uint64_t sram_stride, uint64_t table_stride);
  // Rows from one on-chip memory to another (dma.copy), no DRAM.
  void dma_copy(isa::Space src_space, unsigned src_reg, isa::Space dst_space, unsigned dst_reg,
                uint64_t rows, uint64_t row_bytes, uint64_t src_stride, uint64_t dst_stride);
  // ternary_weights: packed ternary weights on int8_int8 PEs (the gemm's `weights` field).
  void gemm(unsigned act_reg, unsigned wgt_reg, unsigned acc_reg, uint64_t m, uint64_t n,
            uint64_t k, uint64_t act_stride, uint64_t acc_stride, isa::AccMode mode,
            bool ternary_weights = false);
  void requant(unsigned src_reg, unsigned dst_reg, unsigned scale_reg, uint64_t m, uint64_t n,
               uint64_t src_stride, uint64_t dst_stride);
  void convert(unsigned src_reg, unsigned dst_reg, uint64_t m, uint64_t n, uint64_t src_stride,
               uint64_t dst_stride);
  void vcvt(VecRef dst, hw::ElemType dst_type, VecRef src, hw::ElemType src_type, uint64_t m,
            uint64_t n);
  // result: vec, or each result then rounded as DRAM stores it (stored) or to the MAC array's
  // activation format (act; dst holds act elements): the `round` operand.
  void vbin(hw::VectorBinary op, VecRef dst, VecRef a, VecRef b, bool b_scalar, uint64_t m,
            uint64_t n, hw::ElemType result = hw::ElemType::kVec);
  void vfn(arith::VectorFunction fn, VecRef dst, VecRef src, uint64_t m, uint64_t n);
  // dst = fn(round(src x scale + bias)) in one pass (isa: vact): `scale` and `bias` take part
  // when given, `fn` when given; round_stored as vbin's. At most three of the operands may
  // need a register of their own (an address not just a base register's).
  // bias_as other than row: `bias` is m rows at dst's stride, combined with each result last.
  void vact(VecRef dst, VecRef src, std::optional<VecRef> scale, std::optional<VecRef> bias,
            std::optional<arith::VectorFunction> fn, bool round_stored, uint64_t m, uint64_t n,
            isa::vact::Bias bias_as = isa::vact::Bias::kRow);
  // Whether `ref` needs a register of the builder's: an address beyond its base register's
  // (or beyond 0, which r0 reads).
  static bool needs_register(const VecRef& ref) { return ref.addr != 0; }
  void vred(hw::VectorReduce op, VecRef dst, VecRef src, uint64_t m, uint64_t n);
  // Rotary embedding of m rows of `heads` heads of n elements (isa: vrope); cos and sin share
  // their stride.
  void vrope(VecRef dst, VecRef src, VecRef cos, VecRef sin, uint64_t m, uint64_t n,
             uint64_t heads);
  void softmax(VecRef dst, VecRef src, uint64_t m, uint64_t n, uint64_t valid, bool causal,
               uint64_t offset, const SoftmaxOperands& fusion = {});
  void rmsnorm(VecRef dst, VecRef src, VecRef gain, uint64_t m, uint64_t n, uint64_t eps_log2);
  void layernorm(VecRef dst, VecRef src, VecRef gain, VecRef bias, uint64_t m, uint64_t n,
                 uint64_t eps_log2);
  // lstm.cell (a = gates, b = c) or gru.cell (a = gx, b = gh); out = h.
  void cell(isa::Opcode opcode, VecRef a, VecRef b, VecRef out, uint64_t m, uint64_t n);
  void halt();

  const isa::Program& program() const { return program_; }
  size_t size() const { return program_.size(); }

 private:
  void emit(isa::Opcode opcode, const std::vector<int64_t>& fields);
  // Loads the operands' addresses into r13.. and returns their registers.
  std::vector<int64_t> load(const std::vector<VecRef>& refs);
  isa::Program program_;
};

// Rows of a DRAM tensor that a row loop steps through: `reg` holds the current tile's first.
struct Stream {
  unsigned reg;
  uint64_t dram, row_bytes;
};
// Emits `body(m)` over `rows` rows in tiles of `mt`: full tiles in a loop counted in register
// `counter` that advances every stream's register, then the edge tile.
void row_loop(ProgramBuilder& b, unsigned counter, uint32_t rows, uint32_t mt,
              const std::vector<Stream>& streams, const std::function<void(uint32_t)>& body);

// A row loop software pipelined over two sets of on-chip buffers `set_bytes` apart: tile i + 1
// loads into the other set while tile i computes, and tile i's stores follow that load, so the
// DMA moves one tile while the vector unit works on another (set_bytes 0: one set, each tile's
// steps in turn). Each step addresses its tile's buffers above the offset (0 or set_bytes) in
// the register it is given. `load` reads the input streams' current rows and `store` writes
// the output streams'; the loop advances each stream's register past them. `compute` runs
// after its tile's load and before the next tile's, so the input streams' registers then point
// just past its rows (a step that moves the tile's rows itself finds them m rows back). The next
// tile's load comes before this tile's store, so in one set it must not write what the store
// reads.
struct PipelinedTile {
  std::function<void(unsigned set_reg, uint32_t m)> load, compute, store;
};
struct PipelineRegs {
  unsigned counter, set, other;  // full tiles left; the current set's offset; the other's
};
void pipelined_row_loop(ProgramBuilder& b, const PipelineRegs& regs, uint32_t rows, uint32_t mt,
                        uint64_t set_bytes, const std::vector<Stream>& inputs,
                        const std::vector<Stream>& outputs, const PipelinedTile& tile);

// The on-chip buffers of quantizing m rows of k elements for the MAC array: addresses above
// the `base` register's value (0: r0, absolute), but the constants, which are absolute.
struct QuantizeBuffers {
  uint64_t xv = 0, xv_row = 0;          // the rows (vec)
  uint64_t xq = 0, xq_row = 0;          // the quantized rows (act format)
  uint64_t a = 0, r = 0, q = 0, f = 0;  // integer kinds: per row absmax, 1/absmax, 127/absmax,
                                        // the factor absmax s / 127
  uint64_t c127 = 0, scale = 0;         // the constants 127 and s / 127 (s: the weights' scale)
  unsigned base = 0;
  bool factors = true;  // integer kinds: form each row's factor at f
};
// Integer kinds: a = absmax, x_q = int8(x 127 / a), factor a s / 127; other kinds: rounding to
// the activation format. vb: bytes of a vec element.
void emit_quantize(ProgramBuilder& b, const QuantizeBuffers& q, uint32_t m, uint32_t k,
                   bool int_kind, uint64_t vb);

}  // namespace nmp::workloads
