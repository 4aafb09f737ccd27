// qk::layers::Sequence (qk/layers/sequence.hpp): the arena size is the largest adjacent pair of
// intermediate tensors (64-byte rounded) plus the largest workspace, checked as a number; tensors
// that are live together never overlap; results equal running the layers one by one with
// separate buffers, whatever the arena held before (poisoned); chaining and run errors write
// nothing; run() allocates nothing (counted by replacing the global operator new in this test
// binary: Catch2 does not replace it, and qk's layers allocate with new (std::nothrow)).
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <random>
#include <vector>

#include "qk/layers/conv.hpp"
#include "qk/layers/fully_connected.hpp"
#include "qk/layers/pool.hpp"
#include "qk/layers/sequence.hpp"
#include "qk/layers/softmax.hpp"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
void* counted_malloc(std::size_t n) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
}  // namespace

// Every allocating form a layer could use (plain, array, nothrow); the aligned forms keep the
// library's own pair. A failed plain new aborts: this test binary never runs out of memory.
void* operator new(std::size_t n) {
  void* p = counted_malloc(n);
  if (p == nullptr) std::abort();
  return p;
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

using qk::ElementType;
using qk::StatusCode;
using qk::layers::Layer;
using qk::layers::Shape4;

std::vector<std::int8_t> random_i8(std::mt19937& rng, std::size_t n) {
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<std::int8_t> v(n);
  for (auto& x : v) x = static_cast<std::int8_t>(d(rng));
  return v;
}

std::size_t count(const Shape4& s) {
  std::size_t n = 0;
  REQUIRE(s.count(&n));
  return n;
}
std::size_t round64(std::size_t n) { return (n + 63) / 64 * 64; }

// A small keyword-spotting-like chain, built from float: conv 3x3 (relu) -> depthwise 3x3
// stride 2 -> pointwise 1x1 -> global average pool -> FC -> softmax, batch 2.
struct Net {
  qk::layers::Conv2D conv;
  qk::layers::DepthwiseConv2D dw;
  qk::layers::Conv2D pw;
  qk::layers::GlobalAveragePool pool;
  qk::layers::FullyConnected fc;
  qk::layers::Softmax softmax;
  std::vector<Layer*> chain() { return {&conv, &dw, &pw, &pool, &fc, &softmax}; }

  explicit Net(std::mt19937& rng) {
    const std::vector<float> s8(8, 0.01f), s16(16, 0.02f), s5(5, 0.03f);
    auto w1 = random_i8(rng, 8 * 3 * 3 * 3), w2 = random_i8(rng, 3 * 3 * 8), w3 = random_i8(rng, 16 * 8), w4 = random_i8(rng, 5 * 16);
    qk::layers::FloatQuantization q;
    q.input = {0.05f, -5}, q.output = {0.1f, -128}, q.weight_scales = s8.data(), q.activation = qk::layers::Activation::relu;
    qk::layers::Conv2DOptions c;
    c.input = {2, 9, 7, 3}, c.out_c = 8, c.kernel_h = c.kernel_w = 3, c.padding = qk::layers::Padding::same;
    REQUIRE(conv.init(c, w1.data(), q).ok());
    qk::layers::DepthwiseConv2DOptions d;
    d.input = {2, 9, 7, 8}, d.kernel_h = d.kernel_w = 3, d.stride_h = d.stride_w = 2, d.padding = qk::layers::Padding::same;
    q.input = {0.1f, -128}, q.output = {0.08f, 3}, q.activation = qk::layers::Activation::none;
    REQUIRE(dw.init(d, w2.data(), q).ok());
    qk::layers::Conv2DOptions p;
    p.input = {2, 5, 4, 8}, p.out_c = 16, p.kernel_h = p.kernel_w = 1;
    q.input = {0.08f, 3}, q.output = {0.2f, 0}, q.weight_scales = s16.data();
    REQUIRE(pw.init(p, w3.data(), q).ok());
    REQUIRE(pool.init(ElementType::s8, Shape4{2, 5, 4, 16}, qk::layers::QuantInfo{0.2f, 0}, qk::layers::QuantInfo{0.1f, 1}).ok());
    qk::layers::FullyConnectedOptions f;
    f.batch = 2, f.depth = 16, f.out_c = 5;
    q.input = {0.1f, 1}, q.output = {0.15f, -7}, q.weight_scales = s5.data();
    REQUIRE(fc.init(f, w4.data(), q).ok());
    REQUIRE(softmax.init(Shape4{2, 1, 1, 5}, ElementType::s8, qk::layers::QuantInfo{0.15f, -7}, 1.0f,
                         qk::layers::QuantInfo{1.0f / 256.0f, -128})
                .ok());
  }
};

// The layers one at a time, each with its own buffers: what a Sequence must reproduce.
std::vector<std::uint8_t> run_one_by_one(const std::vector<Layer*>& chain, const std::vector<std::uint8_t>& input) {
  std::vector<std::uint8_t> cur = input;
  for (const Layer* l : chain) {
    std::vector<std::uint8_t> next(count(l->output_shape()));
    std::size_t ws = 0;
    REQUIRE(l->workspace_size(1, &ws).ok());
    std::vector<std::uint8_t> work(ws + 1);
    const void* in = cur.data();
    REQUIRE(l->run(&in, next.data(), work.data(), ws).ok());
    cur.swap(next);
  }
  return cur;
}

// A layer that takes two inputs: a Sequence must refuse it.
class TwoInputs final : public Layer {
 public:
  const char* op_name() const noexcept override { return "two_inputs"; }
  bool built() const noexcept override { return true; }
  std::size_t input_count() const noexcept override { return 2; }
  Shape4 input_shape(std::size_t) const noexcept override { return Shape4{2, 1, 1, 5}; }
  Shape4 output_shape() const noexcept override { return Shape4{2, 1, 1, 5}; }
  ElementType input_type(std::size_t) const noexcept override { return ElementType::s8; }
  ElementType output_type() const noexcept override { return ElementType::s8; }
  qk::Status run(const void* const*, void*, void*, std::size_t, qk::Executor*) const noexcept override {
    return qk::Status::success();
  }
};

}  // namespace

