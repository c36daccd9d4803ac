#include "sim/text.hpp"

#include <cctype>
#include <cstdarg>
#include <cstdio>

namespace nmp::sim {

std::string format_text(const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, format, args);
  va_end(args);
  std::string out(n > 0 ? static_cast<size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(out.data(), out.size() + 1, format, again);
  va_end(again);
  return out;
}

std::vector<Word> split_words(const std::string& line) {
  std::vector<Word> words;
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  for (size_t i = 0; i < line.size() && line[i] != '#';) {
    if (space(line[i])) {
      ++i;
      continue;
    }
    const size_t start = i;
    while (i < line.size() && !space(line[i]) && line[i] != '#') ++i;
    words.push_back({line.substr(start, i - start), start + 1});
  }
  return words;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace nmp::sim
