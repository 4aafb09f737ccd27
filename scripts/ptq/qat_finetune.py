#!/usr/bin/python3
"""Quantization-aware fine-tuning of the Fashion-MNIST CNN with qk's deployment quantizers,
and export of the result as a QDQ ONNX model that qk lowers unchanged.

The fake quantization matches what qk deploys (docs/qat.md, tools/qk_quantize.cpp):
  * activations: the input, every ReLU output (ReLU fused into its conv), the
    GlobalAveragePool output and the logits, int8 asymmetric per tensor [-128, 127],
    torch.fake_quantize_per_tensor_affine; scale/zero point from PyTorch's
    _calculate_qparams in float32 (scale = (max - min) / 255 with min <= 0 <= max,
    zp = clamp(-128 - round_half_even(min / scale))), the range from a moving-average
    min/max observer (averaging constant 0.01, the first batch sets it), frozen for the
    last --frozen-epochs epochs;
  * weights: per output channel, symmetric [-127, 127] (--bits-weights 4 / 3: [-7, 7] /
    [-3, 3]), scale = max|w| / qmax (float32),
    torch.fake_quantize_per_channel_affine (straight-through gradient);
  * biases: rounded to the int32 grid of scale s_in * s_w (straight-through), as qk does.

After fine-tuning, the weights are quantized exactly as qk-quantize does it (float32
division, round half to even) and written into a copy of the QDQ file qk-quantize wrote
for the float model (--template): same nodes and tensor names; only the initializers
change (int8 weights and their per-channel scales, int32 biases and their scales, every
activation scale and zero point). The simulation logits (--sim-logits) are then computed
by a float32 PyTorch forward pass of THAT file (its integers and scales, every activation
fake-quantized with torch.fake_quantize_per_tensor_affine), so they compare one to one
with qk's integer network on the same file (tools/qk_run_qdq.cpp, scripts/ptq/qat_compare.py).

Usage (repository root, Debian's Python with torch 1.13; see docs/qat.md):
    qk-quantize models/fashion_cnn/fashion_cnn.onnx --output /tmp/qat/ptq_int8.onnx
    /usr/bin/python3 scripts/ptq/qat_finetune.py --template /tmp/qat/ptq_int8.onnx \
        --output /tmp/qat/qat_int8.onnx --sim-logits /tmp/qat/sim_logits.f32
    /usr/bin/python3 scripts/ptq/qat_finetune.py --simulate /tmp/qat/ptq_int8.onnx \
        --sim-logits /tmp/qat/ptq_sim_logits.f32        # only simulate an existing QDQ file
    # int4 (or 3) weights [-7, 7] per channel, INT4 in the file, lowered onto qk's s4 layers:
    qk-quantize models/fashion_cnn/fashion_cnn.onnx --weights int4-per-channel --output /tmp/qat/ptq_int4.onnx
    /usr/bin/python3 scripts/ptq/qat_finetune.py --bits-weights 4 --template /tmp/qat/ptq_int4.onnx \
        --output /tmp/qat/qat_int4.onnx --sim-logits /tmp/qat/sim_logits_int4.f32
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist  # noqa: E402
from train_fashion_cnn import FoldedCNN, to_input, set_determinism, SEED  # noqa: E402

F32 = np.float32
EPS = F32(np.finfo(np.float32).eps)
# Activation quantization points, in graph order (Flatten keeps the pool's parameters).
ACT_POINTS = ["input", "relu1", "relu2", "relu3", "relu4", "relu5", "gap", "logits"]


def qparams(lo, hi, qmin=-128, qmax=127):
    """PyTorch 1.13 _calculate_qparams (asymmetric), float32 op for op, as
    qk::calib_params_from_range computes it. Returns (scale as np.float32, zp int)."""
    lo, hi = F32(min(F32(lo), F32(0))), F32(max(F32(hi), F32(0)))
    scale = F32(F32(hi - lo) / F32(qmax - qmin))
    if not scale > EPS:
        scale = EPS
    q = F32(lo / scale)
    if not q > F32(-131072):
        q = F32(-131072)
    zp = int(qmin - int(np.rint(q)))
    return scale, min(max(zp, qmin), qmax)


def weight_scales(w, qmax):
    """Per-output-channel symmetric scale max|w| / qmax (float32; an all-zero channel: 1)."""
    amax = w.detach().abs().reshape(w.shape[0], -1).amax(dim=1)
    s = amax / float(qmax)
    return torch.where(s > 0, s, torch.ones_like(s))


class MovingAverageMinMax:
    """torch.ao.quantization.MovingAverageMinMaxObserver's update, on float32 scalars."""

    def __init__(self, c=0.01):
        self.c, self.lo, self.hi = c, None, None

    def observe(self, x):
        lo, hi = x.detach().min().float(), x.detach().max().float()
        if self.lo is None:
            self.lo, self.hi = lo, hi
        else:
            self.lo = self.lo + self.c * (lo - self.lo)
            self.hi = self.hi + self.c * (hi - self.hi)

    def params(self):
        return qparams(self.lo.item(), self.hi.item())


