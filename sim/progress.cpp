#include "sim/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace nmp::sim {

bool ProgressLine::wanted(bool quiet) { return !quiet && isatty(STDERR_FILENO) == 1; }

std::string ProgressLine::duration_text(double s) {
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s / 3600),
                  static_cast<int>(s / 60) % 60);
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  }
  return buf;
}

double ProgressLine::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressLine::show(const std::string& text, bool force) {
  if (!on_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force) {
    if (elapsed_s() < first_after_s_) return;
    if (drawn_ && now - last_ < std::chrono::milliseconds(250)) return;
  }
  last_ = now;
  drawn_ = true;
  std::fprintf(stderr, "\r%s\x1b[K", text.c_str());
  std::fflush(stderr);
}

void ProgressLine::close() {
  if (!drawn_) return;
  std::fputc('\n', stderr);
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace nmp::sim
