#!/usr/bin/env python3
"""Table of qk's blockwise int4 rows against ONNX Runtime's MatMulNBits, from run.sh's results.

    summarize.py WORK_DIR

Reads WORK_DIR/qk_round*.json (Google Benchmark JSON of qk_bench_gemm, one repetition each) and
WORK_DIR/ort.jsonl (ort_bench.js time, one line per model and round), takes the median over the
rounds of each row's real and CPU time per call, and prints a Markdown table. speed = ORT time /
qk time (above 1: qk faster). "net" subtracts from ORT's real time what a session.run of a model
with no work costs from node (overhead.onnx, same shape): a bound on what the JS binding adds, so
the net speed is the one that is fair to ORT. Standard library only.
"""
import glob
import json
import os
import statistics
import sys

# (qk row, ORT model, what they compute)
PAIRS = [
    ("qk_s4b32", "mnb_b32_l4", "W4A8, blocks of 32 (ORT accuracy_level 4)"),
    ("qk_s4b128", "mnb_b128_l4", "W4A8, blocks of 128 (ORT accuracy_level 4)"),
    ("qk_w4f32b32", "mnb_b32_l0", "W4 fp32, blocks of 32 (ORT accuracy_level 0)"),
    (None, "mnb_b128_l0", "W4 fp32, blocks of 128 (ORT accuracy_level 0; qk has no such row)"),
]
UNIT = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    work = sys.argv[1]
    qk = {}  # (row, shape) -> {"real": [...], "cpu": [...]}
    for path in sorted(glob.glob(os.path.join(work, "qk_round*.json"))):
        with open(path) as f:
            for b in json.load(f)["benchmarks"]:
                if b.get("run_type", "iteration") != "iteration":
                    continue
                parts = b["name"].split("/")  # gemm/<row>/<shape>/real_time
                t = qk.setdefault((parts[1], parts[2]), {"real": [], "cpu": []})
                t["real"].append(b["real_time"] * UNIT[b["time_unit"]])
                t["cpu"].append(b["cpu_time"] * UNIT[b["time_unit"]])
    ort = {}  # (model, shape) -> {"real": [...], "cpu": [...]}
    with open(os.path.join(work, "ort.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            t = ort.setdefault((r["model"], r["shape"]), {"real": [], "cpu": []})
            t["real"].append(r["real_us"])
            t["cpu"].append(r["cpu_us"])

    def med(table, key, kind):
        v = table.get(key, {}).get(kind)
        return statistics.median(v) if v else None

    shapes = []
    for (_, shape) in list(ort) + list(qk):
        if shape not in shapes:
            shapes.append(shape)
    shapes.sort(key=lambda s: [int(x) for x in s.split("x")])
    rounds = max([len(t["real"]) for t in ort.values()] + [0])
    print(f"medians of {rounds} rounds; times in us per call (real / CPU); speed = ORT time / qk time\n")
    print("| shape M x N x K | qk row | qk us (real / CPU) | ORT MatMulNBits | ORT us (real / CPU) | "
          "ORT node overhead us | speed real | speed net | speed CPU |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    fmt = lambda x: "-" if x is None else (f"{x:.0f}" if x >= 100 else f"{x:.1f}")
    ratio = lambda a, b: "-" if a is None or b is None else f"{a / b:.2f}"
    for shape in shapes:
        ovh = med(ort, ("overhead", shape), "real")
        for row, model, _ in PAIRS:
            qr, qc = (med(qk, (row, shape), "real"), med(qk, (row, shape), "cpu")) if row else (None, None)
            orr, oc = med(ort, (model, shape), "real"), med(ort, (model, shape), "cpu")
            if orr is None and qr is None:
                continue
            net = None if orr is None or ovh is None else orr - ovh
            print(f"| {shape} | {row or '-'} | {fmt(qr)} / {fmt(qc)} | {model} | {fmt(orr)} / {fmt(oc)} | {fmt(ovh)} | "
                  f"{ratio(orr, qr)} | {ratio(net, qr)} | {ratio(oc, qc)} |")
    print()
    for row, model, what in PAIRS:
        print(f"- {row or '(none)'} / {model}: {what}")


if __name__ == "__main__":
    main()
