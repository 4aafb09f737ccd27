// src/qk_compiled.cpp - the one translation unit of qk's compiled mode (qk/core/compiled.hpp).
//
// Defines the kernel tables, and so compiles every kernel family this target has (each inside
// its own target region: no -m flags here either), exactly once for the program. Users' files
// built with QK_COMPILED see the declarations only.
#ifndef QK_COMPILED
#define QK_COMPILED 1
#endif
#define QK_COMPILED_IMPLEMENTATION 1

#include "qk/kernels/depthwise_registry.hpp"
#include "qk/kernels/elementwise_registry.hpp"
#include "qk/kernels/gemm_q4_registry.hpp"
#include "qk/kernels/gemm_registry.hpp"
#include "qk/kernels/pool_registry.hpp"
