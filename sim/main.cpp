// nmpsim: the command line. Exit codes: 0 success, 1 simulation failure, 2 bad input.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "isa/assembler.hpp"
#include "isa/program.hpp"
#include "sim/arith_tools.hpp"
#include "sim/docs.hpp"
#include "sim/dram_trace.hpp"
#include "sim/input_limits.hpp"
#include "sim/npy.hpp"
#include "sim/progress.hpp"
#include "sim/regress.hpp"
#include "sim/report.hpp"
#include "sim/report_tools.hpp"
#include "sim/run.hpp"
#include "sim/sram_model.hpp"
#include "sim/sweep.hpp"
#include "sim/text.hpp"
#include "workloads/model.hpp"

namespace po = boost::program_options;
using nmp::sim::Json;

namespace {

constexpr int kExitSimulation = 1;
constexpr int kExitBadInput = 2;
// exec's watchdogs: a hand-written program that runs away is stopped within seconds.
constexpr uint64_t kExecMaxCycles = uint64_t{1} << 30;
constexpr uint64_t kExecMaxInstructions = uint64_t{1} << 26;
// exec's DRAM is reserved, not allocated: its bound is the host's address space.
constexpr uint64_t kMaxDramBytes = uint64_t{1} << 40;

const char* const kUsage = R"(nmpsim - a cycle-accurate simulator of a ternary neural microprocessor

usage: nmpsim <command> [options]

commands:
  run       simulate a workload on a hardware config and report cycles, energy, area, error
  exec      run a program (text or binary) on a hardware config; print cycles and counters
  dram      run a memory trace through a config's DRAM standard: bandwidth, latency, energy
  asm       assemble a program (text -> binary)
  disasm    disassemble a program (binary -> text)
  arith     a calculator for number formats: reads "OP A [B]" lines, prints results
  formats   quantization error of a tensor in every number format, side by side
  isa       print the instruction set reference (markdown)
  params    print every field of the given config files (markdown)
  energy    the energy-per-operation report of a run (or --events: how keys are priced)
  compare   two reports side by side, with the ratio of every figure
  sweep     run a grid or random sweep of configurations into an SQLite database
  merge     join the databases of sweep shards
  regress   run a suite of variants x workloads against stored baselines

Run 'nmpsim <command> --help' for a command's options.
Exit codes: 0 success, 1 simulation failure, 2 bad input.
)";

// Non-negative integer options: "-1" is refused (a plain uint64_t option would wrap it to
// 2^64 - 1), as are signs, fractions and values past 2^64 - 1. A ByteCount may end in K, M, G or
// T (powers of 1024). Boost's option parser finds validate() by argument-dependent lookup.
struct Count {
  uint64_t value = 0;
};
struct ByteCount {
  uint64_t value = 0;
};
std::ostream& operator<<(std::ostream& o, const Count& c) { return o << c.value; }
std::ostream& operator<<(std::ostream& o, const ByteCount& c) { return o << c.value; }

uint64_t parse_count(const std::vector<std::string>& values, bool suffixes) {
  const std::string& text = po::validators::get_single_string(values);
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  const std::string suffix = text.substr(digits);
  const size_t scale =
      suffix.size() == 1 && suffixes ? std::string("KMGT").find(suffix[0]) : std::string::npos;
  const auto invalid = [&] {
    return po::error_with_option_name(
        "the argument '" + text +
            "' for option '%canonical_option%' is invalid: expected a non-negative integer "
            "below 2^64" +
            std::string(suffixes ? ", optionally ending in K, M, G or T" : ""),
        "", "");
  };
  if (digits == 0 || (!suffix.empty() && scale == std::string::npos)) throw invalid();
  errno = 0;
  const uint64_t v = std::strtoull(text.substr(0, digits).c_str(), nullptr, 10);
  const unsigned shift = suffix.empty() ? 0 : 10 * static_cast<unsigned>(scale + 1);
  if (errno == ERANGE || (shift > 0 && v > (UINT64_MAX >> shift))) throw invalid();
  return v << shift;
}

void validate(boost::any& out, const std::vector<std::string>& values, Count*, int) {
  po::validators::check_first_occurrence(out);
  out = boost::any(Count{parse_count(values, false)});
}
void validate(boost::any& out, const std::vector<std::string>& values, ByteCount*, int) {
  po::validators::check_first_occurrence(out);
  out = boost::any(ByteCount{parse_count(values, true)});
}

