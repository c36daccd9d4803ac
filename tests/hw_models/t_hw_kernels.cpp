#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "hw_models/arith/accumulator.hpp"
#include "hw_models/arith/fixed.hpp"
#include "hw_models/arith/format.hpp"
#include "hw_models/kernels.hpp"
#include "hw_models/vector_ops.hpp"
#include "hw_models/weight_layout.hpp"

using namespace nmp;
using namespace nmp::hw;

TEST_CASE("weight blocks cover every weight exactly once, in array order", "[unit]") {
  const auto dataflow = GENERATE(Dataflow::kAdderTree, Dataflow::kWeightStationary,
                                 Dataflow::kOutputStationary, Dataflow::kInputStationary);
  const auto pe = GENERATE(PeKind::kTernaryInt8, PeKind::kFp16);
  for (auto [n, k, r, c] :
       {std::array<uint32_t, 4>{33, 77, 8, 4}, {64, 64, 64, 64}, {1, 1, 16, 16}, {100, 7, 3, 30}}) {
    const WeightLayout layout{dataflow, r, c, pe, arith::TernaryPacking::kFiveTritsPerByte};
    std::vector<int> seen(size_t{n} * k, 0);
    uint64_t offset = 0;
    for (const WeightBlock& b : weight_blocks(n, k, layout)) {
      REQUIRE(b.offset == offset);
      REQUIRE(b.bytes == b.rows() * layout.row_bytes(b.row_length()));
      offset += b.bytes;
      for (uint32_t i = 0; i < b.n_count; ++i)
        for (uint32_t j = 0; j < b.k_count; ++j) ++seen[size_t{b.n0 + i} * k + b.k0 + j];
    }
    REQUIRE(offset == weight_operand_bytes(n, k, layout));
    for (int s : seen) REQUIRE(s == 1);
  }
}

namespace {

// A kind's element format, made from arith by name (not the kernels' decode tables).
const arith::NumberFormat& element_format(PeKind kind) {
  static std::array<std::unique_ptr<arith::NumberFormat>, kNumPeKinds> formats;
  auto& f = formats[static_cast<size_t>(kind)];
  if (!f) f = arith::make_format(pe_info(kind).element_format);
  return *f;
}

// The value of an encoded element, decoded with hw_models/arith.
double value_of(PeKind kind, const uint8_t* p) {
  uint32_t pattern = 0;
  std::memcpy(&pattern, p, pe_traits(kind).act_bytes);
  return arith::to_double(element_format(kind).decode(pattern));
}

// A random finite encoding of a value near N(0, 1); integer and fixed kinds: any bits.
void random_element(PeKind kind, std::mt19937& rng, uint8_t* out) {
  std::normal_distribution<double> normal(0.0, 1.0);
  const PeKindInfo& info = pe_info(kind);
  uint32_t p = element_format(kind).encode(arith::from_double(normal(rng)));
  if (info.accumulator == Accumulator::kInteger || info.accumulator == Accumulator::kFixed) {
    p = rng();
  } else if (info.accumulator == Accumulator::kQuire && rng() % 64 == 0) {
    p = 1u << (8 * info.act_bytes - 1);  // one in 64 a NaR, which makes every sum it enters NaR
  }
  std::memcpy(out, &p, info.act_bytes);
}

// Every kind of unpacked weights.
std::vector<PeKind> unpacked_kinds() {
  std::vector<PeKind> kinds;
  for (const PeKindInfo& info : kPeKinds) {
    if (info.weight_bytes > 0) kinds.push_back(info.kind);
  }
  return kinds;
}

}  // namespace

