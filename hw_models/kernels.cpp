#include "hw_models/kernels.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace nmp::hw {
namespace {

using i128 = __int128;

// Quire NaR: the minimum of the quire's width, a value no sum of products reaches.
constexpr int64_t kQuire64NaR = std::numeric_limits<int64_t>::min();
const i128 kQuire128NaR = static_cast<i128>(static_cast<unsigned __int128>(1) << 127);
// The largest magnitude, in quire units, of an 8-bit quire kind's value (posit<8,0>'s maxpos
// 2^6 in units of minpos 2^-6).
constexpr int64_t kQuire8Bound = int64_t{1} << 12;

// Exact decodings of every pattern of a kind's 8- or 16-bit elements: values for the float
// kinds, multiples of 2^(acc_lsb_exp / 2) for the quire kinds (NaR as 0), so that a product
// is in the quire's units. Built on a kind's first gemm (a 16-bit table takes milliseconds).
struct DecodeTable {
  std::once_flag built;
  std::vector<float> floats;
  std::vector<int64_t> quire_units;
};

const DecodeTable& decode_table(PeKind kind) {
  static std::array<DecodeTable, kNumPeKinds> tables;
  DecodeTable& t = tables[static_cast<size_t>(kind)];
  std::call_once(t.built, [&t, kind] {
    const PeKindInfo& info = pe_info(kind);
    if (info.act_bytes > 2) return;
    const arith::NumberFormat& format = activation_format(kind);
    for (uint32_t p = 0; p < 1u << (8 * info.act_bytes); ++p) {
      const arith::Unpacked u = format.decode(p);
      if (info.accumulator == Accumulator::kFloat) {
        t.floats.push_back(static_cast<float>(arith::to_double(u)));
      } else if (info.accumulator == Accumulator::kQuire) {
        t.quire_units.push_back(u.is_nan() ? 0
                                           : static_cast<int64_t>(std::ldexp(
                                                 arith::to_double(u), -info.acc_lsb_exp / 2)));
        // gemm_quire8 multiplies them as int16 and sums 64 products in int32.
        if (info.act_bytes == 1 && std::abs(t.quire_units.back()) > kQuire8Bound) {
          throw std::logic_error(std::string("gemm_quire8: ") + info.name +
                                 "'s values exceed 2^12 units");
        }
      }
    }
  });
  return t;
}

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class T>
void store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

// How a block's decoded weights lie: n-major (n_count rows of k_count values, a dot product
// per output) or k-major (k_count rows of n_count: the integer kernel's row times block).
enum class Decoded : uint8_t { kNMajor, kKMajor };

// Where element i of stored row r of block b lies in a matrix decoded in `order`.
size_t decoded_index(const WeightBlock& b, uint32_t r, uint32_t i, Decoded order) {
  const uint32_t n = b.n_major ? r : i, k = b.n_major ? i : r;
  return order == Decoded::kNMajor ? static_cast<size_t>(n) * b.k_count + k
                                   : static_cast<size_t>(k) * b.n_count + n;
}

// A block's weights, decoded into `order`.
template <class T, class Decode>
void decode_block(const uint8_t* wgt, const WeightBlock& b, uint32_t element_bytes,
                  std::vector<T>& out, Decode decode, Decoded order = Decoded::kNMajor) {
  out.resize(static_cast<size_t>(b.n_count) * b.k_count);
  for (uint32_t r = 0; r < b.rows(); ++r) {
    const uint8_t* row = wgt + b.offset + r * b.row_bytes;
    for (uint32_t i = 0; i < b.row_length(); ++i)
      out[decoded_index(b, r, i, order)] = decode(row + static_cast<size_t>(i) * element_bytes);
  }
}

// Hot loops are compiled twice: for AVX2 and for the baseline, chosen when the program loads.
#define NMP_HOT __attribute__((target_clones("avx2", "default")))

// acc[j] += sum over i of x[i] * wt[i * n + j]: one activation row times a block whose weights
// lie k-major, vectorized across the block's outputs (a dot product per output spent most of
// its time summing its lanes). Integer sums modulo 2^32, as the adder wraps: exact in any order.
// N > 0: the block's outputs, known at compile time, so the sums stay in registers. Inlined
// into the multiversioned function below (compilers multiversion no templates).
template <uint32_t N>
[[gnu::always_inline]] inline void row_times_block_body(const int8_t* __restrict x,
                                                        const int8_t* __restrict wt, uint32_t k,
                                                        uint32_t n, uint32_t* __restrict acc) {
  if constexpr (N > 0) {
    uint32_t sums[N];
    std::memcpy(sums, acc, sizeof sums);
    for (uint32_t i = 0; i < k; ++i) {
      const auto xi = static_cast<uint32_t>(static_cast<int32_t>(x[i]));
      const int8_t* wi = wt + static_cast<size_t>(i) * N;
      for (uint32_t j = 0; j < N; ++j) sums[j] += xi * static_cast<uint32_t>(int32_t{wi[j]});
    }
    std::memcpy(acc, sums, sizeof sums);
  } else {
    for (uint32_t i = 0; i < k; ++i) {
      const auto xi = static_cast<uint32_t>(static_cast<int32_t>(x[i]));
      const int8_t* wi = wt + static_cast<size_t>(i) * n;
      for (uint32_t j = 0; j < n; ++j) acc[j] += xi * static_cast<uint32_t>(int32_t{wi[j]});
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// The same sums for blocks of a multiple of 32 outputs, with AVX-512BW: two inputs at a time,
// their rows widened to int16 and interleaved, so that one vpmaddwd forms x[i] w[i][j] +
// x[i+1] w[i+1][j] for 16 outputs (each pair within 2^15: exact in int32), added modulo 2^32
// like the adder. Unpacking works within each 128-bit lane, so the sums come out in the order
// (j 0-3, 8-11, ... | 4-7, 12-15, ...), put back in order once at the end.
#define NMP_AVX512BW __attribute__((target("avx512bw")))
// Row i's outputs j0 ... j0 + 31, widened to int16.
NMP_AVX512BW inline __m512i widened_row(const int8_t* wt, uint32_t n, uint32_t i, uint32_t j0) {
  return _mm512_cvtepi8_epi16(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wt + size_t{i} * n + j0)));
}
// lo and hi += xa a + xb b, output by output (a and b two rows, interleaved by unpacking).
NMP_AVX512BW inline void add_pair(__m512i& lo, __m512i& hi, __m512i a, __m512i b, int8_t xa,
                                  int8_t xb) {
  const __m512i xs = _mm512_set1_epi32(
      static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(int16_t{xa})) |
                           (static_cast<uint32_t>(static_cast<uint16_t>(int16_t{xb})) << 16)));
  lo = _mm512_add_epi32(lo, _mm512_madd_epi16(_mm512_unpacklo_epi16(a, b), xs));
  hi = _mm512_add_epi32(hi, _mm512_madd_epi16(_mm512_unpackhi_epi16(a, b), xs));
}
// kRows rows of activations (x_stride bytes apart) times the block, into accumulators
// acc_stride bytes apart (added to them, or over them when `overwrite`): each pair of weight
// rows is widened and interleaved once for all kRows rows.
template <uint32_t kRows>
NMP_AVX512BW inline void rows_times_block_int8_wide(const int8_t* x, uint64_t x_stride,
                                                    const int8_t* wt, uint32_t k, uint32_t n,
                                                    uint8_t* acc, uint64_t acc_stride,
                                                    bool overwrite) {
  const __m512i first = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const __m512i second =
      _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  for (uint32_t j0 = 0; j0 < n; j0 += 32) {
    __m512i lo[kRows], hi[kRows];
    for (uint32_t r = 0; r < kRows; ++r) lo[r] = hi[r] = _mm512_setzero_si512();
    uint32_t i = 0;
    for (; i + 1 < k; i += 2) {
      const __m512i a = widened_row(wt, n, i, j0), b = widened_row(wt, n, i + 1, j0);
      for (uint32_t r = 0; r < kRows; ++r)
        add_pair(lo[r], hi[r], a, b, x[r * x_stride + i], x[r * x_stride + i + 1]);
    }
    if (i < k) {
      const __m512i a = widened_row(wt, n, i, j0);
      for (uint32_t r = 0; r < kRows; ++r)
        add_pair(lo[r], hi[r], a, _mm512_setzero_si512(), x[r * x_stride + i], 0);
    }
    for (uint32_t r = 0; r < kRows; ++r) {
      uint8_t* out = acc + r * acc_stride + uint64_t{4} * j0;
      __m512i sums[2] = {_mm512_permutex2var_epi32(lo[r], first, hi[r]),
                         _mm512_permutex2var_epi32(lo[r], second, hi[r])};
      for (uint32_t h = 0; h < 2; ++h) {
        void* at = out + 64 * h;
        if (!overwrite) sums[h] = _mm512_add_epi32(sums[h], _mm512_loadu_si512(at));
        _mm512_storeu_si512(at, sums[h]);
      }
    }
  }
}
NMP_AVX512BW void rows_times_block_int8_wide(const int8_t* x, uint64_t x_stride, uint32_t rows,
                                             const int8_t* wt, uint32_t k, uint32_t n, uint8_t* acc,
                                             uint64_t acc_stride, bool overwrite) {
  constexpr uint32_t kRows = 4;  // 8 sums in registers, each weight pair reused 4 times
  uint32_t r = 0;
  for (; r + kRows <= rows; r += kRows) {
    rows_times_block_int8_wide<kRows>(x + r * x_stride, x_stride, wt, k, n, acc + r * acc_stride,
                                      acc_stride, overwrite);
  }
  for (; r < rows; ++r) {
    rows_times_block_int8_wide<1>(x + r * x_stride, x_stride, wt, k, n, acc + r * acc_stride,
                                  acc_stride, overwrite);
  }
}
#endif