// --timeline and its window and sampling interval, for run and exec.
struct TimelineArgs {
  std::string path, vcd_path, window;
  Count interval{nmp::sim::TimelineOptions{}.interval};
  void add_to(po::options_description& desc) {
    desc.add_options()("timeline", po::value(&path),
                       "write a Perfetto/Chrome timeline (JSON) of every unit's commands and "
                       "stalls, the layers, the DRAM channels and counters")(
        "vcd", po::value(&vcd_path),
        "write a waveform (VCD) of every unit's state and queue, the pc, the layer and every DRAM "
        "bank's state and row")(
        "timeline-window", po::value(&window),
        "record the timeline and waveform over cycles [A, B) only: A:B (A: for the rest)")(
        "timeline-interval", po::value(&interval)->default_value(interval),
        "cycles per sample of the timeline's counters");
  }
};

nmp::sim::TimelineOptions timeline_options(const TimelineArgs& args) {
  nmp::sim::TimelineOptions o;
  o.path = args.path;
  o.vcd_path = args.vcd_path;
  if (!args.window.empty()) {
    if (args.path.empty() && args.vcd_path.empty()) {
      throw nmp::sim::ConfigError("--timeline-window", "", "needs --timeline FILE or --vcd FILE");
    }
    o.window = nmp::sim::parse_cycle_window(args.window);
  }
  if (args.interval.value == 0) {
    throw nmp::sim::ConfigError("--timeline-interval", "", "expected at least 1 cycle, got 0");
  }
  o.interval = args.interval.value;
  return o;
}

// Parses a subcommand's options; prints its help and returns false if asked to. Every command
// takes --max-memory, the host memory its inputs may ask for (sim/input_limits.hpp).
bool parse(int argc, char** argv, const std::string& usage, po::options_description& desc,
           po::positional_options_description* positional, po::variables_map& vm) {
  desc.add_options()("help,h", "show this help")(
      "max-memory",
      po::value<ByteCount>()->default_value(ByteCount{nmp::sim::max_host_memory_bytes()}),
      "host memory a run may use, in bytes (suffixes K, M, G, T); larger inputs are refused");
  po::command_line_parser parser(argc, argv);
  parser.options(desc);
  if (positional) parser.positional(*positional);
  po::store(parser.run(), vm);
  if (vm.count("help")) {
    std::cout << usage << "\n" << desc;
    return false;
  }
  po::notify(vm);
  nmp::sim::set_max_host_memory_bytes(vm["max-memory"].as<ByteCount>().value);
  return true;
}

// Writes at output_staging_path(), then renames it over the target if that differs.
void write_file(const std::string& path, const std::string& bytes) {
  const std::string partial = nmp::sim::output_staging_path(path);
  {
    std::ofstream out(partial, std::ios::binary);
    out << bytes;
    out.close();
    if (!out) {
      if (partial != path) std::remove(partial.c_str());
      throw nmp::sim::ConfigError(path, "", "cannot write the file");
    }
  }
  if (partial != path && std::rename(partial.c_str(), path.c_str()) != 0) {
    std::remove(partial.c_str());
    throw nmp::sim::ConfigError(path, "", "cannot write the file");
  }
}

