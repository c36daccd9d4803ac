// Vector commands that do in one pass what several did (isa.hpp): vact converts accumulators,
// x a row scale, + a bias row, rounded as stored, through a function, then + or x rows of
// another tensor (bias_as); vrope rotates the halves
// of each row. Their values, counts and saturations must be those of the commands they replace
// run in turn (vcvt, vbin and vfn; six vbin), on every accumulator kind, stored format and
// vector format; and they must take fewer beats.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "hw_models/arith/vector_math.hpp"
#include "hw_models/vector_unit.hpp"
#include "isa/isa.hpp"

using namespace nmp;
using namespace nmp::hw;

namespace {

struct Machine {
  std::unique_ptr<Sram> wsram, asram, acc;
  std::unique_ptr<VectorCommands> unit;
  VectorUnitStats stats;
  Machine(PeKind pe, const std::string& stored, uint32_t lanes,
          const std::string& format = "fp32") {
    wsram = std::make_unique<Sram>(SramParams{"wsram", 4096, 4, 256, PortConfig::kOneRw}, 0);
    asram = std::make_unique<Sram>(SramParams{"asram", 1 << 18, 8, 256, PortConfig::kOneRw}, 1);
    acc = std::make_unique<Sram>(SramParams{"acc", 1 << 18, 8, 256, PortConfig::kOneROneW}, 2);
    VectorUnitParams p;
    p.lanes = lanes;
    p.pe = pe;
    p.stored_format = stored;
    p.math.format = format;
    unit = std::make_unique<VectorCommands>(
        p, std::array<Sram*, kNumSrams>{wsram.get(), asram.get(), acc.get()});
  }
  // The command's cycles, beat by beat.
  uint64_t run(isa::Opcode opcode, std::vector<uint64_t> args) {
    Command cmd;
    cmd.opcode = opcode;
    std::copy(args.begin(), args.end(), cmd.args.begin());
    cmd.footprint = unit->footprint(cmd);
    return BeatCursor::uncontended_cycles(unit->run(cmd, stats));
  }
};

// The same m rows of `bytes` at `at` (`row` apart) in both machines' activation SRAMs, and the
// same work counted.
void require_same(const Machine& fused, const Machine& apart, uint64_t at, uint32_t m, uint64_t row,
                  uint64_t bytes) {
  for (uint32_t r = 0; r < m; ++r) {
    INFO("row " << r);
    REQUIRE(std::memcmp(fused.asram->data() + at + r * row, apart.asram->data() + at + r * row,
                        bytes) == 0);
  }
  REQUIRE(fused.stats.vec_adds == apart.stats.vec_adds);
  REQUIRE(fused.stats.vec_muls == apart.stats.vec_muls);
  REQUIRE(fused.stats.vec_functions == apart.stats.vec_functions);
  REQUIRE(fused.stats.saturations == apart.stats.saturations);
}

}  // namespace

