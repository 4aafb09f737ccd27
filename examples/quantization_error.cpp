// Measured quantization error by bit width, for docs/quantization.md.
//
// For 2..8 bits, on 1,000,000 samples of N(0, 1) and of U(-1, 1) (fixed seeds), quantizes with
// qk::quantize, dequantizes with qk::dequantize and reports RMSE and max |error| for:
//   asym    asymmetric, range = [min x, max x]
//   sym     symmetric (zero point 0), range = max |x|
//   clip    symmetric with the range clipped to c * max|x|, c chosen (grid 0.05..1 step 0.01) to
//           minimise RMSE: outliers saturate, everything else gets a finer step.
// Usage: qk_quantization_error [samples]
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "qk/quantize.hpp"

namespace {

struct Err {
  double rmse = 0.0;
  double max = 0.0;
};

// Quantize x to `bits` in int8 storage with the given range and scheme, dequantize, measure.
Err measure(const std::vector<float>& x, float rmin, float rmax, qk::QuantScheme scheme, int bits,
            std::vector<std::int8_t>& q, std::vector<float>& y) {
  qk::QuantParams p;
  qk::Status st = qk::choose_quant_params<std::int8_t>(rmin, rmax, scheme, bits, &p);
  if (st.ok()) st = qk::quantize<std::int8_t>(x.data(), x.size(), p, q.data());
  if (st.ok()) st = qk::dequantize<std::int8_t>(q.data(), x.size(), p.scale, p.zero_point, y.data());
  if (!st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.message());
    std::exit(1);
  }
  Err e;
  double sum = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double d = static_cast<double>(y[i]) - static_cast<double>(x[i]);
    sum += d * d;
    e.max = std::fmax(e.max, std::fabs(d));
  }
  e.rmse = std::sqrt(sum / static_cast<double>(x.size()));
  return e;
}

void table(const char* title, const std::vector<float>& x) {
  float lo = x[0], hi = x[0];
  for (float v : x) {
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  const float amax = std::fmax(std::fabs(lo), std::fabs(hi));
  std::vector<std::int8_t> q(x.size());
  std::vector<float> y(x.size());
  std::printf("\n%s: %zu samples, min %.4f, max %.4f\n\n", title, x.size(), static_cast<double>(lo),
              static_cast<double>(hi));
  std::printf("| bits | asym RMSE | asym max | sym RMSE | sym max | clip c | clip RMSE | clip max |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int bits = 2; bits <= 8; ++bits) {
    const Err a = measure(x, lo, hi, qk::QuantScheme::asymmetric, bits, q, y);
    const Err s = measure(x, -amax, amax, qk::QuantScheme::symmetric, bits, q, y);
    Err best;
    best.rmse = 1e30;
    double best_c = 1.0;
    for (int k = 5; k <= 100; ++k) {
      const float c = static_cast<float>(k) / 100.0f * amax;
      const Err e = measure(x, -c, c, qk::QuantScheme::symmetric, bits, q, y);
      if (e.rmse < best.rmse) {
        best = e;
        best_c = static_cast<double>(k) / 100.0;
      }
    }
    std::printf("| %d | %.5f | %.5f | %.5f | %.5f | %.2f | %.5f | %.5f |\n", bits, a.rmse, a.max, s.rmse, s.max, best_c,
                best.rmse, best.max);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? static_cast<std::size_t>(std::strtoull(argv[1], nullptr, 10)) : 1000000;
  std::mt19937 rng(2024);
  std::vector<float> g(n), u(n);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(-1.0f, 1.0f);
  for (auto& v : g) v = nd(rng);
  for (auto& v : u) v = ud(rng);
  table("Gaussian N(0, 1)", g);
  table("Uniform U(-1, 1)", u);
  return 0;
}