NMP_HOT void row_times_block_int8_narrow(const int8_t* __restrict x, const int8_t* __restrict wt,
                                         uint32_t k, uint32_t n, uint32_t* __restrict acc) {
  switch (n) {
    case 16:
      return row_times_block_body<16>(x, wt, k, n, acc);
    case 32:
      return row_times_block_body<32>(x, wt, k, n, acc);
    case 64:
      return row_times_block_body<64>(x, wt, k, n, acc);
    default:
      return row_times_block_body<0>(x, wt, k, n, acc);
  }
}

// Rows of activations times a k-major block, into their accumulators (added, or written over
// when `overwrite`); `row` is scratch for one row's sums.
void rows_times_block_int8(const int8_t* x, uint64_t x_stride, uint32_t rows, const int8_t* wt,
                           uint32_t k, uint32_t n, uint8_t* acc, uint64_t acc_stride,
                           bool overwrite, std::vector<uint32_t>& row) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  static const bool wide = __builtin_cpu_supports("avx512bw");
  if (wide && n % 32 == 0) {
    return rows_times_block_int8_wide(x, x_stride, rows, wt, k, n, acc, acc_stride, overwrite);
  }
#endif
  row.resize(n);
  for (uint32_t r = 0; r < rows; ++r) {
    uint8_t* out = acc + r * acc_stride;
    if (overwrite) {
      std::fill(row.begin(), row.end(), 0u);
    } else {
      std::memcpy(row.data(), out, 4 * size_t{n});
    }
    row_times_block_int8_narrow(x + r * x_stride, wt, k, n, row.data());
    std::memcpy(out, row.data(), 4 * size_t{n});
  }
}

