#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

#include "hw_models/arith/intquant.hpp"
#include "hw_models/arith/ternary.hpp"

using namespace nmp::arith;

TEST_CASE("2-bit packing decodes every byte as its layout says", "[unit]") {
  for (int b = 0; b < 256; ++b) {
    const uint8_t byte = static_cast<uint8_t>(b);
    int8_t out[4];
    const TritCounts c = unpack_trits(&byte, 4, TernaryPacking::kTwoBit, out);
    uint64_t zeros = 0, invalid = 0;
    for (int i = 0; i < 4; ++i) {
      const int code = (b >> (2 * i)) & 3;  // weight i in bits [2i, 2i+1], code = w + 1
      const int expected = code == 3 ? 0 : code - 1;
      REQUIRE(out[i] == expected);
      zeros += expected == 0;
      invalid += code == 3;
    }
    REQUIRE(c.zeros == zeros);
    REQUIRE(c.invalid_codes == invalid);
  }
}

TEST_CASE("base-3 packing decodes every byte as its layout says", "[unit]") {
  for (int b = 0; b < 256; ++b) {
    const uint8_t byte = static_cast<uint8_t>(b);
    int8_t out[5];
    const TritCounts c = unpack_trits(&byte, 5, TernaryPacking::kFiveTritsPerByte, out);
    if (b >= 243) {  // 3^5 codes; the rest decode to zeros and are counted invalid
      REQUIRE(c.invalid_codes == 5);
      for (int8_t v : out) REQUIRE(v == 0);
      continue;
    }
    int rest = b, zeros = 0;
    for (int i = 0; i < 5; ++i) {
      REQUIRE(out[i] == rest % 3 - 1);
      zeros += rest % 3 == 1;
      rest /= 3;
    }
    REQUIRE(c.zeros == static_cast<uint64_t>(zeros));
    REQUIRE(c.invalid_codes == 0);
  }
}

TEST_CASE("packing round-trips any trit sequence and counts its zeros", "[unit]") {
  const TernaryPacking packing =
      GENERATE(TernaryPacking::kTwoBit, TernaryPacking::kFiveTritsPerByte);
  std::mt19937 rng(7);
  for (size_t n = 0; n < 64; ++n) {
    std::vector<int8_t> trits(n);
    uint64_t zeros = 0;
    for (int8_t& t : trits) {
      t = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
      zeros += t == 0;
    }
    std::vector<uint8_t> packed(packed_bytes(n, packing));
    REQUIRE(packed.size() == (packing == TernaryPacking::kTwoBit ? (n + 3) / 4 : (n + 4) / 5));
    pack_trits(trits.data(), n, packing, packed.data());
    std::vector<int8_t> back(n);
    const TritCounts c = unpack_trits(packed.data(), n, packing, back.data());
    REQUIRE(back == trits);
    REQUIRE(c.zeros == zeros);
    REQUIRE(c.invalid_codes == 0);
    const TritCounts counted = count_trits(packed.data(), n, packing);
    REQUIRE(counted.zeros == zeros);
    REQUIRE(counted.invalid_codes == 0);
  }
}

TEST_CASE("counting trits of arbitrary bytes agrees with unpacking them", "[unit]") {
  // Random bytes hold invalid codes; lengths cover the word-at-a-time path and its tails.
  const TernaryPacking packing =
      GENERATE(TernaryPacking::kTwoBit, TernaryPacking::kFiveTritsPerByte);
  std::mt19937 rng(8);
  uint64_t invalid_seen = 0;
  for (size_t n = 0; n < 300; n += 1 + n / 16) {
    std::vector<uint8_t> packed(packed_bytes(n, packing));
    for (uint8_t& b : packed) b = static_cast<uint8_t>(rng());
    std::vector<int8_t> out(n);
    const TritCounts unpacked = unpack_trits(packed.data(), n, packing, out.data());
    const TritCounts counted = count_trits(packed.data(), n, packing);
    INFO("n " << n);
    REQUIRE(counted.zeros == unpacked.zeros);
    REQUIRE(counted.invalid_codes == unpacked.invalid_codes);
    invalid_seen += unpacked.invalid_codes;
  }
  REQUIRE(invalid_seen > 0);
}

TEST_CASE("absmean ternarization follows its definition", "[unit]") {
  // mean |w| = 1, so W/gamma = W: 0.5 and -0.5 round to even (0), 3 clips to 1.
  const std::vector<float> w = {1.0f, -1.0f, 0.5f, -0.5f, 3.0f, 0.0f, 1.5f, -2.5f};
  const TernaryTensor q = quantize_absmean(w.data(), w.size());
  REQUIRE(q.gamma.size() == 1);
  REQUIRE(q.gamma[0] == Approx(10.0 / 8.0));
  // W / 1.25: 0.8, -0.8, 0.4, -0.4, 2.4, 0, 1.2, -2.0
  REQUIRE(q.trits == std::vector<int8_t>{1, -1, 0, 0, 1, 0, 1, -1});

  // mean |w| = 10 / 10 = 1: the ties +-0.5 round to 0, +-1.5 and +-2.5 round away and clip.
  const std::vector<float> ties = {0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 1.0f, 0.0f, 0.0f, 0.0f};
  REQUIRE(quantize_absmean(ties.data(), ties.size()).trits ==
          std::vector<int8_t>{0, 0, 1, -1, 1, -1, 1, 0, 0, 0});
  // Against round-half-even then clip, as torch.round and clamp, on random weights.
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.3f, 1.0f);
  std::vector<float> r(100000);
  for (float& x : r) x = normal(gen);
  const TernaryTensor rq = quantize_absmean(r.data(), r.size());
  for (size_t i = 0; i < r.size(); ++i) {
    const float rounded = std::nearbyint(r[i] / rq.gamma[0]);
    REQUIRE(rq.trits[i] == static_cast<int8_t>(std::clamp(rounded, -1.0f, 1.0f)));
  }

  const std::vector<float> zeros(16, 0.0f);
  const TernaryTensor z = quantize_absmean(zeros.data(), zeros.size());
  REQUIRE(z.gamma[0] == 1e-5f);  // the floor of the reference code
  for (int8_t t : z.trits) REQUIRE(t == 0);

  const std::vector<float> m = {2, -2, 0, 0, /*row 2*/ 0.1f, 0.3f, -0.2f, 0.0f};
  const TernaryTensor rows = quantize_absmean_per_row(m.data(), 2, 4);
  REQUIRE(rows.gamma.size() == 2);
  REQUIRE(rows.gamma[0] == Approx(1.0));
  REQUIRE(rows.gamma[1] == Approx(0.15));
  REQUIRE(rows.trits == std::vector<int8_t>{1, -1, 0, 0, 1, 1, -1, 0});
}

TEST_CASE("absmax int8 quantization per token follows its definition", "[unit]") {
  const std::vector<float> x = {1.0f, -2.0f, 0.5f, /*row 2*/ 0.0f, 0.0f, 0.0f};
  const QuantizedRows q = quantize_absmax_per_row(x.data(), 2, 3, 8);
  // s = 127 / 2 = 63.5: 63.5 rounds to even (64), -127, 31.75 -> 32.
  REQUIRE(q.values == std::vector<int32_t>{64, -127, 32, 0, 0, 0});
  REQUIRE(q.absmax[0] == 2.0f);
  REQUIRE(q.absmax[1] == 1e-5f);
  REQUIRE(q.scale(0) == Approx(2.0 / 127.0));
}
