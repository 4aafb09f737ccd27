// fuzz_gemm_s8_diff: every int8 GEMM kernel family this machine runs (force_isa for each
// supported Isa) against qk::reference::gemm_int, bit for bit, on small fuzzed shapes and data:
// every M / N / K tail, lda / ldc padding, s8/u8 activations, s8/u8/s4 weights (s4: the int4
// families; element i of B is nibble i, low nibble first, strides in nibbles, so rows may start
// mid-byte), activation and weight zero points (per tensor or per column), bias, each output
// stage (raw int32, TFLite fixed point with both roundings, ONNX float, dequantize), a re-folded
// activation zero point (set_activation_zero_point), and a thread pool. Also checks that C's
// padding columns (ldc > N) are never written.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_common.hpp"
#include "fuzz_stage.hpp"
#include "qk/core/threading.hpp"
#include "qk/gemm.hpp"
#include "qk/reference/gemm.hpp"

namespace {

// Operand bytes: random, or the extremes (-128, 127, 0, 255) that overflow narrow sums.
std::uint8_t operand(qk_fuzz::Reader& in, std::uint8_t mode) {
  if (mode == 0) return in.u8();
  static const std::uint8_t extremes[] = {0x80, 0x7F, 0x00, 0xFF};
  return mode == 1 ? extremes[in.u8() & 3] : static_cast<std::uint8_t>(mode == 2 ? 0x80 : 0xFF);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace qk_fuzz;
  Reader in(data, size);
  const std::size_t m = in.range(1, 40), n = in.range(1, 130), k = in.range(1, 100);
  const std::size_t lda = k + (in.u8() < 200 ? 0 : in.range(0, 9));
  const std::size_t ldc = n + (in.u8() < 200 ? 0 : in.range(0, 9));
  const bool b_by_k = in.flag();  // B stored N x K, else K x N (with optional padding)
  const std::size_t b_pad = in.u8() < 220 ? 0 : in.range(0, 5);
  const std::size_t stride_k = b_by_k ? 1 : n + b_pad, stride_n = b_by_k ? k + b_pad : 1;
  const qk::ElementType a_type = in.flag() ? qk::ElementType::u8 : qk::ElementType::s8;
  const std::uint8_t b_sel = in.u8();  // bit 0: u8; else bit 1: s4; else s8
  const qk::ElementType b_type =
      (b_sel & 1) != 0 ? qk::ElementType::u8 : ((b_sel & 2) != 0 ? qk::ElementType::s4 : qk::ElementType::s8);
  const bool s4 = b_type == qk::ElementType::s4;
  const std::int32_t a_lo = qk::detail::type_lo(a_type), a_hi = qk::detail::type_hi(a_type);
  const std::int32_t b_lo = qk::detail::type_lo(b_type), b_hi = qk::detail::type_hi(b_type);
  std::int32_t za = in.u8() < 128 ? 0 : in.irange(a_lo, a_hi);
  const std::uint8_t zb_mode = in.u8() % 3;  // none, per tensor, per column
  std::vector<std::int32_t> zb(n, 0);
  for (auto& z : zb) z = in.u8() < 64 ? in.irange(b_lo, b_hi) : (zb_mode == 2 ? zb[0] : 0);
  if (zb_mode == 1) zb[0] = in.irange(b_lo, b_hi);
  std::vector<std::int32_t> bias(n);
  const bool has_bias = in.flag();
  for (auto& b : bias) b = in.u8() < 230 ? in.irange(-100000, 100000) : in.int32(-1, 1);
  StageData stage;
  valid_stage(in, n, &stage);
  const std::uint8_t a_mode = in.u8() % 4, b_mode = in.u8() % 4;
  const bool refold = in.u8() < 40;
  const std::int32_t za2 = in.irange(a_lo, a_hi);
  const bool threads = in.u8() < 20;

  const std::size_t b_elems = (k - 1) * stride_k + (n - 1) * stride_n + 1;  // s4: nibbles, two a byte
  std::vector<std::uint8_t> a(m * lda), b(s4 ? (b_elems + 1) / 2 : b_elems);
  for (auto& v : b) v = operand(in, b_mode);
  if (s4 && b_mode >= 2) std::fill(b.begin(), b.end(), static_cast<std::uint8_t>(b_mode == 2 ? 0x88 : 0x77));  // every nibble -8 / 7
  for (auto& v : a) v = operand(in, a_mode);

  qk::GemmS8WeightsDesc desc;
  desc.k = k, desc.n = n, desc.data = b.data(), desc.stride_k = stride_k, desc.stride_n = stride_n;
  desc.b_type = b_type;
  desc.bias = has_bias ? bias.data() : nullptr;
  desc.zero_point = zb_mode == 0 ? nullptr : zb.data();
  desc.zero_point_per_column = zb_mode == 2;
  desc.a_type = a_type;
  desc.a_zero_point = za;
  if (refold) za = za2;

  const std::size_t esize = qk::output_type_size(stage.stage.type);
  std::vector<std::uint8_t> expected(m * ldc * esize, Canary::kByte);
  qk::reference::gemm_int(m, n, k, a.data(), lda, a_type == qk::ElementType::s8, za, b.data(), stride_k, stride_n, b_type,
                          desc.zero_point, desc.zero_point_per_column, desc.bias, stage.stage, expected.data(), ldc);

  qk::ThreadPool* pool = nullptr;
  static qk::ThreadPool shared_pool(2);
  if (threads) pool = &shared_pool;
  for (qk::Isa isa : supported_isas()) {
    ForcedIsa forced(isa);
    qk::GemmS8Weights w;
    QK_FUZZ_OK(w.pack(desc));
    QK_FUZZ_CHECK(w.isa() == isa);
    if (refold) QK_FUZZ_OK(w.set_activation_zero_point(za));
    Canary c(m * ldc * esize);
    QK_FUZZ_OK(qk::gemm_s8(w, m, a.data(), lda, stage.stage, c.data(), ldc, pool));
    if (std::memcmp(c.bytes.data(), expected.data(), expected.size()) != 0) {
      std::fprintf(stderr, "isa=%s b_type=%d m=%zu n=%zu k=%zu lda=%zu ldc=%zu kind=%d\n", qk::isa_name(isa),
                   static_cast<int>(b_type), m, n, k, lda, ldc, static_cast<int>(stage.stage.kind));
      fail("gemm_s8 differs from reference::gemm_int", __FILE__, __LINE__);
    }
  }
  return 0;
}