int cmd_run(int argc, char** argv) {
  nmp::sim::SimInputs in;
  std::string out_path, csv_path, objective;
  bool quiet = false, no_verify = false;
  Count max_cycles{in.options.max_cycles}, max_instructions{in.options.max_instructions};
  po::options_description desc("options");
  desc.add_options()("hw", po::value(&in.hw_path)->required(), "hardware config (JSON)")(
      "workload", po::value(&in.workload_path)->required(), "workload (JSON)")(
      "tech", po::value(&in.tech_path), "technology library (JSON); default: the hw file's")(
      "set", po::value(&in.sets)->composing(),
      "override a field: hw.path.to.field=value, tech.... or workload.... (repeatable)")(
      "mapping", po::value(&in.mapping_path),
      "force the loop order and tiles of linear layers, the buffer sets and tiles of vector "
      "layers (JSON, docs/configs.md#mapping-file)")(
      "objective", po::value(&objective),
      "what the mapper minimizes for linear layers: latency, energy or edp (the workload's "
      "`objective`)")("out", po::value(&out_path), "write the JSON report here")(
      "csv", po::value(&csv_path),
      "write one CSV row per layer: cycles, utilization, DRAM and SRAM traffic, energy, error")(
      "dump", po::value(&in.options.dump_dir), "write input, weight and output tensors (.npy)")(
      "trace", po::value(&in.options.trace_path),
      "write the MAC array's per-cycle occupancy to this file (runs in lockstep)")(
      "lockstep", po::bool_switch(&in.options.lockstep), "tick every unit every cycle")(
      "timing-only", po::bool_switch(&in.options.timing_only),
      "compute counts and cycles, not values")(
      "analytical", po::bool_switch(&in.options.analytical),
      "predict cycles, DRAM payload and energy with the analytical model, without cycle "
      "simulation (docs/architecture.md#analytical-model)")(
      "min-sqnr-db", po::value(&in.options.min_sqnr_db)->default_value(in.options.min_sqnr_db),
      "flag layers whose SQNR against FP32 is below this (dB)")(
      "no-verify", po::bool_switch(&no_verify),
      "skip the reference models (no bit-exact check, no error figures)")(
      "max-cycles", po::value(&max_cycles)->default_value(max_cycles),
      "watchdog: stop after this many cycles")(
      "max-instructions", po::value(&max_instructions)->default_value(max_instructions),
      "watchdog: stop after this many executed instructions")(
      "profile", po::bool_switch(&in.options.profile),
      "print the host's wall time per phase to standard error")("quiet,q", po::bool_switch(&quiet),
                                                                "print nothing on success");
  TimelineArgs timeline;
  timeline.add_to(desc);
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: nmpsim run --hw FILE --workload FILE [--tech FILE] [--set k=v ...] "
             "[--out report.json] [--csv layers.csv] [--dump DIR]",
             desc, nullptr, vm)) {
    return 0;
  }
  in.options.verify = !no_verify;
  if (!objective.empty()) {
    std::string names;
    bool known = false;
    for (size_t i = 0; i < nmp::workloads::kNumMappingObjectives; ++i) {
      const std::string name = to_string(static_cast<nmp::workloads::MappingObjective>(i));
      names += (i ? ", " : "") + name;
      known |= name == objective;
    }
    if (!known) {
      throw nmp::sim::ConfigError("--objective", "",
                                  "expected one of " + names + ", got \"" + objective + "\"");
    }
    in.sets.push_back("workload.objective=" + objective);
  }
  in.options.progress = nmp::sim::ProgressLine::wanted(quiet);
  in.options.max_cycles = max_cycles.value;
  in.options.max_instructions = max_instructions.value;
  in.options.lockstep = in.options.lockstep || !in.options.trace_path.empty();
  in.options.timeline = timeline_options(timeline);
  const nmp::sim::SimConfig cfg = nmp::sim::load_sim_config(in);
  const Json report = nmp::sim::run_simulation(cfg);
  if (!out_path.empty()) write_file(out_path, report.dump(2) + "\n");
  if (!csv_path.empty()) write_file(csv_path, nmp::sim::layers_csv(report));
  if (!quiet) {
    std::cout << (in.options.analytical ? nmp::sim::render_analytical_summary(report)
                                        : nmp::sim::render_summary(report));
  }
  return 0;
}

int cmd_exec(int argc, char** argv) {
  std::string hw_path, program_path;
  std::vector<std::string> sets;
  ByteCount dram_bytes{1 << 20};
  Count max_cycles{kExecMaxCycles}, max_instructions{kExecMaxInstructions};
  nmp::sim::RunOptions options;
  po::options_description desc("options");
  desc.add_options()("hw", po::value(&hw_path)->required(), "hardware config (JSON)")(
      "program", po::value(&program_path)->required(), "program: assembly text or binary")(
      "set", po::value(&sets)->composing(), "override a hardware field: hw.path=value")(
      "dram-bytes", po::value(&dram_bytes)->default_value(dram_bytes),
      "DRAM size in bytes (suffixes K, M, G, T), zeros; pages are backed as they are touched")(
      "lockstep", po::bool_switch(&options.lockstep), "tick every unit every cycle")(
      "max-cycles", po::value(&max_cycles)->default_value(max_cycles),
      "watchdog: stop after this many cycles")(
      "max-instructions", po::value(&max_instructions)->default_value(max_instructions),
      "watchdog: stop after this many executed instructions")(
      "trace", po::value(&options.trace_path),
      "write the MAC array's per-cycle occupancy to this file (runs in lockstep)");
  TimelineArgs timeline;
  timeline.add_to(desc);
  po::positional_options_description pos;
  pos.add("program", 1);
  po::variables_map vm;
  if (!parse(argc, argv, "usage: nmpsim exec --hw FILE PROGRAM [--set hw.k=v ...]", desc, &pos,
             vm)) {
    return 0;
  }
  const std::vector<nmp::sim::SetOption> set_options = nmp::sim::parse_set_options(sets);
  for (const nmp::sim::SetOption& s : set_options) {
    if (s.root != "hw") {
      throw nmp::sim::ConfigError("--set " + s.text, "",
                                  "exec runs a program on hardware: only hw. fields can be set");
    }
  }
  if (dram_bytes.value > kMaxDramBytes) {
    throw nmp::sim::ConfigError("--dram-bytes", "",
                                "expected at most " + nmp::sim::bytes_text(kMaxDramBytes) +
                                    ", got " + nmp::sim::bytes_text(dram_bytes.value));
  }
  nmp::hw::NmpParams params = nmp::sim::load_hardware(hw_path, set_options).params;
  params.lockstep = options.lockstep || !options.trace_path.empty();
  params.max_cycles = max_cycles.value;
  params.max_instructions = max_instructions.value;
  options.timeline = timeline_options(timeline);
  const Json result = nmp::sim::run_program(params, nmp::sim::load_program_file(program_path),
                                            dram_bytes.value, {}, options, program_path);
  std::cout << result.dump(2) << "\n";
  return 0;
}

