// The generator behind every seeded tensor: its words are eight xoshiro256** generators
// interleaved (against a scalar one written here), its normal values follow N(0, 1) (moments,
// tail mass, and a Kolmogorov-Smirnov test against the closed-form CDF), its trits follow
// absmean ternarization's law, and the streams of one source never share values.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "../support.hpp"
#include "workloads/model.hpp"
#include "workloads/random.hpp"

using namespace nmp;

namespace {

// xoshiro256** one word at a time, as its authors publish it (Blackman and Vigna), seeded as
// the lanes are: four splitmix64 words per lane, lane after lane.
struct ScalarXoshiro {
  uint64_t s[4];
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::vector<ScalarXoshiro> scalar_lanes(uint64_t seed) {
  std::vector<ScalarXoshiro> lanes(workloads::Rng::kLanes);
  for (ScalarXoshiro& lane : lanes) {
    for (uint64_t& word : lane.s) word = splitmix64(seed);
  }
  return lanes;
}

}  // namespace

TEST_CASE("the generator's words are eight xoshiro256** streams interleaved", "[unit]") {
  // Word 8k + j is lane j's k-th, whether taken one at a time or in bulk of any size (across
  // the buffer's edge and past it).
  for (const uint64_t seed : {uint64_t{0}, uint64_t{1}, uint64_t{0xdeadbeef}}) {
    std::vector<ScalarXoshiro> lanes = scalar_lanes(seed);
    std::vector<uint64_t> expected(5000);
    for (size_t i = 0; i < expected.size(); ++i) expected[i] = lanes[i % lanes.size()].next();
    workloads::Rng one(seed);
    for (size_t i = 0; i < expected.size(); ++i) {
      INFO("seed " << seed << " word " << i);
      REQUIRE(one.next() == expected[i]);
    }
    for (const size_t first :
         {size_t{0}, size_t{1}, size_t{7}, size_t{63}, size_t{64}, size_t{65}}) {
      workloads::Rng bulk(seed);
      std::vector<uint64_t> got(expected.size());
      for (size_t i = 0; i < first; ++i) got[i] = bulk.next();
      // Then pieces of varied sizes, the last up to the end.
      size_t at = first;
      for (size_t piece = 1; at < got.size(); piece = piece * 3 + 1) {
        const size_t n = std::min(piece, got.size() - at);
        bulk.fill_words(got.data() + at, n);
        at += n;
      }
      INFO("seed " << seed << " first " << first);
      REQUIRE(got == expected);
    }
  }
}

TEST_CASE("trits are drawn from 32 random bits each against the two thresholds", "[unit]") {
  // fill_trits against the rule applied to the words (low half, then high half), for counts
  // odd and even, thresholds at the edges (0 and 2^32) and inside.
  workloads::Rng pick(5);
  for (int trial = 0; trial < 60; ++trial) {
    const size_t count = 1 + pick.next() % 3000;
    uint64_t minus = pick.next() % (uint64_t{1} << 32), zero = pick.next() % (uint64_t{1} << 32);
    if (minus > zero) std::swap(minus, zero);
    if (trial % 10 == 0) minus = 0;
    if (trial % 10 == 1) zero = uint64_t{1} << 32;
    if (trial % 10 == 2) minus = zero = uint64_t{1} << 32;
    const uint64_t seed = pick.next();
    workloads::Rng words(seed), trits(seed);
    std::vector<int8_t> got(count);
    trits.fill_trits(got.data(), count, minus, zero);
    for (size_t i = 0; i < count; i += 2) {
      const uint64_t w = words.next();
      for (size_t h = 0; h < 2 && i + h < count; ++h) {
        const uint64_t u = h == 0 ? w & 0xffffffffu : w >> 32;
        const int expected = u < minus ? -1 : u < zero ? 0 : 1;
        INFO("trial " << trial << " trit " << i + h);
        REQUIRE(got[i + h] == expected);
      }
    }
    REQUIRE(trits.next() == words.next());  // ceil(count / 2) words taken
  }
}

TEST_CASE("ziggurat normals follow N(0, 1)", "[unit]") {
  const uint64_t seed = GENERATE(1, 2, 12345);
  INFO("seed " << seed);
  workloads::Rng rng(seed);
  constexpr size_t kCount = 400000;
  std::vector<double> x(kCount);
  double sum = 0, sum2 = 0, sum4 = 0;
  size_t beyond_r = 0, beyond_4 = 0;
  for (double& v : x) {
    v = rng.normal();
    sum += v;
    sum2 += v * v;
    sum4 += v * v * v * v;
    beyond_r += std::fabs(v) > 3.442619855899;  // the ziggurat's tail: drawn apart
    beyond_4 += std::fabs(v) > 4;
  }
  const double n = kCount;
  // Mean 0 (sd 1/sqrt(n)), variance 1 (sd sqrt(2/n)), kurtosis 3 (sd sqrt(96/n)): 5 sigma.
  REQUIRE(std::fabs(sum / n) < 5 / std::sqrt(n));
  REQUIRE(std::fabs(sum2 / n - 1) < 5 * std::sqrt(2 / n));
  REQUIRE(std::fabs(sum4 / n - 3) < 5 * std::sqrt(96 / n));
  // Tail mass: P(|x| > R) = erfc(R / sqrt 2) = 5.76e-4; P(|x| > 4) = 6.33e-5.
  const double p_r = std::erfc(3.442619855899 / std::sqrt(2.0));
  REQUIRE(std::fabs(beyond_r - n * p_r) < 5 * std::sqrt(n * p_r));
  const double p_4 = std::erfc(4 / std::sqrt(2.0));
  REQUIRE(std::fabs(beyond_4 - n * p_4) < 5 * std::sqrt(n * p_4) + 1);
  // Kolmogorov-Smirnov: sup |F_n - Phi| below the 0.1% critical value 1.95 / sqrt(n).
  std::sort(x.begin(), x.end());
  double d = 0;
  for (size_t i = 0; i < kCount; ++i) {
    const double cdf = 0.5 * std::erfc(-x[i] / std::sqrt(2.0));
    d = std::max({d, std::fabs(cdf - static_cast<double>(i) / n),
                  std::fabs(static_cast<double>(i + 1) / n - cdf)});
  }
  REQUIRE(d < 1.95 / std::sqrt(n));
}

TEST_CASE("filled normals are the one-at-a-time draws, and leave the generator as they do",
          "[unit]") {
  // Counts around the fill's block of 256 words, and long enough to meet the tail and the
  // wedges (finished on the generator aside) many times.
  for (const size_t count :
       {size_t{1}, size_t{2}, size_t{255}, size_t{256}, size_t{257}, size_t{513}, size_t{100003}}) {
    for (const uint64_t seed : {uint64_t{3}, uint64_t{77}}) {
      INFO("count " << count << " seed " << seed);
      workloads::Rng one(seed), filled(seed);
      const double mean = 0.25, std = 1.5;
      std::vector<float> expected(count), got(count);
      for (float& v : expected) v = static_cast<float>(mean + std * one.normal());
      filled.fill_normal(got.data(), count, mean, std);
      REQUIRE(got == expected);
      REQUIRE(filled.next() == one.next());  // the same state after
      // One word of the stream per value, however many the ziggurat's rare cases take aside.
      workloads::Rng words(seed);
      std::vector<uint64_t> skipped(count);
      words.fill_words(skipped.data(), count);
      workloads::Rng again(seed);
      std::vector<float> once(count);
      again.fill_normal(once.data(), count, mean, std);
      REQUIRE(again.next() == words.next());
    }
  }
}

TEST_CASE("a recurrent layer's tensors come from streams that share no values", "[unit]") {
  // Two bidirectional LSTM layers whose seeds sit one apart (the defaults do), and biases seeded
  // one above the weights: with seed offsets, layer 0's backward W was layer 1's forward W and
  // b_ih was the head of U.
  sim::Json w = {{"name", "streams"}, {"tokens", 2}, {"input", {{"seed", 1}}}};
  for (int l = 0; l < 2; ++l) {
    w["layers"].push_back({{"type", "lstm"},
                           {"format", "fp16"},
                           {"in_features", l == 0 ? 8 : 16},
                           {"hidden", 8},
                           {"bidirectional", true},
                           {"weights", {{"seed", 12 + l}}},
                           {"biases", {{"seed", 13 + l}}}});
  }
  const workloads::ModelSpec spec = sim::parse_workload(w, "test", {}).model;
  const workloads::ModelData d = workloads::generate(spec);
  std::set<float> seen;
  size_t values = 0;
  auto add = [&](const std::vector<float>& v) {
    values += v.size();
    seen.insert(v.begin(), v.end());
  };
  for (const workloads::LayerData& ld : d.layers) {
    for (const workloads::RecurrentDirection& dir : ld.directions) {
      add(dir.w.latent);
      add(dir.u.latent);
      add(dir.b_ih);
      add(dir.b_hh);
    }
  }
  // float32 normals collide by chance with probability ~ n^2 / 2^25: a few at most.
  REQUIRE(values - seen.size() <= 2);
  REQUIRE(d.layers[0].directions[1].w.latent != d.layers[1].directions[0].w.latent);
}

TEST_CASE("derived seeds differ by name, index and seed", "[unit]") {
  std::set<uint64_t> seeds;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    for (const char* name : {"W", "U", "b_ih", "b_hh", "K", "V"}) {
      for (uint64_t index = 0; index < 4; ++index) {
        seeds.insert(workloads::derive_seed(seed, name, index));
      }
    }
  }
  REQUIRE(seeds.size() == 64 * 6 * 4);
}

