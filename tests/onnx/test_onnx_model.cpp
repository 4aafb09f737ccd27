// The committed Fashion-MNIST CNN (models/fashion_cnn, trained and exported by
// scripts/ptq/train_fashion_cnn.py): the reference interpreter reproduces PyTorch's logits.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "idx.hpp"
#include "qk/onnx/interpreter.hpp"
#include "qk/onnx/model.hpp"

TEST_CASE("onnx reference interpreter: the Fashion-MNIST CNN matches PyTorch", "[onnx]") {
  const std::string dir = std::string(QK_MODELS_DIR) + "/fashion_cnn";
  qk::onnx::Model model;
  std::string error;
  INFO(error);
  REQUIRE(qk::onnx::load_file((dir + "/fashion_cnn.onnx").c_str(), &model, &error).ok());
  // PyTorch's logits of the first 256 test images, as the export script wrote them; the images
  // are read where Debian's dataset-fashion-mnist has them.
  std::vector<float> logits(256 * 10);
  FILE* f = std::fopen((dir + "/expected_logits.bin").c_str(), "rb");
  REQUIRE(f != nullptr);
  REQUIRE(std::fread(logits.data(), sizeof(float), logits.size(), f) == logits.size());
  std::fclose(f);
  qk_tools::IdxImages test;
  REQUIRE(qk_tools::read_idx_images(std::string(QK_FASHION_MNIST) + "/t10k-images-idx3-ubyte.gz", &test, &error));
  REQUIRE(test.count >= 256);
  const std::vector<unsigned char> images(test.pixels.begin(), test.pixels.begin() + 256 * 28 * 28);
  qk::onnx::Tensor x;
  x.type = qk::onnx::DataType::float32;
  x.dims = {256, 1, 28, 28};
  x.bytes.resize(images.size() * 4);
  for (std::size_t i = 0; i < images.size(); ++i) x.data<float>()[i] = static_cast<float>(images[i]) / 255.0f;
  std::vector<qk::onnx::Tensor> out;
  REQUIRE(qk::onnx::run_reference(model, {x}, &out, &error).ok());
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].dims == std::vector<std::int64_t>{256, 10});
  float worst = 0.0f;
  for (std::size_t i = 0; i < logits.size(); ++i) worst = std::max(worst, std::fabs(out[0].data<float>()[i] - logits[i]));
  INFO("max |qk - PyTorch| = " << worst);
  CHECK(worst < 1e-3f);
}
