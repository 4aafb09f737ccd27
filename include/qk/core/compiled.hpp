// qk/core/compiled.hpp - header-only (the default) or compiled mode.
//
// Header-only: every kernel is an inline function, compiled in each translation unit that
// reaches it (the linker keeps one copy). Simple to take in, but a file that runs a convolution
// compiles every ISA family's kernels: tens of seconds at -O2.
//
// Compiled mode, as fmt's FMT_HEADER_ONLY / stb's *_IMPLEMENTATION offer it: define QK_COMPILED
// in every file of the program (CMake: link qk::qk_compiled, which does it) and compile
// src/qk_compiled.cpp once (the target does that too; without CMake:
//   g++ -std=c++17 -O2 -DQK_COMPILED -Iinclude -c src/qk_compiled.cpp
// and link its object). Users' files then see only the kernel tables' declarations
// (qk/kernels/*_registry.hpp, the one boundary between operators and kernels); operators,
// validation and packing stay inline, as they are cheap to compile.
//
// QK_COMPILED_IMPLEMENTATION is defined by src/qk_compiled.cpp alone, before any qk header:
// there QK_KERNEL_TABLE is empty, so the tables get one external definition.
#pragma once

#if defined(QK_COMPILED) && defined(QK_COMPILED_IMPLEMENTATION)
#define QK_KERNEL_TABLE
#else
#define QK_KERNEL_TABLE inline
#endif
