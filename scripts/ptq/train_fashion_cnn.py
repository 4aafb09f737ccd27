#!/usr/bin/python3
"""Train the Fashion-MNIST reference CNN for the qk post-training-quantization work.

Deterministic (fixed seeds, torch.use_deterministic_algorithms, 1 thread).
Trains with BatchNorm, folds BN into the convolutions, checks the folded model
against the unfolded one, exports ONNX (opset 13) and the expected logits.

Usage (from the repository root, Debian's Python with torch 1.13):
    /usr/bin/python3 scripts/ptq/train_fashion_cnn.py [--epochs 5] [--out models/fashion_cnn]

Model input: float32 [N,1,28,28], value = pixel/255 in [0,1] (no mean/std).
Outputs: models/fashion_cnn/fashion_cnn.onnx, models/fashion_cnn/expected_logits.bin
"""
import argparse
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist  # noqa: E402

SEED = 20261205


def conv_bn_relu(cin, cout, k, stride=1, groups=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=False),
    )


class FashionCNN(nn.Module):
    """conv3x3(1->16) s1 -> conv3x3(16->32) s2 -> dw3x3(32) -> pw1x1(32->64)
    -> conv3x3(64->64) s2 -> GAP -> FC(64->10); every conv followed by BN+ReLU.
    Spatial sizes: 28 -> 28 -> 14 -> 14 -> 14 -> 7 -> 1."""

    def __init__(self, c1=16, c2=32, c3=64, c4=64, num_classes=10):
        super().__init__()
        self.conv1 = conv_bn_relu(1, c1, 3)
        self.conv2 = conv_bn_relu(c1, c2, 3, stride=2)
        self.dw = conv_bn_relu(c2, c2, 3, groups=c2)
        self.pw = conv_bn_relu(c2, c3, 1)
        self.conv3 = conv_bn_relu(c3, c4, 3, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c4, num_classes)

    def blocks(self):
        return [self.conv1, self.conv2, self.dw, self.pw, self.conv3]

    def forward(self, x):
        for b in self.blocks():
            x = b(x)
        x = self.pool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)


class FoldedCNN(nn.Module):
    """BN-free (folded) version: each block is Conv(bias) + ReLU.
    This is exactly the graph exported to ONNX."""

    def __init__(self, c1=16, c2=32, c3=64, c4=64, num_classes=10):
        super().__init__()

        def cr(cin, cout, k, stride=1, groups=1):
            return nn.Sequential(
                nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=True),
                nn.ReLU(inplace=False))
        self.conv1 = cr(1, c1, 3)
        self.conv2 = cr(c1, c2, 3, stride=2)
        self.dw = cr(c2, c2, 3, groups=c2)
        self.pw = cr(c2, c3, 1)
        self.conv3 = cr(c3, c4, 3, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c4, num_classes)

    def blocks(self):
        return [self.conv1, self.conv2, self.dw, self.pw, self.conv3]

    def convs(self):
        return [b[0] for b in self.blocks()]

    def forward(self, x):
        for b in self.blocks():
            x = b(x)
        x = self.pool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)

    @classmethod
    def from_onnx(cls, path):
        """Build the folded float model from the committed ONNX file's weights
        (Conv nodes in graph order, then the Gemm)."""
        import onnx
        from onnx import numpy_helper
        m = onnx.load(path)
        init = {t.name: np.array(numpy_helper.to_array(t)) for t in m.graph.initializer}
        convs = [n for n in m.graph.node if n.op_type == "Conv"]
        gemm = [n for n in m.graph.node if n.op_type == "Gemm"]
        assert len(convs) == 5 and len(gemm) == 1
        ws = [init[n.input[1]] for n in convs]
        model = cls(c1=ws[0].shape[0], c2=ws[1].shape[0], c3=ws[3].shape[0],
                    c4=ws[4].shape[0], num_classes=init[gemm[0].input[1]].shape[0])
        with torch.no_grad():
            for conv, node in zip(model.convs(), convs):
                conv.weight.copy_(torch.from_numpy(init[node.input[1]]))
                conv.bias.copy_(torch.from_numpy(init[node.input[2]]))
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in gemm[0].attribute}
            w = init[gemm[0].input[1]]
            if not attrs.get("transB", 0):
                w = w.T
            model.fc.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
            model.fc.bias.copy_(torch.from_numpy(init[gemm[0].input[2]]))
        return model.eval()


