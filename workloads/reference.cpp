#include "workloads/reference.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "hw_models/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "hw_models/arith/accumulator.hpp"

namespace nmp::workloads {
namespace {

// The value rounded to the kind's own format (native float accumulation).
double round_to(hw::PeKind kind, double v) { return element_value(kind, encode_element(kind, v)); }

// The accumulator of one output over k products x[i] w[i] as the MAC array forms it
// (pe.hpp): per k-tile (one gemm each) and per array block of it, the block's sum (pairwise
// in an adder tree, in order in a systolic column or PE), then added to the accumulator in
// block order. T is float for fp32 accumulation (every product and add rounds to fp32 by
// itself, `round` is the identity), double with `round` to the kind's format for native
// accumulation.
template <class T, class Round>
T accumulate_blocks(const std::vector<T>& x, const std::vector<T>& w, uint32_t k, uint32_t k_tile,
                    const hw::MacArrayParams& mac, Round round) {
  const bool tree = mac.dataflow == hw::Dataflow::kAdderTree;
  const bool whole_tile = mac.dataflow == hw::Dataflow::kOutputStationary;
  T acc = 0;
  bool first = true;
  std::vector<T> p, next;
  for (uint32_t t0 = 0; t0 < k; t0 += k_tile) {
    const uint32_t t1 = std::min(k, t0 + k_tile);
    const uint32_t block = whole_tile ? t1 - t0 : mac.rows;
    for (uint32_t b0 = t0; b0 < t1; b0 += block) {
      p.clear();
      for (uint32_t i = b0; i < std::min(t1, b0 + block); ++i) p.push_back(round(x[i] * w[i]));
      T s = 0;
      if (tree) {
        while (p.size() > 1) {
          next.clear();
          for (size_t i = 0; i + 1 < p.size(); i += 2) next.push_back(round(p[i] + p[i + 1]));
          if (p.size() % 2) next.push_back(p.back());
          p.swap(next);
        }
        s = p[0];
      } else {
        for (T v : p) s = round(s + v);
      }
      acc = first ? s : round(acc + s);
      first = false;
    }
  }
  return acc;
}

double float_accumulator(hw::PeKind kind, const std::vector<double>& x,
                         const std::vector<double>& w, uint32_t k, uint32_t k_tile,
                         const hw::MacArrayParams& mac) {
  if (!mac.traits().native_acc) {
    const std::vector<float> xf(x.begin(), x.end()), wf(w.begin(), w.end());
    return accumulate_blocks(xf, wf, k, k_tile, mac, [](float v) { return v; });
  }
  return accumulate_blocks(x, w, k, k_tile, mac, [kind](double v) { return round_to(kind, v); });
}

}  // namespace

std::vector<uint32_t> reference_quantize_row(const arith::VectorMath& vm, hw::PeKind pe,
                                             const std::vector<uint32_t>& x, uint32_t c127,
                                             uint32_t scale, uint32_t& factor) {
  std::vector<uint32_t> q(x.size());
  if (!hw::is_integer(pe)) {
    const arith::NumberFormat& act = hw::activation_format(pe);
    for (size_t i = 0; i < x.size(); ++i) q[i] = act.encode(vm.value(x[i]));
    return q;
  }
  uint32_t a = vm.abs(x[0]);
  for (size_t i = 1; i < x.size(); ++i) a = vm.max(a, vm.abs(x[i]));
  const uint32_t to_int = vm.mul(vm.apply(arith::VectorFunction::kReciprocal, a), c127);
  const arith::FixedFormat int8{8, 0};
  // An fp32 vector format's value is its float: FixedFormat rounds that from its bits (its own
  // path, tested equal to encode(); not the simulator's host-float shortcut).
  const bool fp32 = vm.native_fp32();
  for (size_t i = 0; i < x.size(); ++i) {
    const uint32_t scaled = vm.mul(x[i], to_int);
    float f = 0;
    std::memcpy(&f, &scaled, 4);
    const uint32_t p = fp32 ? int8.encode_float(f) : int8.encode(vm.value(scaled));
    q[i] = p == 0x80 ? 0x81 : p;  // symmetric: -128 becomes -127
  }
  factor = vm.mul(a, scale);
  return q;
}

arith::Unpacked reference_accumulator(hw::PeKind kind, const uint32_t* x, const uint32_t* w,
                                      uint32_t k, uint32_t k_tile, const hw::MacArrayParams& mac) {
  if (hw::is_integer(kind)) {
    int64_t sum = 0;
    for (uint32_t i = 0; i < k; ++i) {
      sum += int64_t{static_cast<int8_t>(x[i])} * int64_t{static_cast<int8_t>(w[i])};
    }
    const auto wrapped = static_cast<int32_t>(static_cast<uint32_t>(sum));  // int32 wrap-around
    return arith::Unpacked::from_signed(wrapped, 0);
  }
  const hw::PeKindInfo& info = hw::pe_info(kind);
  if (info.accumulator == hw::Accumulator::kQuire) {
    // The exact sum of the decoded products (a NaR decodes as NaN, which makes the sum NaN).
    const arith::NumberFormat& format = hw::activation_format(kind);
    arith::ExactAccumulator quire(2 * format.lsb_scale(), 2 * format.max_scale() + 1);
    for (uint32_t i = 0; i < k; ++i) {
      quire.add(arith::mul(format.decode(x[i]), format.decode(w[i])));
    }
    return quire.value();
  }
  if (info.accumulator == hw::Accumulator::kFixed) {
    // Exact products in units of 2^lsb, summed modulo the accumulator's width.
    const int lsb = info.acc_lsb_exp;
    const int acc_bits = 8 * static_cast<int>(mac.traits().acc_bytes);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < k; ++i) {
      const double product = element_value(kind, x[i]) * element_value(kind, w[i]);
      sum += static_cast<uint64_t>(static_cast<int64_t>(std::ldexp(product, -lsb)));
    }
    const int64_t v = acc_bits == 64 ? static_cast<int64_t>(sum)
                                     : static_cast<int32_t>(static_cast<uint32_t>(sum));
    return arith::Unpacked::from_signed(v, lsb);
  }
  std::vector<double> xv(k), wv(k);
  for (uint32_t i = 0; i < k; ++i) {
    xv[i] = element_value(kind, x[i]);
    wv[i] = element_value(kind, w[i]);
  }
  const double acc = float_accumulator(kind, xv, wv, k, k_tile, mac);
  return arith::from_double(acc);
}

