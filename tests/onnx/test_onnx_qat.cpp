// The quantization-aware fine-tuned Fashion-MNIST CNNs (models/fashion_cnn/qat_int{8,4,3}.onnx, written
// by scripts/ptq/qat_finetune.py into qk-quantize's QDQ layout) run through qk's integer network,
// against PyTorch's fake-quant simulation of the same file (qat_int*_sim_logits.s8: the simulated
// int8 logits of all 10,000 test images, as the script computed them).
//
// Issue 16's target: qk's integer model and the simulation agree on >= 99.9% of the test images.
// The simulation rounds each requantization once (float multiply, round half to even); qk with
// RequantRounding::single_rounding rounds the exact product once too, with a 31-bit multiplier,
// so the two differ only where the 31-bit multiplier or the tie rule moves a value across a
// rounding boundary. TFLite's default double rounding differs more (measured: 99.87%).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "idx.hpp"
#include "qk/onnx/model.hpp"
#include "qk/onnx/network.hpp"

namespace {

struct Agreement {
  std::size_t images = 0, same_top1 = 0;
  double max_steps = 0;
};

Agreement run_against_simulation(const qk::onnx::Model& model, const std::vector<std::int8_t>& sim,
                                 const qk_tools::IdxImages& test, qk::RequantRounding rounding) {
  const std::size_t batch = 100, classes = 10, px = 28 * 28;
  qk::onnx::NetworkOptions options;
  options.rounding = rounding;
  qk::onnx::Network net;
  std::string error;
  INFO(error);
  REQUIRE(net.build(model, batch, &error, options).ok());
  REQUIRE(net.input_count() == batch * px);
  REQUIRE(net.output_count() == batch * classes);
  // The logits' quantization: the DequantizeLinear of the graph output.
  const qk::onnx::Tensor* scale = model.initializer(model.outputs[0].name + "/scale");
  const qk::onnx::Tensor* zero = model.initializer(model.outputs[0].name + "/zero_point");
  REQUIRE(scale != nullptr);
  REQUIRE(zero != nullptr);
  const float s = scale->data<float>()[0];
  const int zp = zero->data<std::int8_t>()[0];
  std::vector<unsigned char> arena(net.arena_size());
  std::vector<float> in(net.input_count()), out(net.output_count());
  Agreement a;
  for (std::size_t i = 0; i < test.count; i += batch) {
    const std::size_t b = std::min(batch, test.count - i);
    std::fill(in.begin(), in.end(), 0.0f);
    for (std::size_t k = 0; k < b * px; ++k) in[k] = static_cast<float>(test.pixels[i * px + k]) / 255.0f;
    REQUIRE(net.run(in.data(), out.data(), arena.data(), arena.size()).ok());
    for (std::size_t k = 0; k < b; ++k) {
      const float* q = out.data() + k * classes;
      const std::int8_t* p = sim.data() + (i + k) * classes;
      // arg max, first of equal values (numpy's and qk-quantize's rule)
      std::size_t tq = 0, tp = 0;
      for (std::size_t c = 1; c < classes; ++c) {
        if (q[c] > q[tq]) tq = c;
        if (p[c] > p[tp]) tp = c;
      }
      a.same_top1 += tq == tp;
      for (std::size_t c = 0; c < classes; ++c)
        // qk's logit is (v - zp) * s for an integer v: recover v exactly by rounding.
        a.max_steps = std::max(a.max_steps, std::fabs(std::nearbyint(static_cast<double>(q[c]) / s) + zp - p[c]));
    }
    a.images += b;
  }
  return a;
}

}  // namespace

TEST_CASE("onnx network: the QAT-fine-tuned models agree with their fake-quant simulation on >= 99.9% of images", "[onnx][qat]") {
  // int8 weights, and int4 / int3 weights per channel (INT4 in the file, qk's s4 layers).
  const char* widths[] = {"8", "4", "3"};
  const std::string dir = std::string(QK_MODELS_DIR) + "/fashion_cnn";
  qk_tools::IdxImages test;
  std::string error;
  INFO(error);
  REQUIRE(qk_tools::read_idx_images(std::string(QK_FASHION_MNIST) + "/t10k-images-idx3-ubyte.gz", &test, &error));
  REQUIRE(test.count == 10000);
  for (const char* bits : widths) {
    INFO("int" << bits << " weights");
    qk::onnx::Model model;
    REQUIRE(qk::onnx::load_file((dir + "/qat_int" + bits + ".onnx").c_str(), &model, &error).ok());
    std::vector<std::int8_t> sim(test.count * 10);
    FILE* f = std::fopen((dir + "/qat_int" + bits + "_sim_logits.s8").c_str(), "rb");
    REQUIRE(f != nullptr);
    REQUIRE(std::fread(sim.data(), 1, sim.size(), f) == sim.size());
    std::fclose(f);

    const Agreement single = run_against_simulation(model, sim, test, qk::RequantRounding::single_rounding);
    const Agreement twice = run_against_simulation(model, sim, test, qk::RequantRounding::double_rounding);
    const double pct_single = 100.0 * static_cast<double>(single.same_top1) / static_cast<double>(single.images);
    const double pct_double = 100.0 * static_cast<double>(twice.same_top1) / static_cast<double>(twice.images);
    WARN("QAT int" << bits << " model vs simulation, " << single.images << " images: single rounding " << pct_single
                   << "% top-1, max " << single.max_steps << " steps; double rounding " << pct_double << "%, max "
                   << twice.max_steps << " steps");
    CHECK(pct_single >= 99.9);
    CHECK(single.max_steps <= 1.0);
    // Double rounding is the TFLite default and is expected to part from the simulation more
    // often; if it ever agreed as well, the rounding option would not be doing anything.
    CHECK(twice.same_top1 < single.same_top1);
  }
}
