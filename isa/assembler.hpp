// Text assembler for the nmpsim ISA.
//
// Syntax, one statement per line:
//   label:                         a label names the index of the next instruction
//   .equ NAME, expression          a constant
//   mnemonic op, op, ...           operands in table order, or as name=value in any order
//   # or ; starts a comment
// Values: registers r0..r15, numbers (decimal, 0x hex, 0b binary, optional sign), enum names,
// labels (branch targets), constants, and + - * between numbers and constants.
//
// Example:
//   Program p = assemble("li r1, 4\nloop: dbnz r1, loop\nhalt\n");
//   std::string text = disassemble(p);  // assemble(text) == p
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "isa/program.hpp"

namespace nmp::isa {

class AsmError : public std::runtime_error {
 public:
  AsmError(int line, int column, const std::string& message);
  int line() const { return line_; }
  int column() const { return column_; }

 private:
  int line_;
  int column_;
};

// Throws AsmError with the line and column (both 1-based) of the first problem.
Program assemble(std::string_view source);

// Canonical text: labels L<index> for branch targets, unit instructions in name=value form.
// Throws EncodingError for an instruction that does not decode.
std::string disassemble(const Program& program);

}  // namespace nmp::isa
