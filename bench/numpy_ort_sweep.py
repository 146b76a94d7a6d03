#!/usr/bin/python3
"""The "plain Python pipeline" of issue #12, as the competitor of `ocs sweep`, timed in one run.

For each weight bit width b (default 8 7 6 5 4 3 2): numpy fake-quantizes the weights of the
model's Conv/Gemm layers (BatchNorm folded first; symmetric, per tensor, threshold max|w|, round
half to even, codes in [-2^(b-1), 2^(b-1) - 1], as ocs' quant/fake_quant.h does; the first
convolution and the last Gemm stay float, as ocs' default policy), activations stay float, no OCS;
ONNX Runtime (graph optimisation 'all', 2 threads, batches of 1000) runs the fake-quantized float
model over all 10,000 Fashion-MNIST test images. Each configuration is timed from the weights to
the accuracy (quantization, model serialisation, session creation, inference).

Then, in the same run, `ocs sweep` on the same configurations (--wbits ..., --abits 0,
--wclip max, --ocs-ratio 0, all test images, same threads), timed as a whole, and both results
side by side (the top-1 of the two pipelines should agree closely: same quantizer, two engines).

  /usr/bin/python3 bench/numpy_ort_sweep.py [--model models/fashion_resnet.onnx] [--wbits 8 7 ...]
      [--threads 2] [--ocs build/ocs] [--no-ocs]

ONNX Runtime here is onnxruntime-node (this machine reaches no Python package registry), kept
open as one worker process (bench/ort_eval_worker.js) that loads the test images once; the
Python side passes it each quantized model as a file.
"""
import argparse
import csv
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION = "/usr/share/datasets/fashion-mnist"


