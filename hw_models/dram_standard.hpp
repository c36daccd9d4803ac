// DRAM standards: each preset is one row of one table (organization, JEDEC timing set, datasheet
// currents), named by device as DRAM simulators name them (DDR4_8Gb_x8_2400, ...). The
// configuration reads a preset by name and may override every field; `validate_dram()` then
// checks that the result is a device that can exist (timings that contradict each other,
// organizations that are not powers of two, ...).
//
// Units: timings in DRAM clock cycles (tCK) of the command clock, whose frequency is
// `clock_khz` (exact, so DRAM time converts to accelerator cycles exactly); currents in mA,
// voltages in V, energies in pJ.
//
// Example:
//   DramDevice d = dram_preset("DDR4_8Gb_x8_2400");
//   d.org.channels = 2;
//   for (const std::string& problem : validate_dram(d)) ...
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nmp::hw {

struct DramOrganization {
  uint32_t channels = 1;
  uint32_t ranks = 1;
  uint32_t bank_groups = 4;
  uint32_t banks_per_group = 4;
  uint32_t rows = 65536;           // per bank
  uint32_t columns = 1024;         // per row, in device-width words
  uint32_t device_width_bits = 8;  // of one DRAM device (x8, x16, x128)
  uint32_t bus_width_bits = 64;    // of one channel: devices per rank = bus / device width
  uint32_t burst_length = 8;       // words per column access
};

struct DramTiming {
  uint64_t clock_khz = 1200000;  // command clock (DDR: half the data rate)
  uint32_t burst_cycles = 4;     // data-bus cycles of one burst (BL / 2 for DDR)
  uint32_t cl = 17, cwl = 12;
  uint32_t rcd_rd = 17, rcd_wr = 17;  // ACT to RD, ACT to WR
  uint32_t rp = 17, ras = 39, rc = 56;
  uint32_t rrd_s = 4, rrd_l = 6, faw = 26;
  uint32_t ccd_s = 4, ccd_l = 6;
  uint32_t wtr_s = 3, wtr_l = 9;
  uint32_t wr = 18, rtp = 9;
  uint32_t rfc = 420, refi = 9360;  // all-bank refresh
  uint32_t rtrs = 1;                // rank-to-rank data-bus switch
};

// IDD method (Micron TN-41-01 / TN-40-07, DRAMPower): currents of one device.
struct DramCurrents {
  double vdd = 1.2;
  double idd0 = 48, idd2n = 34, idd3n = 43, idd4r = 135, idd4w = 123, idd5 = 250;
  double io_pj_per_bit = 0;  // I/O and termination, per bit moved on the bus
  std::string source;        // where the currents come from
  std::string io_source;     // where the I/O figure comes from
};

struct DramDevice {
  std::string standard;  // the preset's name
  std::string family;    // DDR4, DDR5, LPDDR4, LPDDR5, HBM2, HBM3
  DramOrganization org;
  DramTiming timing;
  DramCurrents power;
  std::string timing_source;

  uint32_t devices_per_rank() const { return org.bus_width_bits / org.device_width_bits; }
  uint32_t banks_per_rank() const { return org.bank_groups * org.banks_per_group; }
  uint64_t burst_bytes() const { return uint64_t{org.bus_width_bits} * org.burst_length / 8; }
  uint64_t row_bytes() const {
    return uint64_t{org.columns} * org.device_width_bits / 8 * devices_per_rank();
  }
  uint64_t capacity_bytes() const {
    return uint64_t{org.channels} * org.ranks * banks_per_rank() * org.rows * row_bytes();
  }
  // Peak data-bus bandwidth of all channels, bytes per second.
  double peak_bytes_per_s() const {
    return static_cast<double>(burst_bytes()) * org.channels *
           static_cast<double>(timing.clock_khz) * 1e3 / timing.burst_cycles;
  }
};

// The presets, in the order the table lists them (their names are the config's choices).
const std::vector<DramDevice>& dram_presets();
std::vector<std::string> dram_standard_names();
// Throws std::invalid_argument for an unknown name.
const DramDevice& dram_preset(const std::string& name);

// Problems that make the device impossible ("tRAS > tRC", "rows is not a power of two"); empty
// when it is consistent.
std::vector<std::string> validate_dram(const DramDevice& device);

}  // namespace nmp::hw
