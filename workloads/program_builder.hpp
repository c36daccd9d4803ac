// Emits ISA instructions with named helpers, so lowering code reads like assembly.
//
// Example:
//   ProgramBuilder b;
//   b.li(1, 4096);
//   b.dma(isa::Opcode::kDmaLoad, isa::Space::kActSram, 2, 1, rows, row_bytes, stride, stride);
//   b.halt();
#pragma once

#include <cstdint>

#include "isa/program.hpp"

namespace nmp::workloads {

class ProgramBuilder {
 public:
  void li(unsigned rd, uint64_t value);
  void layer(uint32_t id);
  void dma(isa::Opcode opcode, isa::Space space, unsigned sram_reg, unsigned dram_reg,
           uint64_t rows, uint64_t row_bytes, uint64_t sram_stride, uint64_t dram_stride);
  void gemm(unsigned act_reg, unsigned wgt_reg, unsigned acc_reg, uint64_t m, uint64_t n,
            uint64_t k, uint64_t act_stride, uint64_t acc_stride, isa::AccMode mode);
  void requant(unsigned src_reg, unsigned dst_reg, unsigned scale_reg, uint64_t m, uint64_t n,
               uint64_t src_stride, uint64_t dst_stride);
  void convert(unsigned src_reg, unsigned dst_reg, uint64_t m, uint64_t n, uint64_t src_stride,
               uint64_t dst_stride);
  void halt();

  const isa::Program& program() const { return program_; }
  size_t size() const { return program_.size(); }

 private:
  void emit(isa::Opcode opcode, std::vector<int64_t> fields);
  isa::Program program_;
};

}  // namespace nmp::workloads