TEST_CASE("Sequence: arena = largest adjacent pair + largest workspace, live tensors never overlap", "[layers][sequence]") {
  std::mt19937 rng(5);
  Net net(rng);
  auto chain = net.chain();
  qk::layers::Sequence seq;
  REQUIRE(seq.init(chain.data(), chain.size()).ok());
  REQUIRE(seq.layer_count() == 6);
  // Intermediate tensors t1..t5: 2x9x7x8, 2x5x4x8, 2x5x4x16, 2x1x1x16, 2x1x1x5 bytes.
  const std::size_t t[] = {0, 1008, 320, 640, 32, 10, 0};
  for (std::size_t i = 0; i < 5; ++i) REQUIRE(count(chain[i]->output_shape()) == t[i + 1]);
  REQUIRE(count(chain[5]->output_shape()) == 10);  // t6: the caller's output, not in the arena
  // Pairs, 64-byte rounded: 1024, 1024+320, 320+640, 640+64, 64+64, 64: the peak is 1344,
  // while all five tensors would take 2112.
  REQUIRE(seq.activation_bytes() == 1344);
  std::size_t ws = 0;
  for (const Layer* l : chain) {
    std::size_t w = 0;
    REQUIRE(l->workspace_size(1, &w).ok());
    ws = std::max(ws, w);
  }
  std::size_t arena = 0;
  REQUIRE(seq.arena_size(1, &arena).ok());
  REQUIRE(arena == 1344 + ws);
  std::size_t as_layer = 0;
  REQUIRE(seq.workspace_size(1, &as_layer).ok());
  REQUIRE(as_layer == arena);
  // Layer i reads t_i and writes t_{i+1}: inside the activation region, disjoint, 64-aligned.
  for (std::size_t i = 1; i < 6; ++i) {
    REQUIRE(seq.tensor_offset(i) % 64 == 0);
    REQUIRE(seq.tensor_offset(i) + t[i] <= seq.activation_bytes());
    if (i + 1 < 6) {
      const std::size_t a0 = seq.tensor_offset(i), a1 = a0 + t[i], b0 = seq.tensor_offset(i + 1), b1 = b0 + t[i + 1];
      REQUIRE((a1 <= b0 || b1 <= a0));
    }
  }
  // One layer: the arena is its workspace alone.
  Layer* one[] = {&net.conv};
  qk::layers::Sequence single;
  REQUIRE(single.init(one, 1).ok());
  std::size_t conv_ws = 0;
  REQUIRE(net.conv.workspace_size(1, &conv_ws).ok());
  REQUIRE(single.arena_size(1, &arena).ok());
  REQUIRE(arena == conv_ws);
  REQUIRE(single.activation_bytes() == 0);
}

