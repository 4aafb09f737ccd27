// qk-run-qdq: run qk's int8 network on an existing QDQ ONNX model (no calibration) over the
// Fashion-MNIST / MNIST test set and write its logits.
//
//   qk-run-qdq qat_int8.onnx --logits qk_logits.f32 [--data DIR] [--test-samples N] [--rounding single]
//
// The model is lowered exactly as qk-quantize lowers its own output (qk::onnx::Network, batch
// 100): QuantizeLinear of the float input, int8 layers with TFLite-style fixed-point
// requantization (double rounding, or with --rounding single the single rounding that a float
// simulation of the model computes), DequantizeLinear of the output. Images are pixel / 255, NCHW. The logits file is
// raw float32 [N][classes], row-major, little-endian (the dequantized int8 outputs), the format of
// qk-quantize --dump's qk_logits.f32. Prints the top-1 accuracy.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "idx.hpp"
#include "qk/onnx/model.hpp"
#include "qk/onnx/network.hpp"

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "qk-run-qdq: %s\n", what.c_str());
  std::exit(1);
}

void usage() {
  std::fprintf(stderr,
               "usage: qk-run-qdq MODEL_QDQ.onnx [options]\n"
               "  --data DIR          IDX files (t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]),\n"
               "                      default /usr/share/datasets/fashion-mnist\n"
               "  --logits FILE       write the logits, float32 [N][classes]\n"
               "  --test-samples N    the first N test images (default all)\n"
               "  --rounding R        double (TFLite's default) | single: the conv/FC requantization\n");
}

std::string find_file(const std::string& dir, const std::string& base) {
  for (const char* ext : {"", ".gz"}) {
    const std::string p = dir + "/" + base + ext;
    if (std::ifstream(p).good()) return p;
  }
  return dir + "/" + base + ".gz";
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, data_dir = "/usr/share/datasets/fashion-mnist", logits_path;
  std::size_t test_n = 0;
  qk::onnx::NetworkOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value after " + a);
      return argv[++i];
    };
    if (a == "--data") data_dir = value();
    else if (a == "--logits") logits_path = value();
    else if (a == "--test-samples") {
      const std::string v = value();
      char* end = nullptr;
      const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end != 0 || n == 0) die("--test-samples needs a positive integer, not '" + v + "'");
      test_n = static_cast<std::size_t>(n);
    } else if (a == "--rounding") {
      const std::string v = value();
      if (v != "single" && v != "double") die("--rounding takes single or double, not '" + v + "'");
      options.rounding = v == "single" ? qk::RequantRounding::single_rounding : qk::RequantRounding::double_rounding;
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else if (!a.empty() && a[0] == '-') die("unknown option " + a);
    else if (model_path.empty()) model_path = a;
    else die("more than one model given");
  }
  if (model_path.empty()) {
    usage();
    return 2;
  }
  std::string error;
  qk::onnx::Model model;
  if (!qk::onnx::load_file(model_path.c_str(), &model, &error).ok()) die(error);
  qk_tools::IdxImages images;
  std::vector<std::uint8_t> labels;
  if (!qk_tools::read_idx_images(find_file(data_dir, "t10k-images-idx3-ubyte"), &images, &error) ||
      !qk_tools::read_idx_labels(find_file(data_dir, "t10k-labels-idx1-ubyte"), &labels, &error))
    die(error);
  if (labels.size() != images.count) die("images and labels differ in count");
  test_n = test_n == 0 ? images.count : std::min(test_n, images.count);

  const std::size_t batch = 100;
  qk::onnx::Network net;
  if (!net.build(model, batch, &error, options).ok()) die(error);
  const std::size_t px = images.rows * images.cols;
  if (net.input_count() != batch * px) die("the model's input is not one 28x28-style image channel of the IDX size");
  const std::size_t classes = net.output_count() / batch;
  std::vector<unsigned char> arena(net.arena_size());
  std::vector<float> in(net.input_count()), out(net.output_count()), all;
  all.reserve(test_n * classes);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < test_n; i += batch) {
    const std::size_t b = std::min(batch, test_n - i);
    std::fill(in.begin(), in.end(), 0.0f);
    for (std::size_t k = 0; k < b * px; ++k) in[k] = static_cast<float>(images.pixels[i * px + k]) / 255.0f;
    if (!net.run(in.data(), out.data(), arena.data(), arena.size()).ok()) die("network run failed");
    for (std::size_t k = 0; k < b; ++k) {
      const float* row = out.data() + k * classes;
      const std::size_t p = static_cast<std::size_t>(std::max_element(row, row + classes) - row);
      correct += p == labels[i + k];
    }
    all.insert(all.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(b * classes));
  }
  std::printf("qk layers:\n%s", net.describe().c_str());
  std::printf("qk int8 accuracy: %.2f%% (%zu / %zu test images)\n",
              100.0 * static_cast<double>(correct) / static_cast<double>(test_n), correct, test_n);
  if (!logits_path.empty()) {
    std::ofstream f(logits_path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(all.data()), static_cast<std::streamsize>(all.size() * sizeof(float)));
    if (!f) die("cannot write " + logits_path);
    std::printf("wrote %s (%zu x %zu float32)\n", logits_path.c_str(), test_n, classes);
  }
  return 0;
}
