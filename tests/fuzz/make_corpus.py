#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/ (deterministic; rerun to regenerate).

The targets decode their input as a stream of small fields (tests/fuzz/fuzz_common.hpp), so
seeds are short byte strings: all-zero (the smallest shapes), all-0xFF (the boundary values and
raw enums), and a few fixed-seed random strings per selector byte, so that each of a target's
branches (first byte) starts with a few inputs.
"""
import os
import random

TARGETS = {  # target: number of branches its first byte selects
    "fuzz_gemm": 4, "fuzz_conv": 8, "fuzz_quantize": 9, "fuzz_requant": 4,
    "fuzz_gemm_s8_diff": 4, "fuzz_conv_s8_diff": 4, "fuzz_gemm_q4": 2,
}

def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    for target, branches in TARGETS.items():
        d = os.path.join(root, target)
        os.makedirs(d, exist_ok=True)
        rng = random.Random(target)
        seeds = {"zeros": bytes(64), "ones": bytes([0xFF]) * 64}
        for b in range(branches):
            for i in range(2):
                body = bytes(rng.randrange(256) for _ in range(rng.randrange(32, 400)))
                seeds["b%d_%d" % (b, i)] = bytes([b]) + body
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)

if __name__ == "__main__":
    main()
