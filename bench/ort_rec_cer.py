#!/usr/bin/python3
"""Issue #11's accuracy check for a text recognizer: the CER of one ONNX file measured by ONNX
Runtime (graph optimisation 'all', scripts/ort_run.js) and by `ocs eval` on the same text lines.

  /usr/bin/python3 bench/ort_rec_cer.py MODEL.onnx [--lines tests/data/text_lines]
      [--keys $OCS_CACHE/models/ppocr_keys_v1.txt] [--ocs build/ocs] [--threads 2] [--batch 50]

ONNX Runtime side, written here independently of ocs' C++: the lines of DIR/labels.tsv (gray
PNGs 48 high and at most 320 wide, as scripts/make_text_lines.py draws them: no resizing needed)
become [3, 48, 320] inputs the way PaddleOCR's resize_norm_img makes them ((x/255 - 0.5)/0.5,
three equal channels, right-padded with 0); the output [N, T, C] is decoded greedily (argmax,
merge repeats, drop class 0; class i is key line i, and a last extra class is the space); CER =
sum of Levenshtein distances / sum of label lengths, in code points. Prints one line per engine
and their difference in CER points.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("OCS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "ocs")


def fail(message):
    sys.exit(f"ort_rec_cer: error: {message}")


def read_lines(folder):
    with open(os.path.join(folder, "labels.tsv"), encoding="utf-8") as f:
        return [line.rstrip("\r\n").split("\t", 1) for line in f if line.strip()]


def line_input(path):
    gray = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    if gray.shape[0] != 48 or gray.shape[1] > 320:
        fail(f"{path}: {gray.shape[1]}x{gray.shape[0]} needs resizing, which this script does not do")
    x = np.zeros((3, 48, 320), np.float32)
    x[:, :, :gray.shape[1]] = (gray / 255.0 - 0.5) / 0.5
    return x


def decode(scores, symbols):
    texts = []
    for classes in scores.argmax(axis=2):
        kept = [c for k, c in enumerate(classes) if c != 0 and (k == 0 or c != classes[k - 1])]
        texts.append("".join(symbols[c] for c in kept))
    return texts


def edit_distance(a, b):
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        diagonal, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (ca != cb))
    return row[-1]


def ort_cer(model, lines, folder, symbols_of, threads, batch, scratch):
    edits = chars = exact = 0
    for first in range(0, len(lines), batch):
        chunk = lines[first:first + batch]
        x_file = os.path.join(scratch, "x.npy")
        np.save(x_file, np.stack([line_input(os.path.join(folder, f)) for f, _ in chunk]))
        out = os.path.join(scratch, "out")
        run = subprocess.run(["node", os.path.join(REPO, "scripts", "ort_run.js"), "--threads", str(threads),
                              model, out, f"x={x_file}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if run.returncode != 0:
            fail(f"ONNX Runtime failed on {model}:\n{run.stderr}")
        outputs = [f for f in os.listdir(out) if f.endswith(".npy")]
        if len(outputs) != 1:
            fail(f"{model}: one output expected, ONNX Runtime wrote {outputs}")
        scores = np.load(os.path.join(out, outputs[0]))
        for text, (_, label) in zip(decode(scores, symbols_of(scores.shape[2])), chunk):
            edits += edit_distance(text, label)
            chars += len(label)
            exact += text == label
    return edits / chars, exact / len(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--lines", default=os.path.join(REPO, "tests", "data", "text_lines"))
    parser.add_argument("--keys", default=os.path.join(CACHE, "models", "ppocr_keys_v1.txt"))
    parser.add_argument("--ocs", default=os.path.join(REPO, "build", "ocs"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()

    with open(args.keys, encoding="utf-8") as f:
        keys = f.read().splitlines()

    def symbols_of(classes):
        if classes not in (len(keys) + 1, len(keys) + 2):
            fail(f"{args.model}: {classes} classes for {len(keys)} keys in {args.keys}")
        return [""] + keys + [" "] * (classes - len(keys) - 1)

    lines = read_lines(args.lines)
    with tempfile.TemporaryDirectory(prefix="ort_rec_cer_") as scratch:
        ort, ort_exact = ort_cer(args.model, lines, args.lines, symbols_of, args.threads, args.batch, scratch)
        report = os.path.join(scratch, "eval.json")
        command = [args.ocs, "eval", args.model, "--data", f"text-lines:{args.lines}", "--metric", "cer",
                   "--keys", args.keys, "--threads", str(args.threads), "--json", report]
        run = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if run.returncode != 0:
            fail(f"{' '.join(command)} failed:\n{run.stderr}")
        with open(report) as f:
            ours = json.load(f)
    print(f"ONNX Runtime ('all'): CER {100 * ort:.2f}%, lines exact {100 * ort_exact:.2f}% ({len(lines)} lines)")
    print(f"ocs eval:             CER {100 * ours['cer']:.2f}%, lines exact {100 * ours['line_accuracy']:.2f}% "
          f"({ours['lines']} lines)")
    print(f"difference: {100 * abs(ort - ours['cer']):.2f} CER points")


if __name__ == "__main__":
    main()
