// printf-style formatting into a std::string of whatever length the values need (report lines
// carry sources and names of any length; a fixed buffer would cut them).
//
// Example:
//   out << format_text("%-28s %14llu\n", key.c_str(), count);
#pragma once

#include <string>

namespace nmp::sim {

std::string format_text(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace nmp::sim
