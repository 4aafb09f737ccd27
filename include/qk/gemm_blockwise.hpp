// qk/gemm_blockwise.hpp - GEMM with blockwise 4-bit weights (ONNX MatMulNBits, llama.cpp Q4_0
// style): fp32 A, fp32 C, weights N x K in blocks of B along K with one scale (and zero point)
// per (column, block).
//
//   C = clamp(A * W^T + bias, lo, hi),  W[n][k] = (u[n][k] - zp[n][k / B]) * scale[n][k / B]
//
// Two schemes, each bit-exact on every ISA (the arithmetic is defined in
// kernels/gemm_q4_contract.hpp):
//   gemm_q4_dynamic  A quantized per row and block to int8 at run time (symmetric, amax / 127,
//                    as ORT MatMulNBits accuracy_level 4), integer block dots, fp32 block sums.
//                    Needs a workspace (gemm_q4_dynamic_workspace_size) for the quantized A.
//   gemm_q4_f32      weight-only: fp32 A, weights expanded to fp32 in registers.
//
//   qk::GemmQ4Weights w;
//   QK_RETURN_IF_ERROR(w.pack(qk::GemmQ4WeightsDesc::signed_blocks(N, K, 32, nibbles, scales)));
//   std::size_t bytes = 0;
//   QK_RETURN_IF_ERROR(qk::gemm_q4_dynamic_workspace_size(w, M, &bytes));
//   QK_RETURN_IF_ERROR(qk::gemm_q4_dynamic(w, M, a, lda, c, ldc, workspace, bytes));
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>

#include "qk/core/checked.hpp"
#include "qk/core/isa.hpp"
#include "qk/core/status.hpp"
#include "qk/core/threading.hpp"
#include "qk/kernels/gemm_q4_registry.hpp"

namespace qk {

// Unpacked blockwise 4-bit weights.
struct GemmQ4WeightsDesc {
  std::size_t n = 0, k = 0;
  std::size_t block_size = 32;  // a power of two in [16, 256]
  // Nibbles, two per byte, element k of row n in byte k / 2 of row n, the even k in the low
  // nibble (ONNX, TFLite). row_bytes apart (0: ceil(K / 2); MatMulNBits' [N][blocks][B / 2] is
  // row_bytes = n_blocks * B / 2).
  const std::uint8_t* data = nullptr;
  std::size_t row_bytes = 0;
  // true: nibbles are two's complement in [-8, 7] (no zero points); false: unsigned [0, 15] with
  // zero_points (null: 8 for every block, ONNX's default).
  bool is_signed = true;
  const float* scales = nullptr;             // [N][n_blocks], finite
  const std::uint8_t* zero_points = nullptr; // [N][n_blocks], one byte each, in [0, 15]
  const float* bias = nullptr;               // N values or null

  static GemmQ4WeightsDesc signed_blocks(std::size_t n, std::size_t k, std::size_t block, const std::uint8_t* data,
                                         const float* scales, const float* bias = nullptr) {
    GemmQ4WeightsDesc d;
    d.n = n, d.k = k, d.block_size = block, d.data = data, d.scales = scales, d.bias = bias;
    return d;
  }
  static GemmQ4WeightsDesc unsigned_blocks(std::size_t n, std::size_t k, std::size_t block, const std::uint8_t* data,
                                           const float* scales, const std::uint8_t* zero_points,
                                           const float* bias = nullptr) {
    GemmQ4WeightsDesc d = signed_blocks(n, k, block, data, scales, bias);
    d.is_signed = false;
    d.zero_points = zero_points;
    return d;
  }
};

namespace detail {
constexpr std::size_t kQ4Align = 64;
inline std::size_t q4_blocks(std::size_t k, std::size_t block) noexcept { return div_up(k, block); }
}  // namespace detail

// Packed blockwise 4-bit weights (the layout of gemm_q4_contract.hpp for the kernel family of the
// ISA given at packing). Movable, not copyable; owns its memory unless packed into caller memory.
class GemmQ4Weights {
 public:
  GemmQ4Weights() = default;
  GemmQ4Weights(GemmQ4Weights&&) = default;
  GemmQ4Weights& operator=(GemmQ4Weights&&) = default;

