#!/usr/bin/env python3
"""Builds the 16 kHz mono test audio for the Silero VAD fidelity experiment (docs/results/silero_vad).

    python3 scripts/make_vad_audio.py OUT_DIR [--test-seconds 90] [--calib-seconds 30]

Writes OUT_DIR/test.wav and OUT_DIR/calib.wav (16-bit PCM, 16 kHz, mono) and OUT_DIR/segments.json
(what each stretch of each file holds). Both streams alternate, in a seeded random order:
  - speech: English sentences synthesized by espeak-ng (varied voice, speed and pitch) and the
    human voice of alsa-utils' /usr/share/sounds/alsa/{Front,Rear,Side}_*.wav; some stretches get
    background noise at 5-20 dB SNR;
  - silence: near-silent room tone (white noise at about -60 dBFS);
  - noise: white or brown noise, and alsa's Noise.wav, at various levels.
The test stream and the calibration stream use different sentences and a different seed, so the
quantizer is never calibrated on the audio it is measured on. Deterministic: same inputs (the
Debian packages espeak-ng and alsa-utils), same files. Needs python3 with numpy, espeak-ng and
alsa-utils (`sudo apt-get install -y espeak-ng alsa-utils`).
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np

RATE = 16000

# Public-domain text (King James Version, Genesis 1 and Psalm 23), one sentence per item.
TEST_SENTENCES = [
    "In the beginning God created the heaven and the earth.",
    "And the earth was without form, and void; and darkness was upon the face of the deep.",
    "And the Spirit of God moved upon the face of the waters.",
    "And God said, Let there be light: and there was light.",
    "And God saw the light, that it was good: and God divided the light from the darkness.",
    "And God called the light Day, and the darkness he called Night.",
    "And the evening and the morning were the first day.",
    "And God said, Let there be a firmament in the midst of the waters.",
    "And God called the firmament Heaven. And the evening and the morning were the second day.",
    "And God said, Let the waters under the heaven be gathered together unto one place.",
    "And God called the dry land Earth; and the gathering together of the waters called he Seas.",
    "And God said, Let the earth bring forth grass, the herb yielding seed.",
]
CALIB_SENTENCES = [
    "The Lord is my shepherd; I shall not want.",
    "He maketh me to lie down in green pastures: he leadeth me beside the still waters.",
    "He restoreth my soul: he leadeth me in the paths of righteousness for his name's sake.",
    "Yea, though I walk through the valley of the shadow of death, I will fear no evil.",
    "Thou preparest a table before me in the presence of mine enemies.",
    "Surely goodness and mercy shall follow me all the days of my life.",
]
VOICES = ["en", "en-us", "en+f3", "en+m3", "en-us+f2"]


def read_wav(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            sys.exit(f"make_vad_audio: {path}: only 16-bit PCM is read")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
        channels, rate = w.getnchannels(), w.getframerate()
    return data.reshape(-1, channels).mean(axis=1), rate


def resample(x, rate):
    """FFT resampling to RATE (band-limited: no aliasing from the 48 kHz and 22.05 kHz sources)."""
    if rate == RATE:
        return x
    n_out = int(round(len(x) * RATE / rate))
    spectrum = np.fft.rfft(x)
    keep = n_out // 2 + 1
    out = np.zeros(keep, dtype=complex)
    out[: min(keep, len(spectrum))] = spectrum[: min(keep, len(spectrum))]
    return np.fft.irfft(out, n_out) * (n_out / len(x))


def espeak(text, voice, speed, pitch):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "s.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", path, text], check=True)
        x, rate = read_wav(path)
    return resample(x, rate)


def level(x, dbfs):
    """Scales x to an RMS of `dbfs` dB relative to full scale."""
    rms = np.sqrt(np.mean(x ** 2)) + 1e-12
    return x * (10 ** (dbfs / 20) / rms)


def brown(rng, n):
    x = np.cumsum(rng.standard_normal(n))
    x -= np.linspace(x[0], x[-1], n)  # no drift
    return x


def build(sentences, alsa_voices, alsa_noise, seconds, rng):
    pieces, segments, total = [], [], 0
    speech = [("espeak", s) for s in sentences] + [("alsa", p) for p in alsa_voices]
    order = list(rng.permutation(len(speech)))
    while total < seconds * RATE:
        kind = ["speech", "silence", "noise"][rng.choice(3, p=[0.4, 0.3, 0.3])]
        if kind == "speech":
            if not order:
                order = list(rng.permutation(len(speech)))
            source, item = speech[order.pop()]
            if source == "espeak":
                x = espeak(item, VOICES[rng.integers(len(VOICES))], int(rng.integers(130, 190)), int(rng.integers(30, 70)))
                what = f"espeak: {item}"
            else:
                x = resample(*read_wav(item))
                what = f"alsa: {os.path.basename(item)}"
            x = level(x, rng.uniform(-26, -16))
            if rng.random() < 0.4:  # speech over background noise
                snr = rng.uniform(5, 20)
                x = x + level(rng.standard_normal(len(x)), 20 * np.log10(np.sqrt(np.mean(x ** 2))) - snr)
                what += f" (+ white noise, SNR {snr:.0f} dB)"
        elif kind == "silence":
            x = level(rng.standard_normal(int(rng.uniform(0.5, 2.5) * RATE)), -60)
            what = "room tone -60 dBFS"
        else:
            choice = rng.integers(3)
            n = int(rng.uniform(0.8, 2.5) * RATE)
            db = rng.uniform(-40, -20)
            if choice == 0:
                x, what = level(rng.standard_normal(n), db), f"white noise {db:.0f} dBFS"
            elif choice == 1:
                x, what = level(brown(rng, n), db), f"brown noise {db:.0f} dBFS"
            else:
                x, what = level(resample(*read_wav(alsa_noise)), db), f"alsa: Noise.wav {db:.0f} dBFS"
        segments.append({"start_s": round(total / RATE, 3), "seconds": round(len(x) / RATE, 3), "kind": kind, "what": what})
        pieces.append(x)
        total += len(x)
    return np.clip(np.concatenate(pieces), -1, 1), segments


def write_wav(path, x):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.round(x * 32767).astype("<i2").tobytes())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--test-seconds", type=float, default=90)
    parser.add_argument("--calib-seconds", type=float, default=30)
    args = parser.parse_args()
    alsa = sorted(glob.glob("/usr/share/sounds/alsa/*.wav"))
    alsa_voices = [p for p in alsa if not p.endswith("Noise.wav")]
    alsa_noise = "/usr/share/sounds/alsa/Noise.wav"
    if not alsa_voices or not os.path.exists(alsa_noise):
        sys.exit("make_vad_audio: /usr/share/sounds/alsa/*.wav are missing: sudo apt-get install -y alsa-utils")
    if subprocess.run(["sh", "-c", "command -v espeak-ng"], capture_output=True).returncode != 0:
        sys.exit("make_vad_audio: espeak-ng is missing: sudo apt-get install -y espeak-ng")
    os.makedirs(args.out_dir, exist_ok=True)
    report = {}
    # The test stream uses the Front_* and Rear_* clips, calibration the Side_* ones.
    test_voices = [p for p in alsa_voices if "Side_" not in os.path.basename(p)]
    calib_voices = [p for p in alsa_voices if "Side_" in os.path.basename(p)]
    for name, sentences, voices, seconds, seed in [("test", TEST_SENTENCES, test_voices, args.test_seconds, 2026),
                                                   ("calib", CALIB_SENTENCES, calib_voices, args.calib_seconds, 7)]:
        x, segments = build(sentences, voices, alsa_noise, seconds, np.random.default_rng(seed))
        path = os.path.join(args.out_dir, f"{name}.wav")
        write_wav(path, x)
        share = {k: round(sum(s["seconds"] for s in segments if s["kind"] == k), 1) for k in ("speech", "silence", "noise")}
        report[name] = {"file": path, "seconds": round(len(x) / RATE, 2), "seconds_by_kind": share, "segments": segments}
        print(f"make_vad_audio: {path}: {len(x) / RATE:.1f} s, {share}")
    with open(os.path.join(args.out_dir, "segments.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
