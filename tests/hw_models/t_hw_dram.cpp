// The DRAM model: every timing rule probed where it binds, refresh, address mapping, and
// streams against the fraction of peak bandwidth their timings allow (closed forms written
// here, apart from the simulator).
#include <catch2/catch.hpp>

#include <random>

#include "hw_models/analytical.hpp"
#include "hw_models/dram.hpp"

using namespace nmp;
using hw::Dram;

namespace {

hw::DramParams params(const std::string& standard,
                      const std::string& mapping = "ro,ra,ba,co,bg,ch") {
  hw::DramParams p;
  p.simple = false;
  p.device = hw::dram_preset(standard);
  p.mapping = hw::parse_dram_mapping(mapping);
  p.accelerator_clock_khz = p.device.timing.clock_khz;  // one accelerator cycle per DRAM cycle
  return p;
}

// The address of (channel, rank, bank group, bank, row, burst in row) under a mapping.
uint64_t address(const hw::DramParams& p, uint32_t ch, uint32_t ra, uint32_t bg, uint32_t ba,
                 uint32_t ro, uint32_t co) {
  const hw::DramOrganization& o = p.device.org;
  const uint64_t sizes[] = {o.channels,        o.ranks, o.bank_groups,
                            o.banks_per_group, o.rows,  o.columns / o.burst_length};
  const uint64_t values[] = {ch, ra, bg, ba, ro, co};
  uint64_t a = 0;
  for (hw::DramField f : p.mapping) {
    const auto i = static_cast<size_t>(f);
    a = a * sizes[i] + values[i];
  }
  return a * p.device.burst_bytes();
}

std::vector<uint64_t> serve(Dram& d, const std::vector<std::pair<uint64_t, bool>>& reqs,
                            uint64_t cycle = 0) {
  std::vector<Dram::TimedRequest> r;
  for (const auto& [a, w] : reqs) r.push_back({a, w, cycle});
  return d.serve(r).done;
}

}  // namespace

TEST_CASE("DRAM cycles convert to accelerator cycles exactly, at any clocks", "[unit]") {
  // The end of DRAM cycle d is accelerator cycle ceil(d x f_acc / f_dram): checked against
  // 128-bit arithmetic on random clocks (reduced ratios with and without a power-of-two
  // denominator) and cycles up to 2^64 - 1.
  std::mt19937_64 rng(17);
  for (int trial = 0; trial < 300; ++trial) {
    hw::DramParams p = params(trial % 2 ? "LPDDR5_16Gb_x16_6400" : "DDR4_8Gb_x8_2400");
    p.accelerator_clock_khz = 1 + rng() % 4000000;
    if (trial % 3 == 0) p.accelerator_clock_khz = p.device.timing.clock_khz * (1 + rng() % 4) / 4;
    const Dram d(p, hw::ZeroPages(), p.device.capacity_bytes());
    for (int i = 0; i < 200; ++i) {
      const uint64_t cycle = i % 4 == 0 ? rng() : rng() >> (rng() % 64);
      const unsigned __int128 num =
          static_cast<unsigned __int128>(cycle) * p.accelerator_clock_khz +
          p.device.timing.clock_khz - 1;
      const auto expected = static_cast<uint64_t>(num / p.device.timing.clock_khz);
      if (num / p.device.timing.clock_khz > UINT64_MAX) continue;  // beyond any run
      INFO("f_acc " << p.accelerator_clock_khz << " kHz, DRAM cycle " << cycle);
      REQUIRE(d.to_accelerator_cycle(cycle) == expected);
    }
  }
}