int cmd_dram(int argc, char** argv) {
  std::string hw_path, trace_path, out_path;
  std::vector<std::string> sets;
  po::options_description desc("options");
  desc.add_options()("hw", po::value(&hw_path), "hardware config (JSON) naming a DRAM standard")(
      "trace", po::value(&trace_path), "trace: 0xADDR READ|WRITE CYCLE per line")(
      "set", po::value(&sets)->composing(), "override a hardware field: hw.dram.x=value")(
      "out", po::value(&out_path), "write the JSON result here (default: standard output)")(
      "standards", "print the DRAM presets, their figures and sources (markdown) and exit");
  po::positional_options_description pos;
  pos.add("trace", 1);
  po::variables_map vm;
  const char* usage =
      "usage: nmpsim dram --hw FILE TRACE [--set hw.dram.k=v ...] [--out R.json]\n"
      "       nmpsim dram --standards";
  if (!parse(argc, argv, usage, desc, &pos, vm)) return 0;
  if (vm.count("standards")) {
    std::cout << nmp::sim::dram_standards_markdown();
    return 0;
  }
  for (const char* required : {"hw", "trace"}) {
    if (!vm.count(required)) throw po::required_option(std::string("--") + required);
  }
  const std::vector<nmp::sim::SetOption> set_options = nmp::sim::parse_set_options(sets);
  for (const nmp::sim::SetOption& s : set_options) {
    if (s.root != "hw") {
      throw nmp::sim::ConfigError("--set " + s.text, "", "nmpsim dram takes only hw. fields");
    }
  }
  const Json result =
      nmp::sim::run_dram_trace(nmp::sim::load_hardware(hw_path, set_options), trace_path);
  if (out_path.empty()) {
    std::cout << result.dump(2) << "\n";
  } else {
    write_file(out_path, result.dump(2) + "\n");
  }
  return 0;
}

int cmd_asm(int argc, char** argv) {
  std::string input, output;
  po::options_description desc("options");
  desc.add_options()("input", po::value(&input)->required(), "assembly source")(
      "output,o", po::value(&output), "binary program (default: INPUT with .bin)");
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  if (!parse(argc, argv, "usage: nmpsim asm INPUT.s [-o OUTPUT.bin]", desc, &pos, vm)) return 0;
  if (output.empty()) output = input.substr(0, input.rfind('.')) + ".bin";
  const std::string source = nmp::sim::read_input_file(input);
  nmp::isa::Program program;
  try {
    program = nmp::isa::assemble(source);
  } catch (const nmp::isa::AsmError& e) {
    std::cerr << input << ":" << e.what() << "\n";
    return kExitBadInput;
  }
  const std::vector<uint8_t> bytes = nmp::isa::to_binary(program);
  write_file(output, std::string(bytes.begin(), bytes.end()));
  return 0;
}

