#include "workloads/reference.hpp"

#include "hw_models/kernels.hpp"

#include <cmath>
#include <limits>

#include "hw_models/arith/posit.hpp"

namespace nmp::workloads {
namespace {

// floor(a / b) for b > 0, written out rather than as a shift.
int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

void requantize(const std::vector<int64_t>& acc, LayerReference& ref, size_t row, size_t n) {
  int64_t a = 0;
  for (int64_t v : acc) a = std::max(a, v < 0 ? -v : v);
  ref.absmax[row] = static_cast<uint32_t>(a);
  for (size_t c = 0; c < n; ++c) {
    int64_t q = 0;
    if (a != 0) {
      int64_t e = 0;  // floor(log2 a), by repeated halving
      for (int64_t v = a; v > 1; v /= 2) ++e;
      const int64_t two_s = int64_t{1} << (e + 24);
      const int64_t reciprocal = floor_div(127 * two_s, a);
      q = floor_div(acc[c] * reciprocal + two_s / 2, two_s);
    }
    ref.out[row * n + c] = static_cast<uint8_t>(static_cast<int8_t>(q));
  }
}

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
  auto magnitude = [&](uint32_t v) {
    arith::Unpacked u = vm.value(v);
    u.neg = false;
    return vm.round(u);
  };
  uint32_t a = magnitude(x[0]);
  for (size_t i = 1; i < x.size(); ++i) a = vm.max(a, magnitude(x[i]));
  const uint32_t to_int = vm.mul(vm.apply(arith::VectorFunction::kReciprocal, a), c127);
  const arith::FixedFormat int8{8, 0};
  for (size_t i = 0; i < x.size(); ++i) {
    const uint32_t p = int8.encode(vm.value(vm.mul(x[i], to_int)));
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
    const int64_t v = wrapped;
    return arith::Unpacked::from_integer(v < 0, static_cast<uint64_t>(v < 0 ? -v : v), 0);
  }
  if (kind == hw::PeKind::kPosit8 || kind == hw::PeKind::kPosit16) {
    arith::Quire q(kind == hw::PeKind::kPosit8 ? arith::PositFormat{8, 0}
                                               : arith::PositFormat{16, 1});
    for (uint32_t i = 0; i < k; ++i) q.fma(x[i], w[i]);
    return q.value();
  }
  if (kind == hw::PeKind::kFixed2_6 || kind == hw::PeKind::kFixed2_14) {
    // Exact products in units of 2^lsb, summed modulo the accumulator's width.
    const int lsb =
        kind == hw::PeKind::kFixed2_6 ? hw::kFixed2_6AccLsbExp : hw::kFixed2_14AccLsbExp;
    const int acc_bits = 8 * static_cast<int>(mac.traits().acc_bytes);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < k; ++i) {
      const double product = element_value(kind, x[i]) * element_value(kind, w[i]);
      sum += static_cast<uint64_t>(static_cast<int64_t>(std::ldexp(product, -lsb)));
    }
    const int64_t v = acc_bits == 64 ? static_cast<int64_t>(sum)
                                     : static_cast<int32_t>(static_cast<uint32_t>(sum));
    const uint64_t magnitude = v < 0 ? uint64_t{0} - static_cast<uint64_t>(v) : uint64_t(v);
    return arith::Unpacked::from_integer(v < 0, magnitude, lsb);
  }
  std::vector<double> xv(k), wv(k);
  for (uint32_t i = 0; i < k; ++i) {
    xv[i] = element_value(kind, x[i]);
    wv[i] = element_value(kind, w[i]);
  }
  const double acc = float_accumulator(kind, xv, wv, k, k_tile, mac);
  return arith::from_double(acc);
}

std::vector<double> output_scales(const std::vector<uint32_t>& absmax, double weight_scale,
                                  const std::vector<double>& input_scale) {
  std::vector<double> s(absmax.size());
  for (size_t r = 0; r < absmax.size(); ++r) {
    s[r] = static_cast<double>(absmax[r]) / 127.0 * weight_scale * input_scale[r];
  }
  return s;
}

