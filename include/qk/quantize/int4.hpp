// qk/quantize/int4.hpp - low-bit (2 to 8 bit) weights: bit packing, fp16 / bf16 scales, qk's
// blockwise weight format, and converters from ONNX MatMulNBits and llama.cpp Q4_0.
//
// docs/int4.md describes the formats, the quantization formulas and their sources, and the
// measured accuracy; this header is the definition.
//
//  - Bit packing (pack_signed_bits / pack_unsigned_bits and unpack_*): element i of a b-bit
//    array occupies bits [i*b, i*b + b) of a bit stream that fills each byte from its least
//    significant bit (ONNX MatMulNBits' packing). For 4 bits that is two values a byte, the first
//    in the low nibble (TFLite and ONNX int4), for 2 bits four a byte, for 8 bits one; 3, 5, 6 and
//    7 bit values straddle bytes. One code path serves every width.
//  - fp16 and bf16 conversions, exact and independent of the compiler's and the CPU's half
//    support: widening is exact, narrowing rounds to nearest even, with subnormals, infinities
//    and NaN (quieted, sign and leading payload kept).
//  - BlockwiseFormat: the weights W[N][K] of a GEMM / fully connected layer (N output channels,
//    K the reduction), quantized along K in blocks with one scale (fp32, fp16 or bf16) and
//    optionally one zero point per (row, block). What qk's low-bit kernels consume.
//  - quantize_blockwise / dequantize_blockwise: ONNX Runtime's MatMulNBits quantizer
//    (MlasQuantizeBlockwise) formulas, float W <-> the format.
//  - convert_matmul_nbits, convert_q4_0: a MatMulNBits initializer set or a llama.cpp Q4_0
//    tensor into the format, dequantizing to exactly the same floats.
//
// Contract of every entry point: all inputs are validated before the first write, and a non-ok
// Status means nothing was written. No allocation, no exceptions, no RTTI.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "qk/core/checked.hpp"
#include "qk/core/status.hpp"

namespace qk {

// ------------------------------------------------------------------------------------------------
// fp16 (IEEE binary16) and bf16 (the top half of a binary32), held as their bit patterns.

namespace detail {
inline std::uint32_t float_bits(float f) noexcept {
  std::uint32_t u = 0;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float bits_float(std::uint32_t u) noexcept {
  float f = 0.0f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
}  // namespace detail

// Exact: every fp16 value is a float. NaN payloads are kept (a signalling NaN stays signalling).
inline float half_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1Fu;
  const std::uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float (a normal float for any mantissa > 0).
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return detail::bits_float(detail::float_bits(magnitude) | sign);
  }
  if (exponent == 31) return detail::bits_float(sign | 0x7F800000u | (mantissa << 13));
  return detail::bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

// Round to nearest, ties to even. Magnitudes from 65520 up (the midpoint between the largest
// half, 65504, and 2^16) become infinity; below 2^-14 the result is subnormal; 2^-25 and less
// round to zero (2^-25 itself is a tie, to the even 0). NaN stays NaN: quieted, sign and the
// payload's top 9 bits kept.
inline std::uint16_t float_to_half(float f) noexcept {
  const std::uint32_t u = detail::float_bits(f);
  const std::uint32_t sign = (u >> 16) & 0x8000u;
  const std::uint32_t a = u & 0x7FFFFFFFu;
  std::uint32_t h = 0;
  if (a > 0x7F800000u) {
    h = 0x7E00u | ((a >> 13) & 0x3FFu);
  } else if (a >= 0x477FF000u) {
    h = 0x7C00u;
  } else if (a >= 0x38800000u) {  // normal half: drop 13 mantissa bits, carry may bump the exponent
    h = (((a >> 23) - 112u) << 10) | ((a >> 13) & 0x3FFu);
    const std::uint32_t rest = a & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u) != 0)) ++h;
  } else if (a > 0x33000000u) {  // subnormal half: value / 2^-24 rounded; 0x400 is the smallest normal
    const std::uint32_t exponent = a >> 23;  // 102..112
    const std::uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
    const std::uint32_t shift = 126u - exponent;  // 14..24
    h = m >> shift;
    const std::uint32_t rest = m & ((1u << shift) - 1u);
    const std::uint32_t half = 1u << (shift - 1u);
    if (rest > half || (rest == half && (h & 1u) != 0)) ++h;
  }
  return static_cast<std::uint16_t>(sign | h);
}

// Exact.
inline float bf16_to_float(std::uint16_t b) noexcept { return detail::bits_float(static_cast<std::uint32_t>(b) << 16); }