// The exact dot product of values within kQuire8Bound (2^12) in magnitude: each product is
// within 2^24, so 64 of them sum within 2^30 in int32 (what pmaddwd computes), then in int64.
NMP_HOT int64_t dot_quire8(const int16_t* a, const int16_t* w, uint32_t n) {
  constexpr uint32_t kChunk = 64;
  int64_t total = 0;
  for (uint32_t i0 = 0; i0 < n; i0 += kChunk) {
    const uint32_t end = std::min(n, i0 + kChunk);
    int32_t sum = 0;
    for (uint32_t i = i0; i < end; ++i) sum += static_cast<int32_t>(a[i]) * w[i];
    total += sum;
  }
  return total;
}

// Ternary products by table lookup, for few activation rows (GEMV): for each group of g
// activations (g = 4 at 2 bits, 5 at 1.6 bits), a table of the partial sum sum_i t_i a_i for
// every packed byte value, so that a packed weight byte costs one lookup and one add. Exact:
// invalid codes decode as 0, as in the array.
class TernaryLookup {
 public:
  TernaryLookup(const int8_t* act, uint32_t k, arith::TernaryPacking packing) {
    const bool two_bit = packing == arith::TernaryPacking::kTwoBit;
    const uint32_t per = two_bit ? 4 : 5;
    // What each code adds, relative to code 0 (the weight -1): 2-bit codes 0..3 stand for
    // -1, 0, +1 and (invalid) 0; base-3 digits 0..2 for -1, 0, +1.
    const std::array<int16_t, 4> step =
        two_bit ? std::array<int16_t, 4>{0, 1, 2, 1} : std::array<int16_t, 4>{0, 1, 2, 0};
    const uint32_t radix = two_bit ? 4 : 3;
    groups_ = (k + per - 1) / per;
    table_.assign(size_t{groups_} * 256, 0);
    for (uint32_t g = 0; g < groups_; ++g) {
      int16_t* t = &table_[size_t{g} * 256];
      int16_t all_minus = 0;
      for (uint32_t i = 0; i < per && g * per + i < k; ++i) all_minus -= act[g * per + i];
      t[0] = all_minus;
      // Digit by digit: the codes below radix^i are filled; each digit d adds step[d] * a_i.
      uint32_t filled = 1;
      for (uint32_t i = 0; i < per; ++i, filled *= radix) {
        const int16_t a = g * per + i < k ? act[g * per + i] : 0;  // past k: contributes 0
        for (uint32_t d = 1; d < radix; ++d) {
          const auto add = static_cast<int16_t>(step[d] * a);
          for (uint32_t c = 0; c < filled; ++c)
            t[c + d * filled] = static_cast<int16_t>(t[c] + add);
        }
      }
      // Base-3 bytes 243..255 are invalid codes: all five weights decode as 0 (table stays 0).
    }
  }

  // sum_k t_k a_k over a packed row of the block's k range.
  NMP_HOT int32_t dot(const uint8_t* packed) const {
    int32_t sum = 0;
    for (uint32_t g = 0; g < groups_; ++g) sum += table_[size_t{g} * 256 + packed[g]];
    return sum;
  }

