#include "sim/regress.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "sim/config.hpp"
#include "sim/input_limits.hpp"
#include "sim/run.hpp"

namespace nmp::sim {
namespace {

void flatten(const Json& j, const std::string& path, std::map<std::string, Json>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) flatten(v, path + "." + k, out);
  } else if (!j.is_array()) {
    out[path] = j;
  }
}

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '&':
        o += "&amp;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

bool within(const Json& base, const Json& now, double relative) {
  if (base == now) return true;
  if (relative <= 0 || !base.is_number() || !now.is_number()) return false;
  const double b = base.get<double>(), n = now.get<double>();
  return std::fabs(n - b) <= relative * std::fabs(b);
}

}  // namespace

std::map<std::string, Json> regress_figures(const Json& report) {
  std::map<std::string, Json> f;
  f["cycles.total"] = report["cycles"]["total"];
  flatten(report["counters"], "counters", f);
  f["energy_pj.total"] = report["energy_pj"]["total"];
  flatten(report["energy_pj"]["by_unit"], "energy_pj.by_unit", f);
  f["area_um2.total"] = report["area_um2"]["total"];
  flatten(report["error"], "error", f);
  f["invariants.outputs_equal_reference"] = report["invariants"]["outputs_equal_reference"];
  return f;
}

RegressSuite load_suite(const std::string& path) {
  const Json json = parse_json_file(path);
  Document doc(path, json);
  ObjectReader root = doc.root();
  RegressSuite s;
  s.file = path;
  auto relative = [&](const std::string& p) { return path_beside(path, p); };
  s.name = root.string_required("name", "the suite's name");
  s.baseline_path = relative(root.string_required("baseline",
                                                  "the baseline file, relative to "
                                                  "the suite"));
  ObjectReader tol = root.object("tolerances", "figure-name prefix -> relative tolerance");
  for (const std::string& prefix : tol.keys()) {
    s.tolerances[prefix] = tol.number(prefix, 0, 0, 1, "", "relative tolerance");
  }
  tol.finish();
  struct Variant {
    std::string hw;
    std::vector<std::string> sets;
  };
  auto sets_of = [](ObjectReader& r, const char* key) {
    std::vector<std::string> sets;
    if (const Json* v = r.raw(key)) {
      if (!v->is_array()) {
        r.error(key, "expected an array of \"root.path=value\" strings");
      } else {
        for (const Json& e : *v) {
          if (e.is_string())
            sets.push_back(e.get<std::string>());
          else
            r.error(key, "expected strings");
        }
      }
    }
    return sets;
  };
  std::map<std::string, Variant> variants;
  ObjectReader vr = root.object_required("variants", "name -> hardware file and overrides");
  for (const std::string& name : vr.keys()) {
    ObjectReader v = vr.object(name, "a hardware variant");
    variants[name] = {relative(v.string_required("hw", "hardware file")), sets_of(v, "set")};
    v.finish();
  }
  vr.finish();
  struct Workload {
    Json body;
    std::string file;  // empty: inline
    std::vector<std::string> sets;
    bool timing_only = false;
  };
  std::map<std::string, Workload> workloads;
  ObjectReader wr =
      root.object_required("workloads", "name -> workload (inline, or a file), overrides and mode");
  for (const std::string& name : wr.keys()) {
    ObjectReader w = wr.object(name, "a workload");
    Workload entry;
    entry.sets = sets_of(w, "set");
    entry.timing_only = w.boolean("timing_only", false,
                                  "run without values: cycles, counters and energy only (whole "
                                  "models)");
    if (w.has("file") == w.has("workload")) {
      w.error("", "expected either \"workload\" (inline JSON) or \"file\" (a workload file)");
      (void)w.raw("file");
      (void)w.raw("workload");
    } else if (w.has("file")) {
      entry.file = relative(w.string_required("file", "a workload file, relative to the suite"));
      try {
        entry.body = parse_json_file(entry.file);
      } catch (const ConfigError& e) {
        w.error("file", e.issues().front().text());
      }
    } else if (const Json* body = w.raw("workload"); !body->is_object()) {
      w.error("workload", "expected the workload as an inline JSON object");
    } else {
      entry.body = *body;
    }
    workloads[name] = entry;
    w.finish();
  }
  wr.finish();
  const Json* cases = root.raw("cases");
  if (!cases || !cases->is_array() || cases->empty()) {
    root.error("cases", "expected a non-empty array of [variant, workload] pairs");
  } else {
    for (size_t i = 0; i < cases->size(); ++i) {
      const Json& c = (*cases)[i];
      const std::string where = "/cases/" + std::to_string(i);
      if (!c.is_array() || c.size() != 2 || !c[0].is_string() || !c[1].is_string()) {
        doc.error(where, "expected [variant, workload]");
        continue;
      }
      const std::string v = c[0], w = c[1];
      if (!variants.count(v)) {
        doc.error(where, "unknown variant '" + v + "'");
      } else if (!workloads.count(w)) {
        doc.error(where, "unknown workload '" + w + "'");
      } else {
        const Workload& wl = workloads[w];
        RegressCase rc;
        rc.name = v + "/" + w;
        rc.hw_path = variants[v].hw;
        rc.sets = variants[v].sets;
        rc.sets.insert(rc.sets.end(), wl.sets.begin(), wl.sets.end());
        rc.workload = wl.body;
        rc.workload_file = wl.file.empty() ? path + " (workload " + w + ")" : wl.file;
        rc.timing_only = wl.timing_only;
        s.cases.push_back(rc);
      }
    }
  }
  root.finish();
  doc.throw_if_errors();
  return s;
}

