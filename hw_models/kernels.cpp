#include "hw_models/kernels.hpp"

#include <cstring>

namespace nmp::hw {
namespace {

int32_t dot_int8(const int8_t* a, const int8_t* w, uint32_t n) {
  int32_t sum = 0;
  for (uint32_t i = 0; i < n; ++i) sum += static_cast<int32_t>(a[i]) * static_cast<int32_t>(w[i]);
  return sum;
}

constexpr int kReciprocalBits = 24;  // bits of r below 127's: s = floor(log2 a) + 24

}  // namespace

arith::TritCounts ternary_gemm(const TernaryGemmArgs& args, const std::vector<FoldTile>& folds,
                               arith::TernaryPacking packing) {
  arith::TritCounts total;
  std::vector<int8_t> tile;
  std::vector<uint32_t> acc_row;
  for (const FoldTile& f : folds) {
    tile.resize(static_cast<size_t>(f.cols) * f.rows);
    for (uint32_t c = 0; c < f.cols; ++c) {
      const arith::TritCounts t = arith::unpack_trits(args.wgt + f.offset + c * f.row_bytes,
                                                      f.rows, packing, &tile[c * f.rows]);
      total.zeros += t.zeros;
      total.invalid_codes += t.invalid_codes;
    }
    const bool overwrite = !args.accumulate && f.k0 == 0;
    acc_row.resize(f.cols);
    for (uint32_t r = 0; r < args.m; ++r) {
      const auto* a = reinterpret_cast<const int8_t*>(args.act + r * args.act_stride + f.k0);
      uint8_t* acc_bytes = args.acc + r * args.acc_stride + uint64_t{f.n0} * 4;
      if (!overwrite) std::memcpy(acc_row.data(), acc_bytes, f.cols * 4);
      for (uint32_t c = 0; c < f.cols; ++c) {
        const auto sum = static_cast<uint32_t>(dot_int8(a, &tile[c * f.rows], f.rows));
        acc_row[c] = overwrite ? sum : acc_row[c] + sum;  // unsigned: wraps like the adder
      }
      std::memcpy(acc_bytes, acc_row.data(), f.cols * 4);
    }
  }
  return total;
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
  const int shift = 63 - __builtin_clzll(static_cast<uint64_t>(absmax)) + kReciprocalBits;
  const int64_t reciprocal = (int64_t{127} << shift) / absmax;
  const int64_t half = int64_t{1} << (shift - 1);
  for (uint32_t i = 0; i < n; ++i) {
    // >> on a negative int64 is an arithmetic shift (floor) in C++20 and on every GCC target.
    out[i] = static_cast<int8_t>((acc[i] * reciprocal + half) >> shift);
  }
  return static_cast<uint32_t>(absmax);
}

}  // namespace nmp::hw