TEST_CASE("Sequence: results equal the layers run one by one, whatever the arena held, run allocates nothing",
          "[layers][sequence]") {
  std::mt19937 rng(11);
  Net net(rng);
  auto chain = net.chain();
  qk::layers::Sequence seq;
  REQUIRE(seq.init(chain.data(), chain.size()).ok());
  std::size_t arena_bytes = 0;
  REQUIRE(seq.arena_size(1, &arena_bytes).ok());
  for (int trial = 0; trial < 5; ++trial) {
    const auto in8 = random_i8(rng, 2 * 9 * 7 * 3);
    const std::vector<std::uint8_t> in(in8.begin(), in8.end());
    const auto want = run_one_by_one(chain, in);
    REQUIRE(want.size() == 10);
    for (int poison = 0; poison < 3; ++poison) {
      std::vector<std::uint8_t> arena(arena_bytes);
      for (auto& b : arena) b = poison == 0 ? 0x00 : poison == 1 ? 0xFF : static_cast<std::uint8_t>(rng());
      std::vector<std::uint8_t> got(10 + 8, 0x5A);
      g_allocations = 0;
      g_counting = true;
      const qk::Status st = seq.run(in.data(), got.data(), arena.data(), arena.size());
      g_counting = false;
      REQUIRE(st.ok());
      REQUIRE(g_allocations == 0);
      for (std::size_t i = 0; i < 10; ++i) REQUIRE(got[i] == want[i]);
      for (std::size_t i = 10; i < got.size(); ++i) REQUIRE(got[i] == 0x5A);
    }
    // As a Layer (nested in another Sequence), and with a thread pool.
    Layer* outer_chain[] = {&seq};
    qk::layers::Sequence outer;
    REQUIRE(outer.init(outer_chain, 1).ok());
    std::size_t outer_bytes = 0;
    REQUIRE(outer.arena_size(1, &outer_bytes).ok());
    REQUIRE(outer_bytes == arena_bytes);
    std::vector<std::uint8_t> arena(outer_bytes, 0x33), got(10);
    REQUIRE(outer.run(in.data(), got.data(), arena.data(), arena.size()).ok());
    REQUIRE(got == want);
#if !defined(QK_NO_THREADS)
    qk::ThreadPool pool(2);
    std::size_t threaded_bytes = 0;
    REQUIRE(seq.arena_size(2, &threaded_bytes).ok());
    REQUIRE(threaded_bytes >= arena_bytes);
    std::vector<std::uint8_t> big(threaded_bytes, 0xC3);
    std::fill(got.begin(), got.end(), 0);
    REQUIRE(seq.run(in.data(), got.data(), big.data(), big.size(), &pool).ok());
    REQUIRE(got == want);
#endif
  }
}

