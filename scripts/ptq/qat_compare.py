#!/usr/bin/python3
"""Compare qk's int8 network with the PyTorch fake-quant simulation of the same QDQ file.

    qk-run-qdq MODEL.onnx --logits qk_logits.f32
    /usr/bin/python3 scripts/ptq/qat_finetune.py --simulate MODEL.onnx --sim-logits sim_logits.f32
    /usr/bin/python3 scripts/ptq/qat_compare.py --model MODEL.onnx --qk qk_logits.f32 --sim sim_logits.f32

(qat_finetune.py --output writes the simulation logits of the file it exports.) Prints the
top-1 agreement, the accuracy of both, how far the logits are apart in output quantization
steps (the logits are int8 dequantized: (q - zp) * scale), and every image whose top-1
differs, with the two largest logits of each side in steps.

--layers QK_RUN_QDQ: also cut the model after every quantized activation (relu1..5, the pool)
and run each cut through qk (the qk-run-qdq binary given) and the simulation, on the first
--layer-samples test images: the fraction of int8 values that differ at each point, and by how
many steps. Then each layer alone on qk's own int8 input: qk vs the simulation vs the exact
value before rounding, and vs a numpy emulation of TFLite's double-rounding requantization.
This shows where the two arithmetics part (fixed-point vs float requantization).

--emulate: qk's whole integer network re-implemented in numpy (exact integer accumulators), with
TFLite's double rounding (must equal qk's logits bit for bit) and with single rounding (what the
agreement with the simulation would be if qk rounded once).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist  # noqa: E402
from train_fashion_cnn import to_input  # noqa: E402
from qat_finetune import QDQSim, qdq_layout  # noqa: E402


def load_logits(path, n_classes=10):
    return np.fromfile(path, dtype="<f4").reshape(-1, n_classes)


def top2(row_steps):
    o = np.argsort(-row_steps, kind="stable")[:2]
    return " ".join(f"{c}:{int(row_steps[c])}" for c in o)


def layer_analysis(model_path, qk_run, n, xte):
    import onnx
    torch.set_num_threads(1)
    m = onnx.load(model_path)
    act, _ = qdq_layout(m)
    sim = QDQSim(model_path)
    taps = []
    sim(xte[:n], taps=taps)
    qk_int = {}
    points = ["relu1", "relu2", "relu3", "relu4", "relu5", "gap"]
    print(f"\nper-layer int8 mismatch, qk vs simulation, first {n} test images (cumulative: each cut runs from the input)")
    print("| point | values | differ | % | max |steps| |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for k, p in enumerate(points):
            sname = act[p][0]
            # The DequantizeLinear that reads this point's QuantizeLinear output is the cut.
            qnode = next(nd for nd in m.graph.node if nd.op_type == "QuantizeLinear" and nd.input[1] == sname)
            dq = next(nd for nd in m.graph.node if nd.op_type == "DequantizeLinear" and nd.input[0] == qnode.output[0])
            cut = onnx.ModelProto()
            cut.CopyFrom(m)
            keep = []
            for nd in m.graph.node:
                keep.append(nd)
                if nd is dq:
                    break
            del cut.graph.node[:]
            cut.graph.node.extend(keep)
            del cut.graph.output[:]
            cut.graph.output.append(onnx.helper.make_tensor_value_info(dq.output[0], onnx.TensorProto.FLOAT, None))
            path = os.path.join(tmp, f"cut_{p}.onnx")
            onnx.save(cut, path)
            out = os.path.join(tmp, f"cut_{p}.f32")
            subprocess.run([qk_run, path, "--logits", out, "--test-samples", str(n)], check=True, stdout=subprocess.DEVNULL)
            t = taps[k].numpy()
            if t.ndim == 4:
                t = t.transpose(0, 2, 3, 1)  # qk's activations are NHWC
            q = np.fromfile(out, dtype="<f4").reshape(t.shape)
            scale = float(np.float32(sim.act[p][0]))
            steps = np.rint((q.astype(np.float64) - t) / scale).astype(np.int64)
            d = int((steps != 0).sum())
            print(f"| {p} | {t.size} | {d} | {100.0 * d / t.size:.3f} | {int(np.abs(steps).max())} |")
            qk_int[p] = np.rint(q.astype(np.float64) / scale).astype(np.int64) + sim.act[p][1]
    isolated(sim, xte[:n], qk_int)


def quantize_multiplier(real):
    """qk::quantize_multiplier (TFLite QuantizeMultiplier): real -> (Q0.31 multiplier, shift)."""
    if real == 0:
        return 0, 0
    mant, exp = np.frexp(real)
    q = int(np.round(mant * 2.0 ** 31))  # std::round: half away from zero (mant > 0)
    if q == 2 ** 31:
        q //= 2
        exp += 1
    return q, int(exp)


def mbqm_double_rounding(x, m, shift):
    """TFLite MultiplyByQuantizedMultiplier (double rounding), on an int64 array; m, shift
    broadcast (per channel). Saturation is not modelled (it never triggers here)."""
    x = np.asarray(x, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    ab = (x << left) * m
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    num = ab + nudge
    hm = np.where(num >= 0, num >> 31, -((-num) >> 31))  # C++ division truncates toward zero
    mask = (np.int64(1) << right) - 1
    rem = hm & mask
    thr = (mask >> 1) + (hm < 0)
    return (hm >> right) + (rem > thr)


def mbqm_single_rounding(x, m, shift):
    """TFLITE_SINGLE_ROUNDING MultiplyByQuantizedMultiplier: round(x * m / 2^(31 - shift)),
    ties toward +infinity (in range: |x * m| < 2^63, 31 - shift in [1, 62])."""
    x = np.asarray(x, dtype=np.int64)
    total = 31 - np.asarray(shift, dtype=np.int64)
    return (x * m + (np.int64(1) << (total - 1))) >> total


@torch.no_grad()
def emulate(sim, x, rounding, batch=500):
    """qk's integer network on a qk-quantize-layout QDQ file, in numpy/float64 (exact integer
    accumulators; float64 holds them exactly): QuantizeLinear of the input, per layer
    acc = sum (x - zp_in) * w + b, MultiplyByQuantizedMultiplier with rounding 'double' (TFLite's
    default, what qk::onnx::Network uses) or 'single' (TFLITE_SINGLE_ROUNDING, a what-if),
    + zp_out, clamp (ReLU fused); TFLite's int8 MEAN for the pool; the dequantized logits."""
    F = torch.nn.functional
    mbqm = mbqm_double_rounding if rounding == "double" else mbqm_single_rounding
    ins = ["input", "relu1", "relu2", "relu3", "relu4", "gap"]
    outs_ = ["relu1", "relu2", "relu3", "relu4", "relu5", "logits"]
    outs = []
    for i in range(0, x.shape[0], batch):
        s_in, z_in = sim.act["input"]
        q = np.clip(np.rint(x[i:i + batch].numpy() / np.float32(s_in)) + z_in, -128, 127).astype(np.int64)
        for k in range(6):
            si, zi = sim.act[ins[k]]
            so, zo = sim.act[outs_[k]]
            wint, wsc, bint, _ = sim.ints[k]
            mult = np.float64(np.float32(si)) * wsc.astype(np.float64) / np.float64(np.float32(so))
            ms = np.array([quantize_multiplier(v) for v in mult], dtype=np.int64)
            xi = torch.from_numpy((q - zi).astype(np.float64))
            if k < 5:
                a = sim.layers[k][2]
                pads = a.get("pads", [0, 0, 0, 0])
                acc = F.conv2d(xi, torch.from_numpy(wint.astype(np.float64)), torch.from_numpy(bint.astype(np.float64)),
                               stride=tuple(a.get("strides", [1, 1])), padding=(pads[0], pads[1]), groups=a.get("group", 1))
                shape = (1, -1, 1, 1)
            else:
                acc = F.linear(xi, torch.from_numpy(wint.astype(np.float64)), torch.from_numpy(bint.astype(np.float64)))
                shape = (1, -1)
            acc = np.rint(acc.numpy()).astype(np.int64)
            q = np.clip(mbqm(acc, ms[:, 0].reshape(shape), ms[:, 1].reshape(shape)) + zo, max(-128, zo) if k < 5 else -128, 127)
            if k == 4:  # the pool
                si, zi = sim.act["relu5"]
                so, zo = sim.act["gap"]
                hw = q.shape[2] * q.shape[3]
                m, sh = quantize_multiplier(np.float64(np.float32(si)) / np.float64(np.float32(so)))
                a = mbqm((q - zi).sum(axis=(2, 3)), m, sh)
                q = np.clip(np.where(a > 0, (a + hw // 2) // hw, -((-a + hw // 2) // hw)) + zo, -128, 127)
        so, zo = sim.act["logits"]
        outs.append(((q - zo).astype(np.float32) * np.float32(so)).astype(np.float32))
    return np.concatenate(outs)


def isolated(sim, x, qk_int):
    """Each layer alone, on qk's own int8 input (the previous cut's output): qk's output vs the
    simulation's float32 fake quant vs the exact real value r = acc * s_in * s_w / s_out (float64,
    integer accumulator exact), in output steps before rounding. A mismatch where r is within a
    hair of a .5 tie is a rounding decision, not an error of either side."""
    F = torch.nn.functional
    s_in, z_in = sim.act["input"]
    xq = np.clip(np.rint(x.numpy() / np.float32(s_in)) + z_in, -128, 127)  # qk's QuantizeLinear
    prev = torch.from_numpy(xq.astype(np.float64))
    prev_name = "input"
    print("\neach layer alone on qk's int8 input: qk vs simulation, and where r = exact pre-rounding value lies")
    print("| layer | outputs | qk != sim | of those, |r - tie| < 1e-4 | max |r - tie| | qk != round_half_away(r) | sim != round_half_even(r) | qk != TFLite double rounding (numpy) |")
    print("|---|---|---|---|---|---|---|---|")
    names = ["relu1", "relu2", "relu3", "relu4", "relu5"]
    for k, p in enumerate(names + ["gap"]):
        si, zi = sim.act[prev_name]
        so, zo = sim.act[p]
        xi = prev - zi  # float64, exact integers
        if p == "gap":
            hw = xi.shape[2] * xi.shape[3]
            r = xi.sum(dim=(2, 3)).numpy() * (np.float64(np.float32(si)) / (hw * np.float64(np.float32(so))))
            lo = -128
            xs = (xi.float() * np.float32(si)).mean(dim=(2, 3))
            simq = torch.fake_quantize_per_tensor_affine(xs, float(so), zo, -128, 127)
            qk = qk_int[p]
            m, sh = quantize_multiplier(np.float64(np.float32(si)) / np.float64(np.float32(so)))
            a = mbqm_double_rounding(xi.sum(dim=(2, 3)).numpy().astype(np.int64), m, sh)
            emu = np.where(a > 0, (a + hw // 2) // hw, -((-a + hw // 2) // hw))  # TFLite: ties away from zero
            emu = np.clip(emu + zo, -128, 127)
        else:
            w, b, a = sim.layers[k]
            pads = a.get("pads", [0, 0, 0, 0])
            conv = dict(stride=tuple(a.get("strides", [1, 1])), padding=(pads[0], pads[1]), groups=a.get("group", 1))
            wint, wsc, bint, bsc = sim.ints[k]
            acc = F.conv2d(xi, torch.from_numpy(wint.astype(np.float64)), torch.from_numpy(bint.astype(np.float64)), **conv)
            mult = np.float64(np.float32(si)) * wsc.astype(np.float64) / np.float64(np.float32(so))
            r = acc.numpy() * mult.reshape(1, -1, 1, 1)
            lo = max(-128, zo)  # ReLU fused: the clamp starts at the zero point
            xs = xi.float() * np.float32(si)
            simq = torch.fake_quantize_per_tensor_affine(F.relu(F.conv2d(xs, w, b, **conv)), float(so), zo, -128, 127)
            qk = qk_int[p].transpose(0, 3, 1, 2)
            ms = np.array([quantize_multiplier(v) for v in mult], dtype=np.int64)
            emu = mbqm_double_rounding(np.rint(acc.numpy()).astype(np.int64), ms[:, 0].reshape(1, -1, 1, 1),
                                       ms[:, 1].reshape(1, -1, 1, 1))
            emu = np.clip(emu + zo, lo, 127)
        sim_int = np.rint(simq.numpy().astype(np.float64) / np.float64(np.float32(so))).astype(np.int64) + zo
        away = np.clip(np.sign(r) * np.floor(np.abs(r) + 0.5) + zo, lo, 127)
        even = np.clip(np.rint(r) + zo, lo, 127)
        mis = qk != sim_int
        dist = np.abs(r - np.floor(r) - 0.5)[mis]
        near = int((dist < 1e-4).sum())
        print(f"| {p} | {qk.size} | {int(mis.sum())} | {near} | {dist.max() if dist.size else 0:.2e} | "
              f"{int((qk != away).sum())} | {int((sim_int != even).sum())} | {int((qk != emu).sum())} |")
        prev = torch.from_numpy(qk.astype(np.float64))
        prev_name = p


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="the QDQ file both sides ran (for the logits' scale and zero point)")
    ap.add_argument("--qk", required=True, help="qk's logits (qk-run-qdq --logits, or qk-quantize --dump's qk_logits.f32)")
    ap.add_argument("--sim", required=True, help="the simulation's logits (qat_finetune.py --sim-logits)")
    ap.add_argument("--show", type=int, default=20, help="list at most this many differing images")
    ap.add_argument("--layers", metavar="QK_RUN_QDQ", help="per-layer mismatch through the qk-run-qdq binary given")
    ap.add_argument("--layer-samples", type=int, default=500)
    ap.add_argument("--emulate", action="store_true",
                    help="also emulate qk's integer arithmetic in numpy, with double and with single rounding")
    args = ap.parse_args()

    import onnx
    from qat_finetune import to_array  # INT4 too
    m = onnx.load(args.model)
    init = {t.name: to_array(t) for t in m.graph.initializer}
    act, _ = qdq_layout(m)
    scale, zp = float(init[act["logits"][0]]), int(init[act["logits"][1]])
    qk, sim = load_logits(args.qk), load_logits(args.sim)
    xte_u8, y = fashion_mnist.load("test")
    n = qk.shape[0]
    assert sim.shape == qk.shape and n <= len(y), (qk.shape, sim.shape)
    y = y[:n].astype(np.int64)
    # Back to the int8 grid (exact: the values are (q - zp) * scale in float32).
    qk_s = np.rint(qk.astype(np.float64) / scale).astype(np.int64)
    sim_s = np.rint(sim.astype(np.float64) / scale).astype(np.int64)
    pq, ps = qk.argmax(1), sim.argmax(1)
    agree = int((pq == ps).sum())
    d = np.abs(qk_s - sim_s)
    print(f"model {args.model}: logits scale {scale:.8g}, zero point {zp}; {n} test images")
    print(f"qk int8 accuracy:     {100.0 * (pq == y).mean():.2f}%  ({int((pq == y).sum())})")
    print(f"simulation accuracy:  {100.0 * (ps == y).mean():.2f}%  ({int((ps == y).sum())})")
    print(f"top-1 agreement:      {100.0 * agree / n:.2f}%  ({agree} / {n}; {n - agree} images differ)")
    print(f"max |logit diff|:     {d.max()} output steps ({np.abs(qk - sim).max():.6g})")
    hist = {int(k): int(v) for k, v in zip(*np.unique(d, return_counts=True))}
    print(f"logits by |diff| in steps: {hist}  ({100.0 * (d != 0).mean():.2f}% of {d.size} logits differ; "
          f"{int((d != 0).any(1).sum())} images have a differing logit)")
    # Ties: argmax takes the first of equal logits; a one-step difference can make or break a tie.
    ties_q = int(sum((r == r.max()).sum() > 1 for r in qk_s))
    ties_s = int(sum((r == r.max()).sum() > 1 for r in sim_s))
    print(f"images whose top logit is tied: qk {ties_q}, simulation {ties_s}")
    diff = np.nonzero(pq != ps)[0]
    if len(diff):
        print("\nimages whose top-1 differs (logits in steps, class:steps of the two largest; label):")
        margins = []
        for i in diff:
            srow = np.sort(sim_s[i])[::-1]
            margins.append(int(srow[0] - srow[1]))
            if len(margins) <= args.show:
                print(f"  #{i:5d} label {y[i]}  qk {top2(qk_s[i])}  sim {top2(sim_s[i])}  "
                      f"(sim margin {srow[0] - srow[1]} steps, logits differing: {int((d[i] != 0).sum())}, "
                      f"max {int(d[i].max())})")
        print(f"simulation's top-1 margin on the differing images, in steps: "
              f"{ {int(k): int(v) for k, v in zip(*np.unique(margins, return_counts=True))} }")
    if args.emulate:
        # Double rounding must give qk's logits bit for bit; single rounding shows what the
        # agreement would be if qk requantized with one rounding (TFLITE_SINGLE_ROUNDING).
        torch.set_num_threads(1)
        sim_model = QDQSim(args.model)
        x = to_input(xte_u8)[:n]
        for rounding in ("double", "single"):
            e = emulate(sim_model, x, rounding)
            pe = e.argmax(1)
            es = np.rint(e.astype(np.float64) / scale).astype(np.int64)
            print(f"\nnumpy emulation, {rounding} rounding: accuracy {100.0 * (pe == y).mean():.2f}%; "
                  f"logits equal to qk's: {int((e == qk).all(1).sum())}/{n} images (max |diff| "
                  f"{int(np.abs(es - qk_s).max())} steps); top-1 agreement with the simulation "
                  f"{100.0 * (pe == ps).mean():.2f}% ({int((pe != ps).sum())} differ), max |diff| vs simulation "
                  f"{int(np.abs(es - sim_s).max())} steps, {100.0 * (es != sim_s).mean():.2f}% of logits differ")
    if args.layers:
        layer_analysis(args.model, args.layers, min(args.layer_samples, n), to_input(xte_u8))


if __name__ == "__main__":
    main()
