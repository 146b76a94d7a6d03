#!/usr/bin/python3
"""Writes a float ResNet-50 (torchvision's resnet50 architecture, v1.5: stride on the 3x3 conv)
with seeded random weights and BatchNorm statistics measured on synthetic images, BatchNorm
folded into the convolutions, opset 13, input `input` [1, 3, 224, 224], output `logits` [1, 1000].
It is the "ResNet-50 architecture" model of issues #11 and #12: a large model for latency and
int8-fusion measurements; it makes no accuracy claim.

  /usr/bin/python3 scripts/make_resnet50.py [OUT.onnx]      (default $OCS_CACHE/models/resnet50_arch.onnx)
  /usr/bin/python3 scripts/make_resnet50.py --images OUT.npz N   N synthetic images keyed 'input'
                                                                   (calibration data, other seed)

How the weights are made (numpy, fixed seeds, so the file is the same on every run):
- convolutions as torchvision initialises them (Kaiming normal, fan_out, ReLU gain), BatchNorm
  scale 1 and shift 0, the final Linear layer uniform in +-1/sqrt(fan_in) (PyTorch's default);
- BatchNorm running statistics: the model runs in training mode (every BatchNorm normalises with
  its batch's mean and variance) over a few batches of synthetic images, and each BatchNorm
  keeps the average of its batch statistics (PyTorch's momentum=None), so that the eval-mode
  activations are in the range of a trained network instead of growing layer after layer;
- BatchNorm is then folded into the Conv before it (Conv with bias), as torch.onnx.export does
  in eval mode.
The training-mode passes run in ONNX Runtime (scripts/ort_run.js, 2 threads): numpy's BLAS on
this machine is the reference one (about 1 GFLOP/s), and PyTorch is not a CI dependency.
Needs python3-numpy, python3-onnx, node and onnxruntime-node (scripts/fetch_models.sh).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEIGHT_SEED = 50
STATS_SEED = 51
BATCHES, BATCH_SIZE = 4, 8  # 32 images for the BatchNorm statistics
EPS = 1e-5
STAGES = [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]  # width, blocks, stride
EXPANSION = 4
CLASSES = 1000


def fail(message):
    sys.exit(f"make_resnet50: error: {message}")


# ---- the architecture as a list of layers ---------------------------------------------------

class Builder:
    """Collects ONNX nodes and initializers. With train_bn, every BatchNorm normalises with the
    batch statistics and exposes them as graph outputs <bn>_mean and <bn>_var; otherwise it is
    folded into its Conv with the given statistics."""

    def __init__(self, params, train_bn, stats=None):
        self.params, self.train_bn, self.stats = params, train_bn, stats
        self.nodes, self.inits, self.stat_outputs = [], [], []

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array, np.float32), name))
        return name

    def node(self, op, inputs, name, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def conv_bn(self, x, name, stride, pad, relu):
        w = self.params[name + ".weight"]
        conv_attrs = dict(kernel_shape=list(w.shape[2:]), strides=[stride, stride], pads=[pad] * 4)
        if self.train_bn:
            y = self.node("Conv", [x, self.const(name + ".weight", w)], name, **conv_attrs)
            y = self.batch_norm_train(y, name + ".bn")
        else:
            mean, var = self.stats[name + ".bn"]
            scale = 1.0 / np.sqrt(var + EPS)  # BatchNorm weight 1, bias 0 (torchvision's init)
            folded_w = w * scale[:, None, None, None]
            folded_b = -mean * scale
            y = self.node("Conv", [x, self.const(name + ".weight", folded_w),
                                   self.const(name + ".bias", folded_b)], name, **conv_attrs)
        return self.node("Relu", [y], name + ".relu") if relu else y

    def batch_norm_train(self, x, name):
        mean = self.node("ReduceMean", [x], name + "_mean", axes=[0, 2, 3], keepdims=1)
        d = self.node("Sub", [x, mean], name + ".centred")
        var = self.node("ReduceMean", [self.node("Mul", [d, d], name + ".sq")], name + "_var",
                        axes=[0, 2, 3], keepdims=1)
        eps = self.const(name + ".eps", np.array(EPS))
        std = self.node("Sqrt", [self.node("Add", [var, eps], name + ".var_eps")], name + ".std")
        self.stat_outputs += [mean, var]
        return self.node("Div", [d, std], name + ".out")

    def bottleneck(self, x, name, stride, downsample):
        y = self.conv_bn(x, name + ".conv1", 1, 0, relu=True)
        y = self.conv_bn(y, name + ".conv2", stride, 1, relu=True)
        y = self.conv_bn(y, name + ".conv3", 1, 0, relu=False)
        identity = self.conv_bn(x, name + ".downsample", stride, 0, relu=False) if downsample else x
        return self.node("Relu", [self.node("Add", [y, identity], name + ".add")], name + ".relu")

    def resnet50(self, x):
        y = self.conv_bn(x, "conv1", 2, 3, relu=True)
        y = self.node("MaxPool", [y], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
        for stage, (_, blocks, stride) in enumerate(STAGES, start=1):
            for b in range(blocks):
                y = self.bottleneck(y, f"layer{stage}.{b}", stride if b == 0 else 1,
                                    downsample=b == 0)
        y = self.node("GlobalAveragePool", [y], "avgpool")
        y = self.node("Flatten", [y], "flatten", axis=1)
        return self.node("Gemm", [y, self.const("fc.weight", self.params["fc.weight"]),
                                  self.const("fc.bias", self.params["fc.bias"])], "logits", transB=1)


def make_params():
    """torchvision resnet50's initialisation, drawn from one seeded numpy generator."""
    rng = np.random.default_rng(WEIGHT_SEED)
    params = {}

    def conv(name, c_out, c_in, k):
        std = np.sqrt(2.0 / (c_out * k * k))  # kaiming_normal_(mode="fan_out", nonlinearity="relu")
        params[name + ".weight"] = (rng.standard_normal((c_out, c_in, k, k)) * std).astype(np.float32)

    conv("conv1", 64, 3, 7)
    c_in = 64
    for stage, (width, blocks, _) in enumerate(STAGES, start=1):
        for b in range(blocks):
            name = f"layer{stage}.{b}"
            conv(name + ".conv1", width, c_in, 1)
            conv(name + ".conv2", width, width, 3)
            conv(name + ".conv3", width * EXPANSION, width, 1)
            if b == 0:
                conv(name + ".downsample", width * EXPANSION, c_in, 1)
            c_in = width * EXPANSION
    bound = 1.0 / np.sqrt(c_in)  # nn.Linear's default init
    params["fc.weight"] = rng.uniform(-bound, bound, (CLASSES, c_in)).astype(np.float32)
    params["fc.bias"] = rng.uniform(-bound, bound, CLASSES).astype(np.float32)
    return params