  static Status packed_size(const GemmQ4WeightsDesc& d, Isa isa, std::size_t* bytes) noexcept {
    if (bytes == nullptr) return Status(StatusCode::null_pointer, "gemm_q4 packed_size: null output");
    const kernels::GemmQ4Kernel* kernel = kernels::gemm_q4_kernel_for(isa);
    if (kernel == nullptr || !isa_supported(isa))
      return Status(StatusCode::unsupported, "gemm_q4 weights: ISA not supported by this CPU/build", "isa", static_cast<int>(isa));
    QK_RETURN_IF_ERROR(validate(d));
    Sizes s;
    QK_RETURN_IF_ERROR(compute_sizes(d, kernel->panel_width, &s));
    *bytes = s.total;
    return Status::success();
  }

  Status pack(const GemmQ4WeightsDesc& d) noexcept { return pack(d, active_isa()); }
  Status pack(const GemmQ4WeightsDesc& d, Isa isa) noexcept {
    std::size_t bytes = 0, with_align = 0;
    QK_RETURN_IF_ERROR(packed_size(d, isa, &bytes));
    if (!detail::checked_add(bytes, detail::kQ4Align, &with_align))
      return Status(StatusCode::size_overflow, "gemm_q4 weights: packed size plus alignment overflows", "bytes", bytes);
    std::unique_ptr<std::uint8_t[]> storage(new (std::nothrow) std::uint8_t[with_align]);
    if (storage == nullptr)
      return Status(StatusCode::out_of_memory, "gemm_q4 weights: allocation of the packed weights failed", "bytes", with_align);
    const auto v = reinterpret_cast<std::uintptr_t>(storage.get());
    void* aligned = reinterpret_cast<void*>((v + detail::kQ4Align - 1) / detail::kQ4Align * detail::kQ4Align);
    QK_RETURN_IF_ERROR(pack_into(d, isa, aligned, bytes));
    owned_ = std::move(storage);
    return Status::success();
  }
  // Into caller memory of at least packed_size() bytes, 64-byte aligned (the kernels use
  // aligned loads), outliving this object.
  Status pack_into(const GemmQ4WeightsDesc& d, Isa isa, void* buffer, std::size_t buffer_bytes) noexcept {
    std::size_t bytes = 0;
    QK_RETURN_IF_ERROR(packed_size(d, isa, &bytes));
    if (buffer == nullptr) return Status(StatusCode::null_pointer, "gemm_q4 pack_into: null buffer");
    if (reinterpret_cast<std::uintptr_t>(buffer) % detail::kQ4Align != 0)
      return Status(StatusCode::invalid_argument, "gemm_q4 pack_into: buffer not 64-byte aligned");
    if (buffer_bytes < bytes)
      return Status(StatusCode::buffer_too_small, "gemm_q4 pack_into: buffer smaller than packed_size()", "buffer_bytes",
                    buffer_bytes);
    kernel_ = kernels::gemm_q4_kernel_for(isa);
    owned_.reset();
    (void)compute_sizes(d, kernel_->panel_width, &sizes_);
    base_ = static_cast<std::uint8_t*>(buffer);
    n_ = d.n;
    k_ = d.k;
    block_ = d.block_size;
    write(d);
    return Status::success();
  }

  bool packed() const noexcept { return kernel_ != nullptr; }
  Isa isa() const noexcept { return kernel_ != nullptr ? kernel_->isa : Isa::scalar; }
  std::size_t n() const noexcept { return n_; }
  std::size_t k() const noexcept { return k_; }
  std::size_t block_size() const noexcept { return block_; }
  std::size_t packed_bytes() const noexcept { return packed() ? sizes_.total : 0; }
  const kernels::GemmQ4Kernel& kernel() const noexcept { return *kernel_; }

  // The kernels' view (everything but A, C and the clamp).
  kernels::GemmQ4Args args() const noexcept {
    kernels::GemmQ4Args a;
    a.n = n_;
    a.k = k_;
    a.block = block_;
    a.n_blocks = sizes_.n_blocks;
    a.packed = base_;
    a.panel_bytes = sizes_.panel;
    a.scales_at = sizes_.scales_at;
    a.zps_at = sizes_.zps_at;
    a.zp_uniform = sizes_.zp_uniform;
    a.zp = sizes_.zp;
    a.scale_f16 = sizes_.scale_f16;
    a.bias = has_bias_ ? reinterpret_cast<const float*>(base_ + sizes_.bias_at) : nullptr;
    return a;
  }
  std::size_t panel_pairs() const noexcept { return sizes_.panels / 2; }

