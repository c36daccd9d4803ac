#include "sim/sweep.hpp"

#include <poll.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "sim/energy_model.hpp"
#include "sim/input_limits.hpp"
#include "sim/progress.hpp"
#include "sim/run.hpp"
#include "sim/text.hpp"
#include "workloads/graph.hpp"
#include "workloads/random.hpp"

namespace nmp::sim {
namespace {

// --- SQLite, thinly wrapped ---------------------------------------------------------------------

class Db {
 public:
  explicit Db(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
      const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw ConfigError(path, "", "cannot open the database: " + why);
    }
    path_ = path;
    sqlite3_busy_timeout(db_, 10000);
    exec("PRAGMA journal_mode=WAL");
    exec(
        "CREATE TABLE IF NOT EXISTS sweeps(name TEXT PRIMARY KEY, spec TEXT NOT NULL, "
        "points INTEGER NOT NULL)");
    exec(
        "CREATE TABLE IF NOT EXISTS points(sweep TEXT NOT NULL, point INTEGER NOT NULL, "
        "sets TEXT NOT NULL, status TEXT NOT NULL, error TEXT, cycles INTEGER, latency_s REAL, "
        "energy_pj REAL, area_um2 REAL, error_rmse REAL, macs INTEGER, tokens_per_s REAL, "
        "config TEXT, report TEXT, PRIMARY KEY(sweep, point))");
    exec(
        "CREATE TABLE IF NOT EXISTS metrics(sweep TEXT NOT NULL, point INTEGER NOT NULL, "
        "name TEXT NOT NULL, value REAL, PRIMARY KEY(sweep, point, name))");
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      const std::string why = err ? err : "?";
      sqlite3_free(err);
      throw ConfigError(path_, "", "database error: " + why + " (in " + sql.substr(0, 60) + ")");
    }
  }