int cmd_disasm(int argc, char** argv) {
  std::string input, output;
  po::options_description desc("options");
  desc.add_options()("input", po::value(&input)->required(), "binary program")(
      "output,o", po::value(&output), "assembly text (default: standard output)");
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  if (!parse(argc, argv, "usage: nmpsim disasm INPUT.bin [-o OUTPUT.s]", desc, &pos, vm)) {
    return 0;
  }
  const std::string raw = nmp::sim::read_input_file(input);
  nmp::isa::Program program;
  try {
    program = nmp::isa::from_binary(std::vector<uint8_t>(raw.begin(), raw.end()));
  } catch (const nmp::isa::FormatError& e) {
    std::cerr << input << ": " << e.what() << "\n";
    return kExitBadInput;
  }
  const std::string text = nmp::isa::disassemble(program);
  if (output.empty()) {
    std::cout << text;
  } else {
    write_file(output, text);
  }
  return 0;
}

int cmd_arith(int argc, char** argv) {
  std::string format;
  po::options_description desc("options");
  desc.add_options()("format", po::value(&format)->required(),
                     "fp16, bf16, fp8_e4m3[_sat], fp8_e5m2[_sat], posit<N,ES> or positN_ES, "
                     "fixed<I,F>[,trunc][,wrap], intN");
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: nmpsim arith --format F < lines\n"
             "Each input line is OP A [B]: add, sub, mul, div, sqrt, from_double, to_double, or\n"
             "fdp X Y with X, Y comma-separated lists (exact dot product, rounded once).\n"
             "Operands are hex patterns (0x4a) or decimal values. Each output line is the\n"
             "result's pattern and value.",
             desc, nullptr, vm)) {
    return 0;
  }
  return nmp::sim::run_calculator(format, std::cin, std::cout, std::cerr);
}

int cmd_formats(int argc, char** argv) {
  nmp::workloads::TensorSource source;
  std::string distribution = "normal", npy, formats;
  Count count{100000}, seed{source.seed};
  po::options_description desc("options");
  desc.add_options()("npy", po::value(&npy), "read the tensor from a .npy file instead")(
      "distribution", po::value(&distribution)->default_value(distribution), "normal or uniform")(
      "mean", po::value(&source.mean)->default_value(source.mean), "normal: mean")(
      "std", po::value(&source.std)->default_value(source.std), "normal: standard deviation")(
      "low", po::value(&source.low)->default_value(source.low), "uniform: lower bound")(
      "high", po::value(&source.high)->default_value(source.high), "uniform: upper bound")(
      "count", po::value(&count)->default_value(count), "number of values")(
      "seed", po::value(&seed)->default_value(seed), "random seed")(
      "formats", po::value(&formats), "comma-separated formats (default: all)");
  po::variables_map vm;
  if (!parse(argc, argv, "usage: nmpsim formats [--npy FILE | --distribution D ...]", desc, nullptr,
             vm)) {
    return 0;
  }
  std::vector<float> x;
  std::string what;
  if (!npy.empty()) {
    x = nmp::sim::read_npy(npy).values;
    what = npy;
  } else {
    if (distribution != "normal" && distribution != "uniform") {
      throw nmp::sim::ConfigError("--distribution", "",
                                  "expected normal or uniform, got " + distribution);
    }
    source.distribution = distribution == "normal" ? nmp::workloads::Distribution::kNormal
                                                   : nmp::workloads::Distribution::kUniform;
    source.seed = seed.value;
    // The values, and each format's rounded copy beside them.
    nmp::sim::require_host_memory(count.value * 16, "--count " + std::to_string(count.value),
                                  "--count");
    x = nmp::workloads::generate_tensor(source, count.value);
    std::ostringstream d;
    d << count << " values, " << distribution << " ("
      << (distribution == "normal"
              ? "mean " + std::to_string(source.mean) + ", std " + std::to_string(source.std)
              : "low " + std::to_string(source.low) + ", high " + std::to_string(source.high))
      << "), seed " << source.seed;
    what = d.str();
  }
  std::vector<std::string> list = nmp::sim::default_format_list();
  if (!formats.empty()) {
    list.clear();
    std::istringstream in(formats);
    for (std::string f; std::getline(in, f, ',');) list.push_back(f);
  }
  std::vector<nmp::sim::FormatErrorRow> rows;
  try {
    rows = nmp::sim::format_errors(x, list);
  } catch (const std::invalid_argument& e) {
    throw nmp::sim::ConfigError("--formats", "", e.what());
  }
  std::cout << "tensor: " << what << "\n" << nmp::sim::render_format_table(rows);
  return 0;
}

