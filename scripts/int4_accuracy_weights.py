#!/usr/bin/env python3
"""Writes real trained weights as the raw file that examples/int4_accuracy.cpp reads.

Source: GNU Backgammon's neural networks (Debian package `gnubg`, file
/usr/lib/gnubg/gnubg.wd): six trained MLPs whose hidden layers hold 99,392 float32 weights.
A Debian package that ships trained float32 network weights, which is why docs/int4.md measures
on them (libonnx-testdata's real models are only download links, and torchvision downloads its
weights at run time, neither reachable offline).

gnubg.wd (gnubg's NeuralNetLoadBinary): float magic, float version, then per network
uint32 cInput, cHidden, cOutput, int32 nTrained, float betaHidden, betaOutput, then float32
hidden weights [cInput][cHidden], output weights [cHidden][cOutput], hidden and output
thresholds. Each hidden layer is written transposed, as W[N = cHidden][K = cInput]: one row per
output channel, K the reduction, the layout qk's blockwise format quantizes.

Output (little-endian): uint32 matrix count, then per matrix uint32 N, uint32 K and N * K
float32 row-major. Nothing here is committed: the file is made where it is used.

  apt-get install gnubg            # or: apt-get download gnubg && dpkg-deb -x gnubg_*.deb root
  python3 scripts/int4_accuracy_weights.py [gnubg.wd] build/int4_weights.bin
"""
import struct
import sys


def read_networks(path):
    data = open(path, "rb").read()
    magic, version = struct.unpack_from("<2f", data, 0)
    if abs(magic - 472.3782) > 1e-3 or version != 1.0:
        sys.exit(f"{path}: not a gnubg binary weights file (magic {magic}, version {version})")
    offset, networks = 8, []
    while offset < len(data):
        c_in, c_hidden, c_out, _trained = struct.unpack_from("<3Ii", data, offset)
        offset += 24  # the four integers and the two betas
        hidden = struct.unpack_from(f"<{c_in * c_hidden}f", data, offset)
        offset += 4 * (c_in * c_hidden + c_hidden * c_out + c_hidden + c_out)
        # hidden[i * c_hidden + j] is input i -> hidden unit j: row j of W is unit j's K inputs.
        rows = [hidden[j::c_hidden] for j in range(c_hidden)]
        networks.append((c_hidden, c_in, rows))
    if offset != len(data):
        sys.exit(f"{path}: truncated network")
    return networks


def main():
    args = sys.argv[1:]
    if len(args) == 1:
        args = ["/usr/lib/gnubg/gnubg.wd"] + args
    if len(args) != 2:
        sys.exit(__doc__)
    networks = read_networks(args[0])
    with open(args[1], "wb") as out:
        out.write(struct.pack("<I", len(networks)))
        for n, k, rows in networks:
            out.write(struct.pack("<2I", n, k))
            for row in rows:
                out.write(struct.pack(f"<{k}f", *row))
    total = sum(n * k for n, k, _ in networks)
    print(f"{args[1]}: {len(networks)} matrices, {total} weights: " +
          ", ".join(f"{n}x{k}" for n, k, _ in networks))


if __name__ == "__main__":
    main()