TEST_CASE("vact gives the values and counts of vcvt, vbin and vfn in turn, in fewer beats",
          "[unit]") {
  const char* stored_formats[] = {"", "bf16", "fp8_e4m3", "posit<8,0>", "fixed<4,4>"};
  std::mt19937_64 rng(3031);
  const auto pick = [&](uint64_t n) { return rng() % n; };
  int faster = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const auto pe = static_cast<PeKind>(pick(kNumPeKinds));  // every kind's accumulators
    const std::string stored = stored_formats[pick(std::size(stored_formats))];
    const uint32_t lanes = 8u << pick(4), m = 1 + pick(9), n = 1 + pick(150);
    const uint64_t terms = pick(4), fn = pick(9), round = pick(2);
    const bool scale = terms & 1, bias = terms & 2, scale_shared = pick(2) == 1;
    // With a bias, half the trials take it as rows combined last (add, mul, radd, rmul).
    const uint64_t bias_as = bias && pick(2) ? 1 + pick(4) : 0;
    const bool bias_row = bias && bias_as == 0;
    INFO("trial " << trial << ": " << to_string(pe) << " stored '" << stored << "' m " << m << " n "
                  << n << " terms " << terms << " bias_as " << bias_as << " fn " << fn << " round "
                  << round);
    Machine fused(pe, stored, lanes), apart(pe, stored, lanes);
    // Accumulators (random bytes: every pattern, NaNs and quires included), scales and a bias
    // row (vec patterns of random values), the same in both.
    const uint64_t vb = 4, accb = pe_traits(pe).acc_bytes, acc_row = n * accb + 8;
    const uint64_t scale_at = 0, bias_at = 4096, dst_at = 16384, dst_row = n * vb + 4;
    std::normal_distribution<float> value(0.0f, 4.0f);
    for (Machine* mc : {&fused, &apart}) {
      std::mt19937_64 bytes(trial);
      for (uint64_t i = 0; i < m * acc_row; ++i) mc->acc->data()[i] = static_cast<uint8_t>(bytes());
      std::mt19937_64 values(trial + 1);
      std::normal_distribution<float> v(0.0f, 4.0f);
      for (uint64_t i = 0; i < 64; ++i) {
        const float x = v(values);
        std::memcpy(mc->asram->data() + scale_at + i * vb, &x, 4);
      }
      for (uint64_t r = 0; r < m; ++r) {  // the bias row, or rows at dst's stride
        for (uint64_t i = 0; i < n; ++i) {
          const float x = v(values);
          std::memcpy(mc->asram->data() + bias_at + r * dst_row + i * vb, &x, 4);
        }
      }
    }
    const uint64_t scale_stride = scale_shared ? 0 : vb;
    namespace o = isa::vact;
    std::vector<uint64_t> args(o::kBiasAs + 1, 0);
    args[o::kFn] = fn;
    args[o::kDst] = dst_at;
    args[o::kSrc] = 0;
    args[o::kSrcMem] = 1;
    args[o::kScale] = scale_at;
    args[o::kBias] = bias_at;
    args[o::kTerms] = terms;
    args[o::kRound] = round;
    args[o::kM] = m;
    args[o::kN] = n;
    args[o::kDstStride] = dst_row;
    args[o::kSrcStride] = acc_row;
    args[o::kScaleStride] = scale_stride;
    args[o::kBiasAs] = bias_as;
    const uint64_t fused_cycles = fused.run(isa::Opcode::kVact, args);
    // The same as vcvt, vbin x scale, vbin + bias, the rounding as stored on the last of them,
    // vfn, and vbin with the bias rows, into dst in place.
    const bool last_cvt = !scale && !bias_row;
    uint64_t apart_cycles = apart.run(
        isa::Opcode::kVcvt,
        {dst_at, 0, static_cast<uint64_t>(round && last_cvt ? ElemType::kStored : ElemType::kVec),
         0, 1, static_cast<uint64_t>(ElemType::kAcc), m, n, dst_row, acc_row});
    if (scale) {
      apart_cycles +=
          apart.run(isa::Opcode::kVbin,
                    {static_cast<uint64_t>(VectorBinary::kMul), dst_at, 0, dst_at, 0, scale_at, 0,
                     1, m, n, dst_row, dst_row, scale_stride, round && !bias_row});
    }
    if (bias_row) {
      apart_cycles += apart.run(isa::Opcode::kVbin,
                                {static_cast<uint64_t>(VectorBinary::kAdd), dst_at, 0, dst_at, 0,
                                 bias_at, 0, 0, m, n, dst_row, dst_row, 0, round});
    }
    if (fn != 0) {
      apart_cycles +=
          apart.run(isa::Opcode::kVfn, {fn - 1, dst_at, 0, dst_at, 0, m, n, dst_row, dst_row});
    }
    if (bias_as != 0) {
      const auto as = static_cast<o::Bias>(bias_as);
      const bool mul = as == o::Bias::kMul || as == o::Bias::kReversedMul;
      const bool reversed = as == o::Bias::kReversedAdd || as == o::Bias::kReversedMul;
      const uint64_t a = reversed ? bias_at : dst_at, b = reversed ? dst_at : bias_at;
      apart_cycles += apart.run(
          isa::Opcode::kVbin, {static_cast<uint64_t>(mul ? VectorBinary::kMul : VectorBinary::kAdd),
                               dst_at, 0, a, 0, b, 0, 0, m, n, dst_row, dst_row, dst_row, 0});
    }
    require_same(fused, apart, dst_at, m, dst_row, n * vb);
    REQUIRE(fused_cycles <= apart_cycles);
    faster += fused_cycles < apart_cycles;
  }
  REQUIRE(faster >= 150);  // every trial with a term or a function
}

