// Limits on every input, so that no input can crash, hang or exhaust the host.
//
// Every file nmpsim reads goes through read_input_file() (or check_input_file() for readers
// that seek): it must be a regular file (not a directory, device or pipe) no larger than the
// limit of its kind. JSON text is checked for nesting depth before it is parsed
// (json_reader.cpp). Work whose host memory follows from the input (tensors, DRAM images)
// asks require_host_memory() first, against the limit `--max-memory` sets (default: three
// quarters of the machine's physical memory). Every refusal is a ConfigError (exit code 2)
// naming the input and the figure that broke the limit.
//
// Example:
//   const std::string text = read_input_file(path, kMaxTextFileBytes);
//   require_host_memory(bytes, "the workload's tensors", workload_file);
#pragma once

#include <cstdint>
#include <string>

namespace nmp::sim {

inline constexpr uint64_t kMiB = uint64_t{1} << 20;
// JSON configs, reports, sweep specs, suites, assembly and binary programs, traces.
inline constexpr uint64_t kMaxTextFileBytes = 256 * kMiB;
// JSON nesting: configs need fewer than 10 levels; nlohmann copies documents recursively.
inline constexpr unsigned kMaxJsonDepth = 128;
// A safetensors header (the format's own limit is 100 MB).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// Throws ConfigError unless `path` is a regular file of at most `max_bytes`; returns its size.
uint64_t check_input_file(const std::string& path, uint64_t max_bytes);
// Whether anything is at `path`; never throws (std::filesystem::exists throws on a name too
// long for the system, found by fuzzing sweep specs).
bool path_exists(const std::string& path);
// Whether `path` is a regular file; never throws.
bool is_regular_file(const std::string& path);
// Where an output file is written first: beside `path` (`path`.partial, renamed over it when
// whole, so a failed write leaves no half-written file), or `path` itself when something
// other than a regular file is there (a device such as /dev/null, a pipe), which a rename
// would replace.
std::string output_staging_path(const std::string& path);
// The whole file, after check_input_file().
std::string read_input_file(const std::string& path, uint64_t max_bytes = kMaxTextFileBytes);

// The host memory a run may use, in bytes (--max-memory); set once by the command line.
uint64_t max_host_memory_bytes();
void set_max_host_memory_bytes(uint64_t bytes);
// Throws ConfigError(`file`) if `bytes` exceed the limit: "<what> needs N bytes of host memory".
void require_host_memory(uint64_t bytes, const std::string& what, const std::string& file);

// "1.50 GiB (1610612736 bytes)": a byte count for messages.
std::string bytes_text(uint64_t bytes);

}  // namespace nmp::sim
