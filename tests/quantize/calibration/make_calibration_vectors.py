#!/usr/bin/python3
"""Writes calibration_vectors.inc: input batches and expected (scale, zero point) for
tests/quantize/test_calibration.cpp.

Run with Debian's interpreter and python3-torch (PyTorch 1.13):
    /usr/bin/python3 tests/quantize/calibration/make_calibration_vectors.py
Deterministic (fixed seeds, CPU, one thread); the output is committed.

Where the expected values come from:
  minmax, moving_average (per tensor and per channel)  PyTorch's own observers, unchanged.
  histogram       PyTorch's HistogramObserver, with one fix: 1.13's forward() passes
                  int(min), int(max) to torch.histc (truncating the histogram's range, fixed in
                  later PyTorch); FixedHistogramObserver passes the float range. Everything else
                  (_adjust_min_max, _combine_histograms, _non_linear_param_search,
                  _calculate_qparams) is PyTorch's code. For ranges other than 8 bits dst_nbins
                  is set to qmax - qmin + 1 (PyTorch keeps 2^bits of its dtype).
  percentile, entropy   an independent numpy re-implementation of NVIDIA pytorch-quantization's
                  _compute_amax_percentile / _compute_amax_entropy (written from that code's
                  description: np.digitize over np.linspace, Counter of non-empty bins, last
                  argmin) on the |x| histogram built by FixedHistogramObserver with min pinned to 0.
  mean_k_sigma    numpy float64 mean / population std over all batches, k = 3.
  power of two    2^ceil(log2(PyTorch's scale)), zero point recomputed with PyTorch's formula.
"""
import math
import os
import struct

import numpy as np
import torch
from torch.ao.quantization import observer as tobs

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "calibration_vectors.inc")


def f32_bits(v):
    return struct.unpack("<I", struct.pack("<f", float(v)))[0]


class FixedHistogramObserver(tobs.HistogramObserver):
    """PyTorch 1.13 HistogramObserver.forward with the float histc range (and, for abs_mode, the
    histogram of |x| over [0, max|x|] as pytorch-quantization keeps it)."""

    def __init__(self, *a, abs_mode=False, **k):
        super().__init__(*a, **k)
        self.abs_mode = abs_mode

    def forward(self, x_orig):
        x = x_orig.detach()
        if self.abs_mode:
            x = x.abs()
        min_val = self.min_val
        max_val = self.max_val
        same_values = min_val.item() == max_val.item()
        is_uninitialized = min_val == float("inf") and max_val == float("-inf")
        if is_uninitialized or same_values:
            min_val, max_val = torch.aminmax(x)
            if self.abs_mode:
                min_val = torch.zeros_like(min_val)
            self.min_val.resize_(min_val.shape)
            self.min_val.copy_(min_val)
            self.max_val.resize_(max_val.shape)
            self.max_val.copy_(max_val)
            torch.histc(x, self.bins, min=min_val.item(), max=max_val.item(), out=self.histogram)
        else:
            new_min, new_max = torch.aminmax(x)
            if self.abs_mode:
                new_min = torch.zeros_like(new_min)
            combined_min = torch.min(new_min, min_val)
            combined_max = torch.max(new_max, max_val)
            combined_min, combined_max, downsample_rate, start_idx = self._adjust_min_max(
                combined_min, combined_max, self.upsample_rate)
            combined_histogram = torch.histc(x, self.bins, min=combined_min.item(), max=combined_max.item())
            if combined_min == min_val and combined_max == max_val:
                combined_histogram += self.histogram
            else:
                combined_histogram = self._combine_histograms(
                    combined_histogram, self.histogram, self.upsample_rate, downsample_rate, start_idx, self.bins)
            self.histogram.detach_().resize_(combined_histogram.shape)
            self.histogram.copy_(combined_histogram)
            self.min_val.detach_().resize_(combined_min.shape)
            self.min_val.copy_(combined_min)
            self.max_val.detach_().resize_(combined_max.shape)
            self.max_val.copy_(combined_max)
        return x_orig


# ---- independent re-implementations ---------------------------------------------------------

def amax_percentile(hist, edges, percentile):
    total = hist.sum()
    cdf = np.cumsum(hist / total)
    idx = np.searchsorted(cdf, percentile / 100)
    return edges[idx]


def kl(p, q):
    p = p / p.sum()
    q = q / q.sum()
    m = p > 0
    if np.any(q[m] == 0):
        return math.inf
    return float(np.sum(p[m] * np.log(p[m] / q[m])))


