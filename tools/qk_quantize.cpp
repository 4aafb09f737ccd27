// qk-quantize: fp32 ONNX + calibration images -> a quantized QDQ ONNX model, evaluated on qk.
//
//   qk-quantize models/fashion_cnn/fashion_cnn.onnx --observer entropy --output cnn_int8.onnx --evaluate
//   qk-quantize models/fashion_cnn/fashion_cnn.onnx --table        # every observer x weight scheme
//
// Images are IDX files (MNIST / Fashion-MNIST, gzipped or not), fed as pixel / 255 in NCHW,
// which is how scripts/ptq/train_fashion_cnn.py trains and exports the committed model.
// Calibration draws the first --samples training images; evaluation uses the test set.
// The fp32 column is the reference interpreter (qk/onnx/interpreter.hpp) on the float model;
// the int8 columns run the QDQ model lowered onto qk's layers (qk/onnx/network.hpp).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "idx.hpp"
#include "qk/onnx/interpreter.hpp"
#include "qk/onnx/model.hpp"
#include "qk/onnx/network.hpp"
#include "qk/onnx/quantize.hpp"

namespace {

using qk::onnx::Model;
using qk::onnx::Tensor;

void usage() {
  std::fprintf(stderr,
               "usage: qk-quantize MODEL.onnx [options]\n"
               "  --data DIR          IDX files (train-images-idx3-ubyte[.gz], ..., t10k-*), default\n"
               "                      /usr/share/datasets/fashion-mnist (Debian dataset-fashion-mnist)\n"
               "  --observer NAME     minmax | moving_average | mean_k_sigma | percentile | entropy | mse (default minmax)\n"
               "  --observer-for T=O  observer O for activation tensor T only (repeatable), e.g.\n"
               "                      --observer entropy --observer-for /conv1/conv1.1/Relu_output_0=minmax\n"
               "  --weights SCHEME    int8-per-channel (default) | int8-per-tensor | int4-per-channel |\n"
               "                      int4-per-block | int3-per-channel | int3-per-block | fp16\n"
               "                      (integer weights symmetric; int4/int3 as ONNX INT4, opset 21)\n"
               "  --block N           block size of the per-block schemes along the input (default 32)\n"
               "  --weight-range R    minmax (default) | mse: how each channel's or block's scale is chosen\n"
               "  --activations A     int8 (default, calibrated) | int16 (calibrated, symmetric) |\n"
               "                      dynamic-int8 (quantized at run time) | float32 (with --weights fp16)\n"
               "  --samples N         calibration images, the first N of the training set (default 1000)\n"
               "  --batch N           calibration batch (default 32; the moving average is per batch)\n"
               "  --output FILE       write the quantized model (QDQ ONNX, loads in ONNX Runtime)\n"
               "  --evaluate          test accuracy (fp32 and qk int8), model sizes, qk batch-1 latency\n"
               "                      (one thread; best of 5 means over 1000 test images)\n"
               "  --test-samples N    evaluate on the first N test images (default all)\n"
               "  --table             every scheme and observer (int8 weights x 6 observers, W4A8 and\n"
               "                      int3 per channel and per block 32/64/128 with minmax and mse weight\n"
               "                      ranges, int16 and dynamic activations, fp16 weights), a row each\n"
               "  --csv FILE          with --table or --evaluate: the rows as CSV too (for the plot)\n"
               "  --dump DIR          with --evaluate: write DIR/input.f32 (test images, NCHW), DIR/qk_logits.f32\n"
               "                      (qk's outputs on them; the reference interpreter's for schemes qk does not\n"
               "                      lower) and DIR/labels.u8, to compare with another runtime\n"
               "  --rounding R        double (default, TFLite's) | single: how qk's conv/FC layers requantize\n"
               "                      (single is closer to ONNX Runtime's float requantization)\n"
               "  --quiet             no progress bars\n");
}

bool g_progress = true;
qk::onnx::NetworkOptions g_network;  // --rounding

// A progress bar on stderr, redrawn at most 100 times; nothing when stderr is not a terminal.
struct Progress {
  const char* what;
  std::size_t total, last = static_cast<std::size_t>(-1);
  Progress(const char* w, std::size_t t) : what(w), total(t) { update(0); }
  void update(std::size_t done) {
    if (!g_progress || total == 0) return;
    const std::size_t pct = done * 100 / total;
    if (pct == last) return;
    last = pct;
    char bar[41];
    for (std::size_t i = 0; i < 40; ++i) bar[i] = i < pct * 40 / 100 ? '#' : '.';
    bar[40] = 0;
    std::fprintf(stderr, "\r%-12s [%s] %3zu%% (%zu/%zu)", what, bar, pct, done, total);
    if (done == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }
};

struct Dataset {
  qk_tools::IdxImages train, test;
  std::vector<std::uint8_t> train_labels, test_labels;
};

std::string find_file(const std::string& dir, const std::string& base) {
  for (const char* ext : {"", ".gz"}) {
    const std::string p = dir + "/" + base + ext;
    if (std::ifstream(p).good()) return p;
  }
  return dir + "/" + base + ".gz";
}

bool load_dataset(const std::string& dir, Dataset* d, std::string* error) {
  return qk_tools::read_idx_images(find_file(dir, "train-images-idx3-ubyte"), &d->train, error) &&
         qk_tools::read_idx_labels(find_file(dir, "train-labels-idx1-ubyte"), &d->train_labels, error) &&
         qk_tools::read_idx_images(find_file(dir, "t10k-images-idx3-ubyte"), &d->test, error) &&
         qk_tools::read_idx_labels(find_file(dir, "t10k-labels-idx1-ubyte"), &d->test_labels, error);
}

// Images [first, first + n) as a float NCHW batch of pixel / 255.
Tensor batch_tensor(const qk_tools::IdxImages& im, std::size_t first, std::size_t n) {
  Tensor t;
  t.type = qk::onnx::DataType::float32;
  t.dims = {static_cast<std::int64_t>(n), 1, static_cast<std::int64_t>(im.rows), static_cast<std::int64_t>(im.cols)};
  const std::size_t px = im.rows * im.cols;
  t.bytes.resize(n * px * 4);
  for (std::size_t i = 0; i < n * px; ++i) t.data<float>()[i] = static_cast<float>(im.pixels[first * px + i]) / 255.0f;
  return t;
}

std::size_t argmax(const float* v, std::size_t n) {
  return static_cast<std::size_t>(std::max_element(v, v + n) - v);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "qk-quantize: %s\n", what.c_str());
  std::exit(1);
}

// The reference interpreter's logits of model m on the first n test images, in batches of 100
// (dynamic quantization ranges are per batch, so the batching is part of the result); *classes
// receives the row length.
std::vector<float> reference_logits(const Model& m, const Dataset& d, std::size_t n, const char* what, std::size_t* classes) {
  std::vector<float> logits;
  Progress bar(what, n);
  for (std::size_t i = 0; i < n; i += 100) {
    const std::size_t b = std::min<std::size_t>(100, n - i);
    std::vector<Tensor> out;
    std::string error;
    if (!qk::onnx::run_reference(m, {batch_tensor(d.test, i, b)}, &out, &error).ok()) die(error);
    *classes = out[0].count() / b;
    logits.insert(logits.end(), out[0].data<float>(), out[0].data<float>() + out[0].count());
    bar.update(i + b);
  }
  return logits;
}

// fp32 top-1 predictions of the reference interpreter on the first n test images.
std::vector<std::size_t> float_predictions(const Model& m, const Dataset& d, std::size_t n) {
  std::size_t classes = 0;
  const std::vector<float> logits = reference_logits(m, d, n, "fp32 eval", &classes);
  std::vector<std::size_t> pred;
  for (std::size_t i = 0; i < n; ++i) pred.push_back(argmax(logits.data() + i * classes, classes));
  return pred;
}

struct Result {
  double accuracy = 0, agreement = 0, latency_us = 0;
  std::size_t model_bytes = 0;
  std::string layers;
  double bits_per_weight = 0;  // of the written model (weight_bits_per_weight)
  // false: qk's integer network does not lower this scheme; accuracy comes from the reference
  // interpreter running the QDQ file (what ONNX Runtime computes), and there is no latency.
  bool lowered = true;
};

void write_file(const std::string& path, const void* data, std::size_t bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  if (!f) die("cannot write " + path);
}

void calibrate(const Model& model, const Dataset& d, const qk::onnx::PtqOptions& opt, std::size_t samples, std::size_t batch,
               qk::onnx::Calibrator* cal) {
  std::string error;
  if (!cal->init(model, opt, &error).ok()) die(error);
  samples = std::min(samples, d.train.count);
  Progress bar("calibrating", samples);
  for (std::size_t i = 0; i < samples; i += batch) {
    const std::size_t b = std::min(batch, samples - i);
    if (!cal->observe({batch_tensor(d.train, i, b)}, &error).ok()) die(error);
    bar.update(i + b);
  }
}

// The test images through the reference interpreter running the QDQ model, for schemes the
// integer network does not lower.
void interpreter_accuracy(const Model& qdq, const Dataset& d, std::size_t test_n, const std::vector<std::size_t>& fp32_pred,
                          Result* r, std::vector<float>* logits = nullptr) {
  std::size_t classes = 0, correct = 0, agree = 0;
  std::vector<float> all = reference_logits(qdq, d, test_n, "qdq eval", &classes);
  for (std::size_t i = 0; i < test_n; ++i) {
    const std::size_t p = argmax(all.data() + i * classes, classes);
    correct += p == d.test_labels[i];
    agree += p == fp32_pred[i];
  }
  if (logits != nullptr) *logits = std::move(all);
  r->lowered = false;
  r->accuracy = 100.0 * static_cast<double>(correct) / static_cast<double>(test_n);
  r->agreement = 100.0 * static_cast<double>(agree) / static_cast<double>(test_n);
}

// Bits per weight of a QDQ model as written: over every DequantizeLinear of an integer weight
// initializer (int8, uint8, int4, uint4: not the int32 biases), the bits of its codes (4 for int4,
// so 4 for int3 too) plus 32 per float scale, divided by the number of weights. 0 if none.
double weight_bits_per_weight(const Model& qdq) {
  using qk::onnx::DataType;
  double bits = 0, weights = 0;
  for (const qk::onnx::Node& n : qdq.nodes) {
    if (n.op != qk::onnx::Op::dequantize_linear) continue;
    const Tensor* q = qdq.initializer(n.input(0));
    const Tensor* s = qdq.initializer(n.input(1));
    if (q == nullptr || s == nullptr) continue;
    const bool four = q->type == DataType::int4 || q->type == DataType::uint4;
    if (!four && q->type != DataType::int8 && q->type != DataType::uint8) continue;
    const double count = static_cast<double>(q->count());
    bits += count * (four ? 4.0 : 8.0) + 32.0 * static_cast<double>(s->count());
    weights += count;
  }
  return weights > 0 ? bits / weights : 0.0;
}

Result quantize_and_evaluate(const Model& model, const Dataset& d, const qk::onnx::PtqOptions& opt,
                             const qk::onnx::Calibrator& cal, std::size_t test_n, const std::vector<std::size_t>& fp32_pred,
                             const std::string& output, bool evaluate, const std::string& dump = std::string()) {
  std::string error;
  Model qdq;
  if (!qk::onnx::quantize_qdq(model, cal, opt, &qdq, &error).ok()) die(error);
  std::string bytes;
  if (!qk::onnx::save(qdq, &bytes, &error).ok()) die(error);
  Result r;
  r.model_bytes = bytes.size();
  r.bits_per_weight = weight_bits_per_weight(qdq);
  if (!output.empty()) {
    std::ofstream f(output, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) die("cannot write " + output);
  }
  if (!evaluate) return r;
  // Accuracy: the lowered network, 100 images a run.
  qk::onnx::Network net;
  const std::size_t eb = 100;
  const qk::Status built = net.build(qdq, eb, &error, g_network);
  if (built.code() == qk::StatusCode::unsupported) {
    r.layers = "not lowered onto qk's layers: " + error + "\n";
    // Not lowered: with --dump, the interpreter's logits are what ORT is compared with.
    std::vector<float> logits;
    interpreter_accuracy(qdq, d, test_n, fp32_pred, &r, dump.empty() ? nullptr : &logits);
    if (!dump.empty()) {
      const Tensor x = batch_tensor(d.test, 0, test_n);
      write_file(dump + "/input.f32", x.bytes.data(), x.bytes.size());
      write_file(dump + "/qk_logits.f32", logits.data(), logits.size() * 4);
      write_file(dump + "/labels.u8", d.test_labels.data(), test_n);
    }
    return r;
  }
  if (!built.ok()) die(error);
  r.layers = net.describe();
  std::vector<unsigned char> arena(net.arena_size());
  std::vector<float> logits(net.output_count());
  std::size_t correct = 0, agree = 0;
  std::vector<float> all_logits;
  {
    Progress bar("int8 eval", test_n);
    for (std::size_t i = 0; i < test_n; i += eb) {
      const std::size_t b = std::min(eb, test_n - i);
      Tensor x = batch_tensor(d.test, i, eb <= d.test.count - i ? eb : b);
      std::vector<float> in(net.input_count(), 0.0f);
      std::memcpy(in.data(), x.data<float>(), std::min(in.size(), x.count()) * 4);
      if (!net.run(in.data(), logits.data(), arena.data(), arena.size()).ok()) die("network run failed");
      const std::size_t classes = logits.size() / eb;
      if (!dump.empty()) all_logits.insert(all_logits.end(), logits.begin(), logits.begin() + static_cast<std::ptrdiff_t>(b * classes));
      for (std::size_t k = 0; k < b; ++k) {
        const std::size_t p = argmax(logits.data() + k * classes, classes);
        correct += p == d.test_labels[i + k];
        agree += p == fp32_pred[i + k];
      }
      bar.update(i + b);
    }
  }
  r.accuracy = 100.0 * static_cast<double>(correct) / static_cast<double>(test_n);
  if (!dump.empty()) {
    const Tensor x = batch_tensor(d.test, 0, test_n);
    write_file(dump + "/input.f32", x.bytes.data(), x.bytes.size());
    write_file(dump + "/qk_logits.f32", all_logits.data(), all_logits.size() * 4);
    write_file(dump + "/labels.u8", d.test_labels.data(), test_n);
  }
  r.agreement = 100.0 * static_cast<double>(agree) / static_cast<double>(test_n);
  // Latency: batch 1, one thread, mean over up to 1000 test images after 50 warm-up runs; the
  // best of 5 such means (the one least disturbed by other processes), as the PyTorch and ORT
  // scripts report it.
  qk::onnx::Network one;
  if (!one.build(qdq, 1, &error, g_network).ok()) die(error);
  std::vector<unsigned char> arena1(one.arena_size());
  std::vector<float> out1(one.output_count());
  const std::size_t runs = std::min<std::size_t>(1000, d.test.count);
  std::vector<Tensor> images;
  for (std::size_t i = 0; i < runs; ++i) images.push_back(batch_tensor(d.test, i, 1));
  for (std::size_t i = 0; i < 50; ++i) (void)one.run(images[i % runs].data<float>(), out1.data(), arena1.data(), arena1.size());
  r.latency_us = 1e300;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < runs; ++i) (void)one.run(images[i].data<float>(), out1.data(), arena1.data(), arena1.size());
    const auto t1 = std::chrono::steady_clock::now();
    r.latency_us = std::min(r.latency_us, std::chrono::duration<double, std::micro>(t1 - t0).count() / static_cast<double>(runs));
  }
  return r;
}