namespace {

// The row kernels of the references: one operation over n outputs side by side. On x86-64
// each is built twice, for AVX2 and for the baseline, and the loader picks what the machine
// has: the same IEEE operations either way (no fused multiply-adds in this file), so the same
// bits, faster.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NMP_ROW_KERNEL __attribute__((target_clones("avx512f", "avx2", "default")))
// 16-bit integer products (vpmaddwd) take AVX-512BW, which x86-64-v4 includes.
#define NMP_ROW_KERNEL_BW __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define NMP_ROW_KERNEL
#define NMP_ROW_KERNEL_BW
#endif

// The sum of a[i] b[i] modulo 2^32 (8-bit values, a's held as int16).
NMP_ROW_KERNEL uint32_t dot_wrapped(const int16_t* a, const int8_t* b, size_t k) {
  uint32_t sum = 0;
  for (size_t i = 0; i < k; ++i) sum += static_cast<uint32_t>(int32_t{a[i]} * int32_t{b[i]});
  return sum;
}
// The sums of four rows a, a + k, a + 2k, a + 3k times b, for k <= kDot4MaxK: every partial
// sum is then within int32 (|a[i] b[i]| <= 2^14), so it is the sum modulo 2^32, and signed sums
// the compiler vectorizes in 16-bit products; each of b's elements is loaded once for four rows.
constexpr size_t kDot4MaxK = size_t{1} << 16;
NMP_ROW_KERNEL_BW void dot_rows4(const int16_t* a, const int8_t* b, size_t k, uint32_t* sums) {
  int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i < k; ++i) {
    const int32_t w{b[i]};
    s0 += a[i] * w;
    s1 += a[k + i] * w;
    s2 += a[2 * k + i] * w;
    s3 += a[3 * k + i] * w;
  }
  sums[0] = static_cast<uint32_t>(s0), sums[1] = static_cast<uint32_t>(s1);
  sums[2] = static_cast<uint32_t>(s2), sums[3] = static_cast<uint32_t>(s3);
}
// sums[j] = the sum of w(j, i) x[i] in double, in order of i, for j < kOutputs: the outputs'
// chains of dependent adds side by side, so that they overlap.
template <size_t kOutputs, class Weight>
void dots_in_order(const Weight& w, const float* x, size_t k, double* sums) {
  double sum[kOutputs] = {};
  for (size_t i = 0; i < k; ++i) {
    const double xi = x[i];
    for (size_t j = 0; j < kOutputs; ++j) sum[j] = sum[j] + double{w(j, i)} * xi;
  }
  for (size_t j = 0; j < kOutputs; ++j) sums[j] = sum[j];
}
NMP_ROW_KERNEL void add_products(uint64_t* acc, const int64_t* w, uint64_t x, size_t n) {
  for (size_t c = 0; c < n; ++c) acc[c] += x * static_cast<uint64_t>(w[c]);
}
// A chunk of products summed within int32 (GemmReference::int32_chunk_): exact.
NMP_ROW_KERNEL void add_products(int32_t* acc, const int32_t* w, int32_t x, size_t n) {
  for (size_t c = 0; c < n; ++c) acc[c] += x * w[c];
}
// Units within int32: each product exact in int64 (a widening multiply the host vectorizes),
// the sums as above modulo 2^64.
NMP_ROW_KERNEL void add_products(uint64_t* acc, const int32_t* w, int32_t x, size_t n) {
  for (size_t c = 0; c < n; ++c) acc[c] += static_cast<uint64_t>(int64_t{x} * int64_t{w[c]});
}
void add_products(__int128* acc, const int64_t* w, __int128 x, size_t n) {
  for (size_t c = 0; c < n; ++c) acc[c] += x * w[c];
}
NMP_ROW_KERNEL void add_products(float* acc, const float* w, float x, size_t n) {
  for (size_t c = 0; c < n; ++c) {
    const float p = x * w[c];
    acc[c] = acc[c] + p;
  }
}
NMP_ROW_KERNEL void add_products(double* acc, const float* w, double x, size_t n) {
  for (size_t c = 0; c < n; ++c) {
    const double p = double{w[c]} * x;
    acc[c] = acc[c] + p;
  }
}
// The same sums for a tile of rows and columns, over the whole reduction in order of i: x holds
// kSumRows rows' k inputs, w the k x n weights. The tile's sums stay in registers instead of
// passing through memory once per input, so the tile is as large as the registers hold: with
// AVX-512 (32 registers of 8 doubles) all kSumRows rows x 16 columns; otherwise (AVX2: 16
// registers of 4 doubles) 4 rows x 8 columns, the block's rows in two halves. A tile of 16
// columns on AVX2 spilled its sums to memory in every step of i and took 10 times as long.
constexpr uint32_t kSumRows = 8;
template <class Doubles, class Floats, uint32_t kRows, uint32_t kVectors>
inline __attribute__((always_inline)) void products_tile_body(double* sum, size_t n, const float* w,
                                                              const double* x, size_t k,
                                                              size_t c0) {
  constexpr size_t kLanes = sizeof(Doubles) / sizeof(double);
  Doubles acc[kRows][kVectors];
  for (uint32_t r = 0; r < kRows; ++r) std::memcpy(acc[r], &sum[r * n + c0], sizeof acc[r]);
  for (size_t i = 0; i < k; ++i) {
    Doubles wv[kVectors];
    for (uint32_t v = 0; v < kVectors; ++v) {
      Floats f;
      std::memcpy(&f, &w[i * n + c0 + v * kLanes], sizeof f);
      wv[v] = __builtin_convertvector(f, Doubles);
    }
    for (uint32_t r = 0; r < kRows; ++r) {
      // Every lane xi, in one broadcast (0 + xi would turn -0 into +0; filling the lanes one
      // by one compiled to a masked broadcast per lane).
      const double xi = x[r * k + i];
      static_assert(kLanes == 4, "the AVX-512 tile is add_products_tile_wide's");
      const Doubles xv = {xi, xi, xi, xi};
      for (uint32_t v = 0; v < kVectors; ++v) acc[r][v] = acc[r][v] + wv[v] * xv;
    }
  }
  for (uint32_t r = 0; r < kRows; ++r) std::memcpy(&sum[r * n + c0], acc[r], sizeof acc[r]);
}
using Doubles4 = double __attribute__((vector_size(32)));
using Floats4 = float __attribute__((vector_size(16)));
NMP_ROW_KERNEL void add_products_tile_narrow(double* sum, size_t n, const float* w, const double* x,
                                             size_t k, size_t c0) {
  products_tile_body<Doubles4, Floats4, kSumRows / 2, 2>(sum, n, w, x, k, c0);
}
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// products_tile_body's sums with AVX-512 intrinsics, each step one fused multiply-add: a float
// times a float's double is exact in double, so rounding the sum once, fused, gives the bits
// of the product and the sum apart (-0, infinities and NaN included).
__attribute__((target("avx512f"))) void add_products_tile_wide(double* sum, size_t n,
                                                               const float* w, const double* x,
                                                               size_t k, size_t c0) {
  __m512d acc[kSumRows][2];
  for (uint32_t r = 0; r < kSumRows; ++r) {
    for (uint32_t v = 0; v < 2; ++v) acc[r][v] = _mm512_loadu_pd(&sum[r * n + c0 + 8 * v]);
  }
  for (size_t i = 0; i < k; ++i) {
    const __m512d w0 = _mm512_maskz_cvtps_pd(0xff, _mm256_loadu_ps(&w[i * n + c0]));
    const __m512d w1 = _mm512_maskz_cvtps_pd(0xff, _mm256_loadu_ps(&w[i * n + c0 + 8]));
    for (uint32_t r = 0; r < kSumRows; ++r) {
      const __m512d xi = _mm512_set1_pd(x[r * k + i]);
      acc[r][0] = _mm512_fmadd_pd(w0, xi, acc[r][0]);
      acc[r][1] = _mm512_fmadd_pd(w1, xi, acc[r][1]);
    }
  }
  for (uint32_t r = 0; r < kSumRows; ++r) {
    for (uint32_t v = 0; v < 2; ++v) _mm512_storeu_pd(&sum[r * n + c0 + 8 * v], acc[r][v]);
  }
}
#endif
// The sums of a block of kSumRows rows over the whole tiles of columns the machine's registers
// hold; returns the columns covered (the caller sums the rest a row at a time).
size_t add_products_tiles(double* sum, size_t n, const float* w, const double* x, size_t k) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  if (avx512) {
    const size_t tiled = n / 16 * 16;
    for (size_t c0 = 0; c0 < tiled; c0 += 16) add_products_tile_wide(sum, n, w, x, k, c0);
    return tiled;
  }