TEST_CASE("a DRAM address decodes into the fields its mapping orders", "[unit]") {
  const hw::DramParams p = params("HBM2_8Gb_x128", "ro,ra,ba,co,bg,ch");
  const Dram d(p, hw::ZeroPages(), p.device.capacity_bytes());
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1000; ++i) {
    const auto ch = static_cast<uint32_t>(rng() % 8), bg = static_cast<uint32_t>(rng() % 4),
               ba = static_cast<uint32_t>(rng() % 4), ro = static_cast<uint32_t>(rng() % 32768),
               co = static_cast<uint32_t>(rng() % 16);
    const hw::DramAddress a = d.decode(address(p, ch, 0, bg, ba, ro, co));
    REQUIRE(a.channel == ch);
    REQUIRE(a.request.bank_group == bg);
    REQUIRE(a.request.bank == ba);
    REQUIRE(a.request.row == ro);
  }
  // The analytical model's bank and row of a burst: the fields' dense bank number (channel,
  // rank, bank group, bank, as nested loops) and row, on every standard under four mappings.
  for (const char* standard : {"DDR4_8Gb_x8_2400", "LPDDR5_16Gb_x16_6400", "HBM2_8Gb_x128",
                               "HBM3_16Gb", "DDR5_16Gb_x8_4800"}) {
    for (const char* mapping :
         {"ro,ra,ba,co,bg,ch", "ra,ro,bg,ba,co,ch", "ch,ro,ra,ba,bg,co", "ro,co,ra,ba,bg,ch"}) {
      hw::DramParams q = params(standard, mapping);
      q.device.org.ranks = 2;
      const Dram dq(q, hw::ZeroPages(), q.device.capacity_bytes());
      const Dram::AddressLayout& layout = dq.address_layout();
      // The layout the analytical model takes without building the channels is the same.
      const Dram::AddressLayout alone = Dram::address_layout_of(q);
      REQUIRE(alone.bits == layout.bits);
      REQUIRE(alone.shift == layout.shift);
      REQUIRE(alone.same_row_mask == layout.same_row_mask);
      const hw::DramOrganization& o = q.device.org;
      for (int i = 0; i < 2000; ++i) {
        const uint64_t at = rng() % q.device.capacity_bytes();
        const hw::DramAddress a = dq.decode(at);
        const uint64_t dense = ((uint64_t{a.channel} * o.ranks + a.request.rank) * o.bank_groups +
                                a.request.bank_group) *
                                   o.banks_per_group +
                               a.request.bank;
        INFO(standard << " " << mapping << " address " << at);
        REQUIRE(layout.bank(at) == dense);
        REQUIRE(layout.row(at) == a.request.row);
        // Addresses that agree on same_row_mask lie in one row of one bank, and changing a bit
        // of it moves to another bank or row.
        const uint64_t column_bits = ~layout.same_row_mask & (q.device.capacity_bytes() - 1);
        const uint64_t same_row = (at & ~column_bits) | (rng() & column_bits);
        REQUIRE(layout.bank(same_row) == layout.bank(at));
        REQUIRE(layout.row(same_row) == layout.row(at));
        const uint64_t bit = uint64_t{1} << (rng() % 64);
        if ((layout.same_row_mask & bit) != 0) {
          const uint64_t other = at ^ bit;
          REQUIRE((layout.bank(other) != layout.bank(at) || layout.row(other) != layout.row(at)));
        }
      }
    }
  }
  REQUIRE_THROWS_WITH(hw::parse_dram_mapping("ro,ba,bg,ch,co"), Catch::Contains("'ra' is missing"));
  REQUIRE_THROWS_WITH(hw::parse_dram_mapping("ro,ra,ba,bg,ch,co,ro"),
                      Catch::Contains("'ro' appears twice"));
  REQUIRE_THROWS_WITH(hw::parse_dram_mapping("ro,ra,ba,bg,ch,col"),
                      Catch::Contains("unknown field 'col'"));
}

