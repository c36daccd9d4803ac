// The controller's scalar and control instructions, executed: values and cycles.
#include <catch2/catch.hpp>

#include <cstring>

#include "../support.hpp"
#include "isa/assembler.hpp"

using namespace nmp;
using sim::Json;

namespace {

Json exec(const std::string& source, const std::vector<std::string>& sets = {}) {
  const hw::NmpParams p = sim::load_hardware(test::source_path("configs/hw/default.json"),
                                             sim::parse_set_options(test::with_simple_dram(sets)))
                              .params;
  const isa::Program program = isa::assemble(source);
  return sim::run_in_child([&] { return sim::run_program(p, program, 64); });
}

}  // namespace

TEST_CASE("a counted loop runs its body exactly n times", "[sim]") {
  const uint64_t penalty = GENERATE(0, 1, 3);
  const Json r = exec(R"(
        li r1, 5
        li r2, 0
    loop:
        addi r2, r2, 7
        dbnz r1, loop
        halt
  )",
                      {"hw.controller.branch_penalty_cycles=" + std::to_string(penalty)});
  // 2 li + 5 x (addi, dbnz) + 4 taken branches x penalty + halt.
  REQUIRE(r["cycles"] == 2 + 5 * 2 + 4 * penalty + 1);
  REQUIRE(r["counters"]["controller"]["issued_control"] == 2 + 10 + 1);
  REQUIRE(r["counters"]["controller"]["stall_branch"] == 4 * penalty);
}

TEST_CASE("scalar arithmetic, bnez and jmp compute and branch as documented", "[sim]") {
  // r3 = 10 - 3 + 4 = 11; bnez on r0 never branches; jmp skips the poisoned halt path.
  const Json r = exec(R"(
        li r1, 10
        li r2, 3
        sub r3, r1, r2
        addi r3, r3, 4
        add r4, r3, r0
        bnez r0, bad
        jmp good
    bad:
        li r5, 1
    good:
        li r6, 11
        sub r7, r6, r4
        bnez r7, bad
        li r0, 99         # r0 stays 0
        bnez r0, bad
        halt
  )");
  // 6 + jmp (1 + 1 penalty) + li, sub, bnez, li, bnez, halt = 6 + 2 + 6 = 14.
  REQUIRE(r["cycles"] == 14);
}

TEST_CASE("sync waits for the named units to drain", "[sim]") {
  const Json r = exec(R"(
        li r1, 0
        dma.load space=asram, sram=r1, dram=r1, rows=1, row_bytes=64, sram_stride=0, dram_stride=0
        sync units=1
        halt
  )");
  const auto& c = r["counters"]["controller"];
  REQUIRE(c["stall_barrier"].get<uint64_t>() > 100);  // the DMA's DRAM latency
  REQUIRE(c["stall_drain"] == 0);                     // halt found everything drained
}

TEST_CASE("dma.gather reads the rows its indices pick, after the indices arrive", "[sim]") {
  // A table of 8 rows of 64 bytes at 0; three uint32 indices at 512.
  std::vector<uint8_t> dram(1024);
  const uint32_t indices[] = {7, 0, 3};
  std::memcpy(dram.data() + 512, indices, sizeof indices);
  const hw::NmpParams p =
      sim::load_hardware(test::source_path("configs/hw/default.json"), {}).params;
  auto run = [&](const std::string& source) {
    return sim::run_in_child(
        [&] { return sim::run_program(p, isa::assemble(source), dram.size(), dram); });
  };
  const std::string load_indices = R"(
        li r1, 512
        li r2, 0
        dma.load space=asram, sram=r2, dram=r1, rows=1, row_bytes=12, sram_stride=12, dram_stride=12
        li r3, 64
        li r4, 0
  )";
  const Json r = run(load_indices + R"(
        dma.gather space=asram, sram=r3, dram=r4, rows=3, row_bytes=64, sram_stride=64, dram_stride=64, index=r2
        halt
  )");
  const auto& dma = r["counters"]["dma"];
  REQUIRE(dma["loads"] == 2);
  // The indices' burst and three whole 64-byte rows.
  REQUIRE(r["counters"]["dram"]["read_bytes"] == 64 + 3 * 64);
  // An index past the end of DRAM is a simulation error naming the row.
  const uint32_t far[] = {1000};
  std::memcpy(dram.data() + 512, far, sizeof far);
  REQUIRE_THROWS_WITH(run(load_indices + R"(
        dma.gather space=asram, sram=r3, dram=r4, rows=1, row_bytes=64, sram_stride=64, dram_stride=64, index=r2
        halt
  )"),
                      Catch::Contains("dma.gather: row 0 (index 1000) lies outside DRAM"));
}