#endif
  constexpr size_t kHalf = kSumRows / 2;
  const size_t tiled = n / 8 * 8;
  for (size_t c0 = 0; c0 < tiled; c0 += 8) {
    add_products_tile_narrow(sum, n, w, x, k, c0);
    add_products_tile_narrow(&sum[kHalf * n], n, w, &x[kHalf * k], k, c0);
  }
  return tiled;
}
NMP_ROW_KERNEL void products(float* out, const float* w, float x, size_t n) {
  for (size_t c = 0; c < n; ++c) out[c] = x * w[c];
}
NMP_ROW_KERNEL void sums(float* out, const float* a, const float* b, size_t n) {
  for (size_t c = 0; c < n; ++c) out[c] = a[c] + b[c];
}

// out[i * n + c] = value(c, i) for the n x k weights: the transpose, in tiles that stay in cache,
// each tile written row by row (its reads strided: 3x faster than strided writes here).
template <class T, class Value>
void transpose(uint32_t n, uint32_t k, T* out, const Value& value) {
  constexpr uint32_t kTile = 16;
  for (uint32_t c0 = 0; c0 < n; c0 += kTile) {
    for (uint32_t i0 = 0; i0 < k; i0 += kTile) {
      const uint32_t c1 = std::min(n, c0 + kTile), i1 = std::min(k, i0 + kTile);
      for (uint32_t i = i0; i < i1; ++i) {
        for (uint32_t c = c0; c < c1; ++c) out[size_t{i} * n + c] = value(c, i);
      }
    }
  }
}