std::vector<float> output_values(hw::PeKind kind, const std::vector<uint32_t>& out,
                                 const std::vector<double>& row_scale, uint32_t cols) {
  std::vector<float> y(out.size());
  for (size_t i = 0; i < out.size(); ++i) {
    y[i] = hw::is_integer(kind)
               ? static_cast<float>(static_cast<int8_t>(out[i]) * row_scale[i / cols])
               : static_cast<float>(element_value(kind, out[i]));
  }
  return y;
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

std::vector<LayerReference> reference_outputs(const ModelSpec& model, const ModelData& data,
                                              const std::vector<uint32_t>& k_tiles,
                                              const hw::MacArrayParams& mac) {
  const uint32_t m = model.tokens;
  const hw::PeKind kind = model.pe();
  std::vector<LayerReference> refs;
  std::vector<uint32_t> x = data.input_encoded.patterns;
  std::vector<double> x_scale(data.input_encoded.scale.begin(), data.input_encoded.scale.end());
  std::vector<float> x_fp = data.input;
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const LayerSpec& spec = model.layers[l];
    const LayerData& ld = data.layers[l];
    const uint32_t k = spec.in_features, n = spec.out_features;
    const bool bitlinear = spec.kind == LayerKind::kBitLinear;
    LayerReference ref;
    ref.out.resize(size_t{m} * n);
    ref.fp32.resize(size_t{m} * n);
    // FP32 reference.
    for (uint32_t r = 0; r < m; ++r) {
      for (uint32_t c = 0; c < n; ++c) {
        double s = 0.0;
        for (uint32_t i = 0; i < k; ++i) {
          const double w = bitlinear ? static_cast<double>(ld.ternary.trits[size_t{c} * k + i]) *
                                           ld.ternary.gamma[0]
                                     : double{ld.weights[size_t{c} * k + i]};
          s += w * x_fp[size_t{r} * k + i];
        }
        ref.fp32[size_t{r} * n + c] = static_cast<float>(s);
      }
    }
    // The exact model of the hardware.
    auto weight = [&](uint32_t c, uint32_t i) {
      return weight_pattern(spec, ld, size_t{c} * k + i);
    };
    if (hw::is_integer(kind)) {
      ref.absmax.resize(m);
      std::vector<int64_t> acc(n);
      for (uint32_t r = 0; r < m; ++r) {
        for (uint32_t c = 0; c < n; ++c) {
          int64_t sum = 0;
          for (uint32_t i = 0; i < k; ++i) {
            sum += int64_t{static_cast<int8_t>(x[size_t{r} * k + i])} *
                   int64_t{static_cast<int8_t>(weight(c, i))};
          }
          acc[c] = static_cast<int32_t>(static_cast<uint32_t>(sum));  // int32 wrap-around
        }
        requantize(acc, ref, r, n);
      }
      ref.out_scale = output_scales(ref.absmax, weight_scale(spec, ld), x_scale);
      x_scale = ref.out_scale;
    } else if (kind == hw::PeKind::kPosit8 || kind == hw::PeKind::kPosit16) {
      const arith::PositFormat pf =
          kind == hw::PeKind::kPosit8 ? arith::PositFormat{8, 0} : arith::PositFormat{16, 1};
      for (uint32_t r = 0; r < m; ++r) {
        for (uint32_t c = 0; c < n; ++c) {
          arith::Quire q(pf);
          for (uint32_t i = 0; i < k; ++i) q.fma(x[size_t{r} * k + i], weight(c, i));
          ref.out[size_t{r} * n + c] = q.round();
        }
      }
    } else {
      std::vector<uint32_t> w_row(k);
      for (uint32_t r = 0; r < m; ++r) {
        for (uint32_t c = 0; c < n; ++c) {
          for (uint32_t i = 0; i < k; ++i) w_row[i] = weight(c, i);
          const arith::Unpacked acc =
              reference_accumulator(kind, &x[size_t{r} * k], w_row.data(), k, k_tiles[l], mac);
          ref.out[size_t{r} * n + c] = hw::activation_format(kind).encode(acc);
        }
      }
    }
    x = ref.out;
    x_fp = ref.fp32;
    refs.push_back(std::move(ref));
  }
  return refs;
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