def amax_entropy(hist, edges, levels, start_bin=128):
    bins = hist.astype(np.float64).copy()
    bins[0] = bins[1]
    divergences = []
    for i in range(start_bin, len(bins) + 1):
        space = np.linspace(0, i, num=levels + 1)
        dig = np.digitize(range(i), space) - 1
        dig[bins[:i] == 0] = -1
        q_counts = np.zeros(levels)
        nonzero = np.zeros(levels)
        for j, d in enumerate(dig):
            if d != -1:
                q_counts[d] += bins[j]
                nonzero[d] += 1
        q = np.zeros(i)
        for j, d in enumerate(dig):
            if d != -1:
                q[j] = q_counts[d] / nonzero[d]
        p = np.array(bins[:i])
        p[-1] += np.sum(bins[i:])
        divergences.append(kl(p, q) if q.sum() > 0 else math.inf)
    divergences = np.array(divergences)
    last_argmin = len(divergences) - 1 - np.argmin(divergences[::-1])
    return edges[last_argmin + start_bin]


def torch_qparams(lo, hi, qmin, qmax, symmetric, custom, unsigned):
    """PyTorch's _calculate_qparams via a MinMaxObserver whose min/max are set directly."""
    dtype = torch.quint8 if unsigned else torch.qint8
    scheme = torch.per_tensor_symmetric if symmetric else torch.per_tensor_affine
    kw = dict(quant_min=qmin, quant_max=qmax) if custom else {}
    o = tobs.MinMaxObserver(dtype=dtype, qscheme=scheme, **kw)
    s, z = o._calculate_qparams(torch.tensor(np.float32(lo)), torch.tensor(np.float32(hi)))
    return float(s[0]), int(z[0])


def pot(scale, lo, qmin, qmax, symmetric, zp):
    s = np.float32(2.0 ** math.ceil(math.log2(scale)))
    if symmetric:
        return s, zp
    lo = np.float32(min(lo, 0.0))
    z = qmin - int(np.round(np.float32(lo / s)))
    return s, int(min(max(z, qmin), qmax))


# ---- data ------------------------------------------------------------------------------------

g = torch.Generator().manual_seed(20261205)


def randn(*shape, std=1.0, mean=0.0):
    return (torch.randn(*shape, generator=g) * std + mean).float()


datasets = []  # (name, [batch tensors], per_channel_dims or None)
gauss = [randn(1024), randn(1024, std=1.5), randn(1024, std=0.8)]
gauss[2][17] = 9.5  # an outlier in the last batch widens the range again
datasets.append(("gauss", gauss, None))
relu = []
for b in range(2):
    x = torch.relu(randn(1024))
    x[5 + b] = 12.0 + 3.0 * b  # outliers
    relu.append(x)
datasets.append(("relu_outliers", relu, None))
def laplace(n):
    # Laplace(0, 1) by inverting the cdf of a uniform drawn from the seeded generator.
    u = torch.rand(n, generator=g, dtype=torch.float64) - 0.5
    return (-torch.sign(u) * torch.log1p(-2.0 * u.abs())).float()


lap = [laplace(1024) for _ in range(2)]
datasets.append(("laplace", lap, None))
datasets.append(("small", [randn(512, std=0.2)], None))
pc = [randn(2, 4, 3, 5, std=1.0) * torch.tensor([0.5, 1.0, 2.0, 4.0]).view(1, 4, 1, 1) for _ in range(2)]
datasets.append(("per_channel", pc, [2, 4, 3, 5]))
DS = {name: i for i, (name, _, _) in enumerate(datasets)}

CONFIGS = {
    # name: (qmin, qmax, symmetric, custom, unsigned, bits, is_signed)
    "u8_affine": (0, 255, False, False, True, 8, False),
    "s8_affine": (-128, 127, False, False, False, 8, True),
    "s8_sym": (-128, 127, True, False, False, 8, True),
    "u8_sym": (0, 255, True, False, True, 8, False),
    "s4_custom_affine": (-8, 7, False, True, False, 4, True),
}

cases = []  # dicts


def observe_all(o, ds):
    for x in datasets[DS[ds]][1]:
        o(x)