TEST_CASE("every PE kind's table row agrees with its number format", "[unit]") {
  for (const PeKindInfo& info : kPeKinds) {
    INFO(info.name);
    const arith::NumberFormat& format = element_format(info.kind);
    // Elements fit their bytes, unpacked weights are as wide as activations.
    REQUIRE(format.bits() <= static_cast<int>(8 * info.act_bytes));
    REQUIRE(format.bits() > static_cast<int>(8 * info.act_bytes) - 8);
    REQUIRE((info.weight_bytes == 0 || info.weight_bytes == info.act_bytes));
    if (info.accumulator == Accumulator::kQuire || info.accumulator == Accumulator::kFixed) {
      // The accumulator's unit is the smallest product's: the square of the format's LSB.
      REQUIRE(info.acc_lsb_exp == 2 * format.lsb_scale());
    }
    if (info.accumulator == Accumulator::kQuire) {
      // maxpos^2 in quire units leaves carry bits for long sums (at least 2^14 products).
      const int product_bits = 2 * format.max_scale() - info.acc_lsb_exp + 1;
      REQUIRE(product_bits + 14 < static_cast<int>(8 * info.acc_bytes));
    }
    if (info.accumulator == Accumulator::kFloat) REQUIRE(info.acc_bytes == 4);  // fp32
  }
}

