#include <catch2/catch.hpp>

#include "../support.hpp"
#include "isa/assembler.hpp"
#include "workloads/lowering.hpp"
#include "workloads/reference.hpp"

using namespace nmp;

namespace {

hw::NmpParams params_with(const std::vector<std::string>& sets) {
  return sim::load_hardware(test::source_path("configs/hw/default.json"),
                            sim::parse_set_options(sets))
      .params;
}

workloads::ModelSpec spec_of(const sim::Json& w) {
  return sim::parse_workload(w, "test", {}).model;
}

}  // namespace

TEST_CASE("the same seeds give the same tensors; other seeds, others", "[unit]") {
  const auto spec = spec_of(test::bitlinear_workload(3, {{40, 20}}, 5));
  const workloads::ModelData a = workloads::generate(spec), b = workloads::generate(spec);
  REQUIRE(a.input == b.input);
  REQUIRE(a.input_encoded.patterns == b.input_encoded.patterns);
  REQUIRE(a.layers[0].weights == b.layers[0].weights);
  const workloads::ModelData c =
      workloads::generate(spec_of(test::bitlinear_workload(3, {{40, 20}}, 6)));
  REQUIRE(a.input != c.input);
}

TEST_CASE("lowering fits every tile in its SRAM and the program round-trips as text", "[unit]") {
  const auto sets =
      GENERATE(std::vector<std::string>{},
               std::vector<std::string>{"hw.weight_sram.capacity_kib=2",
                                        "hw.act_sram.capacity_kib=1", "hw.acc_sram.capacity_kib=1"},
               std::vector<std::string>{"hw.mac_array.rows=7", "hw.mac_array.cols=5",
                                        "hw.weight_sram.packing=1.6bit"});
  const hw::NmpParams p = params_with(sets);
  const auto spec = spec_of(test::bitlinear_workload(9, {{300, 130}, {130, 77}}));
  const workloads::Lowered l = workloads::lower_model(spec, nullptr, p);
  for (const workloads::LayerPlan& plan : l.layers) {
    INFO(plan.name);
    const uint64_t half = p.weight_sram.capacity_bytes / 2;
    REQUIRE(hw::weight_operand_bytes(plan.n_tile, plan.k_tile, p.mac_array.layout()) <= half);
    REQUIRE(plan.m_tile * ((4 * plan.n + 31) / 32 * 32) <= p.acc_sram.capacity_bytes);
    REQUIRE(plan.m_tile >= 1);
    REQUIRE(plan.n_tile >= 1);
    REQUIRE(plan.k_tile >= 1);
  }
  REQUIRE(isa::assemble(isa::disassemble(l.program)) == l.program);
}

TEST_CASE("a weight SRAM too small for one array tile names the field to grow", "[unit]") {
  const hw::NmpParams p = params_with({"hw.weight_sram.capacity_kib=1"});  // 512 B per half
  const auto spec = spec_of(test::bitlinear_workload(1, {{4096, 4096}}));
  try {
    workloads::lower_model(spec, nullptr, p);
    FAIL("lowered");
  } catch (const workloads::LoweringError& e) {
    REQUIRE(e.document() == "hw");
    REQUIRE(e.pointer() == "/weight_sram/capacity_kib");
    REQUIRE_THAT(e.what(), Catch::Contains("64 x 64 array tile (1024 bytes)"));
  }
}

TEST_CASE("an accumulator SRAM smaller than one output row is an error", "[unit]") {
  const hw::NmpParams p = params_with({"hw.acc_sram.capacity_kib=1"});
  const auto spec = spec_of(test::bitlinear_workload(1, {{64, 1000}}));
  try {
    workloads::lower_model(spec, nullptr, p);
    FAIL("lowered");
  } catch (const workloads::LoweringError& e) {
    REQUIRE(e.pointer() == "/acc_sram/capacity_kib");
  }
}

TEST_CASE("the reference's requantization matches its documented bounds", "[unit]") {
  const auto spec = spec_of(test::bitlinear_workload(4, {{100, 50}, {50, 60}}));
  const auto refs = workloads::reference_outputs(spec, workloads::generate(spec), {100, 50},
                                                 params_with({}).mac_array);
  REQUIRE(refs.size() == 2);
  for (size_t l = 0; l < refs.size(); ++l) {
    const workloads::LayerReference& r = refs[l];
    bool has_extreme = false;
    for (uint32_t pattern : r.out) {
      const auto q = static_cast<int8_t>(pattern);
      REQUIRE(q >= -127);
      has_extreme |= q == 127 || q == -127;
    }
    REQUIRE(has_extreme);  // the absmax element of every row maps to +-127
    // Dequantized outputs stay near the FP32 reference (SQNR of int8 activations).
    const auto err = workloads::compare(
        workloads::output_values(spec.pe(), r.out, r.out_scale, spec.layers[l].out_features),
        r.fp32);
    REQUIRE(err.sqnr_db > 25.0);
  }
}
