#include "sim/sram_model.hpp"

#include <array>
#include <cmath>
#include <set>
#include <stdexcept>

#include "sim/text.hpp"

namespace nmp::sim {
namespace {

constexpr size_t kMaxTerms = 3;
using Row = std::array<double, kMaxTerms>;

// Weighted least squares of y on the first `n` columns of x, by the normal equations (n <= 3,
// well-conditioned after the caller's scaling); false if singular.
bool least_squares(const std::vector<Row>& x, const std::vector<double>& y,
                   const std::vector<double>& weight, size_t n, Row& out) {
  double a[kMaxTerms][kMaxTerms + 1] = {};
  for (size_t k = 0; k < x.size(); ++k) {
    const double w2 = weight[k] * weight[k];
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < n; ++j) a[i][j] += w2 * x[k][i] * x[k][j];
      a[i][n] += w2 * x[k][i] * y[k];
    }
  }
  for (size_t c = 0; c < n; ++c) {
    size_t pivot = c;
    for (size_t r = c + 1; r < n; ++r) {
      if (std::fabs(a[r][c]) > std::fabs(a[pivot][c])) pivot = r;
    }
    if (std::fabs(a[pivot][c]) < 1e-12 * (std::fabs(a[0][0]) + 1e-300)) return false;
    for (size_t j = 0; j <= n; ++j) std::swap(a[c][j], a[pivot][j]);
    for (size_t r = 0; r < n; ++r) {
      if (r == c) continue;
      const double f = a[r][c] / a[c][c];
      for (size_t j = c; j <= n; ++j) a[r][j] -= f * a[c][j];
    }
  }
  for (size_t i = 0; i < n; ++i) out[i] = a[i][n] / a[i][i];
  return true;
}

double rms(const std::vector<double>& relative_errors) {
  double s = 0;
  for (double e : relative_errors) s += e * e;
  return relative_errors.empty() ? 0 : std::sqrt(s / static_cast<double>(relative_errors.size()));
}

}  // namespace

SramMacroFit fit_sram_macros(const std::vector<SramMacroPoint>& all, hw::PortConfig ports) {
  std::vector<SramMacroPoint> pts;
  std::set<double> capacities, widths;
  for (const SramMacroPoint& p : all) {
    if (p.ports != ports) continue;
    pts.push_back(p);
    capacities.insert(p.capacity_kib);
    widths.insert(p.width_bits);
  }
  const std::string of = std::string(" for ports ") + hw::to_string(ports);
  if (pts.size() < 4 || capacities.size() < 2 || widths.size() < 2) {
    throw std::invalid_argument("need at least 4 points over 2 capacities and 2 widths" + of +
                                ", got " + std::to_string(pts.size()));
  }
  SramMacroFit f;
  f.points = pts.size();
  std::vector<Row> log_x, lin_x, leak_x;
  std::vector<double> ones(pts.size(), 1.0), log_read, log_write, area, leak, area_w, leak_w;
  // Columns scaled to order one (bits in Mib, width in kib) keep the normal equations sound.
  constexpr double kBitScale = 1.0 / (1 << 20), kWidthScale = 1.0 / 1024;
  for (const SramMacroPoint& p : pts) {
    const double bits = 8192.0 * p.capacity_kib;
    log_x.push_back({1.0, std::log(bits), std::log(p.width_bits)});
    lin_x.push_back({bits * kBitScale, p.width_bits * kWidthScale, 0});
    leak_x.push_back({bits * kBitScale, p.width_bits * kWidthScale, 1.0});
    log_read.push_back(std::log(p.read_pj));
    log_write.push_back(std::log(p.write_pj));
    area.push_back(p.area_um2);
    area_w.push_back(1.0 / p.area_um2);
    leak.push_back(p.leakage_mw);
    leak_w.push_back(p.leakage_mw > 0 ? 1.0 / p.leakage_mw : 1.0);
  }
  Row read{}, write{}, a{}, l{};
  if (!least_squares(log_x, log_read, ones, 3, read) ||
      !least_squares(log_x, log_write, ones, 3, write) ||
      !least_squares(lin_x, area, area_w, 2, a) || !least_squares(leak_x, leak, leak_w, 3, l)) {
    throw std::invalid_argument("the points do not determine the fit" + of);
  }
  f.read_log_c = read[0];
  f.read_bits_exp = read[1];
  f.read_width_exp = read[2];
  f.write_log_c = write[0];
  f.write_bits_exp = write[1];
  f.write_width_exp = write[2];
  f.area_per_bit = a[0] * kBitScale;
  f.area_per_width_bit = a[1] * kWidthScale;
  f.leakage_per_bit = l[0] * kBitScale;
  f.leakage_per_width_bit = l[1] * kWidthScale;
  f.leakage_per_macro = l[2];
  std::vector<double> er, ew, ea, el;
  for (const SramMacroPoint& p : pts) {
    const SramMacroCost c = sram_macro_cost(f, 8192.0 * p.capacity_kib, p.width_bits);
    er.push_back(c.read_pj / p.read_pj - 1);
    ew.push_back(c.write_pj / p.write_pj - 1);
    ea.push_back(c.area_um2 / p.area_um2 - 1);
    if (p.leakage_mw > 0) el.push_back(c.leakage_mw / p.leakage_mw - 1);
  }
  f.read_rms = rms(er);
  f.write_rms = rms(ew);
  f.area_rms = rms(ea);
  f.leakage_rms = rms(el);
  return f;
}

