// Quantization error of each calibration observer, for docs/calibration.md.
//
// Three data sets of `samples` values (default 32768, fixed seeds), fed to each observer as
// batches of 4096: Gaussian N(0, 1); Laplace(0, 1); ReLU with outliers (max(0, N(0, 1)) with
// 0.1% of the values replaced by 10..20). Each observer's parameters (signed, asymmetric, the
// observer's defaults) quantize the same data with qk::quantize<int8_t> at 8 and 4 bits, then
// qk::dequantize; the table gives SQNR = 10 log10(sum x^2 / sum (x - x')^2) in dB.
// Usage: qk_calibration_sqnr [samples]
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "qk/quantize.hpp"
#include "qk/quantize/calibration.hpp"

namespace {

constexpr std::size_t kBatch = 4096;

void die(const qk::Status& st, const char* what) {
  char buf[160];
  std::fprintf(stderr, "%s: %s\n", what, st.format(buf, sizeof buf));
  std::exit(1);
}

double sqnr(const std::vector<float>& x, const qk::QuantParams& p) {
  std::vector<std::int8_t> q(x.size());
  std::vector<float> y(x.size());
  qk::Status st = qk::quantize<std::int8_t>(x.data(), x.size(), p, q.data());
  if (st.ok()) st = qk::dequantize<std::int8_t>(q.data(), x.size(), p.scale, p.zero_point, y.data());
  if (!st.ok()) die(st, "quantize");
  double sig = 0.0, noise = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double d = static_cast<double>(y[i]) - static_cast<double>(x[i]);
    sig += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    noise += d * d;
  }
  return noise == 0.0 ? INFINITY : 10.0 * std::log10(sig / noise);
}

// Feeds x in batches and returns the observer's parameters.
template <class Obs>
qk::QuantParams calibrate(Obs& obs, const std::vector<float>& x) {
  for (std::size_t at = 0; at < x.size(); at += kBatch) {
    const std::size_t n = x.size() - at < kBatch ? x.size() - at : kBatch;
    const qk::Status st = obs.observe(x.data() + at, n);
    if (!st.ok()) die(st, "observe");
  }
  qk::QuantParams p;
  const qk::Status st = obs.params(&p, 1);
  if (!st.ok()) die(st, "params");
  return p;
}

template <class Obs>
qk::QuantParams run(const std::vector<float>& x, int bits, bool pot) {
  qk::CalibConfig cfg;
  qk::Status st = qk::make_calib_config(bits, /*is_signed=*/true, /*symmetric=*/false, /*narrow=*/false, pot, &cfg);
  if (!st.ok()) die(st, "config");
  Obs obs;
  st = obs.init(cfg);
  if (!st.ok()) die(st, "init");
  return calibrate(obs, x);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t samples = argc > 1 ? static_cast<std::size_t>(std::strtoull(argv[1], nullptr, 10)) : 32768;
  if (samples == 0) return 1;
  std::vector<float> gauss(samples), laplace(samples), relu(samples);
  {
    std::mt19937 rng(1);
    std::normal_distribution<float> n(0.0f, 1.0f);
    for (auto& v : gauss) v = n(rng);
  }
  {
    std::mt19937 rng(2);
    std::exponential_distribution<float> e(1.0f);
    std::bernoulli_distribution sign(0.5);
    for (auto& v : laplace) v = sign(rng) ? e(rng) : -e(rng);
  }
  {
    std::mt19937 rng(3);
    std::normal_distribution<float> n(0.0f, 1.0f);
    std::uniform_real_distribution<float> out(10.0f, 20.0f);
    std::bernoulli_distribution outlier(0.001);
    for (auto& v : relu) {
      const float g = n(rng);
      v = outlier(rng) ? out(rng) : (g > 0.0f ? g : 0.0f);
    }
  }
  const std::vector<float>* sets[3] = {&gauss, &laplace, &relu};
  std::printf("SQNR in dB (higher is better), %zu samples per data set, signed asymmetric\n\n", samples);
  std::printf("| observer | Gaussian 8b | Gaussian 4b | Laplace 8b | Laplace 4b | ReLU+outliers 8b | ReLU+outliers 4b |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  const char* names[] = {"MinMax", "MinMax, power-of-two scale", "MovingAverageMinMax (c = 0.01)", "MeanKSigma (k = 3)",
                         "Histogram (L2 search)", "Percentile (99.99)", "Entropy (KL)"};
  for (int o = 0; o < 7; ++o) {
    std::printf("| %s |", names[o]);
    for (const std::vector<float>* x : sets) {
      for (int bits : {8, 4}) {
        qk::QuantParams p;
        switch (o) {
          case 0: p = run<qk::MinMaxObserver>(*x, bits, false); break;
          case 1: p = run<qk::MinMaxObserver>(*x, bits, true); break;
          case 2: p = run<qk::MovingAverageMinMaxObserver>(*x, bits, false); break;
          case 3: p = run<qk::MeanKSigmaObserver>(*x, bits, false); break;
          case 4: p = run<qk::HistogramObserver>(*x, bits, false); break;
          case 5: p = run<qk::PercentileObserver>(*x, bits, false); break;
          default: p = run<qk::EntropyObserver>(*x, bits, false); break;
        }
        std::printf(" %.2f |", sqnr(*x, p));
      }
    }
    std::printf("\n");
  }
  return 0;
}
