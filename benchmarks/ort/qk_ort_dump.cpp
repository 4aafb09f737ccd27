// Writes the operands of bench_gemm.cpp's blockwise int4 rows (gemm/qk_s4b32, gemm/qk_s4b128,
// gemm/qk_w4f32b32) for one shape, in ONNX Runtime MatMulNBits' layout, with qk's results on them,
// so that benchmarks/ort/ can build MatMulNBits models of exactly the weights qk is timed on and
// check that ONNX Runtime computes the same thing.
//
//   qk_ort_dump M N K OUT_DIR
//
// Files in OUT_DIR (raw little-endian arrays):
//   a.f32                 A, M x K                        (bench_qk_q4's random_floats(M*K, 1))
//   bias.f32              N                               (random_floats(N, 3))
//   b<B>.u8               MatMulNBits B, [N][blocks][B/2]: the bench's signed nibbles xor 0x88
//                         (unsigned codes with ONNX's default zero point 8), a short last block
//                         padded with code 8 (weight 0)
//   s<B>.f32              MatMulNBits scales, [N][blocks] (the bench's fp16-exact fp32 scales)
//   qk_dyn_b<B>.f32       qk::gemm_q4_dynamic's C, M x N  (int8 A per block: accuracy_level 4)
//   qk_f32_b<B>.f32       qk::gemm_q4_f32's C, M x N      (fp32 compute: accuracy_level 0)
// for B = 32 and 128. The operands are generated as bench_qk_q4 in bench_gemm.cpp does (same
// seeds, same helpers): keep the two in step.
#include "bench_common.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "qk/gemm_blockwise.hpp"

namespace {

template <typename T>
bool write_file(const std::string& path, const std::vector<T>& v) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(v.data(), sizeof(T), v.size(), f) == v.size();
  return std::fclose(f) == 0 && ok;
}

int fail(const std::string& what) {
  std::fprintf(stderr, "qk_ort_dump: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) return fail("usage: qk_ort_dump M N K OUT_DIR");
  const std::size_t m = std::strtoull(argv[1], nullptr, 10), n = std::strtoull(argv[2], nullptr, 10),
                    k = std::strtoull(argv[3], nullptr, 10);
  const std::string dir = argv[4];
  if (m == 0 || n == 0 || k == 0 || k % 2 != 0) return fail("M, N, K must be positive and K even");

  // As bench_qk_q4: the nibbles do not depend on the block size, the scales' count does.
  const auto a = qk_bench::random_floats(m * k, 1), bias = qk_bench::random_floats(n, 3);
  const auto nibbles = qk_bench::random_vector<std::uint8_t>(n * (k / 2), 0, 255, 2);
  if (!write_file(dir + "/a.f32", a) || !write_file(dir + "/bias.f32", bias)) return fail("cannot write " + dir);

  for (const std::size_t block : {std::size_t{32}, std::size_t{128}}) {
    const std::size_t nb = (k + block - 1) / block, blob = block / 2;
    std::vector<float> scales = qk_bench::random_floats(n * nb, 4);
    for (auto& v : scales) v = std::ldexp(1.0f + std::round(v * 512.0f) / 1024.0f, -7);

    // MatMulNBits B: the same bytes, each nibble's top bit flipped (s + 8 = s xor 8 in 4 bits),
    // rows padded to whole blocks with code 8.
    std::vector<std::uint8_t> b(n * nb * blob, 0x88);
    for (std::size_t r = 0; r < n; ++r)
      for (std::size_t j = 0; j < k / 2; ++j) b[r * nb * blob + j] = static_cast<std::uint8_t>(nibbles[r * (k / 2) + j] ^ 0x88u);

    qk::GemmQ4Weights w;
    qk::Status st = w.pack(qk::GemmQ4WeightsDesc::signed_blocks(n, k, block, nibbles.data(), scales.data(), bias.data()));
    if (!st.ok()) return fail("pack failed");
    std::size_t ws_bytes = 0;
    if (!qk::gemm_q4_dynamic_workspace_size(w, m, &ws_bytes).ok()) return fail("workspace size failed");
    std::vector<std::uint8_t> ws(ws_bytes);
    std::vector<float> c_dyn(m * n), c_f32(m * n);
    if (!qk::gemm_q4_dynamic(w, m, a.data(), k, c_dyn.data(), n, ws.data(), ws.size()).ok() ||
        !qk::gemm_q4_f32(w, m, a.data(), k, c_f32.data(), n).ok())
      return fail("gemm failed");

    const std::string b_name = std::to_string(block);
    if (!write_file(dir + "/b" + b_name + ".u8", b) || !write_file(dir + "/s" + b_name + ".f32", scales) ||
        !write_file(dir + "/qk_dyn_b" + b_name + ".f32", c_dyn) || !write_file(dir + "/qk_f32_b" + b_name + ".f32", c_f32))
      return fail("cannot write " + dir);
    std::printf("%zux%zux%zu block %zu: %s\n", m, n, k, block, qk::isa_name(w.isa()));
  }
  return 0;
}
