#!/usr/bin/python3
"""Calibration and evaluation inputs for PP-OCRv4 det and the PP-OCR mobile direction classifier
(cls), for measuring a quantized model against the float one (`ocs eval --reference`), where we
have no labels: text rendered in DejaVu Sans, normalised (x/255 - 0.5) / 0.5 as PaddleOCR does.

Calibration text is the GPL-3 that Debian ships (/usr/share/common-licenses), evaluation text the
KJV lines of tests/data/text_lines/labels.tsv, so the two sets share no line.
  det_calib.npz / det_eval.npz: 8 / 16 pages of 320x320, 5-8 lines each, 16-30 px, light noise.
  cls_calib.npz / cls_eval.npz: 128 / 300 lines of 48x192, every other one rotated by 180 degrees
  (the two classes the classifier tells apart).

usage: /usr/bin/python3 bench/make_ocr_fidelity_data.py OUT_DIR
"""
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def normalise(image, rng):
    pixels = np.asarray(image, np.float32) + rng.normal(0, 4, (image.height, image.width, 3))
    return ((np.clip(pixels, 0, 255) / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)


def words_stream(words, rng):
    """Endless lines of 3 to 7 consecutive words from a random start."""
    while True:
        start = int(rng.integers(0, len(words) - 8))
        yield " ".join(words[start:start + int(rng.integers(3, 8))])


def pages(texts, count, rng):
    out = np.empty((count, 3, 320, 320), np.float32)
    for i in range(count):
        page = Image.new("RGB", (320, 320), (235, 232, 225))
        draw, y = ImageDraw.Draw(page), int(rng.integers(8, 30))
        while y < 290:
            size = int(rng.integers(16, 31))
            draw.text((int(rng.integers(4, 40)), y), next(texts), fill=(20, 20, 30),
                      font=ImageFont.truetype(FONT, size))
            y += size + int(rng.integers(8, 30))
        out[i] = normalise(page, rng)
    return out


def lines(texts, count, rng):
    out = np.empty((count, 3, 48, 192), np.float32)
    font = ImageFont.truetype(FONT, 24)
    for i in range(count):
        image = Image.new("RGB", (192, 48), (255, 255, 255))
        ImageDraw.Draw(image).text((4, 10), next(texts), fill=(0, 0, 0), font=font)
        if i % 2:
            image = image.rotate(180)
        out[i] = normalise(image, rng)
    return out


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(13)
    gpl = open("/usr/share/common-licenses/GPL-3", encoding="utf-8").read().split()
    with open(os.path.join(REPO, "tests", "data", "text_lines", "labels.tsv"), encoding="utf-8") as f:
        kjv = " ".join(line.split("\t", 1)[1].strip() for line in f if "\t" in line).split()
    np.savez(os.path.join(out_dir, "det_calib.npz"), x=pages(words_stream(gpl, rng), 8, rng))
    np.savez(os.path.join(out_dir, "det_eval.npz"), x=pages(words_stream(kjv, rng), 16, rng))
    np.savez(os.path.join(out_dir, "cls_calib.npz"), x=lines(words_stream(gpl, rng), 128, rng))
    np.savez(os.path.join(out_dir, "cls_eval.npz"), x=lines(words_stream(kjv, rng), 300, rng))
    print(f"wrote det_calib/det_eval/cls_calib/cls_eval.npz in {out_dir}")


if __name__ == "__main__":
    main()
