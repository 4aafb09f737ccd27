// Quantization error of low-bit weight schemes on real trained weights, for docs/int4.md.
//
// Reads weight matrices W[N][K] (N output channels, K the reduction) from the raw file that
// scripts/int4_accuracy_weights.py writes (GNU Backgammon's trained networks), quantizes each
// with qk::quantize_blockwise in every scheme below, dequantizes with qk::dequantize_blockwise
// and reports, pooled over all matrices against the fp32 weights:
//   relative RMS error  sqrt(sum (w - w')^2 / sum w^2)
//   SQNR                10 log10(sum w^2 / sum (w - w')^2) dB
//   bits / weight       storage of codes, scales and zero points per weight
// plus, for comparison, TFLite-style per-channel int4 (amax / 7, [-7, 7]) through
// qk::quantize_per_axis.
// Usage: qk_int4_accuracy weights.bin
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "qk/quantize.hpp"

namespace {

struct Matrix {
  std::size_t n = 0, k = 0;
  std::vector<float> w;
};

bool read_u32(std::FILE* f, std::uint32_t* v) {
  unsigned char b[4];
  if (std::fread(b, 1, 4, f) != 4) return false;
  *v = static_cast<std::uint32_t>(b[0]) | static_cast<std::uint32_t>(b[1]) << 8 |
       static_cast<std::uint32_t>(b[2]) << 16 | static_cast<std::uint32_t>(b[3]) << 24;
  return true;
}

bool read_matrices(const char* path, std::vector<Matrix>* out) {
  std::FILE* f = std::fopen(path, "rb");
  if (f == nullptr) return false;
  std::uint32_t count = 0;
  bool ok = read_u32(f, &count) && count < 1000;
  for (std::uint32_t m = 0; ok && m < count; ++m) {
    std::uint32_t n = 0, k = 0;
    ok = read_u32(f, &n) && read_u32(f, &k) && n > 0 && k > 0 && n <= 1u << 16 && k <= 1u << 16;
    if (!ok) break;
    Matrix mat;
    mat.n = n;
    mat.k = k;
    mat.w.resize(mat.n * mat.k);
    for (float& v : mat.w) {
      std::uint32_t bits = 0;
      ok = ok && read_u32(f, &bits);
      static_assert(sizeof(float) == 4, "IEEE float");
      std::memcpy(&v, &bits, 4);
    }
    out->push_back(std::move(mat));
  }
  std::fclose(f);
  return ok;
}

struct Error {
  double signal = 0.0, noise = 0.0, bits = 0.0, weights = 0.0;
  void add(const std::vector<float>& w, const std::vector<float>& y, double storage_bits) {
    for (std::size_t i = 0; i < w.size(); ++i) {
      const double d = static_cast<double>(y[i]) - static_cast<double>(w[i]);
      signal += static_cast<double>(w[i]) * static_cast<double>(w[i]);
      noise += d * d;
    }
    bits += storage_bits;
    weights += static_cast<double>(w.size());
  }
  void print(const char* name) const {
    std::printf("| %-46s | %8.5f | %6.2f | %5.2f |\n", name, std::sqrt(noise / signal), 10.0 * std::log10(signal / noise),
                bits / weights);
  }
};

void fail(const qk::Status& st) {
  std::fprintf(stderr, "error: %s\n", qk::StatusText(st).c_str());
  std::exit(1);
}

Error blockwise(const std::vector<Matrix>& ms, int bits, std::size_t block, qk::ScaleType t, bool zero_points) {
  Error e;
  for (const Matrix& m : ms) {
    qk::BlockwiseFormat f;
    f.n = m.n;
    f.k = m.k;
    f.bits = bits;
    f.block_size = block;
    f.scale_type = t;
    f.zero_points = zero_points;
    qk::BlockwiseSizes s;
    qk::Status st = qk::blockwise_sizes(f, &s);
    if (!st.ok()) fail(st);
    std::vector<std::uint8_t> data(s.data_bytes), scales(s.scale_bytes), zps(s.zero_point_bytes);
    qk::BlockwiseBuffers out;
    out.data = data.data();
    out.data_bytes = data.size();
    out.scales = scales.data();
    out.scale_bytes = scales.size();
    out.zero_points = zps.data();
    out.zero_point_bytes = zps.size();
    st = qk::quantize_blockwise(m.w.data(), f, out);
    if (!st.ok()) fail(st);
    qk::BlockwiseWeights q;
    q.format = f;
    q.data = data.data();
    q.scales = scales.data();
    q.zero_points = zps.data();
    std::vector<float> y(m.w.size());
    st = qk::dequantize_blockwise(q, y.data());
    if (!st.ok()) fail(st);
    // The codes as stored: each row's blocks padded to whole bytes.
    e.add(m.w, y, 8.0 * static_cast<double>(s.data_bytes + s.scale_bytes + s.zero_point_bytes));
  }
  return e;
}

// TFLite's per-channel int4 weights: symmetric, scale = amax / 7, codes in [-7, 7], rounded
// half away from zero, through qk's per-axis quantization.
Error tflite_int4_per_channel(const std::vector<Matrix>& ms) {
  Error e;
  for (const Matrix& m : ms) {
    std::vector<float> scales(m.n);
    for (std::size_t r = 0; r < m.n; ++r) {
      float lo = 0.0f, hi = 0.0f;
      for (std::size_t c = 0; c < m.k; ++c) {
        lo = std::fmin(lo, m.w[r * m.k + c]);
        hi = std::fmax(hi, m.w[r * m.k + c]);
      }
      qk::QuantParams p;
      const qk::Status st = qk::choose_quant_params<qk::int4>(lo, hi, qk::QuantScheme::symmetric_narrow, 4, &p);
      if (!st.ok()) fail(st);
      scales[r] = p.scale;
    }
    const std::size_t dims[2] = {m.n, m.k};
    qk::QuantizeOptions opt;
    opt.rounding = qk::Rounding::half_away_from_zero;
    opt.narrow_range = true;
    std::vector<std::uint8_t> q((m.w.size() + 1) / 2);
    std::vector<float> y(m.w.size());
    qk::Status st = qk::quantize_per_axis<qk::int4>(m.w.data(), dims, 2, 0, scales.data(), nullptr, m.n, q.data(), opt);
    if (st.ok()) st = qk::dequantize_per_axis<qk::int4>(q.data(), dims, 2, 0, scales.data(), nullptr, m.n, y.data());
    if (!st.ok()) fail(st);
    e.add(m.w, y, 4.0 * static_cast<double>(m.w.size()) + 32.0 * static_cast<double>(m.n));
  }
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s weights.bin   (made by scripts/int4_accuracy_weights.py)\n", argv[0]);
    return 2;
  }
  std::vector<Matrix> ms;
  if (!read_matrices(argv[1], &ms)) {
    std::fprintf(stderr, "error: cannot read weight matrices from %s\n", argv[1]);
    return 1;
  }
  std::size_t total = 0;
  std::printf("%zu matrices:", ms.size());
  for (const Matrix& m : ms) {
    std::printf(" %zux%zu", m.n, m.k);
    total += m.n * m.k;
  }
  std::printf(" (N x K), %zu weights\n\n", total);