  class Stmt {
   public:
    Stmt(Db& db, const std::string& sql) : db_(db) {
      if (sqlite3_prepare_v2(db.db_, sql.c_str(), -1, &s_, nullptr) != SQLITE_OK) {
        throw ConfigError(db.path_, "", std::string("database error: ") + sqlite3_errmsg(db.db_));
      }
    }
    ~Stmt() { sqlite3_finalize(s_); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    Stmt& bind(int i, const std::string& v) {
      sqlite3_bind_text(s_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
      return *this;
    }
    Stmt& bind(int i, int64_t v) {
      sqlite3_bind_int64(s_, i, v);
      return *this;
    }
    Stmt& bind(int i, double v) {
      if (std::isnan(v)) {
        sqlite3_bind_null(s_, i);
      } else {
        sqlite3_bind_double(s_, i, v);
      }
      return *this;
    }
    Stmt& bind_null(int i) {
      sqlite3_bind_null(s_, i);
      return *this;
    }
    bool step() {
      const int rc = sqlite3_step(s_);
      if (rc == SQLITE_ROW) return true;
      if (rc == SQLITE_DONE) return false;
      throw ConfigError(db_.path_, "", std::string("database error: ") + sqlite3_errmsg(db_.db_));
    }
    void reset() {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
    int64_t integer(int col) const { return sqlite3_column_int64(s_, col); }
    double real(int col) const {
      return sqlite3_column_type(s_, col) == SQLITE_NULL ? NAN : sqlite3_column_double(s_, col);
    }
    std::string text(int col) const {
      const auto* t = sqlite3_column_text(s_, col);
      return t ? reinterpret_cast<const char*>(t) : "";
    }
    bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

   private:
    Db& db_;
    sqlite3_stmt* s_ = nullptr;
  };

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

constexpr const char* kPointColumns =
    "sweep, point, sets, status, error, cycles, latency_s, energy_pj, area_um2, error_rmse, "
    "macs, tokens_per_s, config, report";

// --- spec and points ---------------------------------------------------------------------------

std::string value_text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string sets_json(const std::vector<std::string>& sets) { return Json(sets).dump(); }

// Every numeric figure of a report, by JSON path (the config section excluded: it is stored
// whole, and its numbers are inputs).
void flatten(const Json& j, const std::string& path,
             std::vector<std::pair<std::string, double>>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (path.empty() && (k == "config" || k == "counter_meta")) continue;
      flatten(v, path.empty() ? k : path + "." + k, out);
    }
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) flatten(j[i], path + "." + std::to_string(i), out);
  } else if (j.is_number()) {
    out.emplace_back(path, j.get<double>());
  } else if (j.is_boolean()) {
    out.emplace_back(path, j.get<bool>() ? 1.0 : 0.0);
  }
}

double worst_rmse(const Json& report) {
  double worst = NAN;
  if (!report.contains("error")) return worst;
  for (const auto& [name, e] : report["error"].items()) {
    if (e.is_object() && e["rmse"].is_number()) {
      const double v = e["rmse"].get<double>();
      worst = std::isnan(worst) ? v : std::max(worst, v);
    }
  }
  return worst;
}

void store_point(Db& db, const std::string& sweep, const SweepPoint& p, const Json& outcome) {
  db.exec("BEGIN IMMEDIATE");
  Db::Stmt ins(db, std::string("INSERT INTO points(") + kPointColumns +
                       ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  ins.bind(1, sweep).bind(2, static_cast<int64_t>(p.index)).bind(3, sets_json(p.sets));
  if (outcome["ok"].get<bool>()) {
    const Json& report = outcome["result"]["report"];
    ins.bind(4, std::string("ok")).bind_null(5);
    ins.bind(6, report["cycles"]["total"].get<int64_t>());
    ins.bind(7, report["derived"]["latency_s"].get<double>());
    ins.bind(8, report["energy_pj"]["total"].get<double>());
    ins.bind(9, report["area_um2"]["total"].get<double>());
    ins.bind(10, worst_rmse(report));
    ins.bind(11, report["counters"]["mac_array"]["macs"].get<int64_t>());
    ins.bind(12, report["derived"]["tokens_per_s"].get<double>());
    ins.bind(13, report["config"].dump()).bind(14, report.dump());
    ins.step();
    Db::Stmt m(db, "INSERT INTO metrics(sweep, point, name, value) VALUES (?,?,?,?)");
    std::vector<std::pair<std::string, double>> figures;
    flatten(report, "", figures);
    for (const auto& [name, value] : figures) {
      m.bind(1, sweep).bind(2, static_cast<int64_t>(p.index)).bind(3, name).bind(4, value);
      m.step();
      m.reset();
    }
  } else {
    ins.bind(4, std::string("failed"))
        .bind(5,
              outcome["kind"].get<std::string>() + ": " + outcome.value("message", std::string()));
    for (int c = 6; c <= 14; ++c) ins.bind_null(c);
    ins.step();
  }
  db.exec("COMMIT");
}

// --- running points in child processes ---------------------------------------------------------

// A child process running points the parent sends it: their indices (8 bytes each) on a
// socket, each answered with its outcome (8 bytes of length, then child_message's text), until
// it has run `limit` or the parent closes the socket. A cycle run elaborates SystemC, which a
// process does once: its worker runs one point. An analytical run elaborates nothing, so one
// worker runs point after point (the fork, most of a small point's cost, is paid once); a
// worker that dies takes only its current point with it, recorded as failed.
struct Worker {
  pid_t pid = 0;
  int fd = -1;                  // the parent's end of the socket
  std::optional<size_t> point;  // the point it runs (an index into the points to do)
  size_t runs_left = 0;         // points it will still take
  std::string text;             // bytes received, not yet a whole outcome
};

bool send_all(int fd, const std::string& bytes) {
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string eight_bytes(uint64_t value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof value);
}

// The child's side: run what the parent sends, then exit.
[[noreturn]] void serve_points(int fd, size_t limit,
                               const std::function<std::string(size_t)>& run) {
  for (size_t runs = 0; runs < limit; ++runs) {
    uint64_t index = 0;
    size_t got = 0;
    while (got < sizeof index) {
      const ssize_t n = read(fd, reinterpret_cast<char*>(&index) + got, sizeof index - got);
      if (n <= 0) _exit(0);  // the parent has no more
      got += static_cast<size_t>(n);
    }
    const std::string outcome = run(index);
    if (!send_all(fd, eight_bytes(outcome.size()) + outcome)) _exit(0);
  }
  _exit(0);
}

// `others`: the workers already running, whose sockets the new one closes (holding one open
// would keep that worker from seeing its end).
Worker start_worker(size_t limit, const std::function<std::string(size_t)>& run,
                    const std::vector<Worker>& others) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
    throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    close(fds[0]);
    for (const Worker& w : others) close(w.fd);
    serve_points(fds[1], limit, run);
  }
  close(fds[1]);
  Worker w;
  w.pid = pid;
  w.fd = fds[0];
  w.runs_left = limit;
  return w;
}

// A whole outcome at the front of `text`, taken off it; or nothing yet.
std::optional<std::string> take_outcome(std::string& text) {
  uint64_t length = 0;
  if (text.size() < sizeof length) return std::nullopt;
  std::memcpy(&length, text.data(), sizeof length);
  if (text.size() - sizeof length < length) return std::nullopt;
  std::string outcome = text.substr(sizeof length, length);
  text.erase(0, sizeof length + length);
  return outcome;
}

}  // namespace

SweepSpec load_sweep_spec(const std::string& path) {
  return parse_sweep_spec(parse_json_file(path), path);
}