int cmd_energy(int argc, char** argv) {
  bool events = false;
  std::string report, sram_tech;
  po::options_description desc("options");
  desc.add_options()("report", po::value(&report), "a report written by nmpsim run --out")(
      "events", po::bool_switch(&events),
      "print how each energy key is priced from the technology library's primitives (markdown)")(
      "sram", po::value(&sram_tech),
      "print the SRAM model a technology library (this file) gives: its fit, typical banks and "
      "a comparison with Horowitz (markdown)");
  po::positional_options_description pos;
  pos.add("report", 1);
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: nmpsim energy REPORT.json | nmpsim energy --events | nmpsim energy --sram "
             "TECH.json",
             desc, &pos, vm)) {
    return 0;
  }
  if (events) {
    std::cout << nmp::sim::event_map_markdown();
    return 0;
  }
  if (!sram_tech.empty()) {
    std::cout << nmp::sim::sram_model_markdown(nmp::sim::load_technology(sram_tech, {}));
    return 0;
  }
  if (report.empty()) {
    std::cerr << "nmpsim energy: give a report file or --events (see nmpsim energy --help)\n";
    return kExitBadInput;
  }
  std::cout << nmp::sim::energy_report(nmp::sim::load_report(report));
  return 0;
}

int cmd_compare(int argc, char** argv) {
  std::vector<std::string> reports;
  po::options_description desc("options");
  desc.add_options()("reports", po::value(&reports)->composing(), "two reports: A and B");
  po::positional_options_description pos;
  pos.add("reports", 2);
  po::variables_map vm;
  if (!parse(argc, argv, "usage: nmpsim compare A.json B.json", desc, &pos, vm)) return 0;
  if (reports.size() != 2) {
    std::cerr << "nmpsim compare: expected two reports (see nmpsim compare --help)\n";
    return kExitBadInput;
  }
  std::cout << nmp::sim::compare_reports(nmp::sim::load_report(reports[0]),
                                         nmp::sim::load_report(reports[1]), reports[0], reports[1]);
  return 0;
}

int cmd_sweep(int argc, char** argv) {
  std::string spec_path, shard, csv;
  nmp::sim::SweepOptions opt;
  bool quiet = false;
  po::options_description desc("options");
  desc.add_options()("spec", po::value(&spec_path)->required(), "sweep spec (JSON)")(
      "jobs,j", po::value(&opt.jobs)->default_value(1), "points run in parallel")(
      "resume", po::bool_switch(&opt.resume), "run only the points missing from the database")(
      "shard", po::value(&shard), "i/N: run only the i-th of N deterministic slices (0-based)")(
      "db", po::value(&opt.db_path),
      "SQLite database (default out/sweeps/NAME.sqlite, or NAME.shard-I-of-N.sqlite)")(
      "csv", po::value(&csv), "also export the database's points as CSV")(
      "analytical", po::bool_switch(&opt.analytical),
      "run every point with the analytical model, without cycle simulation")(
      "quiet,q", po::bool_switch(&quiet), "no progress line");
  po::positional_options_description pos;
  pos.add("spec", 1);
  po::variables_map vm;
  if (!parse(argc, argv, "usage: nmpsim sweep SPEC.json [--jobs N] [--resume] [--shard i/N]", desc,
             &pos, vm)) {
    return 0;
  }
  const nmp::sim::SweepSpec spec = nmp::sim::load_sweep_spec(spec_path);
  if (!shard.empty()) {
    unsigned i = 0, n = 0;
    char tail = 0;
    if (std::sscanf(shard.c_str(), "%u/%u%c", &i, &n, &tail) != 2 || n == 0 || i >= n) {
      std::cerr << "nmpsim sweep: --shard " << shard << ": expected i/N with 0 <= i < N\n";
      return kExitBadInput;
    }
    opt.shard = i;
    opt.shards = n;
  }
  if (opt.db_path.empty()) {
    std::filesystem::create_directories("out/sweeps");
    opt.db_path = "out/sweeps/" + spec.name +
                  (opt.shards > 1
                       ? ".shard-" + std::to_string(opt.shard) + "-of-" + std::to_string(opt.shards)
                       : std::string()) +
                  ".sqlite";
  }
  opt.progress = nmp::sim::ProgressLine::wanted(quiet);
  const nmp::sim::SweepSummary sum = nmp::sim::run_sweep(spec, opt);
  std::cout << "sweep " << spec.name << ": " << sum.points << " points"
            << (opt.shards > 1 ? " in this shard" : "") << ", " << sum.done << " run, "
            << sum.failed << " failed, " << sum.skipped << " already done; database " << opt.db_path
            << "\n";
  if (opt.shards == 1) {
    const auto front = nmp::sim::pareto_front(opt.db_path, spec.name, spec.constraints);
    for (const std::string& name : front.unknown_figures) {
      std::cerr << "nmpsim: warning: the constraint on \"" << name
                << "\" names no figure of any finished point's report (see the metrics table)\n";
    }
    std::cout << "Pareto front (latency, energy, area"
              << (front.points.empty() || std::isnan(front.points[0].error_rmse) ? "" : ", RMSE")
              << "): " << front.points.size() << " points";
    if (!spec.constraints.empty()) {
      std::cout << " of the " << front.feasible << " (of " << front.ok
                << " finished) that meet the constraints " << spec.constraints.dump();
    }
    std::cout << "\n";
    for (const auto& p : front.points) {
      std::cout << "  point " << p.point << "  latency " << p.latency_s << " s, energy "
                << p.energy_pj * 1e-6 << " uJ, area " << p.area_um2 * 1e-6 << " mm^2";
      if (!std::isnan(p.error_rmse)) std::cout << ", RMSE " << p.error_rmse;
      std::cout << "  [" << p.sets << "]\n";
    }
  }
  if (!csv.empty()) nmp::sim::export_csv(opt.db_path, csv);
  return sum.failed > 0 ? kExitSimulation : 0;
}