// The exact value v x 2^lsb of a 128-bit integer, as ExactAccumulator::value() gives it.
arith::Unpacked from_int128(__int128 v, int lsb) {
  const bool neg = v < 0;
  const auto mag = neg ? static_cast<unsigned __int128>(0) - static_cast<unsigned __int128>(v)
                       : static_cast<unsigned __int128>(v);
  const auto high = static_cast<uint64_t>(mag >> 64);
  if (high == 0) return arith::Unpacked::from_integer(neg, static_cast<uint64_t>(mag), lsb);
  const int shift = 64 - __builtin_clzll(high);
  arith::Unpacked u =
      arith::Unpacked::from_integer(neg, static_cast<uint64_t>(mag >> shift), lsb + shift);
  u.sticky = (mag & ((static_cast<unsigned __int128>(1) << shift) - 1)) != 0;
  return u;
}

}  // namespace

GemmReference::GemmReference(hw::PeKind kind, const int8_t* w, uint32_t n, uint32_t k,
                             uint32_t k_tile, const hw::MacArrayParams& mac)
    : kind_(kind), n_(n), k_(k), k_tile_(k_tile), mac_(mac) {
  choose_path();
  if (!hw::is_integer(kind)) throw std::logic_error("int8 weights are for the integer kinds");
  w_units8_ = w;  // an int8 pattern is its own unit: the caller's weights, not a copy
}