def add(name, observer, cfg, ds, scales, zps, lo=None, hi=None, axis=None, pot_flag=False, tol_ulp=0):
    cases.append(dict(name=name, observer=observer, cfg=cfg, ds=ds, scales=[np.float32(s) for s in scales],
                      zps=zps, lo=lo, hi=hi, axis=axis, pot=pot_flag, tol=tol_ulp))


def torch_observer(kind, cfg, **extra):
    qmin, qmax, sym, custom, unsigned, _, _ = CONFIGS[cfg]
    dtype = torch.quint8 if unsigned else torch.qint8
    kw = dict(quant_min=qmin, quant_max=qmax) if custom else {}
    if kind == "minmax":
        return tobs.MinMaxObserver(dtype=dtype, qscheme=torch.per_tensor_symmetric if sym else torch.per_tensor_affine, **kw)
    if kind == "moving_average":
        return tobs.MovingAverageMinMaxObserver(
            dtype=dtype, qscheme=torch.per_tensor_symmetric if sym else torch.per_tensor_affine, **kw)
    if kind == "pc_minmax":
        return tobs.PerChannelMinMaxObserver(
            ch_axis=extra["axis"], dtype=dtype,
            qscheme=torch.per_channel_symmetric if sym else torch.per_channel_affine, **kw)
    if kind == "pc_moving_average":
        return tobs.MovingAveragePerChannelMinMaxObserver(
            ch_axis=extra["axis"], dtype=dtype,
            qscheme=torch.per_channel_symmetric if sym else torch.per_channel_affine, **kw)
    if kind == "histogram":
        o = FixedHistogramObserver(dtype=dtype, qscheme=torch.per_tensor_symmetric if sym else torch.per_tensor_affine,
                                   abs_mode=extra.get("abs_mode", False), **kw)
        o.dst_nbins = qmax - qmin + 1
        return o
    raise ValueError(kind)


# min/max and moving average, per tensor
for kind in ("minmax", "moving_average"):
    for cfg in CONFIGS:
        for ds in ("gauss", "relu_outliers", "small"):
            o = torch_observer(kind, cfg)
            observe_all(o, ds)
            s, z = o.calculate_qparams()
            add(f"{kind}/{cfg}/{ds}", kind, cfg, ds, [float(s[0])], [int(z[0])],
                lo=float(o.min_val), hi=float(o.max_val))
# per channel
for kind, tkind in (("minmax", "pc_minmax"), ("moving_average", "pc_moving_average")):
    for cfg in ("s8_affine", "s8_sym", "u8_affine"):
        for axis in (1, -1):
            o = torch_observer(tkind, cfg, axis=axis)
            observe_all(o, "per_channel")
            s, z = o.calculate_qparams()
            add(f"{kind}/{cfg}/per_channel_axis{axis}", kind, cfg, "per_channel", [float(v) for v in s],
                [int(v) for v in z], axis=axis)
# histogram (L2 / MSE search)
for cfg in ("u8_affine", "s8_sym", "s8_affine", "s4_custom_affine"):
    for ds in ("gauss", "relu_outliers", "laplace", "small"):
        o = torch_observer("histogram", cfg)
        observe_all(o, ds)
        s, z = o.calculate_qparams()
        lo, hi = o._non_linear_param_search()
        add(f"histogram/{cfg}/{ds}", "histogram", cfg, ds, [float(s[0])], [int(z[0])], lo=float(lo), hi=float(hi))
# percentile and entropy on the |x| histogram
for ds in ("gauss", "relu_outliers", "laplace", "small"):
    o = torch_observer("histogram", "s8_sym", abs_mode=True)
    observe_all(o, ds)
    hist = o.histogram.numpy().astype(np.float64)
    mn, mx = float(o.min_val), float(o.max_val)
    edges = mn + np.arange(len(hist) + 1) * ((mx - mn) / len(hist))
    data = torch.cat(datasets[DS[ds]][1])
    dmin, dmax = float(data.min()), float(data.max())
    for kind in ("percentile", "entropy"):
        amax = amax_percentile(hist, edges, 99.99) if kind == "percentile" else amax_entropy(hist, edges, 128)
        a = np.float32(amax)
        lo, hi = max(-a, np.float32(dmin)), min(a, np.float32(dmax))
        for cfg in ("s8_sym", "u8_affine"):
            qmin, qmax, sym, custom, unsigned, _, _ = CONFIGS[cfg]
            s, z = torch_qparams(lo, hi, qmin, qmax, sym, custom, unsigned)
            add(f"{kind}/{cfg}/{ds}", kind, cfg, ds, [s], [z], lo=float(lo), hi=float(hi))
