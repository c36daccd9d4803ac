#include "sim/config.hpp"

#include "hw_models/arith/vector_math.hpp"
#include "sim/input_limits.hpp"
#include "sim/npy.hpp"
#include "sim/safetensors.hpp"
#include "sim/sram_model.hpp"
#include "workloads/layer_fields.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

namespace nmp::sim {
namespace {

constexpr uint64_t kKiB = 1024;

const std::vector<std::string> kRoots = {"hw", "tech", "workload"};

// Refuses a --set path that steps into an array past its end (which nlohmann would grow to
// the index: a path with index 2^31 asks for billions of nulls). Index == size appends. Where
// the path leaves the document, what it creates must be objects: nlohmann would make a missing
// parent of a number token an array of that many elements (found by fuzz_set).
void check_array_indices(const Json& doc, const SetOption& s) {
  const Json* at = &doc;
  bool inside = true;  // the path so far exists in the document
  std::string walked;
  size_t start = 1;
  while (start <= s.pointer.size()) {
    const size_t slash = s.pointer.find('/', start);
    const std::string token = unescape_pointer_token(
        s.pointer.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (!inside) {
      if (!token.empty() &&
          (token == "-" || token.find_first_not_of("0123456789") == std::string::npos)) {
        throw ConfigError("--set " + s.text, walked,
                          "does not exist, so it cannot be indexed: a path may create objects "
                          "(field names), not arrays (got index \"" +
                              token + "\")");
      }
    } else if (at->is_array()) {
      const bool digits = !token.empty() && token.size() <= 10 &&
                          token.find_first_not_of("0123456789") == std::string::npos;
      if (!digits || std::stoull(token) > at->size()) {
        throw ConfigError("--set " + s.text, walked,
                          "expected an array index in [0, " + std::to_string(at->size()) + "] (" +
                              std::to_string(at->size()) + " appends), got \"" + token + "\"");
      }
      const size_t i = std::stoull(token);
      at = i < at->size() ? &(*at)[i] : nullptr;
    } else if (at->is_object()) {
      const auto it = at->find(token);
      at = it == at->end() ? nullptr : &*it;
    } else {
      break;  // a value that is not a container: setting under it fails (apply_sets says so)
    }
    inside = at != nullptr;
    walked += "/" + escape_pointer_token(token);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
}

// Applies the --set options of one root to a document, marking their pointers.
Document make_document(const Json& json, const std::string& file, const std::string& root,
                       const std::vector<SetOption>& sets) {
  Json patched = json;
  std::vector<std::pair<std::string, std::string>> marks;
  for (const SetOption& s : sets) {
    if (s.root != root) continue;
    check_array_indices(patched, s);
    // Errors inside what the option creates name it: the value, and the first parent of it
    // that the document did not have.
    std::string created = s.pointer;
    for (size_t slash = s.pointer.find('/', 1); slash != std::string::npos;
         slash = s.pointer.find('/', slash + 1)) {
      if (!patched.contains(Json::json_pointer(s.pointer.substr(0, slash)))) {
        created = s.pointer.substr(0, slash);
        break;
      }
    }
    try {
      patched[Json::json_pointer(s.pointer)] = s.value;
    } catch (const Json::exception&) {
      throw ConfigError("--set " + s.text, s.pointer,
                        "cannot set this path: a parent of it is not an object");
    }
    marks.emplace_back(created, "--set " + s.text);
  }
  Document doc(file, std::move(patched));
  for (const auto& [pointer, text] : marks) doc.mark_override(pointer, text);
  return doc;
}

// The names of enum E's values 0 .. count - 1, from its own to_string: a reader matches names
// by position, so the list must come from the enum, or reordering it would map a name to
// another value.
template <class E>
std::vector<std::string> names_of(size_t count) {
  std::vector<std::string> names;
  for (size_t i = 0; i < count; ++i) names.emplace_back(to_string(static_cast<E>(i)));
  return names;
}

// An enum field of `r` by E's own names (`count` of them), `current` its default.
template <class E>
E enum_field(ObjectReader& r, std::string_view key, E current, size_t count, std::string_view doc) {
  return static_cast<E>(r.choice(key, static_cast<size_t>(current), names_of<E>(count), doc));
}

const std::vector<std::string> kSramPorts = names_of<hw::PortConfig>(hw::kNumPortConfigs);

hw::SramParams read_sram(ObjectReader& r, hw::SramParams p, std::string_view what) {
  p.capacity_bytes = kKiB * r.u64("capacity_kib", p.capacity_bytes / kKiB, 1, uint64_t{1} << 22,
                                  "KiB", std::string(what) + " capacity");
  p.banks = r.u32("banks", p.banks, 1, 1024, "banks", "banks, word-interleaved");
  p.width_bits = r.u32("width_bits", p.width_bits, 8, 8192, "bits", "bits per bank word");
  if (p.width_bits % 8 != 0) {
    r.error("width_bits", "expected a multiple of 8, got " + std::to_string(p.width_bits));
    p.width_bits = 8;
  }
  p.ports = static_cast<hw::PortConfig>(
      r.choice("ports", static_cast<size_t>(p.ports), kSramPorts,
               "ports per bank: 1rw (one shared), 1r1w (one read, one write), 2rw (two shared)"));
  return p;
}

// The memory system: the simple channel, or a standard's preset with every field overridable.
void read_dram(ObjectReader& r, hw::NmpParams& p) {
  std::vector<std::string> standards = {"simple"};
  for (const std::string& n : hw::dram_standard_names()) standards.push_back(n);
  const size_t standard =
      r.choice("standard", 0, standards,
               "simple (bandwidth, latency, bursts: closed-form studies) or a DRAM device "
               "(docs/architecture.md#dram)");
  hw::DramParams& d = p.dram;
  d.simple = standard == 0;
  if (d.simple) {
    d.bytes_per_cycle = r.u32("bytes_per_cycle", d.bytes_per_cycle, 1, 65536, "bytes/cycle",
                              "simple: channel bandwidth");
    d.latency_cycles = r.u32("latency_cycles", d.latency_cycles, 0, 1000000, "cycles",
                             "simple: first request to first data");
    d.burst_bytes =
        r.u32("burst_bytes", d.burst_bytes, 1, 65536, "bytes", "simple: bytes per burst");
    return;
  }
  for (const char* simple_only : {"bytes_per_cycle", "latency_cycles", "burst_bytes"}) {
    if (r.has(simple_only)) {
      (void)r.raw(simple_only);
      r.error(simple_only,
              "describes the simple channel; a DRAM standard's bandwidth and "
              "latency follow from its organization and timing");
    }
  }
  d.device = hw::dram_preset(standards[standard]);
  hw::DramOrganization& o = d.device.org;
  o.channels = r.u32("channels", o.channels, 1, 1024, "channels", "independent channels");
  o.ranks = r.u32("ranks", o.ranks, 1, 16, "ranks", "ranks per channel");
  o.bank_groups = r.u32("bank_groups", o.bank_groups, 1, 64, "groups", "bank groups per rank");
  o.banks_per_group =
      r.u32("banks_per_group", o.banks_per_group, 1, 64, "banks", "banks per group");
  o.rows = r.u32("rows", o.rows, 1, 1u << 24, "rows", "rows per bank");
  o.columns = r.u32("columns", o.columns, 1, 1u << 16, "words", "columns per row (device words)");
  o.device_width_bits =
      r.u32("device_width_bits", o.device_width_bits, 1, 1024, "bits", "data bits of one device");
  o.bus_width_bits = r.u32("bus_width_bits", o.bus_width_bits, 8, 4096, "bits",
                           "data bits of one channel (devices per rank = bus / device width)");
  o.burst_length = r.u32("burst_length", o.burst_length, 1, 64, "words", "words per column access");
  const std::string mapping = r.string("address_mapping", "ro,ra,ba,co,bg,ch",
                                       "address fields, most significant first: ch, ra, bg, ba, "
                                       "ro, co (co: the burst within a row)");
  try {
    d.mapping = hw::parse_dram_mapping(mapping);
  } catch (const std::invalid_argument& e) {
    r.error("address_mapping", e.what());
  }
  d.page_policy = static_cast<hw::PagePolicy>(
      r.choice("page_policy", 0, names_of<hw::PagePolicy>(hw::kNumPagePolicies),
               "open: rows stay open; closed: precharge once no queued request hits the row"));
  d.queue_depth = r.u32("queue_depth", d.queue_depth, 1, 4096, "requests",
                        "transaction queue entries per channel");
  ObjectReader t = r.object("timing", "timing overrides, in DRAM clock cycles");
  hw::DramTiming& tm = d.device.timing;
  const double clock_mhz = t.number("clock_mhz", static_cast<double>(tm.clock_khz) / 1000, 1,
                                    100000, "MHz", "command clock (DDR: half the data rate)");
  tm.clock_khz = static_cast<uint64_t>(std::llround(1000 * clock_mhz));
  if (std::fabs(1000 * clock_mhz - static_cast<double>(tm.clock_khz)) > 1e-6) {
    t.error("clock_mhz",
            "expected a whole number of kHz (the DRAM and accelerator clocks convert "
            "exactly), got " +
                std::to_string(clock_mhz) + " MHz");
  }
  struct Field {
    const char* name;
    uint32_t* value;
    const char* doc;
  };
  const Field fields[] = {{"burst_cycles", &tm.burst_cycles, "data-bus cycles of a burst"},
                          {"cl", &tm.cl, "RD to data"},
                          {"cwl", &tm.cwl, "WR to data"},
                          {"rcd_rd", &tm.rcd_rd, "ACT to RD"},
                          {"rcd_wr", &tm.rcd_wr, "ACT to WR"},
                          {"rp", &tm.rp, "PRE to ACT"},
                          {"ras", &tm.ras, "ACT to PRE"},
                          {"rc", &tm.rc, "ACT to ACT, same bank"},
                          {"rrd_s", &tm.rrd_s, "ACT to ACT, other bank group"},
                          {"rrd_l", &tm.rrd_l, "ACT to ACT, same bank group"},
                          {"faw", &tm.faw, "window of at most four ACTs"},
                          {"ccd_s", &tm.ccd_s, "column to column, other bank group"},
                          {"ccd_l", &tm.ccd_l, "column to column, same bank group"},
                          {"wtr_s", &tm.wtr_s, "write data to RD, other bank group"},
                          {"wtr_l", &tm.wtr_l, "write data to RD, same bank group"},
                          {"wr", &tm.wr, "write recovery: write data to PRE"},
                          {"rtp", &tm.rtp, "RD to PRE"},
                          {"rfc", &tm.rfc, "refresh cycle time"},
                          {"refi", &tm.refi, "refresh interval"},
                          {"rtrs", &tm.rtrs, "data-bus rank switch"}};
  for (const Field& f : fields) *f.value = t.u32(f.name, *f.value, 0, 1u << 24, "cycles", f.doc);
  t.finish();
  ObjectReader pw = r.object("power", "datasheet currents of one device (IDD method)");
  hw::DramCurrents& c = d.device.power;
  c.vdd = pw.number("vdd", c.vdd, 0.1, 5, "V", "core supply");
  for (const auto& [name, value] : {std::pair<const char*, double*>{"idd0", &c.idd0},
                                    {"idd2n", &c.idd2n},
                                    {"idd3n", &c.idd3n},
                                    {"idd4r", &c.idd4r},
                                    {"idd4w", &c.idd4w},
                                    {"idd5", &c.idd5}}) {
    *value = pw.number(name, *value, 0, 1e5, "mA", "IDD current of one device");
  }
  c.io_pj_per_bit =
      pw.number("io_pj_per_bit", c.io_pj_per_bit, 0, 1e4, "pJ/bit", "I/O and termination energy");
  const bool currents_set = pw.has("vdd") || pw.has("idd0") || pw.has("idd2n") || pw.has("idd3n") ||
                            pw.has("idd4r") || pw.has("idd4w") || pw.has("idd5");
  c.source = pw.string("source", currents_set ? "" : c.source,
                       "where the currents come from (required when any is set)");
  if (currents_set && !pw.has("source")) pw.error("source", "name where the currents come from");
  if (pw.has("io_pj_per_bit")) {
    c.io_source = pw.string("io_source", "", "where the I/O figure comes from");
    if (c.io_source.empty()) pw.error("io_source", "name where the I/O figure comes from");
  } else {
    (void)pw.string("io_source", c.io_source, "where the I/O figure comes from");
  }
  pw.finish();
  for (const std::string& problem : hw::validate_dram(d.device)) r.error("", problem);
}

}  // namespace

std::vector<SetOption> parse_set_options(const std::vector<std::string>& options) {
  std::vector<SetOption> out;
  for (const std::string& text : options) {
    // Option text ends up in JSON (reports, sweep databases): it must be valid UTF-8.
    try {
      (void)Json(text).dump();
    } catch (const Json::type_error&) {
      throw ConfigError("--set", "", "an option is not valid UTF-8 text");
    }
    const size_t eq = text.find('=');
    const size_t dot = text.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
      throw ConfigError("--set " + text, "",
                        "expected root.path.to.field=value with root hw, tech or workload");
    }
    SetOption s;
    s.text = text;
    s.root = text.substr(0, dot);
    if (std::find(kRoots.begin(), kRoots.end(), s.root) == kRoots.end()) {
      throw ConfigError("--set " + text, "",
                        "unknown root '" + s.root + "': expected hw, tech or workload");
    }
    const std::string path = text.substr(dot + 1, eq - dot - 1);
    if (path.empty()) throw ConfigError("--set " + text, "", "empty field path");
    size_t start = 0;
    while (start <= path.size()) {
      const size_t next = path.find('.', start);
      const std::string token = path.substr(start, next - start);
      if (token.empty()) throw ConfigError("--set " + text, "", "empty component in field path");
      s.pointer += "/" + escape_pointer_token(token);
      if (next == std::string::npos) break;
      start = next + 1;
    }
    const std::string value = text.substr(eq + 1);
    // A bare word (2rw, 1.6bit, fp16) is a string; arrays, objects, quoted strings and numbers
    // must be valid JSON.
    const bool json_like =
        !value.empty() && (std::string("[{\"").find(value[0]) != std::string::npos ||
                           value.find_first_not_of("0123456789+-.eE") == std::string::npos);
    try {
      s.value = parse_json_text(value, "--set " + text);
    } catch (const ConfigError&) {
      if (json_like) throw;
      s.value = value;
    }
    out.push_back(std::move(s));
  }
  return out;
}

HardwareConfig parse_hardware(const Json& json, const std::string& file,
                              const std::vector<SetOption>& sets) {
  Document doc = make_document(json, file, "hw", sets);
  ObjectReader root = doc.root();
  HardwareConfig cfg;
  cfg.file = file;
  hw::NmpParams& p = cfg.params;
  cfg.name = root.string_required("name", "name of this hardware variant");
  p.clock_mhz = root.number("clock_mhz", p.clock_mhz, 1.0, 100000.0, "MHz", "clock frequency");

  ObjectReader ctrl = root.object("controller", "instruction issue");
  p.controller.queue_depth = ctrl.u32("queue_depth", p.controller.queue_depth, 1, 1024, "entries",
                                      "depth of each unit's command queue");
  p.controller.branch_penalty_cycles =
      ctrl.u32("branch_penalty_cycles", p.controller.branch_penalty_cycles, 0, 64, "cycles",
               "bubble after a taken branch");
  p.controller.imem_bytes =
      kKiB * ctrl.u64("imem_kib", p.controller.imem_bytes / kKiB, 1, uint64_t{1} << 20, "KiB",
                      "instruction memory capacity (16 bytes per instruction)");
  ctrl.finish();

  ObjectReader mac = root.object_required("mac_array", "the MAC array");
  p.mac_array.rows = mac.u32_required("rows", 1, 4096, "PEs", "R: inputs reduced per cycle");
  p.mac_array.cols = mac.u32_required("cols", 1, 4096, "PEs", "C: outputs per cycle");
  p.mac_array.dataflow = static_cast<hw::Dataflow>(
      mac.choice("dataflow", static_cast<size_t>(p.mac_array.dataflow),
                 names_of<hw::Dataflow>(hw::kNumDataflows),
                 "how GEMM dimensions map onto the array (docs/architecture.md#mac-array)"));
  p.mac_array.pe = static_cast<hw::PeKind>(
      mac.choice("pe", static_cast<size_t>(p.mac_array.pe), names_of<hw::PeKind>(hw::kNumPeKinds),
                 "processing element kind: operand formats and accumulator (hw_models/pe.hpp)"));
  p.mac_array.weight_preload_overlap =
      mac.boolean("weight_preload_overlap", p.mac_array.weight_preload_overlap,
                  "fill the stationary registers for the next fold while the current one computes");
  p.mac_array.fold_timing = static_cast<hw::FoldTiming>(mac.choice(
      "fold_timing", static_cast<size_t>(p.mac_array.fold_timing),
      names_of<hw::FoldTiming>(hw::kNumFoldTimings),
      "time partial folds by the rows and columns they use, or by the whole array (SCALE-Sim)"));
  p.mac_array.float_accumulation = static_cast<hw::FloatAccumulation>(mac.choice(
      "float_accumulation", static_cast<size_t>(p.mac_array.float_accumulation),
      names_of<hw::FloatAccumulation>(hw::kNumFloatAccumulations),
      "fp16, bf16, fp8 PEs: accumulate in fp32, or in the PE's own format (every product and "
      "add rounded to it: BitNet b1.58's FP16 MAC accounting)"));
  mac.finish();

  ObjectReader wsram = root.object_required("weight_sram", "weight SRAM");
  p.weight_sram = read_sram(wsram, p.weight_sram, "weight SRAM");
  p.mac_array.packing = static_cast<arith::TernaryPacking>(
      wsram.choice("packing", static_cast<size_t>(p.mac_array.packing),
                   names_of<arith::TernaryPacking>(arith::kNumTernaryPackings),
                   "ternary weight packing: 4 per byte, or 5 per byte (base 3)"));
  wsram.finish();
  ObjectReader asram = root.object_required("act_sram", "activation SRAM");
  p.act_sram = read_sram(asram, p.act_sram, "activation SRAM");
  asram.finish();
  ObjectReader acc = root.object("acc_sram", "accumulator SRAM");
  p.acc_sram = read_sram(acc, p.acc_sram, "accumulator SRAM");
  if (p.acc_sram.ports == hw::PortConfig::kOneRw) {
    acc.error("ports",
              "the accumulator SRAM needs a read and a write each cycle: expected 1r1w "
              "or 2rw, got \"1rw\"");
  }
  acc.finish();

  ObjectReader vec = root.object("vector_unit", "the vector unit");
  p.vector_unit.lanes = vec.u32("lanes", p.vector_unit.lanes, 1, 4096, "lanes", "int32 lanes");
  p.vector_unit.pipeline_depth_cycles =
      vec.u32("pipeline_depth_cycles", p.vector_unit.pipeline_depth_cycles, 0, 256, "cycles",
              "pipeline depth (a bubble per requantized row)");
  arith::VectorMathSpec& math = p.vector_unit.math;
  math.format = vec.string("format", math.format,
                           "internal format of the vector commands: fp32, fp16, bf16, "
                           "posit<N,ES>, fixed<I,F>, ... (docs/formats.md); a graph's tensors "
                           "in DRAM are in dram.activation_format, by default this one");
  math.pwl_segments = vec.u32("pwl_segments", math.pwl_segments, 1, 65536, "segments",
                              "segments of each function's PWL table (a power of two)");
  math.pwl_frac_bits =
      static_cast<int>(vec.u32("pwl_frac_bits", static_cast<uint32_t>(math.pwl_frac_bits), 4, 20,
                               "bits", "fraction bits of the PWL tables' inputs and outputs"));
  math.accumulator_format = vec.string(
      "accumulator_format", "",
      "format of the reductions (sums of softmax, rmsnorm, means) until their one rounding to "
      "`format`; empty: fp32 for float formats, posit<32,ES> for posit<N,ES>, fixed<32-F,F> for "
      "fixed<I,F> (docs/formats.md#vector-functions)");
  vec.describe_default("accumulator_format", "by `format`");
  try {
    arith::make_format(math.format);
  } catch (const std::invalid_argument& e) {
    vec.error("format", e.what());
  }
  if (!math.accumulator_format.empty()) {
    try {
      arith::make_format(math.accumulator_format);
    } catch (const std::invalid_argument& e) {
      vec.error("accumulator_format", e.what());
    }
  }
  if ((math.pwl_segments & (math.pwl_segments - 1)) != 0 ||
      math.pwl_segments > (1u << math.pwl_frac_bits)) {
    vec.error("pwl_segments",
              "expected a power of two, at most 2^pwl_frac_bits (the narrowest "
              "table spans 1: its segments must be whole grid steps), got " +
                  std::to_string(math.pwl_segments));
  }
  vec.finish();

  ObjectReader dram = root.object("dram", "off-chip DRAM");
  read_dram(dram, p);
  p.dram.activation_format = dram.string(
      "activation_format", "",
      "format of a graph model's activation tensors in DRAM: bf16, fp16, fp8_e4m3, "
      "fixed<I,F> (8 bits: int8 with a fixed scale), posit<N,ES>, ... (docs/formats.md); the DMA "
      "converts each element to and from the vector format on the way "
      "(docs/architecture.md#lowering-graph-models); empty: the vector format, no conversion");
  dram.describe_default("activation_format", "vector_unit.format");
  if (!p.dram.activation_format.empty()) {
    try {
      arith::make_format(p.dram.activation_format);
    } catch (const std::invalid_argument& e) {
      dram.error("activation_format", e.what());
    }
  } else {
    p.dram.activation_format = math.format;
  }
  dram.finish();

  const std::string tech = root.string("technology", "../tech/45nm.json",
                                       "technology library, relative to this file's folder");
  p.dram.accelerator_clock_khz = static_cast<uint64_t>(std::llround(p.clock_mhz * 1000));
  if (!p.dram.simple &&
      std::fabs(p.clock_mhz * 1000 - static_cast<double>(p.dram.accelerator_clock_khz)) > 1e-6) {
    root.error("clock_mhz",
               "with a DRAM standard the clock must be a whole number of kHz (DRAM cycles convert "
               "to accelerator cycles exactly)");
  }
  cfg.technology_path = path_beside(file, tech);
  if (!is_regular_file(cfg.technology_path)) {
    root.error("technology", "no technology library at " + cfg.technology_path);
  }
  root.finish();
  doc.throw_if_errors();

  cfg.resolved = doc.resolved();
  cfg.fields = doc.take_fields();
  return cfg;
}

namespace {

// A library scaled to another node by the documented rule (docs/energy-model.md): energies by
// (node / base node)^energy_exponent, areas by (node / base node)^area_exponent; DRAM energy
// (off chip), leakage and ratios unchanged.
TechLibrary scaled_library(const TechLibrary& base, double node_nm, double energy_exponent,
                           double area_exponent) {
  const double e = std::pow(node_nm / base.node_nm, energy_exponent);
  const double a = std::pow(node_nm / base.node_nm, area_exponent);
  const std::string rule = "scaled from " + base.name + " by the node rule (energy x " +
                           std::to_string(e).substr(0, 5) + ", area x " +
                           std::to_string(a).substr(0, 5) + "): ";
  TechLibrary t = base;
  for (auto& [name, op] : t.ops) {
    op.energy_pj *= e;
    op.area_um2 *= a;
    op.source = rule + op.source;
    op.optional = true;  // inherited entries may go unused
  }
  for (SramMacroPoint& p : t.sram_macros) {
    p.read_pj *= e;
    p.write_pj *= e;
    p.area_um2 *= a;
    p.leakage_mw *= a;
  }
  t.sram_source = rule + "leakage x the area factor (assumption: leakage per area as at " +
                  base.name + "); " + t.sram_source;
  t.register_bit_area_um2 = {t.register_bit_area_um2.value * a,
                             rule + t.register_bit_area_um2.source};
  t.dram_pj_per_bit.source =
      "as " + base.name +
      " (off-chip: the logic node does not change it): " + t.dram_pj_per_bit.source;
  t.register_bit_pj_per_cycle = {t.register_bit_pj_per_cycle.value * e,
                                 rule + t.register_bit_pj_per_cycle.source};
  return t;
}

}  // namespace

TechLibrary parse_technology(const Json& json, const std::string& file,
                             const std::vector<SetOption>& sets) {
  Document doc = make_document(json, file, "tech", sets);
  ObjectReader root = doc.root();
  TechLibrary t;
  const std::string name = root.string_required("name", "name of the library");
  const double node_nm = root.number_required("node_nm", 1, 1000, "nm", "process node");
  const double voltage_v =
      root.number_required("voltage_v", 0.1, 5, "V", "supply voltage of the figures");
  // Entries this file leaves out come from another library scaled to this node.
  bool derived = false;
  if (root.has("scaled_from")) {
    ObjectReader sf = root.object("scaled_from", "scale a base library's entries to this node");
    const std::string base_file =
        sf.string_required("library", "base library, relative to this file");
    const double ee = sf.number_required("energy_exponent", 0, 4, "",
                                         "energy x (node / base node)^energy_exponent");
    const double ae =
        sf.number_required("area_exponent", 0, 4, "", "area x (node / base node)^area_exponent");
    sf.string_required("source", "where the exponents come from");
    sf.finish();
    const std::filesystem::path base_path = path_beside(file, base_file);
    if (!path_exists(base_path)) {
      sf.error("library", "cannot open " + base_path.string());
    } else if (!doc.has_errors()) {
      t = scaled_library(load_technology(base_path.string(), {}), node_nm, ee, ae);
      derived = true;
    }
  }
  t.file = file;
  t.name = name;
  t.node_nm = node_nm;
  t.voltage_v = voltage_v;

  ObjectReader ops = derived ? root.object("ops", "primitive operations, by name")
                             : root.object_required("ops", "primitive operations, by name");
  for (const std::string& op_name : ops.keys()) {
    ObjectReader op = ops.object(op_name, "one primitive operation");
    const auto inherited = t.ops.find(op_name);
    const bool inherits = inherited != t.ops.end();
    TechOp o;
    // An entry of a scaled library may give only an area (or only an energy) of its own.
    o.energy_pj = inherits ? op.number("energy_pj", inherited->second.energy_pj, 0, 1e6, "pJ",
                                       "energy per operation")
                           : op.number_required("energy_pj", 0, 1e6, "pJ", "energy per operation");
    o.has_area = op.has("area_um2") || (inherits && inherited->second.has_area);
    const double area_default = inherits ? inherited->second.area_um2 : 0.0;
    o.area_um2 = op.number("area_um2", area_default, 0, 1e9, "um^2", "area of one unit");
    o.optional = op.boolean("optional", inherits && inherited->second.optional,
                            "may go unused by the simulator");
    o.source = op.string_required("source", "where the figures come from");
    if (inherits && !op.has("energy_pj")) o.source += "; energy: " + inherited->second.source;
    if (inherits && !op.has("area_um2")) o.source += "; area: " + inherited->second.source;
    const std::string pointer = ops.pointer() + "/" + op_name;
    for (const char* field : {"/energy_pj", "/area_um2"}) {
      const std::string by = doc.override_of(pointer + field);
      if (!by.empty() && doc.override_of(pointer + "/source").empty()) {
        o.source = std::string(field + 1) + " overridden by " + by +
                   " (the file's source: " + o.source + ")";
      }
    }
    const std::string by_set = doc.override_of(pointer);
    o.origin = by_set.empty() ? file : by_set;
    op.finish();
    t.ops[op_name] = o;
  }
  ops.finish();

  auto sourced = [&doc, derived](ObjectReader& r, std::string_view key, double min, double max,
                                 std::string_view unit, std::string_view doc_text,
                                 SourcedValue& out, bool optional = false) {
    if ((derived || optional) && !r.has(key)) return;
    ObjectReader o = r.object_required(key, doc_text);
    out.value = o.number_required("value", min, max, unit, doc_text);
    out.source = o.string_required("source", "where the figure comes from");
    const std::string by = doc.override_of(o.pointer() + "/value");
    if (!by.empty() && doc.override_of(o.pointer() + "/source").empty()) {
      out.source = "overridden by " + by + " (the file's source: " + out.source + ")";
    }
    o.finish();
  };
  sourced(root, "dram_pj_per_bit", 0, 1e4, "pJ/bit", "DRAM energy per bit", t.dram_pj_per_bit);

  if (!derived || root.has("sram")) {
    ObjectReader sram = root.object_required("sram", "SRAM macro model");
    t.sram_macros.clear();
    for (ObjectReader& pt : sram.objects_required("macros", 1, "macro points of the fit")) {
      SramMacroPoint p;
      p.capacity_kib = pt.number_required("capacity_kib", 0.001, 1e7, "KiB", "macro capacity");
      p.width_bits = pt.number_required("width_bits", 1, 1e5, "bits", "access width");
      p.ports = static_cast<hw::PortConfig>(pt.choice("ports", 0, kSramPorts, "the macro's ports"));
      p.read_pj = pt.number_required("read_pj", 1e-6, 1e6, "pJ", "energy per read");
      p.write_pj = pt.number_required("write_pj", 1e-6, 1e6, "pJ", "energy per write");
      p.leakage_mw = pt.number_required("leakage_mw", 0, 1e6, "mW", "leakage power");
      p.area_um2 = pt.number_required("area_um2", 1e-3, 1e10, "um^2", "macro area");
      pt.finish();
      t.sram_macros.push_back(p);
    }
    t.sram_source = sram.string_required("source", "where the macro points come from");
    sram.finish();
  }
  sourced(root, "register_bit_area_um2", 1e-3, 1e3, "um^2", "flip-flop area per bit",
          t.register_bit_area_um2);
  sourced(root, "leakage_mw_per_mm2", 0, 1e4, "mW/mm^2", "leakage power per area",
          t.leakage_mw_per_mm2);
  sourced(root, "register_bit_pj_per_cycle", 0, 1e3, "pJ/cycle",
          "energy of one register bit per clock cycle, its share of the clock tree included "
          "(absent: 0, not modelled)",
          t.register_bit_pj_per_cycle, true);
  root.finish();
  doc.throw_if_errors();
  // Checked once every point parses: the fit needs them all.
  if (const std::string why = sram_fit_problem(t.sram_macros); !why.empty()) {
    throw ConfigError(file, "/sram/macros", why);
  }
  t.resolved = technology_json(t);
  t.fields = doc.take_fields();
  return t;
}

namespace {

Json sram_fit_json(const SramMacroFit& f) {
  return {{"read_pj", "exp(" + std::to_string(f.read_log_c) + ") x bits^" +
                          std::to_string(f.read_bits_exp) + " x width^" +
                          std::to_string(f.read_width_exp)},
          {"write_pj", "exp(" + std::to_string(f.write_log_c) + ") x bits^" +
                           std::to_string(f.write_bits_exp) + " x width^" +
                           std::to_string(f.write_width_exp)},
          {"area_um2_per_bit", f.area_per_bit},
          {"area_um2_per_width_bit", f.area_per_width_bit},
          {"leakage_mw_per_bit", f.leakage_per_bit},
          {"leakage_mw_per_width_bit", f.leakage_per_width_bit},
          {"leakage_mw_per_macro", f.leakage_per_macro},
          {"points", f.points},
          {"rms_error",
           {{"read", f.read_rms},
            {"write", f.write_rms},
            {"area", f.area_rms},
            {"leakage", f.leakage_rms}}}};
}

}  // namespace

Json technology_json(const TechLibrary& t) {
  auto sourced = [](const SourcedValue& v) {
    return Json{{"value", v.value}, {"source", v.source}};
  };
  Json ops = Json::object();
  for (const auto& [name, op] : t.ops) {
    ops[name] = {{"energy_pj", op.energy_pj}, {"source", op.source}, {"optional", op.optional}};
    if (op.has_area) ops[name]["area_um2"] = op.area_um2;
  }
  Json sram = {{"source", t.sram_source}, {"points", t.sram_macros.size()}};
  for (const hw::PortConfig ports :
       {hw::PortConfig::kOneRw, hw::PortConfig::kOneROneW, hw::PortConfig::kTwoRw}) {
    sram["fit"][hw::to_string(ports)] = sram_fit_json(fit_sram_macros(t.sram_macros, ports));
  }
  return {{"name", t.name},
          {"file", t.file},
          {"node_nm", t.node_nm},
          {"voltage_v", t.voltage_v},
          {"ops", ops},
          {"dram_pj_per_bit", sourced(t.dram_pj_per_bit)},
          {"sram", sram},
          {"register_bit_area_um2", sourced(t.register_bit_area_um2)},
          {"register_bit_pj_per_cycle", sourced(t.register_bit_pj_per_cycle)},
          {"leakage_mw_per_mm2", sourced(t.leakage_mw_per_mm2)}};
}

namespace {

std::string shape_text(const std::vector<size_t>& shape) {
  std::string t;
  for (size_t d : shape) t += (t.empty() ? "" : ", ") + std::to_string(d);
  return "[" + t + "]";
}

// The values of a .npy file, or of one tensor of a safetensors file, which must have `shape`
// (`dims` names its dimensions in the message). Null after an error, recorded at `file`.
std::shared_ptr<const std::vector<float>> read_tensor_values(ObjectReader& r,
                                                             const std::string& path,
                                                             const std::string& tensor,
                                                             const std::vector<size_t>& shape,
                                                             const std::string& dims) {
  NpyArray a;
  try {
    a = tensor.empty() ? read_npy(path) : read_safetensors(path, tensor);
  } catch (const ConfigError& e) {
    r.error("file", e.what());
    return nullptr;
  }
  if (a.shape != shape) {
    r.error("file", path + (tensor.empty() ? "" : " (" + tensor + ")") + ": expected shape " +
                        shape_text(shape) + " (" + dims + "), got " + shape_text(a.shape));
    return nullptr;
  }
  return std::make_shared<const std::vector<float>>(std::move(a.values));
}

// The shape a tensor source must have when its values come from a file; no dims: it cannot
// come from a file of its own, and `names` says where it comes from instead.
struct TensorShape {
  std::vector<size_t> dims;
  std::string names;  // e.g. "out_features, in_features"
};

// A tensor's values: a seeded distribution (fields default to `s`'s), or a .npy file, or one
// tensor of a safetensors file, of the given shape. A bitlinear layer's weights from a file may
// be ternary already (`prequantized`, with gamma = `scale`).
workloads::TensorSource read_source(ObjectReader&& r, workloads::TensorSource s,
                                    const std::string& workload_file, const TensorShape& shape,
                                    const workloads::LayerSpec* linear = nullptr) {
  if (!r.has("file")) {
    s.distribution = static_cast<workloads::Distribution>(
        r.choice("distribution", static_cast<size_t>(s.distribution),
                 names_of<workloads::Distribution>(workloads::kNumDistributions),
                 "seeded distribution of the float32 values"));
    s.mean = r.number("mean", s.mean, -1e6, 1e6, "", "normal: mean");
    s.std = r.number("std", s.std, 0, 1e6, "", "normal: standard deviation");
    s.low = r.number("low", s.low, -1e6, 1e6, "", "uniform: lower bound");
    s.high = r.number("high", s.high, -1e6, 1e6, "", "uniform: upper bound");
    s.seed = r.u64("seed", s.seed, 0, UINT64_MAX, "", "random seed");
    if (s.distribution == workloads::Distribution::kUniform && !(s.low < s.high)) {
      r.error("high", "expected high > low");
    }
    r.finish();
    return s;
  }
  const std::string name =
      r.string_required("file", ".npy or .safetensors file, relative to the workload file");
  if (shape.dims.empty()) {
    r.error("file", shape.names);
    return s;
  }
  const std::string tensor = r.string("tensor", "", "safetensors: the tensor's name");
  if (linear) {
    s.prequantized = r.boolean("prequantized", false,
                               "bitlinear: the file holds ternary weights (-1, 0, +1), deployed "
                               "as they are with gamma = scale, not quantized on load");
    s.scale = static_cast<float>(
        r.number("scale", 1.0, 0, 1e30, "", "bitlinear, prequantized: gamma, the weights' scale"));
    if (s.prequantized && linear->kind != workloads::LayerKind::kBitLinear) {
      r.error("prequantized", "only bitlinear layers have ternary weights");
    }
  }
  const std::string path = path_beside(workload_file, name);
  const bool safetensors = std::filesystem::path(path).extension() == ".safetensors";
  if (safetensors && tensor.empty()) r.error("tensor", "required for a .safetensors file");
  if (!safetensors && !tensor.empty()) r.error("tensor", "only a .safetensors file has tensors");
  r.finish();
  if (safetensors == tensor.empty()) return s;
  s.values = read_tensor_values(r, path, tensor, shape.dims, shape.names);
  if (s.values && s.prequantized) {
    for (size_t i = 0; i < s.values->size(); ++i) {
      const float v = (*s.values)[i];
      if (v != -1.0f && v != 0.0f && v != 1.0f) {
        r.error("file", path + ": prequantized ternary weights must be -1, 0 or +1; " +
                            "element [" + std::to_string(i / linear->in_features) + ", " +
                            std::to_string(i % linear->in_features) + "] is " + std::to_string(v));
        break;
      }
    }
  }
  return s;
}

// A recurrent layer's weights and biases from a safetensors file, named as PyTorch's nn.LSTM
// and nn.GRU name them: {prefix}weight_ih_l{layer}, weight_hh, bias_ih, bias_hh, and for the
// backward direction the same with "_reverse". Stored as the sources' values: W then U per
// direction (weights), b_ih then b_hh per direction (biases).
void read_recurrent_file(ObjectReader&& r, const std::string& workload_file,
                         workloads::LayerSpec& spec) {
  const std::string name = r.string_required(
      "file", ".safetensors file with PyTorch's names, relative to the workload file");
  const std::string prefix =
      r.string("prefix", "", "lstm, gru: the module's prefix of the tensor names, e.g. \"rnn.\"");
  const uint32_t layer = r.u32("layer", 0, 0, 1023, "", "lstm, gru: PyTorch's layer index l");
  const std::string path = path_beside(workload_file, name);
  if (std::filesystem::path(path).extension() != ".safetensors") {
    r.error("file",
            "lstm and gru weights come from a .safetensors file (their four tensors "
            "per direction by PyTorch's names)");
  }
  r.finish();
  if (std::filesystem::path(path).extension() != ".safetensors") return;
  const size_t rows = size_t{spec.gates()} * spec.hidden;
  const std::string gates = spec.kind == workloads::LayerKind::kLstm ? "4" : "3";
  auto weights = std::make_shared<std::vector<float>>();
  auto biases = std::make_shared<std::vector<float>>();
  for (uint32_t d = 0; d < spec.directions(); ++d) {
    const std::string suffix = "_l" + std::to_string(layer) + (d == 1 ? "_reverse" : "");
    const struct {
      const char* stem;
      std::vector<size_t> shape;
      std::string dims;
      std::vector<float>* into;
    } parts[] = {
        {"weight_ih", {rows, spec.in_features}, gates + " x hidden, in_features", weights.get()},
        {"weight_hh", {rows, spec.hidden}, gates + " x hidden, hidden", weights.get()},
        {"bias_ih", {rows}, gates + " x hidden", biases.get()},
        {"bias_hh", {rows}, gates + " x hidden", biases.get()}};
    for (const auto& part : parts) {
      const std::string tensor = prefix + part.stem;
      const auto v = read_tensor_values(r, path, tensor + suffix, part.shape, part.dims);
      if (!v) return;
      part.into->insert(part.into->end(), v->begin(), v->end());
    }
  }
  spec.weights.values = weights;
  spec.biases.values = biases;
}

// Several tensors of one safetensors file, each named by a field of the source object (an
// attention layer's caches; an mlp_attention layer's keys, values and v), stored one after
// another as the weights' values.
struct NamedTensor {
  std::string field;
  std::vector<size_t> shape;
  std::string dims;
};
void read_named_tensors(ObjectReader&& r, const std::string& workload_file,
                        const std::vector<NamedTensor>& tensors, workloads::LayerSpec& spec) {
  const std::string name =
      r.string_required("file", ".safetensors file, relative to the workload file");
  std::vector<std::string> names;
  names.reserve(tensors.size());
  for (const NamedTensor& t : tensors)
    names.push_back(r.string_required(t.field, "the tensor's name in the file"));
  const std::string path = path_beside(workload_file, name);
  const bool safetensors = std::filesystem::path(path).extension() == ".safetensors";
  if (!safetensors) {
    r.error(
        "file", "this layer's tensors come from one .safetensors file, named by the fields " + [&] {
          std::string f;
          for (const NamedTensor& t : tensors) f += (f.empty() ? "" : ", ") + t.field;
          return f;
        }());
  }
  r.finish();
  if (!safetensors) return;
  auto values = std::make_shared<std::vector<float>>();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto v = read_tensor_values(r, path, names[i], tensors[i].shape, tensors[i].dims);
    if (!v) return;
    values->insert(values->end(), v->begin(), v->end());
  }
  spec.weights.values = values;
}

// A graph layer's wiring and its own fields; the widths follow from its inputs.
//
// Inputs name earlier layers or the model's inputs ("input", or a name of the workload's
// `inputs`). Attention over a memory also reads it: cross attention q and a memory (its keys
// and values) or q, k and v; mlp_attention q, the memory's keys and the memory. A memory's
// rows are the layer's context.
// A step loop's carried tensor: layer `from`'s output at the previous step, read by name.
struct CarriedTensor {
  std::string name, from;
  uint32_t width = 0;
};

// A field a layer kind describes (workloads/layer_fields.hpp), into `spec`.
void read_layer_field(ObjectReader& l, const workloads::LayerField& f, workloads::LayerSpec& spec) {
  const auto low = static_cast<uint32_t>(f.low), high = static_cast<uint32_t>(f.high);
  switch (f.type) {
    case workloads::FieldType::kCount:
      f.set(spec, f.required ? l.u32_required(f.name, low, high, f.unit, f.doc)
                             : l.u32(f.name, static_cast<uint32_t>(f.get(spec)), low, high, f.unit,
                                     f.doc));
      return;
    case workloads::FieldType::kNumber:
      f.set(spec, f.required ? l.number_required(f.name, f.low, f.high, f.unit, f.doc)
                             : l.number(f.name, f.get(spec), f.low, f.high, f.unit, f.doc));
      return;
    case workloads::FieldType::kChoice:
      f.set(spec,
            static_cast<double>(
                f.required ? l.choice_required(f.name, f.choices, f.doc)
                           : l.choice(f.name, static_cast<size_t>(f.get(spec)), f.choices, f.doc)));
      return;
  }
}

// The kinds that read two inputs, named for an error.
std::string two_input_kinds() {
  std::vector<std::string> names;
  for (const workloads::LayerKindInfo& info : workloads::kLayerKinds) {
    if (info.inputs == 2) names.emplace_back(info.name);
  }
  std::string text;
  for (size_t i = 0; i < names.size(); ++i)
    text += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  return text;
}

void read_graph_layer(ObjectReader& l, size_t index, const workloads::ModelSpec& model,
                      const std::vector<CarriedTensor>& carried, workloads::LayerSpec& spec) {
  using workloads::LayerKind;
  const std::vector<workloads::LayerSpec>& earlier = model.layers;
  spec.rows = model.tokens();
  const workloads::LayerKindFields& own = workloads::layer_kind_fields(spec.kind);
  for (const workloads::LayerField& f : own.fields) read_layer_field(l, f, spec);
  const bool embedding = spec.kind == LayerKind::kEmbedding;
  if (embedding) {
    spec.vocab = l.u32_required("vocab", 1, 1u << 24, "tokens", "embedding: rows of the table");
    spec.out_features =
        l.u32_required("out_features", 1, 1 << 20, "", "embedding: the width of a row");
    spec.in_features = 1;  // one token id per row of a model input
  }
  const bool binary = workloads::layer_kind_info(spec.kind).inputs == 2;
  const bool cross =
      spec.kind == LayerKind::kAttention && spec.mode == workloads::AttentionMode::kCross;
  const bool mlp = spec.kind == LayerKind::kMlpAttention;
  // The input counts a kind accepts, and what to say when a layer gives another.
  std::vector<size_t> arities = {binary ? size_t{2} : size_t{1}};
  std::string expected = std::string("expected an array of ") + (binary ? "two" : "one") +
                         " layer name" + (binary ? "s" : "") + " (or \"input\", or a model input)";
  if (spec.kind == LayerKind::kAttention && !cross) {
    arities = {1, 3};
    expected =
        "expected an array of three layer names, q, k and v, or of one, q (the cache "
        "holding the tokens' keys and values)";
  } else if (cross) {
    arities = {1, 2, 3};
    expected =
        "expected an array of one layer name, q (the memory is the layer's data), two, q "
        "and the memory (its keys and values), or three, q, k and v";
  } else if (mlp) {
    arities = {1, 3};
    expected =
        "expected an array of one layer name, q (the memory is the layer's data), or "
        "three, q, the memory's keys and the memory";
  }
  if (l.has("inputs")) {
    const Json* raw = l.raw("inputs");
    if (!raw->is_array() ||
        std::find(arities.begin(), arities.end(), raw->size()) == arities.end()) {
      l.error("inputs", expected);
      return;
    }
    for (const Json& name : *raw) {
      if (!name.is_string()) {
        l.error("inputs", "expected layer names");
        return;
      }
      const std::string n = name.get<std::string>();
      const auto carry = std::find_if(carried.begin(), carried.end(),
                                      [&](const CarriedTensor& c) { return c.name == n; });
      if (carry != carried.end()) {  // resolved once every layer is known
        spec.carried.resize(spec.inputs.size() + 1, 0);
        spec.carried.back() = 1;
        spec.inputs.push_back(static_cast<int32_t>(carry - carried.begin()));
        continue;
      }
      const auto input = std::find_if(model.inputs.begin(), model.inputs.end(),
                                      [&](const workloads::ModelInput& x) { return x.name == n; });
      if (input != model.inputs.end()) {
        spec.inputs.push_back(
            workloads::model_input_ref(static_cast<size_t>(input - model.inputs.begin())));
        continue;
      }
      const auto it = std::find_if(earlier.begin(), earlier.end(),
                                   [&](const workloads::LayerSpec& e) { return e.name == n; });
      if (it == earlier.end()) {
        l.error("inputs", "no earlier layer or model input is named \"" + n + "\"");
        return;
      }
      spec.inputs.push_back(static_cast<int32_t>(it - earlier.begin()));
    }
  } else if (binary) {
    l.error("inputs", two_input_kinds() + " need two inputs: an array of two layer names");
    return;
  } else {
    spec.inputs.push_back(static_cast<int32_t>(index) - 1);
  }
  if (embedding) {
    if (spec.inputs.front() >= 0) {
      l.error("inputs", "an embedding reads token ids: its input must be a model input (" +
                            std::string(index == 0 ? "" : "layer 0 reads \"input\" by default; ") +
                            "name one in `inputs`)");
      return;
    }
    spec.rows = model.rows_of(spec.inputs.front());
    return;
  }
  // The width of each input: a layer's output, or a model input as wide as its first reader
  // takes it (a vector layer reading it first gives its width as in_features).
  std::vector<uint32_t> widths;
  for (size_t j = 0; j < spec.inputs.size(); ++j) {
    const int32_t in = spec.inputs[j];
    if (spec.carried_input(j)) {
      widths.push_back(carried[static_cast<size_t>(in)].width);
      continue;
    }
    if (in >= 0) {
      widths.push_back(earlier[static_cast<size_t>(in)].out_features);
      continue;
    }
    const size_t input = workloads::model_input_index(in);
    if (model.first_reader(input).layer) {
      if (model.token_input(input)) {
        l.error("inputs", "model input \"" + model.inputs[input].name +
                              "\" holds token ids (an embedding reads it); only embeddings may "
                              "read it");
        return;
      }
      widths.push_back(model.input_width(input));
    } else if (mlp && j > 0) {  // the memory's keys are as wide as q; the memory: out_features
      widths.push_back(j == 1 ? widths[0]
                              : l.u32_required("out_features", 1, 1 << 20, "",
                                               "mlp_attention: the memory's width, the output's"));
    } else if (spec.in_features == 0) {
      spec.in_features = l.u32_required("in_features", 1, 1 << 20, "",
                                        "the width of the model input it reads first");
      widths.push_back(spec.in_features);
    } else {
      widths.push_back(workloads::input_width(spec, j));
    }
  }
  // A memory (the inputs after q of attention over one): its rows are the layer's context.
  const uint32_t memory_rows = spec.inputs.size() > 1 ? model.rows_of(spec.inputs[1]) : 0;
  if ((cross || mlp) && spec.inputs.size() > 1) {
    for (size_t j = 2; j < spec.inputs.size(); ++j) {
      if (model.rows_of(spec.inputs[j]) != memory_rows) {
        l.error("inputs", "input " + std::to_string(j) + " has " +
                              std::to_string(model.rows_of(spec.inputs[j])) +
                              " rows, the memory's keys " + std::to_string(memory_rows) +
                              ": keys and values must have the same positions");
      }
    }
    if (cross && spec.context != 0 && spec.context != memory_rows) {
      l.error("context", "the memory (input 1) has " + std::to_string(memory_rows) +
                             " rows; context must equal them or be left out");
    }
    if (cross) spec.context = memory_rows;
  }
  if (cross && spec.context == 0)
    l.error("context", "cross attention needs a memory: expected at least 1 position");
  // Rows: every input's (they must agree), divided by a pool's stride.
  // A carried tensor has the loop's rows, checked once the loop is known.
  std::vector<uint32_t> rows;
  for (size_t j = 0; j < spec.inputs.size(); ++j)
    rows.push_back(spec.carried_input(j) ? 0 : model.rows_of(spec.inputs[j]));
  // Input 0's rows, or (carried) another row input's; all carried: the loop's, set later.
  spec.rows = rows[0];
  for (size_t j = 1; j < rows.size() && spec.rows == 0; ++j) {
    if (!spec.memory_input(j)) spec.rows = rows[j];
  }
  const size_t row_inputs = cross || mlp ? 1 : rows.size();  // a memory has its own rows
  for (size_t j = 1; j < row_inputs; ++j) {
    if (rows[j] != 0 && rows[0] != 0 && rows[j] != rows[0]) {
      l.error("inputs", "input " + std::to_string(j) + " has " + std::to_string(rows[j]) +
                            " rows, input 0 " + std::to_string(rows[0]) +
                            ": a layer's inputs must have the same rows");
    }
  }
  if (spec.kind == LayerKind::kAttention) {
    const bool memory = spec.inputs.size() == 2;
    for (size_t j = 0; j < spec.inputs.size(); ++j) {
      static const char* const kRoles[] = {"q (heads x head_dim)", "k (kv_heads x head_dim)",
                                           "v (kv_heads x head_dim)"};
      const std::string role = memory && j == 1 ? "the memory (kv_heads x head_dim)" : kRoles[j];
      const uint32_t expected_width = workloads::input_width(spec, j);
      if (widths[j] != expected_width) {
        l.error("inputs", "input " + std::to_string(j) + ", " + role + ", must be " +
                              std::to_string(expected_width) + " wide; it is " +
                              std::to_string(widths[j]));
      }
    }
    return;
  }
  if (binary && !own.widths_may_differ && widths[0] != widths[1]) {
    l.error("inputs", "the two inputs differ in width (" + std::to_string(widths[0]) + " and " +
                          std::to_string(widths[1]) + ")");
  }
  if (spec.uses_mac_array()) {
    if (spec.in_features != widths[0]) {
      l.error("in_features", "expected " + std::to_string(widths[0]) +
                                 " (the width of its input), got " +
                                 std::to_string(spec.in_features));
    }
    return;
  }
  spec.in_features = spec.out_features = widths[0];
  if (mlp && spec.inputs.size() == 3) {  // the memory from the graph gives both
    if (widths[1] != spec.in_features) {
      l.error("inputs", "input 1, the memory's keys, must be as wide as q (" +
                            std::to_string(spec.in_features) + "); it is " +
                            std::to_string(widths[1]));
    }
    spec.context = l.u32("context", memory_rows, 1, 4095, "positions",
                         "mlp_attention: positions of the memory (its keys and values)");
    spec.out_features = l.u32("out_features", widths[2], 1, 1 << 20, "",
                              "mlp_attention: the memory's width, the output's");
    if (spec.context != memory_rows || spec.out_features != widths[2]) {
      l.error(spec.context != memory_rows ? "context" : "out_features",
              "the memory's inputs give it " + std::to_string(memory_rows) + " positions of " +
                  std::to_string(widths[2]) + "; leave it out or give the same");
    }
  } else if (mlp) {
    spec.context = l.u32_required("context", 1, 4095, "positions",
                                  "mlp_attention: positions of the memory (its keys and values)");
    spec.out_features = l.u32_required("out_features", 1, 1 << 20, "",
                                       "mlp_attention: the memory's width, the output's");
  }
  if (own.finish) {
    if (const std::optional<workloads::FieldProblem> p = own.finish(spec, widths))
      l.error(p->field, p->message);
  }
}

// The step loop's range, once the layers are known, and its carried tensors resolved to their
// layers: what a loop can run one row per step (no pooling, no attention appending its own
// keys and values, one direction of recurrence; memories and carried tensors from where each
// step can read them).
void read_step_loop(Document& doc, ObjectReader& loop, const std::string& first,
                    const std::string& last, const std::vector<CarriedTensor>& carried,
                    workloads::ModelSpec& m) {
  using workloads::LayerKind;
  auto index_of = [&](const std::string& name) {
    const auto it = std::find_if(m.layers.begin(), m.layers.end(),
                                 [&](const workloads::LayerSpec& l) { return l.name == name; });
    return it == m.layers.end() ? -1 : static_cast<int32_t>(it - m.layers.begin());
  };
  const int32_t begin = index_of(first), end = index_of(last);
  if (begin < 0) loop.error("first", "no layer is named \"" + first + "\"");
  if (end < 0) loop.error("last", "no layer is named \"" + last + "\"");
  if (begin < 0 || end < 0) return;
  if (end < begin) {
    loop.error("last", "\"" + last + "\" comes before the first layer, \"" + first + "\"");
    return;
  }
  m.loop_begin = static_cast<uint32_t>(begin);
  m.loop_end = static_cast<uint32_t>(end) + 1;
  const uint32_t steps = m.layers[m.loop_begin].rows;
  for (size_t li = 0; li < m.layers.size(); ++li) {
    workloads::LayerSpec& l = m.layers[li];
    const std::string at = "/layers/" + std::to_string(li);
    const bool inside = m.in_step_loop(li);
    for (size_t j = 0; j < l.inputs.size(); ++j) {
      if (l.carried_input(j)) {
        const CarriedTensor& c = carried[static_cast<size_t>(l.inputs[j])];
        const int32_t from = index_of(c.from);
        if (!inside) {
          doc.error(at + "/inputs", "\"" + c.name +
                                        "\" is carried by the step loop: only its "
                                        "layers may read it");
        } else if (from < 0 || !m.in_step_loop(static_cast<size_t>(from))) {
          doc.error("/step_loop/carried/" + c.name + "/from",
                    "expected a layer of the step loop, got \"" + c.from + "\"");
        } else if (m.layers[static_cast<size_t>(from)].out_features != c.width) {
          doc.error("/step_loop/carried/" + c.name + "/width",
                    "\"" + c.from + "\" writes " +
                        std::to_string(m.layers[static_cast<size_t>(from)].out_features) +
                        " per row; got " + std::to_string(c.width));
        } else {
          l.inputs[j] = from;
        }
        continue;
      }
      if (inside && l.memory_input(j) && l.inputs[j] >= 0 &&
          m.in_step_loop(static_cast<size_t>(l.inputs[j]))) {
        doc.error(at + "/inputs", "a memory (input " + std::to_string(j) +
                                      ") must come from before the step loop: every step reads "
                                      "all of it");
      }
    }
    if (!inside) continue;
    if (l.rows == 0) l.rows = steps;  // it reads carried tensors only
    if (l.rows != steps) {
      doc.error(at + "/inputs",
                "a step loop's layers have one row per step: " + std::to_string(steps) +
                    " rows, as its first layer; this one " + std::to_string(l.rows));
    }
    const bool appends = l.kind == LayerKind::kAttention && l.appends_kv() &&
                         l.mode != workloads::AttentionMode::kCross;
    if (l.kind == LayerKind::kPool || appends ||
        (l.kind == LayerKind::kAttention && (l.mode == workloads::AttentionMode::kPrefill ||
                                             l.mode == workloads::AttentionMode::kEncoder)) ||
        (workloads::is_recurrent(l.kind) && l.bidirectional)) {
      doc.error(at + "/type",
                "a step loop runs one row per step: no pool, no attention appending its tokens' "
                "keys and values or attending over them (prefill, encoder), no bidirectional "
                "recurrence");
    }
  }
}

}  // namespace

WorkloadConfig parse_workload(const Json& json, const std::string& file,
                              const std::vector<SetOption>& sets) {
  Document doc = make_document(json, file, "workload", sets);
  ObjectReader root = doc.root();
  WorkloadConfig w;
  w.file = file;
  workloads::ModelSpec& m = w.model;
  m.name = root.string_required("name", "name of the workload");
  m.inputs.front().rows =
      root.u32("tokens", m.tokens(), 1, 65535, "tokens", "rows of the model input \"input\" (M)");
  // Further model inputs, by name: their rows now (the layers' rows follow from them), their
  // values once the layers have given their widths.
  std::vector<ObjectReader> more_inputs;
  ObjectReader named = root.object("inputs",
                                   "further model inputs by name (an encoder's frames and a "
                                   "decoder's characters), each read by the layers naming it");
  for (const std::string& name : named.keys()) {
    ObjectReader in = named.object(name, "a model input: its rows and values");
    workloads::ModelInput& input = m.inputs.emplace_back();
    input.name = name;
    input.rows = in.u32_required("tokens", 1, 65535, "rows", "the input's rows");
    if (name == "input") named.error(name, "\"input\" names the model's first input");
    more_inputs.push_back(std::move(in));
  }
  named.finish();
  (void)root.string("source", "", "where the model's shapes come from (kept in the report)");
  m.objective = static_cast<workloads::MappingObjective>(
      root.choice("objective", static_cast<size_t>(m.objective),
                  names_of<workloads::MappingObjective>(workloads::kNumMappingObjectives),
                  "what the mapper minimizes for each linear layer "
                  "(docs/architecture.md#mapper): latency (predicted cycles), energy (predicted "
                  "energy) or edp (their product); `nmpsim run --objective` sets it"));
  m.mapper_estimates = root.u32(
      "mapper_estimates", m.mapper_estimates, 1, 64, "mappings",
      "latency objective: how many of the closed form's best mappings of each linear layer "
      "(within 30% of its best's cycles) the analytical model estimates to choose among "
      "(docs/architecture.md#mapper); 1: the closed form's choice, which lowers fastest");
  // A step loop's carried tensors, which layers read by name (their layers may come later).
  std::vector<CarriedTensor> carried;
  ObjectReader loop = root.object("step_loop",
                                  "layers that run one row per step, every one at step t before "
                                  "any at t + 1 (docs/configs.md#step-loops)");
  const bool has_loop = root.has("step_loop");
  std::string loop_first, loop_last;
  if (has_loop) {
    loop_first = loop.string_required("first", "the loop's first layer");
    loop_last = loop.string_required("last", "the loop's last layer");
    ObjectReader carries = loop.object("carried",
                                       "tensors carried from one step to the next, by name: "
                                       "{\"from\": a layer of the loop, \"width\": its output's}");
    for (const std::string& name : carries.keys()) {
      ObjectReader c = carries.object(name, "a carried tensor");
      CarriedTensor& t = carried.emplace_back();
      t.name = name;
      t.from = c.string_required("from", "the loop's layer whose previous step's output it is");
      t.width = c.u32_required("width", 1, 1 << 20, "", "its width (the layer's out_features)");
      if (name == "input" ||
          std::any_of(m.inputs.begin(), m.inputs.end(),
                      [&](const workloads::ModelInput& x) { return x.name == name; })) {
        carries.error(name, "\"" + name + "\" names a model input");
      }
      c.finish();
    }
    carries.finish();
  }
  const std::vector<std::string>& kTypes = workloads::layer_kind_names();
  std::vector<ObjectReader> layers = root.objects_required("layers", 1, "the layers, in order");
  for (size_t i = 0; i < layers.size(); ++i) {
    ObjectReader& l = layers[i];
    workloads::LayerSpec spec;
    spec.kind = static_cast<workloads::LayerKind>(l.choice_required(
        "type", kTypes,
        "layer type: feedforward (bitlinear, linear), recurrent (lstm, gru), attention, or "
        "vector and data layers (docs/configs.md#graph-models) rmsnorm, layernorm, activation, "
        "add, mul, embedding, pool, mlp_attention, rope, concat"));
    const bool recurrent = workloads::is_recurrent(spec.kind);
    const bool attention = spec.kind == workloads::LayerKind::kAttention;
    const bool vector_kind = !spec.uses_mac_array();
    // A layer's format names the PE kind it runs on; linear and attention layers hold
    // their weights (or K and V) unpacked, so not ternary.
    const auto format_choice = [&l](bool packed_too, const std::string& doc) {
      std::vector<std::string> names;
      std::vector<hw::PeKind> kinds;
      for (const hw::PeKindInfo& info : hw::kPeKinds) {
        if (info.weight_bytes == 0 && !packed_too) continue;
        names.emplace_back(info.layer_format);
        kinds.push_back(info.kind);
      }
      return kinds[l.choice_required("format", names, doc)];
    };
    if (spec.kind == workloads::LayerKind::kLinear) {
      spec.pe = format_choice(false, "linear: the format of weights, activations and outputs");
    } else if (attention) {
      spec.pe = format_choice(
          false, "attention: the format of Q K^T and P V (not ternary: K and V are activations)");
    } else if (recurrent) {
      spec.pe = format_choice(
          true,
          "lstm, gru: the format of the gate matrix products (ternary: BitNet weights, int8 "
          "activations); the cell computes in the vector unit's format");
    }
    spec.name = l.string("name", "layer" + std::to_string(i), "layer name in reports");
    if (std::any_of(m.inputs.begin(), m.inputs.end(),
                    [&](const workloads::ModelInput& x) { return x.name == spec.name; })) {
      l.error("name", "\"" + spec.name + "\" names a model input; a layer needs its own name");
    }
    l.describe_default("name", "`\"layer<index>\"`");
    if (attention) {
      spec.heads = l.u32_required("heads", 1, 1024, "", "attention: query heads");
      spec.kv_heads = l.u32("kv_heads", spec.heads, 1, 1024, "",
                            "attention: key/value heads (grouped-query when fewer than heads)");
      l.describe_default("kv_heads", "= heads");
      spec.head_dim = l.u32_required("head_dim", 1, 4096, "", "attention: dimension of a head");
      spec.mode = static_cast<workloads::AttentionMode>(
          l.choice("mode", 0, workloads::attention_mode_names(),
                   "attention: decode (every token attends to the whole cache), prefill (causal), "
                   "cross (every token attends to a memory of `context` positions) or encoder "
                   "(every token attends to the context and every token, unmasked: a "
                   "bidirectional encoder such as BERT)"));
      spec.context = l.u32("context", 0, 0, 1 << 20, "positions",
                           "attention: keys and values already in the cache (cross: the memory)");
      spec.scaled = l.boolean("scaled", true,
                              "attention: scores x 1 / sqrt(head_dim) (false: Luong's general "
                              "score, unscaled)");
      spec.shared_kv = l.boolean("shared_kv", false,
                                 "attention: the values are the keys (one memory, as in Luong's "
                                 "attention)");
      spec.kv_in_sram = l.choice("kv_cache", 0, {"dram", "sram"},
                                 "attention: the KV cache streams from DRAM per key/value head, "
                                 "or is loaded into the weight SRAM once") == 1;
      if (spec.heads % spec.kv_heads != 0) {
        l.error("kv_heads", "expected a divisor of heads (" + std::to_string(spec.heads) + ")");
      }
      spec.in_features = spec.out_features = spec.heads * spec.head_dim;
    }
    if (recurrent) {
      spec.in_features = l.u32_required("in_features", 1, 1 << 20, "", "K: inputs per token");
      spec.hidden = l.u32_required("hidden", 1, 1 << 14, "", "lstm, gru: hidden units H");
      spec.bidirectional = l.boolean("bidirectional", false,
                                     "lstm, gru: also run backward in time; outputs [forward | "
                                     "backward], 2H per step");
      spec.out_features = spec.hidden * (spec.bidirectional ? 2 : 1);
    } else if (!attention && !vector_kind) {
      spec.in_features = l.u32_required("in_features", 1, 1 << 20, "", "K: inputs per token");
      spec.out_features = l.u32_required("out_features", 1, 1 << 20, "", "N: outputs per token");
    }
    read_graph_layer(l, i, m, carried, spec);
    workloads::TensorSource wdefault;
    wdefault.seed = 1000 + i;
    const TensorShape vector_shape = {{spec.out_features}, "out_features"};
    for (const workloads::LayerTensor& t : workloads::layer_kind_fields(spec.kind).tensors) {
      workloads::TensorSource source;
      source.mean = t.mean;
      source.std = t.std;
      spec.*t.source = read_source(l.object(t.name, t.doc), source, file, vector_shape);
    }
    if (spec.kind == workloads::LayerKind::kMlpAttention) {
      ObjectReader wr = l.object("weights",
                                 "mlp_attention: the memory's keys K' and values M, "
                                 "and the score vector v");
      if (wr.has("file") && spec.memory_from_graph()) {
        read_named_tensors(std::move(wr), file, {{"v", {spec.in_features}, "in_features"}}, spec);
      } else if (wr.has("file")) {
        read_named_tensors(std::move(wr), file,
                           {{"keys", {spec.context, spec.in_features}, "context, in_features"},
                            {"values", {spec.context, spec.out_features}, "context, out_features"},
                            {"v", {spec.in_features}, "in_features"}},
                           spec);
      } else {
        spec.weights = read_source(std::move(wr), wdefault, file, {});
      }
    } else if (spec.kind == workloads::LayerKind::kEmbedding) {
      spec.weights = read_source(l.object("weights", "embedding: the table's values"), wdefault,
                                 file, {{spec.vocab, spec.out_features}, "vocab, out_features"});
    } else if (recurrent || attention) {
      ObjectReader wr = l.object("weights", recurrent ? "lstm, gru: the weights W and U"
                                                      : "attention: the key and value caches");
      const bool from_file = wr.has("file");
      if (from_file && recurrent) {
        read_recurrent_file(std::move(wr), file, spec);
        if (l.has("biases")) {
          l.error("biases", "the biases come from the weights' file");
          (void)l.raw("biases");
        }
      } else if (from_file) {
        const size_t positions = spec.positions(spec.rows ? spec.rows : m.tokens());
        const std::string dims = "kv_heads, positions, head_dim";
        read_named_tensors(std::move(wr), file,
                           {{"keys", {spec.kv_heads, positions, spec.head_dim}, dims},
                            {"values", {spec.kv_heads, positions, spec.head_dim}, dims}},
                           spec);
      } else {
        spec.weights = read_source(std::move(wr), wdefault, file, {});
      }
      if (recurrent && !from_file) {
        workloads::TensorSource bdefault;
        bdefault.seed = 2000 + i;
        spec.biases = read_source(l.object("biases", "lstm, gru: biases"), bdefault, file,
                                  {{},
                                   "lstm and gru biases come from a file with their weights "
                                   "(bias_ih and bias_hh beside weight_ih and weight_hh)"});
      }
    } else if (!vector_kind) {
      spec.weights =
          read_source(l.object("weights", "latent weights"), wdefault, file,
                      {{spec.out_features, spec.in_features}, "out_features, in_features"}, &spec);
      if (l.has("biases")) {
        workloads::TensorSource bdefault;
        bdefault.seed = 2000 + i;
        spec.has_bias = true;
        spec.biases =
            read_source(l.object("biases", "bitlinear, linear: the bias b, added to x W^T"),
                        bdefault, file, {{spec.out_features}, "out_features"});
      }
      spec.mapping.order = static_cast<workloads::LoopOrder>(
          l.choice("loop_order", 0, names_of<workloads::LoopOrder>(workloads::kNumLoopOrders),
                   "bitlinear, linear: the mapper's choice (auto), or rows outer (weights "
                   "streamed per tile of rows) or weights outer (weights streamed once per tile "
                   "of resident accumulators); docs/architecture.md#mapper"));
    }
    const auto first_mac = std::find_if(m.layers.begin(), m.layers.end(),
                                        [](const auto& x) { return x.uses_mac_array(); });
    // Ternary (bitlinear) layers also run on int8 PEs, beside int8 layers.
    auto compatible = [](hw::PeKind a, hw::PeKind b) {
      const auto ternary_int8 = [](hw::PeKind x, hw::PeKind y) {
        return x == hw::PeKind::kTernaryInt8 && y == hw::PeKind::kInt8Int8;
      };
      return a == b || ternary_int8(a, b) || ternary_int8(b, a);
    };
    if (spec.uses_mac_array() && first_mac != m.layers.end() &&
        !compatible(spec.pe, first_mac->pe)) {
      l.error(spec.kind == workloads::LayerKind::kBitLinear ? "type" : "format",
              std::string("every layer must use the same processing elements: layer ") +
                  std::to_string(first_mac - m.layers.begin()) + " needs " +
                  hw::to_string(first_mac->pe) + ", this one " + hw::to_string(spec.pe));
    }
    doc.describe_default(l.pointer() + "/weights/seed", "`1000` + layer index");
    doc.describe_default(l.pointer() + "/biases/seed", "`2000` + layer index");
    l.finish();
    m.layers.push_back(spec);
  }
  if (has_loop && !doc.has_errors()) read_step_loop(doc, loop, loop_first, loop_last, carried, m);
  loop.finish();
  // The inputs' values, once their readers give their shapes: rows x width, or token ids.
  for (size_t i = 0; i < m.inputs.size() && !m.layers.empty(); ++i) {
    workloads::ModelInput& input = m.inputs[i];
    ObjectReader r = i == 0 ? root.object("input",
                                          "the values of model input \"input\" "
                                          "(embedding: token ids)")
                            : std::move(more_inputs[i - 1]);
    const std::string pointer = r.pointer();
    const workloads::ModelSpec::Reader reader = m.first_reader(i);
    if (!reader.layer) {
      doc.error(pointer, "no layer reads model input \"" + input.name + "\"");
      continue;
    }
    const bool ids = m.token_input(i);
    if (ids) {
      input.source.distribution = workloads::Distribution::kUniform;  // over the vocabulary
      input.source.low = 0;
      input.source.high = reader.layer->vocab;
    }
    const size_t width = m.input_width(i);
    input.source = read_source(std::move(r), input.source, file,
                               ids ? TensorShape{{input.rows}, "tokens"}
                                   : TensorShape{{input.rows, width}, "tokens, width"});
    if (ids && input.source.values) {
      const uint32_t vocab = reader.layer->vocab;
      for (size_t t = 0; t < input.source.values->size(); ++t) {
        const float id = (*input.source.values)[t];
        if (!(id >= 0 && id < static_cast<float>(vocab) && id == std::floor(id))) {
          doc.error(pointer + "/file", "token " + std::to_string(t) + "'s id is " +
                                           std::to_string(id) + "; expected an integer in [0, " +
                                           std::to_string(vocab) + ")");
          break;
        }
      }
    }
  }
  // Every embedding reading one input of token ids has the vocabulary its ids are drawn over.
  for (size_t li = 0; li < m.layers.size(); ++li) {
    const workloads::LayerSpec& l = m.layers[li];
    if (l.kind != workloads::LayerKind::kEmbedding || l.inputs.empty() || l.inputs.front() >= 0)
      continue;  // a wiring error, reported
    const size_t input = workloads::model_input_index(l.inputs.front());
    if (m.first_reader(input).layer->vocab != l.vocab) {
      doc.error("/layers/" + std::to_string(li) + "/vocab",
                "model input \"" + m.inputs[input].name +
                    "\" is read by embeddings of "
                    "different vocabularies; expected " +
                    std::to_string(m.first_reader(input).layer->vocab));
    }
  }
  root.finish();
  doc.throw_if_errors();
  w.resolved = doc.resolved();
  w.fields = doc.take_fields();
  return w;
}

HardwareConfig load_hardware(const std::string& path, const std::vector<SetOption>& sets) {
  return parse_hardware(parse_json_file(path), path, sets);
}
TechLibrary load_technology(const std::string& path, const std::vector<SetOption>& sets) {
  return parse_technology(parse_json_file(path), path, sets);
}
void apply_mapping_file(WorkloadConfig& workload, const std::string& path) {
  Document doc(path, parse_json_file(path));
  ObjectReader root = doc.root();
  ObjectReader layers =
      root.object_required("layers", "the mappings of linear and vector layers, by layer name");
  for (const std::string& name : layers.keys()) {
    ObjectReader entry = layers.object(name, "a linear or vector layer's mapping");
    auto layer = std::find_if(workload.model.layers.begin(), workload.model.layers.end(),
                              [&](const workloads::LayerSpec& l) { return l.name == name; });
    if (layer == workload.model.layers.end()) {
      layers.error(name, "no layer of the workload is named \"" + name + "\"");
      continue;
    }
    const bool linear = layer->kind == workloads::LayerKind::kBitLinear ||
                        layer->kind == workloads::LayerKind::kLinear;
    const bool vector = workloads::is_vector_layer(layer->kind);
    if (!linear && !vector) {
      layers.error(name,
                   "only the bitlinear, linear and vector layers (every kind the vector unit "
                   "runs row by row) have a mapping");
      continue;
    }
    workloads::MappingRequest& want = layer->mapping;
    want.from_file = true;
    if (vector) {
      want.rows = entry.u32("rows", 0, 0, 65535, "rows",
                            "rows per tile, at most what fits (0: the mapper's choice)");
      want.buffer_sets = entry.u32("buffer_sets", 0, 0, 2, "sets",
                                   "1: each tile's DMA and vector work in turn; 2: pipelined over "
                                   "two sets of buffers (0: the mapper's choice)");
      if (workloads::may_fuse(layer->kind)) {
        want.fuse = static_cast<workloads::Fusion>(
            entry.choice("fuse", 0, names_of<workloads::Fusion>(workloads::kNumFusions),
                         "activation, add, mul, rope: run inside the epilogue of the "
                         "weights_outer linear layer producing an input (auto: where legal; no: "
                         "its own pass; yes: required, an error where not legal)"));
      }
      entry.finish();
      continue;
    }
    want.order =
        enum_field(entry, "loop_order", want.order, workloads::kNumLoopOrders,
                   "the loop order (default: the workload's loop_order, else the mapper's choice)");
    want.n_tile = entry.u32("n_tile", 0, 0, 65535, "outputs",
                            "outputs per block (0: the mapper's; more than out_features: all)");
    want.k_tile = entry.u32("k_tile", 0, 0, 1u << 20, "inputs",
                            "inputs per reduction tile, a multiple of the array's rows or at least "
                            "in_features (0: the mapper's)");
    want.rows = entry.u32("rows", 0, 0, 65535, "rows",
                          "rows per tile (rows_outer) or per super tile (weights_outer), at most "
                          "what fits (0: the most that fit)");
    want.epilogue = enum_field(
        entry, "epilogue", want.epilogue, workloads::kNumEpilogues,
        "weights_outer: convert each output block as it completes (inline) or under the next "
        "block's gemms (overlapped; default: the mapper's choice)");
    want.row_conversion = enum_field(
        entry, "row_conversion", want.row_conversion, workloads::kNumRowConversions,
        "weights_outer: a quantize pass writes the rows in the array's format to a DRAM scratch "
        "(pass), or the DMA converts the input rows as it streams them (dma: kinds quantized by "
        "one rounding, with every value of dram.activation_format exact in the vector format; "
        "default: the mapper's choice)");
    want.input_residency = enum_field(
        entry, "input_residency", want.input_residency, workloads::kNumInputResidencies,
        "weights_outer: every output block streams its rows' slice of each reduction tile "
        "(streamed), or a super tile's first block loads the first tiles' slices, as many as "
        "fit, into the activation SRAM, where its later blocks find them (resident; default: "
        "the mapper's choice)");
    entry.finish();
  }
  root.finish();
  doc.throw_if_errors();
  workload.mapping_file = path;
  workload.mapping = doc.resolved();
}

WorkloadConfig load_workload(const std::string& path, const std::vector<SetOption>& sets) {
  return parse_workload(parse_json_file(path), path, sets);
}

}  // namespace nmp::sim
