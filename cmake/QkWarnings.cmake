# Warnings are errors for everything qk builds itself (tests, benchmarks, examples), with GCC and
# Clang. Not applied to qk::qk: consumers choose their own flags.
add_library(qk_warnings INTERFACE)
target_compile_options(qk_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wcast-qual -Wold-style-cast
  -Wnon-virtual-dtor -Wundef -Werror)

# QK_SANITIZE=ON: AddressSanitizer + UndefinedBehaviorSanitizer, any UB report is fatal.
option(QK_SANITIZE "Build tests with ASan + UBSan" OFF)
if(QK_SANITIZE)
  target_compile_options(qk_warnings INTERFACE -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(qk_warnings INTERFACE -fsanitize=address,undefined -fno-sanitize-recover=all)
  # GCC 12's flow analysis sees the sanitizers' instrumentation and reports spurious
  # -Wmaybe-uninitialized inside libstdc++ (std::function in <regex>, used by Catch2), which
  # -Werror turns into a failed build. The plain GCC pass keeps the warning.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(qk_warnings INTERFACE -Wno-maybe-uninitialized)
  endif()
endif()