TEST_CASE("DRAM commands wait exactly as long as each timing rule says", "[unit]") {
  const std::string standard =
      GENERATE("DDR4_8Gb_x8_2400", "DDR5_16Gb_x8_4800", "LPDDR5_16Gb_x16_6400", "HBM2_8Gb_x128");
  INFO(standard);
  const hw::DramParams p = params(standard);
  const hw::DramTiming& t = p.device.timing;
  const uint64_t bl = t.burst_cycles;
  auto fresh = [&] { return Dram(p, hw::ZeroPages(), p.device.capacity_bytes()); };
  {  // A read of a closed bank: ACT, tRCD, RD, CL, the burst.
    Dram d = fresh();
    REQUIRE(serve(d, {{address(p, 0, 0, 0, 0, 5, 0), false}})[0] == t.rcd_rd + t.cl + bl);
  }
  {  // Two reads of one row: the second RD tCCD_L (same group) after the first.
    Dram d = fresh();
    const auto done =
        serve(d, {{address(p, 0, 0, 0, 0, 5, 0), false}, {address(p, 0, 0, 0, 0, 5, 1), false}});
    REQUIRE(done[1] - done[0] == std::max<uint64_t>(t.ccd_l, bl));
  }
  {  // Two banks of two groups: ACTs tRRD_S apart, then RDs as their tRCD and tCCD_S allow.
    Dram d = fresh();
    const auto done =
        serve(d, {{address(p, 0, 0, 0, 0, 5, 0), false}, {address(p, 0, 0, 1, 0, 9, 0), false}});
    REQUIRE(done[1] ==
            std::max<uint64_t>(t.rrd_s + t.rcd_rd, t.rcd_rd + std::max<uint64_t>(t.ccd_s, bl)) +
                t.cl + bl);
  }
  {  // Five banks: the fifth ACT waits for tFAW after the first.
    Dram d = fresh();
    std::vector<std::pair<uint64_t, bool>> reqs;
    for (uint32_t b = 0; b < 5; ++b) reqs.push_back({address(p, 0, 0, b % 4, b / 4, 3, 0), false});
    const auto done = serve(d, reqs);
    const uint64_t act5 = std::max<uint64_t>(t.faw, 4 * uint64_t{t.rrd_s});
    REQUIRE(*std::max_element(done.begin(), done.end()) >= act5 + t.rcd_rd + t.cl + bl);
    REQUIRE(done[4] ==
            std::max<uint64_t>(act5 + t.rcd_rd, done[3] - t.cl - bl + t.ccd_s) + t.cl + bl);
  }
  {  // A conflict: PRE at tRAS (the RD's tRTP earlier), tRP, ACT, tRCD, RD.
    Dram d = fresh();
    const auto done =
        serve(d, {{address(p, 0, 0, 0, 0, 5, 0), false}, {address(p, 0, 0, 0, 0, 6, 0), false}});
    const uint64_t pre = std::max<uint64_t>(t.ras, t.rcd_rd + t.rtp);
    REQUIRE(done[1] == std::max<uint64_t>(pre + t.rp, t.rc) + t.rcd_rd + t.cl + bl);
  }
  {  // A read after a write to the same group waits tWTR_L after the write data.
    Dram d = fresh();
    const auto done =
        serve(d, {{address(p, 0, 0, 0, 0, 5, 0), true}, {address(p, 0, 0, 0, 0, 5, 1), false}});
    const uint64_t wr_data_end = t.rcd_wr + t.cwl + bl;
    REQUIRE(done[0] == wr_data_end);
    REQUIRE(done[1] == std::max<uint64_t>(wr_data_end + t.wtr_l, t.rcd_rd + t.ccd_l) + t.cl + bl);
  }
}

TEST_CASE("DRAM refresh: one REF per tREFI, and a request during tRFC waits it out", "[unit]") {
  const hw::DramParams p = params("DDR4_8Gb_x8_2400");
  const hw::DramTiming& t = p.device.timing;
  Dram d(p, hw::ZeroPages(), p.device.capacity_bytes());
  // The first refresh falls due at tREFI; a read arriving then waits for tRFC.
  const auto done = serve(d, {{address(p, 0, 0, 0, 0, 1, 0), false}}, t.refi);
  REQUIRE(done[0] == t.refi + t.rfc + t.rcd_rd + t.cl + t.burst_cycles);
  d.finish_dram(10 * uint64_t{t.refi} + 5, 0);
  REQUIRE(d.stats_by_layer()[0].ref == 10);
  // Every rank-cycle is either active or precharged.
  const hw::DramStats& s = d.stats_by_layer()[0];
  REQUIRE(s.active_cycles + s.precharged_cycles == 10 * uint64_t{t.refi} + 5);
}

