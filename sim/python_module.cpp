// The `nmpsim` Python module (pybind11): the command line's runs, sweeps and calculator as
// functions returning Python objects. Configs are paths or dicts; a dict's relative paths are
// taken from the working directory. Every simulation runs in a forked child, as sweeps do
// (SystemC elaborates once per process), so a module may run any number of them.
//
//   import nmpsim
//   r = nmpsim.run(hw="configs/hw/default.json", workload="configs/workloads/default.json",
//                  sets={"hw.mac_array.rows": 32}, timing_only=True)  # or analytical=True
//   r["cycles"]["total"]
//
// Bad input raises nmpsim.ConfigError (a ValueError) carrying `file`, `pointer` and `issues`
// (each {file, pointer, message}); a fault of the simulated machine raises
// nmpsim.SimulationError (a RuntimeError). docs/python.md is the user's guide.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "sim/arith_tools.hpp"
#include "sim/config.hpp"
#include "sim/json_reader.hpp"
#include "sim/run.hpp"
#include "sim/sweep.hpp"

namespace py = pybind11;
using nmp::sim::ConfigError;
using nmp::sim::Json;

// libsystemc refers to sc_main; the module never calls it.
extern "C" __attribute__((visibility("default"))) int sc_main(int, char**) { return 0; }

namespace {

Json to_json(const py::handle& value) {
  const py::module_ json = py::module_::import("json");
  return Json::parse(json.attr("dumps")(value).cast<std::string>());
}

py::object to_python(const Json& value) {
  return py::module_::import("json").attr("loads")(value.dump());
}

// A config argument: a path (str or os.PathLike), or a dict held in memory under `name`.
struct ConfigArg {
  std::string path;  // empty for a dict
  Json json;
};

ConfigArg config_arg(const py::handle& value, const char* what) {
  if (py::isinstance<py::dict>(value)) return {"", to_json(value)};
  if (py::isinstance<py::str>(value) ||
      py::hasattr(value, "__fspath__")) {  // os.PathLike: pathlib.Path and the like
    return {py::module_::import("os").attr("fspath")(value).cast<std::string>(), Json()};
  }
  throw py::type_error(std::string(what) +
                       ": expected a path (str or os.PathLike) or a dict, got " +
                       py::str(py::type::of(value).attr("__name__")).cast<std::string>());
}

// {"hw.mac_array.rows": 32, ...} -> ["hw.mac_array.rows=32", ...] (strings as they are).
std::vector<std::string> set_options(const py::handle& sets) {
  std::vector<std::string> out;
  if (sets.is_none()) return out;
  if (!py::isinstance<py::dict>(sets))
    throw py::type_error("sets: expected a dict of field path -> value");
  for (const auto& [key, value] : sets.cast<py::dict>()) {
    if (!py::isinstance<py::str>(key)) throw py::type_error("sets: keys must be strings");
    const std::string text =
        py::isinstance<py::str>(value) ? value.cast<std::string>() : to_json(value).dump();
    out.push_back(key.cast<std::string>() + "=" + text);
  }
  return out;
}

// A temporary directory removed when it goes out of scope.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "nmpsim-py-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("cannot make a temporary directory");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

nmp::sim::SimConfig sim_config(const py::handle& hw, const py::handle& workload,
                               const py::handle& tech, const py::handle& sets,
                               const py::handle& mapping) {
  nmp::sim::SimInputs in;
  in.sets = set_options(sets);
  const std::vector<nmp::sim::SetOption> parsed = nmp::sim::parse_set_options(in.sets);
  nmp::sim::SimConfig c;
  const ConfigArg h = config_arg(hw, "hw");
  c.hw = h.path.empty() ? nmp::sim::parse_hardware(h.json, "<hw dict>", parsed)
                        : nmp::sim::load_hardware(h.path, parsed);
  if (tech.is_none()) {
    c.tech = nmp::sim::load_technology(c.hw.technology_path, parsed);
  } else {
    const ConfigArg t = config_arg(tech, "tech");
    c.tech = t.path.empty() ? nmp::sim::parse_technology(t.json, "<tech dict>", parsed)
                            : nmp::sim::load_technology(t.path, parsed);
  }
  const ConfigArg w = config_arg(workload, "workload");
  c.workload = w.path.empty() ? nmp::sim::parse_workload(w.json, "<workload dict>", parsed)
                              : nmp::sim::load_workload(w.path, parsed);
  if (!mapping.is_none()) {
    const ConfigArg m = config_arg(mapping, "mapping");
    if (!m.path.empty()) {
      nmp::sim::apply_mapping_file(c.workload, m.path);
    } else {  // the reader takes files: the dict goes through one
      const TempDir dir;
      const std::string file = dir.path() + "/mapping.json";
      std::ofstream(file) << m.json.dump();
      nmp::sim::apply_mapping_file(c.workload, file);
    }
  }
  c.sets = in.sets;
  return c;
}

py::object run(const py::object& hw, const py::object& workload, const py::object& tech,
               const py::object& sets, bool timing_only, bool analytical, bool verify,
               bool lockstep, const py::object& mapping, bool dump, double min_sqnr_db) {
  nmp::sim::SimConfig c = sim_config(hw, workload, tech, sets, mapping);
  c.options.timing_only = timing_only;
  c.options.analytical = analytical;
  c.options.verify = verify;
  c.options.lockstep = lockstep;
  c.options.min_sqnr_db = min_sqnr_db;
  c.options.progress = false;
  std::unique_ptr<TempDir> dump_dir;
  if (dump) {
    dump_dir = std::make_unique<TempDir>();
    c.options.dump_dir = dump_dir->path();
  }
  Json report;
  {
    const py::gil_scoped_release unlocked;  // the child runs while Python threads go on
    // An analytical run elaborates no SystemC, so it runs here (a point in milliseconds).
    report = analytical ? nmp::sim::run_simulation(c) : nmp::sim::run_isolated(c);
  }
  py::object out = to_python(report);
  if (dump) {
    // Every dumped tensor as a numpy array, by its file's name without ".npy".
    const py::module_ numpy = py::module_::import("numpy");
    py::dict tensors;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dump_dir->path()))
      if (entry.path().extension() == ".npy") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files)
      tensors[py::str(f.stem().string())] = numpy.attr("load")(f.string());
    out["tensors"] = tensors;
  }
  return out;
}