class QATCNN(nn.Module):
    """FoldedCNN with qk's deployment fake quantization (see the module docstring)."""

    def __init__(self, folded, wbits=8, bias_grid=True):
        super().__init__()
        self.f = folded
        # Symmetric narrow ranges, as qk-quantize writes them: int8 [-127, 127], int4 [-7, 7],
        # int3 [-3, 3] (stored as INT4). With scale max|w| / qmax nothing reaches -qmax - 1 anyway.
        self.wqmax = 2 ** (wbits - 1) - 1
        self.wqmin = -self.wqmax
        self.wbits = wbits
        self.bias_grid = bias_grid
        self.obs = {p: MovingAverageMinMax() for p in ACT_POINTS}
        self.observing = True

    def act(self, name, x):
        if self.training and self.observing:
            self.obs[name].observe(x)
        s, z = self.obs[name].params()
        return torch.fake_quantize_per_tensor_affine(x, float(s), z, -128, 127)

    def wq(self, w):
        s = weight_scales(w, self.wqmax)
        z = torch.zeros(w.shape[0], dtype=torch.int32)
        return torch.fake_quantize_per_channel_affine(w, s, z, 0, self.wqmin, self.wqmax), s

    def bq(self, b, s_in, s_w):
        if not self.bias_grid:
            return b
        s = (s_w * float(s_in)).detach()  # float32 product, as qk's quantize_qdq
        return b + (torch.round(b / s) * s - b).detach()

    def forward(self, x):
        x = self.act("input", x)
        for i, block in enumerate(self.f.blocks()):
            conv = block[0]
            s_in = self.obs[ACT_POINTS[i]].params()[0]
            w, s_w = self.wq(conv.weight)
            x = F.conv2d(x, w, self.bq(conv.bias, s_in, s_w), conv.stride, conv.padding, conv.dilation, conv.groups)
            x = self.act(f"relu{i + 1}", F.relu(x))
        x = self.act("gap", x.mean(dim=(2, 3)))
        w, s_w = self.wq(self.f.fc.weight)
        x = F.linear(x, w, self.bq(self.f.fc.bias, self.obs["gap"].params()[0], s_w))
        return self.act("logits", x)


# ---------------------------------------------------------------------------------------------
# QDQ file: layout, export, simulation
# ---------------------------------------------------------------------------------------------

def qdq_layout(model):
    """From a qk-quantize QDQ file: activation (scale, zero_point) initializer names for each
    point of ACT_POINTS (+ 'flatten'), and (weight, bias, Conv/Gemm node) per layer, graph order."""
    producer = {o: n for n in model.graph.node for o in n.output}
    quant = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert len(quant) == 9, f"expected 9 QuantizeLinear nodes, found {len(quant)}"
    points = ACT_POINTS[:7] + ["flatten", "logits"]
    act = {p: (q.input[1], q.input[2]) for p, q in zip(points, quant)}
    layers = []
    for n in model.graph.node:
        if n.op_type in ("Conv", "Gemm"):
            wdq, bdq = producer[n.input[1]], producer[n.input[2]]
            layers.append((wdq.input[0], wdq.input[1], bdq.input[0], bdq.input[1], n))
    assert [l[4].op_type for l in layers] == ["Conv"] * 5 + ["Gemm"]
    return act, layers


