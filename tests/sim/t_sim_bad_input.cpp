// Bad input: one clear message naming the file and JSON path (or line:column), exit code 2.
// The expected messages are golden files written by scripts/regen_golden.py.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "../support.hpp"

namespace {

struct Outcome {
  int exit_code;
  std::string stderr_text;
};

// Single-quotes a word for the shell.
std::string quoted(const std::string& word) {
  std::string q = "'";
  for (char c : word) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

Outcome run_nmpsim(const std::vector<std::string>& args, const std::string& stdin_path) {
  std::string cmd = "cd " + quoted(NMP_SOURCE_DIR) + " && " + quoted(NMPSIM_BINARY);
  for (const std::string& a : args) cmd += " " + quoted(a);
  cmd += " < " + quoted(stdin_path) + " 2>&1 >/dev/null";
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

// Where a message says the problem is: "error: <file, option or file:line:column>: ...",
// "<program file>: ..." (asm, disasm), "nmpsim <command>: ..." (the command line), or
// "line N, column M: ..." (standard input of nmpsim arith). "" if it names nothing.
std::string location_of(const std::string& line) {
  std::string rest = line.rfind("error: ", 0) == 0 ? line.substr(7) : line;
  if (rest.rfind("nmpsim", 0) == 0 || rest.rfind("line ", 0) == 0) return rest.substr(0, 12);
  if (rest.rfind("--", 0) == 0) return rest.substr(0, rest.find(':'));
  const size_t colon = rest.find(": ");
  if (colon == std::string::npos) return "";
  const std::string where = rest.substr(0, colon);
  return where.find(' ') == std::string::npos ? where : "";
}

}  // namespace

TEST_CASE("bad input gives the golden message and exit code 2", "[sim][golden]") {
  // The corpus: tests/golden/bad_input/cases.py, written out by scripts/regen_golden.py.
  const auto cases =
      nmp::sim::parse_json_file(nmp::test::source_path("tests/golden/bad_input/cases.json"));
  REQUIRE(cases.size() >= 150);
  const std::string stdin_path =
      std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
      "/nmpsim-bad-input-stdin-" + std::to_string(getpid());
  for (const auto& c : cases) {
    const std::string name = c["name"];
    INFO(name);
    std::ofstream(stdin_path) << c.value("stdin", std::string());
    const Outcome o = run_nmpsim(c["args"].get<std::vector<std::string>>(), stdin_path);
    REQUIRE(o.exit_code == 2);
    REQUIRE(o.stderr_text ==
            read_text(nmp::test::source_path("tests/golden/bad_input/" + name + ".err")));
    // Meaning, not just bytes: one message per problem, each naming where it is.
    REQUIRE(!o.stderr_text.empty());
    std::istringstream lines(o.stderr_text);
    for (std::string line; std::getline(lines, line);) {
      INFO(line);
      REQUIRE(!location_of(line).empty());
    }
  }
  std::remove(stdin_path.c_str());
}

TEST_CASE("an override that is not UTF-8 is refused, not passed on to JSON", "[unit]") {
  // Found by fuzzing: a bare-word value with a 0xff byte reached nlohmann's dump and escaped as
  // an internal error.
  REQUIRE_THROWS_WITH(nmp::sim::parse_set_options({"hw.name=ab\xff"}),
                      Catch::Contains("not valid UTF-8"));
  // Messages quoting such bytes carry U+FFFD instead, so they can be stored as JSON.
  const nmp::sim::ConfigError e("file\xfe", "", "got \xff");
  REQUIRE(e.issues().front().file == "file\xef\xbf\xbd");
  REQUIRE(nmp::sim::Json(e.issues().front().message).dump() == "\"got \xef\xbf\xbd\"");
}

TEST_CASE("an override path may hold '~' and '/': they are keys, not pointer syntax", "[unit]") {
  // Found by fuzzing (CI): hw.a~b reached nlohmann's json_pointer unescaped and escaped as an
  // internal error.
  const auto sets = nmp::sim::parse_set_options({"hw.a~b.c/d=1", "hw.mac_array.rows=8"});
  REQUIRE(sets[0].pointer == "/a~0b/c~1d");
  REQUIRE(nmp::sim::unescape_pointer_token("a~0b~1c~") == "a~b/c~");
  REQUIRE_THROWS_WITH(
      nmp::sim::load_hardware(std::string(NMP_SOURCE_DIR) + "/configs/hw/default.json", sets),
      Catch::Contains("/a~0b: unknown field"));
}

TEST_CASE("every enum value's name reads back as that value", "[sim]") {
  // The readers match names by position in lists built from each enum's to_string; a list
  // typed by hand would silently map a name to another value once the enum is reordered.
  auto read = [](const std::string& set) {
    return nmp::sim::load_hardware(nmp::test::source_path("configs/hw/default.json"),
                                   nmp::sim::parse_set_options(nmp::test::with_simple_dram({set})))
        .params;
  };
  using namespace nmp;
  for (size_t i = 0; i < hw::kNumPeKinds; ++i) {
    const auto v = static_cast<hw::PeKind>(i);
    REQUIRE(read(std::string("hw.mac_array.pe=") + hw::to_string(v)).mac_array.pe == v);
  }
  for (size_t i = 0; i < hw::kNumDataflows; ++i) {
    const auto v = static_cast<hw::Dataflow>(i);
    REQUIRE(read(std::string("hw.mac_array.dataflow=") + hw::to_string(v)).mac_array.dataflow == v);
  }
  for (size_t i = 0; i < hw::kNumFoldTimings; ++i) {
    const auto v = static_cast<hw::FoldTiming>(i);
    REQUIRE(
        read(std::string("hw.mac_array.fold_timing=") + hw::to_string(v)).mac_array.fold_timing ==
        v);
  }
  for (size_t i = 0; i < hw::kNumFloatAccumulations; ++i) {
    const auto v = static_cast<hw::FloatAccumulation>(i);
    REQUIRE(read(std::string("hw.mac_array.float_accumulation=") + hw::to_string(v))
                .mac_array.float_accumulation == v);
  }
  for (size_t i = 0; i < hw::kNumPortConfigs; ++i) {
    const auto v = static_cast<hw::PortConfig>(i);
    REQUIRE(read(std::string("hw.act_sram.ports=") + hw::to_string(v)).act_sram.ports == v);
  }
  for (size_t i = 0; i < hw::kNumPagePolicies; ++i) {
    const auto v = static_cast<hw::PagePolicy>(i);
    const auto policy = nmp::sim::load_hardware(
        nmp::test::source_path("configs/hw/default.json"),
        nmp::sim::parse_set_options({std::string("hw.dram.page_policy=") + hw::to_string(v)}));
    REQUIRE(policy.params.dram.page_policy == v);
  }
  for (size_t i = 0; i < workloads::kNumDistributions; ++i) {
    const auto v = static_cast<workloads::Distribution>(i);
    const sim::SimConfig c =
        test::make_config({{"name", "d"},
                           {"tokens", 1},
                           {"input", {{"distribution", workloads::to_string(v)}}},
                           {"layers", {{{"type", "rmsnorm"}, {"name", "x"}, {"in_features", 8}}}}});
    REQUIRE(c.workload.model.inputs.front().source.distribution == v);
  }
  for (size_t i = 0; i < arith::kNumTernaryPackings; ++i) {
    const auto v = static_cast<arith::TernaryPacking>(i);
    REQUIRE(read(std::string("hw.weight_sram.packing=") + arith::to_string(v)).mac_array.packing ==
            v);
  }
}
