// qk/layers/sequence.hpp - runs single-input layers in order, each on the previous one's output,
// out of one caller-provided arena: one size query, no allocation when running.
//
//   qk::layers::Layer* net[] = {&conv, &dw, &pw, &pool, &fc, &softmax};  // built, caller-owned
//   qk::layers::Sequence seq;
//   QK_RETURN_IF_ERROR(seq.init(net, 6));
//   std::size_t bytes = 0;
//   QK_RETURN_IF_ERROR(seq.arena_size(threads, &bytes));    // once
//   QK_RETURN_IF_ERROR(seq.run(input, output, arena, bytes));  // any number of times
//
// Not a TFLite kernel: this is TFLite's interpreter loop (and its arena planner) for a chain.
// Tensors are flat NHWC buffers: layer i's output feeds layer i+1 when their element counts and
// types match (a 1x1xC pool output is an FC's C inputs, as in TFLite), shapes need not.
//
// The arena. The sequence input is read where the caller has it and the last layer writes the
// caller's output, so only the L - 1 intermediate tensors t_1 .. t_{L-1} live in the arena. While
// layer i runs only t_i and t_{i+1} are live, so the even-numbered tensors sit at the start of the
// activation region and the odd-numbered ones at its end: the region is the largest *adjacent
// pair* size(t_i) + size(t_{i+1}), not the sum of all tensors (TFLite's greedy planner finds the
// same bound for a chain). Each size is rounded up to 64 bytes so every tensor starts 64-byte
// aligned relative to the arena. After the activation region comes one workspace region, the
// largest any layer asks for (layers run one at a time, so they share it):
//   arena_size = max_i (round64(t_i) + round64(t_{i+1}))  +  max_i workspace_i(threads)
// with t_0 = t_L = 0 (they are the caller's). The placement is computed once, at init.
//
// A Sequence is itself a Layer (its workspace is the arena), so a sequence can be a step of
// another. The layers are caller-owned and must stay alive and unchanged (not re-initialized, not
// moved) while the sequence is used; run() re-checks each layer's counts and types cheaply and
// fails rather than overrun the arena if one changed.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qk/core/checked.hpp"
#include "qk/core/status.hpp"
#include "qk/core/threading.hpp"
#include "qk/layers/layer.hpp"

namespace qk {
namespace layers {

class Sequence final : public Layer {
 public:
  // Fixed-size tables: no allocation at all, at init or run. 64 covers the MLPerf Tiny and
  // MobileNet-class chains; a longer network is several sequences chained (a Sequence is a Layer).
  static constexpr std::size_t kMaxLayers = 64;
  static constexpr std::size_t kAlign = 64;

  Sequence() = default;

  // layers[0 .. count): built, single-input; layer i's output element count and type equal layer
  // i+1's input's. On error the sequence is left as it was.
  Status init(Layer* const* layers, std::size_t count) noexcept {
    if (layers == nullptr) return Status(StatusCode::null_pointer, "sequence: null layer list");
    if (count == 0) return Status(StatusCode::bad_shape, "sequence: no layers", "count", count);
    if (count > kMaxLayers)
      return Status(StatusCode::bad_shape, "sequence: more layers than Sequence::kMaxLayers (64)", "count", count);
    Sequence fresh;
    for (std::size_t i = 0; i < count; ++i) {
      const Layer* l = layers[i];
      if (l == nullptr) return Status(StatusCode::null_pointer, "sequence: null layer", "layer", i);
      if (l == this) return Status(StatusCode::invalid_argument, "sequence: contains itself", "layer", i);
      if (!l->built()) return Status(StatusCode::invalid_argument, "sequence: layer not built", "layer", i);
      if (l->input_count() != 1)
        return Status(StatusCode::invalid_argument, "sequence: layer has more than one input", "layer", i);
      std::size_t in = 0, out = 0;
      if (!l->input_shape(0).count(&in) || !l->output_shape().count(&out))
        return Status(StatusCode::size_overflow, "sequence: a layer's tensor element count overflows", "layer", i);
      if (i == 0) {
        fresh.elements_[0] = in;
      } else {
        if (in != fresh.elements_[i])
          return Status(StatusCode::bad_shape,
                        "sequence: layer's input element count differs from the previous layer's output", "layer", i);
        if (l->input_type(0) != layers[i - 1]->output_type())
          return Status(StatusCode::invalid_argument, "sequence: layer's input type differs from the previous layer's output",
                        "layer", i);
      }
      fresh.elements_[i + 1] = out;
      fresh.layers_[i] = layers[i];
    }
    fresh.count_ = count;
    // Activation region: the largest adjacent pair of intermediate tensors (64-byte rounded).
    std::size_t region = 0;
    for (std::size_t i = 0; i < count; ++i) {
      std::size_t a = 0, b = 0, pair = 0;
      if (!fresh.stored_bytes(i, &a) || !fresh.stored_bytes(i + 1, &b) || !detail::checked_add(a, b, &pair))
        return Status(StatusCode::size_overflow, "sequence: activation arena size overflows", "layer", i);
      if (pair > region) region = pair;
    }
    for (std::size_t t = 1; t < count; ++t) {
      std::size_t b = 0;
      (void)fresh.stored_bytes(t, &b);  // succeeded above
      fresh.offset_[t] = t % 2 == 0 ? 0 : region - b;
    }
    fresh.activation_bytes_ = region;
    *this = fresh;
    return Status::success();
  }