def quantize_for_qk(qat):
    """Integers and scales exactly as qk-quantize computes them (float32, round half to even);
    int4/int3 weights come out as int8 arrays of values in [-7, 7] / [-3, 3]."""
    qmax = 2 ** (qat.wbits - 1) - 1
    act = {p: qat.obs[p].params() for p in ACT_POINTS}
    act["flatten"] = act["gap"]
    mods = qat.f.convs() + [qat.f.fc]
    ins = ACT_POINTS[:5] + ["gap"]
    out = []
    for m, a in zip(mods, ins):
        w = m.weight.detach().numpy().astype(F32)
        b = m.bias.detach().numpy().astype(F32)
        amax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1).astype(F32)
        ws = (amax / F32(qmax)).astype(F32)
        ws = np.where(ws > 0, ws, F32(1)).astype(F32)
        wq = np.clip(np.rint(w / ws.reshape((-1,) + (1,) * (w.ndim - 1))), -qmax, qmax).astype(np.int8)
        bs = (F32(act[a][0]) * ws).astype(F32)
        lim = F32(2147483520)
        bqv = np.clip(np.rint(b / bs), -lim, lim).astype(np.int32)
        out.append((wq, ws, bqv, bs))
    return act, out


INT4 = 22  # TensorProto.INT4 (opset 21); Debian's onnx 1.12 predates it, so it is packed here


def to_array(t):
    """numpy_helper.to_array, plus INT4 (two's complement nibbles, element i in the low nibble
    when i is even), returned as int8."""
    from onnx import numpy_helper
    if t.data_type != INT4:
        return numpy_helper.to_array(t)
    n = int(np.prod(t.dims)) if len(t.dims) else 1
    b = np.frombuffer(t.raw_data, dtype=np.uint8)
    assert b.size == (n + 1) // 2, (t.name, b.size, n)
    nib = np.stack([b & 15, b >> 4], axis=1).reshape(-1)[:n].astype(np.int8)
    return np.where(nib > 7, nib - 16, nib).astype(np.int8).reshape(tuple(t.dims))


def set_array(t, v):
    """Replace the values of initializer t by v (same dtype and shape; INT4 packed from int8)."""
    from onnx import numpy_helper
    if t.data_type != INT4:
        t.CopyFrom(numpy_helper.from_array(v, t.name))
        return
    flat = v.reshape(-1).astype(np.int16)
    assert flat.min() >= -8 and flat.max() <= 7
    nib = (flat & 15).astype(np.uint8)
    if nib.size % 2:
        nib = np.append(nib, np.uint8(0))
    t.raw_data = (nib[0::2] | (nib[1::2] << 4)).astype(np.uint8).tobytes()


def export_qdq(template_path, out_path, act, layers_q):
    import onnx
    m = onnx.load(template_path)
    act_names, layers = qdq_layout(m)
    new = {}
    for p, (sn, zn) in act_names.items():
        s, z = act[p]
        new[sn] = np.array(s, dtype=F32)
        new[zn] = np.array(z, dtype=np.int8)
    for (wn, wsn, bn, bsn, _), (wq, ws, bqv, bs) in zip(layers, layers_q):
        new[wn], new[wsn], new[bn], new[bsn] = wq, ws, bqv, bs
    replaced = 0
    four_bit = False
    for i, t in enumerate(m.graph.initializer):
        if t.name in new:
            old = to_array(t)
            v = new[t.name]
            assert old.dtype == v.dtype and old.shape == v.shape, (t.name, old.dtype, v.dtype, old.shape, v.shape)
            four_bit = four_bit or t.data_type == INT4
            set_array(m.graph.initializer[i], v)
            replaced += 1
    assert replaced == len(new) == len(m.graph.initializer), (replaced, len(new), len(m.graph.initializer))
    if not four_bit:  # onnx 1.12's checker knows neither INT4 nor opset 21
        onnx.checker.check_model(m)
    onnx.save(m, out_path)
    return replaced