py::object sweep(const py::object& spec, const py::object& db, unsigned jobs, bool resume,
                 bool analytical) {
  const ConfigArg s = config_arg(spec, "spec");
  const nmp::sim::SweepSpec parsed = s.path.empty()
                                         ? nmp::sim::parse_sweep_spec(s.json, "<sweep dict>")
                                         : nmp::sim::load_sweep_spec(s.path);
  nmp::sim::SweepOptions options;
  options.jobs = std::max(1u, jobs);
  options.resume = resume;
  options.analytical = analytical;
  options.progress = false;
  std::unique_ptr<TempDir> scratch;
  if (db.is_none()) {
    scratch = std::make_unique<TempDir>();
    options.db_path = scratch->path() + "/sweep.sqlite";
  } else {
    options.db_path = config_arg(db, "db").path;
    if (options.db_path.empty()) throw py::type_error("db: expected a path");
  }
  {
    const py::gil_scoped_release unlocked;
    (void)nmp::sim::run_sweep(parsed, options);
  }
  return to_python(nmp::sim::sweep_rows(options.db_path, parsed.name));
}

py::object pareto(const py::object& db, const std::string& sweep_name,
                  const py::object& constraints) {
  const std::string path = config_arg(db, "db").path;
  if (path.empty()) throw py::type_error("db: expected a path");
  const Json bounds = constraints.is_none() ? Json::object() : to_json(constraints);
  if (!bounds.is_object()) throw py::type_error("constraints: expected a dict");
  const nmp::sim::ParetoFront front = nmp::sim::pareto_front(path, sweep_name, bounds);
  Json points = Json::array();
  for (const auto& p : front.points) {
    points.push_back({{"point", p.point},
                      {"sets", Json::parse(p.sets, nullptr, false)},
                      {"latency_s", p.latency_s},
                      {"energy_pj", p.energy_pj},
                      {"area_um2", p.area_um2},
                      {"error_rmse", std::isnan(p.error_rmse) ? Json() : Json(p.error_rmse)}});
  }
  return to_python({{"points", points},
                    {"ok", front.ok},
                    {"feasible", front.feasible},
                    {"unknown_figures", front.unknown_figures}});
}

