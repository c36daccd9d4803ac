// Text helpers of the command-line tools: printf-style formatting into a std::string of whatever
// length the values need (report lines carry sources and names of any length; a fixed buffer
// would cut them), and the word splitting of line-oriented inputs (traces, arith scripts).
//
// Example:
//   out << format_text("%-28s %14llu\n", key.c_str(), count);
//   for (const Word& w : split_words(line)) ... w.text, w.column
#pragma once

#include <string>
#include <vector>

namespace nmp::sim {

std::string format_text(const char* format, ...) __attribute__((format(printf, 1, 2)));

// A word of a line and its column (1-based), for error messages that point at it.
struct Word {
  std::string text;
  size_t column = 0;
};
// The whitespace-separated words of `line` before any '#' (which starts a comment).
std::vector<Word> split_words(const std::string& line);

// A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180).
std::string csv_field(const std::string& text);

}  // namespace nmp::sim