class QDQSim(nn.Module):
    """Float32 PyTorch forward pass of a qk-quantize-layout QDQ file: weights = int8 * scale,
    biases = int32 * scale (DequantizeLinear), every activation QuantizeLinear/DequantizeLinear
    pair = torch.fake_quantize_per_tensor_affine with the file's scale and zero point."""

    def __init__(self, path):
        super().__init__()
        import onnx
        m = onnx.load(path)
        init = {t.name: to_array(t) for t in m.graph.initializer}
        act_names, layers = qdq_layout(m)
        self.act = {p: (float(init[s]), int(init[z])) for p, (s, z) in act_names.items()}
        self.layers, self.ints = [], []
        for wn, wsn, bn, bsn, node in layers:
            self.ints.append((init[wn], init[wsn], init[bn], init[bsn]))
            wq, ws = init[wn].astype(F32), init[wsn].astype(F32)
            w = wq * ws.reshape((-1,) + (1,) * (wq.ndim - 1))
            b = init[bn].astype(F32) * init[bsn].astype(F32)
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            self.layers.append((torch.from_numpy(w.astype(F32)), torch.from_numpy(b.astype(F32)), attrs))

    def fq(self, name, x):
        s, z = self.act[name]
        return torch.fake_quantize_per_tensor_affine(x, s, z, -128, 127)

    @torch.no_grad()
    def forward(self, x, taps=None):
        """taps: a list that receives every fake-quantized activation (relu1..5, gap, logits)."""
        x = self.fq("input", x)
        for i, (w, b, a) in enumerate(self.layers[:5]):
            p = a.get("pads", [0, 0, 0, 0])
            assert p[0] == p[2] and p[1] == p[3]
            x = F.conv2d(x, w, b, tuple(a.get("strides", [1, 1])), (p[0], p[1]), 1, a.get("group", 1))
            x = self.fq(f"relu{i + 1}", F.relu(x))
            if taps is not None:
                taps.append(x)
        x = self.fq("gap", x.mean(dim=(2, 3)))
        if taps is not None:
            taps.append(x)
        x = self.fq("flatten", x)
        w, b, _ = self.layers[5]
        x = self.fq("logits", F.linear(x, w, b))
        if taps is not None:
            taps.append(x)
        return x


@torch.no_grad()
def predict(model, x, batch=500):
    model.eval()
    return torch.cat([model(x[i:i + batch]) for i in range(0, x.shape[0], batch)])


