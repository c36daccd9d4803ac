#include "sim/energy_model.hpp"

#include <cmath>
#include <set>
#include <sstream>

#include "hw_models/mac_array.hpp"
#include "hw_models/pe.hpp"
#include "sim/sram_model.hpp"

namespace nmp::sim {
namespace {

struct Term {
  const char* op;
  double times;
};

struct EventMapEntry {
  std::string key;
  std::vector<Term> terms;
  std::string why;
};

// The events every PE kind's table row implies: a MAC (pe.mac.<name>, and for the float kinds
// pe.mac.<name>_native) and the rounding of an accumulator (vec.convert.<name>).
void add_pe_kind_events(const hw::PeKindInfo& k, std::vector<EventMapEntry>& map) {
  const std::string element = k.element_format, acc_bits = std::to_string(8 * k.acc_bytes);
  const std::string accumulator = k.accumulator == hw::Accumulator::kFloat ? "an fp32 accumulator"
                                  : k.accumulator == hw::Accumulator::kQuire
                                      ? "a " + acc_bits + "-bit quire"
                                      : "an int" + acc_bits + " accumulator";
  if (k.weight_bytes > 0) {  // ternary MACs are priced by pe.mac.ternary[_tree]
    map.push_back({std::string("pe.mac.") + k.name,
                   {{k.multiplier_op, 1}, {k.adder_op, 1}},
                   "one " + element + " product added into " + accumulator});
  }
  switch (k.accumulator) {
    case hw::Accumulator::kInteger:
      map.push_back({std::string("vec.convert.") + k.name,
                     {},
                     "never used: int32 accumulators are requantized"});
      break;
    case hw::Accumulator::kFloat:
      if (hw::pe_traits(k.kind, hw::FloatAccumulation::kNative).native_acc) {
        map.push_back(
            {std::string("pe.mac.") + k.name + "_native",
             {{k.multiplier_op, 1}, {"fp16_add", 1}},
             "one " + element + " product added in " + element +
                 (element == "fp16" ? "" : " (the add priced as fp16's: an upper bound)")});
        map.push_back({std::string("vec.convert.") + k.name,
                       {{k.convert_op, 1}},
                       accumulator + " rounded to " + element});
      } else {
        map.push_back({std::string("vec.convert.") + k.name,
                       {},
                       "nothing to round: fp32 accumulators are fp32 outputs"});
      }
      break;
    case hw::Accumulator::kQuire:
      map.push_back({std::string("vec.convert.") + k.name,
                     {{k.convert_op, 1}},
                     accumulator + " rounded to " + element});
      break;
    case hw::Accumulator::kFixed:
      map.push_back({std::string("vec.convert.") + k.name,
                     {{k.convert_op, 1}},
                     "assumption: rounding " + accumulator + " to " + element + " is one " +
                         k.convert_op +
                         " (the rounding increment) and a saturation multiplexer (not priced)"});
      break;
  }
}

// How events are priced: key -> a sum of primitive operations of the technology library.
const std::vector<EventMapEntry>& event_map() {
  static const std::vector<EventMapEntry> map = [] {
    std::vector<EventMapEntry> entries = {
        {"pe.mac.ternary_tree",
         {{"int8_add", 1}},
         "a non-zero ternary weight adds or subtracts an int8 in the adder tree's first levels"},
        {"pe.mac.ternary",
         {{"int32_add", 1}},
         "a systolic PE adds or subtracts its int8 into the int32 partial sum"},
        {"pe.acc.native",
         {{"fp16_add", 1}},
         "one accumulator update in the PE's 16- or 8-bit float format (priced as an fp16 add)"},
        {"pe.acc.int32", {{"int32_add", 1}}, "one int32 accumulator update"},
        {"pe.acc.fp32", {{"fp32_add", 1}}, "one fp32 accumulator update"},
        {"pe.acc.int64", {{"int64_add", 1}}, "one int64 accumulator update"},
        {"pe.acc.quire64", {{"int64_add", 1}}, "one 64-bit quire update"},
        {"pe.acc.quire128", {{"int128_add", 1}}, "one 128-bit quire update"},
        {"vec.int32_compare",
         {{"int32_add", 1}},
         "a magnitude comparison is one int32 subtraction"},
        {"vec.int32_add", {{"int32_add", 1}}, "one int32 addition"},
        {"vec.int32_mult", {{"int32_mult", 1}}, "one int32 multiplication"},
        {"vec.int32_div",
         {{"int32_add", 32}},
         "assumption: a restoring divider, one int32 add/subtract per quotient bit"},
        // Vector commands, by the class of the vector unit's internal format.
        {"vec.add.fp32", {{"fp32_add", 1}}, "an fp32 add, subtract, compare or rounding"},
        {"vec.mul.fp32", {{"fp32_mult", 1}}, "an fp32 multiply"},
        {"vec.add.fp16", {{"fp16_add", 1}}, "an fp16 add, subtract, compare or rounding"},
        {"vec.mul.fp16", {{"fp16_mult", 1}}, "an fp16 multiply"},
        {"vec.add.bf16",
         {{"fp16_add", 1}},
         "assumption: as an fp16 add (bf16's narrower significand needs less: an upper bound)"},
        {"vec.mul.bf16", {{"bf16_mult", 1}}, "a bf16 multiply"},
        {"vec.add.fp8", {{"fp16_add", 1}}, "assumption: as an fp16 add (an upper bound)"},
        {"vec.mul.fp8", {{"fp8_mult", 1}}, "an fp8 multiply"},
        {"vec.add.posit8", {{"posit8_add", 1}}, "a posit add of at most 8 bits"},
        {"vec.mul.posit8", {{"posit8_mult", 1}}, "a posit multiply of at most 8 bits"},
        {"vec.add.posit16", {{"posit16_add", 1}}, "a posit add of 9 to 16 bits"},
        {"vec.mul.posit16", {{"posit16_mult", 1}}, "a posit multiply of 9 to 16 bits"},
        {"vec.add.posit32",
         {{"posit16_add", 2}},
         "assumption: 2 x a 16-bit posit add (linear in width)"},
        {"vec.mul.posit32",
         {{"posit16_mult", 4}},
         "assumption: 4 x a 16-bit posit multiply (quadratic in width)"},
        {"vec.add.fixed8", {{"int8_add", 1}}, "a fixed-point add of at most 8 bits"},
        {"vec.mul.fixed8", {{"int8_mult", 1}}, "a fixed-point multiply of at most 8 bits"},
        {"vec.add.fixed16", {{"int16_add", 1}}, "a fixed-point add of 9 to 16 bits"},
        {"vec.mul.fixed16", {{"int16_mult", 1}}, "a fixed-point multiply of 9 to 16 bits"},
        {"vec.add.fixed32", {{"int32_add", 1}}, "a fixed-point add of 17 to 32 bits"},
        {"vec.mul.fixed32", {{"int32_mult", 1}}, "a fixed-point multiply of 17 to 32 bits"},
        {"vec.pwl",
         {{"int8_mult", 4}, {"int32_add", 1}},
         "assumption: a PWL evaluation is a table read (not priced) and one fixed-point "
         "multiply-add of ~16-bit operands: four 8 x 8-bit multiplies and a 32-bit add"},
    };
    for (const hw::PeKindInfo& k : hw::kPeKinds) add_pe_kind_events(k, entries);
    return entries;
  }();
  return map;
}

std::string fmt(double v) {
  std::ostringstream s;
  s.precision(4);
  s << v;
  return s.str();
}

const TechOp& op_of(const TechLibrary& tech, const std::string& name) {
  const auto it = tech.ops.find(name);
  if (it == tech.ops.end()) {
    throw ConfigError(tech.file, "/ops",
                      "missing primitive \"" + name +
                          "\" (needed by the energy "
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

// Every primitive the energy and area models can use, whatever the configuration.
std::set<std::string> referenced_primitives() {
  std::set<std::string> used = {"int8_add", "int16_add", "int32_add", "int32_mult"};
  for (const EventMapEntry& e : event_map()) {
    for (const Term& t : e.terms) used.insert(t.op);
  }
  for (const hw::PeKindInfo& k : hw::kPeKinds) {
    used.insert(k.multiplier_op);
    used.insert(k.adder_op);
  }
  return used;
}

AreaItem mac_array_area(const hw::MacArrayParams& mac, const TechLibrary& tech) {
  const hw::PeTraits t = mac.traits();
  const double reg_bit = tech.register_bit_area_um2.value;
  const std::string mult = hw::pe_info(mac.pe).multiplier_op;
  const std::string accum = mac.traits().native_acc ? "fp16_add" : hw::pe_info(mac.pe).adder_op;
  const double mult_area = area_of(tech, mult), acc_area = area_of(tech, accum);
  const double weight_bits = t.weight_bytes ? 8.0 * t.weight_bytes : 2.0;
  const int weight_regs = mac.weight_preload_overlap ? 2 : 1;
  const double acc_bits = 8.0 * t.acc_bytes;
  const std::string pe_input = mac.pe == hw::PeKind::kTernaryInt8
                                   ? "input stage priced as one int8 adder (" + fmt(mult_area) +
                                         " um^2), an upper bound for a conditional negation"
                                   : mult + " " + fmt(mult_area) + " um^2";
  const double pes = static_cast<double>(mac.rows) * mac.cols;
  if (mac.dataflow == hw::Dataflow::kAdderTree) {
    // PE: its multiplier and stationary weight registers. Column: an adder tree of R - 1
    // adders, then the accumulator adder. Ternary trees widen from 9 bits (widths
    // interpolated between the int8/16/32 adders); other kinds add at accumulator width.
    const double pe = mult_area + weight_regs * weight_bits * reg_bit;
    double tree = 0;
    uint32_t inputs = mac.rows;
    for (uint32_t level = 1; inputs > 1; ++level) {
      const uint32_t adders = inputs / 2;
      tree +=
          adders * (mac.pe == hw::PeKind::kTernaryInt8 ? adder_area(tech, 8 + level) : acc_area);
      inputs -= adders;
    }
    return {"mac_array", pes * pe + mac.cols * (tree + acc_area),
            std::to_string(mac.rows) + " x " + std::to_string(mac.cols) + " PEs of " + fmt(pe) +
                " um^2 (" + pe_input + "; " + std::to_string(weight_regs) + " x " +
                fmt(weight_bits) + " weight-register bits of " + fmt(reg_bit) +
                " um^2) + per column an adder tree of " + std::to_string(mac.rows - 1) +
                " adders (" + fmt(tree) + " um^2) and a " + accum + " accumulator adder",
            pes * weight_regs * weight_bits};
  }
  // Systolic PE: multiplier, partial-sum adder, stationary registers, and the registers that
  // pass operands and partial sums to its neighbours.
  const double act_bits = 8.0 * t.act_bytes;
  const double regs = weight_regs * weight_bits + act_bits + acc_bits;
  const double pe = mult_area + acc_area + regs * reg_bit;
  return {"mac_array", pes * pe,
          std::to_string(mac.rows) + " x " + std::to_string(mac.cols) + " systolic PEs of " +
              fmt(pe) + " um^2: " + pe_input + ", a " + accum + " partial-sum adder (" +
              fmt(acc_area) + " um^2), " + fmt(regs) + " register bits of " + fmt(reg_bit) +
              " um^2 (stationary, operand and partial-sum registers)",
          pes * regs};
}

// DRAM events. The simple channel: every byte at the library's pJ/bit, commands not modelled. A
// standard: the IDD method (Micron TN-41-01, DRAMPower) on its device's currents, whatever the
// logic node; I/O per bit from the device.
}  // namespace

std::map<std::string, EventEnergy> dram_prices(const hw::DramParams& d,
                                               const SourcedValue& simple_pj_per_bit) {
  std::map<std::string, EventEnergy> prices;
  const std::vector<std::string> commands = {
      "dram.act", "dram.rd", "dram.wr", "dram.ref", "dram.active_cycle", "dram.precharged_cycle"};
  if (d.simple) {
    const double byte = 8 * simple_pj_per_bit.value;
    prices["dram.read_byte"] = {
        byte, "8 x " + fmt(simple_pj_per_bit.value) + " pJ/bit (" + simple_pj_per_bit.source + ")"};
    prices["dram.write_byte"] = prices["dram.read_byte"];
    for (const std::string& key : commands) {
      prices[key] = {0, "the simple channel models no commands (its bytes carry the energy)"};
    }
    return prices;
  }
  const hw::DramDevice& dev = d.device;
  const hw::DramCurrents& c = dev.power;
  const hw::DramTiming& t = dev.timing;
  const double tck_ns = 1e6 / static_cast<double>(t.clock_khz);
  const double devices = dev.devices_per_rank();
  // mA x V x ns = pJ, per device; x the devices of a rank.
  auto pj = [&](double ma, double cycles) { return devices * c.vdd * ma * cycles * tck_ns; };
  const std::string of = " x " + fmt(devices) + " devices x VDD " + fmt(c.vdd) + " V, tCK " +
                         fmt(tck_ns) + " ns; " + dev.standard + " currents: " + c.source;
  const double act = pj(c.idd0 * t.rc - (c.idd3n * t.ras + c.idd2n * (t.rc - t.ras)), 1);
  prices["dram.act"] = {act, "(IDD0 tRC - IDD3N tRAS - IDD2N (tRC - tRAS)) per ACT-PRE pair" + of};
  prices["dram.rd"] = {
      pj(c.idd4r - c.idd3n, t.burst_cycles),
      "(IDD4R - IDD3N) x " + std::to_string(t.burst_cycles) + " burst cycles" + of};
  prices["dram.wr"] = {
      pj(c.idd4w - c.idd3n, t.burst_cycles),
      "(IDD4W - IDD3N) x " + std::to_string(t.burst_cycles) + " burst cycles" + of};
  prices["dram.ref"] = {pj(c.idd5 - c.idd3n, t.rfc), "(IDD5 - IDD3N) x tRFC" + of};
  prices["dram.active_cycle"] = {pj(c.idd3n, 1), "IDD3N (active standby) per rank-cycle" + of};
  prices["dram.precharged_cycle"] = {pj(c.idd2n, 1),
                                     "IDD2N (precharge standby) per rank-cycle" + of};
  prices["dram.read_byte"] = {
      8 * c.io_pj_per_bit,
      "8 x " + fmt(c.io_pj_per_bit) + " pJ/bit I/O and termination (" + c.io_source + ")"};
  prices["dram.write_byte"] = prices["dram.read_byte"];
  return prices;
}

double EnergyModel::leakage_mw() const {
  double sram = 0, sram_area = 0;
  for (const LeakageItem& l : leakage) sram += l.mw;
  for (const AreaItem& a : area) {
    for (const LeakageItem& l : leakage) sram_area += l.component == a.component ? a.um2 : 0;
  }
  return sram + leakage_mw_per_mm2 * (total_area_um2() - sram_area) * 1e-6;
}

std::string EnergyModel::leakage_derivation() const {
  std::string text;
  for (const LeakageItem& l : leakage) text += l.component + " " + fmt(l.mw) + " mW; ";
  return text + "the rest of the area at " + fmt(leakage_mw_per_mm2) + " mW/mm^2 (" +
         leakage_source + ")";
}

double EnergyModel::total_area_um2() const {
  double t = 0;
  for (const AreaItem& a : area) t += a.um2;
  return t;
}

EnergyModel build_energy_model(const HardwareConfig& hw, const TechLibrary& tech) {
  EnergyModel m;
  for (const EventMapEntry& e : event_map()) {
    double pj = 0;
    std::string how;
    for (const Term& t : e.terms) {
      const TechOp& op = op_of(tech, t.op);
      pj += op.energy_pj * t.times;
      how += std::string(how.empty() ? "" : " + ") + (t.times == 1 ? "" : fmt(t.times) + " x ") +
             t.op + " " + fmt(op.energy_pj) + " pJ (" + op.source + ")";
    }
    m.per_event[e.key] = {pj, std::string(e.why) + (how.empty() ? "" : ": " + how)};
  }
  // SRAMs: `banks` macros of capacity / banks each (sram_model.hpp).
  const hw::NmpParams& p = hw.params;
  const std::string fit_text = "SRAM model fitted to " + tech.sram_source;
  auto macro = [&](double bits, double width_bits, hw::PortConfig ports) {
    return sram_macro_cost(fit_sram_macros(tech.sram_macros, ports), bits, width_bits);
  };
  auto price_sram = [&](const hw::SramParams& s) {
    const double bank_bits = 8.0 * static_cast<double>(s.capacity_bytes) / s.banks;
    const SramMacroCost c = macro(bank_bits, s.width_bits, s.ports);
    const std::string what = fmt(bank_bits / 8192.0) + " KiB bank, " +
                             std::to_string(s.width_bits) + "-bit word, " + hw::to_string(s.ports) +
                             "; " + fit_text;
    m.per_event["sram." + s.name + ".read_word"] = {c.read_pj, what};
    m.per_event["sram." + s.name + ".write_word"] = {c.write_pj, what};
    m.area.push_back(
        {s.name, s.banks * c.area_um2,
         std::to_string(s.banks) + " banks x " + fmt(c.area_um2) + " um^2 (" + what + ")"});
    m.leakage.push_back(
        {s.name, s.banks * c.leakage_mw,
         std::to_string(s.banks) + " banks x " + fmt(c.leakage_mw) + " mW (" + what + ")"});
  };
  for (const hw::SramParams* s : {&p.weight_sram, &p.act_sram, &p.acc_sram}) price_sram(*s);
  const double imem_bits = 8.0 * static_cast<double>(p.controller.imem_bytes);
  const SramMacroCost imem = macro(imem_bits, isa::kInstrBits, hw::PortConfig::kOneRw);
  const std::string imem_what = "one " + fmt(imem_bits / 8192.0) + " KiB bank of " +
                                std::to_string(isa::kInstrBits) + "-bit words; " + fit_text;
  m.per_event["ctrl.instruction"] = {imem.read_pj, "one read: " + imem_what};
  for (auto& [key, price] : dram_prices(hw.params.dram, tech.dram_pj_per_bit)) {
    m.per_event[key] = price;
  }
  m.leakage_mw_per_mm2 = tech.leakage_mw_per_mm2.value;
  m.leakage_source = tech.leakage_mw_per_mm2.source;
  m.leakage.push_back({"imem", imem.leakage_mw, imem_what});

  // Area.
  m.area.push_back(mac_array_area(p.mac_array, tech));
  m.area.push_back({"imem", imem.area_um2, imem_what});
  const double lane = area_of(tech, "int32_mult") + 2 * area_of(tech, "int32_add");
  m.area.push_back({"vector_unit", p.vector_unit.lanes * lane,
                    std::to_string(p.vector_unit.lanes) + " lanes of an int32 multiplier and two "
                                                          "int32 adders (rounding, comparison)"});
  const double reg_bit = tech.register_bit_area_um2.value;
  m.area.push_back({"controller_registers", isa::kNumRegs * 64 * reg_bit,
                    "16 x 64-bit registers of " + fmt(reg_bit) + " um^2 per bit (" +
                        tech.register_bit_area_um2.source + ")",
                    isa::kNumRegs * 64.0});
  double bits = 0;
  for (const AreaItem& a : m.area) bits += a.register_bits;
  m.clock_pj_per_cycle = bits * tech.register_bit_pj_per_cycle.value;
  m.clock_source = fmt(bits) + " register bits (MAC array, controller registers) x " +
                   fmt(tech.register_bit_pj_per_cycle.value) + " pJ per bit and cycle (" +
                   tech.register_bit_pj_per_cycle.source + "), every cycle";
  m.area_not_modelled = {"controller decode and scoreboard logic", "dma engine",
                         "unit command queues", "wiring and clock tree"};

  const std::set<std::string> used = referenced_primitives();
  for (const auto& [name, op] : tech.ops) {
    if (!used.count(name) && !op.optional) {
      throw ConfigError(op.origin.empty() ? tech.file : op.origin, "/ops/" + name,
                        "not used by the simulator's energy or area model; mark it "
                        "\"optional\": true or remove it");
    }
  }
  return m;
}

std::string event_map_markdown() {
  std::ostringstream out;
  out << "| energy key | priced as | why |\n|---|---|---|\n";
  for (const EventMapEntry& e : event_map()) {
    std::string priced;
    for (const Term& t : e.terms) {
      if (!priced.empty()) priced += " + ";
      priced += (t.times == 1 ? "" : fmt(t.times) + " x ") + "`" + t.op + "`";
    }
    out << "| `" << e.key << "` | " << (priced.empty() ? "0" : priced) << " | " << e.why << " |\n";
  }
  return out.str();
}

workloads::MapperCosts mapper_costs(const EnergyModel& energy, const HardwareConfig& hw) {
  const hw::NmpParams& p = hw.params;
  auto price = [&](const std::string& key) {
    const auto it = energy.per_event.find(key);
    return it == energy.per_event.end() ? 0.0 : it->second.pj;
  };
  workloads::MapperCosts c;
  c.dram_pj_per_byte = price("dram.read_byte");
  c.mac_pj = price(hw::mac_energy_key(p.mac_array));
  // mW over MHz is nJ per cycle.
  c.static_pj_per_cycle = energy.leakage_mw() * 1e3 / p.clock_mhz + energy.clock_pj_per_cycle;
  if (!p.dram.simple) {
    const hw::DramOrganization& o = p.dram.device.org;
    const double row_bytes = static_cast<double>(o.columns) * o.bus_width_bits / 8;
    c.dram_pj_per_byte += price("dram.rd") / static_cast<double>(p.dram.device.burst_bytes()) +
                          price("dram.act") / row_bytes;
    const double dram_cycles_per_cycle = static_cast<double>(p.dram.device.timing.clock_khz) /
                                         static_cast<double>(p.dram.accelerator_clock_khz);
    c.static_pj_per_cycle +=
        price("dram.active_cycle") * o.channels * o.ranks * dram_cycles_per_cycle;
  }
  return c;
}

}  // namespace nmp::sim