SweepSpec parse_sweep_spec(const Json& json, const std::string& path) {
  Document doc(path, json);
  ObjectReader root = doc.root();
  SweepSpec s;
  s.file = path;
  s.text = json;
  // Beside the spec, or (docs/dse.md) a path that exists from the working directory.
  auto relative = [&](const std::string& p) {
    return p.empty() || path_exists(p) ? p : path_beside(path, p);
  };
  s.name = root.string_required("name", "the sweep's name (its rows in the database)");
  s.hw_path = relative(root.string_required("hw", "hardware config"));
  s.workload_path = relative(root.string_required("workload", "workload"));
  s.tech_path = relative(root.string("tech", "", "technology library (default: the hw file's)"));
  s.timing_only = root.boolean("timing_only", false, "run every point without values");
  s.verify = root.boolean("verify", true, "check every point's outputs against the reference");
  if (root.has("grid")) {
    ObjectReader grid = root.object("grid", "field path -> the values to try");
    for (const std::string& key : grid.keys()) {
      const Json& values = *grid.raw(key);
      if (!values.is_array() || values.empty()) {
        grid.error(key, "expected a non-empty array of values");
        continue;
      }
      s.grid[key] = values;
    }
    grid.finish();
  }
  if (root.has("random")) {
    ObjectReader rnd = root.object("random", "seeded random samples");
    s.samples = rnd.u64_required("samples", 1, 1u << 24, "points", "how many samples");
    s.seed = rnd.u64("seed", 1, 0, UINT64_MAX, "", "seed of the sampler");
    ObjectReader fields = rnd.object_required("fields", "field path -> range or choices");
    for (const std::string& key : fields.keys()) {
      ObjectReader f = fields.object(key, "a range {min, max, integer} or {choices}");
      Json spec = Json::object();
      if (f.has("choices")) {
        const Json& c = *f.raw("choices");
        if (!c.is_array() || c.empty()) f.error("choices", "expected a non-empty array");
        spec["choices"] = c;
      } else {
        spec["min"] = f.number_required("min", -1e300, 1e300, "", "smallest value");
        spec["max"] = f.number_required("max", -1e300, 1e300, "", "largest value");
        spec["integer"] = f.boolean("integer", false, "draw integers");
        const double lo = spec["min"].get<double>(), hi = spec["max"].get<double>();
        // Integers are drawn as int64 from doubles: bounds beyond 2^53 are not exact integers.
        constexpr double kExactInteger = 9007199254740992.0;  // 2^53
        if (hi < lo) {
          f.error("max", "expected max >= min");
        } else if (spec["integer"].get<bool>() &&
                   (std::fabs(lo) > kExactInteger || std::fabs(hi) > kExactInteger)) {
          f.error(std::fabs(lo) > kExactInteger ? "min" : "max",
                  "an integer range must lie within +-2^53 (9007199254740992)");
        } else if (spec["integer"].get<bool>() && std::ceil(lo) > std::floor(hi)) {
          f.error("max", "no integer lies between min and max");
        }
      }
      f.finish();
      s.random[key] = spec;
    }
    fields.finish();
    rnd.finish();
  }
  if (root.has("zip")) {
    const Json& groups = *root.raw("zip");
    if (!groups.is_array() || groups.empty()) {
      root.error("zip", "expected an array of groups: {field path: [values], ...}");
    } else {
      for (size_t g = 0; g < groups.size(); ++g) {
        const std::string at = "/zip/" + std::to_string(g);
        if (!groups[g].is_object() || groups[g].size() < 2) {
          doc.error(at, "expected an object of at least two fields, each with an array of values");
          continue;
        }
        size_t length = 0;
        std::string first;
        for (const auto& [key, values] : groups[g].items()) {
          if (!values.is_array() || values.empty()) {
            doc.error(at + "/" + key, "expected a non-empty array of values");
          } else if (length == 0) {
            length = values.size();
            first = key;
          } else if (values.size() != length) {
            doc.error(at + "/" + key, "expected " + std::to_string(length) + " values, as " + at +
                                          "/" + first + " has; got " +
                                          std::to_string(values.size()));
          }
        }
        s.zip.push_back(groups[g]);
      }
    }
  }
  if (root.has("constraints")) {
    ObjectReader cons = root.object("constraints", "figure path -> {min, max}");
    for (const std::string& key : cons.keys()) {
      ObjectReader c = cons.object(key, "bounds of a figure of the report: {min, max}");
      Json bounds = Json::object();
      const bool has_min = c.raw("min") != nullptr, has_max = c.raw("max") != nullptr;
      if (has_min) bounds["min"] = c.number("min", 0, -1e300, 1e300, "", "smallest allowed");
      if (has_max) bounds["max"] = c.number("max", 0, -1e300, 1e300, "", "largest allowed");
      if (bounds.empty()) {
        c.error("", "expected \"min\", \"max\" or both");
      } else if (bounds.contains("min") && bounds.contains("max") &&
                 bounds["max"].get<double>() < bounds["min"].get<double>()) {
        c.error("max", "expected max >= min");
      }
      c.finish();
      s.constraints[key] = bounds;
    }
    cons.finish();
  }
  // The inputs exist before any database is made (a point can still change what they say).
  for (const auto& [key, file] : {std::pair<const char*, std::string>{"hw", s.hw_path},
                                  {"workload", s.workload_path},
                                  {"tech", s.tech_path}}) {
    if (file.empty()) continue;
    try {
      check_input_file(file, kMaxTextFileBytes);
    } catch (const ConfigError& e) {
      root.error(key, e.issues().front().message + ": " + file);
    }
  }
  root.finish();
  doc.throw_if_errors();
  if (s.grid.empty() && s.random.empty() && s.zip.empty()) {
    throw ConfigError(path, "",
                      "a sweep needs a grid, zip groups, random samples, or some of them");
  }
  // Points: the product of the grid's sizes times the samples, refused past the limit before
  // anything is enumerated.
  uint64_t points = std::max<uint64_t>(1, s.samples);
  std::vector<size_t> axes;
  for (const auto& [key, values] : s.grid.items()) axes.push_back(values.size());
  for (const Json& group : s.zip) axes.push_back(group.begin()->size());
  for (const size_t size : axes) {
    if (__builtin_mul_overflow(points, size, &points) || points > kMaxSweepPoints) {
      throw ConfigError(path, "",
                        "the sweep has more than " + std::to_string(kMaxSweepPoints) +
                            " points (the product of the grid's sizes and the samples); split "
                            "it, or sample it with \"random\"");
    }
  }
  // Every key must be a --set path (hw., tech. or workload.), varied in one place only.
  std::vector<std::pair<std::string, std::string>> keys;  // key, its JSON pointer
  for (const auto& [key, v] : s.grid.items()) keys.emplace_back(key, "/grid/" + key);
  for (const auto& [key, v] : s.random.items()) keys.emplace_back(key, "/random/fields/" + key);
  for (size_t g = 0; g < s.zip.size(); ++g) {
    for (const auto& [key, v] : s.zip[g].items())
      keys.emplace_back(key, "/zip/" + std::to_string(g) + "/" + key);
  }
  std::map<std::string, std::string> seen;
  for (const auto& [key, where] : keys) {
    try {
      parse_set_options({key + "=0"});
    } catch (const ConfigError& e) {
      throw ConfigError(path, where, e.issues().front().message);
    }
    if (const auto [it, fresh] = seen.emplace(key, where); !fresh) {
      throw ConfigError(path, where, "the field is also varied at " + it->second);
    }
  }
  return s;
}