TEST_CASE("vrope gives the values and counts of its six vbin commands, in fewer beats", "[unit]") {
  // Also in place (dst = src: each pair of elements is read before it is written), the same
  // bytes. Its cycles are a pass over the rows' heads, in and out (a vec-to-vec vcvt of the same
  // rows), and a pass over each row's cosines and sines, whatever the heads: rereading the
  // tables for each head would grow the difference with them.
  const char* formats[] = {"fp32", "fp16", "bf16", "posit<16,1>", "fixed<4,12>"};
  std::mt19937_64 rng(3032);
  const auto pick = [&](uint64_t n) { return rng() % n; };
  for (int trial = 0; trial < 200; ++trial) {
    const std::string format = formats[pick(std::size(formats))];
    const uint32_t lanes = 8u << pick(4), m = 1 + pick(12), n = 2 * (1 + pick(40));
    const uint32_t heads = 1 + pick(6);
    INFO("trial " << trial << ": " << format << " m " << m << " n " << n << " heads " << heads
                  << " lanes " << lanes);
    Machine fused(PeKind::kFp16, "", lanes, format), apart(PeKind::kFp16, "", lanes, format),
        in_place(PeKind::kFp16, "", lanes, format);
    arith::VectorMathSpec spec;
    spec.format = format;
    const arith::VectorMath vm(spec);
    const uint64_t vb = vm.element_bytes(), half = n / 2, head = n * vb;
    const uint64_t src_at = 0, cos_at = 32768, sin_at = 65536, dst_at = 98304, t_at = 131072;
    const uint64_t row = heads * head + 2 * vb, table_row = half * vb + vb;
    for (Machine* mc : {&fused, &apart, &in_place}) {
      std::mt19937_64 values(trial);
      std::normal_distribution<double> x(0.0, 3.0);
      std::uniform_real_distribution<double> angle(-3.2, 3.2);
      for (uint32_t r = 0; r < m; ++r) {
        for (uint64_t i = 0; i < uint64_t{heads} * n; ++i) {
          const uint32_t v = vm.from_double(x(values));
          std::memcpy(mc->asram->data() + src_at + r * row + i * vb, &v, vb);
        }
        for (uint64_t i = 0; i < half; ++i) {
          const double a = angle(values);
          const uint32_t c = vm.from_double(std::cos(a)), s = vm.from_double(std::sin(a));
          std::memcpy(mc->asram->data() + cos_at + r * table_row + i * vb, &c, vb);
          std::memcpy(mc->asram->data() + sin_at + r * table_row + i * vb, &s, vb);
        }
      }
    }
    const auto rope = [&](Machine& mc, uint64_t dst, uint64_t h) {
      return mc.run(isa::Opcode::kVrope,
                    {dst, 0, src_at, 0, cos_at, 0, sin_at, 0, m, n, h, row, row, table_row});
    };
    const uint64_t fused_cycles = rope(fused, dst_at, heads);
    (void)rope(in_place, src_at, heads);
    for (uint32_t r = 0; r < m; ++r) {
      REQUIRE(std::memcmp(fused.asram->data() + dst_at + r * row,
                          in_place.asram->data() + src_at + r * row, heads * head) == 0);
    }
    const auto stream = [&](uint64_t h) {
      const auto vec = static_cast<uint64_t>(ElemType::kVec);
      return in_place.run(isa::Opcode::kVcvt, {t_at, 0, vec, src_at, 0, vec, m, h * n, row, row});
    };
    REQUIRE(fused_cycles - stream(heads) == rope(in_place, t_at, 1) - stream(1));
    // Per row, over its heads (rows of n, the row's tables for each): y1 = x1 c; t = x2 s;
    // y1 -= t; y2 = x2 c; t = x1 s; y2 += t.
    uint64_t apart_cycles = 0;
    for (uint32_t r = 0; r < m; ++r) {
      const auto vbin = [&](VectorBinary op, uint64_t dst, uint64_t dst_row, uint64_t a,
                            uint64_t a_row, uint64_t b, uint64_t b_row) {
        apart_cycles +=
            apart.run(isa::Opcode::kVbin, {static_cast<uint64_t>(op), dst, 0, a, 0, b, 0, 0, heads,
                                           half, dst_row, a_row, b_row, 0});
      };
      const uint64_t x1 = src_at + r * row, x2 = x1 + half * vb, y1 = dst_at + r * row,
                     y2 = y1 + half * vb, c = cos_at + r * table_row, sn = sin_at + r * table_row;
      vbin(VectorBinary::kMul, y1, head, x1, head, c, 0);
      vbin(VectorBinary::kMul, t_at, half * vb, x2, head, sn, 0);
      vbin(VectorBinary::kSub, y1, head, y1, head, t_at, half * vb);
      vbin(VectorBinary::kMul, y2, head, x2, head, c, 0);
      vbin(VectorBinary::kMul, t_at, half * vb, x1, head, sn, 0);
      vbin(VectorBinary::kAdd, y2, head, y2, head, t_at, half * vb);
    }
    require_same(fused, apart, dst_at, m, row, heads * head);
    REQUIRE(fused_cycles < apart_cycles);
  }
}

