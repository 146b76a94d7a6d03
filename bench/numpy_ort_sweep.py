#!/usr/bin/python3
"""The "plain Python pipeline" of issue #12, as the competitor of `ocs sweep`, timed in one run.

Default (A8, the default sweep's work): for every configuration (weight bits b x weight clip
method x OCS ratio r; default 8 7 6 5 4 x max mse aciq kl x 0 0.01 0.02 0.05 0.1, activations at
8 bits), numpy does what ocs defines (docs/METHOD.md; src/quant/, src/calib/,
src/passes/ocs_split_weights.cpp):
  - BatchNorm folded into the Conv before it (once, as ocs' fold_batchnorm);
  - the layers ocs quantizes by default: every Conv/Gemm/MatMul but the first convolutions and
    the last Gemm/MatMul;
  - weight OCS on the input-channel axis: k = ceil(r * C_in) greedy naive splits (the channel
    holding the largest |w|, re-splits allowed, lowest index on ties), the clip threshold t of the
    naively split tensor by the clip method, then the same splits quantization-aware with the
    grid's step D: halves (w - D/2)/2 and (w + D/2)/2;
  - the weight clip methods max, mse, aciq, kl with the reference's definitions (see the clip_*
    functions below);
  - per-tensor symmetric b-bit codes, step fl32(t / (2^(b-1) - 1)), x / step in float32, rounded
    half to even, clamped to [-2^(b-1), 2^(b-1) - 1];
  - activations at 8 bits, clip method max (the sweep's default `--aclip max`): t = max|x| of each
    quantized layer's data input over the first 512 Fashion-MNIST training images (the sweep's
    `--calib fashion-mnist:train`, 512 samples), computed once: ONNX Runtime runs the folded float
    model with those tensors as extra outputs (scripts/ort_run.js), numpy takes max|x|;
and writes the paper's simulation layout, as `ocs quantize --format qdq-inputs` does: in front of
each quantized layer [Gather of the split channels ->] QuantizeLinear -> DequantizeLinear of its
data input (int8, zero point 0), the weight as int8 codes behind a DequantizeLinear, biases float.
ONNX Runtime (graph optimisation 'all', 2 threads, batches of 1000) runs it over all 10,000
Fashion-MNIST test images. Each configuration is timed from the float weights to the accuracy
(splitting, thresholds, codes, model building and serialisation, session creation, inference).

`--weight-only`: the earlier comparison: weights at b bits (default 8 7 6 5 4 3 2), clip max, no
OCS, activations float.

In the same run, after it (`--ocs-first`: before it), `ocs sweep` on the same configurations (the
same grid flags, all test images, the same threads), timed as a whole; its results.csv gives each
configuration's quantize and eval seconds (two configurations at a time, one core each). Both
results side by side, and the ratio of the two wall times per configuration. The top-1 of the two
pipelines should agree closely: the same weight codes (bit for bit), activation thresholds from
two engines' float outputs (max|x| may differ in the last bit), and two engines running the QDQ
model (ours in int8, ONNX Runtime in float between the Q/DQ pairs).

  /usr/bin/python3 bench/numpy_ort_sweep.py [--model models/fashion_resnet.onnx] [--wbits 8 7 ...]
      [--wclip max mse aciq kl] [--ocs-ratio 0 0.01 ...] [--weight-only] [--threads 2]
      [--ocs build/ocs] [--no-ocs] [--ocs-first]

ONNX Runtime here is onnxruntime-node (this machine reaches no Python package registry), kept
open as one worker process (bench/ort_eval_worker.js) that loads the test images once; the
Python side passes it each quantized model as a file.
"""
import argparse
import csv
import gzip
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION = "/usr/share/datasets/fashion-mnist"


