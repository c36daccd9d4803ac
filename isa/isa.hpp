// The nmpsim instruction set: one table that the encoder, decoder, assembler, disassembler,
// controller and docs/isa.md all read.
//
// Every instruction is 128 bits. Bits [0, 8) hold the opcode; the operands follow in table
// order, each in the next `width` bits (so positions are derived, never written twice).
// Registers r0..r15 are 64 bits wide; r0 always reads 0. Addresses of on-chip memories and of
// DRAM come from registers; shapes and strides are immediates.
//
// Example:
//   Instr i = encode(Opcode::kGemm, {4, 5, 6, 1, 384, 2560, 2560, 1536, 0});
//   Decoded d = decode(i);            // d.spec->mnemonic == "gemm", d.field(gemm::kN) == 384
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace nmp::isa {

inline constexpr unsigned kInstrBits = 128;
inline constexpr unsigned kInstrBytes = kInstrBits / 8;
inline constexpr unsigned kOpcodeBits = 8;
inline constexpr unsigned kNumRegs = 16;
inline constexpr unsigned kMaxOperands = 17;

// The unit that executes an instruction. The controller executes scalar and control
// instructions itself and issues the rest, in order, into the queue of their unit.
enum class Unit : uint8_t { kController, kDma, kMacArray, kVector };
inline constexpr unsigned kNumQueuedUnits = 3;  // dma, mac_array, vector
std::string_view unit_name(Unit unit);
// Bit of a queued unit in a `sync` mask.
unsigned unit_mask_bit(Unit unit);

enum class Opcode : uint8_t {
  kNop = 0x00,
  kHalt = 0x01,
  kLi = 0x02,
  kAddi = 0x03,
  kAdd = 0x04,
  kSub = 0x05,
  kJmp = 0x06,
  kBnez = 0x07,
  kDbnz = 0x08,
  kSync = 0x09,
  kLayer = 0x0a,
  kDmaLoad = 0x10,
  kDmaStore = 0x11,
  kDmaGather = 0x12,
  kDmaCopy = 0x13,
  kGemm = 0x20,
  kRequant = 0x30,
  kConvert = 0x31,
  kVcvt = 0x32,
  kVbin = 0x33,
  kVfn = 0x34,
  kVred = 0x35,
  kSoftmax = 0x36,
  kRmsnorm = 0x37,
  kLstmCell = 0x38,
  kGruCell = 0x39,
  kVact = 0x3a,
  kVrope = 0x3b,
  kLayernorm = 0x3c,
};

enum class OperandKind : uint8_t {
  kReg,       // r0..r15
  kUnsigned,  // immediate, 0 .. 2^width - 1
  kSigned,    // immediate, two's complement in `width` bits
  kTarget,    // instruction index (a label in assembly)
  kEnum,      // one of a list of names
};

// On-chip memories a DMA transfer can address.
enum class Space : uint8_t { kWeightSram = 0, kActSram = 1, kAccSram = 2 };
// Whether a GEMM tile overwrites its accumulators or adds to them.
enum class AccMode : uint8_t { kOverwrite = 0, kAccumulate = 1 };

struct OperandSpec {
  std::string_view name;
  OperandKind kind;
  uint8_t width;
  std::vector<std::string_view> enum_names;  // kEnum only, indexed by value
  std::string_view doc;
  uint8_t lsb = 0;        // derived from the table order
  bool optional = false;  // the assembler takes an omitted operand as 0 (its first name)
};

struct InstrSpec {
  Opcode opcode;
  std::string_view mnemonic;
  Unit unit;
  std::vector<OperandSpec> operands;
  std::string_view semantics;
  std::string_view timing;
  bool keyword_syntax;  // disassembled as name=value (unit instructions) or positionally
};

const std::vector<InstrSpec>& instruction_table();
const InstrSpec* find_spec(Opcode opcode);
const InstrSpec* find_spec(std::string_view mnemonic);

// Operand positions, in table order, for the instructions whose operands are read by name.
namespace ctrl {
enum : unsigned { kRd = 0, kRs = 1, kRt = 2 };  // li, addi, add, sub
enum : unsigned { kLiImm = 1, kAddiImm = 2 };
enum : unsigned { kBranchReg = 0, kBranchTarget = 1 };  // bnez, dbnz
enum : unsigned { kJmpTarget = 0, kSyncUnits = 0, kLayerId = 0 };
}  // namespace ctrl
namespace dma {
enum : unsigned { kSpace, kSram, kDram, kRows, kRowBytes, kSramStride, kDramStride, kIndex };
inline constexpr unsigned kConvert = 7;  // dma.load and dma.store (gather: kIndex)
// The convert operand's values: what the SRAM side holds.
enum Conversion : uint64_t { kNoConversion, kToVector, kToArray };
}  // namespace dma
namespace dma_copy {
enum : unsigned { kSrcSpace, kDstSpace, kSrc, kDst, kRows, kRowBytes, kSrcStride, kDstStride };
}
namespace gemm {
enum : unsigned { kAct, kWgt, kAcc, kM, kN, kK, kActStride, kAccStride, kMode, kWeights };
}
namespace requant {
enum : unsigned { kSrc, kDst, kScale, kM, kN, kSrcStride, kDstStride };
}
namespace convert {
enum : unsigned { kSrc, kDst, kM, kN, kSrcStride, kDstStride };
}
// Vector commands: `*_mem` operands name the SRAM (0 asram, 1 acc) of the register before.
namespace vcvt {
enum : unsigned {
  kDst,
  kDstMem,
  kDstType,
  kSrc,
  kSrcMem,
  kSrcType,
  kM,
  kN,
  kDstStride,
  kSrcStride
};
}
namespace vbin {
enum : unsigned {
  kOp,
  kDst,
  kDstMem,
  kA,
  kAMem,
  kB,
  kBMem,
  kBMode,
  kM,
  kN,
  kDstStride,
  kAStride,
  kBStride,
  kRound
};
}
namespace vfn {
enum : unsigned { kFn, kDst, kDstMem, kSrc, kSrcMem, kM, kN, kDstStride, kSrcStride };
}
// vact: fn 0: none, else arith::VectorFunction fn - 1; terms: bit 0 scale, bit 1 bias;
// bias_as: Bias (the bias one row, or rows combined with each result after its rounding).
namespace vact {
enum class Bias : uint8_t { kRow, kAdd, kMul, kReversedAdd, kReversedMul };
enum : unsigned {
  kFn,
  kDst,
  kDstMem,
  kSrc,
  kSrcMem,
  kScale,
  kScaleMem,
  kBias,
  kBiasMem,
  kTerms,
  kRound,
  kM,
  kN,
  kDstStride,
  kSrcStride,
  kScaleStride,
  kBiasAs
};
}  // namespace vact
namespace vrope {
enum : unsigned {
  kDst,
  kDstMem,
  kSrc,
  kSrcMem,
  kCos,
  kCosMem,
  kSin,
  kSinMem,
  kM,
  kN,
  kHeads,
  kDstStride,
  kSrcStride,
  kTableStride
};
}
namespace vred {
enum : unsigned { kOp, kDst, kDstMem, kSrc, kSrcMem, kM, kN, kSrcStride };
}
namespace softmax {
enum : unsigned {
  kDst,
  kDstMem,
  kSrc,
  kSrcMem,
  kM,
  kN,
  kDstStride,
  kSrcStride,
  kValid,
  kCausal,
  kOffset,
  kSrcType,
  kScale,
  kScaleMem,
  kScaleMode,
  kDstType
};
// The scale operand: none, one element for every row, or one per row (consecutive).
enum class ScaleMode : uint8_t { kNone, kScalar, kRows };
}  // namespace softmax
namespace rmsnorm {
enum : unsigned {
  kDst,
  kDstMem,
  kSrc,
  kSrcMem,
  kGain,
  kGainMem,
  kM,
  kN,
  kDstStride,
  kSrcStride,
  kEpsLog2
};
}
namespace layernorm {
enum : unsigned {
  kDst,
  kDstMem,
  kSrc,
  kSrcMem,
  kGain,
  kGainMem,
  kBias,
  kBiasMem,
  kM,
  kN,
  kDstStride,
  kSrcStride,
  kEpsLog2
};
}
namespace cell {  // lstm.cell: a = gates, b = c, out = h; gru.cell: a = gx, b = gh, out = h
enum : unsigned { kA, kAMem, kB, kBMem, kOut, kOutMem, kM, kN, kAStride, kBStride, kOutStride };
}

struct Instr {
  uint64_t lo = 0;  // bits [0, 64)
  uint64_t hi = 0;  // bits [64, 128)
  bool operator==(const Instr& o) const { return lo == o.lo && hi == o.hi; }
  bool operator!=(const Instr& o) const { return !(*this == o); }
};

struct Decoded {
  const InstrSpec* spec = nullptr;
  std::array<int64_t, kMaxOperands> fields{};  // sign-extended for kSigned
  int64_t field(unsigned index) const { return fields[index]; }
  uint64_t ufield(unsigned index) const { return static_cast<uint64_t>(fields[index]); }
};

class EncodingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws EncodingError when a value does not fit its operand.
Instr encode(Opcode opcode, const std::vector<int64_t>& fields);
// Throws EncodingError for an unknown opcode, an invalid enum value or non-zero unused bits.
Decoded decode(const Instr& instr);

// Whether `value` fits operand `op`.
bool fits(const OperandSpec& op, int64_t value);

}  // namespace nmp::isa