std::vector<SweepPoint> sweep_points(const SweepSpec& spec) {
  // Grid: keys in sorted order, the last varying fastest.
  std::vector<std::vector<std::string>> grid = {{}};
  for (const auto& [key, values] : spec.grid.items()) {
    std::vector<std::vector<std::string>> next;
    for (const auto& prefix : grid) {
      for (const Json& v : values) {
        next.push_back(prefix);
        next.back().push_back(key + "=" + value_text(v));
      }
    }
    grid.swap(next);
  }
  for (const Json& group : spec.zip) {  // one axis: the fields' i-th values together
    std::vector<std::vector<std::string>> next;
    for (const auto& prefix : grid) {
      for (size_t i = 0; i < group.begin()->size(); ++i) {
        next.push_back(prefix);
        for (const auto& [key, values] : group.items())
          next.back().push_back(key + "=" + value_text(values[i]));
      }
    }
    grid.swap(next);
  }
  // Random samples, drawn in order, fields in sorted order.
  std::vector<std::vector<std::string>> samples = {{}};
  if (!spec.random.empty()) {
    samples.clear();
    workloads::Rng rng(spec.seed);
    for (uint64_t i = 0; i < spec.samples; ++i) {
      std::vector<std::string> sets;
      for (const auto& [key, f] : spec.random.items()) {
        if (f.contains("choices")) {
          const Json& c = f["choices"];
          sets.push_back(key + "=" + value_text(c[rng.next() % c.size()]));
        } else if (f["integer"].get<bool>()) {
          const auto lo = static_cast<int64_t>(std::ceil(f["min"].get<double>()));
          const auto hi = static_cast<int64_t>(std::floor(f["max"].get<double>()));
          const auto span = static_cast<uint64_t>(hi - lo + 1);
          sets.push_back(key + "=" + std::to_string(lo + static_cast<int64_t>(rng.next() % span)));
        } else {
          const double lo = f["min"].get<double>(), hi = f["max"].get<double>();
          char buf[64];
          std::snprintf(buf, sizeof buf, "%.17g", lo + (hi - lo) * rng.uniform());
          sets.push_back(key + "=" + buf);
        }
      }
      samples.push_back(sets);
    }
  }
  std::vector<SweepPoint> points;
  for (const auto& g : grid) {
    for (const auto& r : samples) {
      SweepPoint p;
      p.index = points.size();
      p.sets = g;
      p.sets.insert(p.sets.end(), r.begin(), r.end());
      points.push_back(p);
    }
  }
  return points;
}

