// The reference sections of docs/ are generated from the code's tables; they must be current.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include "../support.hpp"

TEST_CASE("generated sections of docs/ match what nmpsim prints", "[sim][golden]") {
  int sections = 0;
  for (const char* doc : {"docs/isa.md", "docs/configs.md"}) {
    INFO(doc);
    std::ifstream in(nmp::test::source_path(doc));
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    const std::string s = text.str();
    const std::regex section("<!-- BEGIN GENERATED: (.*?) -->\\n([^]*?)<!-- END GENERATED -->");
    for (std::sregex_iterator it(s.begin(), s.end(), section), end; it != end; ++it) {
      const std::string command = std::string("cd '") + NMP_SOURCE_DIR + "' && '" +
                                  NMPSIM_BINARY + "' " + (*it)[1].str();
      FILE* p = popen(command.c_str(), "r");
      REQUIRE(p);
      std::string out;
      char buf[4096];
      size_t n;
      while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
      REQUIRE(pclose(p) == 0);
      INFO("regenerate with scripts/gen_docs.py");
      REQUIRE((*it)[2].str() == out);
      ++sections;
    }
  }
  REQUIRE(sections >= 2);
}