TEST_CASE("DRAM streams reach the fraction of peak their timings allow", "[unit]") {
  const std::string standard =
      GENERATE("DDR4_8Gb_x8_2400", "DDR4_16Gb_x8_3200", "DDR5_16Gb_x8_4800", "LPDDR4_8Gb_x16_2400",
               "LPDDR5_16Gb_x16_6400", "HBM2_8Gb_x128", "HBM3_16Gb");
  const bool interleaved = GENERATE(true, false);
  INFO(standard << (interleaved ? ", bank groups interleaved" : ", one bank group per row"));
  const hw::DramParams p =
      params(standard, interleaved ? "ro,ra,ba,co,bg,ch" : "ro,ra,ba,bg,co,ch");
  const hw::DramTiming& t = p.device.timing;
  Dram d(p, hw::ZeroPages(), p.device.capacity_bytes());
  const uint64_t bursts = 200000;
  std::vector<Dram::TimedRequest> reqs;
  for (uint64_t i = 0; i < bursts; ++i) reqs.push_back({i * p.device.burst_bytes(), false, 0});
  const auto done = d.serve(reqs).done;
  const double cycles = static_cast<double>(*std::max_element(done.begin(), done.end()));
  // A channel moves a burst every burst_cycles at best, and refresh takes tRFC of every
  // tREFI: no stream beats that. Column commands to one bank group are tCCD_L apart: a stream
  // whose consecutive bursts alternate bank groups runs at max(burst, tCCD_S) cycles per burst,
  // one that fills a row of one group at max(burst, tCCD_L) (FR-FCFS then interleaves the next
  // row's bursts, of another group, where the queue holds both). Row switches (tRP + tRCD per
  // row, mostly hidden by bank parallelism) cost at most a few percent on top.
  const uint64_t groups = p.device.org.bank_groups;
  // With several ranks, one streams while another refreshes.
  const double refresh = 1.0 - static_cast<double>(t.rfc) / t.refi;
  const double per_channel = static_cast<double>(bursts) / p.device.org.channels / refresh;
  const double peak = per_channel * t.burst_cycles * (p.device.org.ranks > 1 ? refresh : 1.0);
  const double spacing =
      std::max<double>(t.burst_cycles, interleaved && groups > 1 ? t.ccd_s : t.ccd_l);
  INFO("cycles " << cycles << ", peak bound " << peak << ", closed form " << per_channel * spacing);
  REQUIRE(cycles >= peak * 0.999);
  REQUIRE(cycles <= per_channel * spacing * 1.08);
  if (interleaved && p.device.org.ranks == 1) REQUIRE(cycles >= per_channel * spacing * 0.999);
  const hw::DramStats& s = d.stats_by_layer()[0];
  REQUIRE(s.rd == bursts);
  REQUIRE(s.row_hits + s.row_misses + s.row_conflicts == bursts);
  REQUIRE(static_cast<double>(s.row_hits) / bursts > 0.9);
}

TEST_CASE("the analytical model's first-data latencies differ by the row's own timings", "[unit]") {
  // dram_rate measures a burst that finds its bank closed, its row open (a hit) and another
  // row open (a conflict): a hit skips the activation (tRCD), a conflict adds the precharge
  // (tRP), whatever the mapping puts where (row bits lowest included).
  const std::string standard =
      GENERATE("DDR4_8Gb_x8_2400", "DDR5_16Gb_x8_4800", "LPDDR4_8Gb_x16_2400",
               "LPDDR5_16Gb_x16_6400", "HBM2_8Gb_x128", "HBM3_16Gb");
  const std::string mapping =
      GENERATE("ro,ra,ba,co,bg,ch", "ch,ra,bg,ba,co,ro", "ba,ro,co,bg,ra,ch");
  INFO(standard << ", " << mapping);
  const hw::DramParams p = params(standard, mapping);
  const hw::DramTiming& t = p.device.timing;
  const hw::DramRate rate = hw::dram_rate(p);
  INFO("closed " << rate.latency_cycles << ", hit " << rate.hit_latency_cycles << ", conflict "
                 << rate.conflict_latency_cycles);
  REQUIRE(rate.latency_cycles - rate.hit_latency_cycles == t.rcd_rd);
  REQUIRE(rate.conflict_latency_cycles - rate.latency_cycles == t.rp);
}