def fold(model: FashionCNN) -> FoldedCNN:
    """Fold every BatchNorm (eval statistics) into the preceding convolution."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    model = model.eval()
    f = FoldedCNN(c1=model.conv1[0].out_channels, c2=model.conv2[0].out_channels,
                  c3=model.pw[0].out_channels, c4=model.conv3[0].out_channels,
                  num_classes=model.fc.out_features).eval()
    with torch.no_grad():
        for src, dst in zip(model.blocks(), f.blocks()):
            fused = fuse_conv_bn_eval(src[0], src[1])
            dst[0].weight.copy_(fused.weight)
            dst[0].bias.copy_(fused.bias)
        f.fc.load_state_dict(model.fc.state_dict())
    return f


def to_input(images_u8):
    """uint8 [N,28,28] -> float32 tensor [N,1,28,28] = pixel/255."""
    return torch.from_numpy(images_u8).float().div_(255.0).unsqueeze(1)


@torch.no_grad()
def evaluate(model, x, y, batch=500):
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch):
        correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / x.shape[0]


def count_params(m):
    return sum(p.numel() for p in m.parameters())


def set_determinism(seed=SEED):
    torch.set_num_threads(1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--out", default="models/fashion_cnn")
    ap.add_argument("--max-batches", type=int, default=0, help="debug: stop each epoch early")
    args = ap.parse_args()

    set_determinism()
    xtr_u8, ytr = fashion_mnist.load("train")
    xte_u8, yte = fashion_mnist.load("test")
    xtr, xte = to_input(xtr_u8), to_input(xte_u8)
    ytr, yte = torch.from_numpy(ytr.astype(np.int64)), torch.from_numpy(yte.astype(np.int64))

    model = FashionCNN()
    print(f"trainable parameters (with BN): {count_params(model)}")
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = (xtr.shape[0] + args.batch - 1) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch)
    gen = torch.Generator().manual_seed(SEED)

    t_train = time.time()
    for epoch in range(args.epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(xtr.shape[0], generator=gen)
        tot, n = 0.0, 0
        for bi, i in enumerate(range(0, xtr.shape[0], args.batch)):
            if args.max_batches and bi >= args.max_batches:
                break
            idx = perm[i:i + args.batch]
            xb, yb = xtr[idx], ytr[idx]
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if not args.max_batches:
                sched.step()
            tot += loss.item() * xb.shape[0]
            n += xb.shape[0]
        dt = time.time() - t0
        acc = evaluate(model, xte, yte)
        print(f"epoch {epoch + 1}/{args.epochs}: train loss {tot / n:.4f}  "
              f"test acc {acc * 100:.2f}%  ({dt:.1f} s)", flush=True)
    train_time = time.time() - t_train
    print(f"training time: {train_time:.1f} s (incl. per-epoch test eval)")

    model.eval()
    acc_bn = evaluate(model, xte, yte)
    folded = fold(model)
    print(f"parameters after BN folding: {count_params(folded)}")
    with torch.no_grad():
        d = (folded(xte[:1000]) - model(xte[:1000])).abs().max().item()
    acc_f = evaluate(folded, xte, yte)
    print(f"test acc with BN: {acc_bn * 100:.2f}%  folded: {acc_f * 100:.2f}%  "
          f"(max |logit diff| folded vs BN on 1000 imgs: {d:.2e})")

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, "fashion_cnn.onnx")
    torch.onnx.export(folded, xte[:1], onnx_path, opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=True)
    import onnx
    m = onnx.load(onnx_path)
    onnx.checker.check_model(m, full_check=True)
    ops = sorted({n.op_type for n in m.graph.node})
    print(f"ONNX written: {onnx_path} ({os.path.getsize(onnx_path)} bytes), checker OK")
    print(f"ONNX op types: {ops}")
    print("ONNX nodes: " + " -> ".join(n.op_type for n in m.graph.node))

    # Round-trip: rebuild from ONNX weights and compare.
    re = FoldedCNN.from_onnx(onnx_path)
    with torch.no_grad():
        logits = folded(xte[:256]).float().contiguous()
        d2 = (re(xte[:256]) - logits).abs().max().item()
    print(f"max |logit diff| ONNX-weights model vs folded: {d2:.2e}")
    lpath = os.path.join(args.out, "expected_logits.bin")
    logits.numpy().astype("<f4").tofile(lpath)
    print(f"expected logits written: {lpath} shape {tuple(logits.shape)} "
          f"(argmax acc on these 256: {(logits.argmax(1) == yte[:256]).float().mean().item() * 100:.2f}%)")


if __name__ == "__main__":
    main()
