#include <catch2/catch.hpp>

#include "../support.hpp"
#include "isa/assembler.hpp"
#include "workloads/graph.hpp"

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
  REQUIRE(a.inputs == b.inputs);
  REQUIRE(a.layers[0].weights == b.layers[0].weights);
  const workloads::ModelData c =
      workloads::generate(spec_of(test::bitlinear_workload(3, {{40, 20}}, 6)));
  REQUIRE(a.inputs != c.inputs);
}

TEST_CASE("lowering fits every tile in its SRAM and the program round-trips as text", "[unit]") {
  const auto sets =
      GENERATE(std::vector<std::string>{},
               std::vector<std::string>{"hw.weight_sram.capacity_kib=2",
                                        "hw.act_sram.capacity_kib=4", "hw.acc_sram.capacity_kib=1"},
               std::vector<std::string>{"hw.mac_array.rows=7", "hw.mac_array.cols=5",
                                        "hw.weight_sram.packing=1.6bit"});
  const hw::NmpParams p = params_with(sets);
  const auto spec = spec_of(test::bitlinear_workload(9, {{300, 130}, {130, 77}}));
  const workloads::Lowered l = workloads::lower_graph(spec, nullptr, p);
  for (const workloads::LayerPlan& plan : l.layers) {
    INFO(plan.name);
    const uint64_t half = p.weight_sram.capacity_bytes / 2;
    REQUIRE(hw::weight_operand_bytes(plan.n_tile, plan.k_tile, p.mac_array.layout()) <= half);
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
    workloads::lower_graph(spec, nullptr, p);
    FAIL("lowered");
  } catch (const workloads::LoweringError& e) {
    REQUIRE(e.document() == "hw");
    REQUIRE(e.pointer() == "/weight_sram/capacity_kib");
    REQUIRE_THAT(e.what(), Catch::Contains("64 x 64 array tile (1024 bytes)"));
  }
}

TEST_CASE("an accumulator SRAM smaller than one output row keeps blocks of outputs", "[unit]") {
  // rows_outer needs a whole row of accumulators; weights_outer keeps every row's accumulators
  // of one block of outputs, so the mapper falls back to it.
  const hw::NmpParams p = params_with({"hw.acc_sram.capacity_kib=1"});
  const auto spec = spec_of(test::bitlinear_workload(1, {{64, 1000}}));
  const workloads::Lowered l = workloads::lower_graph(spec, nullptr, p);
  REQUIRE(l.layers[0].loop_order == "weights_outer");
  REQUIRE(uint64_t{l.layers[0].n_tile} * 4 <= p.acc_sram.capacity_bytes);
}