namespace {

// The DRAM's rates as `point` measures them: its sustained rate and latencies, and the strided
// rows' rates its lowering measures for the shapes its mapper tries. Measured in a child, as
// the point itself would be (a fault there is not the sweep's); passed back exact (JSON keeps
// a double's every bit).
std::shared_ptr<hw::DramRowRate> measure_dram(const SweepSpec& spec, const SweepPoint& point,
                                              const TechLibrary* tech) {
  SimInputs in;
  in.hw_path = spec.hw_path;
  in.workload_path = spec.workload_path;
  in.tech_path = spec.tech_path;
  in.sets = point.sets;
  in.tech = tech;
  const hw::DramParams params = load_hardware(in.hw_path, parse_set_options(in.sets)).params.dram;
  const Json measured = run_in_child([&] {
    const SimConfig cfg = load_sim_config(in);
    const auto rows = std::make_shared<hw::DramRowRate>(params, hw::dram_rate(params));
    try {
      const EnergyModel energy = build_energy_model(cfg.hw, cfg.tech);
      workloads::lower_graph(cfg.workload.model, nullptr, cfg.hw.params,
                             mapper_costs(energy, cfg.hw), rows);
    } catch (const workloads::LoweringError&) {
      // The point does not lower: the rate stands, and what its mapper measured before.
    }
    const hw::DramRate& r = rows->rate();
    Json out = {{"rate",
                 {{"bytes_per_cycle", r.bytes_per_cycle},
                  {"latency_cycles", r.latency_cycles},
                  {"hit_latency_cycles", r.hit_latency_cycles},
                  {"conflict_latency_cycles", r.conflict_latency_cycles},
                  {"refresh_stretch", r.refresh_stretch}}},
                {"rows", Json::array()}};
    for (const auto& [shape, cycles] : rows->measured())
      out["rows"].push_back({shape.first, shape.second, cycles});
    return out;
  });
  // By name, not position: a field added to DramRate cannot land in another's place.
  const Json& r = measured.at("rate");
  hw::DramRate rate;
  rate.bytes_per_cycle = r.at("bytes_per_cycle").get<double>();
  rate.latency_cycles = r.at("latency_cycles").get<double>();
  rate.hit_latency_cycles = r.at("hit_latency_cycles").get<double>();
  rate.conflict_latency_cycles = r.at("conflict_latency_cycles").get<double>();
  rate.refresh_stretch = r.at("refresh_stretch").get<double>();
  auto rows = std::make_shared<hw::DramRowRate>(params, rate);
  for (const Json& row : measured.at("rows"))
    rows->add_measured(row.at(0).get<uint64_t>(), row.at(1).get<uint64_t>(),
                       row.at(2).get<double>());
  return rows;
}

}  // namespace