GemmReference::GemmReference(hw::PeKind kind, const uint32_t* w, uint32_t n, uint32_t k,
                             uint32_t k_tile, const hw::MacArrayParams& mac)
    : kind_(kind), n_(n), k_(k), k_tile_(k_tile), mac_(mac) {
  const uint32_t mask = choose_path();
  switch (path_) {
    case Path::kInteger:
      // Units of 8-bit patterns fit int8; the sums are the same in any order, so each output
      // is a dot product over its row of weights as given (no transposed copy).
      w_units8_owned_.resize(size_t{k} * n);
      for (size_t j = 0; j < w_units8_owned_.size(); ++j)
        w_units8_owned_[j] = static_cast<int8_t>(units_[w[j] & mask]);
      w_units8_ = w_units8_owned_.data();
      break;
    case Path::kFixed:
    case Path::kPosit: {
      w_col_nar_.assign(n, 0);
      const auto unit_of = [&](uint32_t c, uint32_t i) {
        const uint32_t p = w[size_t{c} * k + i] & mask;
        w_col_nar_[c] |= nar_[p];
        return units_[p];
      };
      if (units_fit_int32_) {
        w_units32_.reset(new int32_t[size_t{k} * n]);
        transpose(n, k, w_units32_.get(), unit_of);
      } else {
        w_units_.reset(new int64_t[size_t{k} * n]);
        transpose(n, k, w_units_.get(), unit_of);
      }
      break;
    }
    case Path::kFloat:
      w_values_.reset(new float[size_t{k} * n]);
      transpose(n, k, w_values_.get(),
                [&](uint32_t c, uint32_t i) { return value_of(w[size_t{c} * k + i]); });
      break;
    case Path::kPerOutput:
      w_.assign(w, w + size_t{n} * k);
      break;
  }
}

uint32_t GemmReference::choose_path() {
  const hw::PeKind kind = kind_;
  const hw::MacArrayParams& mac = mac_;
  const uint32_t k = k_;
  const hw::PeKindInfo& info = hw::pe_info(kind);
  const bool quire = info.accumulator == hw::Accumulator::kQuire;
  const bool fixed = info.accumulator == hw::Accumulator::kFixed;
  const int bits = hw::is_integer(kind) ? 8 : hw::activation_format(kind).bits();
  // A quire's sum is below k x maxpos^2 = 2^(sum_bits) of its units.
  const int sum_bits = quire ? 2 * hw::activation_format(kind).max_scale() - info.acc_lsb_exp +
                                   (32 - __builtin_clz(std::max(k, 1u)))
                             : 0;
  if (hw::is_integer(kind) || (fixed && info.act_bytes == 1 && info.acc_bytes == 4)) {
    path_ = Path::kInteger;  // sums modulo 2^32 (8-bit patterns' units fit int8)
  } else if ((fixed && info.acc_bytes == 8) || (quire && sum_bits <= 63)) {
    path_ = Path::kFixed;  // fixed: modulo 2^64, the accumulator's width; quire: exact
  } else if (quire && sum_bits <= 127) {
    path_ = Path::kPosit;
  } else if (info.accumulator == hw::Accumulator::kFloat && !mac.traits().native_acc) {
    // fp32 accumulating natively rounds every product and sum to fp32, as float arithmetic
    // does (computed in double and rounded once more, a sum or product of two floats is
    // the correctly rounded float: 53 >= 2 x 24 + 2 bits).
    path_ = Path::kFloat;
  }
  // Every pattern's value, by table up to 16 bits (fp32 decodes as it goes).
  const uint32_t patterns = bits <= 16 ? 1u << bits : 0;
  if (path_ == Path::kInteger || path_ == Path::kFixed || path_ == Path::kPosit) {
    lsb_ = hw::is_integer(kind) ? 0 : info.acc_lsb_exp;
    units_.resize(patterns);
    nar_.assign(patterns, 0);
    for (uint32_t p = 0; p < patterns; ++p) {
      const double v = element_value(kind, p);
      if (std::isnan(v)) {
        nar_[p] = 1;
        continue;
      }
      units_[p] = static_cast<int64_t>(std::ldexp(v, -lsb_ / 2));
    }
    // Sums in 64 bits (the fixed path) of units within int32 take int32 weights.
    units_fit_int32_ = path_ == Path::kFixed &&
                       std::all_of(units_.begin(), units_.end(),
                                   [](int64_t u) { return u >= INT32_MIN && u <= INT32_MAX; });
    if (units_fit_int32_) {
      uint64_t largest = 1;
      for (int64_t u : units_) largest = std::max<uint64_t>(largest, u < 0 ? -u : u);
      if (largest < (uint64_t{1} << 15))
        int32_chunk_ = static_cast<uint32_t>(INT32_MAX / (largest * largest));
    }
  } else if (path_ == Path::kFloat) {
    values_.resize(patterns);
    for (uint32_t p = 0; p < patterns; ++p) values_[p] = static_cast<float>(element_value(kind, p));
  }
  return patterns - 1;
}

