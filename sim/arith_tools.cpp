#include "sim/arith_tools.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "hw_models/arith/binary.hpp"
#include "hw_models/arith/format.hpp"
#include "hw_models/arith/intquant.hpp"
#include "hw_models/arith/ternary.hpp"
#include "sim/text.hpp"

namespace nmp::sim {
namespace {

struct LineError {
  size_t column;
  std::string message;
};

std::string pattern_text(uint32_t p, int bits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%0*x", (bits + 3) / 4, p);
  return buf;
}

std::string value_text(const arith::NumberFormat& f, uint32_t p) {
  const arith::Unpacked u = f.decode(p);
  if (u.is_nan()) return f.name().rfind("posit", 0) == 0 ? "NaR" : "nan";
  if (u.is_inf()) return u.neg ? "-inf" : "inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", arith::to_double(u));
  return buf;
}

// One operand: a hex pattern, or a decimal value rounded into the format.
uint32_t operand(const arith::NumberFormat& f, const std::string& text, size_t column) {
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    size_t used = 0;
    unsigned long long v = 0;
    try {
      v = std::stoull(text.substr(2), &used, 16);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() - 2) throw LineError{column, "'" + text + "' is not a hex pattern"};
    if (f.bits() < 64 && v >> f.bits()) {
      throw LineError{column,
                      "pattern " + text + " has more than " + std::to_string(f.bits()) + " bits"};
    }
    return static_cast<uint32_t>(v);
  }
  // A decimal beyond double's range keeps its rounding in every format (at most 32 bits): one
  // above DBL_MAX rounds as DBL_MAX does (infinity, or the largest value when saturating), one
  // below the smallest subnormal as that subnormal does (zero, or a posit's minpos). Subnormal
  // doubles are exact.
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  double d = std::strtod(begin, &end);
  if (text.empty() || end != begin + text.size()) {
    throw LineError{column, "'" + text + "' is neither a hex pattern (0x..) nor a number"};
  }
  if (errno == ERANGE && std::isinf(d)) d = std::copysign(std::numeric_limits<double>::max(), d);
  if (errno == ERANGE && d == 0) {
    d = std::copysign(std::numeric_limits<double>::denorm_min(), text[0] == '-' ? -1.0 : 1.0);
  }
  return f.from_double(d);
}

std::vector<uint32_t> operand_list(const arith::NumberFormat& f, const std::string& text,
                                   size_t column) {
  std::vector<uint32_t> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    out.push_back(operand(f, text.substr(start, end - start), column + start));
    start = end + 1;
  }
  return out;
}

}  // namespace

int run_calculator(const std::string& format, std::istream& in, std::ostream& out,
                   std::ostream& err) {
  std::unique_ptr<arith::NumberFormat> f;
  try {
    f = arith::make_format(format);
  } catch (const std::invalid_argument& e) {
    err << "error: --format: " << e.what() << "\n";
    return 2;
  }
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const std::vector<Word> words = split_words(line);
    if (words.empty()) continue;
    try {
      const std::string& op = words[0].text;
      const size_t want = op == "sqrt" || op == "from_double" || op == "to_double" ? 1 : 2;
      const bool known =
          op == "add" || op == "sub" || op == "mul" || op == "div" || op == "fdp" || want == 1;
      if (!known) {
        throw LineError{words[0].column, "unknown operation '" + op +
                                             "' (expected add, sub, mul, div, sqrt, "
                                             "from_double, to_double or fdp)"};
      }
      if (words.size() != want + 1) {
        throw LineError{words.back().column, op + " takes " + std::to_string(want) +
                                                 (want == 1 ? " operand" : " operands")};
      }
      uint32_t r = 0;
      if (op == "fdp") {
        const auto x = operand_list(*f, words[1].text, words[1].column);
        const auto y = operand_list(*f, words[2].text, words[2].column);
        if (x.size() != y.size()) {
          throw LineError{words[2].column, "fdp: the lists have " + std::to_string(x.size()) +
                                               " and " + std::to_string(y.size()) + " entries"};
        }
        r = f->fdp(x, y);
      } else {
        const uint32_t a = operand(*f, words[1].text, words[1].column);
        const uint32_t b = want == 2 ? operand(*f, words[2].text, words[2].column) : 0;
        if (op == "add") r = f->add(a, b);
        if (op == "sub") r = f->sub(a, b);
        if (op == "mul") r = f->mul(a, b);
        if (op == "div") r = f->div(a, b);
        if (op == "sqrt") r = f->sqrt(a);
        if (op == "from_double" || op == "to_double") r = a;
      }
      out << pattern_text(r, f->bits()) << " " << value_text(*f, r) << "\n";
    } catch (const LineError& e) {
      err << "line " << line_no << ", column " << e.column << ": " << e.message << "\n";
      return 2;
    }
  }
  return 0;
}

