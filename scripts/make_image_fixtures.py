#!/usr/bin/python3
"""Writes the image fixtures of tests/image_io_test.cpp, tests/image_preprocess_test.cpp and
tests/image_folder_test.cpp under tests/data/images/, with the values PIL and torchvision give
for them (the independent reference). Run with Debian's python (python3-pil, python3-numpy,
python3-torchvision); the outputs are committed, so tests never need python.

    /usr/bin/python3 scripts/make_image_fixtures.py
"""
import os
import struct
import zlib

import numpy as np
from PIL import Image
import torch
from torchvision import transforms

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "images")
DECODE = os.path.join(ROOT, "decode")
PREPROCESS = os.path.join(ROOT, "preprocess")
FOLDER = os.path.join(ROOT, "folder")


def smooth_rgb(rng, width, height):
    """A picture with gradients and noise, so that JPEG and resampling are exercised."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 127 + 100 * np.sin(x / 3.0) * np.cos(y / 5.0)
    g = 255 * x / max(width - 1, 1)
    b = 255 * y / max(height - 1, 1)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 20, (height, width, 3))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def write_png(path, rows, width, height, bit_depth, color_type):
    """A PNG from packed rows, written chunk by chunk (PIL writes neither 16-bit RGB nor 4-bit
    gray)."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + row for row in rows)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) +
                chunk(b"IEND", b""))


def write_png_16(path, array, color_type):
    height, width = array.shape[:2]
    write_png(path, [array[y].astype(">u2").tobytes() for y in range(height)], width, height, 16, color_type)


def write_png_gray4(path, array):
    """4-bit gray, two pixels a byte, high nibble first."""
    height, width = array.shape
    padded = np.zeros((height, width + width % 2), np.uint8)
    padded[:, :width] = array
    write_png(path, [(padded[y, 0::2] << 4 | padded[y, 1::2]).tobytes() for y in range(height)],
              width, height, 4, 0)


def save_decoded(name, path):
    """Expected pixels: what PIL's convert("RGB") and convert("L") give (torchvision's loader)."""
    with Image.open(path) as img:
        np.save(os.path.join(DECODE, name + ".rgb.npy"), np.asarray(img.convert("RGB")))
        np.save(os.path.join(DECODE, name + ".gray.npy"), np.asarray(img.convert("L")))


