#!/usr/bin/python3
"""Trains the small float CNNs we own on Fashion-MNIST and exports them to ONNX (opset 13).

usage: /usr/bin/python3 scripts/train_fashion_mnist.py {resnet,vgg,densenet} OUT.onnx [--epochs N]

Debian's python3-torch on the CPU; data from Debian's dataset-fashion-mnist. Fixed seeds. The
architectures mirror the paper's CNN families (ResNet, VGG-BN, DenseNet) at a scale these
machines train in minutes: BatchNorm after every conv (kept as separate nodes in the export, so
that `ocs quantize` folds them itself). Input: 1x1x28x28, pixels scaled to [-1, 1]
((x/255 - 0.5) / 0.5). Output: 10 logits.
"""
import argparse, gzip, os, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"


def load(split):
    prefix = "train" if split == "train" else "t10k"
    images = np.frombuffer(gzip.open(f"{DATA}/{prefix}-images-idx3-ubyte.gz").read(), np.uint8, offset=16)
    labels = np.frombuffer(gzip.open(f"{DATA}/{prefix}-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
    x = (images.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0 - 0.5) / 0.5
    return torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))


def conv_bn(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.skip = None
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + (x if self.skip is None else self.skip(x)))


class ResNet(nn.Module):
    """3 stages of one residual block each (16, 32, 64 channels), 78 k parameters."""
    def __init__(self):
        super().__init__()
        self.stem = conv_bn(1, 16)
        self.layers = nn.Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class VGG(nn.Module):
    """VGG-BN style: conv-bn-relu pairs and max pooling, then two fully connected layers."""
    def __init__(self, width=32):
        super().__init__()
        w = width
        self.features = nn.Sequential(conv_bn(1, w), conv_bn(w, w), nn.MaxPool2d(2),
                                      conv_bn(w, 2 * w), conv_bn(2 * w, 2 * w), nn.MaxPool2d(2),
                                      conv_bn(2 * w, 4 * w), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(4 * w * 3 * 3, 8 * w), nn.ReLU(), nn.Linear(8 * w, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


class DenseLayer(nn.Module):
    def __init__(self, cin, growth):
        super().__init__()
        self.bn = nn.BatchNorm2d(cin)
        self.conv = nn.Conv2d(cin, growth, 3, 1, 1, bias=False)

    def forward(self, x):
        return torch.cat([x, self.conv(F.relu(self.bn(x)))], 1)


class DenseNet(nn.Module):
    """DenseNet style: 3 dense blocks of 4 layers (growth 12) with 1x1 transitions."""
    def __init__(self, growth=12):
        super().__init__()
        c = 24
        layers = [nn.Conv2d(1, c, 3, 1, 1, bias=False)]
        for block in range(3):
            for _ in range(4):
                layers.append(DenseLayer(c, growth))
                c += growth
            if block < 2:
                layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2)]
                c //= 2
        layers += [nn.BatchNorm2d(c), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c, 10)

    def forward(self, x):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("arch", choices=["resnet", "vgg", "densenet"])
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--width", type=int, default=32, help="VGG: channels of the first block (16 trains ~4x faster)")
    args = ap.parse_args()
    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(args.threads)
    xtr, ytr = load("train")
    xte, yte = load("test")
    model = VGG(args.width) if args.arch == "vgg" else {"resnet": ResNet, "densenet": DenseNet}[args.arch]()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    steps = args.epochs * (len(xtr) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=steps)
    for epoch in range(args.epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr) - 127, 128):
            idx = perm[i:i + 128]
            xb = xtr[idx]
            # Light augmentation: random horizontal flips (clothes are left-right symmetric).
            flip = torch.rand(len(xb)) < 0.5
            xb[flip] = xb[flip].flip(3)
            loss = F.cross_entropy(model(xb), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        acc = evaluate(model, xte, yte)
        print(f"{args.arch} epoch {epoch + 1}/{args.epochs}: loss {loss.item():.3f} test acc {acc:.4f} ({time.time() - t0:.0f} s)", flush=True)
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), args.out, opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    print(f"wrote {args.out}: test accuracy {evaluate(model, xte, yte):.4f}")


if __name__ == "__main__":
    main()