def synthetic_images(rng, n):
    """Image-like inputs after ImageNet normalisation: smooth random colour fields (bilinear
    upsampling of a coarse grid) with edges and pixel noise, in [0, 1], then (x - mean) / std."""
    coarse = rng.uniform(0, 1, (n, 3, 8, 8))
    t = np.linspace(0, 7, 224)
    i0 = np.minimum(t.astype(int), 6)
    f = (t - i0)[None, None]
    rows = coarse[:, :, i0, :] * (1 - f[..., None]) + coarse[:, :, i0 + 1, :] * f[..., None]
    smooth = rows[:, :, :, i0] * (1 - f[:, :, None, :]) + rows[:, :, :, i0 + 1] * f[:, :, None, :]
    edges = (rng.uniform(0, 1, (n, 1, 28, 28)) > 0.8).repeat(8, axis=2).repeat(8, axis=3)
    pixels = np.clip(0.75 * smooth + 0.25 * edges + rng.normal(0, 0.05, smooth.shape), 0, 1)
    mean = np.array([0.485, 0.456, 0.406])[None, :, None, None]
    std = np.array([0.229, 0.224, 0.225])[None, :, None, None]
    return ((pixels - mean) / std).astype(np.float32)


def make_model(builder, batch):
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, 224, 224])
    logits = builder.resnet50("input")
    outputs = [helper.make_tensor_value_info(logits, TensorProto.FLOAT, [batch, CLASSES])]
    outputs += [helper.make_tensor_value_info(s, TensorProto.FLOAT, [1, None, 1, 1])
                for s in builder.stat_outputs]
    graph = helper.make_graph(builder.nodes, "resnet50_arch", [x], outputs, builder.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="ocs scripts/make_resnet50.py")
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def batch_norm_statistics(params, scratch):
    """Runs the training-mode graph in ONNX Runtime over BATCHES synthetic batches; returns
    {bn name: (mean, unbiased variance)} averaged over the batches."""
    builder = Builder(params, train_bn=True)
    model = make_model(builder, BATCH_SIZE)
    train_path = os.path.join(scratch, "train.onnx")
    onnx.save(model, train_path)
    rng = np.random.default_rng(STATS_SEED)
    sums = {}
    for b in range(BATCHES):
        batch_file = os.path.join(scratch, f"batch{b}.npy")
        np.save(batch_file, synthetic_images(rng, BATCH_SIZE))
        out_dir = os.path.join(scratch, f"out{b}")
        run = subprocess.run(["node", os.path.join(REPO, "scripts", "ort_run.js"), "--threads", "2",
                              train_path, out_dir, f"input={batch_file}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if run.returncode != 0:
            fail(f"ONNX Runtime could not run the training-mode graph:\n{run.stderr}")
        for name in builder.stat_outputs:
            value = np.load(os.path.join(out_dir, name + ".npy")).astype(np.float64).reshape(-1)
            sums[name] = sums.get(name, 0) + value
        print(f"make_resnet50: BatchNorm statistics, batch {b + 1}/{BATCHES}", file=sys.stderr)
    # Each BatchNorm normalises over N*H*W values; its running variance is the unbiased one.
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
    stats = {}
    for name in builder.stat_outputs[::2]:
        bn = name[: -len("_mean")]
        n, _, h, w = shapes[bn + ".centred"]
        count = n * h * w
        stats[bn] = (sums[bn + "_mean"] / BATCHES, sums[bn + "_var"] / BATCHES * count / (count - 1))
    return stats


def write_images(path, n):
    np.savez(path, input=synthetic_images(np.random.default_rng(52), n))
    print(f"make_resnet50: wrote {path}: {n} synthetic 3x224x224 images keyed 'input'", file=sys.stderr)


def main():
    args = sys.argv[1:]
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return
    if args[:1] == ["--images"]:
        if len(args) != 3:
            fail("usage: make_resnet50.py --images OUT.npz N")
        write_images(args[1], int(args[2]))
        return
    if len(args) > 1:
        fail("usage: make_resnet50.py [OUT.onnx]")
    cache = os.environ.get("OCS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ocs")
    out = args[0] if args else os.path.join(cache, "models", "resnet50_arch.onnx")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    params = make_params()
    with tempfile.TemporaryDirectory(prefix="make_resnet50_") as scratch:
        stats = batch_norm_statistics(params, scratch)
    model = make_model(Builder(params, train_bn=False, stats=stats), 1)
    # Written under a temporary name first so an interrupted run never leaves a partial model.
    part = os.path.join(os.path.dirname(os.path.abspath(out)), "." + os.path.basename(out) + ".part")
    onnx.save(model, part)
    os.replace(part, out)
    n_params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    ops = sorted({n.op_type for n in model.graph.node})
    print(f"make_resnet50: wrote {out}: {n_params} parameters, {os.path.getsize(out)} bytes, "
          f"ops {', '.join(ops)}", file=sys.stderr)


if __name__ == "__main__":
    main()
