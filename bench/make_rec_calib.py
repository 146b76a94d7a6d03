#!/usr/bin/python3
"""Calibration data for PP-OCRv4 rec: N text lines of real English prose (the GPL-3 text that
every Debian system ships in /usr/share/common-licenses), rendered in DejaVu Sans at the
recognizer's input size 48x320, normalised (x/255 - 0.5) / 0.5, saved as an .npz keyed 'x'.

usage: /usr/bin/python3 bench/make_rec_calib.py OUT.npz [N]   (default 512, as in the paper)
"""
import sys
import numpy as np
from PIL import Image, ImageDraw, ImageFont

out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 512
words = open("/usr/share/common-licenses/GPL-3", encoding="utf-8").read().split()
font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 26)
rng = np.random.default_rng(0)
x = np.empty((n, 3, 48, 320), np.float32)
start = 0
for i in range(n):
    line, k = "", start
    while k < len(words) and font.getlength(line + " " + words[k]) < 300:
        line = (line + " " + words[k]).strip()
        k += 1
    start = k if k < len(words) - 20 else 0
    image = Image.new("RGB", (320, 48), (255, 255, 255))
    ImageDraw.Draw(image).text((6, 8), line, fill=(0, 0, 0), font=font)
    pixels = np.asarray(image, np.float32) + rng.normal(0, 4, (48, 320, 3))
    x[i] = ((np.clip(pixels, 0, 255) / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)
np.savez(out, x=x)
print(f"wrote {out}: {n} lines, e.g. '{line}'")
