// qk/kernels/elementwise_contract.hpp - what an element-wise kernel family promises and receives.
//
// The layers (qk/layers/elementwise.hpp, activation.hpp) reduce every broadcast to contiguous
// runs (see make_broadcast_plan there): a run of n outputs reads n elements of the first operand
// and either n elements of the second (`b_broadcast` false: equal shapes, or one run of a
// per-channel [1,1,1,C] operand) or one element of it read n times (`b_broadcast` true: a scalar
// operand, a [N,H,W,1] operand). A run whose FIRST operand is the fixed one is passed with the
// operands (and, for Add and Mul, their parameters) swapped: both ops are symmetric in form.
//
// Every function works on bytes: int8 (`is_signed`) or uint8 data of one type for inputs and
// output. `out` may be the same buffer as `a` or `b` (each output reads only its own index);
// any other overlap is undefined. n may be 0. No allocation, no failure: parameters are
// validated by the layer (ranges below); a kernel relies on them.
//
// Arithmetic, bit for bit (the scalar family, kernels/scalar/elementwise.hpp, is the definition,
// itself tested against qk::multiply_by_quantized_multiplier_double_rounding):
//  - add: TFLite's 8-bit Add: a_i = MBQM((x_i + offset_i) * 2^left_shift, multiplier_i, shift_i),
//    out = clamp(MBQM(a_1 + a_2, output_multiplier, output_shift) + output_offset, act_min,
//    act_max). Ranges: offsets are minus a zero point of the type (|x + offset| <= 255),
//    left_shift in [0, 20], multipliers >= 0, every shift in [-31, 0].
//  - mul: out = clamp(MBQM((x_1 + offset_1) * (x_2 + offset_2), output_multiplier, output_shift)
//    + output_offset, act_min, act_max). output_shift in [-31, 30], multiplier >= 0.
//  - maximum / minimum: clamp(max (min) of the raw values, act_min, act_max).
//  - lut: out[i] = table[in[i]] (256 entries, indexed by the byte's bit pattern).
// MBQM is TFLite's MultiplyByQuantizedMultiplier (double rounding); act_min <= act_max in the type.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {
namespace kernels {

struct EwAddParams {
  std::int32_t offset1 = 0, offset2 = 0;
  std::int32_t left_shift = 20;
  std::int32_t multiplier1 = 0, shift1 = 0;
  std::int32_t multiplier2 = 0, shift2 = 0;
  std::int32_t output_multiplier = 0, output_shift = 0;
  std::int32_t output_offset = 0;
  std::int32_t act_min = -128, act_max = 127;

  // The same operation with the operands' roles exchanged.
  EwAddParams swapped() const noexcept {
    EwAddParams p = *this;
    p.offset1 = offset2, p.offset2 = offset1;
    p.multiplier1 = multiplier2, p.multiplier2 = multiplier1;
    p.shift1 = shift2, p.shift2 = shift1;
    return p;
  }
};

struct EwMulParams {
  std::int32_t offset1 = 0, offset2 = 0;
  std::int32_t output_multiplier = 0, output_shift = 0;
  std::int32_t output_offset = 0;
  std::int32_t act_min = -128, act_max = 127;

  EwMulParams swapped() const noexcept {
    EwMulParams p = *this;
    p.offset1 = offset2, p.offset2 = offset1;
    return p;
  }
};

struct EwClampParams {
  std::int32_t act_min = -128, act_max = 127;
};

using EwAddFn = void (*)(const EwAddParams& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b,
                         bool b_broadcast, std::uint8_t* out, std::size_t n);
using EwMulFn = void (*)(const EwMulParams& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b,
                         bool b_broadcast, std::uint8_t* out, std::size_t n);
using EwMinMaxFn = void (*)(const EwClampParams& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b,
                            bool b_broadcast, std::uint8_t* out, std::size_t n);
using EwLutFn = void (*)(const std::uint8_t* table, const std::uint8_t* in, std::uint8_t* out, std::size_t n);

// One family: plain function pointers, so a layer keeps the table it chose at init.
struct ElementwiseKernels {
  const char* name;
  EwAddFn add;
  EwMulFn mul;
  EwMinMaxFn maximum;
  EwMinMaxFn minimum;
  EwLutFn lut;
};

}  // namespace kernels
}  // namespace qk
