#include "workloads/reference.hpp"

#include <cmath>
#include <limits>

namespace nmp::workloads {
namespace {

// floor(a / b) for b > 0, written out rather than as a shift.
int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

}  // namespace

std::vector<double> output_scales(const std::vector<uint32_t>& absmax, float gamma,
                                  const std::vector<double>& input_scale) {
  std::vector<double> s(absmax.size());
  for (size_t r = 0; r < absmax.size(); ++r) {
    s[r] = static_cast<double>(absmax[r]) / 127.0 * gamma * input_scale[r];
  }
  return s;
}

std::vector<float> dequantize(const std::vector<int8_t>& q, const std::vector<double>& row_scale,
                              uint32_t cols) {
  std::vector<float> y(q.size());
  for (size_t i = 0; i < q.size(); ++i) y[i] = static_cast<float>(q[i] * row_scale[i / cols]);
  return y;
}

std::vector<LayerReference> reference_outputs(const ModelSpec& model, const ModelData& data) {
  const uint32_t m = model.tokens;
  std::vector<LayerReference> refs;
  std::vector<int8_t> x_q(data.input_q.values.begin(), data.input_q.values.end());
  std::vector<double> x_scale(m);
  for (uint32_t r = 0; r < m; ++r) x_scale[r] = data.input_q.absmax[r] / 127.0;
  std::vector<float> x_fp = data.input;
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const uint32_t k = model.layers[l].in_features, n = model.layers[l].out_features;
    const std::vector<int8_t>& w = data.layers[l].ternary.trits;
    const float gamma = data.layers[l].ternary.gamma[0];
    LayerReference ref;
    ref.q.resize(size_t{m} * n);
    ref.absmax.resize(m);
    ref.fp32.resize(size_t{m} * n);
    std::vector<int64_t> acc(n);
    for (uint32_t r = 0; r < m; ++r) {
      for (uint32_t c = 0; c < n; ++c) {
        int64_t sum = 0;
        double fsum = 0.0;
        for (uint32_t i = 0; i < k; ++i) {
          sum += int64_t{x_q[size_t{r} * k + i]} * w[size_t{c} * k + i];
          fsum += static_cast<double>(w[size_t{c} * k + i]) * gamma * x_fp[size_t{r} * k + i];
        }
        acc[c] = static_cast<int32_t>(static_cast<uint32_t>(sum));  // int32 wrap-around
        ref.fp32[size_t{r} * n + c] = static_cast<float>(fsum);
      }
      int64_t a = 0;
      for (int64_t v : acc) a = std::max(a, v < 0 ? -v : v);
      ref.absmax[r] = static_cast<uint32_t>(a);
      for (uint32_t c = 0; c < n; ++c) {
        int64_t q = 0;
        if (a != 0) {
          int64_t e = 0;  // floor(log2 a), by repeated halving
          for (int64_t v = a; v > 1; v /= 2) ++e;
          const int64_t two_s = int64_t{1} << (e + 24);
          const int64_t reciprocal = floor_div(127 * two_s, a);
          q = floor_div(acc[c] * reciprocal + two_s / 2, two_s);
        }
        ref.q[size_t{r} * n + c] = static_cast<int8_t>(q);
      }
    }
    ref.out_scale = output_scales(ref.absmax, gamma, x_scale);
    x_q = ref.q;
    x_scale = ref.out_scale;
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
  e.sqnr_db = err2 == 0.0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(ref2 / err2);
  return e;
}

}  // namespace nmp::workloads
