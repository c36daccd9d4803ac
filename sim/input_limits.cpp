#include "sim/input_limits.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "sim/json_reader.hpp"

namespace nmp::sim {
namespace {

uint64_t default_max_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return uint64_t{4} << 30;
  return static_cast<uint64_t>(pages) / 4 * 3 * static_cast<uint64_t>(page);
}

uint64_t& max_memory() {
  static uint64_t bytes = default_max_memory();
  return bytes;
}

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a pipe";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

std::string bytes_text(uint64_t bytes) {
  char text[64];
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    ++u;
  }
  if (u == 0) {
    std::snprintf(text, sizeof text, "%llu bytes", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(text, sizeof text, "%.2f %s (%llu bytes)", v, units[u],
                  static_cast<unsigned long long>(bytes));
  }
  return text;
}

bool path_exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

bool is_regular_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string output_staging_path(const std::string& path) {
  return path_exists(path) && !is_regular_file(path) ? path : path + ".partial";
}

uint64_t check_input_file(const std::string& path, uint64_t max_bytes) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    throw ConfigError(path, "", std::string("cannot open the file: ") + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    throw ConfigError(path, "", std::string("expected a regular file, got ") + kind_of(st.st_mode));
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    throw ConfigError(
        path, "", "the file is " + bytes_text(size) + "; the limit is " + bytes_text(max_bytes));
  }
  return size;
}

std::string read_input_file(const std::string& path, uint64_t max_bytes) {
  const uint64_t size = check_input_file(path, max_bytes);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path, "", "cannot open the file");
  // Read at most one byte past the size found: a file that grows meanwhile is refused.
  std::string bytes(size + 1, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size + 1));
  const auto got = static_cast<uint64_t>(in.gcount());
  if (got > size) throw ConfigError(path, "", "the file grew while it was read");
  bytes.resize(got);
  return bytes;
}

uint64_t max_host_memory_bytes() { return max_memory(); }
void set_max_host_memory_bytes(uint64_t bytes) { max_memory() = bytes; }

void require_host_memory(uint64_t bytes, const std::string& what, const std::string& file) {
  if (bytes <= max_memory()) return;
  throw ConfigError(file, "",
                    what + " needs " + bytes_text(bytes) + " of host memory; the limit is " +
                        bytes_text(max_memory()) + " (--max-memory)");
}

}  // namespace nmp::sim