def cpu_seconds():
    """User + system CPU of this process and of its children that have ended (the ORT worker
    once closed, scripts/ort_run.js, `ocs sweep`)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def fail(message):
    sys.exit(f"numpy_ort_sweep: error: {message}")


def load_split(prefix, count=None):
    """Fashion-MNIST images normalised as our models expect, (x/255 - 0.5)/0.5, and labels; the
    first `count` of the split (ocs' fashion-mnist source reads them in file order)."""
    images, labels = f"{FASHION}/{prefix}-images-idx3-ubyte.gz", f"{FASHION}/{prefix}-labels-idx1-ubyte.gz"
    for path in (images, labels):
        if not os.path.exists(path):
            fail(f"{path}: no such file")
    x = np.frombuffer(gzip.open(images).read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:count]
    x = (x.astype(np.float32) / np.float32(255) - np.float32(0.5)) / np.float32(0.5)
    y = np.frombuffer(gzip.open(labels).read(), np.uint8, offset=8)[:count]
    return x, y


def save_test_split(out_dir):
    x, y = load_split("t10k")
    np.save(os.path.join(out_dir, "images.npy"), x)
    np.save(os.path.join(out_dir, "labels.npy"), y)


# ---- the float model, prepared once -----------------------------------------------------------

def replace_nodes(model, nodes):
    kept = [onnx.NodeProto() for _ in nodes]
    for copy, n in zip(kept, nodes):
        copy.CopyFrom(n)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return model


def fold_batchnorm(model):
    """Folds every BatchNormalization that is the only consumer of a Conv and whose parameters
    are initializers into that Conv, as ocs' fold_batchnorm does. A parameter behind an Identity
    of an initializer (torch.onnx's way of sharing a tensor: the skip branches of
    models/fashion_resnet.onnx) counts as that initializer, as in ocs, which folds it too."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    for n in g.node:  # an Identity of an initializer reads as the initializer
        if n.op_type == "Identity" and n.input[0] in inits:
            inits[n.output[0]] = inits[n.input[0]]
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    producer = {o: n for n in g.node for o in n.output}
    keep = []
    for n in g.node:
        conv = producer.get(n.input[0]) if n.op_type == "BatchNormalization" else None
        if (conv is None or conv.op_type != "Conv" or len(consumers[conv.output[0]]) != 1
                or not all(i in inits for i in n.input[1:5])):
            keep.append(n)
            continue
        gamma, beta, mean, var = (numpy_helper.to_array(inits[i]).astype(np.float64) for i in n.input[1:5])
        eps = next((a.f for a in n.attribute if a.name == "epsilon"), 1e-5)
        scale = gamma / np.sqrt(var + eps)
        w = numpy_helper.to_array(inits[conv.input[1]]).astype(np.float64)
        b = numpy_helper.to_array(inits[conv.input[2]]).astype(np.float64) if len(conv.input) > 2 else 0.0
        w_name, b_name = conv.input[1], conv.output[0] + ".folded_bias"
        inits[w_name].CopyFrom(numpy_helper.from_array((w * scale[:, None, None, None]).astype(np.float32), w_name))
        g.initializer.append(numpy_helper.from_array(((b - mean) * scale + beta).astype(np.float32), b_name))
        del conv.input[2:]
        conv.input.append(b_name)
        conv.output[0] = n.output[0]  # the Conv now writes what the BatchNorm wrote
    return replace_nodes(model, keep)


def layers_to_quantize(model):
    """The Conv/Gemm/MatMul nodes ocs quantizes by default: all but the first convolutions (whose
    input no weighted layer computes) and the last Gemm/MatMul."""
    inits = {t.name for t in model.graph.initializer}
    weighted, after_weighted = [], set()
    for n in model.graph.node:  # ONNX graphs are topologically sorted
        is_weighted = n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1 and n.input[1] in inits
        if is_weighted:
            weighted.append((n, n.input[0] in after_weighted))
        if is_weighted or any(i in after_weighted for i in n.input):
            after_weighted.update(n.output)
    last_fc = max((k for k, (n, _) in enumerate(weighted) if n.op_type in ("Gemm", "MatMul")), default=None)
    return [n for k, (n, downstream) in enumerate(weighted)
            if k != last_fc and (n.op_type != "Conv" or downstream)]


def initializer_arrays(model, names):
    inits = {t.name: t for t in model.graph.initializer}
    return {name: numpy_helper.to_array(inits[name]).copy() for name in names}


# ---- the quantizer (src/quant/fake_quant.h) ---------------------------------------------------

def max_code(bits):
    return 2 ** (bits - 1) - 1


def quant_step(t, bits):
    """fl32(t / (2^(b-1) - 1)), computed in double and rounded once; 1 for t <= 0."""
    return np.float32(t / max_code(bits)) if t > 0 else np.float32(1)


def quantize_codes(w, t, bits):
    """Codes clamp(round_half_even(w / step), -2^(b-1), 2^(b-1) - 1), w / step in float32."""
    step = quant_step(t, bits)
    return np.clip(np.rint(w / step), -max_code(bits) - 1, max_code(bits)).astype(np.int8), step


def fake_quantize_max(w, bits):
    """Symmetric per-tensor b-bit fake quantization with threshold max|w| (ocs' fake_quantize_max)."""
    t = float(np.abs(w).max())
    if t == 0:
        return w
    codes, step = quantize_codes(w, t, bits)
    return (codes.astype(np.float32) * step).astype(np.float32)


# ---- the weight clip methods (src/calib/clip_*.cpp, the reference's definitions) ---------------

def histogram(x, bins, lo, hi):
    """numpy.histogram with float32 edges (what ocs' ValueDistribution bins as) and the centres
    fl32((e_k + e_k+1) / 2) that stand for each bin."""
    counts, edges = np.histogram(x, bins, (lo, hi))
    edges = edges.astype(np.float32)
    return counts.astype(np.float64), (edges[:-1] + edges[1:]) / np.float32(2)


def clip_cost(centres, weights, t, bits):
    """The reference's cost of threshold(s) t on a histogram: (|c| - t)^2 above t, the b-bit
    rounding error below it; one cost per entry of t."""
    t = np.atleast_1d(np.asarray(t, np.float64))[:, None]
    c = centres.astype(np.float64)[None, :]
    scale = max_code(bits) / t
    rounded = np.clip(np.rint(c * scale), -max_code(bits) - 1, max_code(bits)) / scale
    error = np.where(np.abs(c) > t, (np.abs(c) - t) ** 2, (c - rounded) ** 2)
    return (error * weights[None, :]).sum(axis=1)


def clip_max(x, bits):
    return float(np.abs(x).max())


def clip_mse(x, bits):
    """201 bins over [min, max] normalised to 1; t = a max|x|, a = 0.01 .. 0.99; first smallest cost."""
    max_abs = float(np.abs(x).max())
    if max_abs == 0:
        return 0.0
    lo, hi = float(x.min()), float(x.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, centres = histogram(x, 201, lo, hi)
    candidates = np.arange(1, 100) / 100.0 * max_abs
    return float(candidates[np.argmin(clip_cost(centres, counts / counts.sum(), candidates, bits))])


ACIQ_ALPHA = {2: 1.47818312, 3: 1.80489289, 4: 2.19227856, 5: 2.57733584, 6: 2.94451183, 7: 3.29076248, 8: 3.61691335}
ACIQ_BETA = {2: 2.33152939, 3: 3.04528770, 4: 4.00378631, 5: 5.08252088, 6: 6.23211675, 7: 7.42700429, 8: 8.65265030}


def clip_aciq(x, bits):
    """Gaussian t = alpha_b sigma (sigma from the range and N) or Laplace t = beta_b mean|x - mean|,
    the Gaussian one if its cost on 101 count bins over [-max|x|, max|x|] is strictly lower."""
    if bits not in ACIQ_ALPHA:
        fail(f"aciq: no constants for {bits} bits in this script (ocs solves them above 8 bits)")
    max_abs = float(np.abs(x).max())
    if max_abs == 0:
        return 0.0
    v = x.astype(np.float64).ravel()
    sigma = (v.max() - v.min()) * 0.175 * (1 + math.sqrt(math.pi * math.log(4))) / math.sqrt(2 * math.log(v.size))
    candidates = [ACIQ_ALPHA[bits] * sigma, ACIQ_BETA[bits] * np.abs(v - v.mean()).mean()]
    candidates = [t if 0 < t < math.inf else max_abs for t in candidates]
    counts, centres = histogram(x, 101, -max_abs, max_abs)
    gaussian_cost, laplace_cost = clip_cost(centres, counts, candidates, bits)
    return float(candidates[0] if gaussian_cost < laplace_cost else candidates[1])


def smooth(counts):
    """MXNet's _smooth_distribution in float32; None when it cannot make a distribution."""
    zeros = int((counts == 0).sum())
    nonzeros = counts.size - zeros
    if nonzeros == 0:
        return None
    taken = np.float32(-(1e-4 * zeros / nonzeros))
    out = counts.astype(np.float32) + np.where(counts == 0, np.float32(1e-4), taken)
    return out if (out > 0).all() else None


def kl_divergence(p, q):
    """scipy.stats.entropy(p, q) on float32 vectors: terms in double rounded to float32, float32 sums."""
    p = (p / p.sum()).astype(np.float64)
    q = (q / q.sum()).astype(np.float64)
    return np.float32((p * np.log(p / q)).astype(np.float32).sum())


def kl_candidate(h, i, levels):
    """KL(P || Q) of the central slice of 2i + 1 bins (the reference's off-by-one included: the
    slice's last bin gets no share of its group in Q)."""
    centre = h.size // 2
    start, stop = centre - i, centre + i + 1
    s = h[start:stop]
    p = s.copy()
    p[0] += h[:start].sum()
    p[-1] += h[stop:].sum()
    group = np.minimum(np.arange(s.size) // (s.size // levels), levels - 1)
    totals = np.bincount(group, weights=s, minlength=levels)
    nonzero = np.bincount(group[:-1], weights=(s[:-1] != 0), minlength=levels)
    fill = np.zeros(s.size, bool)
    fill[:-1] = s[:-1] != 0
    q = np.zeros(s.size)
    q[fill] = (totals[group[fill]] / nonzero[group[fill]]).astype(np.float32)
    p, q = smooth(p), smooth(q)
    return np.float32(np.inf) if p is None or q is None else kl_divergence(p, q)


def clip_kl(x, bits):
    """1001 bins over [-max|x|, max|x|], 2^b - 1 levels; t = the upper edge of the central slice
    with the first smallest divergence, slices of i = levels // 2 .. 500 bins each side."""
    max_abs = float(np.abs(x).max())
    if max_abs == 0:
        return 0.0
    counts, edges = np.histogram(x, 1001, (-max_abs, max_abs))
    counts, edges = counts.astype(np.float64), edges.astype(np.float32)
    levels = 2 ** bits - 1
    first = levels // 2
    if first > 500:
        return max_abs
    scores = [kl_candidate(counts, i, levels) for i in range(first, 501)]
    best = first + int(np.argmin(scores))
    return float(edges[500 + best + 1])


CLIP_METHODS = {"max": clip_max, "mse": clip_mse, "aciq": clip_aciq, "kl": clip_kl}


# ---- weight OCS (src/quant/ocs_split.cpp) ------------------------------------------------------

def ocs_split_count(ratio, channels):
    """k = ceil(r C_in), a product within 1e-9 of an integer taken as that integer; r > 0: k >= 1."""
    if ratio == 0:
        return 0
    product = ratio * channels
    nearest = round(product)
    k = nearest if abs(product - nearest) <= 1e-9 * max(1.0, product) else math.ceil(product)
    return max(int(k), 1)


def split_naive(w, k):
    """k greedy halvings along axis 1 of the channel holding the largest |w| (appended halves
    included; lowest index on ties). Returns the split tensor and the channel split at each step."""
    slices = [w[:, c] for c in range(w.shape[1])]
    peaks = [float(np.abs(s).max()) for s in slices]
    order = []
    for _ in range(k):
        chosen = int(np.argmax(peaks))
        half = slices[chosen] * np.float32(0.5)
        slices[chosen] = half
        slices.append(half)
        peaks[chosen] = float(np.abs(half).max())
        peaks.append(peaks[chosen])
        order.append(chosen)
    return np.stack(slices, axis=1), order


def split_quant_aware(w, order, step):
    """The same splits, quantization-aware: halves (w - D/2)/2 and (w + D/2)/2 in double, rounded once."""
    slices = [w[:, c].astype(np.float64) for c in range(w.shape[1])]
    for chosen in order:
        piece = slices[chosen]
        slices[chosen] = ((piece - step / 2) / 2).astype(np.float32).astype(np.float64)
        slices.append(((piece + step / 2) / 2).astype(np.float32).astype(np.float64))
    return np.stack(slices, axis=1).astype(np.float32)


def gather_indices(order, channels):
    """[0 .. C_in - 1, then the original channel of every appended one]."""
    duplicated = []
    for chosen in order:
        duplicated.append(chosen if chosen < channels else duplicated[chosen - channels])
    return np.array(list(range(channels)) + duplicated, np.int64)


def quantize_weight(w, bits, clip, ratio):
    """OCS + clip on one Conv weight: codes, step and the Gather indices of its input."""
    split, order = split_naive(w, ocs_split_count(ratio, w.shape[1]))
    t = CLIP_METHODS[clip](split, bits)
    if order and t > 0:  # the QA halves use the step of t itself ...
        split = split_quant_aware(w, order, float(quant_step(t, bits)))
    codes, step = quantize_codes(split, float(np.float32(t)), bits)  # ... the codes that of t as float32, as ocs exports it
    return codes, step, gather_indices(order, w.shape[1])


# ---- calibration and the QDQ model (the paper's layout, ocs' --format qdq-inputs) --------------

def calibrate_max_abs(model, layers, images, scratch):
    """max|x| of every quantized layer's data input over `images`: ONNX Runtime runs the float
    model once with those tensors as extra outputs, numpy reduces them."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    inputs = sorted({n.input[0] for n in layers})
    for k, name in enumerate(inputs):
        probe.graph.node.append(helper.make_node("Identity", [name], [f"calib_{k}"]))
        probe.graph.output.append(helper.make_tensor_value_info(f"calib_{k}", TensorProto.FLOAT, None))
    model_path, out_dir = os.path.join(scratch, "calib.onnx"), os.path.join(scratch, "calib_out")
    onnx.save(probe, model_path)
    np.save(os.path.join(scratch, "calib.npy"), images)
    input_name = model.graph.input[0].name
    command = ["node", os.path.join(REPO, "scripts", "ort_run.js"), model_path, out_dir,
               f"{input_name}={os.path.join(scratch, 'calib.npy')}"]
    run = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if run.returncode != 0:
        fail(f"{' '.join(command)} failed:\n{run.stderr}")
    return {name: float(np.abs(np.load(os.path.join(out_dir, f"calib_{k}.npy"))).max())
            for k, name in enumerate(inputs)}


def initializer(model, name, array):
    model.graph.initializer.append(numpy_helper.from_array(array, name))
    return name


def qdq_model(float_model, layers, weights, act_thresholds, abits):
    """The float model with, per quantized layer: [Gather ->] Q -> DQ on its data input, and its
    weight as int8 codes -> DQ. `weights[name]` is (codes, step, gather indices)."""
    if abits > 8:
        fail(f"--abits {abits}: this script writes int8 QuantizeLinear only")
    model = onnx.ModelProto()
    model.CopyFrom(float_model)
    quantized = {n.name for n in layers}
    nodes = []
    for n in model.graph.node:
        if n.name not in quantized:
            nodes.append(n)
            continue
        codes, step, indices = weights[n.input[1]]
        x, w, tag = n.input[0], n.input[1], n.name
        act_step = quant_step(act_thresholds[x], abits)
        if indices.size > x_channels(float_model, n):
            nodes.append(helper.make_node("Gather", [x, initializer(model, tag + "_ocs_indices", indices)],
                                          [tag + "_ocs"], axis=1))
            x = tag + "_ocs"
        zero = initializer(model, tag + "_zero", np.array(0, np.int8))
        scale = initializer(model, tag + "_x_scale", np.array(act_step, np.float32))
        nodes.append(helper.make_node("QuantizeLinear", [x, scale, zero], [tag + "_xq"]))
        nodes.append(helper.make_node("DequantizeLinear", [tag + "_xq", scale, zero], [tag + "_xdq"]))
        w_scale = initializer(model, tag + "_w_scale", np.array(step, np.float32))
        nodes.append(helper.make_node("DequantizeLinear", [initializer(model, tag + "_w_codes", codes), w_scale, zero],
                                      [tag + "_wdq"]))
        n.input[0], n.input[1] = tag + "_xdq", tag + "_wdq"
        nodes.append(n)
    kept = {i for node in nodes for i in node.input}
    originals = [t for t in model.graph.initializer if t.name in kept]
    del model.graph.initializer[:]
    model.graph.initializer.extend(originals)
    return replace_nodes(model, nodes)


def x_channels(model, layer):
    """C_in of a Conv from its weight (group 1 only: ocs does not split grouped convolutions)."""
    if layer.op_type != "Conv":
        fail(f"{layer.name}: {layer.op_type} layers are not handled by this script (the Fashion models quantize Convs)")
    if any(a.name == "group" and a.i != 1 for a in layer.attribute):
        fail(f"{layer.name}: grouped convolutions are not handled by this script")
    w = next(t for t in model.graph.initializer if t.name == layer.input[1])
    return w.dims[1]


# ---- the two pipelines ----------------------------------------------------------------------

class OrtWorker:
    def __init__(self, data_dir, threads):
        self.proc = subprocess.Popen(
            ["node", os.path.join(REPO, "bench", "ort_eval_worker.js"), "--threads", str(threads),
             os.path.join(data_dir, "images.npy"), os.path.join(data_dir, "labels.npy"), "input"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            fail("the ONNX Runtime worker did not start")

    def evaluate(self, model_path):
        self.proc.stdin.write(model_path + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            fail(f"the ONNX Runtime worker failed on {model_path}")
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def evaluate_timed(model, path, worker, start, config):
    onnx.save(model, path)
    result = worker.evaluate(path)
    result["seconds"] = time.perf_counter() - start
    result["config"] = config
    print(f"numpy_ort_sweep: {label(config)}: top-1 {100 * result['top1']:.2f}%, {result['seconds']:.2f} s",
          file=sys.stderr)
    return result


def weight_only_pipeline(model, layers, bits_list, worker, scratch):
    """Float, then per b: weights fake-quantized with threshold max|w|, activations float, no OCS."""
    originals = initializer_arrays(model, [n.input[1] for n in layers])
    inits = {t.name: t for t in model.graph.initializer}
    rows = []
    for bits in [None] + bits_list:
        start = time.perf_counter()
        for name, w in originals.items():
            quantized = w if bits is None else fake_quantize_max(w, bits)
            inits[name].CopyFrom(numpy_helper.from_array(quantized, name))
        config = None if bits is None else (bits, 0, "max", 0.0)
        rows.append(evaluate_timed(model, os.path.join(scratch, "model.onnx"), worker, start, config))
    return rows


def a8_pipeline(model, layers, configs, act_thresholds, worker, scratch):
    """Float, then per (wbits, abits, clip, ratio): OCS + clip on every quantized weight, the QDQ model, its top-1."""
    originals = initializer_arrays(model, [n.input[1] for n in layers])
    start = time.perf_counter()
    rows = [evaluate_timed(model, os.path.join(scratch, "model.onnx"), worker, start, None)]
    for config in configs:
        bits, abits, clip, ratio = config
        start = time.perf_counter()
        weights = {name: quantize_weight(w, bits, clip, ratio) for name, w in originals.items()}
        quantized = qdq_model(model, layers, weights, act_thresholds, abits)
        rows.append(evaluate_timed(quantized, os.path.join(scratch, "model.onnx"), worker, start, config))
    return rows


def ocs_sweep(ocs, model_path, args, out_dir):
    grid = ["--wbits", *map(str, args.wbits)]
    if args.weight_only:
        grid += ["--abits", "0", "--wclip", "max", "--ocs-ratio", "0"]
    else:
        grid += ["--abits", str(args.abits), "--aclip", "max", "--calib", "fashion-mnist:train",
                 "--calib-samples", str(args.calib_samples), "--wclip", *args.wclip,
                 "--ocs-ratio", *(f"{r:g}" for r in args.ocs_ratio), "--split", "qa", "--format", "qdq-inputs"]
    command = [ocs, "sweep", model_path, "--data", "fashion-mnist:test", *grid, "--threads", str(args.threads),
               "--output-dir", out_dir, "--force"]
    start, cpu = time.perf_counter(), cpu_seconds()
    run = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    if run.returncode != 0:
        fail(f"{' '.join(command)} failed:\n{run.stderr}")
    with open(os.path.join(out_dir, "results.csv"), newline="") as f:
        results = list(csv.DictReader(f))
    return " ".join(command), seconds, cpu, results


def label(config):
    if config is None:
        return "float"
    bits, abits, clip, ratio = config
    return f"W{bits} A{abits or '-float'}, {clip}, r={ratio:g}"


def sweep_key(row):
    """The configuration of an `ocs sweep` results.csv row (None for its float row)."""
    if row["wclip"] == "float":
        return None
    abits = int(row["abits"])
    return (int(row["wbits"]), abits if abits < 32 else 0, row["wclip"], float(row["ocs_ratio"]))


def print_table(rows, ocs_rows, total, ocs_seconds):
    print("| configuration | numpy + ORT top-1 | ocs sweep top-1 | numpy + ORT s (of which ORT session + inference) "
          "| ocs sweep s (quantize + eval, one core) |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        theirs = ocs_rows.get(r["config"])
        if ocs_rows and theirs is None:
            fail(f"ocs sweep wrote no row for {label(r['config'])}")
        ocs_top1 = f"{100 * float(theirs['headline']):.2f}%" if theirs else "-"
        ocs_s = f"{float(theirs['quantize_s']) + float(theirs['eval_s']):.2f}" if theirs else "-"
        print(f"| {label(r['config'])} | {100 * r['top1']:.2f}% | {ocs_top1} | {r['seconds']:.2f} "
              f"({(r['session_ms'] + r['run_ms']) / 1000:.2f}) | {ocs_s} |")
    print(f"| **wall time, float + {len(rows) - 1} configurations** | | | **{total:.2f}** | "
          + (f"**{ocs_seconds:.2f}**" if ocs_rows else "-") + " |")


def print_summary(rows, ocs_rows, total, ocs_seconds, threads):
    configs = rows[1:]
    n = len(configs)
    mean = sum(r["seconds"] for r in configs) / n
    print(f"\nnumpy + ORT: {mean:.2f} s per configuration (mean of {n}; ORT at {threads} threads, one "
          f"configuration at a time), {total / n:.2f} s per configuration of its wall time")
    if not ocs_rows:
        return
    ocs_mean = sum(float(ocs_rows[r["config"]]["quantize_s"]) + float(ocs_rows[r["config"]]["eval_s"])
                   for r in configs) / n
    print(f"ocs sweep: {ocs_seconds / n:.2f} s per configuration of its wall time ({threads} workers, one "
          f"configuration each at a time), {ocs_mean:.2f} s mean of its results.csv quantize_s + eval_s")
    print(f"ratio (numpy + ORT per configuration / ocs sweep per configuration, both of the wall): "
          f"{total / ocs_seconds:.2f}x; issue #12 wants >= 5x")
    same = sum(abs(r["top1"] - float(ocs_rows[r["config"]]["headline"])) < 1e-9 for r in configs)
    gaps = [abs(r["top1"] - float(ocs_rows[r["config"]]["headline"])) * 100 for r in configs]
    print(f"top-1 agreement: {same} of {n} configurations identical; largest difference {max(gaps):.2f} pt, "
          f"mean |difference| {sum(gaps) / n:.3f} pt")


def print_cpu(n, cpu, ocs_cpu):
    print(f"CPU (user + sys, every process of the pipeline): numpy + ORT {cpu:.1f} s ({cpu / n:.2f} s per "
          "configuration)" + ("" if ocs_cpu is None else
                              f", ocs sweep {ocs_cpu:.1f} s ({ocs_cpu / n:.2f} s per configuration); ratio {cpu / ocs_cpu:.2f}x"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.path.join(REPO, "models", "fashion_resnet.onnx"))
    parser.add_argument("--weight-only", action="store_true",
                        help="the earlier comparison: weights only (max clip, no OCS), activations float")
    parser.add_argument("--wbits", type=int, nargs="+", help="default 8 7 6 5 4 (weight-only: 8 7 6 5 4 3 2)")
    parser.add_argument("--abits", type=int, default=8)
    parser.add_argument("--wclip", nargs="+", default=["max", "mse", "aciq", "kl"], choices=sorted(CLIP_METHODS))
    parser.add_argument("--ocs-ratio", type=float, nargs="+", default=[0, 0.01, 0.02, 0.05, 0.1])
    parser.add_argument("--calib-samples", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ocs", default=os.path.join(REPO, "build", "ocs"))
    parser.add_argument("--no-ocs", action="store_true", help="time only the numpy + ONNX Runtime pipeline")
    parser.add_argument("--ocs-first", action="store_true", help="run `ocs sweep` before the numpy + ORT pipeline")
    args = parser.parse_args()
    args.wbits = args.wbits or ([8, 7, 6, 5, 4, 3, 2] if args.weight_only else [8, 7, 6, 5, 4])
    if not args.no_ocs and not os.access(args.ocs, os.X_OK):
        fail(f"{args.ocs}: no ocs binary (build it, or pass --ocs or --no-ocs)")
    # The sweep's grid order: bits, then clip method, then ratio.
    configs = [(b, args.abits, c, r) for b in args.wbits for c in args.wclip for r in args.ocs_ratio]

    print(f"load before: {open('/proc/loadavg').read().split()[:3]}")
    with tempfile.TemporaryDirectory(prefix="numpy_ort_sweep_") as scratch:
        ocs_run = None
        if not args.no_ocs and args.ocs_first:
            ocs_run = ocs_sweep(args.ocs, args.model, args, os.path.join(scratch, "sweep"))
            print(f"load after ocs sweep: {open('/proc/loadavg').read().split()[:3]}")
        start, cpu = time.perf_counter(), cpu_seconds()
        save_test_split(scratch)
        model = fold_batchnorm(onnx.load(args.model))
        layers = layers_to_quantize(model)
        worker = OrtWorker(scratch, args.threads)
        if args.weight_only:
            setup = time.perf_counter() - start
            rows = weight_only_pipeline(model, layers, args.wbits, worker, scratch)
        else:
            calib_images, _ = load_split("train", args.calib_samples)
            act_thresholds = calibrate_max_abs(model, layers, calib_images, scratch)
            setup = time.perf_counter() - start
            rows = a8_pipeline(model, layers, configs, act_thresholds, worker, scratch)
        worker.close()
        # The whole pipeline, as `ocs sweep`'s wall time is: data, float model, every configuration.
        total, cpu = time.perf_counter() - start, cpu_seconds() - cpu
        print(f"\nnumpy + ONNX Runtime: {os.path.basename(args.model)}, {len(layers)} layers quantized "
              f"({', '.join(n.name for n in layers)}), {rows[0]['count']} test images, {args.threads} threads")
        print(f"setup (data, BatchNorm folding, worker start"
              + ("" if args.weight_only else f", calibration on {args.calib_samples} training images") + f") {setup:.2f} s")
        if not args.weight_only:
            print("activation thresholds (max|x|): " + ", ".join(f"{t:.6g}" for t in act_thresholds.values()))

        ocs_rows, ocs_seconds, ocs_cpu = {}, None, None
        if not args.no_ocs:
            if ocs_run is None:
                print(f"load before ocs sweep: {open('/proc/loadavg').read().split()[:3]}")
                ocs_run = ocs_sweep(args.ocs, args.model, args, os.path.join(scratch, "sweep"))
            command, ocs_seconds, ocs_cpu, results = ocs_run
            ocs_rows = {sweep_key(r): r for r in results}
            print(f"ocs sweep ({'before' if args.ocs_first else 'after'} numpy + ORT): "
                  f"`{command.replace(scratch, '$TMP').replace(REPO + '/', '')}`: {ocs_seconds:.2f} s wall "
                  f"for {len(results)} rows (float + {len(results) - 1} configurations)")
        print()
        print_table(rows, ocs_rows, total, ocs_seconds)
        print_summary(rows, ocs_rows, total, ocs_seconds, args.threads)
        print_cpu(len(rows) - 1, cpu, ocs_cpu)
    print(f"load after: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