std::vector<std::string> default_format_list() {
  return {"fp16",        "bf16",        "fp8_e4m3",   "fp8_e5m2",   "posit<8,0>",  "posit<8,1>",
          "posit<16,1>", "posit<32,2>", "fixed<2,6>", "fixed<3,5>", "fixed<2,14>", "fixed<3,13>",
          "int8",        "int4",        "ternary",    "binary"};
}

std::vector<FormatErrorRow> format_errors(const std::vector<float>& x,
                                          const std::vector<std::string>& formats) {
  std::vector<FormatErrorRow> rows;
  for (const std::string& name : formats) {
    std::vector<double> q(x.size());
    FormatErrorRow row{name};
    if (name == "ternary") {
      const arith::TernaryTensor t = arith::quantize_absmean(x.data(), x.size());
      for (size_t i = 0; i < x.size(); ++i) q[i] = static_cast<double>(t.trits[i]) * t.gamma[0];
      row.bits = 2;
    } else if (name == "binary") {
      const arith::BinaryTensor b = arith::quantize_sign(x.data(), x.size());
      for (size_t i = 0; i < x.size(); ++i) q[i] = b.value(i) * double{b.scale};
      row.bits = 1;
    } else if (name.rfind("int", 0) == 0) {
      const std::string digits = name.substr(3);
      const int bits = digits.size() == 1 || digits.size() == 2 ? std::atoi(digits.c_str()) : 0;
      if (digits.find_first_not_of("0123456789") != std::string::npos || bits < 2 || bits > 32) {
        throw std::invalid_argument("unknown format '" + name + "' (intN takes 2 <= N <= 32)");
      }
      const arith::IntQuantized iq = arith::quantize_int(
          x.data(), 1, x.size(), {bits, true, arith::IntGranularity::kPerTensor});
      for (size_t i = 0; i < x.size(); ++i) q[i] = iq.dequantize(i);
      row.bits = bits;
    } else {
      const auto f = arith::make_format(name);
      for (size_t i = 0; i < x.size(); ++i) q[i] = f->to_double(f->from_double(x[i]));
      row.format = f->name();
      row.bits = f->bits();
    }
    double err2 = 0, ref2 = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double d = q[i] - x[i];
      row.max_abs = std::max(row.max_abs, std::fabs(d));
      err2 += d * d;
      ref2 += double{x[i]} * x[i];
    }
    row.rmse = x.empty() ? 0 : std::sqrt(err2 / static_cast<double>(x.size()));
    row.sqnr_db =
        err2 == 0 ? std::numeric_limits<double>::infinity() : 10 * std::log10(ref2 / err2);
    rows.push_back(row);
  }
  return rows;
}

std::string render_format_table(const std::vector<FormatErrorRow>& rows) {
  std::ostringstream o;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%-22s %5s %14s %14s %10s\n", "format", "bits", "max abs", "rmse",
                "SQNR dB");
  o << buf;
  for (const FormatErrorRow& r : rows) {
    std::snprintf(buf, sizeof buf, "%-22s %5d %14.6g %14.6g %10.2f\n", r.format.c_str(), r.bits,
                  r.max_abs, r.rmse, r.sqnr_db);
    o << buf;
  }
  return o.str();
}

}  // namespace nmp::sim