SweepSummary run_sweep(const SweepSpec& spec, const SweepOptions& opt) {
  if (opt.shards == 0 || opt.shard >= opt.shards) {
    throw ConfigError("--shard", "", "expected i/N with 0 <= i < N");
  }
  const std::vector<SweepPoint> all = sweep_points(spec);
  Db db(opt.db_path);
  {
    Db::Stmt q(db, "SELECT spec, points FROM sweeps WHERE name = ?");
    q.bind(1, spec.name);
    if (q.step()) {
      if (q.text(0) != spec.text.dump() || q.integer(1) != static_cast<int64_t>(all.size())) {
        throw ConfigError(opt.db_path, "",
                          "the database holds a different sweep named '" + spec.name +
                              "' (rename the sweep or use another --db)");
      }
    } else {
      Db::Stmt ins(db, "INSERT INTO sweeps(name, spec, points) VALUES (?,?,?)");
      ins.bind(1, spec.name).bind(2, spec.text.dump()).bind(3, static_cast<int64_t>(all.size()));
      ins.step();
    }
  }
  if (opt.resume) {  // failed points run again
    for (const char* table : {"metrics", "points"}) {
      Db::Stmt del(db, std::string("DELETE FROM ") + table +
                           " WHERE sweep = ? AND point IN (SELECT point FROM points WHERE "
                           "sweep = ? AND status = 'failed')");
      del.bind(1, spec.name).bind(2, spec.name);
      del.step();
    }
  }
  std::map<uint64_t, bool> recorded;
  {
    Db::Stmt q(db, "SELECT point FROM points WHERE sweep = ?");
    q.bind(1, spec.name);
    while (q.step()) recorded[static_cast<uint64_t>(q.integer(0))] = true;
  }
  SweepSummary sum;
  std::vector<SweepPoint> todo;
  for (const SweepPoint& p : all) {
    if (p.index % opt.shards != opt.shard) continue;
    ++sum.points;
    if (recorded.count(p.index)) {
      if (!opt.resume) {
        throw ConfigError(opt.db_path, "",
                          "already holds points of sweep '" + spec.name +
                              "': pass --resume to run only the missing ones");
      }
      ++sum.skipped;
      continue;
    }
    todo.push_back(p);
  }

  // What no point changes is read once, before the points fork: the workload's tensors, the
  // technology library, and the DRAM's rates measured on its model (its sustained rate and
  // latencies, and the strided rows' rates that the first point's mapper measures, most of
  // which the other points' mappers would measure again: together a good part of an
  // analytical point).
  const auto swept = [&](const char* prefix) {
    bool any = false;
    for (const auto& [key, v] : spec.grid.items()) any |= key.rfind(prefix, 0) == 0;
    for (const auto& [key, v] : spec.random.items()) any |= key.rfind(prefix, 0) == 0;
    for (const Json& group : spec.zip) {
      for (const auto& [key, v] : group.items()) any |= key.rfind(prefix, 0) == 0;
    }
    return any;
  };
  std::optional<workloads::ModelData> shared;
  if (!swept("workload.") && !todo.empty()) {
    const WorkloadConfig workload = load_workload(spec.workload_path, {});
    // Timing-only runs need no values (run_simulation generates none for them).
    if (!spec.timing_only && !opt.analytical) shared = generate_checked(workload);
  }
  std::optional<TechLibrary> tech;
  if (!swept("tech.") && !swept("hw.technology") && !todo.empty()) {
    try {
      tech = load_technology(
          spec.tech_path.empty() ? load_hardware(spec.hw_path, {}).technology_path : spec.tech_path,
          {});
    } catch (const ConfigError&) {
      // Left to each point, which records the error as its own (or whose fields mend it).
    }
  }

  // Shared by the points a worker runs, which add the shapes their mappers measure.
  std::shared_ptr<hw::DramRowRate> dram;
  if (!swept("hw.dram") && !swept("hw.clock_mhz") && todo.size() > 1) {  // one point: no gain
    try {
      dram = measure_dram(spec, todo.front(), tech ? &*tech : nullptr);
    } catch (const std::exception&) {
      // Left to each point: the first point's error is its own, recorded when it runs.
    }
  }

  auto run_point = [&](const SweepPoint& p) {
    SimInputs in;
    in.hw_path = spec.hw_path;
    in.workload_path = spec.workload_path;
    in.tech_path = spec.tech_path;
    in.sets = p.sets;
    in.options.timing_only = spec.timing_only;
    in.options.analytical = opt.analytical;
    in.options.verify = spec.verify;
    in.tech = tech ? &*tech : nullptr;
    in.dram = dram;
    const SimConfig cfg = load_sim_config(in);
    return Json{{"report", run_simulation(cfg, shared ? &*shared : nullptr)}};
  };

  std::vector<Worker> workers;
  size_t next = 0;
  const auto busy = [&] {
    return static_cast<size_t>(
        std::count_if(workers.begin(), workers.end(), [](const Worker& w) { return w.point; }));
  };
  ProgressLine line(opt.progress);
  auto report_progress = [&] {
    const double elapsed = line.elapsed_s();
    const uint64_t finished = sum.done + sum.failed;
    const uint64_t left = todo.size() - finished;
    const double rate = elapsed > 0 ? static_cast<double>(finished) / elapsed : 0.0;
    line.show(
        format_text(
            "sweep %s: %llu/%zu points, %llu failed, %zu running, %.2f points/s, ETA %s",
            spec.name.c_str(), static_cast<unsigned long long>(finished), todo.size(),
            static_cast<unsigned long long>(sum.failed), busy(), rate,
            rate > 0 ? ProgressLine::duration_text(static_cast<double>(left) / rate).c_str() : "?"),
        left == 0);
  };
  const auto record = [&](size_t point, const Json& outcome) {
    store_point(db, spec.name, todo[point], outcome);
    (outcome["ok"].get<bool>() ? sum.done : sum.failed)++;
    report_progress();
  };
  // The next point to an idle worker that takes more; false if it gets none.
  const auto assign = [&](Worker& w) {
    if (next == todo.size() || w.runs_left == 0) return false;
    if (!send_all(w.fd, eight_bytes(next))) return false;  // it died: seen when its socket ends
    w.point = next++;
    --w.runs_left;
    return true;
  };
  const auto stop = [&](size_t i) {  // closes worker i's socket and waits for it to exit
    Worker& w = workers[i];
    close(w.fd);
    int status = 0;
    waitpid(w.pid, &status, 0);
    if (w.point) record(*w.point, child_outcome("", status));  // died running it
    workers.erase(workers.begin() + static_cast<std::ptrdiff_t>(i));
  };
  const size_t per_worker = opt.analytical ? todo.size() : 1;
  const unsigned jobs = std::max(1u, opt.jobs);
  const auto run = [&](size_t index) {
    return child_message([&] { return run_point(todo[index]); });
  };
  while (next < todo.size() || !workers.empty()) {
    while (workers.size() < jobs && next < todo.size()) {
      workers.push_back(start_worker(per_worker, run, workers));
      assign(workers.back());
    }
    std::vector<pollfd> fds;
    fds.reserve(workers.size());
    for (const Worker& w : workers) fds.push_back({w.fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
      throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    }
    for (size_t i = fds.size(); i-- > 0;) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Worker& w = workers[i];
      char buf[65536];
      const ssize_t n = read(w.fd, buf, sizeof buf);
      if (n <= 0) {  // it exited (its points done) or died
        stop(i);
        continue;
      }
      w.text.append(buf, static_cast<size_t>(n));
      while (const std::optional<std::string> outcome = take_outcome(w.text)) {
        if (!w.point) break;  // nothing asked: not an outcome of ours
        const size_t point = *w.point;
        w.point.reset();
        assign(w);                                  // its next point runs while this one is stored
        record(point, child_outcome(*outcome, 0));  // it runs on
      }
      if (!w.point) stop(i);  // no more for it, or it died
    }
  }
  return sum;
}

