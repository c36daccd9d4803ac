// The fast references (GemmReference, Fp32Linear) against the slow ones they replace: the
// per-output reference_accumulator() and a plain double loop, on random shapes, every PE kind,
// dataflow and float accumulation, with every bit pattern of the operands possible (NaN, NaR,
// infinities, subnormals).
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "hw_models/pe.hpp"
#include "workloads/reference.hpp"

using namespace nmp;

namespace {

bool same(const arith::Unpacked& a, const arith::Unpacked& b) {
  if (a.is_nan() || b.is_nan()) return a.is_nan() && b.is_nan();
  return a.kind == b.kind && a.neg == b.neg && a.sig == b.sig && a.sticky == b.sticky &&
         (a.is_zero() || a.is_inf() || a.scale == b.scale);
}

// A random operand pattern of the kind: any bits of its width (ternary: a trit).
uint32_t random_pattern(hw::PeKind kind, std::mt19937_64& rng) {
  if (kind == hw::PeKind::kTernaryInt8) {
    return static_cast<uint32_t>(static_cast<int32_t>(static_cast<int>(rng() % 3) - 1));
  }
  const int bits = hw::is_integer(kind) ? 8 : hw::activation_format(kind).bits();
  const uint64_t r = rng();
  return bits >= 32 ? static_cast<uint32_t>(r) : static_cast<uint32_t>(r & ((1u << bits) - 1));
}

}  // namespace

TEST_CASE("the row-wise gemm reference equals the per-output reference on random shapes",
          "[unit]") {
  std::mt19937_64 rng(20261204);
  const hw::Dataflow dataflows[] = {hw::Dataflow::kAdderTree, hw::Dataflow::kWeightStationary,
                                    hw::Dataflow::kOutputStationary,
                                    hw::Dataflow::kInputStationary};
  size_t outputs = 0, nan_outputs = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const auto kind = static_cast<hw::PeKind>(trial % hw::kNumPeKinds);
    hw::MacArrayParams mac;
    mac.pe = kind;
    mac.dataflow = dataflows[rng() % 4];
    mac.rows = 1 + static_cast<uint32_t>(rng() % 40);
    mac.cols = 1 + static_cast<uint32_t>(rng() % 40);
    mac.float_accumulation =
        rng() % 3 == 0 ? hw::FloatAccumulation::kNative : hw::FloatAccumulation::kFp32;
    const auto k = 1 + static_cast<uint32_t>(rng() % 200);
    const auto n = 1 + static_cast<uint32_t>(rng() % 40);
    const auto m = 1 + static_cast<uint32_t>(rng() % 19);
    const auto k_tile = 1 + static_cast<uint32_t>(rng() % k);
    // Mostly small magnitudes, so that sums are not all NaN or infinite: many kinds' random
    // patterns are, the rest of the time.
    const bool wild = rng() % 4 == 0;
    auto pattern = [&] {
      uint32_t p = random_pattern(kind, rng);
      const hw::Accumulator acc = hw::pe_info(kind).accumulator;
      if (!wild && acc != hw::Accumulator::kInteger && acc != hw::Accumulator::kFixed) {
        const double v = std::ldexp(static_cast<double>(rng() % 2001) - 1000.0, -9);
        p = workloads::encode_element(kind, v);
      }
      return p;
    };
    std::vector<uint32_t> w(size_t{n} * k), x(size_t{m} * k);
    for (uint32_t& p : w) p = pattern();
    for (uint32_t& p : x) p = pattern();
    const workloads::GemmReference gemm(kind, w.data(), n, k, k_tile, mac);
    INFO("kind " << hw::to_string(kind) << ", " << hw::to_string(mac.dataflow) << " " << mac.rows
                 << " rows, " << hw::to_string(mac.float_accumulation) << ", m " << m << " n " << n
                 << " k " << k << " k_tile " << k_tile);
    uint32_t rows_seen = 0;
    gemm.rows(x.data(), m, [&](uint32_t r, const arith::Unpacked* acc) {
      REQUIRE(r == rows_seen++);
      for (uint32_t c = 0; c < n; ++c) {
        const arith::Unpacked slow = workloads::reference_accumulator(
            kind, &x[size_t{r} * k], &w[size_t{c} * k], k, k_tile, mac);
        INFO("row " << r << " output " << c);
        REQUIRE(same(acc[c], slow));
        ++outputs;
        nan_outputs += slow.is_nan();
      }
    });
    REQUIRE(rows_seen == m);
    std::vector<arith::Unpacked> one;
    gemm.row(&x[size_t{m - 1} * k], one);
    for (uint32_t c = 0; c < n; ++c) {
      REQUIRE(same(one[c], workloads::reference_accumulator(kind, &x[size_t{m - 1} * k],
                                                            &w[size_t{c} * k], k, k_tile, mac)));
    }
    if (hw::is_integer(kind)) {
      // The same sums as the int32 the hardware holds.
      rows_seen = 0;
      gemm.rows_wrapped(x.data(), m, [&](uint32_t r, const int32_t* sums) {
        REQUIRE(r == rows_seen++);
        for (uint32_t c = 0; c < n; ++c) {
          const int64_t v = sums[c];
          const auto exact = arith::Unpacked::from_integer(v < 0, v < 0 ? -v : v, 0);
          REQUIRE(same(exact, workloads::reference_accumulator(kind, &x[size_t{r} * k],
                                                               &w[size_t{c} * k], k, k_tile, mac)));
        }
      });
      REQUIRE(rows_seen == m);
    } else {
      REQUIRE_THROWS_AS(gemm.rows_wrapped(x.data(), m, [](uint32_t, const int32_t*) {}),
                        std::logic_error);
    }
  }
  // The comparison saw numbers, not only NaN.
  REQUIRE(outputs > 10000);
  REQUIRE(nan_outputs < outputs / 4);
}

