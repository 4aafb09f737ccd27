// qk/qk.hpp - everything qk offers, in one include.
//
// Headers that other parts of the library are still growing into are included only when they
// exist (__has_include), so this umbrella compiles at every commit; once all of them have
// landed the guards are harmless. Including the individual headers is equally supported and
// compiles less.
#pragma once

#include "qk/version.hpp"
#include "qk/core/status.hpp"
#include "qk/core/isa.hpp"
#include "qk/fixed_point.hpp"

#if defined(__has_include)
#if __has_include("qk/quantize.hpp")
#include "qk/quantize.hpp"
#endif
#if __has_include("qk/gemm.hpp")
#include "qk/gemm.hpp"
#endif
#if __has_include("qk/conv.hpp")
#include "qk/conv.hpp"
#endif
#if __has_include("qk/conv_f32.hpp")
#include "qk/conv_f32.hpp"
#endif
#endif