  using qk::ScaleType;
  constexpr std::size_t pc = qk::kPerChannel;
  std::printf("| scheme (symmetric: scale = -m / 2^(b-1); zp: min/max) | rel. RMS | SQNR dB | bits/w |\n");
  std::printf("|---|---:|---:|---:|\n");
  blockwise(ms, 8, pc, ScaleType::f32, false).print("W8 per channel, symmetric, fp32 scales");
  tflite_int4_per_channel(ms).print("W4 per channel, TFLite amax/7 [-7, 7], fp32");
  blockwise(ms, 4, pc, ScaleType::f32, false).print("W4 per channel, symmetric, fp32 scales");
  blockwise(ms, 4, pc, ScaleType::f32, true).print("W4 per channel, zero points, fp32 scales");
  blockwise(ms, 4, 128, ScaleType::f16, false).print("W4 blocks of 128, symmetric, fp16 scales");
  blockwise(ms, 4, 128, ScaleType::f16, true).print("W4 blocks of 128, zero points, fp16 scales");
  blockwise(ms, 4, 32, ScaleType::f16, false).print("W4 blocks of 32, symmetric, fp16 (Q4_0 scheme)");
  blockwise(ms, 4, 32, ScaleType::bf16, false).print("W4 blocks of 32, symmetric, bf16 scales");
  blockwise(ms, 4, 32, ScaleType::f32, false).print("W4 blocks of 32, symmetric, fp32 scales");
  blockwise(ms, 4, 32, ScaleType::f16, true).print("W4 blocks of 32, zero points, fp16 scales");
  blockwise(ms, 4, 16, ScaleType::f16, false).print("W4 blocks of 16, symmetric, fp16 scales");

  std::printf("\nSQNR dB by bit width (symmetric, fp16 scales; per channel fp32):\n\n");
  std::printf("| bits | per channel | blocks of 128 | blocks of 32 |\n|---:|---:|---:|---:|\n");
  for (int bits = 2; bits <= 8; ++bits) {
    const Error a = blockwise(ms, bits, pc, ScaleType::f32, false);
    const Error b = blockwise(ms, bits, 128, ScaleType::f16, false);
    const Error c = blockwise(ms, bits, 32, ScaleType::f16, false);
    std::printf("| %d | %6.2f | %6.2f | %6.2f |\n", bits, 10.0 * std::log10(a.signal / a.noise),
                10.0 * std::log10(b.signal / b.noise), 10.0 * std::log10(c.signal / c.noise));
  }
  return 0;
}
