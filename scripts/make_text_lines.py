#!/usr/bin/python3
"""Makes a labelled set of text-line images for the OCR recognizer's CER evaluation
(`ocs eval REC.onnx --data text-lines:DIR --metric cer --keys KEYS`).

Text: verses of the King James Bible from Debian's bible-kjv-text (the `bible` command, one
verse per line with `bible -f BookC:V-V`), a fixed list of chapters, cut at word boundaries into
chunks of 20 to 32 characters (the target length of each chunk drawn from a seeded generator).
Only printable ASCII (letters, digits, punctuation, space) is kept: PP-OCR's key file
ppocr_keys_v1.txt covers all of it, the space being the class PaddleOCR appends last.

Images: black text on white in DejaVu Sans (fonts-dejavu-core), rendered directly at height 48,
the recognizer's input height, so the reader never resizes them. The font size of a line is the
largest in 16..28 px whose rendering fits 320 px wide with the margins (320 is PP-OCRv4 rec's
default input width); the image is as wide as the text plus small seeded margins. Grayscale PNG.

Measured (PP-OCRv4 rec, float, ocs = ONNX Runtime on every line): CER 1.02%, 84.5% of lines
exact. The errors are nearly all on the longest lines, whose font must shrink to ~16 px to fit
320 px: about 8 px per character, the model's CTC stride, leaves too few steps for a doubled
letter or a space (lines of 20-23 characters: 3% wrong; 28-31: 44% wrong). MAX_CHARS is the knob.

Output: DIR/NNNN.png (0000.png ...) and DIR/labels.tsv ("NNNN.png<TAB>text" per line).

Decision: the set is COMMITTED under tests/data/text_lines (about 1 MB for 600 lines, below the
~3 MB budget) instead of being generated in CI. Reasons: the evaluation numbers and the test
inputs then do not depend on the PIL/FreeType version that rasterises the glyphs (anti-aliasing
changes between releases would move the CER), CI needs neither bible-kjv-text nor the font, and
anyone can reproduce a reported CER from the repository alone. This script documents and
reproduces the set; rerun it after changing anything here and commit the result.

Calibration lines for quantizing the recognizer come from other chapters, so that they never
overlap the evaluation set: scripts/make_text_lines.py /tmp/calib_lines --count 128 \
  --chapters Exod20,Isa40,Luke2,Acts2,Rom8 (generated, not committed).

Usage: /usr/bin/python3 scripts/make_text_lines.py [DIR] [--count N] [--chapters A,B,...]
       (default DIR tests/data/text_lines, N 600)
"""
import argparse
import os
import random
import subprocess
import string
import sys

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
HEIGHT = 48
MAX_WIDTH = 320
FONT_SIZES = range(28, 15, -1)  # largest first
MIN_CHARS, MAX_CHARS = 20, 32
SEED = 20240604
# Fixed selection, in this order: narrative, poetry, gospel, letters.
CHAPTERS = ["Gen1", "Gen2", "Gen3", "Ps1", "Ps23", "Ps100", "Eccl3", "Ruth1", "Prov3",
            "Matt5", "Matt6", "John1", "1Cor13", "Rev21"]
ALLOWED = set(string.ascii_letters + string.digits + string.punctuation + " ")


def verses(chapter):
    """The verse texts of one chapter, without their references."""
    out = subprocess.run(["bible", "-f", f"{chapter}:1-999"], check=True, capture_output=True,
                         text=True).stdout
    texts = []
    for line in out.splitlines():
        reference, _, text = line.partition(" ")
        if not text:
            continue
        text = "".join(c for c in text if c in ALLOWED)
        texts.append(" ".join(text.split()))
    if not texts:
        sys.exit(f"make_text_lines: `bible -f {chapter}:1-999` printed no verses "
                 "(is bible-kjv-text installed?)")
    return texts


def chunks(text, rng):
    """Cuts a verse at spaces into pieces of MIN_CHARS..MAX_CHARS characters; a short tail joins
    the previous piece when that stays within MAX_CHARS, and is dropped otherwise."""
    pieces, words, current = [], text.split(" "), ""
    target = rng.randint(MIN_CHARS, MAX_CHARS)
    for word in words:
        candidate = word if not current else current + " " + word
        if len(candidate) > target and len(current) >= MIN_CHARS:
            pieces.append(current)
            current, target = word, rng.randint(MIN_CHARS, MAX_CHARS)
        elif len(candidate) > MAX_CHARS:  # a long word after a short start: cut before it
            if current:
                pieces.append(current)
            current, target = word, rng.randint(MIN_CHARS, MAX_CHARS)
        else:
            current = candidate
    if current:
        if len(current) >= MIN_CHARS:
            pieces.append(current)
        elif pieces and len(pieces[-1]) + 1 + len(current) <= MAX_CHARS:
            pieces[-1] += " " + current
    return [p for p in pieces if MIN_CHARS <= len(p) <= MAX_CHARS]


def render(text, rng):
    margin_left, margin_right = rng.randint(2, 8), rng.randint(2, 8)
    for size in FONT_SIZES:
        font = ImageFont.truetype(FONT, size)
        left, top, right, bottom = font.getbbox(text)
        if right - left + margin_left + margin_right <= MAX_WIDTH:
            break
    else:
        return None
    width = right - left + margin_left + margin_right
    ascent, descent = font.getmetrics()
    # Centre the line box (ascent + descent) vertically, with a little seeded jitter.
    y = (HEIGHT - (ascent + descent)) // 2 + rng.randint(-2, 2)
    image = Image.new("L", (width, HEIGHT), 255)
    ImageDraw.Draw(image).text((margin_left - left, y), text, fill=0, font=font)
    return image


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir", nargs="?", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "text_lines"))
    parser.add_argument("--count", type=int, default=600)
    parser.add_argument("--chapters", default=",".join(CHAPTERS),
                        help="comma-separated chapters (default: the evaluation set's); other chapters "
                             "give a disjoint calibration set, e.g. Exod20,Isa40,Luke2,Acts2,Rom8")
    args = parser.parse_args()
    rng = random.Random(SEED)
    lines = []
    for chapter in args.chapters.split(","):
        for verse in verses(chapter):
            lines.extend(chunks(verse, rng))
        if len(lines) >= args.count:
            break
    if len(lines) < args.count:
        sys.exit(f"make_text_lines: only {len(lines)} lines from the chosen chapters")
    os.makedirs(args.dir, exist_ok=True)
    for old in os.listdir(args.dir):
        if old.endswith(".png"):
            os.remove(os.path.join(args.dir, old))
    with open(os.path.join(args.dir, "labels.tsv"), "w", encoding="utf-8") as labels:
        for i, text in enumerate(lines[:args.count]):
            image = render(text, rng)
            if image is None:
                sys.exit(f"make_text_lines: '{text}' does not fit {MAX_WIDTH} px")
            name = f"{i:04d}.png"
            image.save(os.path.join(args.dir, name), optimize=True)
            labels.write(f"{name}\t{text}\n")
    print(f"make_text_lines: {args.count} lines in {args.dir}")


if __name__ == "__main__":
    main()