TEST_CASE("posit<16,1> rows too long for 128 bits go output by output, exactly", "[unit]") {
  // 2^15 products of maxpos x maxpos, 2^112 units of 2^-56 each, would reach 2^127: the slow
  // path takes them.
  hw::MacArrayParams mac;
  mac.pe = hw::PeKind::kPosit16;
  const uint32_t k = 1u << 15;
  const uint32_t maxpos = hw::activation_format(mac.pe).max_finite_pattern();
  const std::vector<uint32_t> x(k, maxpos), w(k, maxpos);
  const workloads::GemmReference gemm(mac.pe, w.data(), 1, k, k, mac);
  std::vector<arith::Unpacked> acc;
  gemm.row(x.data(), acc);
  REQUIRE(acc[0].is_finite_nonzero());
  REQUIRE(acc[0].scale == 56 + 15);  // 2^15 x (2^28)^2
  REQUIRE(same(acc[0], workloads::reference_accumulator(mac.pe, x.data(), w.data(), k, k, mac)));
}

TEST_CASE("small units sum in int32 chunks that cannot overflow, exactly", "[unit]") {
  // posit<8,0> (units up to 2^12: products to 2^24) and fixed<2,14>: 1,000 products of the
  // largest magnitudes reach past 2^31, so the int32 partial sums must stop in time. Each
  // row's sum against the per-output reference: all positive, and alternating signs.
  for (const hw::PeKind kind : {hw::PeKind::kPosit8, hw::PeKind::kFixed2_14}) {
    hw::MacArrayParams mac;
    mac.pe = kind;
    const uint32_t k = 1000;
    const uint32_t largest = hw::activation_format(kind).max_finite_pattern();
    const uint32_t most_negative = hw::activation_format(kind).encode(
        arith::negate(hw::activation_format(kind).decode(largest)));
    std::vector<uint32_t> w(2 * size_t{k}, largest), x(2 * size_t{k}, largest);
    for (uint32_t i = 0; i < k; i += 2) w[k + i] = most_negative;  // output 1: signs alternate
    const workloads::GemmReference gemm(kind, w.data(), 2, k, k, mac);
    std::vector<arith::Unpacked> acc;
    gemm.row(x.data(), acc);
    INFO(hw::to_string(kind));
    REQUIRE(acc[0].is_finite_nonzero());
    for (uint32_t c = 0; c < 2; ++c) {
      REQUIRE(same(acc[c],
                   workloads::reference_accumulator(kind, x.data(), &w[size_t{c} * k], k, k, mac)));
    }
  }
}

TEST_CASE("the FP32 model of a layer sums each output in double, in input order", "[unit]") {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int trial = 0; trial < 60; ++trial) {
    workloads::LayerSpec l;
    l.kind = trial % 2 ? workloads::LayerKind::kBitLinear : workloads::LayerKind::kLinear;
    l.in_features = 1 + static_cast<uint32_t>(rng() % 150);
    l.out_features = 1 + static_cast<uint32_t>(rng() % 70);
    const uint32_t k = l.in_features, n = l.out_features, m = 1 + rng() % 21;
    workloads::LayerData ld;
    ld.weights.resize(size_t{n} * k);
    for (float& v : ld.weights) v = normal(rng);
    ld.ternary = arith::quantize_absmean(ld.weights.data(), ld.weights.size());
    std::vector<float> x(size_t{m} * k), bias(n), y(size_t{m} * n);
    for (float& v : x) v = normal(rng);
    for (float& v : bias) v = normal(rng);
    const bool with_bias = trial % 3 == 0;
    workloads::Fp32Linear(l, ld, m).rows(x.data(), m, with_bias ? bias.data() : nullptr, y.data());
    for (uint32_t r = 0; r < m; ++r) {
      for (uint32_t c = 0; c < n; ++c) {
        double sum = 0.0;  // the products in input order, then the bias (Fp32Linear's order)
        for (uint32_t i = 0; i < k; ++i) {
          const size_t at = size_t{c} * k + i;
          const double wi = l.kind == workloads::LayerKind::kBitLinear
                                ? static_cast<double>(ld.ternary.trits[at]) * ld.ternary.gamma[0]
                                : double{ld.weights[at]};
          const double product = wi * x[size_t{r} * k + i];
          sum = sum + product;
        }
        if (with_bias) sum = double{bias[c]} + sum;
        REQUIRE(y[size_t{r} * n + c] == static_cast<float>(sum));
      }
    }
  }
}