TEST_CASE("layernorm gives the values of vred mean, vbin, rmsnorm and vbin in turn, in fewer beats",
          "[unit]") {
  // Also in place (dst = src), the same bytes. Counts: the same but for the centring, done
  // again in the last pass instead of read back (m n subtractions more); saturations once per
  // result, as apart. Rows of large values with a large mean, in the narrow formats, saturate.
  const char* formats[] = {"fp32", "fp16", "bf16", "posit<16,1>", "fixed<4,12>"};
  std::mt19937_64 rng(3033);
  const auto pick = [&](uint64_t n) { return rng() % n; };
  int saturating = 0, against_double = 0;
  for (int trial = 0; trial < 200; ++trial) {
    const std::string format = formats[pick(std::size(formats))];
    const uint32_t lanes = 8u << pick(4), m = 1 + pick(12), n = 1 + pick(300);
    const uint64_t eps_log2 = pick(41);
    const double spread = pick(4) == 0 ? 3e4 : 2.0, centre = pick(3) == 0 ? 5e4 : 0.5;
    INFO("trial " << trial << ": " << format << " m " << m << " n " << n << " lanes " << lanes
                  << " spread " << spread << " centre " << centre);
    Machine fused(PeKind::kFp16, "", lanes, format), apart(PeKind::kFp16, "", lanes, format),
        in_place(PeKind::kFp16, "", lanes, format);
    arith::VectorMathSpec spec;
    spec.format = format;
    const arith::VectorMath vm(spec);
    const uint64_t vb = vm.element_bytes();
    const uint64_t src_at = 0, gain_at = 65536, bias_at = 73728, mean_at = 81920, dst_at = 98304;
    const uint64_t row = n * vb + 3 * vb;
    for (Machine* mc : {&fused, &apart, &in_place}) {
      std::mt19937_64 values(trial);
      std::normal_distribution<double> x(centre, spread), g(1.0, 0.5);
      for (uint64_t i = 0; i < m * row / vb; ++i) {
        const uint32_t v = vm.from_double(x(values));
        std::memcpy(mc->asram->data() + src_at + i * vb, &v, vb);
      }
      for (uint64_t i = 0; i < n; ++i) {
        const uint32_t gv = vm.from_double(g(values)), bv = vm.from_double(g(values) - 1.0);
        std::memcpy(mc->asram->data() + gain_at + i * vb, &gv, vb);
        std::memcpy(mc->asram->data() + bias_at + i * vb, &bv, vb);
      }
    }
    const auto layernorm = [&](Machine& mc, uint64_t dst) {
      return mc.run(isa::Opcode::kLayernorm,
                    {dst, 0, src_at, 0, gain_at, 0, bias_at, 0, m, n, row, row, eps_log2});
    };
    const uint64_t fused_cycles = layernorm(fused, dst_at);
    (void)layernorm(in_place, src_at);
    // In place on dst: dst = dst op b.
    const auto vbin = [&](VectorBinary op, uint64_t dst, uint64_t b, uint64_t b_mode,
                          uint64_t b_row) {
      return apart.run(isa::Opcode::kVbin, {static_cast<uint64_t>(op), dst, 0, dst, 0, b, 0, b_mode,
                                            m, n, row, row, b_row, 0});
    };
    uint64_t apart_cycles =
        apart.run(isa::Opcode::kVred,
                  {static_cast<uint64_t>(VectorReduce::kMean), mean_at, 0, src_at, 0, m, n, row});
    apart_cycles += vbin(VectorBinary::kSub, src_at, mean_at, 1, vb);
    apart_cycles += apart.run(isa::Opcode::kRmsnorm,
                              {dst_at, 0, src_at, 0, gain_at, 0, m, n, row, row, eps_log2});
    apart_cycles += vbin(VectorBinary::kAdd, dst_at, bias_at, 0, 0);
    for (uint32_t r = 0; r < m; ++r) {
      INFO("row " << r);
      REQUIRE(std::memcmp(fused.asram->data() + dst_at + r * row,
                          apart.asram->data() + dst_at + r * row, n * vb) == 0);
      REQUIRE(std::memcmp(in_place.asram->data() + src_at + r * row,
                          apart.asram->data() + dst_at + r * row, n * vb) == 0);
    }
    REQUIRE(fused.stats.vec_adds == apart.stats.vec_adds + uint64_t{m} * n);
    REQUIRE(fused.stats.vec_acc_adds == apart.stats.vec_acc_adds);
    REQUIRE(fused.stats.vec_muls == apart.stats.vec_muls);
    REQUIRE(fused.stats.vec_functions == apart.stats.vec_functions);
    REQUIRE(fused.stats.saturations == apart.stats.saturations);
    REQUIRE(fused.stats.vector_commands == 1);
    saturating += fused.stats.saturations != arith::SaturationCounts{};
    REQUIRE(fused_cycles < apart_cycles);
    // Not only the commands it replaces: in fp32, rows near zero, against layer norm in double
    // from the same inputs, gains and biases. The unit's rsqrt is a PWL table: its relative
    // error (the bound t_arith_vector_math.cpp checks) scales the normalized terms; fp32's
    // roundings of the sums and products add 1e-5 (a wrong centring, scale, gain or bias is
    // off by far more).
    if (format != "fp32" || centre != 0.5 || spread != 2.0) continue;
    ++against_double;
    const double grid = std::ldexp(1.0, -spec.pwl_frac_bits);
    const double rsqrt_error =
        2 * (vm.table(arith::VectorFunction::kRsqrt)->max_abs_error() + grid / 4);
    const auto value = [&](uint64_t at) {
      float f;
      std::memcpy(&f, fused.asram->data() + at, 4);
      return double{f};
    };
    for (uint32_t r = 0; r < m; ++r) {
      double mean = 0, var = 0;
      for (uint32_t i = 0; i < n; ++i) mean += value(src_at + r * row + 4 * i);
      mean /= n;
      for (uint32_t i = 0; i < n; ++i) var += std::pow(value(src_at + r * row + 4 * i) - mean, 2);
      const double inv_std = 1 / std::sqrt(var / n + std::ldexp(1.0, -static_cast<int>(eps_log2)));
      for (uint32_t i = 0; i < n; ++i) {
        const double centred = (value(src_at + r * row + 4 * i) - mean) * inv_std;
        const double g = value(gain_at + 4 * i), b = value(bias_at + 4 * i);
        INFO("row " << r << " element " << i);
        REQUIRE(std::fabs(value(dst_at + r * row + 4 * i) - (centred * g + b)) <=
                (rsqrt_error + 1e-5) * std::fabs(centred * g) + 1e-5 * std::fabs(b) + 1e-7);
      }
    }
  }
  REQUIRE(saturating >= 10);
  REQUIRE(against_double >= 10);
}

