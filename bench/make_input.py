#!/usr/bin/python3
"""Writes a float32 .npy of the given shape: a smooth image-like pattern plus noise in [-1, 1],
fixed seed (the benchmark's input for models without a golden input).

  /usr/bin/python3 bench/make_input.py OUT.npy N C H W
"""
import sys

import numpy as np


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    out = sys.argv[1]
    n, c, h, w = (int(s) for s in sys.argv[2:])
    rng = np.random.default_rng(2024)
    y, x = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    base = np.stack([np.sin(6.0 * x + 2.0 * k) * np.cos(4.0 * y - k) for k in range(c)])
    image = 0.8 * base[None] + 0.2 * rng.uniform(-1, 1, size=(n, c, h, w))
    np.save(out, image.astype(np.float32))


if __name__ == "__main__":
    main()
