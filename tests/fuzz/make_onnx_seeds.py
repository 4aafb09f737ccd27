#!/usr/bin/python3
"""Writes the seed corpus of fuzz_onnx_load (tests/fuzz/corpus/fuzz_onnx_load/): small ONNX models,
one or two nodes each, covering every op and most attributes the front end maps, in float, QDQ
and QOperator form. Deterministic; run with Debian's python3 (python3-onnx, python3-numpy):
    /usr/bin/python3 tests/fuzz/make_onnx_seeds.py
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(16)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def model(nodes, inputs, outputs, inits=(), opset=13, ms=False):
    g = helper.make_graph(nodes, "seed", inputs, outputs, list(inits))
    imports = [helper.make_opsetid("", opset)] + ([helper.make_opsetid("com.microsoft", 1)] if ms else [])
    return helper.make_model(g, opset_imports=imports, producer_name="qk-seed")


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


F, U8, I8, I32 = TensorProto.FLOAT, TensorProto.UINT8, TensorProto.INT8, TensorProto.INT32
x4 = vi("x", F, [1, 2, 5, 5])
y = vi("y", F, [])
seeds = {}
seeds["conv_relu"] = model(
    [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], strides=[2, 1]), helper.make_node("Relu", ["c"], ["y"])],
    [x4], [y], [init("w", f32(3, 2, 3, 3)), init("b", f32(3))])
seeds["conv_group_same"] = model(
    [helper.make_node("Conv", ["x", "w"], ["y"], group=2, auto_pad="SAME_UPPER", dilations=[2, 2])],
    [x4], [y], [init("w", f32(4, 1, 3, 3))])
seeds["pools"] = model(
    [helper.make_node("MaxPool", ["x"], ["m"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
     helper.make_node("AveragePool", ["m"], ["a"], kernel_shape=[2, 2], pads=[1, 1, 0, 0], count_include_pad=1),
     helper.make_node("GlobalAveragePool", ["a"], ["y"])], [x4], [y])
seeds["gemm_softmax"] = model(
    [helper.make_node("Flatten", ["x"], ["f"], axis=1),
     helper.make_node("Gemm", ["f", "w", "c"], ["g"], transB=1, alpha=0.5, beta=2.0),
     helper.make_node("Softmax", ["g"], ["y"], axis=-1)],
    [x4], [y], [init("w", f32(4, 50)), init("c", f32(4))])
seeds["matmul_reshape_concat"] = model(
    [helper.make_node("Reshape", ["x", "s"], ["r"]), helper.make_node("MatMul", ["r", "w"], ["m"]),
     helper.make_node("Concat", ["m", "m"], ["y"], axis=-1)],
    [x4], [y], [init("s", np.array([1, 10, 5], np.int64)), init("w", f32(5, 3))])
seeds["bn_clip_add_mul"] = model(
    [helper.make_node("BatchNormalization", ["x", "sc", "bi", "me", "va"], ["b"], epsilon=1e-3),
     helper.make_node("Clip", ["b", "lo", "hi"], ["c"]), helper.make_node("Add", ["c", "k"], ["a"]),
     helper.make_node("Mul", ["a", "k"], ["y"])],
    [x4], [y], [init("sc", f32(2)), init("bi", f32(2)), init("me", f32(2)), init("va", np.abs(f32(2)) + 0.1),
                init("lo", np.float32(-1)), init("hi", np.float32(6)), init("k", f32(2, 1, 1))])
seeds["constant"] = model(
    [helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(f32(1, 2, 1, 1))),
     helper.make_node("Mul", ["x", "k"], ["y"])], [x4], [y])
seeds["qdq_conv"] = model(
    [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
     helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
     helper.make_node("DequantizeLinear", ["wq", "ws"], ["wd"], axis=0),
     helper.make_node("Conv", ["xd", "wd"], ["c"], pads=[1, 1, 1, 1]),
     helper.make_node("QuantizeLinear", ["c", "ys", "yz"], ["yq"]),
     helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"])],
    [x4], [y], [init("xs", np.float32(0.05)), init("xz", np.uint8(128)),
                init("wq", rng.integers(-127, 128, (3, 2, 3, 3)).astype(np.int8)), init("ws", np.float32([0.01, 0.02, 0.03])),
                init("ys", np.float32(0.1)), init("yz", np.uint8(100))])
xq = vi("x", U8, [1, 2, 5, 5])
seeds["qlinearconv"] = model(
    [helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"], pads=[1, 1, 1, 1])],
    [xq], [vi("y", U8, [])],
    [init("xs", np.float32(0.05)), init("xz", np.uint8(128)), init("w", rng.integers(0, 256, (3, 2, 3, 3)).astype(np.uint8)),
     init("ws", np.float32(0.01)), init("wz", np.uint8(120)), init("ys", np.float32(0.2)), init("yz", np.uint8(10)),
     init("b", rng.integers(-500, 500, 3).astype(np.int32))])
seeds["convinteger"] = model(
    [helper.make_node("ConvInteger", ["x", "w", "xz", "wz"], ["y"], strides=[2, 2])], [xq], [vi("y", I32, [])],
    [init("w", rng.integers(0, 256, (3, 2, 2, 2)).astype(np.uint8)), init("xz", np.uint8(3)), init("wz", np.uint8(7))])
xm = vi("x", I8, [3, 4])
seeds["qlinearmatmul"] = model(
    [helper.make_node("QLinearMatMul", ["x", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"])], [xm], [vi("y", I8, [])],
    [init("as", np.float32(0.1)), init("az", np.int8(-3)), init("b", rng.integers(-128, 128, (4, 5)).astype(np.int8)),
     init("bs", np.float32(0.05)), init("bz", np.int8(0)), init("ys", np.float32(0.3)), init("yz", np.int8(5))])
seeds["matmulinteger"] = model(
    [helper.make_node("MatMulInteger", ["x", "b", "az"], ["y"])], [xm], [vi("y", I32, [])],
    [init("b", rng.integers(-128, 128, (4, 2)).astype(np.int8)), init("az", np.int8(1))])
seeds["qlinearadd"] = model(
    [helper.make_node("QLinearAdd", ["x", "as", "az", "x", "bs", "bz", "cs", "cz"], ["y"], domain="com.microsoft")],
    [xm], [vi("y", I8, [])],
    [init("as", np.float32(0.1)), init("az", np.int8(2)), init("bs", np.float32(0.2)), init("bz", np.int8(-1)),
     init("cs", np.float32(0.25)), init("cz", np.int8(0))], ms=True)
seeds["softmax_opset11"] = model([helper.make_node("Softmax", ["x"], ["y"], axis=1)], [x4], [y], opset=11)

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_onnx_load")
os.makedirs(out, exist_ok=True)
for name, m in seeds.items():
    onnx.checker.check_model(m)
    with open(os.path.join(out, name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())
print("wrote %d seeds to %s" % (len(seeds), out))