std::vector<std::string> arith(const std::string& format, const py::object& lines) {
  std::string text;
  if (py::isinstance<py::str>(lines)) {
    text = lines.cast<std::string>();
  } else {
    for (const py::handle& line : lines) {
      if (!py::isinstance<py::str>(line)) throw py::type_error("lines: expected strings");
      text += line.cast<std::string>() + "\n";
    }
  }
  std::istringstream in(text);
  std::ostringstream out, err;
  if (nmp::sim::run_calculator(format, in, out, err) != 0) {
    std::string message = err.str();
    while (!message.empty() && message.back() == '\n') message.pop_back();
    throw ConfigError("<arith input>", "", message);
  }
  std::vector<std::string> results;
  std::istringstream result_lines(out.str());
  for (std::string line; std::getline(result_lines, line);) results.push_back(line);
  return results;
}

}  // namespace

PYBIND11_MODULE(nmpsim, m) {
  m.doc() = "nmpsim: a cycle-accurate simulator of a ternary neural microprocessor";
  m.attr("__version__") = NMPSIM_VERSION;
  static py::exception<ConfigError> config_error(m, "ConfigError", PyExc_ValueError);
  static py::exception<nmp::hw::SimulationError> simulation_error(m, "SimulationError",
                                                                  PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ConfigError& e) {
      py::object error = py::handle(config_error.ptr())(e.what());  // an instance
      py::list issues;
      for (const nmp::sim::ConfigIssue& i : e.issues()) {
        py::dict d;
        d["file"] = i.file;
        d["pointer"] = i.pointer;
        d["message"] = i.message;
        issues.append(d);
      }
      const nmp::sim::ConfigIssue& first = e.issues().front();
      error.attr("file") = first.file;
      error.attr("pointer") = first.pointer;
      error.attr("issues") = issues;
      PyErr_SetObject(config_error.ptr(), error.ptr());
    } catch (const nmp::hw::SimulationError& e) {
      simulation_error(e.what());
    }
  });
  m.def("run", &run, py::arg("hw"), py::arg("workload"), py::kw_only(),
        py::arg("tech") = py::none(), py::arg("sets") = py::none(), py::arg("timing_only") = false,
        py::arg("analytical") = false, py::arg("verify") = true, py::arg("lockstep") = false,
        py::arg("mapping") = py::none(), py::arg("dump") = false,
        py::arg("min_sqnr_db") = nmp::sim::RunOptions{}.min_sqnr_db,
        "Simulates a workload on a hardware config: the report `nmpsim run --out` writes, as a "
        "dict; with dump=True also 'tensors' (numpy arrays of the inputs, weights and outputs).");
  m.def("sweep", &sweep, py::arg("spec"), py::kw_only(), py::arg("db") = py::none(),
        py::arg("jobs") = 1, py::arg("resume") = false, py::arg("analytical") = false,
        "Runs a sweep spec (path or dict) into an SQLite database (a temporary one if db is "
        "None) and returns its points: sets, status, error and headline figures.");
  m.def("pareto", &pareto, py::arg("db"), py::arg("sweep"), py::kw_only(),
        py::arg("constraints") = py::none(),
        "The Pareto front of a sweep's points that meet the constraints ({figure: {min, max}}).");
  m.def("arith", &arith, py::arg("format"), py::arg("lines"),
        "The `nmpsim arith` calculator: 'OP A [B]' lines in, one result line each out.");
}
