#!/usr/bin/python3
"""A small encoder-decoder convolutional model with one wide activation, the situation of issue
#13 point 5 (a U-Net-style segmenter whose decoder activations reach ~540 against ~8 in the
encoder), plus calibration and evaluation inputs, to compare activation clip methods on it.

    x [N,4,16,16] -> enc1 Conv3x3 4->16, Relu -> enc2 Conv3x3 16->16, Relu
      -> dec1 Conv3x3 16->16, then on channel 0 only: - WIDE_SHIFT, * WIDE_GAIN; Relu
         (channel 0 fires on a few pixels only, and there up to ~540, where every other
         activation of the model stays below ~10)
      -> dec2 Conv3x3 16->16, Relu   (input channel 0 weighted 1/WIDE_GAIN: the wide channel
                                      carries no more signal than the others)
      -> head Conv1x1 16->4 (per-pixel class logits)

With one scale per tensor, dec2's input quantizer must cover channel 0's range, ~60x the other
15 channels'; max scaling leaves those few grid steps, a clipping method can give up the top of
channel 0 instead. enc1 stays float (the reference's first-layer policy).
Weights are random (seeded), He-scaled, so that every activation but the wide one is O(1-10).

usage: /usr/bin/python3 bench/make_wide_activation_model.py OUT_DIR
writes OUT_DIR/wide_activation.onnx, calib.npz (128 samples), eval.npz (256 other samples).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WIDE_GAIN = 1350.0
WIDE_SHIFT = 3.5


def conv_weights(rng, c_out, c_in, k):
    return (rng.standard_normal((c_out, c_in, k, k)) * np.sqrt(2.0 / (c_in * k * k))).astype(np.float32)


def build(rng):
    inits, nodes = [], []

    def conv(name, x, c_in, c_out, k, relu, wide=False, scale_in=None):
        w = conv_weights(rng, c_out, c_in, k)
        b = (0.1 * rng.standard_normal(c_out)).astype(np.float32)
        if scale_in is not None:
            w[:, 0] *= scale_in
        inits.extend([numpy_helper.from_array(w, name + ".w"), numpy_helper.from_array(b, name + ".b")])
        out = name + ".out"
        nodes.append(helper.make_node("Conv", [x, name + ".w", name + ".b"], [out], name=name,
                                      pads=[k // 2] * 4))
        if wide:  # channel 0: shifted so that it fires rarely, then WIDE_GAIN times larger
            shift, gain = np.zeros((1, c_out, 1, 1), np.float32), np.ones((1, c_out, 1, 1), np.float32)
            shift[0, 0], gain[0, 0] = -WIDE_SHIFT, WIDE_GAIN
            inits.extend([numpy_helper.from_array(shift, name + ".shift"),
                          numpy_helper.from_array(gain, name + ".gain")])
            nodes.append(helper.make_node("Add", [out, name + ".shift"], [name + ".shifted"], name=name + "_shift"))
            nodes.append(helper.make_node("Mul", [name + ".shifted", name + ".gain"], [name + ".wide"],
                                          name=name + "_gain"))
            out = name + ".wide"
        if not relu:
            return out
        nodes.append(helper.make_node("Relu", [out], [name + ".relu"], name=name + "_relu"))
        return name + ".relu"

    h = conv("enc1", "x", 4, 16, 3, True)
    h = conv("enc2", h, 16, 16, 3, True)
    h = conv("dec1", h, 16, 16, 3, True, wide=True)
    h = conv("dec2", h, 16, 16, 3, True, scale_in=1.0 / WIDE_GAIN)
    out = conv("head", h, 16, 4, 1, False)
    graph = helper.make_graph(
        nodes, "wide_activation",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 16, 16])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", 4, 16, 16])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def images(rng, n):
    """Smooth random fields (a blurred noise image per channel) plus a little pixel noise."""
    x = rng.standard_normal((n, 4, 16, 16)).astype(np.float32)
    for axis in (2, 3):
        x = (x + np.roll(x, 1, axis) + np.roll(x, -1, axis)) / np.sqrt(3.0)
    return (x + 0.1 * rng.standard_normal(x.shape)).astype(np.float32)


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(2026)
    onnx.save(build(rng), os.path.join(out_dir, "wide_activation.onnx"))
    np.savez(os.path.join(out_dir, "calib.npz"), x=images(rng, 128))
    np.savez(os.path.join(out_dir, "eval.npz"), x=images(rng, 256))
    print(f"wrote wide_activation.onnx, calib.npz, eval.npz in {out_dir}")


if __name__ == "__main__":
    main()
