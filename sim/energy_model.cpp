#include "sim/energy_model.hpp"

#include <cmath>
#include <set>
#include <sstream>

#include "hw_models/mac_array.hpp"

namespace nmp::sim {
namespace {

struct EventMapEntry {
  const char* key;
  const char* op;
  double times;
  const char* why;
};

// How arithmetic events are priced: key -> primitive operation x times.
const EventMapEntry kEventMap[] = {
    {"pe.ternary_add", "int8_add", 1, "a non-zero ternary weight adds or subtracts an int8"},
    {"pe.acc_add", "int32_add", 1, "one int32 accumulation"},
    {"vec.int32_compare", "int32_add", 1, "a magnitude comparison is one int32 subtraction"},
    {"vec.int32_add", "int32_add", 1, "one int32 addition"},
    {"vec.int32_mult", "int32_mult", 1, "one int32 multiplication"},
    {"vec.int32_div", "int32_add", 32,
     "assumption: a restoring divider, one int32 add/subtract per quotient bit"},
};

std::string fmt(double v) {
  std::ostringstream s;
  s.precision(4);
  s << v;
  return s.str();
}

const TechOp& op_of(const TechLibrary& tech, const std::string& name) {
  const auto it = tech.ops.find(name);
  if (it == tech.ops.end()) {
    throw ConfigError(tech.file, "/ops", "missing primitive \"" + name + "\" (needed by the energy "
                                         "and area model)");
  }
  return it->second;
}

double area_of(const TechLibrary& tech, const std::string& name) {
  const TechOp& op = op_of(tech, name);
  if (!op.has_area) {
    throw ConfigError(tech.file, "/ops/" + name + "/area_um2",
                      "missing: the area model needs the area of \"" + name + "\"");
  }
  return op.area_um2;
}

// Area of a w-bit adder: linear between the library's 8-, 16- and 32-bit adders, and beyond
// 32 bits at the 16->32 slope.
double adder_area(const TechLibrary& tech, double width) {
  const double a8 = area_of(tech, "int8_add"), a16 = area_of(tech, "int16_add"),
               a32 = area_of(tech, "int32_add");
  if (width <= 16) return a8 + (a16 - a8) * (width - 8) / 8;
  return a16 + (a32 - a16) * (width - 16) / 16;
}

struct PowerFit {
  double a = 0.0, b = 0.0;  // energy_64bit(kib) = a * kib^b
};

PowerFit fit_sram(const TechLibrary& tech) {
  // Least squares of log(E per 64 bits) on log(KiB).
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const double n = static_cast<double>(tech.sram_read_points.size());
  for (const SramEnergyPoint& p : tech.sram_read_points) {
    const double x = std::log(p.capacity_kib);
    const double y = std::log(p.read_energy_pj * 64.0 / p.width_bits);
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  PowerFit f;
  const double denom = n * sxx - sx * sx;
  f.b = denom == 0 ? 0 : (n * sxy - sx * sy) / denom;
  f.a = std::exp((sy - f.b * sx) / n);
  return f;
}

double sram_macro_area(const TechLibrary& tech, double bits) {
  return bits * tech.sram_cell_area_um2.value / tech.sram_array_efficiency.value;
}

}  // namespace

double EnergyModel::total_area_um2() const {
  double t = 0;
  for (const AreaItem& a : area) t += a.um2;
  return t;
}

double sram_read_energy_pj(const TechLibrary& tech, double macro_kib, double width_bits) {
  const PowerFit f = fit_sram(tech);
  return f.a * std::pow(macro_kib, f.b) * width_bits / 64.0;
}

EnergyModel build_energy_model(const HardwareConfig& hw, const TechLibrary& tech) {
  EnergyModel m;
  std::set<std::string> used;
  for (const EventMapEntry& e : kEventMap) {
    const TechOp& op = op_of(tech, e.op);
    used.insert(e.op);
    m.per_event[e.key] = {op.energy_pj * e.times,
                          std::string(e.why) + ": " + (e.times == 1 ? "" : fmt(e.times) + " x ") +
                              e.op + " " + fmt(op.energy_pj) + " pJ (" + op.source + ")"};
  }
  const PowerFit fit = fit_sram(tech);
  const std::string fit_text = "SRAM fit E = " + fmt(fit.a) + " pJ x (bank KiB)^" + fmt(fit.b) +
                               " per 64 bits, through " + tech.sram_read_source;
  auto price_sram = [&](const hw::SramParams& s) {
    const double bank_kib = static_cast<double>(s.capacity_bytes) / 1024.0 / s.banks;
    const double read = sram_read_energy_pj(tech, bank_kib, s.width_bits);
    const std::string what = fmt(bank_kib) + " KiB bank, " + std::to_string(s.width_bits) +
                             "-bit word; " + fit_text;
    m.per_event["sram." + s.name + ".read_word"] = {read, what};
    m.per_event["sram." + s.name + ".write_word"] = {
        read * tech.sram_write_to_read.value,
        "read x " + fmt(tech.sram_write_to_read.value) + " (" + tech.sram_write_to_read.source +
            "); " + what};
  };
  const hw::NmpParams& p = hw.params;
  for (const hw::SramParams* s : {&p.weight_sram, &p.act_sram, &p.acc_sram}) price_sram(*s);
  const double imem_kib = static_cast<double>(p.controller.imem_bytes) / 1024.0;
  m.per_event["ctrl.instruction"] = {
      sram_read_energy_pj(tech, imem_kib, isa::kInstrBits),
      "one 128-bit read of a " + fmt(imem_kib) + " KiB instruction memory; " + fit_text};
  const double dram_byte = 8 * tech.dram_pj_per_bit.value;
  m.per_event["dram.read_byte"] = {dram_byte, "8 x " + fmt(tech.dram_pj_per_bit.value) +
                                                  " pJ/bit (" + tech.dram_pj_per_bit.source + ")"};
  m.per_event["dram.write_byte"] = m.per_event["dram.read_byte"];
  m.leakage_mw_per_mm2 = tech.leakage_mw_per_mm2.value;
  m.leakage_source = tech.leakage_mw_per_mm2.source;

  // Area.
  const hw::MacArrayParams& mac = p.mac_array;
  const double reg_bit = tech.register_bit_area_um2.value;
  const double pe_input = area_of(tech, "int8_add");
  const int weight_regs = mac.weight_preload_overlap ? 2 : 1;
  const double pe = pe_input + weight_regs * 2 * reg_bit;
  double tree = 0;
  uint32_t inputs = mac.rows;
  for (uint32_t level = 1; inputs > 1; ++level) {
    const uint32_t adders = inputs / 2;
    tree += adders * adder_area(tech, 8 + level);
    inputs -= adders;
  }
  const double column = tree + area_of(tech, "int32_add");
  m.area.push_back(
      {"mac_array", mac.rows * mac.cols * pe + mac.cols * column,
       std::to_string(mac.rows) + " x " + std::to_string(mac.cols) + " ternary PEs of " +
           fmt(pe) + " um^2 (input stage priced as one int8 adder, " + fmt(pe_input) +
           " um^2, an upper bound for a conditional negate; " + std::to_string(weight_regs) +
           " x 2 weight-register bits of " + fmt(reg_bit) + " um^2) + per column an adder tree (" +
           std::to_string(mac.rows - 1) + " adders widening from 9 bits, " + fmt(tree) +
           " um^2, widths interpolated between the int8/16/32 adders) and an int32 accumulator "
           "adder"});
  used.insert({"int8_add", "int16_add", "int32_add"});
  for (const hw::SramParams* s : {&p.weight_sram, &p.act_sram, &p.acc_sram}) {
    const double bits = 8.0 * static_cast<double>(s->capacity_bytes);
    m.area.push_back({s->name, sram_macro_area(tech, bits),
                      fmt(bits) + " bits x " + fmt(tech.sram_cell_area_um2.value) +
                          " um^2 per cell (" + tech.sram_cell_area_um2.source + ") / array "
                          "efficiency " + fmt(tech.sram_array_efficiency.value) + " (" +
                          tech.sram_array_efficiency.source + ")"});
  }
  const double imem_bits = 8.0 * static_cast<double>(p.controller.imem_bytes);
  m.area.push_back({"imem", sram_macro_area(tech, imem_bits),
                    fmt(imem_bits) + " bits of instruction memory, same SRAM model"});
  const double lane = area_of(tech, "int32_mult") + 2 * area_of(tech, "int32_add");
  used.insert("int32_mult");
  m.area.push_back({"vector_unit", p.vector_unit.lanes * lane,
                    std::to_string(p.vector_unit.lanes) + " lanes of an int32 multiplier and two "
                                                          "int32 adders (rounding, comparison)"});
  m.area.push_back({"controller_registers", isa::kNumRegs * 64 * reg_bit,
                    "16 x 64-bit registers of " + fmt(reg_bit) + " um^2 per bit (" +
                        tech.register_bit_area_um2.source + ")"});
  m.area_not_modelled = {"controller decode and scoreboard logic", "dma engine",
                         "unit command queues", "wiring and clock tree"};

  for (const auto& [name, op] : tech.ops) {
    if (!used.count(name) && !op.optional) {
      throw ConfigError(tech.file, "/ops/" + name,
                        "not used by the simulator's energy or area model; mark it "
                        "\"optional\": true or remove it");
    }
  }
  return m;
}

}  // namespace nmp::sim
