#include "workloads/program_builder.hpp"

namespace nmp::workloads {

using isa::Opcode;

void ProgramBuilder::emit(Opcode opcode, std::vector<int64_t> fields) {
  program_.push_back(isa::encode(opcode, fields));
}

void ProgramBuilder::li(unsigned rd, uint64_t value) {
  emit(Opcode::kLi, {rd, static_cast<int64_t>(value)});
}

void ProgramBuilder::layer(uint32_t id) { emit(Opcode::kLayer, {id}); }

void ProgramBuilder::dma(Opcode opcode, isa::Space space, unsigned sram_reg, unsigned dram_reg,
                         uint64_t rows, uint64_t row_bytes, uint64_t sram_stride,
                         uint64_t dram_stride) {
  emit(opcode, {static_cast<int64_t>(space), sram_reg, dram_reg, static_cast<int64_t>(rows),
                static_cast<int64_t>(row_bytes), static_cast<int64_t>(sram_stride),
                static_cast<int64_t>(dram_stride)});
}

void ProgramBuilder::gemm(unsigned act_reg, unsigned wgt_reg, unsigned acc_reg, uint64_t m,
                          uint64_t n, uint64_t k, uint64_t act_stride, uint64_t acc_stride,
                          isa::AccMode mode) {
  emit(Opcode::kGemm, {act_reg, wgt_reg, acc_reg, static_cast<int64_t>(m),
                       static_cast<int64_t>(n), static_cast<int64_t>(k),
                       static_cast<int64_t>(act_stride), static_cast<int64_t>(acc_stride),
                       static_cast<int64_t>(mode)});
}

void ProgramBuilder::requant(unsigned src_reg, unsigned dst_reg, unsigned scale_reg, uint64_t m,
                             uint64_t n, uint64_t src_stride, uint64_t dst_stride) {
  emit(Opcode::kRequant, {src_reg, dst_reg, scale_reg, static_cast<int64_t>(m),
                          static_cast<int64_t>(n), static_cast<int64_t>(src_stride),
                          static_cast<int64_t>(dst_stride)});
}

void ProgramBuilder::convert(unsigned src_reg, unsigned dst_reg, uint64_t m, uint64_t n,
                             uint64_t src_stride, uint64_t dst_stride) {
  emit(Opcode::kConvert, {src_reg, dst_reg, static_cast<int64_t>(m), static_cast<int64_t>(n),
                          static_cast<int64_t>(src_stride), static_cast<int64_t>(dst_stride)});
}

void ProgramBuilder::halt() { emit(Opcode::kHalt, {}); }

}  // namespace nmp::workloads