 private:
  uint32_t groups_ = 0;
  std::vector<int16_t> table_;
};

// Rows of activations for which the lookup path is used: each table costs as much to build as
// 64 outputs' worth of MACs, and is reused across every output block of the gemm.
constexpr uint32_t kLookupMaxRows = 8;

// Zeros and invalid codes among a block's packed ternary weights.
arith::TritCounts count_block_trits(const uint8_t* wgt, const WeightBlock& b,
                                    arith::TernaryPacking packing) {
  const uint64_t per_byte = packing == arith::TernaryPacking::kTwoBit ? 4 : 5;
  if (b.row_length() == b.row_bytes * per_byte) {
    // Rows end on byte boundaries, so the block is one run of codes: count it in one pass.
    return arith::count_trits(wgt + b.offset, uint64_t{b.rows()} * b.row_length(), packing);
  }
  arith::TritCounts counts;
  for (uint32_t r = 0; r < b.rows(); ++r) {
    const arith::TritCounts c =
        arith::count_trits(wgt + b.offset + r * b.row_bytes, b.row_length(), packing);
    counts.zeros += c.zeros;
    counts.invalid_codes += c.invalid_codes;
  }
  return counts;
}

// Ternary weights of a block as int8 in `order`; counts zeros and invalid codes.
arith::TritCounts decode_ternary(const uint8_t* wgt, const WeightBlock& b,
                                 arith::TernaryPacking packing, std::vector<int8_t>& out,
                                 std::vector<int8_t>& row, Decoded order) {
  arith::TritCounts counts;
  out.resize(static_cast<size_t>(b.n_count) * b.k_count);
  row.resize(b.row_length());
  for (uint32_t r = 0; r < b.rows(); ++r) {
    const arith::TritCounts c =
        arith::unpack_trits(wgt + b.offset + r * b.row_bytes, b.row_length(), packing, row.data());
    counts.zeros += c.zeros;
    counts.invalid_codes += c.invalid_codes;
    for (uint32_t i = 0; i < b.row_length(); ++i) out[decoded_index(b, r, i, order)] = row[i];
  }
  return counts;
}

void gemm_int(const GemmArgs& a, const std::vector<WeightBlock>& blocks,
              const std::vector<Fold>& folds, GemmCounts& counts) {
  const bool ternary = a.layout.pe == PeKind::kTernaryInt8;
  // Few rows of activations against n-major ternary blocks: multiply by table lookup, with one
  // table per (row, block start k) built once for the whole gemm.
  uint32_t rows = 0;
  for (const Fold& f : folds) rows = std::max(rows, f.m0 + f.m_count);
  const bool lookup =
      ternary && rows <= kLookupMaxRows && !blocks.empty() && blocks.front().n_major;
  std::vector<std::vector<std::pair<uint32_t, TernaryLookup>>> tables(lookup ? rows : 0);
  auto table_for = [&](uint32_t m, const WeightBlock& b) -> const TernaryLookup& {
    for (const auto& [k0, t] : tables[m]) {
      if (k0 == b.k0) return t;
    }
    const auto* x = reinterpret_cast<const int8_t*>(a.act + m * a.act_stride + b.k0);
    tables[m].emplace_back(b.k0, TernaryLookup(x, b.k_count, a.layout.packing));
    return tables[m].back().second;
  };
  std::vector<int8_t> wt, row;  // the block k-major
  std::vector<uint32_t> acc_row;
  for (const Fold& f : folds) {
    const WeightBlock& b = blocks[f.block];
    if (ternary) {
      const arith::TritCounts c =
          !lookup ? decode_ternary(a.wgt, b, a.layout.packing, wt, row, Decoded::kKMajor)
                  : count_block_trits(a.wgt, b, a.layout.packing);
      counts.zero_weight_macs += c.zeros * f.m_count;
      counts.invalid_codes += c.invalid_codes;
    } else {
      decode_block<int8_t>(
          a.wgt, b, 1, wt, [](const uint8_t* p) { return static_cast<int8_t>(*p); },
          Decoded::kKMajor);
    }
    if (lookup) {
      const bool overwrite = !a.accumulate && b.k0 == 0;
      for (uint32_t m = f.m0; m < f.m0 + f.m_count; ++m) {
        const TernaryLookup& t = table_for(m, b);
        uint8_t* out = a.acc + m * a.acc_stride + uint64_t{4} * b.n0;
        for (uint32_t n = 0; n < b.n_count; ++n) {
          const auto s = static_cast<uint32_t>(t.dot(a.wgt + b.offset + n * b.row_bytes));
          const uint32_t before = overwrite ? 0 : load<uint32_t>(out + size_t{4} * n);
          store<uint32_t>(out + size_t{4} * n, before + s);  // unsigned: wraps like the adder
        }
      }
      continue;
    }
    const bool overwrite = !a.accumulate && b.k0 == 0;
    rows_times_block_int8(reinterpret_cast<const int8_t*>(a.act + f.m0 * a.act_stride + b.k0),
                          a.act_stride, f.m_count, wt.data(), b.k_count, b.n_count,
                          a.acc + f.m0 * a.acc_stride + uint64_t{4} * b.n0, a.acc_stride, overwrite,
                          acc_row);
  }
}

