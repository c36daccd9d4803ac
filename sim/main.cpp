// nmpsim: the command line. Exit codes: 0 success, 1 simulation failure, 2 bad input.
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
#include "sim/npy.hpp"
#include "sim/regress.hpp"
#include "sim/report.hpp"
#include "sim/report_tools.hpp"
#include "sim/run.hpp"
#include "sim/sweep.hpp"
#include "workloads/model.hpp"

namespace po = boost::program_options;
using nmp::sim::Json;

namespace {

constexpr int kExitSimulation = 1;
constexpr int kExitBadInput = 2;

const char* const kUsage = R"(nmpsim - a cycle-accurate simulator of a ternary neural microprocessor

usage: nmpsim <command> [options]

commands:
  run       simulate a workload on a hardware config and report cycles, energy, area, error
  exec      run a program (text or binary) on a hardware config; print cycles and counters
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

// Parses a subcommand's options; prints its help and returns false if asked to.
bool parse(int argc, char** argv, const std::string& usage, po::options_description& desc,
           po::positional_options_description* positional, po::variables_map& vm) {
  desc.add_options()("help,h", "show this help");
  po::command_line_parser parser(argc, argv);
  parser.options(desc);
  if (positional) parser.positional(*positional);
  po::store(parser.run(), vm);
  if (vm.count("help")) {
    std::cout << usage << "\n" << desc;
    return false;
  }
  po::notify(vm);
  return true;
}

std::string read_file(const std::string& path, bool binary) {
  std::ifstream in(path, binary ? std::ios::binary : std::ios::in);
  if (!in) throw nmp::sim::ConfigError(path, "", "cannot open the file");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  if (!out) throw nmp::sim::ConfigError(path, "", "cannot write the file");
}

int cmd_run(int argc, char** argv) {
  nmp::sim::SimInputs in;
  std::string out_path;
  bool quiet = false, no_verify = false;
  po::options_description desc("options");
  desc.add_options()("hw", po::value(&in.hw_path)->required(), "hardware config (JSON)")(
      "workload", po::value(&in.workload_path)->required(), "workload (JSON)")(
      "tech", po::value(&in.tech_path), "technology library (JSON); default: the hw file's")(
      "set", po::value(&in.sets)->composing(),
      "override a field: hw.path.to.field=value, tech.... or workload.... (repeatable)")(
      "out", po::value(&out_path), "write the JSON report here")(
      "dump", po::value(&in.options.dump_dir), "write input, weight and output tensors (.npy)")(
      "lockstep", po::bool_switch(&in.options.lockstep), "tick every unit every cycle")(
      "timing-only", po::bool_switch(&in.options.timing_only),
      "compute counts and cycles, not values")(
      "no-verify", po::bool_switch(&no_verify),
      "skip the reference models (no bit-exact check, no error figures)")(
      "max-cycles", po::value(&in.options.max_cycles)->default_value(in.options.max_cycles),
      "watchdog: stop after this many cycles")(
      "max-instructions",
      po::value(&in.options.max_instructions)->default_value(in.options.max_instructions),
      "watchdog: stop after this many executed instructions")(
      "profile", po::bool_switch(&in.options.profile),
      "print the host's wall time per phase to standard error")("quiet,q", po::bool_switch(&quiet),
                                                                "print nothing on success");
  po::variables_map vm;
  if (!parse(argc, argv,
             "usage: nmpsim run --hw FILE --workload FILE [--tech FILE] [--set k=v ...] "
             "[--out report.json] [--dump DIR]",
             desc, nullptr, vm)) {
    return 0;
  }
  in.options.verify = !no_verify;
  in.options.lockstep = in.options.lockstep || !in.options.trace_path.empty();
  const nmp::sim::SimConfig cfg = nmp::sim::load_sim_config(in);
  const Json report = nmp::sim::run_simulation(cfg);
  if (!out_path.empty()) write_file(out_path, report.dump(2) + "\n");
  if (!quiet) std::cout << nmp::sim::render_summary(report);
  return 0;
}

// Reads a program from assembly text or, if it starts with the magic, the binary format.
nmp::isa::Program load_program(const std::string& path) {
  const std::string raw = read_file(path, true);
  if (raw.rfind("NMPB", 0) == 0) {
    try {
      return nmp::isa::from_binary(std::vector<uint8_t>(raw.begin(), raw.end()));
    } catch (const nmp::isa::FormatError& e) {
      throw nmp::sim::ConfigError(path, "", e.what());
    }
  }
  try {
    return nmp::isa::assemble(raw);
  } catch (const nmp::isa::AsmError& e) {
    throw nmp::sim::ConfigError(
        path + ":" + std::to_string(e.line()) + ":" + std::to_string(e.column()), "",
        std::string(e.what()).substr(std::string(e.what()).find(' ') + 1));
  }
}

int cmd_exec(int argc, char** argv) {
  std::string hw_path, program_path;
  std::vector<std::string> sets;
  uint64_t dram_bytes = 1 << 20;
  nmp::sim::RunOptions options;
  po::options_description desc("options");
  desc.add_options()("hw", po::value(&hw_path)->required(), "hardware config (JSON)")(
      "program", po::value(&program_path)->required(), "program: assembly text or binary")(
      "set", po::value(&sets)->composing(), "override a hardware field: hw.path=value")(
      "dram-bytes", po::value(&dram_bytes)->default_value(dram_bytes), "DRAM size (zeros)")(
      "lockstep", po::bool_switch(&options.lockstep), "tick every unit every cycle")(
      "max-cycles", po::value(&options.max_cycles)->default_value(options.max_cycles),
      "watchdog: stop after this many cycles")(
      "trace", po::value(&options.trace_path),
      "write the MAC array's per-cycle occupancy to this file (runs in lockstep)");
  po::positional_options_description pos;
  pos.add("program", 1);
  po::variables_map vm;
  if (!parse(argc, argv, "usage: nmpsim exec --hw FILE PROGRAM [--set hw.k=v ...]", desc, &pos,
             vm)) {
    return 0;
  }
  nmp::hw::NmpParams params =
      nmp::sim::load_hardware(hw_path, nmp::sim::parse_set_options(sets)).params;
  params.lockstep = options.lockstep || !options.trace_path.empty();
  params.max_cycles = options.max_cycles;
  const Json result = nmp::sim::run_program(params, load_program(program_path),
                                            std::vector<uint8_t>(dram_bytes), options.trace_path);
  std::cout << result.dump(2) << "\n";
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
  const std::string source = read_file(input, false);
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
  const std::string raw = read_file(input, true);
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
  uint64_t count = 100000;
  po::options_description desc("options");
  desc.add_options()("npy", po::value(&npy), "read the tensor from a .npy file instead")(
      "distribution", po::value(&distribution)->default_value(distribution), "normal or uniform")(
      "mean", po::value(&source.mean)->default_value(source.mean), "normal: mean")(
      "std", po::value(&source.std)->default_value(source.std), "normal: standard deviation")(
      "low", po::value(&source.low)->default_value(source.low), "uniform: lower bound")(
      "high", po::value(&source.high)->default_value(source.high), "uniform: upper bound")(
      "count", po::value(&count)->default_value(count), "number of values")(
      "seed", po::value(&source.seed)->default_value(source.seed), "random seed")(
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
    x = nmp::workloads::generate_tensor(source, count);
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
  std::string report;
  po::options_description desc("options");
  desc.add_options()("report", po::value(&report), "a report written by nmpsim run --out")(
      "events", po::bool_switch(&events),
      "print how each energy key is priced from the technology library's primitives (markdown)");
  po::positional_options_description pos;
  pos.add("report", 1);
  po::variables_map vm;
  if (!parse(argc, argv, "usage: nmpsim energy REPORT.json | nmpsim energy --events", desc, &pos,
             vm)) {
    return 0;
  }
  if (events) {
    std::cout << nmp::sim::event_map_markdown();
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
  opt.progress = !quiet;
  const nmp::sim::SweepSummary sum = nmp::sim::run_sweep(spec, opt);
  std::cout << "sweep " << spec.name << ": " << sum.points << " points"
            << (opt.shards > 1 ? " in this shard" : "") << ", " << sum.done << " run, "
            << sum.failed << " failed, " << sum.skipped << " already done; database " << opt.db_path
            << "\n";
  if (opt.shards == 1) {
    const auto front = nmp::sim::pareto_front(opt.db_path, spec.name);
    std::cout << "Pareto front (latency, energy, area"
              << (front.empty() || std::isnan(front[0].error_rmse) ? "" : ", RMSE")
              << "): " << front.size() << " points\n";
    for (const auto& p : front) {
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
    char line[512];
    std::snprintf(line, sizeof line, "  %-36s %-48s %16s %16s\n", "case", "figure", "baseline",
                  "now");
    std::cout << line;
    for (const auto& d : r.differences) {
      std::snprintf(line, sizeof line, "  %-36s %-48s %16s %16s\n", d.case_name.c_str(),
                    d.figure.c_str(), d.baseline.empty() ? "(absent)" : d.baseline.c_str(),
                    d.now.empty() ? "(absent)" : d.now.c_str());
      std::cout << line;
    }
  }
  std::cout << "regress " << suite.name << ": " << r.cases << " cases, " << r.failures.size()
            << " failed, " << r.differences.size() << " figures "
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
  std::string hw, tech, workload;
  po::options_description desc("options");
  desc.add_options()("hw", po::value(&hw), "hardware config")(
      "tech", po::value(&tech), "technology library")("workload", po::value(&workload), "workload");
  po::variables_map vm;
  if (!parse(argc, argv, "usage: nmpsim params [--hw FILE] [--tech FILE] [--workload FILE]", desc,
             nullptr, vm)) {
    return 0;
  }
  if (!hw.empty()) {
    std::cout << nmp::sim::fields_markdown("Hardware (`--hw`)",
                                           nmp::sim::load_hardware(hw, {}).fields);
  }
  if (!tech.empty()) {
    std::cout << nmp::sim::fields_markdown("Technology (`--tech`)",
                                           nmp::sim::load_technology(tech, {}).fields);
  }
  if (!workload.empty()) {
    std::cout << nmp::sim::fields_markdown("Workload (`--workload`)",
                                           nmp::sim::load_workload(workload, {}).fields);
  }
  return 0;
}

}  // namespace

// libsystemc refers to sc_main; nmpsim has its own main and never calls it.
int sc_main(int, char**) { return 0; }

int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1);
  if (argc < 2) {
    std::cerr << kUsage;
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
