#!/usr/bin/env python3
"""Writes ONNX models of one com.microsoft MatMulNBits node for the weights qk_ort_dump wrote.

    make_models.py M N K DIR

DIR holds qk_ort_dump's files for the shape M x N x K (b<B>.u8, s<B>.f32, bias.f32). Written
beside them, for B = 32 and 128 and accuracy_level L = 0 and 4:

    mnb_b<B>_l<L>.onnx   Y[M, N] = MatMulNBits(A[M, K]; B, scales, bias as initializers),
                         bits 4, block_size B, no zero points (ONNX's default 8), fp32 A
    overhead.onnx        Y[M, N] = Identity(Z[M, N]) with A[M, K] as an unused input: the same
                         inputs and output as the models above and no work, to time what a
                         session.run costs from node outside the operator

Needs python3-onnx (Debian) and numpy; no ONNX Runtime.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSETS = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]


def save(graph, path):
    model = helper.make_model(graph, opset_imports=OPSETS, producer_name="qk benchmarks/ort")
    model.ir_version = 8  # ONNX 1.12's IR: loads in any ONNX Runtime from 1.13 on
    onnx.save(model, path)


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    m, n, k = (int(x) for x in sys.argv[1:4])
    d = sys.argv[4]
    bias = np.fromfile(os.path.join(d, "bias.f32"), dtype=np.float32)
    assert bias.size == n, "bias.f32 does not hold N values"
    a_info = helper.make_tensor_value_info("A", TensorProto.FLOAT, [m, k])
    y_info = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [m, n])
    for block in (32, 128):
        blocks = (k + block - 1) // block
        b = np.fromfile(os.path.join(d, f"b{block}.u8"), dtype=np.uint8).reshape(n, blocks, block // 2)
        scales = np.fromfile(os.path.join(d, f"s{block}.f32"), dtype=np.float32)
        assert scales.size == n * blocks, f"s{block}.f32 does not hold N * blocks values"
        for level in (0, 4):
            node = helper.make_node(
                "MatMulNBits", ["A", "B", "scales", "", "", "bias"], ["Y"], domain="com.microsoft",
                K=k, N=n, bits=4, block_size=block, accuracy_level=level)
            inits = [numpy_helper.from_array(b, "B"), numpy_helper.from_array(scales.reshape(n, blocks), "scales"),
                     numpy_helper.from_array(bias, "bias")]
            save(helper.make_graph([node], f"matmulnbits_b{block}_l{level}", [a_info], [y_info], initializer=inits),
                 os.path.join(d, f"mnb_b{block}_l{level}.onnx"))
    z_info = helper.make_tensor_value_info("Z", TensorProto.FLOAT, [m, n])
    node = helper.make_node("Identity", ["Z"], ["Y"])
    save(helper.make_graph([node], "overhead", [a_info, z_info], [y_info]), os.path.join(d, "overhead.onnx"))


if __name__ == "__main__":
    main()