std::size_t file_size(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  return f ? static_cast<std::size_t>(f.tellg()) : 0;
}


// One row of the table: a scheme and an observer.
struct Row {
  qk::onnx::PtqOptions options;
};

std::vector<Row> table_rows() {
  using qk::onnx::ActivationScheme;
  using qk::onnx::RangeMethod;
  using qk::onnx::WeightRange;
  using qk::onnx::WeightScheme;
  std::vector<Row> rows;
  auto add = [&](WeightScheme w, RangeMethod m, WeightRange r, std::size_t block, ActivationScheme a) {
    Row row;
    row.options.weights = w;
    row.options.method = m;
    row.options.weight_range = r;
    row.options.block_size = block;
    row.options.activations = a;
    rows.push_back(row);
  };
  for (WeightScheme w : {WeightScheme::int8_per_channel, WeightScheme::int8_per_tensor})
    for (int m = 0; m <= static_cast<int>(RangeMethod::mse); ++m)
      add(w, static_cast<RangeMethod>(m), WeightRange::minmax, 32, ActivationScheme::int8);
  // Low-bit weights with the best int8 observer for activations (minmax, on this model).
  for (WeightScheme w : {WeightScheme::int4_per_channel, WeightScheme::int3_per_channel})
    for (WeightRange r : {WeightRange::minmax, WeightRange::mse}) add(w, RangeMethod::minmax, r, 32, ActivationScheme::int8);
  for (WeightScheme w : {WeightScheme::int4_per_block, WeightScheme::int3_per_block})
    for (std::size_t block : {std::size_t{32}, std::size_t{64}, std::size_t{128}})
      for (WeightRange r : {WeightRange::minmax, WeightRange::mse}) add(w, RangeMethod::minmax, r, block, ActivationScheme::int8);
  add(WeightScheme::int8_per_channel, RangeMethod::minmax, WeightRange::minmax, 32, ActivationScheme::int16);
  add(WeightScheme::int8_per_channel, RangeMethod::minmax, WeightRange::minmax, 32, ActivationScheme::dynamic_int8);
  add(WeightScheme::fp16, RangeMethod::minmax, WeightRange::minmax, 32, ActivationScheme::float32);
  return rows;
}