TEST_CASE("gemm kernels equal a naive model of each PE kind on every dataflow", "[unit]") {
  const auto pe = GENERATE(from_range(unpacked_kinds()));
  const Accumulator accumulator = pe_info(pe).accumulator;
  const bool fixed = accumulator == Accumulator::kFixed;
  const auto dataflow = GENERATE(Dataflow::kAdderTree, Dataflow::kWeightStationary,
                                 Dataflow::kOutputStationary, Dataflow::kInputStationary);
  const bool accumulate = GENERATE(false, true);
  const PeTraits t = pe_traits(pe);
  std::mt19937 rng(17);
  for (auto [m, n, k, r, c] : {std::array<uint32_t, 5>{3, 13, 37, 8, 4},
                               {1, 5, 70, 16, 16},
                               {9, 20, 9, 4, 7},
                               {5, 70, 40, 8, 32},
                               {4, 130, 20, 4, 64},
                               // Blocks of 32 and 64 outputs with odd inputs (the int8 kernel
                               // takes inputs two at a time there).
                               {6, 96, 45, 7, 32},
                               {3, 64, 33, 16, 64},
                               // Rows four at a time and the rest one by one.
                               {9, 64, 31, 8, 32}}) {
    const WeightLayout layout{dataflow, r, c, pe, arith::TernaryPacking::kTwoBit};
    const uint64_t act_stride = k * t.act_bytes + 5, acc_stride = n * t.acc_bytes + t.acc_bytes;
    std::vector<uint8_t> act(m * act_stride), w(size_t{n} * k * t.weight_bytes);
    for (uint32_t i = 0; i < m; ++i)
      for (uint32_t j = 0; j < k; ++j)
        random_element(pe, rng, &act[i * act_stride + j * t.act_bytes]);
    for (size_t j = 0; j < size_t{n} * k; ++j) random_element(pe, rng, &w[j * t.weight_bytes]);
    // Initial accumulators: finite values of the accumulator's own kind.
    std::vector<uint8_t> acc(m * acc_stride, 0);
    for (uint32_t i = 0; i < m; ++i) {
      for (uint32_t j = 0; j < n; ++j) {
        uint8_t* slot = &acc[i * acc_stride + j * t.acc_bytes];
        if (t.float_acc) {
          const float v = static_cast<float>(rng() % 1000) / 100.0f - 5.0f;
          std::memcpy(slot, &v, 4);
        } else if (!t.quire || fixed) {
          const uint64_t v = (uint64_t{rng()} << 32) | rng();
          std::memcpy(slot, &v, t.acc_bytes);
        }  // posit quires start at 0: their NaR encoding is not a real value
      }
    }
    const std::vector<uint8_t> before = acc;
    std::vector<uint8_t> packed(weight_operand_bytes(n, k, layout));
    const auto blocks = weight_blocks(n, k, layout);
    for (const WeightBlock& b : blocks) {
      for (uint32_t row = 0; row < b.rows(); ++row) {
        for (uint32_t i = 0; i < b.row_length(); ++i) {
          const uint32_t nn = b.n0 + (b.n_major ? row : i), kk = b.k0 + (b.n_major ? i : row);
          std::memcpy(&packed[b.offset + row * b.row_bytes + i * t.weight_bytes],
                      &w[(size_t{nn} * k + kk) * t.weight_bytes], t.weight_bytes);
        }
      }
    }
    GemmArgs args{layout,     act.data(), act_stride, packed.data(),
                  acc.data(), acc_stride, accumulate};
    gemm(args, blocks, gemm_folds(m, blocks, layout), true);
    const bool tree = dataflow == Dataflow::kAdderTree;
    const uint32_t block_k = dataflow == Dataflow::kOutputStationary ? k : r;
    for (uint32_t i = 0; i < m; ++i) {
      for (uint32_t j = 0; j < n; ++j) {
        const uint8_t* got = &acc[i * acc_stride + j * t.acc_bytes];
        const uint8_t* old = &before[i * acc_stride + j * t.acc_bytes];
        INFO(to_string(pe) << " " << to_string(dataflow) << " m " << i << " n " << j);
        auto x = [&](uint32_t kk) { return value_of(pe, &act[i * act_stride + kk * t.act_bytes]); };
        auto wt = [&](uint32_t kk) {
          return value_of(pe, &w[(size_t{j} * k + kk) * t.weight_bytes]);
        };
        if (accumulator == Accumulator::kInteger) {
          int64_t sum = 0;
          for (uint32_t kk = 0; kk < k; ++kk)
            sum += static_cast<int64_t>(x(kk)) * static_cast<int64_t>(wt(kk));
          int32_t start = 0, value;
          if (accumulate) std::memcpy(&start, old, 4);
          std::memcpy(&value, got, 4);
          REQUIRE(value == static_cast<int32_t>(static_cast<uint32_t>(start + sum)));
        } else if (fixed) {
          // Exact products in units of 2^-2F, summed modulo 2^(accumulator bits).
          const int frac = -element_format(pe).lsb_scale();
          uint64_t sum = 0;
          if (accumulate) std::memcpy(&sum, old, t.acc_bytes);
          for (uint32_t kk = 0; kk < k; ++kk) {
            sum +=
                static_cast<uint64_t>(static_cast<int64_t>(std::ldexp(x(kk) * wt(kk), 2 * frac)));
          }
          uint64_t value = 0;
          std::memcpy(&value, got, t.acc_bytes);
          const uint64_t mask = t.acc_bytes == 8 ? ~uint64_t{0} : 0xffffffffu;
          REQUIRE(value == (sum & mask));
        } else if (t.float_acc) {
          // Blocks of block_k inputs, each summed as the hardware does, then accumulated.
          float a = 0.0f;
          if (accumulate) std::memcpy(&a, old, 4);
          for (uint32_t b0 = 0; b0 < k; b0 += block_k) {
            const uint32_t b1 = std::min(k, b0 + block_k);
            std::vector<float> p;
            for (uint32_t kk = b0; kk < b1; ++kk)
              p.push_back(static_cast<float>(x(kk)) * static_cast<float>(wt(kk)));
            float s = 0.0f;
            if (tree) {
              while (p.size() > 1) {
                std::vector<float> q;
                for (size_t e = 0; e + 1 < p.size(); e += 2) q.push_back(p[e] + p[e + 1]);
                if (p.size() % 2) q.push_back(p.back());
                p = q;
              }
              s = p[0];
            } else {
              for (float v : p) s = s + v;
            }
            a = (b0 == 0 && !accumulate) ? s : a + s;
          }
          float value;
          std::memcpy(&value, got, 4);
          REQUIRE(std::memcmp(&value, &a, 4) == 0);
        } else {
          // Posits: the quire holds the exact sum; compare it rounded to the posit format.
          const arith::NumberFormat& format = element_format(pe);
          arith::ExactAccumulator quire(2 * format.lsb_scale(), 2 * format.max_scale() + 1);
          for (uint32_t kk = 0; kk < k; ++kk) {
            uint32_t xa = 0, wa = 0;
            std::memcpy(&xa, &act[i * act_stride + kk * t.act_bytes], t.act_bytes);
            std::memcpy(&wa, &w[(size_t{j} * k + kk) * t.weight_bytes], t.weight_bytes);
            quire.add(arith::mul(format.decode(xa), format.decode(wa)));
          }
          REQUIRE(convert_accumulator(pe, FloatAccumulation::kFp32, got) ==
                  format.encode(quire.value()));
        }
      }
    }
  }
}