  // Bytes of the arena run() needs with an executor of `threads` concurrency (1: serial).
  Status arena_size(std::size_t threads, std::size_t* bytes) const noexcept {
    if (bytes == nullptr) return Status(StatusCode::null_pointer, "sequence arena_size: null output");
    if (!built()) return Status(StatusCode::invalid_argument, "sequence arena_size: sequence not initialized");
    std::size_t ws = 0;
    QK_RETURN_IF_ERROR(max_workspace(threads, &ws));
    std::size_t total = 0;
    if (!detail::checked_add(activation_bytes_, ws, &total))
      return Status(StatusCode::size_overflow, "sequence arena_size: activations + workspace overflows", "workspace", ws);
    *bytes = total;
    return Status::success();
  }

  // The part of the arena that holds the intermediate tensors, and where tensor t (1 .. L-1)
  // starts in it: for tests and tools.
  std::size_t activation_bytes() const noexcept { return activation_bytes_; }
  std::size_t tensor_offset(std::size_t t) const noexcept { return t > 0 && t < count_ ? offset_[t] : 0; }
  std::size_t layer_count() const noexcept { return count_; }

  // input: the first layer's input; output: receives the last layer's output; arena: at least
  // arena_size(1) bytes (arena_size(executor's concurrency) to use all its threads in layers
  // whose workspace grows with threads). Its contents on entry do not matter. Validates
  // everything before the first layer runs; a layer failing later leaves `output` unwritten
  // (unless it is the last, which writes nothing on error either).
  Status run(const void* input, void* output, void* arena, std::size_t arena_bytes,
             Executor* executor = nullptr) const noexcept {
    if (!built()) return Status(StatusCode::invalid_argument, "sequence run: sequence not initialized");
    if (input == nullptr) return Status(StatusCode::null_pointer, "sequence run: null input");
    if (output == nullptr) return Status(StatusCode::null_pointer, "sequence run: null output");
    for (std::size_t i = 0; i < count_; ++i) {
      const Layer* l = layers_[i];
      std::size_t in = 0, out = 0;
      if (!l->built() || l->input_count() != 1 || !l->input_shape(0).count(&in) || !l->output_shape().count(&out) ||
          in != elements_[i] || out != elements_[i + 1] || (i > 0 && l->input_type(0) != layers_[i - 1]->output_type()))
        return Status(StatusCode::invalid_argument, "sequence run: a layer changed since init (re-initialize the sequence)",
                      "layer", i);
    }
    std::size_t need = 0;
    QK_RETURN_IF_ERROR(arena_size(1, &need));
    if (need > 0 && arena == nullptr) return Status(StatusCode::null_pointer, "sequence run: null arena");
    if (arena_bytes < need)
      return Status(StatusCode::buffer_too_small, "sequence run: arena smaller than arena_size()", "arena_bytes", arena_bytes);
    std::uint8_t* base = static_cast<std::uint8_t*>(arena);
    void* workspace = base != nullptr ? base + activation_bytes_ : nullptr;
    const std::size_t workspace_bytes = arena_bytes - activation_bytes_;
    for (std::size_t i = 0; i < count_; ++i) {
      const void* in = i == 0 ? input : base + offset_[i];
      void* out = i + 1 == count_ ? output : base + offset_[i + 1];
      QK_RETURN_IF_ERROR(layers_[i]->run(&in, out, workspace, workspace_bytes, executor));
    }
    return Status::success();
  }

  // --- Layer --------------------------------------------------------------------------------
  const char* op_name() const noexcept override { return "sequence"; }
  bool built() const noexcept override { return count_ > 0; }
  Shape4 input_shape(std::size_t) const noexcept override { return built() ? layers_[0]->input_shape(0) : Shape4{}; }
  Shape4 output_shape() const noexcept override { return built() ? layers_[count_ - 1]->output_shape() : Shape4{}; }
  ElementType input_type(std::size_t) const noexcept override {
    return built() ? layers_[0]->input_type(0) : ElementType::s8;
  }
  ElementType output_type() const noexcept override { return built() ? layers_[count_ - 1]->output_type() : ElementType::s8; }
  Status workspace_size(std::size_t threads, std::size_t* bytes) const noexcept override { return arena_size(threads, bytes); }
  Status run(const void* const* inputs, void* output, void* workspace, std::size_t workspace_bytes,
             Executor* executor = nullptr) const noexcept override {
    if (inputs == nullptr) return Status(StatusCode::null_pointer, "sequence run: null input list");
    return run(inputs[0], output, workspace, workspace_bytes, executor);
  }

 private:
  // Arena bytes of tensor t: 0 for the caller's input (t = 0) and output (t = count_).
  bool stored_bytes(std::size_t t, std::size_t* bytes) const noexcept {
    if (t == 0 || t >= count_) {
      *bytes = 0;
      return true;
    }
    return detail::checked_round_up(elements_[t], kAlign, bytes);
  }

  Status max_workspace(std::size_t threads, std::size_t* bytes) const noexcept {
    std::size_t most = 0;
    for (std::size_t i = 0; i < count_; ++i) {
      std::size_t ws = 0;
      QK_RETURN_IF_ERROR(layers_[i]->workspace_size(threads, &ws));
      if (ws > most) most = ws;
    }
    *bytes = most;
    return Status::success();
  }

  const Layer* layers_[kMaxLayers] = {};
  std::size_t elements_[kMaxLayers + 1] = {};  // element (= byte) count of t_0 .. t_L
  std::size_t offset_[kMaxLayers + 1] = {};    // arena offset of t_1 .. t_{L-1}
  std::size_t count_ = 0;
  std::size_t activation_bytes_ = 0;
};

}  // namespace layers
}  // namespace qk