TEST_CASE("the analytical model prices strided rows, refresh included, as the DRAM serves them",
          "[unit]") {
  // Slices of a weights_outer layer's input (128 rows of 512 bytes, `stride` apart, the next
  // slice 512 bytes on), each one DMA command after the last one's data, 64 of them: enough to
  // meet refresh as a layer does. The model measures a shape's rows with refresh never due
  // and stretches them by a sequential read's share of refresh; with one rank, refresh stops
  // every bank of the channel alike, so rows anywhere lose what a sequential read loses.
  // (With several ranks, refreshing one after another, rows spread over them lose more, by
  // how their commands fall against each rank's refresh: docs/validation.md.)
  const std::string standard = GENERATE("LPDDR5_16Gb_x16_6400", "DDR4_8Gb_x8_2400");
  const uint32_t channels = GENERATE(1u, 4u);
  const uint64_t stride = GENERATE(3072u, 6400u, 17280u, 65536u);
  INFO(standard << ", " << channels << " channels, rows " << stride << " bytes apart");
  hw::DramParams p = params(standard);
  p.device.org.channels = channels;
  const uint64_t row_bytes = 512, rows = 128, slices = 64;
  const uint64_t burst = p.device.burst_bytes();
  Dram d(p, hw::ZeroPages(), p.device.capacity_bytes());
  hw::Cycles start = 0;
  for (uint64_t j = 0; j < slices; ++j) {
    std::vector<uint64_t> bursts;
    for (uint64_t r = 0; r < rows; ++r) {
      const uint64_t first = j * row_bytes + r * stride;
      for (uint64_t b = first; b < first + row_bytes; b += burst) bursts.push_back(b);
    }
    std::vector<hw::Cycles> done;
    d.transfer(bursts, false, start, 0, done);
    start = done.back() + 1;
  }
  REQUIRE(d.stats_by_layer()[0].ref > 0);
  const double simulated = static_cast<double>(start) / slices;
  const hw::DramRate rate = hw::dram_rate(p);
  hw::DramRowRate row_rate(p, rate);
  const double priced = rate.latency_cycles + rows * row_rate.row_cycles(row_bytes, stride);
  INFO("simulated " << simulated << " cycles per command, priced " << priced);
  REQUIRE(priced == Approx(simulated).epsilon(0.04));
}

TEST_CASE("the rows commands leave open are the same by table as decoded burst by burst",
          "[unit]") {
  // hw::OpenRows decodes the fields below the column by table and those above once per
  // stretch, and keeps only the last bursts that differ in their column alone: against every
  // burst of each command's tail decoded field by field, on every standard and four mappings
  // (one with the row lowest: no table), after each of 400 random commands (one range or
  // strided rows, short and long, overlapping or not). Also a 72-bit bus (ECC DIMMs): a burst
  // of 72 bytes, not a power of two, whose bursts' low address bits are no table index.
  const std::string standard =
      GENERATE("DDR4_8Gb_x8_2400", "DDR5_16Gb_x8_4800", "LPDDR4_8Gb_x16_2400",
               "LPDDR5_16Gb_x16_6400", "HBM2_8Gb_x128", "HBM3_16Gb", "DDR4 with a 72-bit bus");
  const std::string mapping =
      GENERATE("ro,ra,ba,co,bg,ch", "ch,ra,bg,ba,co,ro", "ba,ro,co,bg,ra,ch", "ro,ba,ra,bg,co,ch");
  INFO(standard << ", " << mapping);
  const bool ecc = standard == "DDR4 with a 72-bit bus";
  hw::DramParams p = params(ecc ? "DDR4_8Gb_x8_2400" : standard, mapping);
  if (ecc) p.device.org.bus_width_bits = 72;
  p.device.org.ranks = 2;
  p.device.org.channels = 4;
  hw::OpenRows by_table(p), by_burst(p, false);
  std::mt19937_64 rng(7);
  const uint64_t capacity = p.device.capacity_bytes();
  for (int i = 0; i < 400; ++i) {
    const uint64_t rows = 1 + rng() % (i % 2 ? 200 : 2);
    const uint64_t row_bytes = 1 + rng() % (uint64_t{1} << (4 + rng() % 14));
    const uint64_t stride = row_bytes + (i % 3 ? rng() % (uint64_t{1} << (rng() % 20)) : 0);
    const uint64_t first = rng() % (capacity - rows * stride - row_bytes);
    INFO("command " << i << ": " << rows << " rows of " << row_bytes << " bytes, " << stride
                    << " apart from " << first);
    by_table.leave(first, rows, row_bytes, stride);
    by_burst.leave(first, rows, row_bytes, stride);
    REQUIRE(by_table.rows() == by_burst.rows());
  }
}

