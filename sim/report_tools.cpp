#include "sim/report_tools.hpp"

#include "sim/text.hpp"

#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

namespace nmp::sim {
namespace {

constexpr int kSchemaVersion = 1;

std::string num(double v, const char* fmt = "%.4g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

double number(const Json& j) { return j.is_number() ? j.get<double>() : 0.0; }

// Arithmetic energy (the MAC array's PE events) of a report, in pJ.
double mac_event_pj(const Json& r) {
  double pj = 0;
  for (const auto& [key, e] : r["energy_pj"]["by_event"].items()) {
    if (key.rfind("pe.mac.", 0) == 0) pj += number(e["total_pj"]);
  }
  return pj;
}

std::string title(const Json& r) {
  const Json& c = r["config"];
  return c["workload"].value("name", std::string("?")) + " on " +
         c["hw"].value("name", std::string("?"));
}

}  // namespace

namespace {

// Checks, with the JSON path of every problem, each field that energy_report() and
// compare_reports() read, so that they then read a well-formed report.
class ReportSchema {
 public:
  ReportSchema(const Json& report, std::string file) : r_(report), file_(std::move(file)) {}

  void check() {
    if (!r_.is_object()) fail("", "not an nmpsim report: expected a JSON object");
    if (!r_.contains("schema_version")) fail("", "not an nmpsim report (no schema_version)");
    if (r_["schema_version"] != kSchemaVersion) {
      fail("/schema_version",
           "expected " + std::to_string(kSchemaVersion) + ", got " + r_["schema_version"].dump());
    }
    for (const char* who : {"/config/workload", "/config/hw"}) {
      const Json& o = at(who, kObject);
      if (o.contains("name")) at(std::string(who) + "/name", kString);
    }
    at("/cycles/total", kUnsigned);
    for (const char* key : {"/energy_pj/total", "/energy_pj/leakage", "/energy_pj/clock"}) {
      at(key, kNumber);
    }
    for (const char* key : {"/energy_pj/leakage_source", "/energy_pj/clock_source"}) {
      optional(key, kString);
    }
    for (const auto& [unit, v] : at("/energy_pj/by_unit", kObject).items()) {
      at("/energy_pj/by_unit/" + token(unit), kNumber);
    }
    for (const auto& [event, v] : at("/energy_pj/by_event", kObject).items()) {
      const std::string p = "/energy_pj/by_event/" + token(event);
      at(p + "/count", kUnsigned);
      at(p + "/pj_per_event", kNumber);
      at(p + "/total_pj", kNumber);
      optional(p + "/source", kString);
    }
    for (const auto& [block, counters] : at("/counters", kObject).items()) {
      for (const auto& [name, v] : at("/counters/" + token(block), kObject).items()) {
        at("/counters/" + token(block) + "/" + token(name), kUnsigned);
      }
    }
    at("/area_um2/total", kNumber);
    for (const auto& [component, v] : at("/area_um2/by_component", kObject).items()) {
      at("/area_um2/by_component/" + token(component) + "/um2", kNumber);
    }
    for (const char* key :
         {"latency_s", "tokens_per_s", "energy_per_token_j", "tops_per_w", "tops_per_mm2"}) {
      at(std::string("/derived/") + key, kNumberOrNull);
    }
    at("/counters/mac_array/macs", kUnsigned);
    at("/counters/mac_array/mac_ops", kUnsigned);
    for (const auto& [tensor, e] : at("/error", kObject).items()) {
      if (e.is_object()) at("/error/" + token(tensor) + "/rmse", kNumberOrNull);
    }
    const Json& layers = at("/layers", kArray);
    for (size_t i = 0; i < layers.size(); ++i) {
      const std::string p = "/layers/" + std::to_string(i);
      at(p + "/name", kString);
      at(p + "/energy_pj/dynamic", kNumber);
      at(p + "/macs", kUnsigned);
    }
  }

 private:
  enum Kind { kNumber, kNumberOrNull, kUnsigned, kString, kObject, kArray };

