// The generator behind every seeded tensor: its normal values follow N(0, 1) (moments, tail
// mass, and a Kolmogorov-Smirnov test against the closed-form CDF), and the streams of one
// source never share values.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "../support.hpp"
#include "workloads/model.hpp"
#include "workloads/random.hpp"

using namespace nmp;

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
  // wedges (which take extra words from the block) many times.
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

TEST_CASE("the closed-form zero fraction of absmean ternarization matches drawn tensors",
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
    // From a file, the fraction is counted exactly.
    s.values = std::make_shared<const std::vector<float>>(w);
    REQUIRE(workloads::ternary_zero_fraction(s) == counted);
  }
}
