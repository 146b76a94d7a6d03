#!/usr/bin/python3
"""Exports the project's torch-made ONNX models (random weights, fixed seeds, opset 13).

  /usr/bin/python3 scripts/make_torch_models.py OUT_DIR [--only small_cnn|resnet50]

small_cnn.onnx  a small residual CNN on 1x1x28x28 (Fashion-MNIST sized): Conv, BatchNormalization,
                Relu, MaxPool, a residual Add, GlobalAveragePool, Flatten, Gemm. About 10 k
                parameters; the committed copy lives in tests/data/small_cnn.onnx.
resnet50.onnx   torchvision resnet50, random weights, 1x3x224x224. For speed only: it is about
                100 MB, lives in the cache, and is never committed.

Needs Debian's python3-torch, python3-torchvision and python3-onnx (run with /usr/bin/python3,
not a python3 that lacks them). The weights are random: these models test the engine, they make
no accuracy claim.
"""
import argparse
import os
import sys

import onnx
import torch
import torch.nn as nn


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(x + y)


class SmallCnn(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(1, 16, 3, padding=1)
        self.stem_bn = nn.BatchNorm2d(16)
        self.pool = nn.MaxPool2d(2)
        self.block = ResidualBlock(16)
        self.down = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.down_bn = nn.BatchNorm2d(32)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        x = self.pool(torch.relu(self.stem_bn(self.stem(x))))  # 16 x 14 x 14
        x = self.block(x)
        x = torch.relu(self.down_bn(self.down(x)))  # 32 x 7 x 7
        x = torch.flatten(self.gap(x), 1)
        return self.fc(x)


def randomise_batchnorm(model, generator):
    """Non-trivial BatchNorm statistics so that the BN arithmetic really matters."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            with torch.no_grad():
                module.weight.copy_(0.5 + torch.rand(n, generator=generator))
                module.bias.copy_(0.2 * torch.randn(n, generator=generator))
                module.running_mean.copy_(0.1 * torch.randn(n, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(n, generator=generator))


def export(model, example, path, input_name, output_name, keep_batchnorm):
    model.eval()
    # PRESERVE (of a model in eval mode) keeps BatchNormalization as its own inference-mode node;
    # EVAL would fold it into the Conv. Keeping it exercises the engine's BatchNormalization and
    # its fold_batchnorm pass. Constant folding is what torch warns about with PRESERVE, and
    # there is nothing to fold in this model anyway.
    training = torch.onnx.TrainingMode.PRESERVE if keep_batchnorm else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(model, example, path, opset_version=13, input_names=[input_name],
                      output_names=[output_name], training=training,
                      do_constant_folding=not keep_batchnorm)
    loaded = onnx.load(path)
    onnx.checker.check_model(loaded)
    ops = sorted({node.op_type for node in loaded.graph.node})
    params = sum(p.numel() for p in model.parameters())
    print(f"make_torch_models: {path}: {params} parameters, {os.path.getsize(path)} bytes, "
          f"ops {', '.join(ops)}", file=sys.stderr)
    return loaded


def make_small_cnn(out_dir):
    torch.manual_seed(20240601)
    generator = torch.Generator().manual_seed(7)
    model = SmallCnn()
    randomise_batchnorm(model, generator)
    example = torch.zeros(1, 1, 28, 28)
    loaded = export(model, example, os.path.join(out_dir, "small_cnn.onnx"), "input", "logits",
                    keep_batchnorm=True)
    expected = {"BatchNormalization", "Conv", "Relu", "MaxPool", "Add", "GlobalAveragePool",
                "Flatten", "Gemm"}
    missing = expected - {node.op_type for node in loaded.graph.node}
    if missing:
        sys.exit(f"make_torch_models: small_cnn lacks ops {sorted(missing)}")


def make_resnet50(out_dir):
    import torchvision
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None)
    example = torch.zeros(1, 3, 224, 224)
    export(model, example, os.path.join(out_dir, "resnet50.onnx"), "input", "logits",
           keep_batchnorm=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir")
    parser.add_argument("--only", choices=["small_cnn", "resnet50"])
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    torch.set_num_threads(2)
    if args.only in (None, "small_cnn"):
        make_small_cnn(args.out_dir)
    if args.only in (None, "resnet50"):
        make_resnet50(args.out_dir)


if __name__ == "__main__":
    main()