  [[noreturn]] void fail(const std::string& pointer, const std::string& message) const {
    throw ConfigError(file_, pointer, message);
  }
  static std::string token(const std::string& key) { return escape_pointer_token(key); }
  static bool is(const Json& j, Kind kind) {
    switch (kind) {
      case kNumber:
        return j.is_number();
      case kNumberOrNull:
        return j.is_number() || j.is_null();
      case kUnsigned:
        return j.is_number_unsigned();
      case kString:
        return j.is_string();
      case kObject:
        return j.is_object();
      case kArray:
        return j.is_array();
    }
    return false;
  }
  static const char* name(Kind kind) {
    static const char* const kNames[] = {"a number", "a number or null", "a non-negative integer",
                                         "a string", "an object",        "an array"};
    return kNames[kind];
  }
  // The value at `pointer`, which must exist (its parents too) and be of `kind`.
  const Json& at(const std::string& pointer, Kind kind) const {
    const Json::json_pointer p(pointer);
    if (!r_.contains(p)) fail(pointer, std::string("missing: expected ") + name(kind));
    const Json& j = r_.at(p);
    if (!is(j, kind)) fail(pointer, std::string("expected ") + name(kind) + ", got " + j.dump());
    return j;
  }
  // The same, where absence reads as empty.
  const Json& optional(const std::string& pointer, Kind kind) const {
    static const Json kEmpty;
    return r_.contains(Json::json_pointer(pointer)) ? at(pointer, kind) : kEmpty;
  }