 private:
  struct Sizes {
    std::size_t n_blocks = 0, k_pad = 0, panels = 0, panel = 0, scales_at = 0, zps_at = 0, bias_at = 0, total = 0;
    bool zp_uniform = true, scale_f16 = false;
    std::int32_t zp = 8;
  };

  static std::int32_t zero_point(const GemmQ4WeightsDesc& d, std::size_t nn, std::size_t b) noexcept {
    return d.zero_points == nullptr ? 8 : d.zero_points[nn * detail::q4_blocks(d.k, d.block_size) + b];
  }

  static Status validate(const GemmQ4WeightsDesc& d) noexcept {
    if (d.n == 0) return Status(StatusCode::bad_shape, "gemm_q4 weights: N must be > 0", "n", d.n);
    if (d.k == 0) return Status(StatusCode::bad_shape, "gemm_q4 weights: K must be > 0", "k", d.k);
    if (d.block_size < 16 || d.block_size > 256 || (d.block_size & (d.block_size - 1)) != 0)
      return Status(StatusCode::bad_shape, "gemm_q4 weights: block_size must be a power of two in [16, 256]", "block_size",
                    d.block_size);
    if (d.data == nullptr) return Status(StatusCode::null_pointer, "gemm_q4 weights: null data");
    if (d.scales == nullptr) return Status(StatusCode::null_pointer, "gemm_q4 weights: null scales");
    if (d.is_signed && d.zero_points != nullptr)
      return Status(StatusCode::invalid_argument, "gemm_q4 weights: zero_points given with signed nibbles");
    const std::size_t min_row = d.k / 2 + d.k % 2;
    if (d.row_bytes != 0 && d.row_bytes < min_row)
      return Status(StatusCode::bad_shape, "gemm_q4 weights: row_bytes < ceil(K / 2)", "row_bytes", d.row_bytes);
    std::size_t count = 0, t = 0;
    const std::size_t nb = detail::q4_blocks(d.k, d.block_size);
    if (!detail::checked_mul(d.n, nb, &count) || !detail::checked_mul(d.n, d.row_bytes == 0 ? min_row : d.row_bytes, &t))
      return Status(StatusCode::size_overflow, "gemm_q4 weights: N * blocks or N * row_bytes overflows", "n", d.n);
    for (std::size_t i = 0; i < count; ++i)
      if (!std::isfinite(d.scales[i]))
        return Status(StatusCode::invalid_argument, "gemm_q4 weights: scale not finite", "scale index", i);
    for (std::size_t i = 0; d.zero_points != nullptr && i < count; ++i)
      if (d.zero_points[i] > 15)
        return Status(StatusCode::invalid_argument, "gemm_q4 weights: zero point above 15", "zero_point", d.zero_points[i]);
    for (std::size_t i = 0; d.bias != nullptr && i < d.n; ++i)
      if (std::isnan(d.bias[i])) return Status(StatusCode::invalid_argument, "gemm_q4 weights: NaN bias", "bias index", i);
    return Status::success();
  }

  // Sizes of the layout in gemm_q4_contract.hpp; every step checked.
  static Status compute_sizes(const GemmQ4WeightsDesc& d, std::size_t P, Sizes* s) noexcept {
    const std::size_t nb = detail::q4_blocks(d.k, d.block_size);
    bool uniform = true;
    const std::int32_t zp0 = d.is_signed ? 8 : zero_point(d, 0, 0);
    for (std::size_t nn = 0; d.zero_points != nullptr && nn < d.n && uniform; ++nn)
      for (std::size_t b = 0; b < nb && uniform; ++b) uniform = zero_point(d, nn, b) == zp0;
    // fp16 storage when it is exact for every scale (gemm_q4_contract.hpp: bytes the GEMV reads).
    bool f16 = true;
    std::uint16_t h = 0;
    for (std::size_t i = 0; i < d.n * nb && f16; ++i) f16 = kernels::q4_float_to_half_exact(d.scales[i], &h);
    std::size_t k_pad = 0, nib = 0, sc = 0, zb = 0, panel = 0, pairs = 0, panels = 0, total = 0, padded_n = 0, bias = 0;
    pairs = detail::div_up(d.n, 2 * P);
    if (!detail::checked_mul(nb, d.block_size, &k_pad) || !detail::checked_mul(k_pad / 2, P, &nib) ||
        !detail::checked_round_up(nib, detail::kQ4Align, &nib) || !detail::checked_mul3(nb, P, f16 ? 2 : 4, &sc) ||
        !detail::checked_round_up(sc, detail::kQ4Align, &sc) || !detail::checked_mul(nb, P, &zb) ||
        !detail::checked_round_up(zb, detail::kQ4Align, &zb) || !detail::checked_add(nib, sc, &panel) ||
        (!uniform && !detail::checked_add(panel, zb, &panel)) || !detail::checked_mul(pairs, 2, &panels) ||
        !detail::checked_mul(panels, panel, &total) || !detail::checked_mul(panels, P, &padded_n) ||
        !detail::checked_mul(padded_n, 4, &bias) || !detail::checked_add(total, bias, &bias) ||
        bias > std::numeric_limits<std::size_t>::max() - 2 * detail::kQ4Align)
      return Status(StatusCode::size_overflow, "gemm_q4 weights: packed size overflows size_t", "k", d.k);
    s->n_blocks = nb;
    s->k_pad = k_pad;
    s->panels = panels;
    s->panel = panel;
    s->scales_at = nib;
    s->zps_at = nib + sc;
    s->bias_at = total;
    s->total = bias;
    s->zp_uniform = uniform;
    s->zp = zp0;
    s->scale_f16 = f16;
    return Status::success();
  }

