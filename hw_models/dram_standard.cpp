#include "hw_models/dram_standard.hpp"

#include <array>
#include <stdexcept>
#include <utility>

namespace nmp::hw {
namespace {

bool power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// I/O and termination energy of a terminated interface: half the bits drive against the
// termination for a bit time (DC power VDDQ^2 / (Ron + RTT)); switching energy left out.
double termination_pj_per_bit(double vddq, double ron_ohm, double rtt_ohm, double rate_mts) {
  const double bit_ns = 1e3 / rate_mts;
  return 0.5 * vddq * vddq / (ron_ohm + rtt_ohm) * bit_ns * 1e3;  // V^2 / ohm x ns = nJ
}

std::string termination_source(const char* interface, double vddq, double ron, double rtt,
                               double rate) {
  return std::string("assumption: ") + interface +
         " DC termination, 0.5 x VDDQ^2 / (Ron + RTT) x " + "bit time with VDDQ " +
         std::to_string(vddq).substr(0, 4) + " V, Ron " + std::to_string(static_cast<int>(ron)) +
         " ohm, RTT " + std::to_string(static_cast<int>(rtt)) + " ohm (data-sheet ODT values), " +
         std::to_string(static_cast<int>(rate)) +
         " MT/s, half the bits low; switching energy not included (a lower bound)";
}

// One device's currents: IDD0, IDD2N, IDD3N, IDD4R, IDD4W, IDD5 in mA.
DramCurrents currents(double vdd, const std::array<double, 6>& idd, double io_pj_per_bit,
                      std::string source, std::string io_source) {
  DramCurrents c;
  c.vdd = vdd;
  c.idd0 = idd[0];
  c.idd2n = idd[1];
  c.idd3n = idd[2];
  c.idd4r = idd[3];
  c.idd4w = idd[4];
  c.idd5 = idd[5];
  c.io_pj_per_bit = io_pj_per_bit;
  c.source = std::move(source);
  c.io_source = std::move(io_source);
  return c;
}

// Timing rows in DramTiming's order: clock_khz, burst_cycles, CL, CWL, tRCD_RD, tRCD_WR, tRP,
// tRAS, tRC, tRRD_S, tRRD_L, tFAW, tCCD_S, tCCD_L, tWTR_S, tWTR_L, tWR, tRTP, tRFC, tREFI, tRTRS.

// DDR4 (JESD79-4): 16 banks in 4 groups for x4/x8, BL8 (4 clocks of a DDR bus).
DramDevice ddr4_8gb_x8_2400() {
  DramDevice d;
  d.standard = "DDR4_8Gb_x8_2400";
  d.family = "DDR4";
  d.org = {1, 1, 4, 4, 65536, 1024, 8, 64, 8};
  // tRFC 350 ns
  d.timing = {1200000, 4, 17, 12, 17, 17, 17, 39, 56, 4, 6, 26, 4, 6, 3, 9, 18, 9, 420, 9360, 1};
  d.timing_source =
      "JESD79-4 DDR4-2400U (17-17-17), as in DRAMsim3 configs/DDR4_8Gb_x8_2400.ini and "
      "Ramulator 2 DDR4_2400U; tRFC 350 ns for 8 Gb, tREFI 7.8 us";
  d.power = currents(1.2, {48, 34, 43, 135, 123, 250}, termination_pj_per_bit(1.2, 34, 48, 2400),
                     "Micron 8Gb DDR4 x8 data sheet (MT40A1G8) at DDR4-2400, as in DRAMsim3 "
                     "configs/DDR4_8Gb_x8_2400.ini (IDD5 = IDD5B)",
                     termination_source("POD12", 1.2, 34, 48, 2400));
  return d;
}

DramDevice ddr4_16gb_x8_3200() {
  DramDevice d = ddr4_8gb_x8_2400();
  d.standard = "DDR4_16Gb_x8_3200";
  d.org.rows = 131072;
  d.timing.clock_khz = 1600000;
  d.timing.cl = d.timing.rcd_rd = d.timing.rcd_wr = d.timing.rp = 22;
  d.timing.cwl = 16;
  d.timing.ras = 52;
  d.timing.rc = 74;
  d.timing.rrd_s = 4;
  d.timing.rrd_l = 8;
  d.timing.faw = 34;
  d.timing.ccd_s = 4;
  d.timing.ccd_l = 8;
  d.timing.wtr_s = 4;
  d.timing.wtr_l = 12;
  d.timing.wr = 24;
  d.timing.rtp = 12;
  d.timing.rfc = 880;  // 550 ns
  d.timing.refi = 12480;
  d.timing_source =
      "JESD79-4 DDR4-3200AA (22-22-22), as in Ramulator 2 DDR4_3200AA; tRRD, tFAW for x8 "
      "(1 KB page) as DRAMsim3 configs/DDR4_8Gb_x8_3200.ini; tRFC 550 ns for 16 Gb";
  d.power = currents(1.2, {57, 37, 52, 168, 150, 250}, termination_pj_per_bit(1.2, 34, 48, 3200),
                     "assumption: the currents of Micron's 8Gb DDR4 x8 die at DDR4-3200 (DRAMsim3 "
                     "configs/DDR4_8Gb_x8_3200.ini); a 16 Gb part of two such dies' arrays draws "
                     "more background current",
                     termination_source("POD12", 1.2, 34, 48, 3200));
  return d;
}

// DDR5 (JESD79-5): two 32-bit channels per DIMM, BL16 (8 clocks), 32 banks in 8 groups.
DramDevice ddr5_16gb_x8_4800() {
  DramDevice d;
  d.standard = "DDR5_16Gb_x8_4800";
  d.family = "DDR5";
  d.org = {1, 1, 8, 4, 65536, 1024, 8, 32, 16};
  // tRFC 295 ns; tREFI 3.9 us
  d.timing = {2400000, 8, 34, 32, 34, 34, 34, 77,  111,  8, 12,
              32,      8, 12, 6,  24, 72, 18, 708, 9360, 2};
  d.timing_source =
      "JESD79-5 DDR5-4800AN (34-34-34), as in Ramulator 2 DDR5_4800AN; tRRD_L, tFAW for x8 "
      "(Ramulator 2's JEDEC tables); tRFC1 295 ns for 16 Gb, tREFI 3.9 us";
  d.power = currents(1.1, {57, 37, 52, 168, 150, 250}, termination_pj_per_bit(1.1, 34, 48, 4800),
                     "assumption: no sourced DDR5 currents; the DDR4-3200 x8 die's (DRAMsim3 "
                     "configs/DDR4_8Gb_x8_3200.ini) at DDR5's VDD of 1.1 V (JESD79-5)",
                     termination_source("POD11", 1.1, 34, 48, 4800));
  return d;
}

// LPDDR4 (JESD209-4): a 64-bit channel of four x16 devices here (as DRAMsim3 has it), BL16.
DramDevice lpddr4_8gb_x16_2400() {
  DramDevice d;
  d.standard = "LPDDR4_8Gb_x16_2400";
  d.family = "LPDDR4";
  d.org = {1, 1, 2, 4, 65536, 1024, 16, 64, 16};
  d.timing = {1200000, 8, 17, 14, 15, 15, 15, 32, 47, 8, 8, 32, 4, 6, 8, 16, 30, 12, 392, 8660, 1};
  d.timing_source = "DRAMsim3 configs/LPDDR4_8Gb_x16_2400.ini (tRC = tRAS + tRP)";
  d.power = currents(1.2, {80, 34, 47, 243, 228, 280}, termination_pj_per_bit(1.1, 40, 48, 2400),
                     "DRAMsim3 configs/LPDDR4_8Gb_x16_2400.ini",
                     termination_source("LVSTL", 1.1, 40, 48, 2400));
  return d;
}

// LPDDR5 (JESD209-5B): x16 channels, command clock 800 MHz (WCK:CK = 4:1), BL16 in 2 clocks.
DramDevice lpddr5_16gb_x16_6400() {
  DramDevice d;
  d.standard = "LPDDR5_16Gb_x16_6400";
  d.family = "LPDDR5";
  d.org = {1, 1, 4, 4, 65536, 1024, 16, 16, 16};
  // tRRD 5 ns, tFAW 20 ns, tRFCab 280 ns (16 Gb), tREFI 3.906 us
  d.timing = {800000, 2, 17, 9, 15, 15, 15, 34, 49, 4, 4, 16, 2, 4, 5, 10, 28, 8, 224, 3125, 1};
  d.timing_source =
      "JESD209-5B LPDDR5-6400 (BG mode, CKR 4:1) as in Ramulator 2 LPDDR5_6400; tRRD 5 ns, "
      "tFAW 20 ns, tRFCab 280 ns, tREFI 3.906 us (JESD209-5B Tables 235 and 372)";
  d.power = currents(1.05, {80, 34, 47, 243, 228, 280}, termination_pj_per_bit(0.5, 40, 48, 6400),
                     "assumption: no sourced LPDDR5 currents; the LPDDR4 x16 die's (DRAMsim3 "
                     "configs/LPDDR4_8Gb_x16_2400.ini) at LPDDR5's VDD2H of 1.05 V (JESD209-5B)",
                     termination_source("LVSTL (0.5 V)", 0.5, 40, 48, 6400));
  return d;
}

// HBM2 (JESD235): 8 channels of 128 bits per stack, BL4 (2 clocks), 1 GHz; a 2 KB page
// (legacy mode). DRAMsim3's HBM "columns = 64" counts 2-word prefetches: 128 words here.
DramDevice hbm2_8gb_x128() {
  DramDevice d;
  d.standard = "HBM2_8Gb_x128";
  d.family = "HBM2";
  d.org = {8, 1, 4, 4, 32768, 128, 128, 128, 4};
  d.timing = {1000000, 2, 14, 4, 14, 14, 14, 34, 48, 4, 6, 30, 1, 2, 6, 8, 16, 6, 260, 3900, 1};
  d.timing_source = "DRAMsim3 configs/HBM2_8Gb_x128.ini (tRC = tRAS + tRP, tRTP = tRTP_L)";
  d.power = currents(1.2, {65, 40, 55, 390, 500, 250}, 0.5 * 0.5e-12 * 1.2 * 1.2 * 1e12,
                     "DRAMsim3 configs/HBM2_8Gb_x128.ini (per 128-bit channel)",
                     "assumption: an unterminated interposer line of 0.5 pF switched at VDDQ 1.2 V "
                     "on half the bits (0.5 x C x VDDQ^2)");
  return d;
}

// HBM3 (JESD238): 32-bit pseudo-channels (2 per channel, 16 channels per stack), BL8 in 2
// clocks of 1.6 GHz (6.4 Gb/s per pin); each pseudo-channel is a channel here.
DramDevice hbm3_16gb() {
  DramDevice d;
  d.standard = "HBM3_16Gb";
  d.family = "HBM3";
  d.org = {32, 2, 4, 4, 16384, 256, 32, 32, 8};
  // tRFC 350 ns (8 Gb per channel)
  d.timing = {1600000, 2, 20, 10, 31, 15, 26, 45, 72, 4, 5, 24, 2, 4, 7, 10, 33, 9, 560, 6240, 2};
  d.timing_source =
      "JESD238 HBM3-6400 as in Ramulator 2 HBM3_6400Mbps and HBM3_16Gb_8hi (2 stack IDs as "
      "ranks); tRFCab 350 ns for an 8 Gb channel (JESD238 Table 84), tREFI 3.9 us";
  d.power =
      currents(1.1, {65.0 / 4, 40.0 / 4, 55.0 / 4, 390.0 / 4, 500.0 / 4, 250.0 / 4},
               0.5 * 0.5e-12 * 0.4 * 0.4 * 1e12,
               "assumption: no sourced HBM3 currents; HBM2's per 128-bit channel (DRAMsim3 "
               "configs/HBM2_8Gb_x128.ini) divided by 4 for a 32-bit pseudo-channel, at HBM3's "
               "VDD of 1.1 V",
               "assumption: an unterminated interposer line of 0.5 pF switched at VDDQ 0.4 V on "
               "half the bits (0.5 x C x VDDQ^2)");
  return d;
}

}  // namespace

const std::vector<DramDevice>& dram_presets() {
  static const std::vector<DramDevice> kPresets = {
      ddr4_8gb_x8_2400(),     ddr4_16gb_x8_3200(), ddr5_16gb_x8_4800(), lpddr4_8gb_x16_2400(),
      lpddr5_16gb_x16_6400(), hbm2_8gb_x128(),     hbm3_16gb()};
  return kPresets;
}

std::vector<std::string> dram_standard_names() {
  std::vector<std::string> names;
  for (const DramDevice& d : dram_presets()) names.push_back(d.standard);
  return names;
}

const DramDevice& dram_preset(const std::string& name) {
  for (const DramDevice& d : dram_presets()) {
    if (d.standard == name) return d;
  }
  throw std::invalid_argument("unknown DRAM standard '" + name + "'");
}

std::vector<std::string> validate_dram(const DramDevice& d) {
  std::vector<std::string> problems;
  const DramOrganization& o = d.org;
  const DramTiming& t = d.timing;
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) problems.push_back(what);
  };
  for (const auto& [value, name] : {std::pair<uint64_t, const char*>{o.channels, "channels"},
                                    {o.ranks, "ranks"},
                                    {o.bank_groups, "bank_groups"},
                                    {o.banks_per_group, "banks_per_group"},
                                    {o.rows, "rows"},
                                    {o.columns, "columns"},
                                    {o.burst_length, "burst_length"}}) {
    need(power_of_two(value), std::string(name) + " must be a power of two (address bits), got " +
                                  std::to_string(value));
  }
  need(o.device_width_bits > 0 && o.bus_width_bits % o.device_width_bits == 0,
       "bus_width_bits (" + std::to_string(o.bus_width_bits) +
           ") must be a multiple of device_width_bits (" + std::to_string(o.device_width_bits) +
           ")");
  need(o.bus_width_bits % 8 == 0 && o.bus_width_bits > 0,
       "bus_width_bits must be a positive multiple of 8, got " + std::to_string(o.bus_width_bits));
  need(o.columns % o.burst_length == 0 && o.columns >= o.burst_length,
       "columns (" + std::to_string(o.columns) + ") must hold whole bursts of " +
           std::to_string(o.burst_length));
  need(t.ras <= t.rc,
       "tRAS (" + std::to_string(t.ras) + ") must not exceed tRC (" + std::to_string(t.rc) + ")");
  need(t.ras + t.rp <= t.rc, "tRC (" + std::to_string(t.rc) + ") must be at least tRAS + tRP (" +
                                 std::to_string(t.ras + t.rp) + ")");
  need(t.rcd_rd <= t.ras, "tRCD (" + std::to_string(t.rcd_rd) + ") must not exceed tRAS (" +
                              std::to_string(t.ras) + ")");
  need(t.rrd_s <= t.rrd_l, "tRRD_S must not exceed tRRD_L");
  need(t.ccd_s <= t.ccd_l, "tCCD_S must not exceed tCCD_L");
  need(t.wtr_s <= t.wtr_l, "tWTR_S must not exceed tWTR_L");
  need(t.faw >= t.rrd_s, "tFAW must be at least tRRD_S");
  need(t.rfc < t.refi, "tRFC (" + std::to_string(t.rfc) + ") must be shorter than tREFI (" +
                           std::to_string(t.refi) + ")");
  need(t.burst_cycles >= 1, "a burst takes at least one cycle");
  need(t.clock_khz >= 1000, "the DRAM clock must be at least 1 MHz");
  need(d.power.vdd > 0, "vdd must be positive");
  need(d.power.idd3n >= d.power.idd2n, "IDD3N (active standby) must be at least IDD2N");
  need(d.power.idd0 >= d.power.idd3n, "IDD0 must be at least IDD3N");
  need(d.power.idd4r >= d.power.idd3n && d.power.idd4w >= d.power.idd3n,
       "IDD4R and IDD4W must be at least IDD3N");
  need(d.power.idd5 >= d.power.idd3n, "IDD5 must be at least IDD3N");
  return problems;
}

}  // namespace nmp::hw