  const Json& r_;
  std::string file_;
};

}  // namespace

Json load_report(const std::string& path) {
  Json r = parse_json_file(path);
  ReportSchema(r, path).check();
  return r;
}

std::string energy_report(const Json& r) {
  std::ostringstream o;
  const double total = number(r["energy_pj"]["total"]);
  o << "Energy per operation: " << title(r) << "\n";
  o << "total " << num(total * 1e-6) << " uJ over " << r["cycles"]["total"].get<uint64_t>()
    << " cycles\n\n";
  o << format_text("%-28s %14s %12s %14s %7s  %s\n", "event", "count", "pJ/event", "total (uJ)",
                   "share", "source");
  std::multimap<double, std::string, std::greater<>> order;
  for (const auto& [key, e] : r["energy_pj"]["by_event"].items()) {
    order.emplace(number(e["total_pj"]), key);
  }
  for (const auto& [pj, key] : order) {
    const Json& e = r["energy_pj"]["by_event"][key];
    o << format_text("%-28s %14llu %12s %14s %6.2f%%  %s\n", key.c_str(),
                     static_cast<unsigned long long>(e["count"].get<uint64_t>()),
                     num(number(e["pj_per_event"])).c_str(), num(pj * 1e-6).c_str(),
                     total > 0 ? 100.0 * pj / total : 0.0,
                     e.value("source", std::string()).c_str());
  }
  o << format_text("%-28s %14s %12s %14s %6.2f%%  %s\n", "leakage", "", "",
                   num(number(r["energy_pj"]["leakage"]) * 1e-6).c_str(),
                   total > 0 ? 100.0 * number(r["energy_pj"]["leakage"]) / total : 0.0,
                   r["energy_pj"].value("leakage_source", std::string()).c_str());
  o << format_text("%-28s %14s %12s %14s %6.2f%%  %s\n", "clock", "", "",
                   num(number(r["energy_pj"]["clock"]) * 1e-6).c_str(),
                   total > 0 ? 100.0 * number(r["energy_pj"]["clock"]) / total : 0.0,
                   r["energy_pj"].value("clock_source", std::string()).c_str());
  o << "\nby unit:\n";
  for (const auto& [unit, pj] : r["energy_pj"]["by_unit"].items()) {
    o << format_text("  %-26s %14s uJ %6.2f%%\n", unit.c_str(), num(number(pj) * 1e-6).c_str(),
                     total > 0 ? 100.0 * number(pj) / total : 0.0);
  }
  o << "\nby layer:\n";
  for (const Json& l : r["layers"]) {
    o << format_text("  %-26s %14s uJ dynamic, %s MACs\n", l["name"].get<std::string>().c_str(),
                     num(number(l["energy_pj"]["dynamic"]) * 1e-6).c_str(),
                     std::to_string(l["macs"].get<uint64_t>()).c_str());
  }
  const double macs = number(r["counters"]["mac_array"]["macs"]);
  const double mac_ops = number(r["counters"]["mac_array"]["mac_ops"]);
  if (macs > 0) {
    o << "\nper MAC:\n";
    o << "  arithmetic (pe.mac.*) per MAC performed   "
      << num(mac_event_pj(r) / std::max(mac_ops, 1.0)) << " pJ  (" << num(mac_ops, "%.0f")
      << " performed, " << num(macs - mac_ops, "%.0f") << " skipped for zero weights)\n";
    o << "  arithmetic per dense MAC                  " << num(mac_event_pj(r) / macs) << " pJ\n";
    o << "  everything per dense MAC                  " << num(total / macs) << " pJ\n";
  }
  return o.str();
}

std::string compare_reports(const Json& a, const Json& b, const std::string& name_a,
                            const std::string& name_b) {
  std::vector<std::tuple<std::string, double, double>> rows;
  auto add = [&](const std::string& name, double va, double vb) {
    rows.emplace_back(name, va, vb);
  };
  add("cycles", number(a["cycles"]["total"]), number(b["cycles"]["total"]));
  add("latency (s)", number(a["derived"]["latency_s"]), number(b["derived"]["latency_s"]));
  add("tokens/s", number(a["derived"]["tokens_per_s"]), number(b["derived"]["tokens_per_s"]));
  add("energy total (pJ)", number(a["energy_pj"]["total"]), number(b["energy_pj"]["total"]));
  add("energy per token (J)", number(a["derived"]["energy_per_token_j"]),
      number(b["derived"]["energy_per_token_j"]));
  std::set<std::string> units, events, components;
  for (const Json* r : {&a, &b}) {
    for (const auto& [k, v] : (*r)["energy_pj"]["by_unit"].items()) units.insert(k);
    for (const auto& [k, v] : (*r)["energy_pj"]["by_event"].items()) events.insert(k);
    for (const auto& [k, v] : (*r)["area_um2"]["by_component"].items()) components.insert(k);
  }
  for (const std::string& u : units) {
    add("energy " + u + " (pJ)", number(a["energy_pj"]["by_unit"].value(u, Json(0))),
        number(b["energy_pj"]["by_unit"].value(u, Json(0))));
  }
  for (const std::string& e : events) {
    auto pj = [&](const Json& r) {
      return r["energy_pj"]["by_event"].contains(e)
                 ? number(r["energy_pj"]["by_event"][e]["total_pj"])
                 : 0.0;
    };
    add("event " + e + " (pJ)", pj(a), pj(b));
  }
  const double macs_a = number(a["counters"]["mac_array"]["macs"]);
  const double macs_b = number(b["counters"]["mac_array"]["macs"]);
  const double ops_a = number(a["counters"]["mac_array"]["mac_ops"]);
  const double ops_b = number(b["counters"]["mac_array"]["mac_ops"]);
  add("MACs (dense)", macs_a, macs_b);
  add("MACs performed", ops_a, ops_b);
  add("arithmetic pJ per MAC performed", ops_a > 0 ? mac_event_pj(a) / ops_a : 0,
      ops_b > 0 ? mac_event_pj(b) / ops_b : 0);
  add("arithmetic pJ per dense MAC", macs_a > 0 ? mac_event_pj(a) / macs_a : 0,
      macs_b > 0 ? mac_event_pj(b) / macs_b : 0);
  add("total pJ per dense MAC", macs_a > 0 ? number(a["energy_pj"]["total"]) / macs_a : 0,
      macs_b > 0 ? number(b["energy_pj"]["total"]) / macs_b : 0);
  add("area total (um^2)", number(a["area_um2"]["total"]), number(b["area_um2"]["total"]));
  for (const std::string& c : components) {
    auto um2 = [&](const Json& r) {
      return r["area_um2"]["by_component"].contains(c)
                 ? number(r["area_um2"]["by_component"][c]["um2"])
                 : 0.0;
    };
    add("area " + c + " (um^2)", um2(a), um2(b));
  }
  add("TOPS/W", number(a["derived"]["tops_per_w"]), number(b["derived"]["tops_per_w"]));
  add("TOPS/mm^2", number(a["derived"]["tops_per_mm2"]), number(b["derived"]["tops_per_mm2"]));
  std::set<std::string> errors;
  for (const Json* r : {&a, &b}) {
    for (const auto& [k, v] : (*r)["error"].items()) errors.insert(k);
  }
  for (const std::string& e : errors) {
    auto rmse = [&](const Json& r) {
      return r["error"].contains(e) && r["error"][e].is_object() ? number(r["error"][e]["rmse"])
                                                                 : NAN;
    };
    add("error " + e + " RMSE", rmse(a), rmse(b));
  }

  std::ostringstream o;
  o << "A: " << name_a << " (" << title(a) << ")\nB: " << name_b << " (" << title(b) << ")\n\n";
  o << format_text("%-44s %14s %14s %10s\n", "figure", "A", "B", "B / A");
  for (const auto& [name, va, vb] : rows) {
    const std::string ratio = va != 0 && !std::isnan(va) && !std::isnan(vb) ? num(vb / va) : "-";
    o << format_text("%-44s %14s %14s %10s\n", name.c_str(), num(va).c_str(), num(vb).c_str(),
                     ratio.c_str());
  }
  return o.str();
}

}  // namespace nmp::sim