  void write(const GemmQ4WeightsDesc& d) noexcept {
    const std::size_t P = kernel_->panel_width, nb = sizes_.n_blocks;
    const std::size_t row_bytes = d.row_bytes != 0 ? d.row_bytes : d.k / 2 + d.k % 2;
    for (std::size_t p = 0; p < sizes_.panels; ++p) {
      std::uint8_t* panel = base_ + p * sizes_.panel;
      std::memset(panel, 0, sizes_.panel);
      for (std::size_t j = 0; j < P; ++j) {
        const std::size_t nn = p * P + j;
        if (nn >= d.n) continue;  // padding columns: u = 0, scale 0
        const std::uint8_t* row = d.data + nn * row_bytes;
        for (std::size_t kk = 0; kk < d.k; ++kk) {
          std::uint32_t u = (row[kk / 2] >> (4 * (kk % 2))) & 0x0F;
          if (d.is_signed) u = (u ^ 8u);  // two's complement q in [-8, 7] -> q + 8
          const std::size_t c = kk / 8, i = kk % 8;
          panel[c * 4 * P + 4 * j + (i & 3)] |= static_cast<std::uint8_t>(i < 4 ? u : u << 4);
        }
        for (std::size_t b = 0; b < nb; ++b) {
          const float v = d.scales[nn * nb + b];
          std::uint16_t h = 0;
          if (sizes_.scale_f16 && kernels::q4_float_to_half_exact(v, &h))
            std::memcpy(panel + sizes_.scales_at + 2 * (b * P + j), &h, 2);
          else
            std::memcpy(panel + sizes_.scales_at + 4 * (b * P + j), &v, 4);
          if (!sizes_.zp_uniform) panel[sizes_.zps_at + b * P + j] = static_cast<std::uint8_t>(zero_point(d, nn, b));
        }
      }
    }
    auto* bias = reinterpret_cast<float*>(base_ + sizes_.bias_at);
    for (std::size_t nn = 0; nn < sizes_.panels * P; ++nn) bias[nn] = nn < d.n && d.bias != nullptr ? d.bias[nn] : 0.0f;
    has_bias_ = d.bias != nullptr;
  }