template <class Sum, class Block, class Take>
void GemmReference::in_row_blocks(const uint32_t* x, uint32_t count, const Block& block,
                                  const Take& take) const {
  // Rows go through in blocks, so that each transposed weight row, once in cache, serves
  // every row of the block.
  std::vector<Sum> out(size_t{std::min(kRowBlock, count)} * n_);
  for (uint32_t r0 = 0; r0 < count; r0 += kRowBlock) {
    const uint32_t rb = std::min(kRowBlock, count - r0);
    (this->*block)(x + size_t{r0} * k_, rb, out.data());
    for (uint32_t r = 0; r < rb; ++r) take(r0 + r, &out[size_t{r} * n_]);
  }
}

void GemmReference::rows(const uint32_t* x, uint32_t count, const RowFn& take) const {
  in_row_blocks<arith::Unpacked>(x, count, &GemmReference::block, take);
}

void GemmReference::row(const uint32_t* x, std::vector<arith::Unpacked>& out) const {
  out.resize(n_);
  block(x, 1, out.data());
}

void GemmReference::block(const uint32_t* x, uint32_t rb, arith::Unpacked* out) const {
  const size_t n = n_;
  switch (path_) {
    case Path::kInteger: {
      std::vector<int32_t> sums(size_t{rb} * n);
      wrapped_block(x, rb, sums.data());
      for (size_t j = 0; j < sums.size(); ++j) out[j] = arith::Unpacked::from_signed(sums[j], lsb_);
      return;
    }
    case Path::kFixed:
      // Fixed kinds of int64 accumulators: sums modulo 2^64; quires of small sums: exact.
      unit_block<uint64_t, int64_t>(x, rb, out);
      return;
    case Path::kPosit:
      // Quires of sums below 2^127 units (posit<16,1>: k < 2^15), exact.
      unit_block<__int128, __int128>(x, rb, out);
      return;
    case Path::kFloat:
      float_block(x, rb, out);
      return;
    case Path::kPerOutput:
      for (uint32_t r = 0; r < rb; ++r) {
        for (size_t c = 0; c < n; ++c) {
          out[r * n + c] =
              reference_accumulator(kind_, x + r * size_t{k_}, &w_[c * k_], k_, k_tile_, mac_);
        }
      }
      return;
  }
}

void GemmReference::rows_wrapped(const uint32_t* x, uint32_t count,
                                 const WrappedRowFn& take) const {
  if (!hw::is_integer(kind_)) throw std::logic_error("int32 sums are the integer kinds'");
  in_row_blocks<int32_t>(x, count, &GemmReference::wrapped_block, take);
}

void GemmReference::wrapped_block(const uint32_t* x, uint32_t rb, int32_t* sums) const {
  // The int64 sum wrapped to int32 (integer kinds, fixed<2,6>) is the sum modulo 2^32.
  const uint32_t mask = static_cast<uint32_t>(units_.size()) - 1;
  const size_t n = n_;
  std::vector<int16_t> xu(size_t{rb} * k_);
  for (size_t j = 0; j < xu.size(); ++j) xu[j] = static_cast<int16_t>(units_[x[j] & mask]);
  const auto put = [&](uint32_t r, size_t c, uint32_t sum) {
    sums[r * n + c] = static_cast<int32_t>(sum);
  };
  for (size_t c = 0; c < n; ++c) {
    uint32_t r = 0;
    for (uint32_t four[4]; k_ <= kDot4MaxK && r + 4 <= rb; r += 4) {
      dot_rows4(&xu[r * size_t{k_}], &w_units8_[c * k_], k_, four);
      for (uint32_t i = 0; i < 4; ++i) put(r + i, c, four[i]);
    }
    for (; r < rb; ++r) put(r, c, dot_wrapped(&xu[r * size_t{k_}], &w_units8_[c * k_], k_));
  }
}

