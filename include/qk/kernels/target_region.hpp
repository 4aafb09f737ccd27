// qk/kernels/target_region.hpp - open and close a region compiled for other instructions.
//
//   QK_TARGET_PUSH("avx2,fma")   ... kernels ...   QK_TARGET_POP
//
// Every function defined in between (templates and helpers included) gets the target
// attribute, so it may use those instructions while the rest of the program stays baseline:
// GCC via `#pragma GCC push_options` + `#pragma GCC target`, Clang via
// `#pragma clang attribute push(__attribute__((target(...))), apply_to = function)` (Clang
// ignores GCC's target pragma). Rules inside a region: no standard-library includes (their
// inline functions would be compiled for the target too), nothing with vector types crosses the
// boundary (only pointers, sizes and plain structs), and no lambdas (GCC does not give them the
// region's target).
#pragma once

#define QK_PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define QK_TARGET_PUSH(features) QK_PRAGMA(clang attribute push(__attribute__((target(features))), apply_to = function))
#define QK_TARGET_POP QK_PRAGMA(clang attribute pop)
#elif defined(__GNUC__)
#define QK_TARGET_PUSH(features) QK_PRAGMA(GCC push_options) QK_PRAGMA(GCC target(features))
#define QK_TARGET_POP QK_PRAGMA(GCC pop_options)
#else
#define QK_TARGET_PUSH(features)
#define QK_TARGET_POP
#endif
