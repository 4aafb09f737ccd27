#!/usr/bin/python3
"""Writes tests/quantize/data/fake_quant_vectors.bin: fake-quantization and LSQ test vectors
computed by PyTorch 1.13 on the CPU (float32), for tests/quantize/test_fake_quant.cpp.

Run with Debian's PyTorch (python3-torch 1.13):
    /usr/bin/python3 scripts/qat/gen_fake_quant_vectors.py [output]
Deterministic: fixed numpy seed, single-threaded torch. See docs/qat.md for the file format.
"""
import os
import struct
import sys

import numpy as np
import torch

torch.set_num_threads(1)
assert torch.__version__.startswith("1.13"), torch.__version__

f32 = np.float32
rng = np.random.default_rng(20261205)

KIND_PER_TENSOR, KIND_PER_CHANNEL, KIND_LSQ, KIND_LSQ_CHANNEL = 1, 2, 3, 4
LSQ_HAS_ELEMENTS = 1

out_parts = []
count = 0


def put(fmt, *vals):
    out_parts.append(struct.pack("<" + fmt, *vals))


def put_arr(a, dtype):
    out_parts.append(np.ascontiguousarray(a, dtype=dtype).astype(np.dtype(dtype).newbyteorder("<")).tobytes())


def make_x(n, scales, zps, qmin, qmax, specials=True):
    """Inputs in units of the scale: in-range values, exact ties (k + 0.5) * s, values near and
    far outside the range, +-0, and (when specials) huge values, infinities and NaN."""
    s = np.broadcast_to(np.asarray(scales, dtype=f32), (n,)).astype(f32)
    z = np.broadcast_to(np.asarray(zps, dtype=np.int64), (n,))
    lo = (qmin - z).astype(np.float64)
    hi = (qmax - z).astype(np.float64)
    kind = rng.integers(0, 8, size=n)
    u = rng.uniform(lo - 2.0, hi + 2.0)
    ties = np.floor(rng.uniform(lo - 2.0, hi + 2.0)) + 0.5
    x = np.empty(n, dtype=f32)
    for i in range(n):
        k = kind[i]
        if k <= 2:
            x[i] = f32(u[i]) * s[i]
        elif k <= 4:
            x[i] = f32(ties[i]) * s[i]  # exact tie when the product is exact (s a power of two)
        elif k == 5:
            edge = lo[i] if rng.integers(0, 2) else hi[i]
            x[i] = f32(edge + rng.choice([-0.5, 0.5, -0.49999997, 0.49999997, -1.0, 1.0])) * s[i]
        elif k == 6:
            x[i] = f32(rng.choice([-1.0, 1.0]) * 10.0 ** rng.uniform(0, 6) * (hi[i] - lo[i] + 1)) * s[i]
        else:
            x[i] = rng.choice([0.0, -0.0]) if rng.integers(0, 2) else f32(rng.normal()) * s[i]
    if specials and n >= 8:
        pos = rng.choice(n, size=min(6, n), replace=False)
        vals = [np.inf, -np.inf, np.nan, 1e30, -3e38, -0.0]
        for p, v in zip(pos, vals):
            x[p] = f32(v)
    return x


def make_dy(n):
    dy = rng.normal(size=n).astype(f32)
    dy[rng.random(n) < 0.05] = f32(0.0)
    return dy


def per_tensor_case(n, scale, zp, qmin, qmax, specials=True):
    global count
    scale = float(f32(scale))
    x = make_x(n, scale, zp, qmin, qmax, specials)
    dy = make_dy(n)
    xt = torch.from_numpy(x.copy()).requires_grad_()
    y = torch.fake_quantize_per_tensor_affine(xt, scale, zp, qmin, qmax)
    y.backward(torch.from_numpy(dy.copy()))
    _, mask = torch.ops.aten.fake_quantize_per_tensor_affine_cachemask(torch.from_numpy(x.copy()), scale, zp, qmin, qmax)
    put("IIfiii", KIND_PER_TENSOR, n, scale, zp, qmin, qmax)
    put_arr(x, "<f4"); put_arr(dy, "<f4"); put_arr(y.detach().numpy(), "<f4")
    put_arr(mask.numpy().astype(np.uint8), "u1"); put_arr(xt.grad.numpy(), "<f4")
    count += 1


