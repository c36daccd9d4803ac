#include "isa/isa.hpp"

#include <cstdio>

namespace nmp::isa {
namespace {

using K = OperandKind;

OperandSpec reg(std::string_view name, std::string_view doc) { return {name, K::kReg, 4, {}, doc}; }
OperandSpec uimm(std::string_view name, uint8_t width, std::string_view doc) {
  return {name, K::kUnsigned, width, {}, doc};
}
OperandSpec simm(std::string_view name, uint8_t width, std::string_view doc) {
  return {name, K::kSigned, width, {}, doc};
}
OperandSpec target(std::string_view name, std::string_view doc) {
  return {name, K::kTarget, 32, {}, doc};
}
OperandSpec enumeration(std::string_view name, uint8_t width, std::vector<std::string_view> names,
                        std::string_view doc) {
  return {name, K::kEnum, width, std::move(names), doc};
}

OperandSpec optional(OperandSpec op) {
  op.optional = true;
  return op;
}

// An on-chip memory a DMA command reads or writes (isa::Space).
OperandSpec space(std::string_view name, std::string_view doc) {
  return enumeration(name, 2, {"wsram", "asram", "acc"}, doc);
}

std::vector<OperandSpec> dma_operands() {
  return {space("space", "on-chip memory"),
          reg("sram", "register holding the on-chip byte address"),
          reg("dram", "register holding the DRAM byte address"),
          uimm("rows", 16, "number of rows (>= 1)"),
          uimm("row_bytes", 24, "bytes per row (>= 1)"),
          uimm("sram_stride", 24, "bytes between row starts on chip"),
          uimm("dram_stride", 32, "bytes between row starts in DRAM")};
}

// dma.load and dma.store: an optional conversion of activation rows on the way.
std::vector<OperandSpec> transfer_operands() {
  std::vector<OperandSpec> ops = dma_operands();
  ops.push_back(optional(enumeration(
      "convert", 2, {"none", "activation", "array"},
      "optional, default none: bytes copied as they are; activation: DRAM holds elements of "
      "dram.activation_format, the SRAM elements of the vector format, each converted on the way "
      "(rounded once into the destination format, as vcvt); array: the same with the SRAM "
      "elements in the MAC array's activation format (the PE kind's element format); row_bytes "
      "counts the SRAM side, a whole number of its elements, and DRAM rows hold as many "
      "elements of the activation format")));
  return ops;
}

std::vector<OperandSpec> gather_operands() {
  std::vector<OperandSpec> ops = dma_operands();
  ops[6] = uimm("dram_stride", 32, "bytes between the table rows an index steps over");
  ops.push_back(reg("index", "register holding the activation SRAM byte address of the indices"));
  return ops;
}

OperandSpec vmem(std::string_view name) {
  return enumeration(name, 1, {"asram", "acc"}, "SRAM of the operand before");
}
OperandSpec vtype(std::string_view name) {
  return enumeration(name, 3, {"int8", "int32", "vec", "act", "acc", "stored"},
                     "element type: int8, int32, vec (the vector format), act or acc (the MAC "
                     "array's activation or accumulator format), stored (vec elements rounded to "
                     "vec, then through dram.activation_format and back, as a store to DRAM and "
                     "a load back would leave them)");
}
OperandSpec rows(std::string_view doc = "rows, >= 1") { return uimm("m", 12, doc); }
OperandSpec cols(std::string_view doc = "elements per row, >= 1") { return uimm("n", 16, doc); }
OperandSpec stride(std::string_view name) { return uimm(name, 20, "bytes between rows"); }

constexpr std::string_view kDmaTiming =
    "dram.latency_cycles, then per burst segment max(ceil(segment bytes / dram.bytes_per_cycle), "
    "SRAM chunks); see docs/architecture.md#dma";

std::vector<InstrSpec> build_table() {
  std::vector<InstrSpec> t = {
      {Opcode::kNop, "nop", Unit::kController, {}, "does nothing", "1 issue cycle", false},
      {Opcode::kHalt,
       "halt",
       Unit::kController,
       {},
       "waits until every queue is empty and every unit idle, then stops the machine",
       "1 cycle once all units have drained",
       false},
      {Opcode::kLi,
       "li",
       Unit::kController,
       {reg("rd", "destination"), simm("imm", 64, "value")},
       "rd = imm",
       "1 issue cycle",
       false},
      {Opcode::kAddi,
       "addi",
       Unit::kController,
       {reg("rd", "destination"), reg("rs", "source"), simm("imm", 32, "addend")},
       "rd = rs + imm",
       "1 issue cycle",
       false},
      {Opcode::kAdd,
       "add",
       Unit::kController,
       {reg("rd", "destination"), reg("rs", "source"), reg("rt", "source")},
       "rd = rs + rt",
       "1 issue cycle",
       false},
      {Opcode::kSub,
       "sub",
       Unit::kController,
       {reg("rd", "destination"), reg("rs", "source"), reg("rt", "source")},
       "rd = rs - rt",
       "1 issue cycle",
       false},
      {Opcode::kJmp,
       "jmp",
       Unit::kController,
       {target("target", "instruction index")},
       "pc = target",
       "1 issue cycle + controller.branch_penalty_cycles",
       false},
      {Opcode::kBnez,
       "bnez",
       Unit::kController,
       {reg("rs", "tested register"), target("target", "instruction index")},
       "if rs != 0: pc = target",
       "1 issue cycle, + controller.branch_penalty_cycles if taken",
       false},
      {Opcode::kDbnz,
       "dbnz",
       Unit::kController,
       {reg("rs", "loop counter"), target("target", "instruction index")},
       "rs = rs - 1; if rs != 0: pc = target (a counted hardware loop)",
       "1 issue cycle, + controller.branch_penalty_cycles if taken",
       false},
      {Opcode::kSync,
       "sync",
       Unit::kController,
       {uimm("units", 8, "mask: bit 0 dma, bit 1 mac_array, bit 2 vector; 0 means all")},
       "waits until the queues of the named units are empty and the units idle",
       "1 cycle once the named units have drained",
       false},
      {Opcode::kLayer,
       "layer",
       Unit::kController,
       {uimm("id", 16, "layer index")},
       "attributes the work of the instructions that follow to layer `id` in the report",
       "1 issue cycle",
       false},
      {Opcode::kDmaLoad, "dma.load", Unit::kDma, transfer_operands(),
       "copies rows x row_bytes bytes from DRAM to an on-chip memory", kDmaTiming, true},
      {Opcode::kDmaStore, "dma.store", Unit::kDma, transfer_operands(),
       "copies rows x row_bytes bytes from an on-chip memory to DRAM", kDmaTiming, true},
      {Opcode::kDmaGather, "dma.gather", Unit::kDma, gather_operands(),
       "copies row r (of rows) from DRAM byte dram + index[r] x dram_stride to an on-chip "
       "memory, index[r] the little-endian uint32 at activation SRAM byte index + 4r (a table "
       "lookup: the rows of an embedding the token ids pick)",
       "as dma.load, after one read of the 4 x rows index bytes from the activation SRAM; each "
       "row is its own burst segments",
       true},
      {Opcode::kDmaCopy,
       "dma.copy",
       Unit::kDma,
       {space("src_space", "on-chip memory read"),
        space("dst_space", "on-chip memory written (another than src_space)"),
        reg("src", "register holding the source's byte address"),
        reg("dst", "register holding the destination's byte address"),
        uimm("rows", 16, "number of rows (>= 1)"), uimm("row_bytes", 24, "bytes per row (>= 1)"),
        uimm("src_stride", 24, "bytes between row starts in the source"),
        uimm("dst_stride", 24, "bytes between row starts in the destination")},
       "copies rows x row_bytes bytes from one on-chip memory to another (no DRAM: a key cache "
       "made on chip into the weight SRAM, say)",
       "per row one beat reading the source's words and writing the destination's, each SRAM "
       "at its words per cycle, the two in parallel; see docs/architecture.md#dma",
       true},
      {Opcode::kGemm,
       "gemm",
       Unit::kMacArray,
       {reg("act", "register: activation SRAM address of row 0 (m rows of k activations)"),
        reg("wgt", "register: weight SRAM address of the weights, in the dataflow's blocks"),
        reg("acc", "register: accumulator SRAM address of row 0 (m rows of n accumulators)"),
        uimm("m", 16, "activation rows (tokens), >= 1"), uimm("n", 16, "output features, >= 1"),
        uimm("k", 20, "reduction length (input features), >= 1"),
        uimm("act_stride", 24, "bytes between activation rows"),
        uimm("acc_stride", 24, "bytes between accumulator rows"),
        enumeration("mode", 1, {"overwrite", "accumulate"},
                    "overwrite the accumulators or add to them"),
        optional(enumeration("weights", 1, {"kind", "ternary"},
                             "optional, default kind: the PE kind's own weights, or (int8_int8 "
                             "PEs) packed ternary weights, decoded to -1, 0, +1 as the array "
                             "loads them"))},
       "acc[m][n] (=|+=) sum_k act[m][k] * W[n][k], in the PE kind's formats: int8 activations "
       "and ternary or int8 weights into int32; fp16/bf16/fp8 into fp32 in the dataflow's order; "
       "posits into an exact quire (docs/architecture.md#mac-array)",
       "per fold: stationary load (overlapped with the previous fold if "
       "weight_preload_overlap), then m beats (adder tree) or T + R + C_used - 2 timeline "
       "cycles (systolic); see docs/architecture.md#mac-array",
       true},
      {Opcode::kRequant,
       "requant",
       Unit::kVector,
       {reg("src", "register: accumulator SRAM address of row 0 (int32)"),
        reg("dst", "register: activation SRAM address of output row 0 (int8)"),
        reg("scale", "register: activation SRAM address of the per-row int32 absmax"),
        uimm("m", 16, "rows, >= 1"), uimm("n", 16, "elements per row, >= 1"),
        uimm("src_stride", 24, "bytes between accumulator rows"),
        uimm("dst_stride", 24, "bytes between output rows")},
       "per row: a = max |acc|; s = floor(log2 a) + 24; r = floor(127 * 2^s / a); "
       "q = (acc * r + 2^(s-1)) >> s (0 if a = 0); writes q (int8) and a (uint32)",
       "per row: 2 * ceil(n / lanes) beats + vector_unit.pipeline_depth_cycles + 1 beat",
       true},
      {Opcode::kConvert,
       "cvt",
       Unit::kVector,
       {reg("src", "register: accumulator SRAM address of row 0 (fp32 or quire)"),
        reg("dst", "register: activation SRAM address of output row 0"),
        uimm("m", 16, "rows, >= 1"), uimm("n", 16, "elements per row, >= 1"),
        uimm("src_stride", 24, "bytes between accumulator rows"),
        uimm("dst_stride", 24, "bytes between output rows")},
       "rounds each accumulator (fp32, or a posit quire) once to the PE kind's activation "
       "format (fp16, bf16, fp8, posit), to nearest, ties to even",
       "per row: ceil(n / lanes) beats + vector_unit.pipeline_depth_cycles",
       true},
      {Opcode::kVcvt,
       "vcvt",
       Unit::kVector,
       {reg("dst", "register: address of output row 0"), vmem("dst_mem"), vtype("dst_type"),
        reg("src", "register: address of input row 0"), vmem("src_mem"), vtype("src_type"), rows(),
        cols(), stride("dst_stride"), stride("src_stride")},
       "dst = src converted: the exact value of each element, rounded once to dst_type "
       "(int8 and int32: to nearest even, saturating; int8 to [-127, 127]); dst_type acc is "
       "not allowed",
       "per row: ceil(n / lanes) beats; then vector_unit.pipeline_depth_cycles",
       true},
      {Opcode::kVbin,
       "vbin",
       Unit::kVector,
       {enumeration("op", 3, {"add", "sub", "mul", "max", "min"}, "operation"),
        reg("dst", "register: address of output row 0"), vmem("dst_mem"),
        reg("a", "register: address of row 0 of a"), vmem("a_mem"),
        reg("b", "register: address of row 0 of b"), vmem("b_mem"),
        enumeration("b_mode", 1, {"vector", "scalar"},
                    "b is a row like a (b_stride 0 repeats one row), or one element per row"),
        rows(), cols(), stride("dst_stride"), stride("a_stride"), stride("b_stride"),
        optional(enumeration(
            "round", 2, {"vec", "stored", "act"},
            "optional, default vec: the result rounded once to the vector format; stored: then "
            "through dram.activation_format and back, as a store to DRAM and a load back would "
            "leave it (a fused epilogue's rounding, in the same pass); act: then to the MAC "
            "array's activation format, as vcvt to act, dst holding act elements (quantizing "
            "rows in the same pass as their scaling)"))},
       "dst[i][j] = a[i][j] op b[i][j] (or op b[i] in scalar mode), in the vector format, "
       "rounded once (round = stored: then as DRAM stores it; act: then to act)",
       "per row: ceil(n / lanes) beats; then vector_unit.pipeline_depth_cycles",
       true},
      {Opcode::kVfn,
       "vfn",
       Unit::kVector,
       {enumeration(
            "fn", 3,
            {"sigmoid", "tanh", "exp", "gelu", "silu", "squared_relu", "reciprocal", "rsqrt"},
            "function (docs/formats.md#vector-functions)"),
        reg("dst", "register: address of output row 0"), vmem("dst_mem"),
        reg("src", "register: address of input row 0"), vmem("src_mem"), rows(), cols(),
        stride("dst_stride"), stride("src_stride")},
       "dst[i][j] = fn(src[i][j]) through the function unit's PWL tables, in the vector format",
       "per row: ceil(n / lanes) beats; then vector_unit.pipeline_depth_cycles",
       true},
      {Opcode::kVred,
       "vred",
       Unit::kVector,
       {enumeration("op", 3, {"max", "sum", "sumsq", "absmax", "mean"}, "reduction"),
        reg("dst", "register: address of the m results (consecutive)"), vmem("dst_mem"),
        reg("src", "register: address of input row 0"), vmem("src_mem"), rows(), cols(),
        stride("src_stride")},
       "dst[i] = op over src[i][0..n): max, sum, sum of squares, max |x| or mean (sum x 1/n); "
       "sums in the lane order and the accumulator format of docs/formats.md#vector-functions, "
       "rounded once to the vector format",
       "per row: ceil(n / lanes) beats; then ceil(log2 lanes) + vector_unit.pipeline_depth_cycles "
       "and one beat writing the m results",
       true},
      {Opcode::kSoftmax,
       "softmax",
       Unit::kVector,
       {reg("dst", "register: address of output row 0"), vmem("dst_mem"),
        reg("src", "register: address of input row 0"), vmem("src_mem"), rows(), cols(),
        stride("dst_stride"), stride("src_stride"),
        uimm("valid", 16, "columns taking part (the rest are masked: padding of a KV cache)"),
        enumeration("causal", 1, {"none", "causal"}, "causal mask"),
        uimm("offset", 16, "causal: row i sees columns < offset + i + 1"),
        optional(enumeration("src_type", 1, {"vec", "acc"},
                             "optional, default vec: src's elements; acc: the MAC array's "
                             "accumulators, each converted to the vector format first (as vact)")),
        optional(reg("scale", "optional: register: address of the scale (scale_mode)")),
        optional(vmem("scale_mem")),
        optional(enumeration("scale_mode", 2, {"none", "scalar", "rows"},
                             "optional, default none: x is src's element; scalar: x is src's "
                             "element times the one element at scale, rounded (vact's scale); "
                             "rows: times row i's element, scale's i-th (consecutive)")),
        optional(enumeration("dst_type", 1, {"vec", "act"},
                             "optional, default vec: y in the vector format; act: y then rounded "
                             "to the MAC array's activation format (as vcvt)"))},
       "per row i over its v_i = min(valid, offset + i + 1 if causal) first columns: "
       "y = exp(x - max) * reciprocal(sum exp(x - max)); masked columns are 0; with src_type "
       "acc, scale_mode and dst_type act, the values of vact, softmax and vcvt in turn",
       "per row: 3 passes of ceil(v_i / lanes) beats over its v_i columns (max, after a beat "
       "reading the row's scale where there is one; exp and sum, writing the exponentials to "
       "dst, then its masked columns' zeros from the next beat on; scale, reading and writing "
       "dst), each after the row's previous pass by at least ceil(log2 lanes) + "
       "vector_unit.pipeline_depth_cycles (the max's and the sum's tree); with dst_type act the "
       "exp pass writes nothing and the scale pass reads src again (exp computed again) and "
       "writes dst, then the masked zeros; rows software pipelined (pass j of row t - 2 j in "
       "step t), so two steps of other rows' passes fill that wait; then "
       "vector_unit.pipeline_depth_cycles",
       true},
      {Opcode::kRmsnorm,
       "rmsnorm",
       Unit::kVector,
       {reg("dst", "register: address of output row 0"), vmem("dst_mem"),
        reg("src", "register: address of input row 0"), vmem("src_mem"),
        reg("gain", "register: address of the n gains"), vmem("gain_mem"), rows(), cols(),
        stride("dst_stride"), stride("src_stride"), uimm("eps_log2", 6, "epsilon = 2^-eps_log2")},
       "y = x * rsqrt(sum(x^2) * (1/n) + 2^-eps_log2) * gain, each operation rounded",
       "per row: ceil(n / lanes) beats, then ceil(n / lanes) beats at least ceil(log2 lanes) + "
       "vector_unit.pipeline_depth_cycles later (the sum's tree); rows software pipelined as "
       "softmax's; then vector_unit.pipeline_depth_cycles",
       true},
      {Opcode::kLayernorm,
       "layernorm",
       Unit::kVector,
       {reg("dst", "register: address of output row 0"), vmem("dst_mem"),
        reg("src", "register: address of input row 0"), vmem("src_mem"),
        reg("gain", "register: address of the n gains"), vmem("gain_mem"),
        reg("bias", "register: address of the n biases"), vmem("bias_mem"), rows(), cols(),
        stride("dst_stride"), stride("src_stride"), uimm("eps_log2", 6, "epsilon = 2^-eps_log2")},
       "mean = sum(x) * (1/n) (vred mean's); c = x - mean; y = c * rsqrt(sum(c^2) * (1/n) + "
       "2^-eps_log2) * gain + bias; each operation rounded (the values of vred mean, vbin "
       "subtracting it, rmsnorm and vbin adding the bias in turn); dst may be src",
       "per row: 3 passes of ceil(n / lanes) beats (the sum; x again, centred, for the sum of "
       "squares; x, gain and bias in, y out: the centring done again rather than stored), each "
       "after the row's previous pass by at least ceil(log2 lanes) + "
       "vector_unit.pipeline_depth_cycles (the sums' trees); rows software pipelined as "
       "softmax's; then vector_unit.pipeline_depth_cycles",
       true},
      {Opcode::kLstmCell,
       "lstm.cell",
       Unit::kVector,
       {reg("gates", "register: address of row 0 of the pre-activations [i | f | g | o]"),
        vmem("gates_mem"), reg("c", "register: address of row 0 of the cell state (in place)"),
        vmem("c_mem"), reg("h", "register: address of row 0 of the output h"), vmem("h_mem"),
        rows(), cols("hidden units, >= 1"), stride("gates_stride"), stride("c_stride"),
        stride("h_stride")},
       "i, f, o = sigmoid; g = tanh; c = f * c + i * g; h = o * tanh(c); in the vector format",
       "per row: 5 * ceil(n / lanes) cycles of function evaluations while the gates stream in, "
       "then c and h stream out; then vector_unit.pipeline_depth_cycles",
       true},
      {Opcode::kGruCell,
       "gru.cell",
       Unit::kVector,
       {reg("gx", "register: address of row 0 of the input pre-activations [r | z | n]"),
        vmem("gx_mem"),
        reg("gh", "register: address of row 0 of the hidden pre-activations [r | z | n]"),
        vmem("gh_mem"), reg("h", "register: address of row 0 of the state h (in place)"),
        vmem("h_mem"), rows(), cols("hidden units, >= 1"), stride("gx_stride"), stride("gh_stride"),
        stride("h_stride")},
       "r = sigmoid(gx_r + gh_r); z = sigmoid(gx_z + gh_z); n = tanh(gx_n + r * gh_n); "
       "h = (1 - z) * n + z * h; in the vector format",
       "per row: 3 * ceil(n / lanes) cycles of function evaluations while gx and gh stream in, "
       "then h streams out; then vector_unit.pipeline_depth_cycles",
       true},
      {Opcode::kVrope,
       "vrope",
       Unit::kVector,
       {reg("dst", "register: address of output row 0"), vmem("dst_mem"),
        reg("src", "register: address of input row 0"), vmem("src_mem"),
        reg("cos", "register: address of row 0 of the cosines (n / 2 a row)"), vmem("cos_mem"),
        reg("sin", "register: address of row 0 of the sines (n / 2 a row)"), vmem("sin_mem"),
        rows("rows (tokens), >= 1"), cols("elements per head, even, >= 2"),
        uimm("heads", 12, "heads per row, each of n elements, >= 1"), stride("dst_stride"),
        stride("src_stride"), stride("table_stride")},
       "rotary embedding of each head's halves x1, x2 (h = n / 2) by its row's tables: "
       "dst = x1 c - x2 s in the first half, x2 c + x1 s in the second, c = cos[row][j], s = "
       "sin[row][j]; each product, then the difference or sum, rounded to the vector format as "
       "vbin rounds it (the same values as the six vbin commands over the heads, dst apart from "
       "src); dst may be src, each pair of elements read before it is written",
       "per row: ceil(n / 2 / lanes) beats reading its cosines and sines (latched for all its "
       "heads), then ceil(n heads / lanes) beats each reading and writing lanes elements of its "
       "heads (a head's halves paired in the lanes' buffer); then "
       "vector_unit.pipeline_depth_cycles",
       true},
      {Opcode::kVact,
       "vact",
       Unit::kVector,
       {enumeration("fn", 4,
                    {"none", "sigmoid", "tanh", "exp", "gelu", "silu", "squared_relu", "reciprocal",
                     "rsqrt"},
                    "function applied last (docs/formats.md#vector-functions), or none"),
        reg("dst", "register: address of output row 0"), vmem("dst_mem"),
        reg("src", "register: address of accumulator row 0"), vmem("src_mem"),
        reg("scale", "register: address of row 0's scale (one element per row)"), vmem("scale_mem"),
        reg("bias", "register: address of the bias row"), vmem("bias_mem"),
        enumeration("terms", 2, {"none", "scale", "bias", "scale_bias"},
                    "what follows the conversion: each row times its scale, the bias row added "
                    "to every row, both (in that order), or neither (their registers unread)"),
        enumeration("round", 1, {"vec", "stored"},
                    "after the scale and bias: stored rounds through dram.activation_format and "
                    "back, as a store to DRAM and a load back would (vcvt's stored type)"),
        rows(), cols(), stride("dst_stride"), stride("src_stride"), stride("scale_stride"),
        optional(enumeration(
            "bias_as", 3, {"row", "add", "mul", "radd", "rmul"},
            "optional, default row: the bias register's one row added to every row before the "
            "rounding; add, mul: it addresses m rows (dst_stride apart) instead, and each result "
            "after the rounding and fn becomes result + t or result x t, rounded to the vector "
            "format (vbin's vector mode); radd, rmul: t + result, t x result (a fused add's or "
            "mul's operands in their order); terms must include bias"))},
       "dst = fn(round(src x scale + bias)): the accumulators converted to the vector format, "
       "then each operation of vcvt, vbin (scalar mul, add) and vfn in that order, each rounded "
       "once to the vector format as those commands round it: the same values as the sequence, "
       "in one pass; with bias_as add or mul, then vbin with the bias rows",
       "per row: with a scale, one beat reading it; ceil(n / lanes) beats reading the "
       "accumulators (and the bias or the bias rows) and writing dst; then "
       "vector_unit.pipeline_depth_cycles",
       true},
  };
  for (InstrSpec& spec : t) {
    unsigned lsb = kOpcodeBits;
    for (OperandSpec& op : spec.operands) {
      op.lsb = static_cast<uint8_t>(lsb);
      lsb += op.width;
    }
    if (lsb > kInstrBits || spec.operands.size() > kMaxOperands) {
      throw std::logic_error("instruction table: operands of " + std::string(spec.mnemonic) +
                             " do not fit 128 bits");
    }
  }
  return t;
}

unsigned __int128 to_u128(const Instr& i) {
  return (static_cast<unsigned __int128>(i.hi) << 64) | i.lo;
}

Instr from_u128(unsigned __int128 v) {
  return {static_cast<uint64_t>(v), static_cast<uint64_t>(v >> 64)};
}

unsigned __int128 field_mask(unsigned width) {
  return width >= 128 ? ~static_cast<unsigned __int128>(0)
                      : (static_cast<unsigned __int128>(1) << width) - 1;
}

}  // namespace

std::string_view unit_name(Unit unit) {
  switch (unit) {
    case Unit::kController:
      return "controller";
    case Unit::kDma:
      return "dma";
    case Unit::kMacArray:
      return "mac_array";
    case Unit::kVector:
      return "vector";
  }
  return "?";
}

unsigned unit_mask_bit(Unit unit) {
  switch (unit) {
    case Unit::kDma:
      return 1u << 0;
    case Unit::kMacArray:
      return 1u << 1;
    case Unit::kVector:
      return 1u << 2;
    case Unit::kController:
      break;
  }
  return 0;
}

const std::vector<InstrSpec>& instruction_table() {
  static const std::vector<InstrSpec> table = build_table();
  return table;
}

const InstrSpec* find_spec(Opcode opcode) {
  for (const InstrSpec& s : instruction_table())
    if (s.opcode == opcode) return &s;
  return nullptr;
}

const InstrSpec* find_spec(std::string_view mnemonic) {
  for (const InstrSpec& s : instruction_table())
    if (s.mnemonic == mnemonic) return &s;
  return nullptr;
}

bool fits(const OperandSpec& op, int64_t value) {
  switch (op.kind) {
    case K::kReg:
      return value >= 0 && value < static_cast<int64_t>(kNumRegs);
    case K::kEnum:
      return value >= 0 && static_cast<size_t>(value) < op.enum_names.size();
    case K::kSigned:
      if (op.width >= 64) return true;
      return value >= -(int64_t{1} << (op.width - 1)) && value < (int64_t{1} << (op.width - 1));
    case K::kUnsigned:
    case K::kTarget:
      if (value < 0) return false;
      return op.width >= 63 || value < (int64_t{1} << op.width);
  }
  return false;
}

Instr encode(Opcode opcode, const std::vector<int64_t>& fields) {
  const InstrSpec* spec = find_spec(opcode);
  if (!spec) throw EncodingError("unknown opcode " + std::to_string(static_cast<int>(opcode)));
  if (fields.size() != spec->operands.size()) {
    throw EncodingError(std::string(spec->mnemonic) + " takes " +
                        std::to_string(spec->operands.size()) + " operands, got " +
                        std::to_string(fields.size()));
  }
  unsigned __int128 bits = static_cast<uint8_t>(opcode);
  for (size_t i = 0; i < fields.size(); ++i) {
    const OperandSpec& op = spec->operands[i];
    if (!fits(op, fields[i])) {
      throw EncodingError(std::string(spec->mnemonic) + ": " + std::string(op.name) + " = " +
                          std::to_string(fields[i]) + " does not fit its " +
                          std::to_string(op.width) + "-bit field");
    }
    const auto raw = static_cast<unsigned __int128>(static_cast<uint64_t>(fields[i]));
    bits |= (raw & field_mask(op.width)) << op.lsb;
  }
  return from_u128(bits);
}

Decoded decode(const Instr& instr) {
  const unsigned __int128 bits = to_u128(instr);
  const auto opcode = static_cast<Opcode>(static_cast<uint8_t>(bits & 0xff));
  Decoded d;
  d.spec = find_spec(opcode);
  if (!d.spec) {
    char text[8];
    std::snprintf(text, sizeof text, "0x%02x", static_cast<unsigned>(opcode));
    throw EncodingError(std::string("unknown opcode ") + text);
  }
  unsigned used = kOpcodeBits;
  for (size_t i = 0; i < d.spec->operands.size(); ++i) {
    const OperandSpec& op = d.spec->operands[i];
    const auto raw = static_cast<uint64_t>((bits >> op.lsb) & field_mask(op.width));
    int64_t value = static_cast<int64_t>(raw);
    if (op.kind == K::kSigned && op.width < 64 && (raw >> (op.width - 1)) & 1) {
      value = static_cast<int64_t>(raw | (~uint64_t{0} << op.width));
    }
    if (op.kind == K::kEnum && static_cast<size_t>(value) >= op.enum_names.size()) {
      throw EncodingError(std::string(d.spec->mnemonic) + ": invalid " + std::string(op.name) +
                          " value " + std::to_string(value));
    }
    d.fields[i] = value;
    used = op.lsb + op.width;
  }
  if (used < kInstrBits && (bits >> used) != 0) {
    throw EncodingError(std::string(d.spec->mnemonic) + ": unused bits are not zero");
  }
  return d;
}

}  // namespace nmp::isa