# mean +- 3 sigma
for ds in ("gauss", "relu_outliers", "laplace"):
    data = torch.cat(datasets[DS[ds]][1]).numpy().astype(np.float64)
    m, sd = data.mean(), data.std()
    lo = max(np.float32(m - 3 * sd), np.float32(data.min()))
    hi = min(np.float32(m + 3 * sd), np.float32(data.max()))
    for cfg in ("s8_sym", "u8_affine"):
        qmin, qmax, sym, custom, unsigned, _, _ = CONFIGS[cfg]
        s, z = torch_qparams(lo, hi, qmin, qmax, sym, custom, unsigned)
        add(f"mean_k_sigma/{cfg}/{ds}", "mean_k_sigma", cfg, ds, [s], [z], lo=float(lo), hi=float(hi), tol_ulp=2)
# power-of-two scales on min/max
for cfg in ("s8_sym", "u8_affine", "s4_custom_affine"):
    for ds in ("gauss", "relu_outliers"):
        qmin, qmax, sym, custom, unsigned, _, _ = CONFIGS[cfg]
        o = torch_observer("minmax", cfg)
        observe_all(o, ds)
        s, z = o.calculate_qparams()
        ps, pz = pot(float(s[0]), float(o.min_val), qmin, qmax, sym, int(z[0]))
        add(f"minmax_pot/{cfg}/{ds}", "minmax", cfg, ds, [float(ps)], [pz], pot_flag=True)

# ---- output ----------------------------------------------------------------------------------

lines = ["// Generated by make_calibration_vectors.py (PyTorch %s, numpy %s). Do not edit." % (torch.__version__, np.__version__),
         "// Floats are IEEE-754 binary32 bit patterns."]
for i, (name, batches, dims) in enumerate(datasets):
    flat = torch.cat([b.reshape(-1) for b in batches]).numpy().astype(np.float32)
    words = [f"0x{f32_bits(v):08x}u" for v in flat]
    lines.append(f"static const std::uint32_t kCalibData{i}[] = {{  // {name}")
    for k in range(0, len(words), 8):
        lines.append("  " + ", ".join(words[k:k + 8]) + ",")
    lines.append("};")
    lines.append(f"static const std::size_t kCalibBatches{i}[] = {{{', '.join(str(b.numel()) for b in batches)}}};")
    d = dims or [0]
    lines.append(f"static const std::size_t kCalibDims{i}[] = {{{', '.join(str(v) for v in d)}}};")
lines.append("static const CalibDataset kCalibDatasets[] = {")
for i, (name, batches, dims) in enumerate(datasets):
    lines.append(f'  {{"{name}", kCalibData{i}, kCalibBatches{i}, {len(batches)}, kCalibDims{i}, {len(dims) if dims else 0}}},')
lines.append("};")
for i, c in enumerate(cases):
    lines.append(f"static const std::uint32_t kCalibScales{i}[] = {{{', '.join(f'0x{f32_bits(s):08x}u' for s in c['scales'])}}};")
    lines.append(f"static const std::int32_t kCalibZps{i}[] = {{{', '.join(str(z) for z in c['zps'])}}};")
lines.append("static const CalibCase kCalibCases[] = {")
for i, c in enumerate(cases):
    qmin, qmax, sym, custom, unsigned, bits, signed = CONFIGS[c["cfg"]]
    has_range = c["lo"] is not None
    lo = f32_bits(c["lo"]) if has_range else 0
    hi = f32_bits(c["hi"]) if has_range else 0
    axis = c["axis"] if c["axis"] is not None else 0
    lines.append(
        f'  {{"{c["name"]}", "{c["observer"]}", {DS[c["ds"]]}, {bits}, {str(signed).lower()}, {str(custom).lower()}, '
        f'{qmin}, {qmax}, {str(sym).lower()}, {str(c["pot"]).lower()}, {str(c["axis"] is not None).lower()}, {axis}, '
        f'{len(c["scales"])}, kCalibScales{i}, kCalibZps{i}, {str(has_range).lower()}, 0x{lo:08x}u, 0x{hi:08x}u, {c["tol"]}}},')
lines.append("};")
with open(OUT, "w") as f:
    f.write("\n".join(lines) + "\n")
print(f"wrote {OUT}: {len(datasets)} datasets, {len(cases)} cases, {os.path.getsize(OUT)} bytes")