// A float element's value: by table for the 8- and 16-bit kinds.
float decode_float(const float* table, uint32_t bytes, const uint8_t* p) {
  if (bytes == 1) return table[*p];
  if (bytes == 2) return table[load<uint16_t>(p)];
  return load<float>(p);
}

void gemm_float(const GemmArgs& a, const std::vector<WeightBlock>& blocks,
                const std::vector<Fold>& folds) {
  const PeKind kind = a.layout.pe;
  const uint32_t eb = pe_traits(kind).act_bytes;
  const float* table = decode_table(kind).floats.data();
  const bool tree = a.layout.dataflow == Dataflow::kAdderTree;
  std::vector<float> w, x, products;
  for (const Fold& f : folds) {
    const WeightBlock& b = blocks[f.block];
    decode_block<float>(a.wgt, b, eb, w,
                        [table, eb](const uint8_t* p) { return decode_float(table, eb, p); });
    const bool overwrite = !a.accumulate && b.k0 == 0;
    x.resize(b.k_count);
    products.resize(b.k_count);
    for (uint32_t m = f.m0; m < f.m0 + f.m_count; ++m) {
      const uint8_t* row = a.act + m * a.act_stride + uint64_t{b.k0} * eb;
      for (uint32_t k = 0; k < b.k_count; ++k)
        x[k] = decode_float(table, eb, row + uint64_t{k} * eb);
      uint8_t* out = a.acc + m * a.acc_stride + uint64_t{4} * b.n0;
      for (uint32_t n = 0; n < b.n_count; ++n) {
        const float* wn = &w[static_cast<size_t>(n) * b.k_count];
        float sum = 0.0f;
        if (tree) {
          for (uint32_t k = 0; k < b.k_count; ++k) products[k] = x[k] * wn[k];
          for (uint32_t len = b.k_count; len > 1; len = (len + 1) / 2) {
            for (uint32_t i = 0; i + 1 < len; i += 2)
              products[i / 2] = products[i] + products[i + 1];
            if (len & 1) products[len / 2] = products[len - 1];
          }
          sum = products[0];
        } else {
          for (uint32_t k = 0; k < b.k_count; ++k) sum = sum + x[k] * wn[k];
        }
        const float result = overwrite ? sum : load<float>(out + size_t{4} * n) + sum;
        store(out + size_t{4} * n, result);
      }
    }
  }
}

// Native accumulation (pe.hpp): every product and every add rounded to the kind's format. The
// exact product or sum of two such values fits a double or is rounded there harmlessly (a
// double keeps 53 bits; these formats at most 11), so one rounding of the double is exact.
void gemm_float_native(const GemmArgs& a, const std::vector<WeightBlock>& blocks,
                       const std::vector<Fold>& folds) {
  const PeKind kind = a.layout.pe;
  const arith::NumberFormat& fmt = activation_format(kind);
  const uint32_t eb = pe_traits(kind).act_bytes;
  const bool tree = a.layout.dataflow == Dataflow::kAdderTree;
  auto round = [&fmt](double v) {
    return arith::to_double(fmt.decode(fmt.encode(arith::from_double(v))));
  };
  auto value = [&fmt, eb](const uint8_t* p) {
    uint32_t pattern = 0;
    std::memcpy(&pattern, p, eb);
    return arith::to_double(fmt.decode(pattern));
  };
  std::vector<double> w, x, products;
  for (const Fold& f : folds) {
    const WeightBlock& b = blocks[f.block];
    decode_block<double>(a.wgt, b, eb, w, value);
    const bool overwrite = !a.accumulate && b.k0 == 0;
    x.resize(b.k_count);
    products.resize(b.k_count);
    for (uint32_t m = f.m0; m < f.m0 + f.m_count; ++m) {
      const uint8_t* row = a.act + m * a.act_stride + uint64_t{b.k0} * eb;
      for (uint32_t k = 0; k < b.k_count; ++k) x[k] = value(row + uint64_t{k} * eb);
      uint8_t* out = a.acc + m * a.acc_stride + uint64_t{eb} * b.n0;
      for (uint32_t n = 0; n < b.n_count; ++n) {
        const double* wn = &w[static_cast<size_t>(n) * b.k_count];
        for (uint32_t k = 0; k < b.k_count; ++k) products[k] = round(x[k] * wn[k]);
        double sum = 0.0;
        if (tree) {
          for (uint32_t len = b.k_count; len > 1; len = (len + 1) / 2) {
            for (uint32_t i = 0; i + 1 < len; i += 2)
              products[i / 2] = round(products[i] + products[i + 1]);
            if (len & 1) products[len / 2] = products[len - 1];
          }
          sum = products[0];
        } else {
          for (uint32_t k = 0; k < b.k_count; ++k) sum = round(sum + products[k]);
        }
        const double result = overwrite ? sum : round(value(out + uint64_t{eb} * n) + sum);
        const uint32_t pattern = fmt.encode(arith::from_double(result));
        std::memcpy(out + uint64_t{eb} * n, &pattern, eb);
      }
    }
  }
}