TEST_CASE("Sequence: chaining and run errors name the problem and write nothing", "[layers][sequence][errors]") {
  std::mt19937 rng(3);
  Net net(rng);
  auto chain = net.chain();
  qk::layers::Sequence seq;
  REQUIRE(seq.init(chain.data(), chain.size()).ok());
  std::size_t arena_bytes = 0;
  REQUIRE(seq.arena_size(1, &arena_bytes).ok());
  // A failed init leaves the sequence as it was.
  auto unchanged = [&] {
    REQUIRE(seq.layer_count() == 6);
    std::size_t b = 0;
    REQUIRE(seq.arena_size(1, &b).ok());
    REQUIRE(b == arena_bytes);
  };
  auto expect_init = [&](Layer* const* layers, std::size_t n, StatusCode code, long long layer_index) {
    const qk::Status st = seq.init(layers, n);
    INFO(st.message());
    REQUIRE(st.code() == code);
    if (layer_index >= 0) {
      REQUIRE(std::string(st.value_name()) == "layer");
      REQUIRE(st.int_value() == layer_index);
    }
    unchanged();
  };
  expect_init(nullptr, 3, StatusCode::null_pointer, -1);
  expect_init(chain.data(), 0, StatusCode::bad_shape, -1);
  std::vector<Layer*> many(qk::layers::Sequence::kMaxLayers + 1, &net.softmax);
  expect_init(many.data(), many.size(), StatusCode::bad_shape, -1);
  {
    auto c = chain;
    c[2] = nullptr;
    expect_init(c.data(), c.size(), StatusCode::null_pointer, 2);
  }
  {
    qk::layers::Conv2D unbuilt;
    auto c = chain;
    c[1] = &unbuilt;
    expect_init(c.data(), c.size(), StatusCode::invalid_argument, 1);
  }
  {
    // FC after the depthwise: 320 elements offered, 32 expected.
    Layer* c[] = {&net.conv, &net.dw, &net.fc};
    expect_init(c, 3, StatusCode::bad_shape, 2);
  }
  {
    // A uint8 FC of the right count after an int8 pool: types differ.
    qk::layers::FullyConnected u8fc;
    qk::layers::FullyConnectedOptions f;
    f.batch = 2, f.depth = 16, f.out_c = 5, f.type = ElementType::u8;
    const std::vector<std::uint8_t> w(80, 3);
    const float s = 0.01f;
    qk::layers::FloatQuantization q;
    q.input = {0.1f, 128}, q.output = {0.2f, 128}, q.weight_scales = &s, q.per_channel = false;
    REQUIRE(u8fc.init(f, w.data(), q).ok());
    Layer* c[] = {&net.pool, &u8fc};
    expect_init(c, 2, StatusCode::invalid_argument, 1);
  }
  {
    TwoInputs two;
    Layer* c[] = {&net.fc, &two};
    expect_init(c, 2, StatusCode::invalid_argument, 1);
  }
  {
    Layer* c[] = {&net.conv, &seq};
    expect_init(c, 2, StatusCode::invalid_argument, 1);
  }

  const auto in8 = random_i8(rng, 2 * 9 * 7 * 3);
  std::vector<std::uint8_t> arena(arena_bytes), out(10 + 4, 0xEE);
  auto untouched = [&] {
    for (std::uint8_t b : out) REQUIRE(b == 0xEE);
  };
  REQUIRE(seq.run(static_cast<const void*>(nullptr), out.data(), arena.data(), arena_bytes).code() == StatusCode::null_pointer);
  REQUIRE(seq.run(in8.data(), nullptr, arena.data(), arena_bytes).code() == StatusCode::null_pointer);
  REQUIRE(seq.run(in8.data(), out.data(), nullptr, arena_bytes).code() == StatusCode::null_pointer);
  REQUIRE(seq.run(in8.data(), out.data(), arena.data(), arena_bytes - 1).code() == StatusCode::buffer_too_small);
  REQUIRE(seq.run(static_cast<const void* const*>(nullptr), out.data(), arena.data(), arena_bytes).code() ==
          StatusCode::null_pointer);
  untouched();
  qk::layers::Sequence empty;
  REQUIRE(!empty.built());
  REQUIRE(empty.run(in8.data(), out.data(), arena.data(), arena_bytes).code() == StatusCode::invalid_argument);
  std::size_t b = 0;
  REQUIRE(empty.arena_size(1, &b).code() == StatusCode::invalid_argument);
  REQUIRE(seq.arena_size(1, nullptr).code() == StatusCode::null_pointer);
  untouched();
  // A layer re-initialized with another shape after init: run refuses instead of overrunning.
  qk::layers::DepthwiseConv2DOptions d;
  d.input = {2, 9, 7, 8}, d.kernel_h = d.kernel_w = 3, d.padding = qk::layers::Padding::same;  // stride 1 now
  const std::vector<float> s8(8, 0.01f);
  const std::vector<std::int8_t> w(72, 1);
  qk::layers::FloatQuantization q;
  q.input = {0.1f, -128}, q.output = {0.08f, 3}, q.weight_scales = s8.data();
  REQUIRE(net.dw.init(d, w.data(), q).ok());
  const qk::Status st = seq.run(in8.data(), out.data(), arena.data(), arena_bytes);
  REQUIRE(st.code() == StatusCode::invalid_argument);
  REQUIRE(st.int_value() == 1);
  untouched();
}