int cmd_merge(int argc, char** argv) {
  std::vector<std::string> files;
  std::string csv;
  po::options_description desc("options");
  desc.add_options()("files", po::value(&files)->composing(), "OUT.sqlite IN.sqlite ...")(
      "csv", po::value(&csv), "also export the merged points as CSV");
  po::positional_options_description pos;
  pos.add("files", -1);
  po::variables_map vm;
  if (!parse(argc, argv, "usage: nmpsim merge OUT.sqlite SHARD.sqlite ...", desc, &pos, vm)) {
    return 0;
  }
  if (files.size() < 2) {
    std::cerr << "nmpsim merge: expected an output database and at least one input\n";
    return kExitBadInput;
  }
  nmp::sim::merge_databases(files[0], std::vector<std::string>(files.begin() + 1, files.end()));
  if (!csv.empty()) nmp::sim::export_csv(files[0], csv);
  std::cout << "merged " << files.size() - 1 << " databases into " << files[0] << "\n";
  return 0;
}

int cmd_regress(int argc, char** argv) {
  std::string suite_path;
  nmp::sim::RegressOptions opt;
  po::options_description desc("options");
  desc.add_options()("suite", po::value(&suite_path)->required(), "regression suite (JSON)")(
      "update", po::bool_switch(&opt.update),
      "re-bless: write the current figures as the baseline, and print what changed")(
      "junit", po::value(&opt.junit_path), "also write the results as JUnit XML");
  po::positional_options_description pos;
  pos.add("suite", 1);
  po::variables_map vm;
  if (!parse(argc, argv, "usage: nmpsim regress SUITE.json [--update] [--junit FILE]", desc, &pos,
             vm)) {
    return 0;
  }
  const nmp::sim::RegressSuite suite = nmp::sim::load_suite(suite_path);
  const nmp::sim::RegressResult r = nmp::sim::run_regress(suite, opt);
  for (const auto& [name, why] : r.failures) std::cout << "FAILED  " << name << ": " << why << "\n";
  if (!r.differences.empty()) {
    std::cout << (opt.update ? "changed (now the baseline):\n"
                             : "differences from the baseline:\n");
    std::cout << nmp::sim::format_text("  %-36s %-48s %16s %16s\n", "case", "figure", "baseline",
                                       "now");
    for (const auto& d : r.differences) {
      std::cout << nmp::sim::format_text("  %-36s %-48s %16s %16s\n", d.case_name.c_str(),
                                         d.figure.c_str(),
                                         d.baseline.empty() ? "(absent)" : d.baseline.c_str(),
                                         d.now.empty() ? "(absent)" : d.now.c_str());
    }
  }
  std::cout << "regress " << suite.name << ": " << r.cases << " cases, "
            << (opt.update ? r.failures.size() : r.failed_cases()) << " failed ("
            << r.failures.size() << " did not run or differ from their bit-exact reference), "
            << r.differences.size() << " figures "
            << (opt.update ? "re-blessed" : "beyond tolerance") << "\n";
  if (opt.update) return r.failures.empty() ? 0 : kExitSimulation;
  return r.ok() ? 0 : kExitSimulation;
}