TEST_CASE("the 8-bit posit kernel sums the largest products exactly over long reductions",
          "[unit]") {
  // maxpos x maxpos = 2^12 is 2^24 quire units (of minpos^2 = 2^-12); output-stationary sums a
  // whole reduction of 300 in one fold, past the kernel's int32 chunks of 64 products.
  const uint32_t m = 2, n = 3, k = 300;
  const WeightLayout layout{Dataflow::kOutputStationary, 4, 4, PeKind::kPosit8, {}};
  const uint8_t maxpos = 0x7f, minus_maxpos = 0x81;
  std::vector<uint8_t> act(size_t{m} * k, maxpos);
  std::fill(act.begin() + k, act.end(), minus_maxpos);  // row 1: -maxpos
  // Output 0: every weight maxpos; output 1: -maxpos; output 2: alternating.
  std::vector<uint8_t> w(size_t{n} * k);
  for (uint32_t j = 0; j < k; ++j) {
    w[j] = maxpos;
    w[k + j] = minus_maxpos;
    w[2 * k + j] = j % 2 ? minus_maxpos : maxpos;
  }
  const auto blocks = weight_blocks(n, k, layout);
  std::vector<uint8_t> packed(weight_operand_bytes(n, k, layout));
  for (const WeightBlock& b : blocks) {
    for (uint32_t row = 0; row < b.rows(); ++row) {
      for (uint32_t i = 0; i < b.row_length(); ++i) {
        const uint32_t nn = b.n0 + (b.n_major ? row : i), kk = b.k0 + (b.n_major ? i : row);
        packed[b.offset + row * b.row_bytes + i] = w[size_t{nn} * k + kk];
      }
    }
  }
  std::vector<uint8_t> acc(size_t{m} * n * 8);
  gemm({layout, act.data(), k, packed.data(), acc.data(), n * 8, false}, blocks,
       gemm_folds(m, blocks, layout), true);
  const double full = 300.0 * 4096.0;
  const double expected[m][n] = {{full, -full, 0.0}, {-full, full, 0.0}};
  for (uint32_t i = 0; i < m; ++i) {
    for (uint32_t j = 0; j < n; ++j) {
      INFO("m " << i << " n " << j);
      REQUIRE(arith::to_double(accumulator_value(PeKind::kPosit8, FloatAccumulation::kFp32,
                                                 &acc[(size_t{i} * n + j) * 8])) == expected[i][j]);
    }
  }
}