// Quire kinds of 8-bit elements (posit<8,0>), whose values are within kQuire8Bound units,
// summed exactly in an int64 quire.
void gemm_quire8(const GemmArgs& a, const std::vector<WeightBlock>& blocks,
                 const std::vector<Fold>& folds) {
  const int64_t* t = decode_table(a.layout.pe).quire_units.data();
  std::vector<int16_t> w, x;
  std::vector<uint8_t> w_nar, row_has_nar;
  for (const Fold& f : folds) {
    const WeightBlock& b = blocks[f.block];
    decode_block<int16_t>(a.wgt, b, 1, w,
                          [t](const uint8_t* p) { return static_cast<int16_t>(t[*p]); });
    decode_block<uint8_t>(a.wgt, b, 1, w_nar, [](const uint8_t* p) { return uint8_t{*p == 0x80}; });
    // Whether each output's weights hold a NaR, once per block rather than per product.
    row_has_nar.assign(b.n_count, 0);
    for (uint32_t n = 0; n < b.n_count; ++n) {
      for (uint32_t k = 0; k < b.k_count; ++k)
        row_has_nar[n] |= w_nar[static_cast<size_t>(n) * b.k_count + k];
    }
    const bool overwrite = !a.accumulate && b.k0 == 0;
    x.resize(b.k_count);
    for (uint32_t m = f.m0; m < f.m0 + f.m_count; ++m) {
      const uint8_t* row = a.act + m * a.act_stride + b.k0;
      bool row_nar = false;
      for (uint32_t k = 0; k < b.k_count; ++k) {
        x[k] = static_cast<int16_t>(t[row[k]]);
        row_nar |= row[k] == 0x80;
      }
      uint8_t* out = a.acc + m * a.acc_stride + uint64_t{8} * b.n0;
      for (uint32_t n = 0; n < b.n_count; ++n) {
        const bool nar = row_nar || row_has_nar[n] != 0;
        // In the quire's units: products of the table's.
        const int64_t sum = dot_quire8(x.data(), &w[static_cast<size_t>(n) * b.k_count], b.k_count);
        const int64_t before = overwrite ? 0 : load<int64_t>(out + size_t{8} * n);
        store<int64_t>(out + size_t{8} * n,
                       nar || before == kQuire64NaR ? kQuire64NaR : before + sum);
      }
    }
  }
}

// Quire kinds of 16-bit elements, summed in an int128 quire whose overflow is detected.
void gemm_quire16(const GemmArgs& a, const std::vector<WeightBlock>& blocks,
                  const std::vector<Fold>& folds, GemmCounts& counts) {
  const int64_t* t = decode_table(a.layout.pe).quire_units.data();
  std::vector<int64_t> w, x;
  std::vector<uint8_t> w_nar;
  for (const Fold& f : folds) {
    const WeightBlock& b = blocks[f.block];
    decode_block<int64_t>(a.wgt, b, 2, w, [t](const uint8_t* p) { return t[load<uint16_t>(p)]; });
    decode_block<uint8_t>(a.wgt, b, 2, w_nar,
                          [](const uint8_t* p) { return uint8_t{load<uint16_t>(p) == 0x8000}; });
    const bool overwrite = !a.accumulate && b.k0 == 0;
    x.resize(b.k_count);
    for (uint32_t m = f.m0; m < f.m0 + f.m_count; ++m) {
      const uint8_t* row = a.act + m * a.act_stride + uint64_t{2} * b.k0;
      bool row_nar = false;
      for (uint32_t k = 0; k < b.k_count; ++k) {
        const uint16_t p = load<uint16_t>(row + size_t{2} * k);
        x[k] = t[p];
        row_nar |= p == 0x8000;
      }
      uint8_t* out = a.acc + m * a.acc_stride + uint64_t{16} * b.n0;
      for (uint32_t n = 0; n < b.n_count; ++n) {
        const int64_t* wn = &w[static_cast<size_t>(n) * b.k_count];
        bool nar = row_nar;
        i128 sum = overwrite ? 0 : load<i128>(out + size_t{16} * n);
        nar |= sum == kQuire128NaR;
        for (uint32_t k = 0; k < b.k_count && !nar; ++k) {
          nar |= w_nar[static_cast<size_t>(n) * b.k_count + k];
          if (__builtin_add_overflow(sum, static_cast<i128>(x[k]) * wn[k], &sum)) {
            ++counts.quire_overflows;
            nar = true;  // an overflowed quire holds no real number
          }
        }
        store<i128>(out + size_t{16} * n, nar ? kQuire128NaR : sum);
      }
    }
  }
}