// Round to nearest, ties to even (subnormals and overflow to infinity fall out of the integer
// rounding); NaN stays NaN, quieted, sign and the payload's top 6 bits kept.
inline std::uint16_t float_to_bf16(float f) noexcept {
  const std::uint32_t u = detail::float_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
  return static_cast<std::uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// The type of stored block scales.
enum class ScaleType : int {
  f32 = 0,   // float
  f16 = 1,   // IEEE half, as its uint16_t bit pattern
  bf16 = 2,  // bfloat16, as its uint16_t bit pattern
};

namespace detail {

inline bool is_scale_type(ScaleType t) noexcept {
  return t == ScaleType::f32 || t == ScaleType::f16 || t == ScaleType::bf16;
}
inline std::size_t scale_type_bytes(ScaleType t) noexcept { return t == ScaleType::f32 ? 4 : 2; }

// Element i of an array of t at p (no alignment needed).
inline float load_scale(const void* p, ScaleType t, std::size_t i) noexcept {
  const unsigned char* bytes = static_cast<const unsigned char*>(p);
  if (t == ScaleType::f32) {
    float f = 0.0f;
    std::memcpy(&f, bytes + i * 4, 4);
    return f;
  }
  std::uint16_t h = 0;
  std::memcpy(&h, bytes + i * 2, 2);
  return t == ScaleType::f16 ? half_to_float(h) : bf16_to_float(h);
}

// The scale type's value nearest to f, stored at element i of p, and that value as a float.
inline float store_scale(void* p, ScaleType t, std::size_t i, float f) noexcept {
  unsigned char* bytes = static_cast<unsigned char*>(p);
  if (t == ScaleType::f32) {
    std::memcpy(bytes + i * 4, &f, 4);
    return f;
  }
  const std::uint16_t h = t == ScaleType::f16 ? float_to_half(f) : float_to_bf16(f);
  std::memcpy(bytes + i * 2, &h, 2);
  return t == ScaleType::f16 ? half_to_float(h) : bf16_to_float(h);
}

inline float round_to_scale_type(float f, ScaleType t) noexcept {
  if (t == ScaleType::f32) return f;
  return t == ScaleType::f16 ? half_to_float(float_to_half(f)) : bf16_to_float(float_to_bf16(f));
}

}  // namespace detail

// Reads scale i of an array of t (for kernels and tests; no validation).
inline float load_scale(const void* scales, ScaleType t, std::size_t i) noexcept {
  return detail::load_scale(scales, t, i);
}

// ------------------------------------------------------------------------------------------------
// Bit packing, 2 to 8 bits.

constexpr int kMinPackedBits = 2;
constexpr int kMaxPackedBits = 8;

namespace detail {

inline Status check_packed_bits(int bits) noexcept {
  if (bits < kMinPackedBits || bits > kMaxPackedBits)
    return Status(StatusCode::invalid_argument, "bit width must be in [2, 8]", "bits", bits);
  return Status::success();
}

// ceil(count * bits / 8) without overflow; false when count * bits does not fit in size_t.
inline bool packed_byte_count(std::size_t count, int bits, std::size_t* bytes) noexcept {
  std::size_t total_bits = 0;
  if (!checked_mul(count, static_cast<std::size_t>(bits), &total_bits)) return false;
  *bytes = div_up(total_bits, 8);
  return true;
}

// The b-bit code of element i of the LSB-first stream at p. A code spans at most two bytes
// (bit offset <= 7, width <= 8); the second is read only when the code reaches into it, so a
// reader never touches a byte past the stream.
inline std::uint32_t read_code(const std::uint8_t* p, std::size_t i, unsigned bits) noexcept {
  const std::size_t bit = i * bits;
  const std::size_t at = bit / 8;
  const unsigned shift = static_cast<unsigned>(bit % 8);
  std::uint32_t window = p[at];
  if (shift + bits > 8) window |= static_cast<std::uint32_t>(p[at + 1]) << 8;
  return (window >> shift) & ((1u << bits) - 1u);
}

// ORs code (< 2^bits) into element i of the stream at p, whose bits there must be zero: writers
// clear their whole byte range first, which also defines every bit no element covers as 0.
inline void or_code(std::uint8_t* p, std::size_t i, unsigned bits, std::uint32_t code) noexcept {
  const std::size_t bit = i * bits;
  const std::size_t at = bit / 8;
  const unsigned shift = static_cast<unsigned>(bit % 8);
  const std::uint32_t window = code << shift;
  p[at] = static_cast<std::uint8_t>(p[at] | (window & 0xFFu));
  if (shift + bits > 8) p[at + 1] = static_cast<std::uint8_t>(p[at + 1] | (window >> 8));
}

// Two's-complement b-bit code of a signed value, and back.
inline std::uint32_t signed_code(std::int32_t v, unsigned bits) noexcept {
  return static_cast<std::uint32_t>(v) & ((1u << bits) - 1u);
}
inline std::int32_t sign_extend(std::uint32_t code, unsigned bits) noexcept {
  const std::uint32_t sign_bit = 1u << (bits - 1u);
  return static_cast<std::int32_t>(code ^ sign_bit) - static_cast<std::int32_t>(sign_bit);
}

// The null test stays in each caller's own body: there GCC sees that a null output returns
// before the memset (through a call it may not, and -Wnonnull fires in the user's build).
inline Status check_pack_args(std::size_t n, int bits, std::size_t* bytes) noexcept {
  QK_RETURN_IF_ERROR(check_packed_bits(bits));
  if (!packed_byte_count(n, bits, bytes)) return Status(StatusCode::size_overflow, "packed size overflows size_t", "n", n);
  return Status::success();
}

}  // namespace detail

// Bytes holding n b-bit values: ceil(n * bits / 8). Errors: bits outside [2, 8], n * bits
// overflowing size_t, null output.
inline Status packed_bytes(std::size_t n, int bits, std::size_t* bytes) noexcept {
  if (bytes == nullptr) return Status(StatusCode::null_pointer, "packed_bytes: null output");
  QK_RETURN_IF_ERROR(detail::check_packed_bits(bits));
  std::size_t b = 0;
  if (!detail::packed_byte_count(n, bits, &b)) return Status(StatusCode::size_overflow, "packed size overflows size_t", "n", n);
  *bytes = b;
  return Status::success();
}

// Packs n signed values in [-2^(b-1), 2^(b-1) - 1] (two's complement codes) into
// packed_bytes(n, bits) bytes at out; bits of the last byte that no element covers are 0.
// A value out of range is invalid_argument (named, with its value) and nothing is written.
inline Status pack_signed_bits(const std::int8_t* values, std::size_t n, int bits, std::uint8_t* out) noexcept {
  std::size_t bytes = 0;
  QK_RETURN_IF_ERROR(detail::check_pack_args(n, bits, &bytes));
  if (n == 0) return Status::success();
  if (values == nullptr || out == nullptr) return Status(StatusCode::null_pointer, "pack_signed_bits: null data");
  const std::int32_t hi = (std::int32_t{1} << (bits - 1)) - 1;
  for (std::size_t i = 0; i < n; ++i)
    if (values[i] < -hi - 1 || values[i] > hi)
      return Status(StatusCode::invalid_argument, "pack_signed_bits: value outside the signed b-bit range", "value",
                    static_cast<int>(values[i]));
  std::memset(out, 0, bytes);
  const unsigned b = static_cast<unsigned>(bits);
  for (std::size_t i = 0; i < n; ++i) detail::or_code(out, i, b, detail::signed_code(values[i], b));
  return Status::success();
}

// The same for unsigned values in [0, 2^b - 1].
inline Status pack_unsigned_bits(const std::uint8_t* values, std::size_t n, int bits, std::uint8_t* out) noexcept {
  std::size_t bytes = 0;
  QK_RETURN_IF_ERROR(detail::check_pack_args(n, bits, &bytes));
  if (n == 0) return Status::success();
  if (values == nullptr || out == nullptr) return Status(StatusCode::null_pointer, "pack_unsigned_bits: null data");
  const std::uint32_t hi = (1u << bits) - 1u;
  for (std::size_t i = 0; i < n; ++i)
    if (values[i] > hi)
      return Status(StatusCode::invalid_argument, "pack_unsigned_bits: value outside the unsigned b-bit range", "value",
                    static_cast<int>(values[i]));
  std::memset(out, 0, bytes);
  const unsigned b = static_cast<unsigned>(bits);
  for (std::size_t i = 0; i < n; ++i) detail::or_code(out, i, b, values[i]);
  return Status::success();
}

// Unpacks n signed (sign-extended) values from packed_bytes(n, bits) bytes. Bits no element
// covers are ignored.
inline Status unpack_signed_bits(const std::uint8_t* packed, std::size_t n, int bits, std::int8_t* out) noexcept {
  std::size_t bytes = 0;
  QK_RETURN_IF_ERROR(detail::check_pack_args(n, bits, &bytes));
  if (n != 0 && (packed == nullptr || out == nullptr)) return Status(StatusCode::null_pointer, "unpack_signed_bits: null data");
  const unsigned b = static_cast<unsigned>(bits);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::int8_t>(detail::sign_extend(detail::read_code(packed, i, b), b));
  return Status::success();
}

inline Status unpack_unsigned_bits(const std::uint8_t* packed, std::size_t n, int bits, std::uint8_t* out) noexcept {
  std::size_t bytes = 0;
  QK_RETURN_IF_ERROR(detail::check_pack_args(n, bits, &bytes));
  if (n != 0 && (packed == nullptr || out == nullptr)) return Status(StatusCode::null_pointer, "unpack_unsigned_bits: null data");
  const unsigned b = static_cast<unsigned>(bits);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(detail::read_code(packed, i, b));
  return Status::success();
}

// ------------------------------------------------------------------------------------------------
// qk's blockwise weight format.
//
// W[N][K] is stored row by row. Row n is cut along K into blocks of block_size elements (the
// last one may be short), or, per channel, into one block spanning K. Each block is a
// bit-packed array of block_len codes (LSB first, as above) in block_bytes = ceil(block_len *
// bits / 8) bytes, so every block starts on a byte (MatMulNBits' [N][blocks][blob] layout):
//
//   data        [N][blocks_per_row][block_bytes]   codes
//   scales      [N][blocks_per_row]                scale_type (float, or fp16 / bf16 bit patterns)
//   zero_points [N][blocks_per_row]                one uint8_t each, only when zero_points is set
//
//   signed storage (zero_points false):  codes are two's complement q in [-2^(b-1), 2^(b-1)-1],
//                                        w = scale * q
//   unsigned storage (zero_points true): codes are q in [0, 2^b - 1], zp in [0, 2^b - 1],
//                                        w = scale * (q - zp)
//
// computed as float(q - zp) * scale (one rounding, as ONNX Runtime and ggml compute it).
// Scales are finite and nonzero; they may be negative (ONNX Runtime's and llama.cpp's symmetric
// quantizers map each block's largest-magnitude value to -2^(b-1), so half their scales are
// negative: see quantize_blockwise). Padding is defined so that kernels may run whole blocks:
// the elements of a short last block past K hold the block's zero point (0 when signed), so they
// dequantize to exactly 0, and bits after the last element of a block are 0.
// check_blockwise_weights verifies all of this.

// block_size value meaning "one block spanning K" (per-channel quantization).
constexpr std::size_t kPerChannel = 0;
constexpr std::size_t kMinBlockSize = 16;
constexpr std::size_t kMaxBlockSize = 256;

struct BlockwiseFormat {
  std::size_t n = 0;              // rows: output channels
  std::size_t k = 0;              // columns: the reduction
  int bits = 4;                   // 2..8
  std::size_t block_size = 32;    // a power of two in [16, 256], or kPerChannel
  ScaleType scale_type = ScaleType::f32;
  bool zero_points = false;       // false: signed codes, no zero points; true: unsigned codes and zero points
};

// Sizes derived from a format.
struct BlockwiseSizes {
  std::size_t block_len = 0;         // elements a block: block_size, or k per channel
  std::size_t blocks_per_row = 0;    // ceil(k / block_len) (0 when k is 0)
  std::size_t block_bytes = 0;       // ceil(block_len * bits / 8)
  std::size_t row_bytes = 0;         // blocks_per_row * block_bytes
  std::size_t data_bytes = 0;        // n * row_bytes
  std::size_t scale_count = 0;       // n * blocks_per_row
  std::size_t scale_bytes = 0;       // scale_count * (4 for f32, 2 for f16 / bf16)
  std::size_t zero_point_bytes = 0;  // scale_count with zero points, else 0
};

// Read-only view of weights in the format. zero_points is ignored (may be null) without zero points.
struct BlockwiseWeights {
  BlockwiseFormat format;
  const std::uint8_t* data = nullptr;
  const void* scales = nullptr;
  const std::uint8_t* zero_points = nullptr;
};

// Caller memory that a quantization or a conversion writes, with the bytes available in each
// (at least blockwise_sizes' numbers, else buffer_too_small). zero_points may be null without
// zero points.
struct BlockwiseBuffers {
  std::uint8_t* data = nullptr;
  std::size_t data_bytes = 0;
  void* scales = nullptr;
  std::size_t scale_bytes = 0;
  std::uint8_t* zero_points = nullptr;
  std::size_t zero_point_bytes = 0;
};

// Validates the format and computes its sizes. Errors: bits outside [2, 8], a block size that
// is neither kPerChannel nor a power of two in [16, 256] (bad_shape), an unknown scale type,
// a byte count overflowing size_t (size_overflow), null output. *out untouched on error.
inline Status blockwise_sizes(const BlockwiseFormat& f, BlockwiseSizes* out) noexcept {
  if (out == nullptr) return Status(StatusCode::null_pointer, "blockwise_sizes: null output");
  QK_RETURN_IF_ERROR(detail::check_packed_bits(f.bits));
  if (f.block_size != kPerChannel &&
      (f.block_size < kMinBlockSize || f.block_size > kMaxBlockSize || (f.block_size & (f.block_size - 1)) != 0))
    return Status(StatusCode::bad_shape, "block size must be a power of two in [16, 256], or kPerChannel", "block_size",
                  f.block_size);
  if (!detail::is_scale_type(f.scale_type))
    return Status(StatusCode::invalid_argument, "unknown scale type", "scale_type", static_cast<int>(f.scale_type));
  BlockwiseSizes s;
  s.block_len = f.block_size == kPerChannel ? f.k : f.block_size;
  s.blocks_per_row = f.k == 0 ? 0 : detail::div_up(f.k, s.block_len);
  if (!detail::packed_byte_count(s.block_len, f.bits, &s.block_bytes))
    return Status(StatusCode::size_overflow, "block byte count overflows size_t", "k", f.k);
  const Status overflow(StatusCode::size_overflow, "weight byte count overflows size_t", "n", f.n);
  if (!detail::checked_mul(s.blocks_per_row, s.block_bytes, &s.row_bytes)) return overflow;
  if (!detail::checked_mul(f.n, s.row_bytes, &s.data_bytes)) return overflow;
  if (!detail::checked_mul(f.n, s.blocks_per_row, &s.scale_count)) return overflow;
  if (!detail::checked_mul(s.scale_count, detail::scale_type_bytes(f.scale_type), &s.scale_bytes)) return overflow;
  // Dequantization writes n * k floats: that count must be addressable too.
  std::size_t floats = 0, float_bytes = 0;
  if (!detail::checked_mul(f.n, f.k, &floats) || !detail::checked_mul(floats, sizeof(float), &float_bytes)) return overflow;
  s.zero_point_bytes = f.zero_points ? s.scale_count : 0;
  *out = s;
  return Status::success();
}

namespace detail {

inline Status check_buffers(const BlockwiseSizes& s, const BlockwiseBuffers& b) noexcept {
  if ((s.data_bytes != 0 && b.data == nullptr) || (s.scale_bytes != 0 && b.scales == nullptr) ||
      (s.zero_point_bytes != 0 && b.zero_points == nullptr))
    return Status(StatusCode::null_pointer, "blockwise output: null buffer");
  if (b.data_bytes < s.data_bytes)
    return Status(StatusCode::buffer_too_small, "blockwise output: data buffer too small", "data_bytes", b.data_bytes);
  if (b.scale_bytes < s.scale_bytes)
    return Status(StatusCode::buffer_too_small, "blockwise output: scale buffer too small", "scale_bytes", b.scale_bytes);
  if (b.zero_point_bytes < s.zero_point_bytes)
    return Status(StatusCode::buffer_too_small, "blockwise output: zero point buffer too small", "zero_point_bytes",
                  b.zero_point_bytes);
  return Status::success();
}

// Elements of block j of a row (the last block may be short).
inline std::size_t block_length(const BlockwiseFormat& f, const BlockwiseSizes& s, std::size_t j) noexcept {
  const std::size_t k0 = j * s.block_len;
  return f.k - k0 < s.block_len ? f.k - k0 : s.block_len;
}

// Clears a block's bytes and writes its padding codes (elements len .. block_len - 1).
inline void clear_block(std::uint8_t* block, const BlockwiseSizes& s, std::size_t len, unsigned bits,
                        std::uint32_t pad_code) noexcept {
  std::memset(block, 0, s.block_bytes);
  if (pad_code != 0)
    for (std::size_t i = len; i < s.block_len; ++i) or_code(block, i, bits, pad_code);
}

// The code of an element of value q - zp = d in the format's storage.
inline std::uint32_t storage_code(std::int32_t q_unsigned, bool zero_points, unsigned bits) noexcept {
  return zero_points ? static_cast<std::uint32_t>(q_unsigned)
                     : signed_code(q_unsigned - (std::int32_t{1} << (bits - 1u)), bits);
}

// Per-block quantization parameters, ONNX Runtime's formulas (MlasQuantizeBlockwise,
// range2scale / range2scalezp), computed in float:
//   symmetric:  m = the block's max if |max| > |min|, else its min; scale = -m / 2^(b-1);
//               zp = 2^(b-1) (the codes are then stored as q - zp, signed)
//   asymmetric: lo = min(min, 0), hi = max(max, 0); scale = (hi - lo) / (2^b - 1);
//               zp = round_half_away(clamp(-lo / scale, 0, 2^b - 1)) (0 when scale is 0)
// The scale is then rounded to the scale type. A block whose stored scale is 0 (an all-zero
// block, or values too small for the scale type) or whose reciprocal overflows is "degenerate":
// qk stores scale 1 and every code at the zero point (ONNX Runtime stores scale 0 and also
// every code at the zero point: both dequantize to 0).
struct BlockParams {
  float scale_f = 0.0f;   // before rounding to the scale type
  float scale = 1.0f;     // as stored, widened back to float
  float reciprocal = 1.0f;
  std::int32_t zero_point = 0;
  bool degenerate = false;
};

inline Status block_params(const float* x, std::size_t len, unsigned bits, bool zero_points, ScaleType t,
                           BlockParams* p) noexcept {
  float mn = std::numeric_limits<float>::max();
  float mx = -mn;
  for (std::size_t i = 0; i < len; ++i) {
    const float v = x[i];
    if (!std::isfinite(v)) return Status(StatusCode::invalid_argument, "quantize_blockwise: weight is NaN or infinite", "w", v);
    mn = v < mn ? v : mn;
    mx = v > mx ? v : mx;
  }
  BlockParams r;
  if (zero_points) {
    mn = mn < 0.0f ? mn : 0.0f;
    mx = mx > 0.0f ? mx : 0.0f;
    const float qmax = static_cast<float>((1u << bits) - 1u);
    r.scale_f = (mx - mn) / qmax;
    float zp = mn;
    if (r.scale_f != 0.0f) zp = 0.0f - mn / r.scale_f;
    r.zero_point = zp < 0.0f ? 0 : (zp > qmax ? static_cast<std::int32_t>(qmax) : static_cast<std::int32_t>(std::round(zp)));
  } else {
    const float m = std::fabs(mx) > std::fabs(mn) ? mx : mn;
    r.scale_f = -m / static_cast<float>(1u << (bits - 1u));
    r.zero_point = static_cast<std::int32_t>(1u << (bits - 1u));
  }
  if (!std::isfinite(r.scale_f))
    return Status(StatusCode::invalid_argument, "quantize_blockwise: block range overflows float", "scale", r.scale_f);
  r.scale = round_to_scale_type(r.scale_f, t);
  if (std::isinf(r.scale))
    return Status(StatusCode::invalid_argument, "quantize_blockwise: block scale overflows the scale type", "scale", r.scale_f);
  r.reciprocal = r.scale != 0.0f ? 1.0f / r.scale : 0.0f;
  if (r.scale == 0.0f || !std::isfinite(r.reciprocal)) {
    r.degenerate = true;
    r.scale = 1.0f;
    r.reciprocal = 1.0f;
  }
  *p = r;
  return Status::success();
}

}  // namespace detail

// Quantizes W[N][K] (row-major floats, n * k of them) into the format f, writing out's data,
// scales and (with zero points) zero points. Formulas (ONNX Runtime's MatMulNBits quantizer,
// see detail::block_params): with the block's stored scale s and zero point zp,
//   q = clamp(round_half_away(x * (1 / s) + zp), 0, 2^b - 1)
// in float, stored as q (unsigned, with zero points) or q - 2^(b-1) (signed, symmetric).
// The scale is computed in float, rounded to nearest even into the scale type, and the codes are
// computed with the scale as stored, so that dequantization uses the scale the codes were made
// for. Bit for bit what MlasQuantizeBlockwise computes for its bit widths (2, 4, 8) in fp32 and
// fp16, except for degenerate blocks (scale 1 instead of 0, same codes, same dequantized zeros).
// Errors (nothing written): format errors as blockwise_sizes, null w with n * k > 0, null or
// small buffers, a NaN or infinite weight, a block range or scale that overflows (float, or
// fp16's 65504).
inline Status quantize_blockwise(const float* w, const BlockwiseFormat& f, const BlockwiseBuffers& out) noexcept {
  BlockwiseSizes s;
  QK_RETURN_IF_ERROR(blockwise_sizes(f, &s));
  if (s.data_bytes != 0 && w == nullptr) return Status(StatusCode::null_pointer, "quantize_blockwise: null weights");
  QK_RETURN_IF_ERROR(detail::check_buffers(s, out));
  const unsigned bits = static_cast<unsigned>(f.bits);
  detail::BlockParams p;
  // Pass 1 validates every block, so that an error leaves the outputs untouched.
  for (std::size_t r = 0; r < f.n; ++r)
    for (std::size_t j = 0; j < s.blocks_per_row; ++j)
      QK_RETURN_IF_ERROR(detail::block_params(w + r * f.k + j * s.block_len, detail::block_length(f, s, j), bits,
                                              f.zero_points, f.scale_type, &p));
  const float qmax = static_cast<float>((1u << bits) - 1u);
  for (std::size_t r = 0; r < f.n; ++r) {
    for (std::size_t j = 0; j < s.blocks_per_row; ++j) {
      const std::size_t index = r * s.blocks_per_row + j;
      const std::size_t len = detail::block_length(f, s, j);
      const float* x = w + r * f.k + j * s.block_len;
      (void)detail::block_params(x, len, bits, f.zero_points, f.scale_type, &p);
      std::uint8_t* block = out.data + index * s.block_bytes;
      detail::clear_block(block, s, len, bits, detail::storage_code(p.zero_point, f.zero_points, bits));
      const float zp = static_cast<float>(p.zero_point);
      for (std::size_t i = 0; i < len; ++i) {
        std::int32_t q = p.zero_point;
        if (!p.degenerate) {
          // x and the reciprocal are finite and nonzero scales make no NaN; the clamp keeps the
          // float -> int conversion in range.
          float v = std::round(x[i] * p.reciprocal + zp);
          v = v < 0.0f ? 0.0f : (v > qmax ? qmax : v);
          q = static_cast<std::int32_t>(v);
        }
        detail::or_code(block, i, bits, detail::storage_code(q, f.zero_points, bits));
      }
      (void)detail::store_scale(out.scales, f.scale_type, index, p.degenerate ? 1.0f : p.scale_f);
      if (f.zero_points) out.zero_points[index] = static_cast<std::uint8_t>(p.zero_point);
    }
  }
  return Status::success();
}

// Checks weights in the format: the format itself, non-null arrays, every scale finite and
// nonzero, zero points in [0, 2^b - 1], padding codes at the zero point and trailing bits 0.
// Errors: as blockwise_sizes; null_pointer; invalid_argument naming the bad scale, zero point
// or padding code.
inline Status check_blockwise_weights(const BlockwiseWeights& w) noexcept {
  BlockwiseSizes s;
  QK_RETURN_IF_ERROR(blockwise_sizes(w.format, &s));
  const BlockwiseFormat& f = w.format;
  if ((s.data_bytes != 0 && w.data == nullptr) || (s.scale_bytes != 0 && w.scales == nullptr) ||
      (s.zero_point_bytes != 0 && w.zero_points == nullptr))
    return Status(StatusCode::null_pointer, "blockwise weights: null array");
  const unsigned bits = static_cast<unsigned>(f.bits);
  const std::uint32_t code_max = (1u << bits) - 1u;
  for (std::size_t i = 0; i < s.scale_count; ++i) {
    const float scale = detail::load_scale(w.scales, f.scale_type, i);
    if (!std::isfinite(scale) || scale == 0.0f)
      return Status(StatusCode::invalid_argument, "blockwise weights: scale is zero, NaN or infinite", "scale", scale);
    if (f.zero_points && w.zero_points[i] > code_max)
      return Status(StatusCode::invalid_argument, "blockwise weights: zero point outside [0, 2^bits - 1]", "zero_point",
                    static_cast<int>(w.zero_points[i]));
  }
  const std::size_t used_bits_last = (s.block_len * bits) % 8;
  for (std::size_t r = 0; r < f.n; ++r) {
    for (std::size_t j = 0; j < s.blocks_per_row; ++j) {
      const std::size_t index = r * s.blocks_per_row + j;
      const std::uint8_t* block = w.data + index * s.block_bytes;
      const std::uint32_t pad_code = f.zero_points ? w.zero_points[index] : 0u;
      for (std::size_t i = detail::block_length(f, s, j); i < s.block_len; ++i)
        if (detail::read_code(block, i, bits) != pad_code)
          return Status(StatusCode::invalid_argument, "blockwise weights: padding element is not the zero point", "k",
                        j * s.block_len + i);
      if (used_bits_last != 0 && (block[s.block_bytes - 1] >> used_bits_last) != 0)
        return Status(StatusCode::invalid_argument, "blockwise weights: unused trailing bits are not 0", "row", r);
    }
  }
  return Status::success();
}

// W[N][K] = scale * (q - zp) into out (n * k floats, row-major), computed as float(q - zp) *
// scale. Validates w first (check_blockwise_weights); null out with n * k > 0 is null_pointer.
inline Status dequantize_blockwise(const BlockwiseWeights& w, float* out) noexcept {
  QK_RETURN_IF_ERROR(check_blockwise_weights(w));
  const BlockwiseFormat& f = w.format;
  BlockwiseSizes s;
  QK_RETURN_IF_ERROR(blockwise_sizes(f, &s));
  if (f.n != 0 && f.k != 0 && out == nullptr) return Status(StatusCode::null_pointer, "dequantize_blockwise: null output");
  const unsigned bits = static_cast<unsigned>(f.bits);
  for (std::size_t r = 0; r < f.n; ++r) {
    for (std::size_t j = 0; j < s.blocks_per_row; ++j) {
      const std::size_t index = r * s.blocks_per_row + j;
      const float scale = detail::load_scale(w.scales, f.scale_type, index);
      const std::int32_t zp = f.zero_points ? w.zero_points[index] : 0;
      const std::uint8_t* block = w.data + index * s.block_bytes;
      float* y = out + r * f.k + j * s.block_len;
      const std::size_t len = detail::block_length(f, s, j);
      for (std::size_t i = 0; i < len; ++i) {
        const std::uint32_t code = detail::read_code(block, i, bits);
        const std::int32_t q = f.zero_points ? static_cast<std::int32_t>(code) : detail::sign_extend(code, bits);
        y[i] = static_cast<float>(q - zp) * scale;
      }
    }
  }
  return Status::success();
}

// ------------------------------------------------------------------------------------------------
// ONNX Runtime's MatMulNBits (com.microsoft) weights.
//
//   B           uint8 [N][n_blocks][block_size * bits / 8], n_blocks = ceil(K / block_size), each
//               block's codes an LSB-first bit stream (unsigned)
//   scales      [N * n_blocks], float, float16 or bfloat16 (A's type)
//   zero_points optional uint8 [N][ceil(n_blocks * bits / 8)], each row an LSB-first stream of
//               b-bit zero points; absent: every zero point is 2^(bits - 1)
//   W[n][k] = (q - zp) * scale
// (Zero points given in A's float type, which MatMulNBits also accepts, are not supported here.)
struct MatMulNBitsWeights {
  std::size_t n = 0;           // attribute N
  std::size_t k = 0;           // attribute K
  int bits = 4;                // attribute bits, 2..8
  std::size_t block_size = 0;  // attribute block_size: a power of two >= 16 (qk takes 16..256)
  const std::uint8_t* b = nullptr;
  const void* scales = nullptr;
  ScaleType scale_type = ScaleType::f32;
  const std::uint8_t* zero_points = nullptr;  // optional
};

// The format convert_matmul_nbits produces: same shape, bits, block size and scale type; with
// the source's zero points (unsigned storage) if it has them, else signed storage.
inline Status matmul_nbits_format(const MatMulNBitsWeights& src, BlockwiseFormat* out) noexcept {
  if (out == nullptr) return Status(StatusCode::null_pointer, "matmul_nbits_format: null output");
  if (src.block_size == kPerChannel)
    return Status(StatusCode::bad_shape, "MatMulNBits block_size must be a power of two >= 16", "block_size", src.block_size);
  if (src.block_size > kMaxBlockSize && (src.block_size & (src.block_size - 1)) == 0)
    return Status(StatusCode::unsupported, "MatMulNBits block_size above 256 is not supported", "block_size", src.block_size);
  BlockwiseFormat f;
  f.n = src.n;
  f.k = src.k;
  f.bits = src.bits;
  f.block_size = src.block_size;
  f.scale_type = src.scale_type;
  f.zero_points = src.zero_points != nullptr;
  BlockwiseSizes s;
  QK_RETURN_IF_ERROR(blockwise_sizes(f, &s));
  *out = f;
  return Status::success();
}

// Converts MatMulNBits weights into qk's format (matmul_nbits_format(src)). Nearly a copy: the
// blocks have the same bytes and the scales the same bits, with
//   - no zero points: each code's top bit flipped (q - 2^(b-1) as signed; xor 0x88 for 4 bits);
//   - zero points: unpacked to one byte each;
//   - padding codes (past K) set to the zero point;
//   - a zero scale (ORT's quantizer writes 0 for an all-zero block): scale 1, codes at the zero
//     point, which dequantizes to the same zeros (possibly +0 where ORT gives -0).
// The dequantized weights equal MatMulNBits' (q - zp) * scale exactly. Errors (nothing
// written): format errors, null inputs, small buffers, a NaN or infinite scale.
inline Status convert_matmul_nbits(const MatMulNBitsWeights& src, const BlockwiseBuffers& out) noexcept {
  BlockwiseFormat f;
  QK_RETURN_IF_ERROR(matmul_nbits_format(src, &f));
  BlockwiseSizes s;
  QK_RETURN_IF_ERROR(blockwise_sizes(f, &s));
  if (s.data_bytes != 0 && (src.b == nullptr || src.scales == nullptr))
    return Status(StatusCode::null_pointer, "convert_matmul_nbits: null B or scales");
  QK_RETURN_IF_ERROR(detail::check_buffers(s, out));
  for (std::size_t i = 0; i < s.scale_count; ++i) {
    const float scale = detail::load_scale(src.scales, src.scale_type, i);
    if (!std::isfinite(scale))
      return Status(StatusCode::invalid_argument, "convert_matmul_nbits: scale is NaN or infinite", "scale", scale);
  }
  const unsigned bits = static_cast<unsigned>(f.bits);
  std::size_t zp_row_bytes = 0;
  (void)detail::packed_byte_count(s.blocks_per_row, f.bits, &zp_row_bytes);  // <= row_bytes: no overflow
  const std::int32_t default_zp = std::int32_t{1} << (bits - 1u);
  const std::size_t scale_size = detail::scale_type_bytes(f.scale_type);
  for (std::size_t r = 0; r < f.n; ++r) {
    for (std::size_t j = 0; j < s.blocks_per_row; ++j) {
      const std::size_t index = r * s.blocks_per_row + j;
      const std::size_t len = detail::block_length(f, s, j);
      const std::int32_t zp = src.zero_points != nullptr
                                  ? static_cast<std::int32_t>(detail::read_code(src.zero_points + r * zp_row_bytes, j, bits))
                                  : default_zp;
      const std::uint32_t zp_code = detail::storage_code(zp, f.zero_points, bits);
      const bool zero_scale = detail::load_scale(src.scales, src.scale_type, index) == 0.0f;
      const std::uint8_t* from = src.b + index * s.block_bytes;
      std::uint8_t* block = out.data + index * s.block_bytes;
      detail::clear_block(block, s, len, bits, zp_code);
      for (std::size_t i = 0; i < len; ++i) {
        const std::int32_t q = zero_scale ? zp : static_cast<std::int32_t>(detail::read_code(from, i, bits));
        detail::or_code(block, i, bits, detail::storage_code(q, f.zero_points, bits));
      }
      unsigned char* to_scale = static_cast<unsigned char*>(out.scales) + index * scale_size;
      if (zero_scale)
        (void)detail::store_scale(out.scales, f.scale_type, index, 1.0f);
      else
        std::memcpy(to_scale, static_cast<const unsigned char*>(src.scales) + index * scale_size, scale_size);
      if (f.zero_points) out.zero_points[index] = static_cast<std::uint8_t>(zp);
    }
  }
  return Status::success();
}

// ------------------------------------------------------------------------------------------------
// llama.cpp (ggml) Q4_0.
//
// A row of K weights (K a multiple of 32) is K / 32 blocks of 18 bytes: d, an fp16 scale
// (little-endian, as GGUF stores it), then qs[16]; byte j holds element j in its low nibble and
// element j + 16 in its high nibble, each stored as q + 8; W = (nibble - 8) * d
// (ggml-quants.c, dequantize_row_q4_0).
//
// qk's form: 4 bits, blocks of 32, fp16 scales (d's bits), signed storage (Q4_0 is symmetric:
// its zero point is always 8, so signed codes let kernels multiply them directly). Elements are
// reordered to consecutive nibbles and each code is nibble xor 8 (= nibble - 8 in 4-bit two's
// complement). A block with d = 0 gets scale 1 and zero codes (the same zeros).
constexpr std::size_t kQ4_0BlockElements = 32;
constexpr std::size_t kQ4_0BlockBytes = 18;

inline BlockwiseFormat q4_0_format(std::size_t n, std::size_t k) noexcept {
  BlockwiseFormat f;
  f.n = n;
  f.k = k;
  f.bits = 4;
  f.block_size = kQ4_0BlockElements;
  f.scale_type = ScaleType::f16;
  f.zero_points = false;
  return f;
}

// Converts n rows of Q4_0 blocks (n * k / 32 * 18 bytes at blocks) into q4_0_format(n, k).
// Errors (nothing written): k not a multiple of 32 (bad_shape), sizes overflowing, null input,
// null or small buffers, a NaN or infinite d.
inline Status convert_q4_0(const std::uint8_t* blocks, std::size_t n, std::size_t k, const BlockwiseBuffers& out) noexcept {
  if (k % kQ4_0BlockElements != 0)
    return Status(StatusCode::bad_shape, "convert_q4_0: K must be a multiple of 32", "k", k);
  const BlockwiseFormat f = q4_0_format(n, k);
  BlockwiseSizes s;
  QK_RETURN_IF_ERROR(blockwise_sizes(f, &s));
  std::size_t source_bytes = 0;
  if (!detail::checked_mul(s.scale_count, kQ4_0BlockBytes, &source_bytes))
    return Status(StatusCode::size_overflow, "convert_q4_0: Q4_0 byte count overflows size_t", "n", n);
  if (source_bytes != 0 && blocks == nullptr) return Status(StatusCode::null_pointer, "convert_q4_0: null blocks");
  QK_RETURN_IF_ERROR(detail::check_buffers(s, out));
  const auto d_bits = [&](std::size_t index) noexcept {
    const std::uint8_t* b = blocks + index * kQ4_0BlockBytes;
    return static_cast<std::uint16_t>(b[0] | (b[1] << 8));
  };
  for (std::size_t i = 0; i < s.scale_count; ++i) {
    const float d = half_to_float(d_bits(i));
    if (!std::isfinite(d)) return Status(StatusCode::invalid_argument, "convert_q4_0: scale d is NaN or infinite", "d", d);
  }
  for (std::size_t index = 0; index < s.scale_count; ++index) {
    const std::uint16_t d = d_bits(index);
    const bool zero_scale = half_to_float(d) == 0.0f;
    const std::uint8_t* qs = blocks + index * kQ4_0BlockBytes + 2;
    std::uint8_t* block = out.data + index * s.block_bytes;
    for (std::size_t j = 0; j < 16; ++j) {
      const std::uint32_t byte = qs[j];
      const std::uint32_t low = zero_scale ? 0u : (byte & 0x0Fu) ^ 8u;  // element j
      const std::uint32_t high = zero_scale ? 0u : (byte >> 4) ^ 8u;    // element j + 16
      // Elements 2m and 2m + 1 share byte m of the block: j's byte gets element j's code in the
      // nibble of its parity; j + 16 likewise, 8 bytes further.
      const std::size_t byte_low = j / 2, byte_high = 8 + j / 2;
      const unsigned shift = (j % 2) * 4u;
      if (shift == 0) {
        block[byte_low] = static_cast<std::uint8_t>(low);
        block[byte_high] = static_cast<std::uint8_t>(high);
      } else {
        block[byte_low] = static_cast<std::uint8_t>(block[byte_low] | (low << 4));
        block[byte_high] = static_cast<std::uint8_t>(block[byte_high] | (high << 4));
      }
    }
    const std::uint16_t scale_bits = zero_scale ? float_to_half(1.0f) : d;
    std::memcpy(static_cast<unsigned char*>(out.scales) + index * 2, &scale_bits, 2);
  }
  return Status::success();
}

}  // namespace qk