TEST_CASE("the row-hit stream fast path issues exactly what the full FR-FCFS scan does", "[unit]") {
  // Random mixes of streams (reads, writes, both), strided and random requests, bursts of
  // arrivals and gaps, on every standard, both page policies, one and two ranks: every done
  // cycle and every counter must match.
  const std::vector<std::string> standards = {
      "DDR4_8Gb_x8_2400",     "DDR4_16Gb_x8_3200", "DDR5_16Gb_x8_4800", "LPDDR4_8Gb_x16_2400",
      "LPDDR5_16Gb_x16_6400", "HBM2_8Gb_x128",     "HBM3_16Gb"};
  std::mt19937_64 rng(11);
  for (int round = 0; round < 140; ++round) {
    const std::string& standard = standards[static_cast<size_t>(round) % standards.size()];
    hw::DramParams p = params(standard, round % 3 == 0 ? "ro,ra,ba,bg,co,ch" : "ro,ra,ba,co,bg,ch");
    if (round % 4 == 1) p.page_policy = hw::PagePolicy::kClosed;
    if (round % 5 == 2) p.device.org.ranks = 2;
    p.queue_depth = 1 + static_cast<uint32_t>(rng() % 40);
    INFO(standard << " round " << round << " queue " << p.queue_depth);
    const uint64_t capacity = p.device.capacity_bytes(), burst = p.device.burst_bytes();
    std::vector<Dram::TimedRequest> reqs;
    uint64_t cycle = 0;
    while (reqs.size() < 3000) {
      const uint64_t kind = rng() % 5, length = 1 + rng() % 400;
      uint64_t a = rng() % (capacity / burst) * burst;
      const uint64_t stride = kind == 2 ? burst * (1 + rng() % 64) : burst;
      for (uint64_t i = 0; i < length; ++i) {
        const bool write = kind == 1 || (kind == 4 && rng() % 3 == 0);
        const uint64_t address = kind == 3 ? rng() % (capacity / burst) * burst : a;
        reqs.push_back({address % capacity, write, cycle});
        a += stride;
        if (rng() % 8 == 0) cycle += rng() % 50;
      }
      cycle += rng() % 3000;
    }
    Dram fast(p, hw::ZeroPages(), capacity), full(p, hw::ZeroPages(), capacity);
    full.set_fast_path(false);
    const Dram::Served a = fast.serve(reqs), b = full.serve(reqs);
    REQUIRE(a.admitted == b.admitted);
    REQUIRE(a.done == b.done);
    const uint64_t end = *std::max_element(a.done.begin(), a.done.end());
    fast.finish_dram(end, 0);
    full.finish_dram(end, 0);
    std::vector<uint64_t> ca, cb;
    fast.stats_by_layer()[0].visit([&](const hw::CounterInfo&, uint64_t v) { ca.push_back(v); });
    full.stats_by_layer()[0].visit([&](const hw::CounterInfo&, uint64_t v) { cb.push_back(v); });
    REQUIRE(ca == cb);
  }
}

