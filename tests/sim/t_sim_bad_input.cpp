// Bad input: one clear message naming the file and JSON path (or line:column), exit code 2.
// The expected messages are golden files written by scripts/regen_golden.py.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "../support.hpp"

namespace {

struct Outcome {
  int exit_code;
  std::string stderr_text;
};

Outcome run_nmpsim(const std::vector<std::string>& args) {
  std::string cmd = "cd '" + std::string(NMP_SOURCE_DIR) + "' && '" + NMPSIM_BINARY + "'";
  for (const std::string& a : args) cmd += " '" + a + "'";
  cmd += " 2>&1 >/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("bad input gives the golden message and exit code 2", "[sim][golden]") {
  const auto cases =
      nmp::sim::parse_json_file(nmp::test::source_path("tests/golden/bad_input/cases.json"));
  REQUIRE(cases.size() >= 10);
  for (const auto& c : cases) {
    const std::string name = c["name"];
    INFO(name);
    const Outcome o = run_nmpsim(c["args"].get<std::vector<std::string>>());
    REQUIRE(o.exit_code == 2);
    REQUIRE(o.stderr_text ==
            read_text(nmp::test::source_path("tests/golden/bad_input/" + name + ".err")));
    // Meaning, not just bytes: one message per problem, each naming where it is.
    REQUIRE(!o.stderr_text.empty());
    std::istringstream lines(o.stderr_text);
    for (std::string line; std::getline(lines, line);) {
      const bool names_input =
          line.find(".json") != std::string::npos || line.find("--set") != std::string::npos ||
          line.find(".s:") != std::string::npos || line.find(".bin") != std::string::npos ||
          line.find("nmpsim") != std::string::npos;
      REQUIRE(names_input);
    }
  }
}