size_t RegressResult::failed_cases() const {
  std::set<std::string> names;
  for (const auto& [name, why] : failures) names.insert(name);
  for (const RegressDifference& d : differences) names.insert(d.case_name);
  return names.size();
}

RegressResult run_regress(const RegressSuite& suite, const RegressOptions& opt) {
  // The baseline: case -> figure -> value. Only --update may start without one.
  Json baseline = Json::object();
  if (!opt.update || path_exists(suite.baseline_path)) {
    if (!path_exists(suite.baseline_path)) {
      throw ConfigError(suite.baseline_path, "",
                        "no baseline: run nmpsim regress --update to write one from this build");
    }
    baseline = parse_json_file(suite.baseline_path);
    if (!baseline.is_object()) {
      throw ConfigError(suite.baseline_path, "",
                        "expected an object of cases, got " + std::string(baseline.type_name()));
    }
    for (const auto& [name, figures] : baseline.items()) {
      if (!figures.is_object()) {
        throw ConfigError(suite.baseline_path, "/" + name,
                          "expected an object of figures, got " + figures.dump());
      }
    }
  }
  RegressResult result;
  Json fresh = Json::object();
  for (const RegressCase& c : suite.cases) {
    ++result.cases;
    Json report;
    try {
      report = run_in_child([&] {
        const std::vector<SetOption> sets = parse_set_options(c.sets);
        SimConfig cfg;
        cfg.hw = load_hardware(c.hw_path, sets);
        cfg.tech = load_technology(cfg.hw.technology_path, sets);
        cfg.workload = parse_workload(c.workload, c.workload_file, sets);
        cfg.sets = c.sets;
        cfg.options.timing_only = c.timing_only;
        return run_simulation(cfg);
      });
    } catch (const ConfigError& e) {
      std::string why;
      for (const ConfigIssue& i : e.issues()) why += (why.empty() ? "" : "; ") + i.text();
      result.failures[c.name] = why;
      continue;
    } catch (const std::exception& e) {
      result.failures[c.name] = e.what();
      continue;
    }
    if (!c.timing_only && report["invariants"]["outputs_equal_reference"] != true) {
      result.failures[c.name] = "outputs differ from the bit-exact reference";
    }
    const std::map<std::string, Json> now = regress_figures(report);
    Json& figures = fresh[c.name] = Json::object();
    for (const auto& [k, v] : now) figures[k] = v;
    const Json& base = baseline.contains(c.name) ? baseline[c.name] : Json::object();
    std::set<std::string> names;
    for (const auto& [k, v] : now) names.insert(k);
    for (const auto& [k, v] : base.items()) names.insert(k);
    for (const std::string& k : names) {
      const bool in_base = base.contains(k), in_now = now.count(k) > 0;
      double tolerance = 0;
      for (const auto& [prefix, t] : suite.tolerances) {
        if (k.rfind(prefix, 0) == 0) tolerance = t;
      }
      if (in_base && in_now && within(base[k], now.at(k), tolerance)) continue;
      result.differences.push_back(
          {c.name, k, in_base ? base[k].dump() : "", in_now ? now.at(k).dump() : ""});
    }
  }
  if (opt.update) {
    std::ofstream out(suite.baseline_path);
    if (!out) throw ConfigError(suite.baseline_path, "", "cannot write the baseline");
    out << fresh.dump(1) << "\n";
  }
  if (!opt.junit_path.empty()) {
    std::ofstream x(opt.junit_path);
    if (!x) throw ConfigError(opt.junit_path, "", "cannot write the JUnit file");
    std::map<std::string, std::string> why = result.failures;
    for (const RegressDifference& d : result.differences) {
      why[d.case_name] += d.figure + ": baseline " + (d.baseline.empty() ? "absent" : d.baseline) +
                          ", now " + (d.now.empty() ? "absent" : d.now) + "\n";
    }
    x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"" << xml_escape(suite.name)
      << "\" tests=\"" << suite.cases.size() << "\" failures=\"" << why.size() << "\">\n";
    for (const RegressCase& c : suite.cases) {
      x << "  <testcase classname=\"" << xml_escape(suite.name) << "\" name=\""
        << xml_escape(c.name) << "\"";
      if (why.count(c.name)) {
        x << ">\n    <failure message=\"figures differ from the baseline\">"
          << xml_escape(why[c.name]) << "</failure>\n  </testcase>\n";
      } else {
        x << "/>\n";
      }
    }
    x << "</testsuite>\n";
  }
  return result;
}

}  // namespace nmp::sim
