#!/usr/bin/python3
"""Accuracy against bits per weight, one line per quantization method, from qk-quantize's CSV.

    qk-quantize models/fashion_cnn/fashion_cnn.onnx --table --csv /tmp/ptq/table.csv
    /usr/bin/python3 scripts/ptq/plot_accuracy.py /tmp/ptq/table.csv [--qat QAT.csv] --output docs/ptq_accuracy.png

x is the width of the weight grid (3, 4, 8 bits; fp16 at 16, fp32 at 32), on a log2 axis; the
per-block schemes also pay for their scales (one float32 per block: +1 bit per weight at block
32), which the table's bits/weight column counts and the legend notes. Points are the rows with
int8 activations calibrated by minmax, except where the method is the activation observer (the
int8 observers at 8 bits). --qat adds rows written by the fine-tuning script (same columns).
Needs matplotlib (Debian's python3-matplotlib).
"""
import argparse
import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

GRID_BITS = {"int8-per-channel": 8, "int8-per-tensor": 8, "int4-per-channel": 4, "int4-per-block": 4,
             "int3-per-channel": 3, "int3-per-block": 3, "fp16": 16}


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def series_name(r):
    w, rng, block = r["weights"], r["weight_range"], r["block"]
    if w == "fp16":
        return None
    if r["activations"] != "int8":
        return None
    if r["observer"] != "minmax":
        return None
    if w.endswith("per-tensor"):
        return "per tensor, minmax"
    if w.endswith("per-block"):
        return f"per block {block}, {rng}"
    return f"per channel, {rng}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("--qat", help="CSV rows of QAT-fine-tuned models (same columns; weights, accuracy)")
    ap.add_argument("--output", required=True)
    args = ap.parse_args()
    rows = read_rows(args.csv)
    fp32 = float(rows[0]["fp32_accuracy"])
    series = {}
    for r in rows:
        name = series_name(r)
        if name is None:
            continue
        series.setdefault(name, []).append((GRID_BITS[r["weights"]], float(r["accuracy"])))
    # Every per-weight-grid line ends at fp32 (32 bits); fp16 weights sit at 16.
    fp16 = [float(r["accuracy"]) for r in rows if r["weights"] == "fp16"]
    fig, ax = plt.subplots(figsize=(8, 5.5))
    markers = "os^vD<>ph*"
    for i, (name, pts) in enumerate(sorted(series.items())):
        pts = sorted(set(pts))
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=markers[i % len(markers)], label=name, alpha=0.85)
    observers = [r for r in rows if r["weights"] == "int8-per-channel" and r["activations"] == "int8"]
    for r in observers:
        ax.annotate(r["observer"], (8, float(r["accuracy"])), textcoords="offset points", xytext=(6, 0), fontsize=7,
                    va="center")
    ax.scatter([8] * len(observers), [float(r["accuracy"]) for r in observers], s=12, color="gray",
               label="int8 per channel, each activation observer", zorder=3)
    if args.qat:
        qat = read_rows(args.qat)
        ax.plot([GRID_BITS[r["weights"]] for r in qat], [float(r["accuracy"]) for r in qat], marker="*", markersize=11,
                linestyle="--", color="black", label="QAT (fine-tuned 2 epochs), per channel")
    if fp16:
        ax.scatter([16], fp16, marker="s", s=40, color="tab:green", label="fp16 weights", zorder=3)
    ax.scatter([32], [fp32], marker="P", s=60, color="black", label=f"fp32 ({fp32:.2f}%)", zorder=3)
    ax.axhline(fp32, color="black", linewidth=0.6, linestyle=":")
    ax.axhline(fp32 - 1.0, color="tab:red", linewidth=0.6, linestyle=":", label="fp32 - 1 pp (W4A8 goal)")
    ax.axhline(fp32 - 5.0, color="tab:orange", linewidth=0.6, linestyle=":", label="fp32 - 5 pp (int3 goal)")
    ax.set_xscale("log", base=2)
    ax.set_xticks([3, 4, 8, 16, 32])
    ax.set_xticklabels(["3", "4", "8", "16\n(fp16)", "32\n(fp32)"])
    ax.set_xlabel("bits per weight (weight grid; per-block scales add 32 / block)")
    ax.set_ylabel("Fashion-MNIST test accuracy (%), 10,000 images")
    lo = min([p[1] for pts in series.values() for p in pts] + [fp32 - 6])
    ax.set_ylim(max(lo - 1, 0), fp32 + 1.5)
    ax.set_title("qk: Fashion-MNIST CNN accuracy against bits per weight (int8 activations)")
    ax.grid(True, linewidth=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