TEST_CASE("softmax streams only a row's valid columns, rows two steps apart", "[unit]") {
  // 128 rows of 128 fp32 scores on 64 lanes, in place in a one-port activation SRAM of 256
  // bytes a cycle: a full row's passes are 2 + 4 + 4 cycles (max; exp; scale), a row of at most
  // 64 valid columns' 1 + 3 + 2 (the exp pass writes the masked zeros' second beat). Rows two
  // steps apart cover the 10-cycle tree waits with work, so the causal mask saves 4 cycles on
  // each of the first 64 rows; one step apart, those rows would wait 10 each.
  const auto softmax = [](uint32_t m, uint32_t n, uint32_t valid, bool causal, uint32_t offset) {
    Machine mc(PeKind::kFp16, "", 64);
    const uint64_t row = uint64_t{n} * 4;
    return mc.run(isa::Opcode::kSoftmax,
                  {0, 0, 0, 0, m, n, row, row, valid, causal ? 1u : 0u, offset});
  };
  const uint64_t full = softmax(128, 128, 128, false, 0);
  const uint64_t causal = softmax(128, 128, 128, true, 0);
  REQUIRE(full >= 128 * 10);
  REQUIRE(full <= 128 * 10 + 3 * 10 + 4);     // filling and draining the pipeline
  REQUIRE(causal <= full - 64 * 4 + 3 * 10);  // the short rows' 4 cycles each, saved
  REQUIRE(causal >= full - 64 * 4 - 3 * 10);
  // Every row full: the mask changes nothing.
  REQUIRE(softmax(128, 128, 128, true, 127) == full);
  // Random shapes: masking never costs cycles.
  std::mt19937_64 rng(20261210);
  for (int trial = 0; trial < 200; ++trial) {
    const auto m = static_cast<uint32_t>(1 + rng() % 40),
               n = static_cast<uint32_t>(1 + rng() % 300);
    const auto valid = static_cast<uint32_t>(1 + rng() % n),
               offset = static_cast<uint32_t>(rng() % n);
    INFO("m " << m << " n " << n << " valid " << valid << " offset " << offset);
    REQUIRE(softmax(m, n, valid, true, offset) <= softmax(m, n, n, false, 0));
  }
}