  const kernels::GemmQ4Kernel* kernel_ = nullptr;
  std::unique_ptr<std::uint8_t[]> owned_;
  std::uint8_t* base_ = nullptr;
  Sizes sizes_;
  std::size_t n_ = 0, k_ = 0, block_ = 0;
  bool has_bias_ = false;
};

namespace detail {

struct GemmQ4Job {
  kernels::GemmQ4Args args;
  kernels::GemmQ4TileFn run = nullptr;
  kernels::GemmQ4QuantizeFn quantize = nullptr;
  float* a_scale = nullptr;        // writable views of the workspace (quantize phase)
  std::int32_t* a_sum = nullptr;
  std::int8_t* qa = nullptr;
  std::size_t pairs = 0, groups = 0, row_block = 0;
};

// Unit u: rows [block * row_block, ...) x pair group u % groups, as gemm_s8's units.
inline void gemm_q4_units(void* context, std::size_t begin, std::size_t end) {
  const auto& job = *static_cast<const GemmQ4Job*>(context);
  for (std::size_t u = begin; u < end; ++u) {
    const std::size_t block = u / job.groups, g = u % job.groups;
    const std::size_t m0 = block * job.row_block;
    const std::size_t m1 = m0 + job.row_block < job.args.m ? m0 + job.row_block : job.args.m;
    const std::size_t p0 = g * job.pairs / job.groups, p1 = (g + 1) * job.pairs / job.groups;
    if (m0 < m1 && p0 < p1) job.run(job.args, m0, m1, p0, p1);
  }
}

// Quantizes row blocks [begin, end) of A.
inline void gemm_q4_quantize_units(void* context, std::size_t begin, std::size_t end) {
  const auto& job = *static_cast<const GemmQ4Job*>(context);
  const kernels::GemmQ4Args& a = job.args;
  for (std::size_t u = begin; u < end; ++u) {
    const std::size_t m0 = u * job.row_block;
    const std::size_t m1 = m0 + job.row_block < a.m ? m0 + job.row_block : a.m;
    job.quantize(a.a + m0 * a.lda, a.lda, m1 - m0, a.k, a.block, job.qa + m0 * a.qa_stride, a.qa_stride,
                 job.a_scale + m0 * a.n_blocks, job.a_sum + m0 * a.n_blocks);
  }
}

// Shared validation of both schemes; fills the job's shape and partition.
inline Status gemm_q4_prepare(const GemmQ4Weights& w, std::size_t m, const float* a, std::size_t lda, float* c,
                              std::size_t ldc, float lo, float hi, Executor* executor, GemmQ4Job* job) noexcept {
  if (!w.packed()) return Status(StatusCode::invalid_argument, "gemm_q4: weights not packed");
  if (!isa_supported(w.isa()))
    return Status(StatusCode::unsupported, "gemm_q4: weights packed for an ISA this CPU lacks", "isa", static_cast<int>(w.isa()));
  if (std::isnan(lo) || lo > hi) return Status(StatusCode::invalid_argument, "gemm_q4: clamp lo is NaN or above hi", "lo", lo);
  if (std::isnan(hi)) return Status(StatusCode::invalid_argument, "gemm_q4: clamp hi is NaN", "hi", hi);
  if (m == 0) return Status::success();
  if (a == nullptr || c == nullptr) return Status(StatusCode::null_pointer, "gemm_q4: null A or C");
  if (lda < w.k()) return Status(StatusCode::bad_shape, "gemm_q4: lda < K", "lda", lda);
  if (ldc < w.n()) return Status(StatusCode::bad_shape, "gemm_q4: ldc < N", "ldc", ldc);
  std::size_t extent = 0;
  if (!checked_mul(m, lda, &extent) || !checked_mul(m, ldc, &extent) || extent > (std::numeric_limits<std::size_t>::max() >> 2))
    return Status(StatusCode::size_overflow, "gemm_q4: A or C extent (m * lda, m * ldc floats) overflows", "m", m);
  job->args = w.args();
  job->args.m = m;
  job->args.a = a;
  job->args.lda = lda;
  job->args.c = c;
  job->args.ldc = ldc;
  job->args.lo = lo;
  job->args.hi = hi;
  const std::size_t threads = executor != nullptr ? executor->concurrency() : 1;
  const std::size_t R = w.kernel().rows;
  // Rows per block: about 128 KiB of quantized A (the rows a pair's weights meet while in L1).
  std::size_t rows = (std::size_t{128} << 10) / (w.args().n_blocks * w.block_size());
  rows = rows < R ? R : rows / R * R;
  job->pairs = w.panel_pairs();
  job->groups = 1;
  if (threads > 1) {
    // Enough units for every thread (at least 4 each) from pairs first, rows second.
    job->groups = job->pairs < 4 * threads ? job->pairs : 4 * threads;
    while (rows > R && div_up(m, rows) * job->groups < 4 * threads) rows = (rows / 2 + R - 1) / R * R;
  }
  job->row_block = rows;
  return Status::success();
}

inline void gemm_q4_run_units(Executor* executor, std::size_t count, Executor::Task task, void* job) {
  if (executor == nullptr || executor->concurrency() <= 1)
    task(job, 0, count);
  else
    executor->parallel_for(count, 1, task, job);
}

}  // namespace detail

// Bytes of workspace gemm_q4_dynamic needs for m rows: the int8 A (m x K rounded up to blocks),
// its per-block scales and sums, and 64 bytes of alignment slack.
inline Status gemm_q4_dynamic_workspace_size(const GemmQ4Weights& w, std::size_t m, std::size_t* bytes) noexcept {
  if (bytes == nullptr) return Status(StatusCode::null_pointer, "gemm_q4_dynamic_workspace_size: null output");
  if (!w.packed()) return Status(StatusCode::invalid_argument, "gemm_q4_dynamic_workspace_size: weights not packed");
  const std::size_t nb = w.args().n_blocks;
  std::size_t q = 0, s = 0, total = 0;
  if (!detail::checked_mul3(m, nb, w.block_size(), &q) || !detail::checked_round_up(q, detail::kQ4Align, &q) ||
      !detail::checked_mul3(m, nb, 4, &s) || !detail::checked_round_up(s, detail::kQ4Align, &s) ||
      !detail::checked_add(q, 2 * s, &total) || !detail::checked_add(total, detail::kQ4Align, &total))
    return Status(StatusCode::size_overflow, "gemm_q4_dynamic_workspace_size: size overflows size_t", "m", m);
  *bytes = total;
  return Status::success();
}

// Scheme (a): C = clamp(dequant(quant8(A) . W4) + bias, lo, hi). Validates everything first; on
// error nothing is written (workspace included). No allocation.
inline Status gemm_q4_dynamic(const GemmQ4Weights& w, std::size_t m, const float* a, std::size_t lda, float* c,
                              std::size_t ldc, void* workspace, std::size_t workspace_bytes,
                              float lo = -std::numeric_limits<float>::infinity(),
                              float hi = std::numeric_limits<float>::infinity(), Executor* executor = nullptr) noexcept {
  detail::GemmQ4Job job;
  QK_RETURN_IF_ERROR(detail::gemm_q4_prepare(w, m, a, lda, c, ldc, lo, hi, executor, &job));
  if (m == 0) return Status::success();
  std::size_t need = 0;
  QK_RETURN_IF_ERROR(gemm_q4_dynamic_workspace_size(w, m, &need));
  if (workspace == nullptr) return Status(StatusCode::null_pointer, "gemm_q4_dynamic: null workspace");
  if (workspace_bytes < need)
    return Status(StatusCode::buffer_too_small, "gemm_q4_dynamic: workspace smaller than gemm_q4_dynamic_workspace_size()",
                  "workspace_bytes", workspace_bytes);
  const std::size_t nb = job.args.n_blocks, row = nb * job.args.block;
  const auto v = reinterpret_cast<std::uintptr_t>(workspace);
  auto* base = reinterpret_cast<std::uint8_t*>((v + detail::kQ4Align - 1) / detail::kQ4Align * detail::kQ4Align);
  const std::size_t q_bytes = detail::div_up(m * row, detail::kQ4Align) * detail::kQ4Align;
  const std::size_t s_bytes = detail::div_up(m * nb * 4, detail::kQ4Align) * detail::kQ4Align;
  job.qa = reinterpret_cast<std::int8_t*>(base);
  job.a_scale = reinterpret_cast<float*>(base + q_bytes);
  job.a_sum = reinterpret_cast<std::int32_t*>(base + q_bytes + s_bytes);
  job.args.qa = job.qa;
  job.args.qa_stride = row;
  job.args.a_scale = job.a_scale;
  job.args.a_sum = job.a_sum;
  job.quantize = w.kernel().quantize;
  job.run = w.kernel().run_dynamic;
  const std::size_t blocks = detail::div_up(m, job.row_block);
  detail::gemm_q4_run_units(executor, blocks, &detail::gemm_q4_quantize_units, &job);
  detail::gemm_q4_run_units(executor, blocks * job.groups, &detail::gemm_q4_units, &job);
  return Status::success();
}

// Scheme (b): weight-only, fp32 A. No workspace.
inline Status gemm_q4_f32(const GemmQ4Weights& w, std::size_t m, const float* a, std::size_t lda, float* c, std::size_t ldc,
                          float lo = -std::numeric_limits<float>::infinity(),
                          float hi = std::numeric_limits<float>::infinity(), Executor* executor = nullptr) noexcept {
  detail::GemmQ4Job job;
  QK_RETURN_IF_ERROR(detail::gemm_q4_prepare(w, m, a, lda, c, ldc, lo, hi, executor, &job));
  if (m == 0) return Status::success();
  job.run = w.kernel().run_f32;
  detail::gemm_q4_run_units(executor, detail::div_up(m, job.row_block) * job.groups, &detail::gemm_q4_units, &job);
  return Status::success();
}

}  // namespace qk
