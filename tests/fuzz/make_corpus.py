#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/ (docs/FUZZING.md).

Small valid files of each format, in the variants the parsers handle (dtypes, versions, colour
types, compression), plus a few that must be refused. Deterministic: running it again gives the
same bytes. Needs Debian's python3-numpy, python3-onnx and python3-pil (run with /usr/bin/python3).
"""
import io
import json
import os
import random
import struct
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
rng = np.random.default_rng(0)


def put(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def npy_bytes(array, version=None):
    buffer = io.BytesIO()
    if version is None:
        np.save(buffer, array)
    else:
        np.lib.format.write_array(buffer, array, version=version)
    return buffer.getvalue()


def npy():
    put("npy", "f32_2x3.npy", npy_bytes(rng.standard_normal((2, 3)).astype(np.float32)))
    put("npy", "i64_scalar.npy", npy_bytes(np.array(7, dtype=np.int64)))
    put("npy", "bool_4.npy", npy_bytes(np.array([True, False, True, True])))
    put("npy", "f16_3.npy", npy_bytes(np.array([1.5, -2, 65504], dtype=np.float16)))
    put("npy", "u8_fortran.npy", npy_bytes(np.asfortranarray(np.arange(6, dtype=np.uint8).reshape(2, 3))))
    put("npy", "f64_v2.npy", npy_bytes(np.arange(4, dtype=np.float64), version=(2, 0)))
    put("npy", "u16_empty.npy", npy_bytes(np.zeros((0, 3), dtype=np.uint16)))
    put("npy", "f32_bigendian.npy", npy_bytes(np.arange(3, dtype=">f4")))  # refused


def npz():
    a = rng.standard_normal((2, 2)).astype(np.float32)
    b = np.arange(5, dtype=np.int32)
    for name, save in (("stored.npz", np.savez), ("deflated.npz", np.savez_compressed)):
        buffer = io.BytesIO()
        save(buffer, x=a, ids=b)
        put("npz", name, buffer.getvalue())
    buffer = io.BytesIO()
    np.savez(buffer)
    put("npz", "empty.npz", buffer.getvalue())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("notes.txt", "not an array")  # refused: members must be .npy
    put("npz", "not_npy_member.npz", buffer.getvalue())


def wav_bytes(samples, channels=1, rate=16000, bits=16, extensible=False):
    data = struct.pack("<%dh" % len(samples), *samples) if bits == 16 else bytes(samples)
    block = channels * bits // 8
    if extensible:
        guid = struct.pack("<IHH8s", 1, 0x0000, 0x0010, b"\x80\x00\x00\xaa\x00\x38\x9b\x71")
        fmt = struct.pack("<HHIIHHHHI16s", 0xFFFE, channels, rate, rate * block, block, bits, 22,
                          bits, 0, guid)
    else:
        fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def wav():
    tone = [int(8000 * np.sin(i / 5)) for i in range(200)]
    put("wav", "mono.wav", wav_bytes(tone))
    put("wav", "stereo_44k.wav", wav_bytes(tone, channels=2, rate=44100))
    put("wav", "extensible_48k.wav", wav_bytes(tone[:96], rate=48000, extensible=True))
    put("wav", "pcm8.wav", wav_bytes(list(range(0, 256, 4)), bits=8))  # refused


def image_bytes(image, fmt, **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def images():
    rgb = Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8), "RGB")
    gray = rgb.convert("L")
    put("png", "rgb.png", image_bytes(rgb, "PNG"))
    put("png", "gray.png", image_bytes(gray, "PNG"))
    put("png", "rgba.png", image_bytes(rgb.convert("RGBA"), "PNG"))
    put("png", "palette.png", image_bytes(rgb.convert("P"), "PNG"))
    put("png", "bits1.png", image_bytes(gray.convert("1"), "PNG"))
    put("png", "gray16.png", image_bytes(Image.fromarray(np.arange(30, dtype=np.uint16).reshape(5, 6) * 2000), "PNG"))
    put("png", "optimized.png", image_bytes(rgb.resize((9, 9)), "PNG", optimize=True))
    put("jpeg", "rgb.jpg", image_bytes(rgb.resize((16, 12)), "JPEG", quality=80))
    put("jpeg", "gray.jpg", image_bytes(gray.resize((8, 8)), "JPEG"))
    put("jpeg", "progressive.jpg", image_bytes(rgb.resize((17, 9)), "JPEG", progressive=True))
    put("jpeg", "cmyk.jpg", image_bytes(rgb.convert("CMYK"), "JPEG"))
    put("jpeg", "subsampled.jpg", image_bytes(rgb.resize((20, 20)), "JPEG", subsampling=2))


def quantize_config():
    configs = {
        "defaults.json": {},
        "full.json": {"calib": ["calib.npz"], "calib_samples": 64, "wbits": 6, "abits": 8, "ocs_ratio": 0.05,
                      "act_ocs_ratio": 0.02, "split": "qa", "wclip": "mse", "aclip": "percentile:99.9",
                      "per_channel": True, "unsigned_activations": True, "keep_first_last_float": False,
                      "exclude": ["conv1"], "fold_batchnorm": True, "fix_input": ["sr=16000"],
                      "fix_shape": ["input=1x512"], "unroll_recurrent": False, "format": "split-float",
                      "report": "r.json", "force": True, "threads": 2},
        "bad_value.json": {"wbits": 40, "aclip": "kl"},
        "bad_type.json": {"exclude": "conv1"},
    }
    for name, config in configs.items():
        put("quantize_config", name, json.dumps(config).encode())
    put("quantize_config", "not_object.json", b"[1, 2, 3]")


def model_bytes(nodes, inputs, outputs, initializers=(), opset=13):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def weights(name, shape):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def onnx_models():
    x4 = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 5])
    put("onnx_model", "add_mul.onnx", model_bytes(
        [helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.float32([2]))),
         helper.make_node("Add", ["x", "w"], ["y"], name="add"), helper.make_node("Mul", ["y", "c"], ["z"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 3])], [weights("w", (2, 3))]))
    put("onnx_model", "conv_relu_pool_gemm.onnx", model_bytes(
        [helper.make_node("Conv", ["x", "k", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c"], ["r"], name="relu"),
         helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
         helper.make_node("Flatten", ["p"], ["f"]),
         helper.make_node("Gemm", ["f", "g", "gb"], ["y"], transB=1)],
        [x4], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [weights("k", (4, 2, 3, 3)), weights("b", (4,)), weights("g", (3, 16)), weights("gb", (3,))]))
    put("onnx_model", "batchnorm_softmax.onnx", model_bytes(
        [helper.make_node("BatchNormalization", ["x", "s", "bb", "m", "v"], ["n"]),
         helper.make_node("Softmax", ["n"], ["y"], axis=1)],
        [x4], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 5, 5])],
        [weights("s", (2,)), weights("bb", (2,)), weights("m", (2,)),
         numpy_helper.from_array(np.float32([1, 2]), "v")]))
    branch = lambda value: helper.make_graph(  # noqa: E731
        [helper.make_node("Constant", [], ["o"], value=numpy_helper.from_array(np.float32([value])))],
        "b", [], [helper.make_tensor_value_info("o", TensorProto.FLOAT, [1])])
    put("onnx_model", "if.onnx", model_bytes(
        [helper.make_node("If", ["cond"], ["y"], then_branch=branch(1), else_branch=branch(0))],
        [helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])]))
    put("onnx_model", "lstm.onnx", model_bytes(
        [helper.make_node("LSTM", ["x", "W", "R"], ["y"], hidden_size=3)],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 1, 1, 3])],
        [weights("W", (1, 12, 2)), weights("R", (1, 12, 3))]))
    put("onnx_model", "reshape_shape.onnx", model_bytes(
        [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Reshape", ["x", "s"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])]))


def graph_seeds():
    # fuzz_graph reads its bytes as choices (random_graph.h); any bytes make a valid model.
    r = random.Random(0)
    for i in range(8):
        put("graph", "seed%d" % i, bytes(r.randrange(256) for _ in range(48)))


if __name__ == "__main__":
    npy()
    npz()
    wav()
    images()
    quantize_config()
    onnx_models()
    graph_seeds()
