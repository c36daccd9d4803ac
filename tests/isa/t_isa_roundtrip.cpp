#include <catch2/catch.hpp>

#include <random>

#include "isa/assembler.hpp"
#include "isa/isa.hpp"
#include "isa/program.hpp"

using namespace nmp::isa;

namespace {

// A random value that fits `op`, with the extremes of its range often.
int64_t random_value(const OperandSpec& op, std::mt19937_64& rng) {
  switch (op.kind) {
    case OperandKind::kReg:
      return static_cast<int64_t>(rng() % kNumRegs);
    case OperandKind::kEnum:
      return static_cast<int64_t>(rng() % op.enum_names.size());
    case OperandKind::kSigned: {
      if (op.width >= 64) return static_cast<int64_t>(rng());
      const int64_t lo = -(int64_t{1} << (op.width - 1)), hi = (int64_t{1} << (op.width - 1)) - 1;
      switch (rng() % 4) {
        case 0:
          return lo;
        case 1:
          return hi;
        default:
          return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
      }
    }
    case OperandKind::kUnsigned:
    case OperandKind::kTarget: {
      const uint64_t max = op.width >= 63 ? uint64_t{INT64_MAX} : (uint64_t{1} << op.width) - 1;
      switch (rng() % 4) {
        case 0:
          return 0;
        case 1:
          return static_cast<int64_t>(max);
        default:
          return static_cast<int64_t>(rng() % (max + 1));
      }
    }
  }
  return 0;
}

Program random_program(size_t n, std::mt19937_64& rng) {
  const auto& table = instruction_table();
  Program p;
  for (size_t i = 0; i < n; ++i) {
    const InstrSpec& spec = table[rng() % table.size()];
    std::vector<int64_t> fields;
    for (const OperandSpec& op : spec.operands) {
      // Branch targets inside the program, so the disassembler names them with labels.
      fields.push_back(op.kind == OperandKind::kTarget ? static_cast<int64_t>(rng() % (n + 1))
                                                       : random_value(op, rng));
    }
    p.push_back(encode(spec.opcode, fields));
  }
  return p;
}

}  // namespace

TEST_CASE("operand fields follow each other without overlap inside 128 bits", "[unit]") {
  for (const InstrSpec& spec : instruction_table()) {
    unsigned next = kOpcodeBits;
    for (const OperandSpec& op : spec.operands) {
      REQUIRE(op.lsb == next);
      next += op.width;
    }
    REQUIRE(next <= kInstrBits);
  }
}

TEST_CASE("decode(encode(x)) == x for random operands of every instruction", "[unit]") {
  std::mt19937_64 rng(42);
  for (const InstrSpec& spec : instruction_table()) {
    for (int trial = 0; trial < 500; ++trial) {
      std::vector<int64_t> fields;
      for (const OperandSpec& op : spec.operands) fields.push_back(random_value(op, rng));
      const Decoded d = decode(encode(spec.opcode, fields));
      REQUIRE(d.spec == &spec);
      for (size_t k = 0; k < fields.size(); ++k) REQUIRE(d.fields[k] == fields[k]);
    }
  }
}

TEST_CASE("encode rejects values that do not fit, decode rejects bad words", "[unit]") {
  REQUIRE_THROWS_AS(encode(Opcode::kLi, {16, 0}), EncodingError);  // register 16
  REQUIRE_THROWS_AS(encode(Opcode::kAddi, {1, 1, int64_t{1} << 31}), EncodingError);
  REQUIRE_THROWS_AS(encode(Opcode::kGemm, {1, 2, 3, 1 << 16, 1, 1, 0, 0, 0}), EncodingError);
  REQUIRE_THROWS_AS(encode(Opcode::kGemm, {1, 2, 3, 1, 1, 1, 0, 0, 2}), EncodingError);  // mode
  REQUIRE_THROWS_AS(encode(Opcode::kHalt, {1}), EncodingError);
  REQUIRE_THROWS_AS(decode(Instr{0xff, 0}), EncodingError);
  Instr halt_with_junk = encode(Opcode::kHalt, {});
  halt_with_junk.hi |= 1;
  REQUIRE_THROWS_AS(decode(halt_with_junk), EncodingError);
  Instr bad_space = encode(Opcode::kDmaLoad, {0, 1, 2, 1, 1, 0, 0, 0});
  bad_space.lo |= uint64_t{3} << 8;  // space 3 is not a memory
  REQUIRE_THROWS_AS(decode(bad_space), EncodingError);
}

