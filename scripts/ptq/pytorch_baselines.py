#!/usr/bin/python3
"""PyTorch post-training-quantization baselines for models/fashion_cnn/fashion_cnn.onnx.

Rebuilds the folded float model (Conv+bias, ReLU, GAP, Linear) from the committed
ONNX weights, then measures on the 10,000 Fashion-MNIST test images:
  * fp32 accuracy and batch-1 latency (eager, 1 thread; mean over 1000 test images
    after 100 warm-up runs, repeated 5 times: best and median of the 5 means);
  * int8 eager-mode post-training static quantization (per-channel symmetric int8
    weights, per-tensor affine uint8 activations, MinMax observers, 1000 calibration
    images = first 1000 of a seeded permutation of the training set), accuracy and
    batch-1 latency;
  * weight-only fake quantization to int4 [-8,7] and int3 [-4,3], per output channel,
    symmetric, scale from min/max, fp32 activations (all 5 convs + the FC; biases fp32).

Usage (repository root, Debian's Python with torch 1.13):
    /usr/bin/python3 scripts/ptq/pytorch_baselines.py [--model models/fashion_cnn/fashion_cnn.onnx]
"""
import argparse
import copy
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist  # noqa: E402
from train_fashion_cnn import FoldedCNN, evaluate, to_input, SEED  # noqa: E402

from torch.ao.quantization import (QConfig, MinMaxObserver, PerChannelMinMaxObserver,
                                   QuantStub, DeQuantStub, fuse_modules, prepare, convert)


class QuantWrapper(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.quant, self.m, self.dequant = QuantStub(), m, DeQuantStub()

    def forward(self, x):
        return self.dequant(self.m(self.quant(x)))


def pick_engine():
    engines = torch.backends.quantized.supported_engines
    for e in ("fbgemm", "x86", "onednn", "qnnpack"):
        if e in engines:
            return e
    raise RuntimeError(f"no quantized engine in {engines}")


@torch.no_grad()
def latency_ms(model, x, n=1000, warmup=100, repeats=5):
    """Batch-1 latency: mean over n test images (after warm-up), measured `repeats`
    times; returns (best mean, median mean) in ms. The best-of-repeats is the figure
    least disturbed by other processes on a shared machine."""
    model.eval()
    for i in range(warmup):
        model(x[i % x.shape[0]:i % x.shape[0] + 1])
    means = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(n):
            model(x[i:i + 1])
        means.append((time.perf_counter() - t0) / n * 1e3)
    return min(means), float(np.median(means))


def fake_quant_weights(model, bits, mode="amax_qmax"):
    """Per-output-channel symmetric weight fake quantization to [-2^(b-1), 2^(b-1)-1].
    mode 'amax_qmax': scale = max|w| / (2^(b-1)-1)            (e.g. int4: /7, -8 unused)
    mode 'torch_sym': scale = max|w| / ((qmax-qmin)/2)         (PyTorch per_channel_symmetric
                      observer convention, e.g. int4: /7.5; +max|w| clips to 7)"""
    m = copy.deepcopy(model)
    qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                w = mod.weight
                amax = w.abs().reshape(w.shape[0], -1).amax(1).clamp_min(1e-12)
                denom = qmax if mode == "amax_qmax" else (qmax - qmin) / 2.0
                scale = (amax / denom).reshape(-1, *([1] * (w.dim() - 1)))
                q = torch.clamp(torch.round(w / scale), qmin, qmax)
                w.copy_(q * scale)
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/fashion_cnn/fashion_cnn.onnx")
    ap.add_argument("--calib", type=int, default=1000)
    ap.add_argument("--latency-n", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    xtr_u8, _ = fashion_mnist.load("train")
    xte_u8, yte = fashion_mnist.load("test")
    xte = to_input(xte_u8)
    yte = torch.from_numpy(yte.astype(np.int64))
    calib_idx = torch.randperm(xtr_u8.shape[0], generator=torch.Generator().manual_seed(SEED))[:args.calib]
    xcal = to_input(xtr_u8[calib_idx.numpy()])

    fp32 = FoldedCNN.from_onnx(args.model)
    rows = []
    acc = evaluate(fp32, xte, yte)
    lat = latency_ms(fp32, xte, args.latency_n, repeats=args.repeats)
    rows.append(("fp32 (folded, eager)", acc, lat))

    engine = pick_engine()
    engines = [engine] + [e for e in ("qnnpack",) if e != engine and e in torch.backends.quantized.supported_engines]
    for eng in engines:
        torch.backends.quantized.engine = eng
        try:
            qm = QuantWrapper(copy.deepcopy(fp32)).eval()
            fuse_modules(qm.m, [[f"{b}.0", f"{b}.1"] for b in ("conv1", "conv2", "dw", "pw", "conv3")],
                         inplace=True)
            qm.qconfig = QConfig(
                activation=MinMaxObserver.with_args(dtype=torch.quint8, qscheme=torch.per_tensor_affine),
                weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint8,
                                                          qscheme=torch.per_channel_symmetric))
            prepare(qm, inplace=True)
            with torch.no_grad():
                for i in range(0, xcal.shape[0], 100):
                    qm(xcal[i:i + 100])
            convert(qm, inplace=True)
            acc = evaluate(qm, xte, yte)
            lat = latency_ms(qm, xte, args.latency_n, repeats=args.repeats)
            rows.append((f"int8 PTQ static ({eng}, per-ch w, MinMax)", acc, lat))
        except Exception as e:  # engine without per-channel support etc.
            print(f"engine {eng}: failed: {type(e).__name__}: {str(e).splitlines()[0]}")
    torch.backends.quantized.engine = engine

    for bits in (4, 3):
        for mode in ("amax_qmax", "torch_sym"):
            fq = fake_quant_weights(fp32, bits, mode)
            rows.append((f"int{bits} w fake-quant per-ch ({mode}), fp32 act",
                         evaluate(fq, xte, yte), None))

    print(f"torch {torch.__version__}, quantized engines {torch.backends.quantized.supported_engines}, "
          f"used '{engine}', threads {torch.get_num_threads()}, calib {args.calib} train images")
    print(f"{'configuration':<52} {'test acc':>9} {'b1 lat best':>12} {'b1 lat median':>14}")
    for name, acc, lat in rows:
        ls = (f"{lat[0] * 1e3:9.1f} us {lat[1] * 1e3:11.1f} us" if lat is not None
              else f"{'-':>12} {'-':>14}")
        print(f"{name:<52} {acc * 100:8.2f}% {ls}")


if __name__ == "__main__":
    main()
