#include <catch2/catch.hpp>

#include <cmath>
#include <sstream>

#include "../support.hpp"
#include "sim/arith_tools.hpp"
#include "sim/npy.hpp"
#include "workloads/model.hpp"

#include <filesystem>
#include <fstream>
#include <map>

using namespace nmp::sim;

namespace {

std::string calc(const std::string& format, const std::string& input, int expect_code = 0) {
  std::istringstream in(input);
  std::ostringstream out, err;
  REQUIRE(run_calculator(format, in, out, err) == expect_code);
  return expect_code == 0 ? out.str() : err.str();
}

}  // namespace

TEST_CASE("the arith calculator prints pattern and value per line", "[unit]") {
  REQUIRE(calc("posit<8,0>", "add 0x40 0x40\nmul 1.5 2.5\n# comment\n\nsqrt 2\ndiv 1 0\n") ==
          "0x60 2\n0x6e 3.75\n0x4d 1.40625\n0x80 NaR\n");
  REQUIRE(calc("posit16_1", "fdp 1,2,3 4,5,6\nto_double 0x4000\n") == "0x7400 32\n0x4000 1\n");
  REQUIRE(calc("fp8_e4m3", "from_double 470\nfrom_double 464\n") == "0x7f nan\n0x7e 448\n");
  REQUIRE(calc("fp8_e4m3_sat", "from_double 1e9\n") == "0x7e 448\n");
  REQUIRE(calc("fp16", "div -1 0\nsub 0x8000 0x8000\n") == "0xfc00 -inf\n0x0000 0\n");
  REQUIRE(calc("fixed<2,6>", "from_double 1.3\nadd 1.5 1.5\n") == "0x53 1.296875\n0x7f 1.984375\n");
  REQUIRE(calc("int8", "mul 20 20\n") == "0x7f 127\n");
}

TEST_CASE("a malformed calculator line is an error with line and column", "[unit]") {
  REQUIRE(calc("fp16", "add 1 1\nmul 3 4 5\n", 2) == "line 2, column 9: mul takes 2 operands\n");
  REQUIRE(calc("fp16", "frob 1\n", 2).find("line 1, column 1: unknown operation 'frob'") == 0);
  REQUIRE(calc("fp8_e5m2", "add 0x1ff 1\n", 2) ==
          "line 1, column 5: pattern 0x1ff has more than 8 bits\n");
  REQUIRE(calc("posit8_0", "fdp 1,2 3\n", 2) ==
          "line 1, column 9: fdp: the lists have 2 and 1 entries\n");
  REQUIRE(calc("fp16", "add one 2\n", 2).find("'one' is neither") != std::string::npos);
  REQUIRE(calc("fp9", "", 2).find("error: --format: unknown number format 'fp9'") == 0);
}

TEST_CASE("the formats table orders formats as the seeds do", "[unit]") {
  // Weights in [-2.5, 2.5] (the seed's speech model 1): fixed<2,6> cannot hold values >= 2,
  // posit<8,0> is the best 8-bit format, and every 16-bit format beats every 8-bit one.
  nmp::workloads::TensorSource s;
  s.distribution = nmp::workloads::Distribution::kUniform;
  s.low = -2.5;
  s.high = 2.5;
  const auto x = nmp::workloads::generate_tensor(s, 20000);
  const auto rows = format_errors(x, {"fixed<2,6>", "posit<8,0>", "fp8_e4m3", "fixed<2,14>",
                                      "posit<16,1>", "bf16", "fp16", "ternary"});
  std::map<std::string, double> sqnr;
  for (const auto& r : rows) sqnr[r.format] = r.sqnr_db;
  REQUIRE(rows[0].max_abs > 0.49);  // 2.5 saturates to 2 - 2^-6
  REQUIRE(sqnr["posit<8,0>"] > sqnr["fixed<2,6>"]);
  REQUIRE(sqnr["posit<8,0>"] > sqnr["fp8_e4m3"]);
  for (const char* wide : {"posit<16,1>", "bf16", "fp16"}) REQUIRE(sqnr[wide] > sqnr["posit<8,0>"]);
  REQUIRE(sqnr["ternary"] < sqnr["fixed<2,6>"]);
}

TEST_CASE("npy files are read back, and bad ones rejected with the file named", "[unit]") {
  const std::string dir = std::filesystem::temp_directory_path() / "nmpsim_npy_test";
  std::filesystem::create_directories(dir);
  const std::vector<float> v = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -1.0f};
  write_npy(dir + "/a.npy", NpyType::kFloat32, v.data(), {2, 3});
  const NpyArray a = read_npy(dir + "/a.npy");
  REQUIRE(a.shape == std::vector<size_t>{2, 3});
  REQUIRE(a.values == v);
  const std::vector<int8_t> i8 = {-128, 127, 5};
  write_npy(dir + "/b.npy", NpyType::kInt8, i8.data(), {3});
  REQUIRE(read_npy(dir + "/b.npy").values == std::vector<float>{-128, 127, 5});

  std::string bytes;
  {
    std::ifstream in(dir + "/a.npy", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir + "/" + name, std::ios::binary) << content;
    return dir + "/" + name;
  };
  REQUIRE_THROWS_WITH(read_npy(write("t.npy", bytes.substr(0, bytes.size() - 3))),
                      Catch::Contains("truncated data"));
  REQUIRE_THROWS_WITH(read_npy(write("m.npy", "NUMPY")), Catch::Contains("magic"));
  std::string fortran = bytes;
  fortran.replace(fortran.find("False"), 5, "True ");
  REQUIRE_THROWS_WITH(read_npy(write("f.npy", fortran)), Catch::Contains("Fortran"));
  std::string dtype = bytes;
  dtype.replace(dtype.find("<f4"), 3, ">f4");
  REQUIRE_THROWS_WITH(read_npy(write("d.npy", dtype)), Catch::Contains("unsupported dtype"));
  REQUIRE_THROWS_WITH(read_npy(dir + "/missing.npy"), Catch::Contains("cannot open"));
  std::filesystem::remove_all(dir);
}