def load_test_split(out_dir):
    """The 10,000 test images normalised as our models expect, (x/255 - 0.5)/0.5, as .npy files."""
    x = np.frombuffer(gzip.open(f"{FASHION}/t10k-images-idx3-ubyte.gz").read(), np.uint8, offset=16)
    x = (x.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0 - 0.5) / 0.5
    y = np.frombuffer(gzip.open(f"{FASHION}/t10k-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
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
    """Weight initializer names of the Conv/Gemm/MatMul layers ocs quantizes by default: all
    but the first convolutions (whose input no weighted layer computes) and the last Gemm/MatMul."""
    inits = {t.name for t in model.graph.initializer}
    weighted, after_weighted = [], set()
    for n in model.graph.node:  # ONNX graphs are topologically sorted
        is_weighted = n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1 and n.input[1] in inits
        if is_weighted:
            weighted.append((n, n.input[0] in after_weighted))
        if is_weighted or any(i in after_weighted for i in n.input):
            after_weighted.update(n.output)
    last_fc = max((k for k, (n, _) in enumerate(weighted) if n.op_type in ("Gemm", "MatMul")), default=None)
    return [n.input[1] for k, (n, downstream) in enumerate(weighted)
            if k != last_fc and (n.op_type != "Conv" or downstream)]


def fake_quantize_max(w, bits):
    """Symmetric per-tensor b-bit fake quantization with threshold max|w| (ocs' fake_quantize_max)."""
    t = float(np.abs(w).max())
    if t == 0:
        return w
    step = np.float32(t / (2 ** (bits - 1) - 1))
    q = np.clip(np.round(w / step), -2 ** (bits - 1), 2 ** (bits - 1) - 1)  # np.round: half to even
    return (q * step).astype(np.float32)


# ---- the two pipelines ----------------------------------------------------------------------

class OrtWorker:
    def __init__(self, data_dir, threads):
        self.proc = subprocess.Popen(
            ["node", os.path.join(REPO, "bench", "ort_eval_worker.js"), "--threads", str(threads),
             os.path.join(data_dir, "images.npy"), os.path.join(data_dir, "labels.npy"), "input"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            sys.exit("numpy_ort_sweep: error: the ONNX Runtime worker did not start")

    def evaluate(self, model_path):
        self.proc.stdin.write(model_path + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"numpy_ort_sweep: error: the ONNX Runtime worker failed on {model_path}")
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def numpy_ort_pipeline(model, weights, bits_list, worker, scratch):
    inits = {t.name: t for t in model.graph.initializer}
    originals = {name: numpy_helper.to_array(inits[name]).copy() for name in weights}
    rows = []
    for bits in [None] + bits_list:
        start = time.perf_counter()
        for name, w in originals.items():
            quantized = w if bits is None else fake_quantize_max(w, bits)
            inits[name].CopyFrom(numpy_helper.from_array(quantized, name))
        path = os.path.join(scratch, f"w{bits or 'float'}.onnx")
        onnx.save(model, path)
        result = worker.evaluate(path)
        result["seconds"] = time.perf_counter() - start
        result["bits"] = bits
        rows.append(result)
        print(f"numpy_ort_sweep: W{bits or 'float'}: top-1 {100 * result['top1']:.2f}%, "
              f"{result['seconds']:.2f} s", file=sys.stderr)
    return rows


def ocs_sweep(ocs, model_path, bits_list, threads, out_dir):
    command = [ocs, "sweep", model_path, "--data", "fashion-mnist:test", "--wbits", *map(str, bits_list),
               "--abits", "0", "--wclip", "max", "--ocs-ratio", "0", "--threads", str(threads),
               "--output-dir", out_dir, "--force"]
    start = time.perf_counter()
    run = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"numpy_ort_sweep: error: {' '.join(command)} failed:\n{run.stderr}")
    with open(os.path.join(out_dir, "results.csv"), newline="") as f:
        results = list(csv.DictReader(f))
    return " ".join(command), seconds, results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.path.join(REPO, "models", "fashion_resnet.onnx"))
    parser.add_argument("--wbits", type=int, nargs="+", default=[8, 7, 6, 5, 4, 3, 2])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ocs", default=os.path.join(REPO, "build", "ocs"))
    parser.add_argument("--no-ocs", action="store_true", help="time only the numpy + ONNX Runtime pipeline")
    args = parser.parse_args()

    print(f"load before: {open('/proc/loadavg').read().split()[:3]}")
    with tempfile.TemporaryDirectory(prefix="numpy_ort_sweep_") as scratch:
        start = time.perf_counter()
        load_test_split(scratch)
        model = fold_batchnorm(onnx.load(args.model))
        weights = layers_to_quantize(model)
        worker = OrtWorker(scratch, args.threads)
        setup = time.perf_counter() - start
        rows = numpy_ort_pipeline(model, weights, args.wbits, worker, scratch)
        worker.close()
        # The whole pipeline, as `ocs sweep`'s wall time is: data, float model, every configuration.
        total = time.perf_counter() - start
        configs = rows[1:]
        print(f"\nnumpy + ONNX Runtime: {os.path.basename(args.model)}, {len(weights)} layers quantized "
              f"({', '.join(weights)}), {configs[0]['count']} test images, {args.threads} threads")
        print(f"setup (data, BatchNorm folding, worker start) {setup:.2f} s")

        ocs_rows = {}
        if not args.no_ocs:
            command, ocs_seconds, results = ocs_sweep(args.ocs, args.model, args.wbits, args.threads,
                                                      os.path.join(scratch, "sweep"))
            for r in results:
                ocs_rows[int(r["wbits"])] = r
            print(f"ocs sweep: `{command.replace(scratch, '$TMP').replace(REPO + '/', '')}`: {ocs_seconds:.2f} s wall for "
                  f"{len(results)} rows (float + {len(results) - 1} configurations)")

        print()
        print("| weights | numpy + ORT top-1 | numpy + ORT s (of which ORT session + inference) | ocs sweep top-1 |")
        print("|---|---:|---:|---:|")
        for r in rows:
            theirs = ocs_rows.get(r["bits"] or 32)  # ocs sweep's float row has wbits 32
            ocs_top1 = f"{100 * float(theirs['top1']):.2f}%" if theirs else "-"
            label = f"W{r['bits']} A-float, max, r=0" if r["bits"] else "float"
            print(f"| {label} | {100 * r['top1']:.2f}% | {r['seconds']:.2f} "
                  f"({(r['session_ms'] + r['run_ms']) / 1000:.2f}) | {ocs_top1} |")
        print(f"| **wall time, float + {len(configs)} configurations** | | **{total:.2f}** | "
              + (f"**{ocs_seconds:.2f} s**" if not args.no_ocs else "-") + " |")
        if not args.no_ocs:
            print(f"\nper configuration: numpy + ORT {total / len(configs):.2f} s, ocs sweep "
                  f"{ocs_seconds / len(configs):.2f} s (ocs sweep / numpy + ORT = {ocs_seconds / total:.2f}; "
                  f"issue #12 wants <= 0.2)")
    print(f"load after: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