def per_channel_case(outer, channels, inner, scales, zps, qmin, qmax):
    global count
    scales = np.asarray(scales, dtype=f32)
    zps = np.asarray(zps, dtype=np.int32)
    n = outer * channels * inner
    ch = (np.arange(n) // inner) % channels
    x = make_x(n, scales[ch], zps[ch], qmin, qmax)
    dy = make_dy(n)
    xt = torch.from_numpy(x.copy().reshape(outer, channels, inner)).requires_grad_()
    y = torch.fake_quantize_per_channel_affine(xt, torch.from_numpy(scales.copy()), torch.from_numpy(zps.copy()),
                                               1, qmin, qmax)
    y.backward(torch.from_numpy(dy.copy().reshape(outer, channels, inner)))
    _, mask = torch.ops.aten.fake_quantize_per_channel_affine_cachemask(
        torch.from_numpy(x.copy().reshape(outer, channels, inner)), torch.from_numpy(scales.copy()),
        torch.from_numpy(zps.copy()), 1, qmin, qmax)
    put("IIIIii", KIND_PER_CHANNEL, outer, channels, inner, qmin, qmax)
    put_arr(scales, "<f4"); put_arr(zps, "<i4")
    put_arr(x, "<f4"); put_arr(dy, "<f4"); put_arr(y.detach().numpy().reshape(-1), "<f4")
    put_arr(mask.numpy().reshape(-1).astype(np.uint8), "u1"); put_arr(xt.grad.numpy().reshape(-1), "<f4")
    count += 1


def lsq_call(x, dy, scale, zp, qmin, qmax, gf):
    xt = torch.from_numpy(x.copy()).requires_grad_()
    st = torch.tensor([scale], dtype=torch.float32, requires_grad=True)
    zt = torch.tensor([zp], dtype=torch.float32, requires_grad=True)
    y = torch._fake_quantize_learnable_per_tensor_affine(xt, st, zt, qmin, qmax, gf)
    y.backward(torch.from_numpy(dy.copy()))
    return y.detach().numpy(), xt.grad.numpy(), st.grad.numpy()[0], zt.grad.numpy()[0]


def lsq_case(n, scale, zp, qmin, qmax, gf, elements=True, specials=True):
    global count
    scale = float(f32(scale))
    zp = float(f32(zp))
    gf = float(f32(gf))  # PyTorch's kernel takes grad_factor as float
    zb = int(min(max(f32(zp) + f32(0.5), qmin), qmax))  # for choosing inputs only
    x = make_x(n, scale, zb, qmin, qmax, specials)
    dy = make_dy(n)
    y, dx, ds, dz = lsq_call(x, dy, scale, zp, qmin, qmax, gf)
    put("IIIffiifff", KIND_LSQ, n, LSQ_HAS_ELEMENTS if elements else 0, scale, zp, qmin, qmax, gf, ds, dz)
    put_arr(x, "<f4"); put_arr(dy, "<f4")
    if elements:
        # Per-element scale / zero-point gradients: PyTorch only returns sums, so each element is
        # run alone (the kernel does not depend on n; grad_factor is explicit). A one-element sum
        # is 0 + v, i.e. v except that -0 becomes +0; the test compares 0.0f + its value.
        des = np.empty(n, dtype=f32)
        dez = np.empty(n, dtype=f32)
        for i in range(n):
            _, _, des[i], dez[i] = lsq_call(x[i:i + 1], dy[i:i + 1], scale, zp, qmin, qmax, gf)
        put_arr(y, "<f4"); put_arr(dx, "<f4"); put_arr(des, "<f4"); put_arr(dez, "<f4")
    count += 1


def lsq_channel_call(x3, dy3, scales, zps, qmin, qmax, gf):
    xt = torch.from_numpy(x3.copy()).requires_grad_()
    st = torch.from_numpy(scales.copy()).requires_grad_()
    zt = torch.from_numpy(zps.copy()).requires_grad_()
    y = torch._fake_quantize_learnable_per_channel_affine(xt, st, zt, 1, qmin, qmax, gf)
    y.backward(torch.from_numpy(dy3.copy()))
    return y.detach().numpy(), xt.grad.numpy(), st.grad.numpy(), zt.grad.numpy()


def lsq_channel_case(outer, channels, inner, scales, zps, qmin, qmax, gf):
    global count
    scales = np.asarray(scales, dtype=f32)
    zps = np.asarray(zps, dtype=f32)
    gf = float(f32(gf))
    n = outer * channels * inner
    ch = (np.arange(n) // inner) % channels
    zr = np.clip(np.rint(zps), qmin, qmax).astype(np.int64)
    x = make_x(n, scales[ch], zr[ch], qmin, qmax)
    dy = make_dy(n)
    shape = (outer, channels, inner)
    y, dx, ds, dz = lsq_channel_call(x.reshape(shape), dy.reshape(shape), scales, zps, qmin, qmax, gf)
    des = np.empty(n, dtype=f32)
    dez = np.empty(n, dtype=f32)
    for i in range(n):  # each element alone (a one-element sum, 0 + v), see lsq_case
        c = ch[i]
        _, _, a, b = lsq_channel_call(x[i:i + 1].reshape(1, 1, 1), dy[i:i + 1].reshape(1, 1, 1), scales[c:c + 1],
                                      zps[c:c + 1], qmin, qmax, gf)
        des[i], dez[i] = a[0], b[0]
    put("IIIIiif", KIND_LSQ_CHANNEL, outer, channels, inner, qmin, qmax, gf)
    put_arr(scales, "<f4"); put_arr(zps, "<f4"); put_arr(ds, "<f4"); put_arr(dz, "<f4")
    put_arr(x, "<f4"); put_arr(dy, "<f4"); put_arr(y.reshape(-1), "<f4"); put_arr(dx.reshape(-1), "<f4")
    put_arr(des, "<f4"); put_arr(dez, "<f4")
    count += 1


def ranges():
    r = [(0, 255), (-128, 127), (-8, 7), (0, 15), (-2, 1), (-32768, 32767), (-127, 127)]
    for b in range(2, 17):
        r.append((0, (1 << b) - 1))
        r.append((-(1 << (b - 1)), (1 << (b - 1)) - 1))
    out = []
    for q in r:
        if q not in out:
            out.append(q)
    return out


SCALES = [2.0 ** -20, 1.0e-7, 1.0 / 3.0, 0.1, 0.25, 1.0, 2.0, 0.0173, 1024.0, 3.0e4, 1.0e-30, 5.0e-3]
SIZES = [1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 100]

# 1. Per tensor: every range x zero point (qmin, mid, qmax), scales and sizes in rotation.
i = 0
for (qmin, qmax) in ranges():
    for zp in (qmin, (qmin + qmax) // 2, qmax):
        per_tensor_case(SIZES[i % len(SIZES)], SCALES[i % len(SCALES)], zp, qmin, qmax)
        i += 1
# Powers of two: every tie is exact.
for k, s in enumerate([2.0 ** -8, 0.5, 4.0, 2.0 ** 10]):
    per_tensor_case(257, s, [0, 128, 255, 17][k], 0, 255)
    per_tensor_case(129, s, [0, -128, 127, -5][k], -128, 127)

# 2. Per channel: axis in the middle, first (outer = 1) and last (inner = 1).
for (outer, channels, inner, qmin, qmax) in [(2, 3, 5, -128, 127), (1, 4, 17, 0, 255), (7, 5, 1, -8, 7),
                                             (3, 2, 16, 0, 15), (1, 1, 1, -2, 1), (2, 6, 3, -32768, 32767)]:
    sc = [SCALES[(c * 5 + outer) % len(SCALES)] for c in range(channels)]
    zps = [[qmin, qmax, (qmin + qmax) // 2][c % 3] for c in range(channels)]
    per_channel_case(outer, channels, inner, sc, zps, qmin, qmax)

# 3. LSQ per tensor (ranges must contain 0).
lsq_ranges = [(0, 255), (-128, 127), (-8, 7), (0, 15), (-2, 1), (-32768, 32767), (0, 3)]
lsq_zps = [0.0, 2.5, -2.5, 3.5, 0.4999999, -3.7, 1000.0, -1000.0, 127.5, 7.49]
lsq_sizes = [1, 2, 5, 8, 9, 16, 31, 33, 64, 100, 127, 200]
j = 0
for (qmin, qmax) in lsq_ranges:
    for t in range(4):
        n = lsq_sizes[j % len(lsq_sizes)]
        zp = lsq_zps[j % len(lsq_zps)]
        s = SCALES[(j * 7) % len(SCALES)]
        gf = 1.0 if t % 2 == 0 else 1.0 / (n * max(qmax, 1)) ** 0.5
        lsq_case(n, s, zp, qmin, qmax, gf)
        j += 1
# Sizes that exercise the summation order (vector tail, 4-vector groups, cascade levels).
for n in [513, 1000, 2047, 4099]:
    lsq_case(n, 0.0625, 3.0, 0, 255, 1.0 / (n * 255) ** 0.5, elements=(n == 513), specials=False)
lsq_case(8219, 0.02, -1.0, -128, 127, 1.0 / (8219 * 127) ** 0.5, elements=False, specials=False)

# 4. LSQ per channel: channel axis first (outer 1), middle, last (inner 1).
for (outer, channels, inner, qmin, qmax) in [(1, 3, 40, -128, 127), (2, 4, 9, 0, 255), (5, 3, 1, -8, 7),
                                             (3, 2, 33, 0, 15), (1, 1, 1, -2, 1), (2, 5, 17, -32768, 32767),
                                             (40, 9, 1, -128, 127), (20, 2, 5, 0, 255)]:
    sc = [SCALES[(c * 3 + inner) % len(SCALES)] for c in range(channels)]
    zps = [lsq_zps[(c + outer) % len(lsq_zps)] for c in range(channels)]
    lsq_channel_case(outer, channels, inner, sc, zps, qmin, qmax, 1.0 if outer % 2 else 1.0 / (inner * max(qmax, 1)) ** 0.5)

data = b"QKFQV001" + struct.pack("<I", count) + b"".join(out_parts)
here = os.path.dirname(os.path.abspath(__file__))
dst = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "tests", "quantize", "data",
                                                          "fake_quant_vectors.bin")
with open(dst, "wb") as f:
    f.write(data)
print(f"{count} cases, {len(data)} bytes -> {os.path.normpath(dst)}")
