// fuzz_onnx_load: the ONNX front end (frontends/onnx) on arbitrary bytes. The input is a
// serialized ModelProto (seeds: tests/fuzz/corpus/fuzz_onnx_load, written by
// scripts/ptq/make_onnx_seeds.py); libFuzzer mutates it. Whatever the bytes:
//   - load() returns a Status, never crashes, and on error leaves the model untouched;
//   - a model that loads is run by the reference interpreter on inputs of its declared shapes
//     (symbolic or oversized dims replaced by small ones), which must also only return Status;
//   - the same bytes read as a TensorProto must behave the same way.
// What is checked is memory safety and the error contract (ASan + UBSan, fatal), not values.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "qk/onnx/interpreter.hpp"
#include "qk/onnx/model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace qk::onnx;
  std::string error;
  {
    Tensor t;
    t.dims = {7};
    const qk::Status st = load_tensor(data, size, &t, nullptr, &error);
    if (!st.ok()) QK_FUZZ_CHECK(t.dims.size() == 1 && t.dims[0] == 7 && !error.empty());
  }
  Model model;
  model.producer = "untouched";
  const qk::Status st = load(data, size, &model, &error);
  if (!st.ok()) {
    QK_FUZZ_CHECK(model.producer == "untouched" && model.nodes.empty() && !error.empty());
    return 0;
  }
  // Inputs of the declared shapes, each dimension in [1, 16] and at most 64 KiB per tensor, so
  // that a run stays fast; the values are taken from the fuzz input.
  std::vector<Tensor> inputs;
  for (const ValueInfo& vi : model.inputs) {
    Tensor t;
    t.type = vi.type == DataType::undefined ? DataType::float32 : vi.type;
    const std::size_t elem = data_type_size(t.type);
    if (elem == 0) return 0;
    std::size_t n = 1;
    for (std::int64_t d : vi.dims) {
      const std::int64_t v = d < 1 ? 1 : d > 16 ? 16 : d;
      t.dims.push_back(v);
      n *= static_cast<std::size_t>(v);
    }
    if (n * elem > (std::size_t{1} << 16)) return 0;
    t.bytes.resize(n * elem);
    for (std::size_t i = 0; i < t.bytes.size(); ++i) t.bytes[i] = data[i % size];
    if (t.type == DataType::float32)  // finite values: NaN is legal but makes every op trivial
      for (std::size_t i = 0; i < n; ++i) t.data<float>()[i] = static_cast<float>(data[i % size]) / 16.0f - 8.0f;
    inputs.push_back(std::move(t));
  }
  // Bound the work: the interpreter refuses tensors over 1 GiB, and RunLimits bounds each node's
  // loops (2^26 multiply-adds or window taps: well under libFuzzer's 10 s -timeout even with
  // ASan); a legal file can describe a conv that runs for hours without it.
  std::size_t init_bytes = 0;
  for (const NamedTensor& t : model.initializers) init_bytes += t.tensor.bytes.size();
  if (init_bytes > (std::size_t{1} << 22) || model.nodes.size() > 64) return 0;
  std::vector<Tensor> outputs;
  RunLimits limits;
  limits.max_work_per_node = std::uint64_t{1} << 26;
  const qk::Status rs = run_reference(model, inputs, &outputs, &error, Observer(), limits);
  if (rs.ok())
    QK_FUZZ_CHECK(outputs.size() == model.outputs.size());
  else
    QK_FUZZ_CHECK(outputs.empty() && !error.empty());
  return 0;
}