TEST_CASE("a sequential transfer's first and last done cycles are those of the burst list's",
          "[unit]") {
  // transfer_sequential (the analytical model's rate and latencies) against transfer() of the
  // same consecutive bursts, one after another on two DRAMs whose state carries over: every
  // standard, both page policies, random starts, lengths and start cycles; the counts too.
  std::mt19937_64 rng(29);
  for (const char* standard : {"DDR4_8Gb_x8_2400", "DDR5_16Gb_x8_4800", "LPDDR4_8Gb_x16_2400",
                               "LPDDR5_16Gb_x16_6400", "HBM2_8Gb_x128", "HBM3_16Gb"}) {
    for (const hw::PagePolicy policy : {hw::PagePolicy::kOpen, hw::PagePolicy::kClosed}) {
      hw::DramParams p = params(standard);
      p.page_policy = policy;
      p.accelerator_clock_khz = 1000000;
      Dram listed(p, hw::ZeroPages(), p.device.capacity_bytes());
      Dram sequential(p, hw::ZeroPages(), p.device.capacity_bytes());
      const uint64_t burst = p.request_bytes();
      hw::Cycles start = 0;
      for (int t = 0; t < 12; ++t) {
        const uint64_t first = (rng() % (uint64_t{1} << 26)) / burst * burst;
        const uint64_t count = 1 + rng() % (t % 3 == 0 ? 40000 : 300);
        const bool write = rng() % 4 == 0;
        std::vector<uint64_t> bursts(count);
        for (uint64_t i = 0; i < count; ++i) bursts[i] = first + i * burst;
        std::vector<hw::Cycles> done;
        listed.transfer(bursts, write, start, 0, done);
        const Dram::Span span = sequential.transfer_sequential(first, count, write, start, 0);
        INFO(standard << " transfer " << t << " of " << count << " bursts");
        REQUIRE(span.first_done == done.front());
        REQUIRE(span.last_done == done.back());
        start = done.back() + rng() % 200;
      }
      std::vector<std::pair<std::string, uint64_t>> a, b;
      listed.stats(0).visit(
          [&](const hw::CounterInfo& c, uint64_t v) { a.emplace_back(c.name, v); });
      sequential.stats(0).visit(
          [&](const hw::CounterInfo& c, uint64_t v) { b.emplace_back(c.name, v); });
      REQUIRE(a.size() > 5);
      REQUIRE(a == b);
    }
  }
}

