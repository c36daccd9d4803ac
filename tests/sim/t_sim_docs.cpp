// The reference sections of docs/ are generated from the code's tables; they must be current.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "../support.hpp"

TEST_CASE("generated sections of docs/ match what nmpsim prints", "[sim][golden]") {
  int sections = 0;
  for (const char* doc : {"docs/isa.md", "docs/configs.md", "docs/energy-model.md"}) {
    INFO(doc);
    std::ifstream in(nmp::test::source_path(doc));
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    const std::string begin_mark = "<!-- BEGIN GENERATED: ", end_mark = "<!-- END GENERATED -->";
    for (size_t at = s.find(begin_mark); at != std::string::npos; at = s.find(begin_mark, at)) {
      const size_t args_end = s.find(" -->\n", at);
      const size_t body = args_end + 5;
      const size_t close = s.find(end_mark, body);
      REQUIRE(args_end != std::string::npos);
      REQUIRE(close != std::string::npos);
      const std::string args = s.substr(at + begin_mark.size(), args_end - at - begin_mark.size());
      const std::string command =
          std::string("cd '") + NMP_SOURCE_DIR + "' && '" + NMPSIM_BINARY + "' " + args;
      FILE* p = popen(command.c_str(), "r");
      REQUIRE(p);
      std::string out;
      char buf[4096];
      size_t n;
      while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
      REQUIRE(pclose(p) == 0);
      INFO("nmpsim " << args << ": regenerate with scripts/gen_docs.py");
      REQUIRE(s.substr(body, close - body) == out);
      ++sections;
      at = close;
    }
  }
  REQUIRE(sections >= 3);
}
