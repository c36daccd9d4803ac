// The number-format tools of the command line.
//
// `nmpsim arith --format F` reads lines "OP A [B]" and writes one result per line as
// "0xPATTERN value": OP is add, sub, mul, div, sqrt, from_double (round a decimal into the
// format), to_double (the value of a pattern), or fdp X Y with X and Y equal-length
// comma-separated lists (a fused dot product: exact accumulation, one rounding). Operands are
// patterns in hex (0x4a) or decimal values (rounded into the format first).
//
// `nmpsim formats` quantizes one tensor into every format and tabulates max abs error, RMSE and
// SQNR, as the seeds compare formats.
//
// Example:
//   std::istringstream in("add 0x40 0x40\n");
//   run_calculator("posit<8,0>", in, std::cout);   // prints "0x50 2"
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace nmp::sim {

// Returns 0, or 2 after printing "line N, column C: message" for a malformed line.
int run_calculator(const std::string& format, std::istream& in, std::ostream& out,
                   std::ostream& err);

struct FormatErrorRow {
  std::string format;
  int bits = 0;
  double max_abs = 0, rmse = 0, sqnr_db = 0;
};

// Quantization error of `x` in each named format (float formats by element, "int8" and other
// intN by per-tensor absmax scaling, "ternary" by absmean, "binary" by sign).
std::vector<FormatErrorRow> format_errors(const std::vector<float>& x,
                                          const std::vector<std::string>& formats);
std::vector<std::string> default_format_list();
std::string render_format_table(const std::vector<FormatErrorRow>& rows);

}  // namespace nmp::sim
