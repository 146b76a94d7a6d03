#!/usr/bin/python3
"""The summary table of bench/aclip_survey.sh: one row per model and activation width, one column
per activation clip method, the best value of each row in bold and every value's distance to it.

usage: /usr/bin/python3 bench/aclip_survey_table.py [OUT_DIR]   (default docs/results/activation_clip_survey)
"""
import csv
import os
import sys

CLIPS = ["max", "mse", "aciq", "kl", "percentile", "mse-fine", "aciq-std", "kl-nonzero"]
# directory -> (label, metric column, scale, higher is better, unit)
MODELS = [
    ("fashion_resnet", "Fashion ResNet, top-1", "top1", 100, True, "%"),
    ("fashion_vgg", "Fashion VGG, top-1", "top1", 100, True, "%"),
    ("fashion_densenet", "Fashion DenseNet (2,000 images), top-1", "top1", 100, True, "%"),
    ("ppocr_rec", "PP-OCRv4 rec, CER", "cer", 100, False, "%"),
    ("ppocr_det", "PP-OCRv4 det, output SQNR", "sqnr_db", 1, True, " dB"),
    ("ppocr_cls", "PP-OCR cls, output SQNR", "sqnr_db", 1, True, " dB"),
    ("ppocr_cls", "PP-OCR cls, top-1 agreement", "top1_agreement", 100, True, "%"),
    ("kjv_lstm", "KJV LSTM, perplexity", "perplexity", 1, False, ""),
    ("wide_activation", "wide-activation model, output SQNR", "sqnr_db", 1, True, " dB"),
]


def sweep_rows(path, column, scale):
    """{abits: {aclip: value}} and the float value, from one sweep's results.csv."""
    table, float_value = {}, None
    with open(path) as f:
        for row in csv.DictReader(f):
            value = float(row[column]) * scale
            if row["index"] == "-1":
                float_value = value
            else:
                table.setdefault(int(row["abits"]), {})[row["aclip"]] = value
    return table, float_value


def silero_rows(path):
    table = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            table.setdefault(int(row["abits"]), {})[row["aclip"]] = 100 * float(row["decision_agreement"])
    return table


def format_row(label, abits, values, higher):
    best = max(values.values()) if higher else min(values.values())
    cells = []
    for clip in CLIPS:
        if clip not in values:
            cells.append("-")
            continue
        text = f"{values[clip]:.2f}"
        cells.append(f"**{text}**" if values[clip] == best else text)
    return f"| {label} | A{abits} | " + " | ".join(cells) + " |"


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "docs/results/activation_clip_survey"
    print("| model, metric (float) | acts | " + " | ".join(CLIPS) + " |")
    print("|---|---|" + "---|" * len(CLIPS))
    for directory, label, column, scale, higher, unit in MODELS:
        path = os.path.join(out, directory, "results.csv")
        if not os.path.exists(path):
            continue
        table, float_value = sweep_rows(path, column, scale)
        name = f"{label} ({float_value:.2f}{unit})" if float_value not in (None, float("inf")) else label
        for abits in sorted(table, reverse=True):
            print(format_row(name, abits, table[abits], higher))
    silero = os.path.join(out, "silero_vad.csv")
    if os.path.exists(silero):
        table = silero_rows(silero)
        for abits in sorted(table, reverse=True):
            print(format_row("Silero VAD, decision agreement (%)", abits, table[abits], True))


if __name__ == "__main__":
    main()