def accuracy(logits, y):
    return (logits.argmax(1) == y).float().mean().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/fashion_cnn/fashion_cnn.onnx", help="float ONNX model")
    ap.add_argument("--template", help="QDQ file qk-quantize wrote for --model (export template)")
    ap.add_argument("--output", help="write the fine-tuned QDQ model here (needs --template)")
    ap.add_argument("--sim-logits", help="write the simulation's test-set logits (float32 [10000][10])")
    ap.add_argument("--simulate", help="only simulate this QDQ file (accuracy, --sim-logits); no training")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--frozen-epochs", type=int, default=1, help="last epochs with the activation ranges frozen")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--bits-weights", type=int, default=8, choices=(8, 4, 3),
                    help="per-channel symmetric weights [-127,127] / [-7,7] / [-3,3], scale max|w|/qmax; "
                         "with --output, the --template must be qk-quantize's file of the same width "
                         "(--weights int4-per-channel / int3-per-channel)")
    ap.add_argument("--no-bias-grid", action="store_true", help="keep the bias float during fine-tuning")
    args = ap.parse_args()

    set_determinism()
    xte_u8, yte = fashion_mnist.load("test")
    xte, yte = to_input(xte_u8), torch.from_numpy(yte.astype(np.int64))

    if args.simulate:
        sim = QDQSim(args.simulate)
        logits = predict(sim, xte)
        print(f"simulation of {args.simulate}: test acc {accuracy(logits, yte) * 100:.2f}%")
        if args.sim_logits:
            logits.numpy().astype("<f4").tofile(args.sim_logits)
            print(f"wrote {args.sim_logits}")
        return

    if args.output and not args.template:
        ap.error("--output needs --template (the QDQ file qk-quantize wrote for the float model)")
    xtr_u8, ytr = fashion_mnist.load("train")
    xtr, ytr = to_input(xtr_u8), torch.from_numpy(ytr.astype(np.int64))

    folded = FoldedCNN.from_onnx(args.model)
    print(f"fp32 test acc: {accuracy(predict(folded, xte), yte) * 100:.2f}%")
    qat = QATCNN(folded, wbits=args.bits_weights, bias_grid=not args.no_bias_grid)
    # Initial ranges: one pass of moving-average observation over the first 1000 training images
    # (what the first fine-tuning steps would see anyway), then the accuracy before fine-tuning.
    qat.train()
    with torch.no_grad():
        for i in range(0, 1000, args.batch):
            qat(xtr[i:i + args.batch])
    print(f"fake-quant test acc before fine-tuning (w{args.bits_weights}a8): {accuracy(predict(qat, xte), yte) * 100:.2f}%")

    opt = torch.optim.Adam(folded.parameters(), lr=args.lr)
    steps = args.epochs * ((xtr.shape[0] + args.batch - 1) // args.batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator().manual_seed(SEED + 1)
    t_all = time.time()
    for epoch in range(args.epochs):
        qat.train()
        qat.observing = epoch < args.epochs - args.frozen_epochs
        t0 = time.time()
        perm = torch.randperm(xtr.shape[0], generator=gen)
        tot, n = 0.0, 0
        for i in range(0, xtr.shape[0], args.batch):
            idx = perm[i:i + args.batch]
            loss = F.cross_entropy(qat(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * idx.shape[0]
            n += idx.shape[0]
        dt = time.time() - t0
        acc = accuracy(predict(qat, xte), yte)
        print(f"epoch {epoch + 1}/{args.epochs} ({'ranges observed' if qat.observing else 'ranges frozen'}): "
              f"train loss {tot / n:.4f}  fake-quant test acc {acc * 100:.2f}%  ({dt:.1f} s)", flush=True)
    print(f"fine-tuning time: {time.time() - t_all:.1f} s (incl. per-epoch test eval)")
    qat.eval()
    fq_logits = predict(qat, xte)
    print(f"QAT fake-quant test acc (w{args.bits_weights}a8): {accuracy(fq_logits, yte) * 100:.2f}%")
    for p in ACT_POINTS:
        s, z = qat.obs[p].params()
        print(f"  {p:7s} range [{qat.obs[p].lo.item():.5f}, {qat.obs[p].hi.item():.5f}]  scale {s:.8g}  zp {z}")
    if not args.output:
        return

    act, layers_q = quantize_for_qk(qat)
    # Weights that the training-time fake quant (x * (1/s)) and qk's rounding (x / s) put on
    # different integers (a tie within an ulp): should be none or a handful.
    diff = 0
    for m, (wq, ws, _, _) in zip(qat.f.convs() + [qat.f.fc], layers_q):
        fq = qat.wq(m.weight)[0].detach().numpy()
        diff += int((np.rint(fq / ws.reshape((-1,) + (1,) * (wq.ndim - 1))) != wq).sum())
    print(f"weights whose integer differs between torch's fake quant and qk's rounding: {diff}")
    n = export_qdq(args.template, args.output, act, layers_q)
    print(f"wrote {args.output} ({os.path.getsize(args.output)} bytes; {n} initializers replaced, graph of {args.template})")
    sim = QDQSim(args.output)
    sim_logits = predict(sim, xte)
    same = (sim_logits.argmax(1) == fq_logits.argmax(1)).sum().item()
    print(f"simulation of the exported file: test acc {accuracy(sim_logits, yte) * 100:.2f}%  "
          f"(top-1 equal to the training-graph fake quant on {same}/{len(yte)}, "
          f"max |logit diff| {(sim_logits - fq_logits).abs().max().item():.3g})")
    if args.sim_logits:
        sim_logits.numpy().astype("<f4").tofile(args.sim_logits)
        print(f"wrote {args.sim_logits}")


if __name__ == "__main__":
    main()