TEST_CASE("the ternary gemm kernel equals a naive int64 reference", "[unit]") {
  const auto packing =
      GENERATE(arith::TernaryPacking::kTwoBit, arith::TernaryPacking::kFiveTritsPerByte);
  const auto dataflow = GENERATE(Dataflow::kAdderTree, Dataflow::kWeightStationary,
                                 Dataflow::kOutputStationary, Dataflow::kInputStationary);
  const bool accumulate = GENERATE(false, true);
  std::mt19937 rng(5);
  for (auto [m, n, k, r, c] : {std::array<uint32_t, 5>{1, 33, 77, 8, 4},
                               {3, 77, 33, 16, 16},
                               {2, 5, 300, 64, 3},
                               {4, 64, 64, 64, 64}}) {
    const WeightLayout layout{dataflow, r, c, PeKind::kTernaryInt8, packing};
    std::vector<int8_t> w(size_t{n} * k);
    for (int8_t& v : w) v = static_cast<int8_t>(static_cast<int>(rng() % 3) - 1);
    const uint64_t act_stride = k + 3, acc_stride = 4 * (n + 1);
    std::vector<uint8_t> act(m * act_stride), acc(m * acc_stride);
    for (uint8_t& a : act) a = static_cast<uint8_t>(rng());
    for (uint8_t& a : acc) a = static_cast<uint8_t>(rng());
    const std::vector<uint8_t> acc_before = acc;
    std::vector<uint8_t> packed(weight_operand_bytes(n, k, layout));
    const auto blocks = weight_blocks(n, k, layout);
    std::vector<int8_t> row;
    for (const WeightBlock& b : blocks) {
      for (uint32_t rr = 0; rr < b.rows(); ++rr) {
        row.clear();
        for (uint32_t i = 0; i < b.row_length(); ++i) {
          const uint32_t nn = b.n0 + (b.n_major ? rr : i), kk = b.k0 + (b.n_major ? i : rr);
          row.push_back(w[size_t{nn} * k + kk]);
        }
        arith::pack_trits(row.data(), b.row_length(), packing,
                          packed.data() + b.offset + rr * b.row_bytes);
      }
    }
    const auto folds = gemm_folds(m, blocks, layout);
    GemmArgs args{layout,     act.data(), act_stride, packed.data(),
                  acc.data(), acc_stride, accumulate};
    const GemmCounts counts = gemm(args, blocks, folds, true);
    uint64_t zero_macs = 0;
    for (const Fold& f : folds) {
      const WeightBlock& b = blocks[f.block];
      for (uint32_t nn = 0; nn < b.n_count; ++nn)
        for (uint32_t kk = 0; kk < b.k_count; ++kk)
          zero_macs += f.m_count * (w[size_t{b.n0 + nn} * k + b.k0 + kk] == 0);
    }
    REQUIRE(counts.zero_weight_macs == zero_macs);
    for (uint32_t i = 0; i < m; ++i) {
      for (uint32_t j = 0; j < n; ++j) {
        int64_t sum = 0;
        for (uint32_t x = 0; x < k; ++x) {
          sum += int64_t{static_cast<int8_t>(act[i * act_stride + x])} * w[size_t{j} * k + x];
        }
        int32_t before, got;
        std::memcpy(&before, &acc_before[i * acc_stride + 4 * j], 4);
        std::memcpy(&got, &acc[i * acc_stride + 4 * j], 4);
        REQUIRE(got == static_cast<int32_t>(
                           static_cast<uint32_t>((accumulate ? int64_t{before} : 0) + sum)));
      }
    }
  }
}

