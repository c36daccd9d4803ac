#include "workloads/lowering.hpp"

#include "hw_models/arith/vector_math.hpp"
#include "workloads/program_builder.hpp"

namespace nmp::workloads {

LoweringError::LoweringError(std::string document, std::string pointer, const std::string& message)
    : std::runtime_error(message), document_(std::move(document)), pointer_(std::move(pointer)) {}

void check_program_fits(const ProgramBuilder& b, const hw::NmpParams& hw) {
  if (b.size() * isa::kInstrBytes > hw.controller.imem_bytes) {
    throw LoweringError("hw", "/controller/imem_kib",
                        "the program needs " + std::to_string(b.size() * isa::kInstrBytes) +
                            " bytes of instruction memory; it has " +
                            std::to_string(hw.controller.imem_bytes));
  }
}

isa::Program finish_program(ProgramBuilder& b, const hw::NmpParams& hw) {
  b.halt();
  check_program_fits(b, hw);
  return b.program();
}

TensorStorage TensorStorage::of_graph(const hw::NmpParams& hw) {
  TensorStorage s;
  s.vec_bytes = s.dram_bytes = arith::element_bytes(hw.vector_unit.math);
  s.format = hw.vector_unit.math.format;
  const std::string& dram = hw.dram.activation_format;
  if (!dram.empty()) {
    const std::unique_ptr<arith::NumberFormat> stored = arith::make_format(dram);
    if (stored->name() != arith::make_format(s.format)->name()) {  // not one format, two names
      s.format = dram;
      s.dram_bytes = stored->element_bytes();
      s.convert = isa::dma::kToVector;
    }
  }
  if (arith::make_format(s.format)->name() ==
      arith::make_format(hw::pe_info(hw.mac_array.pe).element_format)->name())
    s.to_array = isa::dma::kNoConversion;
  return s;
}

std::vector<uint32_t> to_activation_format(const TensorStorage& storage,
                                           const std::vector<float>& x) {
  const std::unique_ptr<arith::NumberFormat> format = arith::make_format(storage.format);
  // Each format's encoder of floats (the same patterns as rounding each value's double, tested
  // format by format), not the unpacked-exact path: a model input has many elements.
  std::vector<uint32_t> out(x.size());
  format->encode_floats(x.data(), x.size(), out.data());
  return out;
}

void outputs_stored_as(LayerPlan& plan, const TensorStorage& storage) {
  plan.y_format = storage.format;
  plan.y_element_bytes = static_cast<uint32_t>(storage.dram_bytes);
}

LayerPlan plan_of(const LayerSpec& l, uint32_t rows) {
  LayerPlan plan;
  plan.name = l.name;
  plan.m = rows;
  plan.k = l.in_features;
  plan.n = l.out_features;
  return plan;
}

}  // namespace nmp::workloads