// Fixed kinds: raw two's-complement operands (Element: int8_t or int16_t), exact products
// summed into an Acc register (int32_t or int64_t) that wraps like an integer adder.
template <class Element, class Acc>
void gemm_fixed(const GemmArgs& a, const std::vector<WeightBlock>& blocks,
                const std::vector<Fold>& folds) {
  using UAcc = std::make_unsigned_t<Acc>;
  constexpr uint32_t eb = sizeof(Element);
  std::vector<Acc> w, x;
  const auto raw = [](const uint8_t* p) { return static_cast<Acc>(load<Element>(p)); };
  for (const Fold& f : folds) {
    const WeightBlock& b = blocks[f.block];
    decode_block<Acc>(a.wgt, b, eb, w, raw);
    const bool overwrite = !a.accumulate && b.k0 == 0;
    x.resize(b.k_count);
    for (uint32_t m = f.m0; m < f.m0 + f.m_count; ++m) {
      const uint8_t* row = a.act + m * a.act_stride + uint64_t{b.k0} * eb;
      for (uint32_t k = 0; k < b.k_count; ++k) x[k] = raw(row + uint64_t{k} * eb);
      uint8_t* out = a.acc + m * a.acc_stride + uint64_t{sizeof(Acc)} * b.n0;
      for (uint32_t n = 0; n < b.n_count; ++n) {
        const Acc* wn = &w[static_cast<size_t>(n) * b.k_count];
        UAcc sum = overwrite ? 0 : load<UAcc>(out + sizeof(Acc) * n);
        for (uint32_t k = 0; k < b.k_count; ++k) sum += static_cast<UAcc>(x[k] * wn[k]);
        store<UAcc>(out + sizeof(Acc) * n, sum);
      }
    }
  }
}

arith::Unpacked from_int128(i128 v, int32_t lsb_exp) {
  const bool neg = v < 0;
  const auto mag = static_cast<unsigned __int128>(neg ? -v : v);
  if ((mag >> 64) == 0)
    return arith::Unpacked::from_integer(neg, static_cast<uint64_t>(mag), lsb_exp);
  const int lead = __builtin_clzll(static_cast<uint64_t>(mag >> 64));
  const unsigned __int128 top = mag << lead;
  arith::Unpacked u;
  u.kind = arith::Unpacked::Kind::kFinite;
  u.neg = neg;
  u.sig = static_cast<uint64_t>(top >> 64);
  u.sticky = static_cast<uint64_t>(top) != 0;
  u.scale = lsb_exp + 127 - lead;
  return u;
}

}  // namespace

FoldOrder fold_order(uint32_t m, const WeightLayout& layout) {
  switch (layout.dataflow) {
    case Dataflow::kAdderTree:
    case Dataflow::kWeightStationary:
      break;
    case Dataflow::kOutputStationary:
      return {layout.array_rows, true};
    case Dataflow::kInputStationary:
      return {layout.array_cols, false};
  }
  return {m, true};
}

std::vector<Fold> gemm_folds(uint32_t m, const std::vector<WeightBlock>& blocks,
                             const WeightLayout& layout) {
  const FoldOrder order = fold_order(m, layout);
  std::vector<Fold> folds;
  folds.reserve(blocks.size() * ((m + order.m_tile - 1) / order.m_tile));
  visit_folds(
      m, order,
      [&](const auto& each_block) {
        for (const WeightBlock& b : blocks) each_block(b);
      },
      [&](const Fold& f, const WeightBlock& /*block*/) { folds.push_back(f); });
  return folds;
}

namespace {

// The kernel that computes a kind's products, from its table row: the accumulator class and the
// element and accumulator widths.
enum class GemmKernel { kInteger, kFloat, kQuire8, kQuire16, kFixed8, kFixed16, kNone };

constexpr GemmKernel gemm_kernel(const PeKindInfo& k) {
  const auto widths = [&k](uint32_t element, uint32_t accumulator) {
    return k.act_bytes == element && k.acc_bytes == accumulator;
  };
  switch (k.accumulator) {
    case Accumulator::kInteger:
      return widths(1, 4) ? GemmKernel::kInteger : GemmKernel::kNone;
    case Accumulator::kFloat:
      return k.acc_bytes == 4 ? GemmKernel::kFloat : GemmKernel::kNone;
    case Accumulator::kQuire:
      return widths(1, 8)    ? GemmKernel::kQuire8
             : widths(2, 16) ? GemmKernel::kQuire16
                             : GemmKernel::kNone;
    case Accumulator::kFixed:
      return widths(1, 4)   ? GemmKernel::kFixed8
             : widths(2, 8) ? GemmKernel::kFixed16
                            : GemmKernel::kNone;
  }
  return GemmKernel::kNone;
}

constexpr bool every_kind_has_a_kernel() {
  for (const PeKindInfo& k : kPeKinds) {
    if (gemm_kernel(k) == GemmKernel::kNone) return false;
  }
  return true;
}
static_assert(every_kind_has_a_kernel(), "a kPeKinds row whose widths no gemm kernel serves");

}  // namespace