def make_decode_fixtures(rng):
    os.makedirs(DECODE, exist_ok=True)
    rgb = smooth_rgb(rng, 13, 9)
    alpha = rng.integers(0, 256, (9, 13, 1), dtype=np.uint8)
    files = {
        "rgb.png": Image.fromarray(rgb),
        "gray.png": Image.fromarray(rgb[:, :, 1]),
        "rgba.png": Image.fromarray(np.concatenate([rgb, alpha], axis=-1), "RGBA"),
        "gray_alpha.png": Image.fromarray(np.concatenate([rgb[:, :, :1], alpha], axis=-1), "LA"),
        "bilevel.png": Image.fromarray(rgb[:, :, 0] > 127),
        "palette.png": Image.fromarray(rgb).quantize(colors=7),
    }
    for name, img in files.items():
        kwargs = {"transparency": 2} if name == "palette.png" else {}
        img.save(os.path.join(DECODE, name), **kwargs)
        save_decoded(name, os.path.join(DECODE, name))
    # 4-bit gray: PIL reads it scaled by 17 (0..15 -> 0..255).
    write_png_gray4(os.path.join(DECODE, "gray4.png"), rgb[:, :, 2] // 17)
    save_decoded("gray4.png", os.path.join(DECODE, "gray4.png"))
    # 16-bit files: the expected value is the high byte (our documented convention, which PIL
    # follows for RGB; PIL clips 16-bit gray instead, so these expectations are hand-made).
    wide = rng.integers(0, 65536, (5, 6, 3), dtype=np.uint16)
    write_png_16(os.path.join(DECODE, "rgb16.png"), wide, 2)
    np.save(os.path.join(DECODE, "rgb16.png.rgb.npy"), (wide >> 8).astype(np.uint8))
    write_png_16(os.path.join(DECODE, "gray16.png"), wide[:, :, 0], 0)
    np.save(os.path.join(DECODE, "gray16.png.gray.npy"), (wide[:, :, 0] >> 8).astype(np.uint8))
    # JPEGs: 4:2:0 colour, gray, progressive, and Adobe CMYK (PIL stores it inverted).
    big = smooth_rgb(rng, 21, 17)
    Image.fromarray(big).save(os.path.join(DECODE, "rgb.jpg"), quality=90)
    Image.fromarray(big[:, :, 0]).save(os.path.join(DECODE, "gray.jpg"), quality=90)
    Image.fromarray(big).save(os.path.join(DECODE, "progressive.jpg"), quality=80, progressive=True)
    Image.fromarray(big).convert("CMYK").save(os.path.join(DECODE, "cmyk.jpg"), quality=95)
    for name in ["rgb.jpg", "gray.jpg", "progressive.jpg", "cmyk.jpg"]:
        save_decoded(name, os.path.join(DECODE, name))


def make_preprocess_fixtures(rng):
    """torchvision's ImageNet pipeline on PIL images, with small sizes."""
    os.makedirs(PREPROCESS, exist_ok=True)
    img = Image.fromarray(smooth_rgb(rng, 37, 29))
    img.save(os.path.join(PREPROCESS, "rgb_37x29.png"))
    # Resize(S): the shorter side becomes S, antialiased bilinear (downscale and upscale).
    for size in [16, 11, 45]:
        resized = transforms.Resize(size)(img)
        np.save(os.path.join(PREPROCESS, f"resize_{size}.npy"), np.asarray(resized))
    tall = Image.fromarray(smooth_rgb(rng, 10, 23))
    tall.save(os.path.join(PREPROCESS, "rgb_10x23.png"))
    np.save(os.path.join(PREPROCESS, "tall_resize_7.npy"), np.asarray(transforms.Resize(7)(tall)))
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    pipeline = transforms.Compose([transforms.Resize(16), transforms.CenterCrop(13),
                                   transforms.ToTensor(), transforms.Normalize(mean, std)])
    np.save(os.path.join(PREPROCESS, "resize_16_crop_13.npy"), pipeline(img).numpy())
    pipeline = transforms.Compose([transforms.Resize(16), transforms.CenterCrop(14),
                                   transforms.ToTensor(), transforms.Normalize(mean, std)])
    np.save(os.path.join(PREPROCESS, "resize_16_crop_14.npy"), pipeline(img).numpy())


def make_folder_fixture(rng):
    """DIR/<class>/<files>: two classes, three images; one PNG carries a .JPEG name."""
    for cls in ["cat", "dog"]:
        os.makedirs(os.path.join(FOLDER, cls), exist_ok=True)
    Image.fromarray(smooth_rgb(rng, 20, 15)).save(os.path.join(FOLDER, "dog", "b.jpg"), quality=90)
    Image.fromarray(smooth_rgb(rng, 15, 18)).save(os.path.join(FOLDER, "dog", "a.JPEG"), format="PNG")
    Image.fromarray(smooth_rgb(rng, 16, 16)[:, :, 0]).save(os.path.join(FOLDER, "cat", "c.png"))
    with open(os.path.join(FOLDER, "cat", "notes.txt"), "w") as f:
        f.write("not an image: ignored by extension\n")
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    pipeline = transforms.Compose([transforms.Resize(12), transforms.CenterCrop(10),
                                   transforms.ToTensor(), transforms.Normalize(mean, std)])
    # torchvision's ImageFolder with its default loader (PIL, convert("RGB")).
    from torchvision.datasets import ImageFolder
    dataset = ImageFolder(FOLDER, transform=pipeline)
    tensors = [dataset[i][0] for i in range(len(dataset))]
    labels = [dataset[i][1] for i in range(len(dataset))]
    np.save(os.path.join(ROOT, "folder_expected.npy"), torch.stack(tensors).numpy())
    np.save(os.path.join(ROOT, "folder_labels.npy"), np.array(labels, dtype=np.int64))
    print("folder order:", [os.path.relpath(p, FOLDER) for p, _ in dataset.samples], labels)


def main():
    rng = np.random.default_rng(20240604)
    make_decode_fixtures(rng)
    make_preprocess_fixtures(rng)
    make_folder_fixture(rng)


if __name__ == "__main__":
    main()