TEST_CASE(
    "softmax from accumulators, scaled, into the activation format gives the values of "
    "vcvt, vbin, softmax and vcvt in turn, in fewer beats",
    "[unit]") {
  const char* vector_formats[] = {"fp32", "fp16", "bf16"};
  std::mt19937_64 rng(20261208);
  const auto pick = [&](uint64_t n) { return rng() % n; };
  int faster = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const auto pe = static_cast<PeKind>(pick(kNumPeKinds));  // every kind's accumulators
    const std::string format = vector_formats[pick(std::size(vector_formats))];
    const uint32_t lanes = 8u << pick(4), m = 1 + pick(9), n = 1 + pick(150);
    const uint32_t valid = 1 + pick(n), offset = pick(n);
    const bool causal = pick(2) == 1, from_acc = pick(4) != 0, to_act = pick(2) == 1;
    const uint64_t scale_mode = pick(3);  // none, scalar, rows
    INFO("trial " << trial << ": " << to_string(pe) << " " << format << " m " << m << " n " << n
                  << " valid " << valid << " causal " << causal << " offset " << offset
                  << " from acc " << from_acc << " scale " << scale_mode << " to act " << to_act);
    Machine fused(pe, "", lanes, format), apart(pe, "", lanes, format);
    arith::VectorMathSpec spec;
    spec.format = format;
    const arith::VectorMath vm(spec);
    const uint64_t vb = vm.element_bytes(), accb = pe_traits(pe).acc_bytes;
    const uint64_t src_row = n * (from_acc ? accb : vb) + 8, src_at = from_acc ? 0 : 8192;
    const uint64_t scale_at = 0, dst_at = 16384, x_at = 65536, y_at = 131072;
    const uint64_t dst_row = n * 4 + 4, row = n * vb;  // dst holds act or vec elements
    for (Machine* mc : {&fused, &apart}) {
      std::mt19937_64 bytes(trial);
      std::normal_distribution<double> v(0.0, 4.0);
      uint8_t* src = from_acc ? mc->acc->data() : mc->asram->data() + src_at;
      for (uint64_t r = 0; r < m; ++r) {
        for (uint64_t i = 0; i < n; ++i) {
          if (from_acc) {  // random bytes: every pattern, NaNs and quires included
            for (uint64_t k = 0; k < accb; ++k)
              src[r * src_row + i * accb + k] = static_cast<uint8_t>(bytes());
          } else {
            const uint32_t x = vm.from_double(v(bytes));
            std::memcpy(src + r * src_row + i * vb, &x, vb);
          }
        }
      }
      for (uint64_t i = 0; i < 16; ++i) {
        const uint32_t s = vm.from_double(0.5 + std::abs(v(bytes)) / 8);
        std::memcpy(mc->asram->data() + scale_at + i * vb, &s, vb);
      }
    }
    namespace o = isa::softmax;
    std::vector<uint64_t> args(o::kDstType + 1, 0);
    args[o::kDst] = dst_at;
    args[o::kSrc] = src_at;
    args[o::kSrcMem] = from_acc ? 1 : 0;
    args[o::kM] = m;
    args[o::kN] = n;
    args[o::kDstStride] = dst_row;
    args[o::kSrcStride] = src_row;
    args[o::kValid] = valid;
    args[o::kCausal] = causal ? 1 : 0;
    args[o::kOffset] = offset;
    args[o::kSrcType] = from_acc ? 1 : 0;
    args[o::kScale] = scale_at;
    args[o::kScaleMode] = scale_mode;
    args[o::kDstType] = to_act ? 1 : 0;
    const uint64_t fused_cycles = fused.run(isa::Opcode::kSoftmax, args);
    // Apart: the accumulators to vec (x), x times the scale, softmax into y (or dst), y to act.
    const auto ty = [](ElemType t) { return static_cast<uint64_t>(t); };
    uint64_t apart_cycles = 0, x = src_at, x_row = src_row, x_mem = from_acc ? 1 : 0;
    if (from_acc) {
      apart_cycles += apart.run(isa::Opcode::kVcvt, {x_at, 0, ty(ElemType::kVec), 0, 1,
                                                     ty(ElemType::kAcc), m, n, row, src_row});
    }
    if (scale_mode != 0) {
      apart_cycles +=
          apart.run(isa::Opcode::kVbin, {static_cast<uint64_t>(VectorBinary::kMul), x_at, 0,
                                         from_acc ? x_at : src_at, 0, scale_at, 0, 1, m, n, row,
                                         from_acc ? row : src_row, scale_mode == 2 ? vb : 0, 0});
    }
    if (from_acc || scale_mode != 0) std::tie(x, x_row, x_mem) = std::make_tuple(x_at, row, 0);
    const uint64_t y = to_act ? y_at : dst_at, y_row = to_act ? row : dst_row;
    apart_cycles += apart.run(isa::Opcode::kSoftmax, {y, 0, x, x_mem, m, n, y_row, x_row, valid,
                                                      causal ? 1u : 0u, offset});
    if (to_act) {
      apart_cycles += apart.run(isa::Opcode::kVcvt, {dst_at, 0, ty(ElemType::kAct), y_at, 0,
                                                     ty(ElemType::kVec), m, n, dst_row, row});
    }
    const uint64_t out_bytes = n * (to_act ? pe_traits(pe).act_bytes : vb);
    for (uint32_t r = 0; r < m; ++r) {
      INFO("row " << r);
      REQUIRE(std::memcmp(fused.asram->data() + dst_at + r * dst_row,
                          apart.asram->data() + dst_at + r * dst_row, out_bytes) == 0);
    }
    REQUIRE(fused.stats.saturations == apart.stats.saturations);
    // The same work, but for what the fusion computes again: with dst act, the scale pass's
    // exponentials (a subtract, a multiply by log2(e) and an exp each) and each further read of
    // src converted and scaled; the apart commands convert and scale every column once.
    uint64_t valid_elements = 0;
    for (uint32_t r = 0; r < m; ++r)
      valid_elements += causal ? std::min<uint64_t>(valid, uint64_t{offset} + r + 1) : valid;
    const uint64_t reads = to_act ? 3 : 2, all = uint64_t{m} * n;
    const uint64_t again = to_act ? valid_elements : 0;
    REQUIRE(fused.stats.vec_functions == apart.stats.vec_functions + again);
    REQUIRE(fused.stats.vec_muls + (scale_mode ? all : 0) ==
            apart.stats.vec_muls + again + (scale_mode ? reads * valid_elements : 0));
    REQUIRE(fused.stats.vec_adds + (from_acc ? all : 0) + (to_act ? all : 0) ==
            apart.stats.vec_adds + again + (to_act ? valid_elements : 0) +
                (from_acc ? reads * valid_elements : 0));
    REQUIRE(fused_cycles <= apart_cycles);
    faster += fused_cycles < apart_cycles;
  }
  REQUIRE(faster >= 200);  // all but the trials with neither source nor destination fused
}