TEST_CASE("repeated stretches of a stream give exactly the cycles and counts of every command",
          "[unit]") {
  // DMA-like transfers (one start cycle for all their bursts) of consecutive, strided and
  // mixed streams, reads, writes and both, one after another on the same DRAM so that state
  // carries over, on every standard, both page policies, one and two ranks, several mappings,
  // queue depths, accelerator clocks and altered timings, some as traces of requests that all
  // come at cycle 0: every done cycle and every counter must equal the
  // command-by-command simulation (the full scan, nothing repeated). Long consecutive streams
  // under open page must come from repeated stretches for a good part, about half (the rest:
  // each transfer's start
  // and end, the switch from one bank's row to the next while the queue holds both, and the
  // stretch before each refresh).
  const std::vector<std::string> standards = {
      "DDR4_8Gb_x8_2400",     "DDR4_16Gb_x8_3200", "DDR5_16Gb_x8_4800", "LPDDR4_8Gb_x16_2400",
      "LPDDR5_16Gb_x16_6400", "HBM2_8Gb_x128",     "HBM3_16Gb"};
  const std::vector<std::string> mappings = {"ro,ra,ba,co,bg,ch", "ro,ra,ba,bg,co,ch",
                                             "ro,co,ra,ba,bg,ch", "ro,ra,bg,ba,ch,co"};
  std::mt19937_64 rng(23);
  uint64_t requests = 0, repeated = 0, long_requests = 0, long_repeated = 0;
  for (int round = 0; round < 160; ++round) {
    const std::string& standard = standards[static_cast<size_t>(round) % standards.size()];
    hw::DramParams p = params(standard, mappings[rng() % mappings.size()]);
    if (round % 4 == 1) p.page_policy = hw::PagePolicy::kClosed;
    if (round % 5 == 2) p.device.org.ranks = 2;
    p.queue_depth = 1 + static_cast<uint32_t>(rng() % 64);
    if (round % 3 == 0) p.accelerator_clock_khz = 200000 + rng() % 2000000;
    if (round % 4 == 3) {
      // Other timings, still consistent (tRC = tRAS + tRP; tREFI well above tRFC).
      hw::DramTiming& t = p.device.timing;
      for (uint32_t* v :
           {&t.burst_cycles, &t.cl, &t.cwl, &t.rcd_rd, &t.rcd_wr, &t.rp, &t.ras, &t.rrd_s, &t.rrd_l,
            &t.faw, &t.ccd_s, &t.ccd_l, &t.wtr_s, &t.wtr_l, &t.wr, &t.rtp, &t.rtrs}) {
        *v = std::max<uint32_t>(
            1, *v * static_cast<uint32_t>(1 + rng() % 3) / 2 + static_cast<uint32_t>(rng() % 3));
      }
      t.rc = t.ras + t.rp;
      t.refi = t.rfc * static_cast<uint32_t>(4 + rng() % 30);
    }
    INFO(standard << " round " << round << " queue " << p.queue_depth);
    const uint64_t capacity = p.device.capacity_bytes(), burst = p.device.burst_bytes();
    Dram fast(p, hw::ZeroPages(), capacity), full(p, hw::ZeroPages(), capacity);
    full.set_fast_path(false);
    hw::Cycles start = rng() % 5000;
    for (int transfer = 0; transfer < 6; ++transfer) {
      const uint64_t kind = rng() % 4, length = 1 + rng() % 12000;
      const uint64_t stride = kind == 1 ? burst * (1 + rng() % 8) : burst;
      uint64_t a = rng() % (capacity / burst) * burst;
      std::vector<uint64_t> bursts;
      for (uint64_t i = 0; i < length; ++i) {
        bursts.push_back(kind == 2 && rng() % 64 == 0 ? rng() % (capacity / burst) * burst
                                                      : a % capacity);
        a += stride;
      }
      const bool write = kind == 3 || rng() % 3 == 0;
      const uint64_t before = fast.repeated_requests();
      std::vector<hw::Cycles> done_fast, done_full;
      if (round % 5 == 4) {  // as a trace whose requests all come at once
        std::vector<Dram::TimedRequest> trace;
        for (const uint64_t address : bursts) trace.push_back({address, write, 0});
        const Dram::Served a = fast.serve(trace), b = full.serve(trace);
        REQUIRE(a.admitted == b.admitted);
        REQUIRE(a.done == b.done);
        done_fast.assign(a.done.begin(), a.done.end());
      } else {
        fast.transfer(bursts, write, start, 0, done_fast);
        full.transfer(bursts, write, start, 0, done_full);
        REQUIRE(done_fast == done_full);
      }
      requests += length;
      repeated += fast.repeated_requests() - before;
      if (length > 4000 && kind == 0 && p.page_policy == hw::PagePolicy::kOpen) {
        long_requests += length;
        long_repeated += fast.repeated_requests() - before;
      }
      start = *std::max_element(done_fast.begin(), done_fast.end()) + rng() % 20000;
    }
    REQUIRE(full.repeated_requests() == 0);
    fast.finish(start, 0);
    full.finish(start, 0);
    std::vector<uint64_t> ca, cb;
    fast.stats_by_layer()[0].visit([&](const hw::CounterInfo&, uint64_t v) { ca.push_back(v); });
    full.stats_by_layer()[0].visit([&](const hw::CounterInfo&, uint64_t v) { cb.push_back(v); });
    REQUIRE(ca == cb);
  }
  INFO("repeated " << repeated << " of " << requests << "; long streams " << long_repeated << " of "
                   << long_requests);
  REQUIRE(long_repeated * 10 > long_requests * 4);  // 49% when written
  REQUIRE(repeated > requests / 5);
}

TEST_CASE("a waveform's bank log stops at the timeline's limit and the timeline says so", "[hw]") {
  // A long idle stretch refreshes in closed form; with a waveform on, each refresh logs every
  // bank twice: the log must stop at the limit, not grow with the run.
  const hw::DramParams p = params("DDR4_8Gb_x8_2400");
  Dram d(p, hw::ZeroPages(), p.device.capacity_bytes());
  hw::Timeline timeline({0, hw::kNever}, 1024, 100);
  timeline.record_signals();
  d.set_timeline(&timeline);
  d.finish_dram(uint64_t{1} << 30, 0);  // about 115,000 refreshes
  REQUIRE(timeline.truncated());
  REQUIRE(timeline.changes().size() <= 100);
  REQUIRE(d.stats(0).ref > 100000);  // the counts are whole all the same
}