std::string sram_fit_problem(const std::vector<SramMacroPoint>& points) {
  for (const hw::PortConfig ports :
       {hw::PortConfig::kOneRw, hw::PortConfig::kOneROneW, hw::PortConfig::kTwoRw}) {
    SramMacroFit f;
    try {
      f = fit_sram_macros(points, ports);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    const std::string of = std::string(" for ports ") + hw::to_string(ports);
    if (f.area_per_bit <= 0 || f.area_per_width_bit < 0) {
      return "the area fit" + of + " has a negative or zero term (per bit " +
             std::to_string(f.area_per_bit) + ", per width bit " +
             std::to_string(f.area_per_width_bit) + " um^2)";
    }
    if (f.leakage_per_bit < 0 || f.leakage_per_width_bit < 0 || f.leakage_per_macro < 0) {
      return "the leakage fit" + of + " has a negative term";
    }
  }
  return "";
}

SramMacroCost sram_macro_cost(const SramMacroFit& f, double bits, double width_bits) {
  SramMacroCost c;
  c.read_pj = std::exp(f.read_log_c + f.read_bits_exp * std::log(bits) +
                       f.read_width_exp * std::log(width_bits));
  c.write_pj = std::exp(f.write_log_c + f.write_bits_exp * std::log(bits) +
                        f.write_width_exp * std::log(width_bits));
  c.area_um2 = f.area_per_bit * bits + f.area_per_width_bit * width_bits;
  c.leakage_mw =
      f.leakage_per_bit * bits + f.leakage_per_width_bit * width_bits + f.leakage_per_macro;
  return c;
}

std::string sram_model_markdown(const TechLibrary& tech) {
  const std::vector<hw::PortConfig> all_ports = {hw::PortConfig::kOneRw, hw::PortConfig::kOneROneW,
                                                 hw::PortConfig::kTwoRw};
  std::string out = "Library " + tech.name + ", " + std::to_string(tech.sram_macros.size()) +
                    " macro points (" + tech.sram_source +
                    "). Fit per port configuration; bits = capacity x 8192, width in bits; rms "
                    "is the root-mean-square relative error over the points.\n\n"
                    "| ports | points | read pJ | rms | write pJ | rms | area um^2 | rms | "
                    "leakage mW | rms |\n|---|---|---|---|---|---|---|---|---|---|\n";
  std::vector<SramMacroFit> fits;
  for (const hw::PortConfig ports : all_ports) {
    const SramMacroFit f = fit_sram_macros(tech.sram_macros, ports);
    fits.push_back(f);
    out += format_text(
        "| %s | %zu | %.4g bits^%.3f width^%.3f | %.3f | %.4g bits^%.3f width^%.3f | %.3f | "
        "%.4g bits + %.4g width | %.3f | %.3g bits + %.3g width + %.3g | %.3f |\n",
        hw::to_string(ports), f.points, std::exp(f.read_log_c), f.read_bits_exp, f.read_width_exp,
        f.read_rms, std::exp(f.write_log_c), f.write_bits_exp, f.write_width_exp, f.write_rms,
        f.area_per_bit, f.area_per_width_bit, f.area_rms, f.leakage_per_bit,
        f.leakage_per_width_bit, f.leakage_per_macro, f.leakage_rms);
  }
  out +=
      "\nWhat the fit gives for one bank, beside the library's point where it has one (CACTI, "
      "in brackets):\n\n| bank | width | ports | read pJ | write pJ | area mm^2 | leakage mW "
      "|\n|---|---|---|---|---|---|---|\n";
  auto cell = [](double fit, const double* point, const char* format) {
    std::string c = format_text(format, fit);
    if (point) c += " (" + format_text(format, *point) + ")";
    return c;
  };
  for (const double kib : {8.0, 32.0, 128.0, 512.0}) {
    for (const double width : {64.0, 256.0}) {
      for (size_t i = 0; i < all_ports.size(); ++i) {
        const SramMacroCost c = sram_macro_cost(fits[i], 8192.0 * kib, width);
        const SramMacroPoint* point = nullptr;
        for (const SramMacroPoint& m : tech.sram_macros) {
          if (m.capacity_kib == kib && m.width_bits == width && m.ports == all_ports[i]) {
            point = &m;
          }
        }
        const double area_mm2 = c.area_um2 * 1e-6;
        const double point_area_mm2 = point ? point->area_um2 * 1e-6 : 0;
        out += format_text("| %.0f KiB | %.0f | %s | ", kib, width, hw::to_string(all_ports[i])) +
               cell(c.read_pj, point ? &point->read_pj : nullptr, "%.2f") + " | " +
               cell(c.write_pj, point ? &point->write_pj : nullptr, "%.2f") + " | " +
               cell(area_mm2, point ? &point_area_mm2 : nullptr, "%.4f") + " | " +
               cell(c.leakage_mw, point ? &point->leakage_mw : nullptr, "%.3f") + " |\n";
      }
    }
  }
  // Horowitz, "Computing's energy problem", ISSCC 2014: 64-bit SRAM reads at 45 nm.
  out +=
      "\n64-bit reads of one 1rw bank against Horowitz (ISSCC 2014, 45 nm, 0.9 V), whose "
      "figures are whole memories, not one bank:\n\n"
      "| capacity | fit pJ | Horowitz pJ | ratio |\n|---|---|---|---|\n";
  for (const auto& [kib, horowitz_pj] : {std::pair<double, double>{8, 10}, {32, 20}, {1024, 100}}) {
    const double pj = sram_macro_cost(fits[0], 8192.0 * kib, 64).read_pj;
    out +=
        format_text("| %.0f KiB | %.2f | %.0f | %.2f |\n", kib, pj, horowitz_pj, pj / horowitz_pj);
  }
  return out;
}

}  // namespace nmp::sim