TEST_CASE("assemble(disassemble(p)) == p for random programs", "[unit]") {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    const Program p = random_program(1 + rng() % 300, rng);
    const std::string text = disassemble(p);
    REQUIRE(assemble(text) == p);
    REQUIRE(disassemble(assemble(text)) == text);
  }
}

TEST_CASE("the assembler reads labels, constants, comments, keyword and positional operands",
          "[unit]") {
  const Program p = assemble(R"(
      .equ TILE, 64 * 4            # a constant
      .equ BASE, 0x100 + TILE
      li r1, 3                     ; positional
    loop:
      addi rd=r2, rs=r2, imm=-TILE # keyword
      dbnz r1, loop
      gemm act=r4, wgt=r5, acc=r6, m=1, n=TILE, k=BASE, act_stride=0, acc_stride=0b100, mode=accumulate
      halt
  )");
  REQUIRE(p.size() == 5);
  REQUIRE(p[0] == encode(Opcode::kLi, {1, 3}));
  REQUIRE(p[1] == encode(Opcode::kAddi, {2, 2, -256}));
  REQUIRE(p[2] == encode(Opcode::kDbnz, {1, 1}));
  REQUIRE(p[3] ==
          encode(Opcode::kGemm, {4, 5, 6, 1, 256, 512, 0, 4, 1, 0}));  // weights omitted: kind
  REQUIRE(p[4] == encode(Opcode::kHalt, {}));
}

TEST_CASE("assembler errors name the line and column", "[unit]") {
  struct Case {
    const char* source;
    int line, column;
    const char* says;
  };
  const Case cases[] = {
      {"halt\nfrob r1", 2, 1, "unknown instruction 'frob'"},
      {"li r1, 5\n  li r16, 1", 2, 6, "rd = 16 does not fit: expected a register"},
      {"addi r1, r1, 1 +", 1, 17, "expected a value"},
      {"jmp nowhere", 1, 5, "unknown name 'nowhere'"},
      {"gemm act=r1, wgt=r2", 1, 20, "missing operand 'acc'"},
      {"li r1, 2, 3", 1, 11, "li takes 2 operands"},
      {"li rd=r1, 5", 1, 11, "positional operand after a name=value"},
      {"li r1, 99999999999999999999", 1, 8, "does not fit 64 bits"},
      {"dma.load space=dram, sram=r1, dram=r2, rows=1, row_bytes=1, sram_stride=0, "
       "dram_stride=0",
       1, 16, "'dram' is not one of wsram asram acc"},
      {"x:\nx: halt", 2, 1, "'x' is already defined"},
      {"sync units=256", 1, 12, "units = 256 does not fit"},
      {"li r1, 0x1g", 1, 11, "invalid digit 'g'"},
  };
  for (const Case& c : cases) {
    INFO(c.source);
    try {
      (void)assemble(c.source);
      FAIL("assembled without error");
    } catch (const AsmError& e) {
      REQUIRE(e.line() == c.line);
      REQUIRE(e.column() == c.column);
      REQUIRE_THAT(e.what(), Catch::Contains(c.says));
    }
  }
}

TEST_CASE("the binary format round-trips and rejects corrupt files", "[unit]") {
  std::mt19937_64 rng(3);
  const Program p = random_program(50, rng);
  const std::vector<uint8_t> bytes = to_binary(p);
  REQUIRE(bytes.size() == kHeaderBytes + 50 * kInstrBytes);
  REQUIRE(from_binary(bytes) == p);

  std::vector<uint8_t> bad_magic = bytes;
  bad_magic[0] = 'X';
  REQUIRE_THROWS_AS(from_binary(bad_magic), FormatError);
  std::vector<uint8_t> truncated(bytes.begin(), bytes.end() - 1);
  REQUIRE_THROWS_WITH(from_binary(truncated), Catch::Contains("does not match"));
  std::vector<uint8_t> bad_version = bytes;
  bad_version[4] = 9;
  REQUIRE_THROWS_WITH(from_binary(bad_version), Catch::Contains("unsupported program header"));
  std::vector<uint8_t> bad_opcode = bytes;
  bad_opcode[kHeaderBytes] = 0xee;
  REQUIRE_THROWS_WITH(from_binary(bad_opcode), Catch::Contains("instruction 0"));
  REQUIRE_THROWS_AS(from_binary({}), FormatError);
}
