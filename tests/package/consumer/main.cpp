// Built with -fno-exceptions -fno-rtti: the umbrella header must compile and work without them.
#include <qk/qk.hpp>

#include <cstdio>

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(__GXX_RTTI) || defined(__cpp_rtti)
#error "the consumer must be compiled with -fno-exceptions -fno-rtti"
#endif

int main() {
  std::int32_t multiplier = 0;
  int shift = 0;
  if (!qk::quantize_multiplier(0.25, &multiplier, &shift)) {
    std::printf("quantize_multiplier failed\n");
    return 1;
  }
  // 0.25 = 2^30 * 2^(-1 - 31): 100 * 0.25 = 25.
  const std::int32_t y = qk::multiply_by_quantized_multiplier(100, multiplier, shift);
  std::printf("qk %s consumer: 100 * 0.25 = %d, isa %s\n", qk::kVersionString, static_cast<int>(y),
              qk::isa_name(qk::active_isa()));
  return (y == 25 && multiplier == (1 << 30) && shift == -1) ? 0 : 1;
}