TEST_CASE("Sequence: a uint8 chain (conv -> FC) equals its layers one by one", "[layers][sequence]") {
  std::mt19937 rng(21);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<std::uint8_t> w1(6 * 2 * 2 * 4), w2(3 * 6 * 4 * 3 * 2), x(3 * 5 * 4 * 4);
  for (auto* v : {&w1, &w2, &x})
    for (auto& e : *v) e = static_cast<std::uint8_t>(byte(rng));
  const std::vector<float> s6(6, 0.004f);
  const float s3 = 0.003f;
  const std::vector<std::int32_t> zw1(6, 130);
  const std::int32_t zw2 = 120;
  qk::layers::FloatQuantization q;
  q.input = {0.02f, 128}, q.output = {0.05f, 100}, q.weight_scales = s6.data(), q.weight_zero_points = zw1.data();
  qk::layers::Conv2DOptions c;
  c.input = {3, 5, 4, 4}, c.out_c = 6, c.kernel_h = c.kernel_w = 2, c.type = ElementType::u8, c.weight_type = ElementType::u8;
  qk::layers::Conv2D conv;
  REQUIRE(conv.init(c, w1.data(), q).ok());
  REQUIRE(conv.output_shape() == (Shape4{3, 4, 3, 6}));
  qk::layers::FullyConnectedOptions f;
  f.batch = 3, f.depth = 72, f.out_c = 2, f.type = ElementType::u8, f.weight_type = ElementType::u8;
  q.input = {0.05f, 100}, q.output = {0.3f, 7}, q.weight_scales = &s3, q.per_channel = false, q.weight_zero_points = &zw2;
  qk::layers::FullyConnected fc;
  std::size_t packed = 0;
  REQUIRE(qk::layers::FullyConnected::packed_size(f, &packed).ok());
  std::vector<std::uint8_t> packed_buf(packed);
  REQUIRE(fc.init(f, w2.data(), q, packed_buf.data() + 1, packed - 1).code() == StatusCode::buffer_too_small);
  REQUIRE(fc.init(f, w2.data(), q, packed_buf.data(), packed).ok());
  std::vector<Layer*> chain = {&conv, &fc};
  qk::layers::Sequence seq;
  REQUIRE(seq.init(chain.data(), 2).ok());
  std::size_t bytes = 0;
  REQUIRE(seq.arena_size(1, &bytes).ok());
  std::size_t conv_ws = 0;
  REQUIRE(conv.workspace_size(1, &conv_ws).ok());
  REQUIRE(bytes == round64(3 * 4 * 3 * 6) + conv_ws);
  std::vector<std::uint8_t> arena(bytes, 0x99), got(6);
  REQUIRE(seq.run(x.data(), got.data(), arena.data(), bytes).ok());
  REQUIRE(got == run_one_by_one(chain, x));
}