template <class Acc, class Signed>
void GemmReference::unit_block(const uint32_t* x, uint32_t rb, arith::Unpacked* out) const {
  // Sums of units in Acc arithmetic (modulo its width); a NaR operand makes the output NaR.
  const uint32_t mask = static_cast<uint32_t>(units_.size()) - 1;
  const size_t n = n_;
  std::vector<Acc> acc(rb * n, 0);
  std::vector<uint8_t> row_nar(rb, 0);
  // Small units (posit<8,0>'s quire, fixed<2,14>): each chunk of inputs summed exactly in int32
  // lanes, twice as many a vector as int64's, then added in 64 bits; else one chunk of all.
  bool int32_parts = false;
  if constexpr (std::is_same_v<Acc, uint64_t>) int32_parts = int32_chunk_ >= 2;
  const uint32_t chunk = int32_parts ? int32_chunk_ : k_;
  std::vector<int32_t> part(int32_parts ? rb * n : 0);
  for (uint32_t i0 = 0; i0 < k_; i0 += chunk) {
    std::fill(part.begin(), part.end(), 0);
    for (uint32_t i = i0; i < std::min(k_, i0 + chunk); ++i) {
      for (uint32_t r = 0; r < rb; ++r) {
        const uint32_t p = x[r * size_t{k_} + i] & mask;
        row_nar[r] |= nar_[p];
        if (units_[p] == 0) continue;
        if constexpr (std::is_same_v<Acc, uint64_t>) {
          const auto unit = static_cast<int32_t>(units_[p]);
          if (int32_parts) {
            add_products(&part[r * n], &w_units32_[i * n], unit, n);
            continue;
          }
          if (units_fit_int32_) {
            add_products(&acc[r * n], &w_units32_[i * n], unit, n);
            continue;
          }
        }
        add_products(&acc[r * n], &w_units_[i * n], static_cast<Acc>(units_[p]), n);
      }
    }
    for (size_t j = 0; j < part.size(); ++j) acc[j] += static_cast<Acc>(int64_t{part[j]});
  }
  for (size_t j = 0; j < acc.size(); ++j) {
    out[j] = row_nar[j / n] || w_col_nar_[j % n] ? arith::Unpacked::nan()
                                                 : from_int128(static_cast<Signed>(acc[j]), lsb_);
  }
}

float GemmReference::value_of(uint32_t pattern) const {
  if (values_.empty()) return static_cast<float>(element_value(kind_, pattern));
  return values_[pattern & (values_.size() - 1)];
}

void GemmReference::float_block(const uint32_t* x, uint32_t rb, arith::Unpacked* out) const {
  // accumulate_blocks() for every output side by side: products and sums in float, each
  // rounded by itself (this file is built without contraction into fused multiply-adds).
  const size_t n = n_;
  const bool tree = mac_.dataflow == hw::Dataflow::kAdderTree;
  const bool whole_tile = mac_.dataflow == hw::Dataflow::kOutputStationary;
  std::vector<float> acc(rb * n, 0.0f), s(rb * n), xv(size_t{rb} * k_);
  for (size_t j = 0; j < xv.size(); ++j) xv[j] = value_of(x[j]);
  std::vector<float> prods(tree ? size_t{mac_.rows} * rb * n : 0);
  bool first = true;
  for (uint32_t t0 = 0; t0 < k_; t0 += k_tile_) {
    const uint32_t t1 = std::min(k_, t0 + k_tile_);
    const uint32_t block = whole_tile ? t1 - t0 : mac_.rows;
    for (uint32_t b0 = t0; b0 < t1; b0 += block) {
      const uint32_t b1 = std::min(t1, b0 + block);
      if (tree) {
        // prods[j] holds the rb x n products of input b0 + j.
        const size_t level = rb * n;
        for (uint32_t i = b0; i < b1; ++i) {
          const float* wr = &w_values_[i * n];
          for (uint32_t r = 0; r < rb; ++r)
            products(&prods[(i - b0) * level + r * n], wr, xv[r * size_t{k_} + i], n);
        }
        // Pairwise, in place: sum j of a level is the (2j, 2j + 1) pair of the one before; an
        // odd one out moves up unchanged.
        for (uint32_t count = b1 - b0; count > 1; count = (count + 1) / 2) {
          for (uint32_t j = 0; j < count / 2; ++j)
            sums(&prods[j * level], &prods[size_t{2} * j * level],
                 &prods[(size_t{2} * j + 1) * level], level);
          if (count % 2) std::copy_n(&prods[(count - 1) * level], level, &prods[count / 2 * level]);
        }
        std::copy_n(prods.begin(), level, s.begin());
      } else {
        std::fill(s.begin(), s.end(), 0.0f);
        for (uint32_t i = b0; i < b1; ++i) {
          const float* wr = &w_values_[i * n];
          for (uint32_t r = 0; r < rb; ++r) add_products(&s[r * n], wr, xv[r * size_t{k_} + i], n);
        }
      }
      if (first) {
        acc.swap(s);
      } else {
        sums(acc.data(), acc.data(), s.data(), acc.size());
      }
      first = false;
    }
  }
  for (size_t j = 0; j < acc.size(); ++j) out[j] = arith::from_double(acc[j]);
}

