// A progress line on standard error for long runs and sweeps: rewritten in place ("\r", then
// the text, then erase to the end of the line), at most a few times a second, and only on a
// terminal, so that logs and pipes never receive it (`-q` turns it off too).
//
// Example:
//   ProgressLine line(ProgressLine::wanted(quiet));
//   line.show("sweep: 3/10 points");   // drawn if the line is on and not drawn too recently
//   line.close();                        // ends the line, if anything was drawn
#pragma once

#include <chrono>
#include <string>

namespace nmp::sim {

class ProgressLine {
 public:
  // On unless quiet, and only if standard error is a terminal.
  static bool wanted(bool quiet);
  // Durations in seconds, as "42s", "3m07s" or "1h05m" (estimates: whole seconds are enough).
  static std::string duration_text(double seconds);

  explicit ProgressLine(bool on, double first_after_s = 0.0)
      : on_(on), first_after_s_(first_after_s) {}
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  ~ProgressLine() { close(); }

  bool on() const { return on_; }
  // Seconds since the line was made.
  double elapsed_s() const;
  // Draws `text` unless it was drawn less than a quarter second ago, or the line is younger
  // than first_after_s (short runs print nothing); `force` draws it anyway (a last state).
  void show(const std::string& text, bool force = false);
  void close();

 private:
  bool on_;
  double first_after_s_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace nmp::sim