void export_csv(const std::string& db_path, const std::string& csv_path) {
  if (!path_exists(db_path)) throw ConfigError(db_path, "", "no such database");
  Db db(db_path);
  std::ofstream out(csv_path);
  if (!out) throw ConfigError(csv_path, "", "cannot write the CSV file");
  out << "sweep,point,sets,status,error,cycles,latency_s,energy_pj,area_um2,error_rmse,macs,"
         "tokens_per_s\n";
  Db::Stmt q(db,
             "SELECT sweep, point, sets, status, error, cycles, latency_s, energy_pj, "
             "area_um2, error_rmse, macs, tokens_per_s FROM points ORDER BY sweep, point");
  char buf[64];
  while (q.step()) {
    out << csv_field(q.text(0)) << "," << q.integer(1) << "," << csv_field(q.text(2)) << ","
        << q.text(3) << "," << csv_field(q.text(4));
    for (int c = 5; c <= 11; ++c) {
      if (q.is_null(c)) {
        out << ",";
      } else {
        std::snprintf(buf, sizeof buf, ",%.17g", q.real(c));
        out << buf;
      }
    }
    out << "\n";
  }
}

namespace {

// Removes a database file and the journal files SQLite keeps beside it.
void remove_database(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::error_code ignored;
    std::filesystem::remove(path + suffix, ignored);
  }
}

void merge_into(const std::string& out, const std::string& name_in_errors,
                const std::vector<std::string>& inputs);

}  // namespace

void merge_databases(const std::string& out, const std::vector<std::string>& inputs) {
  if (path_exists(out)) throw ConfigError(out, "", "exists already: merge writes a new database");
  // Built beside and renamed when whole: a refused merge leaves nothing behind.
  const std::string partial = out + ".partial";
  remove_database(partial);
  try {
    merge_into(partial, out, inputs);
  } catch (...) {
    remove_database(partial);
    throw;
  }
  std::error_code failed;
  std::filesystem::rename(partial, out, failed);
  if (failed) {
    remove_database(partial);
    throw ConfigError(out, "", "cannot write the merged database: " + failed.message());
  }
}