Fp32Linear::Fp32Linear(const LayerSpec& l, const LayerData& ld, uint32_t rows)
    : n_(l.out_features), k_(l.in_features) {
  if (l.kind == LayerKind::kBitLinear) {
    trits_ = ld.ternary.trits.data();
    gamma_ = ld.ternary.gamma[0];
  } else {
    latent_ = ld.weights.data();
  }
  if (rows < GemmReference::kRowBlock) return;
  w_.reset(new float[size_t{n_} * k_]);
  transpose(n_, k_, w_.get(), [&](uint32_t c, uint32_t i) { return weight(size_t{c} * k_ + i); });
}

void Fp32Linear::rows(const float* x, uint32_t count, const float* bias, float* y) const {
  const size_t n = n_;
  if (!w_) {  // few rows: a dot product per output, the same sums in the same order
    constexpr size_t kSide = 8;  // outputs summed side by side
    for (uint32_t r = 0; r < count; ++r) {
      const float* xr = &x[r * size_t{k_}];
      double sums[kSide];
      for (size_t c0 = 0; c0 < n; c0 += kSide) {
        if (c0 + kSide <= n) {
          dots_in_order<kSide>([&](size_t j, size_t i) { return weight((c0 + j) * k_ + i); }, xr,
                               k_, sums);
        } else {
          for (size_t c = c0; c < n; ++c) {
            dots_in_order<1>([&](size_t, size_t i) { return weight(c * k_ + i); }, xr, k_,
                             &sums[c - c0]);
          }
        }
        for (size_t c = c0; c < std::min(n, c0 + kSide); ++c) {
          y[r * n + c] = static_cast<float>(bias ? double{bias[c]} + sums[c - c0] : sums[c - c0]);
        }
      }
    }
    return;
  }
  static_assert(GemmReference::kRowBlock == kSumRows, "a block of rows is a tile's rows");
  std::vector<double> sum(size_t{GemmReference::kRowBlock} * n);
  std::vector<double> xd(size_t{GemmReference::kRowBlock} * k_);
  for (uint32_t r0 = 0; r0 < count; r0 += GemmReference::kRowBlock) {
    const uint32_t rb = std::min(GemmReference::kRowBlock, count - r0);
    for (uint32_t r = 0; r < rb; ++r) {
      if (bias) {
        std::copy_n(bias, n, &sum[r * n]);
      } else {
        std::fill_n(&sum[r * n], n, 0.0);
      }
    }
    // Whole tiles of columns in registers; the columns past them (and a last block of fewer
    // rows) a row at a time.
    size_t tiled = 0;
    if (rb == kSumRows) {
      std::copy_n(&x[r0 * size_t{k_}], size_t{rb} * k_, xd.begin());
      tiled = add_products_tiles(sum.data(), n, w_.get(), xd.data(), k_);
    }
    if (tiled < n) {
      for (uint32_t i = 0; i < k_; ++i) {
        const float* wr = &w_[i * n + tiled];
        for (uint32_t r = 0; r < rb; ++r) {
          add_products(&sum[r * n + tiled], wr, double{x[(r0 + r) * size_t{k_} + i]}, n - tiled);
        }
      }
    }
    for (size_t j = 0; j < rb * n; ++j) y[r0 * n + j] = static_cast<float>(sum[j]);
  }
}

std::vector<uint32_t> reference_softmax(const arith::VectorMath& vm, const std::vector<uint32_t>& s,
                                        uint32_t valid, uint32_t lanes) {
  std::vector<uint32_t> prob(s.size(), vm.from_double(0.0)), e(valid);
  uint32_t mx = s[0];
  for (uint32_t p = 1; p < valid; ++p) mx = vm.max(mx, s[p]);
  for (uint32_t p = 0; p < valid; ++p)
    e[p] = vm.apply(arith::VectorFunction::kExp, vm.sub(s[p], mx));
  const uint32_t inv = vm.reciprocal_of_sum(e, lanes);
  for (uint32_t p = 0; p < valid; ++p) prob[p] = vm.mul(e[p], inv);
  return prob;
}

ErrorStats compare(const std::vector<float>& value, const std::vector<float>& reference) {
  ErrorStats e;
  double err2 = 0.0, ref2 = 0.0;
  for (size_t i = 0; i < value.size(); ++i) {
    const double d = static_cast<double>(value[i]) - reference[i];
    e.max_abs = std::max(e.max_abs, std::fabs(d));
    err2 += d * d;
    ref2 += static_cast<double>(reference[i]) * reference[i];
  }
  e.rmse = value.empty() ? 0.0 : std::sqrt(err2 / static_cast<double>(value.size()));
  e.sqnr_db =
      err2 == 0.0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(ref2 / err2);
  return e;
}

}  // namespace nmp::workloads