std::string weights_label(const qk::onnx::PtqOptions& o) {
  std::string s = qk::onnx::weight_scheme_name(o.weights);
  if (o.weights == qk::onnx::WeightScheme::int4_per_block || o.weights == qk::onnx::WeightScheme::int3_per_block)
    s += " " + std::to_string(o.block_size);
  if (o.weight_range == qk::onnx::WeightRange::mse) s += ", mse";
  return s;
}

// Nominal bits per weight of a scheme, for rows whose model has no integer weights behind a
// DequantizeLinear (fp16): the table otherwise reports weight_bits_per_weight of the written model.
double bits_per_weight(const qk::onnx::PtqOptions& o) {
  const double bits = qk::onnx::weight_scheme_bits(o.weights);
  if (o.weights == qk::onnx::WeightScheme::int4_per_block || o.weights == qk::onnx::WeightScheme::int3_per_block)
    return (o.weights == qk::onnx::WeightScheme::int3_per_block ? 4.0 : bits) + 32.0 / static_cast<double>(o.block_size);
  // int3 is stored in 4-bit nibbles.
  return o.weights == qk::onnx::WeightScheme::int3_per_channel ? 4.0 : bits;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage();
    return 2;
  }
  std::string model_path, data_dir = "/usr/share/datasets/fashion-mnist", output, dump, csv_path;
  qk::onnx::PtqOptions opt;
  std::size_t samples = 1000, batch = 32, test_n = 0;
  bool evaluate = false, table = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value after " + a);
      return argv[++i];
    };
    auto number = [&]() -> std::size_t {
      const std::string v = value();
      char* end = nullptr;
      const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end != 0 || n == 0) die(a + " needs a positive integer, not '" + v + "'");
      return static_cast<std::size_t>(n);
    };
    if (a == "--data") data_dir = value();
    else if (a == "--observer") {
      const std::string v = value();
      if (!qk::onnx::parse_range_method(v, &opt.method)) die("unknown observer '" + v + "'");
    } else if (a == "--weights") {
      const std::string v = value();
      if (!qk::onnx::parse_weight_scheme(v, &opt.weights)) die("unknown weight scheme '" + v + "' (see --help)");
      if (opt.weights == qk::onnx::WeightScheme::fp16) opt.activations = qk::onnx::ActivationScheme::float32;
    } else if (a == "--weight-range") {
      const std::string v = value();
      if (!qk::onnx::parse_weight_range(v, &opt.weight_range)) die("unknown weight range '" + v + "' (minmax or mse)");
    } else if (a == "--activations") {
      const std::string v = value();
      if (!qk::onnx::parse_activation_scheme(v, &opt.activations)) die("unknown activation scheme '" + v + "' (see --help)");
    } else if (a == "--observer-for") {
      const std::string v = value();
      const std::size_t eq = v.rfind('=');
      qk::onnx::RangeMethod m;
      if (eq == std::string::npos || eq == 0 || !qk::onnx::parse_range_method(v.substr(eq + 1), &m))
        die("--observer-for takes TENSOR=OBSERVER, not '" + v + "'");
      opt.method_for.emplace_back(v.substr(0, eq), m);
    } else if (a == "--block") opt.block_size = number();
    else if (a == "--samples") samples = number();
    else if (a == "--batch") batch = number();
    else if (a == "--test-samples") test_n = number();
    else if (a == "--output") output = value();
    else if (a == "--dump") dump = value();
    else if (a == "--csv") csv_path = value();
    else if (a == "--evaluate") evaluate = true;
    else if (a == "--table") table = true;
    else if (a == "--quiet") g_progress = false;
    else if (a == "--rounding") {
      const std::string v = value();
      if (v != "single" && v != "double") die("--rounding takes single or double, not '" + v + "'");
      g_network.rounding = v == "single" ? qk::RequantRounding::single_rounding : qk::RequantRounding::double_rounding;
    }
    else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else if (!a.empty() && a[0] == '-') die("unknown option " + a);
    else if (model_path.empty()) model_path = a;
    else die("more than one model given");
  }
  if (model_path.empty()) die("no model given");
  if (!dump.empty() && (!evaluate || table)) die("--dump goes with --evaluate (and not --table)");
  std::string error;
  if (!table && !qk::onnx::check_options(opt, &error).ok()) die(error);
  if (!isatty(2)) g_progress = false;
  Model model;
  if (!qk::onnx::load_file(model_path.c_str(), &model, &error).ok()) die(error);
  Dataset d;
  if (!load_dataset(data_dir, &d, &error)) die(error + " (install Debian's dataset-fashion-mnist, or pass --data)");
  test_n = test_n == 0 ? d.test.count : std::min(test_n, d.test.count);
  // Calibration depends only on the observer and the activation type: rows share it.
  std::vector<std::pair<std::pair<int, int>, std::unique_ptr<qk::onnx::Calibrator>>> calibrators;
  auto calibrator_for = [&](const qk::onnx::PtqOptions& o) -> const qk::onnx::Calibrator& {
    const std::pair<int, int> key{static_cast<int>(o.method), static_cast<int>(o.activations)};
    for (const auto& c : calibrators)
      if (c.first == key) return *c.second;
    calibrators.emplace_back(key, std::make_unique<qk::onnx::Calibrator>());
    calibrate(model, d, o, samples, batch, calibrators.back().second.get());
    return *calibrators.back().second;
  };
  if (!evaluate && !table) {
    if (output.empty()) die("nothing to do: give --output, --evaluate or --table");
    quantize_and_evaluate(model, d, opt, calibrator_for(opt), test_n, {}, output, false);
    std::printf("wrote %s (%zu bytes)\n", output.c_str(), file_size(output));
    return 0;
  }
  const std::vector<std::size_t> fp32_pred = float_predictions(model, d, test_n);
  std::size_t fp32_correct = 0;
  for (std::size_t i = 0; i < test_n; ++i) fp32_correct += fp32_pred[i] == d.test_labels[i];
  const double fp32_acc = 100.0 * static_cast<double>(fp32_correct) / static_cast<double>(test_n);
  const std::size_t fp32_bytes = file_size(model_path);
  std::printf("model %s: fp32 accuracy %.2f%% on %zu test images, %zu bytes\n", model_path.c_str(), fp32_acc, test_n, fp32_bytes);
  std::printf("calibration: first %zu training images, batches of %zu\n\n", std::min(samples, d.train.count), batch);
  std::printf("| weights | activations | observer | bits/weight | accuracy | drop (pp) | agrees with fp32 | size (bytes) | vs fp32 | qk batch-1 latency (us) |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  std::FILE* csv = nullptr;
  if (!csv_path.empty()) {
    csv = std::fopen(csv_path.c_str(), "w");
    if (csv == nullptr) die("cannot write " + csv_path);
    std::fprintf(csv, "weights,weight_range,block,activations,observer,bits_per_weight,accuracy,fp32_accuracy,agreement,bytes,"
                      "fp32_bytes,latency_us,lowered\n");
  }
  std::vector<Row> rows;
  if (table) rows = table_rows();
  else rows.push_back(Row{opt});
  std::string layers;
  for (const Row& row : rows) {
    const qk::onnx::PtqOptions& o = row.options;
    const bool calibrated = o.activations == qk::onnx::ActivationScheme::int8 || o.activations == qk::onnx::ActivationScheme::int16;
    qk::onnx::Calibrator none;
    const Result r = quantize_and_evaluate(model, d, o, calibrated ? calibrator_for(o) : none, test_n, fp32_pred,
                                           table ? std::string() : output, true, table ? std::string() : dump);
    if (layers.empty() && r.lowered) layers = r.layers;  // the first lowered row's layers
    const double bpw = r.bits_per_weight > 0 ? r.bits_per_weight : bits_per_weight(o);
    char latency[32];
    if (r.lowered) std::snprintf(latency, sizeof latency, "%.1f", r.latency_us);
    else std::snprintf(latency, sizeof latency, "not lowered");
    std::printf("| %s | %s | %s | %.2f | %.2f%% | %+.2f | %.2f%% | %zu | %.2fx smaller | %s |\n", weights_label(o).c_str(),
                qk::onnx::activation_scheme_name(o.activations), calibrated ? qk::onnx::range_method_name(o.method) : "-",
                bpw, r.accuracy, r.accuracy - fp32_acc, r.agreement, r.model_bytes,
                static_cast<double>(fp32_bytes) / static_cast<double>(r.model_bytes), latency);
    std::fflush(stdout);
    if (csv != nullptr) {
      std::fprintf(csv, "%s,%s,%zu,%s,%s,%.4f,%.2f,%.2f,%.2f,%zu,%zu,%.2f,%d\n", qk::onnx::weight_scheme_name(o.weights),
                   qk::onnx::weight_range_name(o.weight_range), o.block_size, qk::onnx::activation_scheme_name(o.activations),
                   calibrated ? qk::onnx::range_method_name(o.method) : "-", bpw, r.accuracy, fp32_acc,
                   r.agreement, r.model_bytes, fp32_bytes, r.lowered ? r.latency_us : 0.0, r.lowered ? 1 : 0);
      std::fflush(csv);
    }
  }
  if (csv != nullptr) std::fclose(csv);
  std::printf("\nqk layers:\n%s", layers.c_str());
  if (!output.empty() && !table) std::printf("wrote %s\n", output.c_str());
  return 0;
}