namespace {

void merge_into(const std::string& out, const std::string& name_in_errors,
                const std::vector<std::string>& inputs) {
  Db dst(out);
  std::map<std::string, std::pair<std::string, int64_t>> sweeps;  // name -> spec, points
  std::map<std::string, std::map<int64_t, std::string>> seen;     // sweep -> point -> file
  for (const std::string& in : inputs) {
    if (!path_exists(in)) throw ConfigError(in, "", "no such database");
    Db src(in);
    Db::Stmt s(src, "SELECT name, spec, points FROM sweeps");
    while (s.step()) {
      const auto it = sweeps.find(s.text(0));
      if (it == sweeps.end()) {
        sweeps[s.text(0)] = {s.text(1), s.integer(2)};
      } else if (it->second.first != s.text(1)) {
        throw ConfigError(in, "",
                          "sweep '" + s.text(0) + "' has a different spec than in an earlier file");
      }
    }
    Db::Stmt p(src, std::string("SELECT ") + kPointColumns + " FROM points");
    dst.exec("BEGIN");
    Db::Stmt ins(dst, std::string("INSERT INTO points(") + kPointColumns +
                          ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    while (p.step()) {
      const std::string sweep = p.text(0);
      const int64_t point = p.integer(1);
      auto& files = seen[sweep];
      if (files.count(point)) {
        throw ConfigError(in, "",
                          "point " + std::to_string(point) + " of sweep '" + sweep +
                              "' is also in " + files[point]);
      }
      files[point] = in;
      for (int c = 0; c < 14; ++c) {
        if (p.is_null(c)) {
          ins.bind_null(c + 1);
        } else if (c == 1 || c == 5 || c == 10) {
          ins.bind(c + 1, p.integer(c));
        } else if (c == 6 || c == 7 || c == 8 || c == 9 || c == 11) {
          ins.bind(c + 1, p.real(c));
        } else {
          ins.bind(c + 1, p.text(c));
        }
      }
      ins.step();
      ins.reset();
    }
    Db::Stmt m(src, "SELECT sweep, point, name, value FROM metrics");
    Db::Stmt mi(dst, "INSERT INTO metrics(sweep, point, name, value) VALUES (?,?,?,?)");
    while (m.step()) {
      mi.bind(1, m.text(0)).bind(2, m.integer(1)).bind(3, m.text(2)).bind(4, m.real(3));
      mi.step();
      mi.reset();
    }
    dst.exec("COMMIT");
  }
  for (const auto& [name, sp] : sweeps) {
    Db::Stmt ins(dst, "INSERT INTO sweeps(name, spec, points) VALUES (?,?,?)");
    ins.bind(1, name).bind(2, sp.first).bind(3, sp.second);
    ins.step();
    for (int64_t i = 0; i < sp.second; ++i) {
      if (!seen[name].count(i)) {
        throw ConfigError(name_in_errors, "",
                          "point " + std::to_string(i) + " of sweep '" + name +
                              "' is in none of the inputs (a shard missing or unfinished)");
      }
    }
  }
}

}  // namespace

Json sweep_rows(const std::string& db_path, const std::string& sweep) {
  Db db(db_path);
  Db::Stmt q(db,
             "SELECT point, sets, status, error, cycles, latency_s, energy_pj, area_um2, "
             "error_rmse, macs, tokens_per_s FROM points WHERE sweep = ? ORDER BY point");
  q.bind(1, sweep);
  Json rows = Json::array();
  while (q.step()) {
    const bool ok = q.text(2) == "ok";
    auto real = [&](int c) { return ok && !std::isnan(q.real(c)) ? Json(q.real(c)) : Json(); };
    Json sets = Json::parse(q.text(1), nullptr, false);  // older databases: plain text
    if (sets.is_discarded()) sets = q.text(1);
    rows.push_back({{"point", q.integer(0)},
                    {"sets", sets},
                    {"status", q.text(2)},
                    {"error", ok ? Json() : Json(q.text(3))},
                    {"cycles", ok ? Json(q.integer(4)) : Json()},
                    {"latency_s", real(5)},
                    {"energy_pj", real(6)},
                    {"area_um2", real(7)},
                    {"error_rmse", real(8)},
                    {"macs", ok ? Json(q.integer(9)) : Json()},
                    {"tokens_per_s", real(10)}});
  }
  return rows;
}

ParetoFront pareto_front(const std::string& db_path, const std::string& sweep,
                         const Json& constraints) {
  Db db(db_path);
  Db::Stmt q(db,
             "SELECT point, sets, latency_s, energy_pj, area_um2, error_rmse FROM points "
             "WHERE sweep = ? AND status = 'ok' ORDER BY point");
  q.bind(1, sweep);
  std::vector<ParetoPoint> ok;
  while (q.step()) {
    ok.push_back({static_cast<uint64_t>(q.integer(0)), q.text(1), q.real(2), q.real(3), q.real(4),
                  q.real(5)});
  }
  // Per constraint, the points whose figure lies within its bounds.
  ParetoFront front;
  std::set<uint64_t> feasible;
  for (const ParetoPoint& p : ok) feasible.insert(p.point);
  for (const auto& [name, bounds] : constraints.items()) {
    Db::Stmt m(db, "SELECT point, value FROM metrics WHERE sweep = ? AND name = ?");
    m.bind(1, sweep).bind(2, name);
    std::set<uint64_t> within;
    bool named = false;
    while (m.step()) {
      named = true;
      const double v = m.real(1);
      if ((!bounds.contains("min") || v >= bounds["min"].get<double>()) &&
          (!bounds.contains("max") || v <= bounds["max"].get<double>())) {
        within.insert(static_cast<uint64_t>(m.integer(0)));
      }
    }
    if (!named) front.unknown_figures.push_back(name);
    std::set<uint64_t> both;
    std::set_intersection(feasible.begin(), feasible.end(), within.begin(), within.end(),
                          std::inserter(both, both.end()));
    feasible.swap(both);
  }
  std::vector<ParetoPoint> all;
  for (const ParetoPoint& p : ok) {
    if (feasible.count(p.point)) all.push_back(p);
  }
  const bool with_error =
      !all.empty() && std::none_of(all.begin(), all.end(),
                                   [](const ParetoPoint& p) { return std::isnan(p.error_rmse); });
  auto objectives = [&](const ParetoPoint& p) {
    std::vector<double> o = {p.latency_s, p.energy_pj, p.area_um2};
    if (with_error) o.push_back(p.error_rmse);
    return o;
  };
  front.ok = ok.size();
  front.feasible = all.size();
  for (const ParetoPoint& a : all) {
    bool dominated = false;
    for (const ParetoPoint& b : all) {
      const auto oa = objectives(a), ob = objectives(b);
      bool no_worse = true, better = false;
      for (size_t i = 0; i < oa.size(); ++i) {
        no_worse &= ob[i] <= oa[i];
        better |= ob[i] < oa[i];
      }
      if (no_worse && better) {
        dominated = true;
        break;
      }
    }
    if (!dominated) front.points.push_back(a);
  }
  return front;
}

}  // namespace nmp::sim