GemmCounts gemm(const GemmArgs& args, const std::vector<WeightBlock>& blocks,
                const std::vector<Fold>& folds, bool values) {
  GemmCounts counts;
  const GemmKernel kernel = gemm_kernel(pe_info(args.layout.pe));
  // Timing only: the SRAMs hold no values to compute or count (a run estimates the ternary
  // zeros from the weights' distribution instead).
  if (!values) return counts;
  switch (kernel) {
    case GemmKernel::kInteger:
      gemm_int(args, blocks, folds, counts);
      break;
    case GemmKernel::kFloat:
      if (args.layout.accumulation == FloatAccumulation::kNative) {
        gemm_float_native(args, blocks, folds);
      } else {
        gemm_float(args, blocks, folds);
      }
      break;
    case GemmKernel::kQuire8:
      gemm_quire8(args, blocks, folds);
      break;
    case GemmKernel::kQuire16:
      gemm_quire16(args, blocks, folds, counts);
      break;
    case GemmKernel::kFixed8:
      gemm_fixed<int8_t, int32_t>(args, blocks, folds);
      break;
    case GemmKernel::kFixed16:
      gemm_fixed<int16_t, int64_t>(args, blocks, folds);
      break;
    case GemmKernel::kNone:
      break;
  }
  return counts;
}

uint32_t requantize_row(const int32_t* acc, uint32_t n, int8_t* out) {
  int64_t absmax = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const int64_t v = acc[i] < 0 ? -static_cast<int64_t>(acc[i]) : acc[i];
    if (v > absmax) absmax = v;
  }
  if (absmax == 0) {
    std::memset(out, 0, n);
    return 0;
  }
  constexpr int kReciprocalBits = 24;  // bits of r below 127's: s = floor(log2 a) + 24
  const int shift = 63 - __builtin_clzll(static_cast<uint64_t>(absmax)) + kReciprocalBits;
  const int64_t reciprocal = (int64_t{127} << shift) / absmax;
  const int64_t half = int64_t{1} << (shift - 1);
  for (uint32_t i = 0; i < n; ++i) {
    // >> on a negative int64 is an arithmetic shift (floor) in C++20 and on every GCC target.
    out[i] = static_cast<int8_t>((acc[i] * reciprocal + half) >> shift);
  }
  return static_cast<uint32_t>(absmax);
}

arith::Unpacked accumulator_value(PeKind kind, FloatAccumulation accumulation, const uint8_t* acc) {
  if (pe_traits(kind, accumulation).native_acc) {
    uint32_t p = 0;
    std::memcpy(&p, acc, pe_traits(kind).act_bytes);
    return activation_format(kind).decode(p);
  }
  const PeKindInfo& info = pe_info(kind);
  if (info.accumulator == Accumulator::kFloat) return arith::from_double(load<float>(acc));
  // The rest are two's-complement integers of 2^acc_lsb_exp units, 4, 8 or 16 bytes wide.
  i128 v = 0;
  bool nar = false;
  if (info.acc_bytes == 4) {
    v = load<int32_t>(acc);
  } else if (info.acc_bytes == 8) {
    v = load<int64_t>(acc);
    nar = v == kQuire64NaR;
  } else {
    v = load<i128>(acc);
    nar = v == kQuire128NaR;
  }
  if (nar && info.accumulator == Accumulator::kQuire) return arith::Unpacked::nan();
  return from_int128(v, info.acc_lsb_exp);
}

const arith::NumberFormat& activation_format(PeKind kind) {
  static const std::array<std::unique_ptr<arith::NumberFormat>, kNumPeKinds> formats = [] {
    std::array<std::unique_ptr<arith::NumberFormat>, kNumPeKinds> made;
    for (const PeKindInfo& info : kPeKinds) {
      made[static_cast<size_t>(info.kind)] = arith::make_format(info.element_format);
    }
    return made;
  }();
  return *formats[static_cast<size_t>(kind)];
}

uint32_t convert_accumulator(PeKind kind, FloatAccumulation accumulation, const uint8_t* acc) {
  if (kind == PeKind::kTernaryInt8 || kind == PeKind::kInt8Int8) {
    return 0;  // integer accumulators are requantized, not converted
  }
  return activation_format(kind).encode(accumulator_value(kind, accumulation, acc));
}

}  // namespace nmp::hw