TEST_CASE("the closed-form law of absmean ternarization matches quantized and drawn tensors",
          "[unit]") {
  // Random distributions, each drawn once with 2^20 values: the counted fraction of zeros lies
  // within 5 standard errors of the closed form.
  workloads::Rng pick(7);
  for (int trial = 0; trial < 24; ++trial) {
    workloads::TensorSource s;
    s.seed = 100 + trial;
    if (trial % 2 == 0) {
      s.distribution = workloads::Distribution::kNormal;
      s.mean = (pick.uniform() - 0.5) * (trial < 12 ? 0.0 : 4.0);
      s.std = 0.01 + 3 * pick.uniform();
    } else {
      s.distribution = workloads::Distribution::kUniform;
      s.low = -3 * pick.uniform() + (trial > 12 ? 1.0 : 0.0);
      s.high = s.low + 0.05 + 3 * pick.uniform();
    }
    constexpr size_t kCount = size_t{1} << 20;
    const std::vector<float> w = workloads::generate_tensor(s, kCount);
    const arith::TernaryTensor t = arith::quantize_absmean(w.data(), w.size());
    const double counted =
        static_cast<double>(std::count(t.trits.begin(), t.trits.end(), 0)) / kCount;
    const double p = workloads::ternary_zero_fraction(s);
    INFO("trial " << trial << ": mean " << s.mean << " std " << s.std << " low " << s.low
                  << " high " << s.high << ": counted " << counted << ", closed form " << p);
    REQUIRE(std::fabs(counted - p) < 5 * std::sqrt(p * (1 - p) / kCount) + 1e-6);
    // The law's other two trits and its gamma against the same quantized draws: +-1 within 5
    // standard errors, gamma (a mean of |w|) within 5 of its own.
    const workloads::TernaryLaw law = workloads::ternary_law(s);
    REQUIRE(law.zero == p);
    for (const auto& [trit, prob] : {std::pair{-1, law.minus}, std::pair{1, law.plus}}) {
      const double share =
          static_cast<double>(std::count(t.trits.begin(), t.trits.end(), trit)) / kCount;
      INFO("trit " << trit << ": counted " << share << ", law " << prob);
      REQUIRE(std::fabs(share - prob) < 5 * std::sqrt(prob * (1 - prob) / kCount) + 1e-6);
    }
    double abs_sum = 0, abs_sq = 0;
    for (const float v : w) {
      abs_sum += std::fabs(v);
      abs_sq += double{v} * v;
    }
    const double mean_abs = abs_sum / kCount;
    const double sd_abs = std::sqrt(std::max(0.0, abs_sq / kCount - mean_abs * mean_abs));
    REQUIRE(std::fabs(t.gamma[0] - law.gamma) < 5 * sd_abs / std::sqrt(double{kCount}) + 1e-6);
    // Trits drawn straight from the law (how seeded bitlinear weights are made): the same
    // shares within 5 standard errors, and the law's gamma.
    const arith::TernaryTensor drawn = workloads::draw_ternary(s, kCount);
    REQUIRE(drawn.gamma[0] == law.gamma);
    for (const auto& [trit, prob] :
         {std::pair{-1, law.minus}, std::pair{0, law.zero}, std::pair{1, law.plus}}) {
      const double share =
          static_cast<double>(std::count(drawn.trits.begin(), drawn.trits.end(), trit)) / kCount;
      INFO("drawn trit " << trit << ": counted " << share << ", law " << prob);
      REQUIRE(std::fabs(share - prob) < 5 * std::sqrt(prob * (1 - prob) / kCount) + 1e-6);
    }
    // From a file, the fraction is counted exactly.
    s.values = std::make_shared<const std::vector<float>>(w);
    REQUIRE(workloads::ternary_zero_fraction(s) == counted);
  }
}
