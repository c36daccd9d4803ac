#include <catch2/catch.hpp>

#include <climits>
#include <cstring>
#include <random>

#include "hw_models/kernels.hpp"
#include "hw_models/weight_layout.hpp"

using namespace nmp;
using namespace nmp::hw;

TEST_CASE("fold tiles cover every weight exactly once, in array order", "[unit]") {
  for (auto [n, k, r, c] : {std::array<uint32_t, 4>{33, 77, 8, 4}, {64, 64, 64, 64},
                            {1, 1, 16, 16}, {100, 7, 3, 30}}) {
    const auto packing = arith::TernaryPacking::kFiveTritsPerByte;
    std::vector<int> seen(size_t{n} * k, 0);
    uint64_t offset = 0;
    for (const FoldTile& f : fold_tiles(n, k, r, c, packing)) {
      REQUIRE(f.offset == offset);
      REQUIRE(f.cols <= c);
      REQUIRE(f.rows <= r);
      REQUIRE(f.bytes == f.cols * arith::packed_bytes(f.rows, packing));
      offset += f.bytes;
      for (uint32_t i = 0; i < f.cols; ++i)
        for (uint32_t j = 0; j < f.rows; ++j) ++seen[size_t{f.n0 + i} * k + f.k0 + j];
    }
    REQUIRE(offset == weight_operand_bytes(n, k, r, c, packing));
    for (int s : seen) REQUIRE(s == 1);
  }
}

TEST_CASE("the ternary GEMM kernel equals a naive int64 reference", "[unit]") {
  const auto packing = GENERATE(arith::TernaryPacking::kTwoBit,
                                arith::TernaryPacking::kFiveTritsPerByte);
  const bool accumulate = GENERATE(false, true);
  std::mt19937 rng(5);
  for (auto [m, n, k, r, c] : {std::array<uint32_t, 5>{1, 33, 77, 8, 4}, {3, 77, 33, 16, 16},
                               {2, 5, 300, 64, 3}, {4, 64, 64, 64, 64}}) {
    std::vector<int8_t> w(size_t{n} * k);
    for (int8_t& v : w) v = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
    const uint64_t act_stride = k + 3, acc_stride = 4 * (n + 1);
    std::vector<uint8_t> act(m * act_stride), acc(m * acc_stride);
    for (uint8_t& a : act) a = static_cast<uint8_t>(rng());
    for (uint8_t& a : acc) a = static_cast<uint8_t>(rng());
    const std::vector<uint8_t> acc_before = acc;

    std::vector<uint8_t> packed(weight_operand_bytes(n, k, r, c, packing));
    const auto folds = fold_tiles(n, k, r, c, packing);
    for (const FoldTile& f : folds) {
      for (uint32_t col = 0; col < f.cols; ++col) {
        arith::pack_trits(&w[size_t{f.n0 + col} * k + f.k0], f.rows, packing,
                          packed.data() + f.offset + col * f.row_bytes);
      }
    }
    TernaryGemmArgs args{act.data(), act_stride, packed.data(), acc.data(), acc_stride, m,
                         accumulate};
    const arith::TritCounts counts = ternary_gemm(args, folds, packing);
    uint64_t zeros = 0;
    for (int8_t v : w) zeros += v == 0;
    REQUIRE(counts.zeros == zeros);
    for (uint32_t i = 0; i < m; ++i) {
      for (uint32_t j = 0; j < n; ++j) {
        int64_t sum = 0;
        for (uint32_t x = 0; x < k; ++x) {
          sum += int64_t{static_cast<int8_t>(act[i * act_stride + x])} * w[size_t{j} * k + x];
        }
        int32_t before, got;
        std::memcpy(&before, &acc_before[i * acc_stride + 4 * j], 4);
        std::memcpy(&got, &acc[i * acc_stride + 4 * j], 4);
        const auto expected = static_cast<int32_t>(static_cast<uint32_t>(
            (accumulate ? int64_t{before} : 0) + sum));
        REQUIRE(got == expected);
      }
    }
  }
}

TEST_CASE("requantization maps a row into [-127, 127] as documented", "[unit]") {
  std::mt19937 rng(9);
  for (int trial = 0; trial < 2000; ++trial) {
    const uint32_t n = 1 + rng() % 40;
    std::vector<int32_t> acc(n);
    const int shift = static_cast<int>(rng() % 32);
    for (int32_t& v : acc) v = static_cast<int32_t>(rng()) >> shift;
    if (trial % 100 == 0) acc[0] = INT32_MIN;
    if (trial % 100 == 1) std::fill(acc.begin(), acc.end(), 0);
    std::vector<int8_t> q(n);
    const uint32_t a = requantize_row(acc.data(), n, q.data());
    long double amax = 0;
    for (int32_t v : acc) amax = std::max(amax, std::fabs(static_cast<long double>(v)));
    REQUIRE(a == static_cast<uint32_t>(amax));
    for (uint32_t i = 0; i < n; ++i) {
      REQUIRE(q[i] >= -127);
      REQUIRE(q[i] <= 127);
      if (a == 0) {
        REQUIRE(q[i] == 0);
        continue;
      }
      // The documented formula, evaluated in exact 128-bit arithmetic.
      int e = 0;
      while ((uint64_t{2} << e) <= a) ++e;
      const __int128 two_s = __int128{1} << (e + 24);
      const __int128 r = 127 * two_s / a;
      const __int128 num = acc[i] * r + two_s / 2;
      __int128 expected = num / two_s;
      if (num % two_s != 0 && num < 0) --expected;  // floor
      REQUIRE(q[i] == static_cast<int>(expected));
      // And within half a step (plus the reciprocal's truncation) of the real quotient.
      REQUIRE(std::fabs(q[i] - 127.0L * acc[i] / a) <= 0.5L + 0x1p-23L);
      if (std::fabs(static_cast<long double>(acc[i])) == amax) REQUIRE(std::abs(q[i]) == 127);
    }
  }
}