int cmd_isa(int argc, char** argv) {
  po::options_description desc("options");
  po::variables_map vm;
  if (!parse(argc, argv, "usage: nmpsim isa", desc, nullptr, vm)) return 0;
  std::cout << nmp::sim::isa_reference_markdown();
  return 0;
}

int cmd_params(int argc, char** argv) {
  std::string hw, tech, workload, under;
  std::vector<std::string> sets;
  po::options_description desc("options");
  desc.add_options()("hw", po::value(&hw), "hardware config")(
      "tech", po::value(&tech), "technology library")("workload", po::value(&workload), "workload")(
      "set", po::value(&sets)->composing(), "override a field first (repeatable)")(
      "under", po::value(&under), "only the fields under this JSON pointer (e.g. /dram)")(
      "layer-fields", "the fields of the vector layer types, from their descriptions");
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: nmpsim params [--hw FILE] [--tech FILE] [--workload FILE] [--set ...] "
             "[--under /POINTER] [--layer-fields]",
             desc, nullptr, vm)) {
    return 0;
  }
  if (vm.count("layer-fields")) std::cout << nmp::sim::layer_fields_markdown();
  const std::vector<nmp::sim::SetOption> set_options = nmp::sim::parse_set_options(sets);
  auto print = [&](const std::string& title, std::vector<nmp::sim::FieldRecord> fields) {
    if (!under.empty()) {
      fields.erase(std::remove_if(fields.begin(), fields.end(),
                                  [&](const nmp::sim::FieldRecord& f) {
                                    return f.pointer.rfind(under, 0) != 0;
                                  }),
                   fields.end());
    }
    std::cout << nmp::sim::fields_markdown(title, fields);
  };
  if (!hw.empty()) print("Hardware (`--hw`)", nmp::sim::load_hardware(hw, set_options).fields);
  if (!tech.empty()) {
    print("Technology (`--tech`)", nmp::sim::load_technology(tech, set_options).fields);
  }
  if (!workload.empty()) {
    print("Workload (`--workload`)", nmp::sim::load_workload(workload, set_options).fields);
  }
  return 0;
}

}  // namespace

// libsystemc refers to sc_main; nmpsim has its own main and never calls it.
int sc_main(int, char**) { return 0; }

int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  if (argc < 2) {
    std::cout << kUsage;
    std::cerr << "nmpsim: expected a command (see the usage above)\n";
    return kExitBadInput;
  }
  const std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << kUsage;
    return 0;
  }
  try {
    if (cmd == "run") return cmd_run(argc - 1, argv + 1);
    if (cmd == "exec") return cmd_exec(argc - 1, argv + 1);
    if (cmd == "dram") return cmd_dram(argc - 1, argv + 1);
    if (cmd == "asm") return cmd_asm(argc - 1, argv + 1);
    if (cmd == "disasm") return cmd_disasm(argc - 1, argv + 1);
    if (cmd == "arith") return cmd_arith(argc - 1, argv + 1);
    if (cmd == "formats") return cmd_formats(argc - 1, argv + 1);
    if (cmd == "isa") return cmd_isa(argc - 1, argv + 1);
    if (cmd == "energy") return cmd_energy(argc - 1, argv + 1);
    if (cmd == "compare") return cmd_compare(argc - 1, argv + 1);
    if (cmd == "sweep") return cmd_sweep(argc - 1, argv + 1);
    if (cmd == "merge") return cmd_merge(argc - 1, argv + 1);
    if (cmd == "regress") return cmd_regress(argc - 1, argv + 1);
    if (cmd == "params") return cmd_params(argc - 1, argv + 1);
    std::cerr << "nmpsim: unknown command '" << cmd << "' (see nmpsim --help)\n";
    return kExitBadInput;
  } catch (const nmp::sim::ConfigError& e) {
    for (const auto& issue : e.issues()) std::cerr << "error: " << issue.text() << "\n";
    return kExitBadInput;
  } catch (const po::error& e) {
    std::cerr << "nmpsim " << cmd << ": " << e.what() << " (see nmpsim " << cmd << " --help)\n";
    return kExitBadInput;
  } catch (const nmp::hw::SimulationError& e) {
    std::cerr << "simulation failed: " << e.what() << "\n";
    return kExitSimulation;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n";
    return kExitSimulation;
  }
}