TEST_CASE("ternary gemm on arbitrary packed bytes decodes invalid codes as zero weights",
          "[unit]") {
  // Every byte value, including the codes a packer never writes (2-bit code 3, base-3 bytes
  // 243..255), and activation row counts on both sides of the lookup path's limit.
  const auto packing =
      GENERATE(arith::TernaryPacking::kTwoBit, arith::TernaryPacking::kFiveTritsPerByte);
  const auto dataflow = GENERATE(Dataflow::kAdderTree, Dataflow::kWeightStationary);
  const uint32_t m = GENERATE(1u, 8u, 9u);
  std::mt19937 rng(11);
  const uint32_t n = 37, k = 203;
  const WeightLayout layout{dataflow, 64, 16, PeKind::kTernaryInt8, packing};
  std::vector<uint8_t> packed(weight_operand_bytes(n, k, layout));
  for (uint8_t& b : packed) b = static_cast<uint8_t>(rng());
  const auto blocks = weight_blocks(n, k, layout);
  std::vector<int8_t> w(size_t{n} * k);  // decoded by the packing's own unpacker
  uint64_t invalid = 0, zeros = 0;
  std::vector<int8_t> row;
  for (const WeightBlock& b : blocks) {
    for (uint32_t rr = 0; rr < b.rows(); ++rr) {
      row.resize(b.row_length());
      const arith::TritCounts c = arith::unpack_trits(packed.data() + b.offset + rr * b.row_bytes,
                                                      b.row_length(), packing, row.data());
      invalid += c.invalid_codes;
      for (uint32_t i = 0; i < b.row_length(); ++i) {
        const uint32_t nn = b.n0 + (b.n_major ? rr : i), kk = b.k0 + (b.n_major ? i : rr);
        w[size_t{nn} * k + kk] = row[i];
        zeros += row[i] == 0;
      }
    }
  }
  REQUIRE(invalid > 0);
  std::vector<uint8_t> act(size_t{m} * k), acc(size_t{m} * n * 4);
  for (uint8_t& a : act) a = static_cast<uint8_t>(rng());
  const auto folds = gemm_folds(m, blocks, layout);
  GemmArgs args{layout, act.data(), k, packed.data(), acc.data(), uint64_t{4} * n, false};
  const GemmCounts counts = gemm(args, blocks, folds, true);
  REQUIRE(counts.invalid_codes == invalid * (folds.size() / blocks.size()));
  REQUIRE(counts.zero_weight_macs == zeros * m);
  for (uint32_t i = 0; i < m; ++i) {
    for (uint32_t j = 0; j < n; ++j) {
      int64_t sum = 0;
      for (uint32_t x = 0; x < k; ++x) {
        sum += int64_t{static_cast<int8_t>(act[size_t{i} * k + x])} * w[size_t{j} * k + x];
      }
      int32_t got;
      std::memcpy(&got, &acc[(size_t{i} * n + j) * 4], 4);
      REQUIRE(got == sum);
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
      REQUIRE(q[i] >= -127);  // -128 is never produced (int8 caps the top at 127)
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

TEST_CASE("the weight operand's bytes in closed form equal its blocks' on random shapes",
          "[unit]") {
  std::mt19937_64 rng(5);
  const Dataflow dataflows[] = {Dataflow::kAdderTree, Dataflow::kWeightStationary,
                                Dataflow::kOutputStationary, Dataflow::kInputStationary};
  const PeKind kinds[] = {PeKind::kTernaryInt8, PeKind::kInt8Int8, PeKind::kFp16, PeKind::kFp32};
  for (int i = 0; i < 400; ++i) {
    const auto n = 1 + static_cast<uint32_t>(rng() % 300),
               k = 1 + static_cast<uint32_t>(rng() % 300);
    const WeightLayout layout{
        dataflows[rng() % 4], 1 + static_cast<uint32_t>(rng() % 40),
        1 + static_cast<uint32_t>(rng() % 40), kinds[rng() % 4],
        rng() % 2 ? arith::TernaryPacking::kTwoBit : arith::TernaryPacking::kFiveTritsPerByte};
    uint64_t sum = 0;
    for (const WeightBlock& b : weight_blocks(n, k, layout)) sum += b.bytes;
    INFO("n " << n << " k " << k);
    REQUIRE(weight_operand_bytes(n, k, layout) == sum);
  }
}

TEST_CASE("vcvt between fp32 rows and int8 or int32 equals the exact conversion", "[unit]") {
  // An fp32 vector format converts in the host's floats; the exact path is FixedFormat's round
  // to nearest even with saturation (int8 symmetric: -128 becomes -127) and fp32's encoder.
  const arith::VectorMath vm(arith::VectorMathSpec{});
  const VectorOps ops(vm, PeKind::kInt8Int8, FloatAccumulation::kFp32, 64);
  const arith::FixedFormat int8{8, 0};
  std::vector<float> xs = {0.0f,
                           -0.0f,
                           0.5f,
                           1.5f,
                           2.5f,
                           -0.5f,
                           -1.5f,
                           -2.5f,
                           126.5f,
                           -126.5f,
                           127.0f,
                           127.49f,
                           127.5f,
                           128.0f,
                           -127.5f,
                           -128.0f,
                           -128.5f,
                           1e30f,
                           -1e30f,
                           FLT_MIN,
                           -FLT_MIN,
                           std::numeric_limits<float>::infinity(),
                           -std::numeric_limits<float>::infinity(),
                           std::numeric_limits<float>::quiet_NaN()};
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> wide(-300.0f, 300.0f);
  for (int i = 0; i < 20000; ++i) xs.push_back(wide(rng));
  for (int i = 0; i < 2000; ++i) xs.push_back(std::nextafter(std::round(wide(rng)) + 0.5f, 0.0f));
  const auto n = static_cast<uint32_t>(xs.size());
  std::vector<uint8_t> q(n);
  ops.convert(ElemType::kVec, {reinterpret_cast<uint8_t*>(xs.data()), 0}, ElemType::kAct,
              {q.data(), 0}, 1, n);
  for (uint32_t i = 0; i < n; ++i) {
    INFO(xs[i]);
    uint32_t expected = int8.encode(arith::from_double(xs[i]));
    if (expected == 0x80) expected = 0x81;
    REQUIRE(q[i] == expected);
  }
  // A product rounded to int8 by one vbin (quantizing rows for the integer kinds), as the
  // symmetric int8 result and as the activation format.
  for (float scale : {1.0f, 0.37f, -3.0f}) {
    for (const ElemType result : {ElemType::kAct, ElemType::kInt8}) {
      INFO("scale " << scale << ", result " << static_cast<int>(result));
      std::fill(q.begin(), q.end(), 0x55);
      ops.binary(VectorBinary::kMul, {q.data(), 0}, {reinterpret_cast<uint8_t*>(xs.data()), 0},
                 {reinterpret_cast<uint8_t*>(&scale), 0}, true, 1, n, result);
      for (uint32_t i = 0; i < n; ++i) {
        INFO(xs[i]);
        uint32_t expected = int8.encode(arith::from_double(xs[i] * scale));
        if (expected == 0x80) expected = 0x81;
        REQUIRE(q[i] == expected);
      }
    }
  }
  // Element by element, over a row longer than the rounding's chunks: each x times its factor.
  std::vector<float> halves(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) halves[i] = static_cast<float>(i % 7) * 0.25f - 0.75f;
  ops.binary(VectorBinary::kMul, {q.data(), 0}, {reinterpret_cast<uint8_t*>(xs.data()), 0},
             {reinterpret_cast<uint8_t*>(halves.data()), 0}, false, 1, n, ElemType::kInt8);
  for (uint32_t i = 0; i < n; ++i) {
    INFO(xs[i] << " x " << halves[i]);
    uint32_t expected = int8.encode(arith::from_double(xs[i] * halves[i]));
    if (expected == 0x80) expected = 0x81;
    REQUIRE(q[i] == expected);
  }
  // int32 accumulators to fp32.
  std::vector<int32_t> acc = {0, 1, -1, INT32_MAX, INT32_MIN, (1 << 24) + 1, -(1 << 24) - 3};
  for (int i = 0; i < 20000; ++i) acc.push_back(static_cast<int32_t>(rng()));
  std::vector<uint32_t> out(acc.size());
  ops.convert(ElemType::kAcc, {reinterpret_cast<uint8_t*>(acc.data()), 0}, ElemType::kVec,
              {reinterpret_cast<uint8_t*>(out.data()), 0}, 1, static_cast<uint32_t>(acc.size()));
  for (size_t i = 0; i < acc.size(); ++i) {
    const int64_t v = acc[i];
    REQUIRE(out[i] == vm.round(arith::Unpacked::from_integer(
                          v < 0, static_cast<uint64_t>(v < 0 ? -v : v), 0)));
  }
}

TEST_CASE("an fp32 row's absmax equals max over abs element by element, NaN included", "[unit]") {
  // VectorOps::reduce's fp32 loop over the magnitudes' bits against VectorMath's abs and max
  // one element at a time: random bit patterns (NaNs, infinities, subnormals, -0) in rows of
  // every length up to 70, some with no NaN at all.
  const arith::VectorMath vm(arith::VectorMathSpec{});
  const VectorOps ops(vm, PeKind::kInt8Int8, FloatAccumulation::kFp32, 64);
  std::mt19937_64 rng(6);
  size_t nan_rows = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const auto n = 1 + static_cast<uint32_t>(rng() % 70);
    const bool no_nan = trial % 2 == 0;
    std::vector<uint32_t> row(n);
    for (uint32_t& x : row) {
      x = static_cast<uint32_t>(rng());
      if (rng() % 4 == 0) x &= 0x807fffffu;                             // zeros and subnormals
      if (!no_nan && rng() % 40 == 0) x |= 0x7f800001u;                 // a NaN
      if (no_nan && (x & 0x7fffffffu) > 0x7f800000u) x &= 0xff800000u;  // an infinity
    }
    uint32_t want = vm.abs(row[0]);
    for (uint32_t i = 1; i < n; ++i) want = vm.max(want, vm.abs(row[i]));
    uint32_t got = 0;
    ops.reduce(VectorReduce::kAbsMax, reinterpret_cast<uint8_t*>(&got),
               {reinterpret_cast<uint8_t*>(row.data()), 0}, 1, n);
    INFO("trial " << trial);
    REQUIRE(got == want);
    nan_rows += (want & 0x7fffffffu) > 0x7f800000u;
  }
  REQUIRE(nan_rows > 500);
  REQUIRE(nan_rows < 1500);
}

TEST_CASE("folds visited one by one are the lists' folds and blocks, which tile the weights once",
          "[unit]") {
  // for_each_fold stands for gemm_folds(m, weight_blocks(n, k)) where no list is kept (the
  // analytical estimate); every dataflow, array shape and weight width, edges included.
  std::mt19937_64 rng(41);
  for (int round = 0; round < 400; ++round) {
    WeightLayout layout;
    layout.dataflow = static_cast<Dataflow>(rng() % kNumDataflows);
    layout.array_rows = 1 + static_cast<uint32_t>(rng() % 20);
    layout.array_cols = 1 + static_cast<uint32_t>(rng() % 20);
    layout.pe = static_cast<PeKind>(rng() % kNumPeKinds);
    layout.packing = static_cast<arith::TernaryPacking>(rng() % arith::kNumTernaryPackings);
    const auto m = 1 + static_cast<uint32_t>(rng() % 50), n = 1 + static_cast<uint32_t>(rng() % 70),
               k = 1 + static_cast<uint32_t>(rng() % 70);
    INFO(to_string(layout.dataflow) << " " << layout.array_rows << "x" << layout.array_cols << " "
                                    << m << "x" << n << "x" << k);
    const auto blocks = weight_blocks(n, k, layout);
    const auto folds = gemm_folds(m, blocks, layout);
    size_t visited = 0;
    for_each_fold(m, n, k, layout, [&](const Fold& f, const WeightBlock& b) {
      REQUIRE(visited < folds.size());
      const Fold& want = folds[visited++];
      REQUIRE((f.m0 == want.m0 && f.m_count == want.m_count && f.block == want.block));
      const WeightBlock& wb = blocks[want.block];
      REQUIRE((b.n0 == wb.n0 && b.k0 == wb.k0 && b.n_count == wb.n_count &&
               b.k_count == wb.k_count && b.n_major == wb.n_major && b.offset == wb.offset &&
               b.row_bytes == wb.row_bytes && b.bytes == wb.bytes));
    });
    REQUIRE(visited == folds.size());
    // The blocks cover every weight once, back to back, as many bytes as the closed form says.
    std::vector<int> covered(size_t{n} * k, 0);
    uint64_t offset = 0;
    for (const WeightBlock& b : blocks) {
      REQUIRE(b.offset == offset);
      offset += b.bytes;
      for (uint32_t i = 0; i < b.n_count; ++i)
        for (uint32_t j = 0; j < b.k_count; ++j) ++covered[size_t{b.n0 + i} * k + b.k0 + j];
    }
    REQUIRE(offset == weight_operand_bytes(n, k, layout));
    REQUIRE(std::all_of(covered.begin(), covered.end(), [](int c) { return c == 1; }));
    // The accumulator updates the MAC array counts in closed form (MacArray::begin): every
    // fold's rows times its block's outputs, which is m x n once per block along k.
    uint64_t updates = 0, macs = 0;
    for (const Fold& f : folds) {
      updates += uint64_t{f.m_count} * blocks[f.block].n_count;
      macs += uint64_t{f.m_count} * blocks[f.block].n_count * blocks[f.block].k_count;
    }
    const uint32_t block_k = block_shape(n, k, layout).k;
    REQUIRE(updates == uint64_t{m} * n * ((k + block_k - 1) / block_k));
    REQUIRE(macs == uint64_t{m} * n * k);
  }
}
