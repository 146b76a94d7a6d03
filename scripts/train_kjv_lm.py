#!/usr/bin/python3
"""Trains a small word-level LSTM language model on the King James Bible and exports it to ONNX.

usage: /usr/bin/python3 scripts/train_kjv_lm.py [--steps N] [--out models/kjv_lstm.onnx]
                                                 [--vocab models/kjv_vocab.txt] [--tests tests/data]

Debian's python3-torch on the CPU (2 threads), fixed seeds. The C++ reader src/eval/kjv_text.cpp
(`ocs eval ... --data kjv:test`) reproduces the text, split and tokenization below exactly;
keep the two in step.

Text: Debian's bible-kjv (`bible` program, data in bible-kjv-text). `bible -f Gen1:1-Rev22:21`
prints all 31102 verses, one per line, as "<Book><chapter>:<verse> <text>" (e.g.
"1Sm1:1 Now there was ..."); with -f the lines are not wrapped, whatever COLUMNS says. The book
is the reference up to the chapter number; books are numbered 0..65 in the order they appear.

Split by books: book b is in the test split when b % 10 == 9 (2 Samuel, Proverbs, Amos,
Matthew, Ephesians, 1 Peter), in the valid split when b % 10 == 4 (Deuteronomy, 2 Chronicles,
Jeremiah, Habakkuk, Acts, 1 Timothy, 3 John), in train otherwise.

Tokenization of a verse's text (after the reference and one space): lowercase ASCII; a word is
a maximal run [a-z]+('[a-z]+)* (letters, with apostrophes inside words: "king's"); each of
. , ; : ? ! is a token of its own; every other byte (space, digits, ( ) - and apostrophes not
between letters) separates. Each verse ends with the token "<eos>". A split's token stream is
its verses in book order.

Vocabulary: "<unk>", "<eos>", then the V - 2 most frequent other tokens of the train split
(count descending, ties by byte order of the token). Line i of the vocab file is token id i;
tokens outside the vocabulary map to <unk> (id 0).

Samples: windows of T = 35 tokens with stride T over a split's stream: input
ids[i .. i+T), target ids[i+1 .. i+T+1), for i = 0, T, 2T, ... while i + T + 1 <= len(ids).
Every window starts from a zero LSTM state (in training and evaluation alike); perplexity is
exp(mean cross-entropy over all target tokens of all windows).

Model: Embedding(V, 128) -> dropout -> LSTM(128, 256, 1 layer, batch_first) -> dropout ->
Linear(256, V). Input "tokens" int64 [N, 35], output "logits" float32 [N, 35, V] (N dynamic).

Besides the model and vocabulary it writes, into --tests: kjv_test_ids.npy (the first 2000
token ids of the test split, int64) and kjv_reference.json (test/valid perplexity, and the
perplexity of the exported model over the windows of those 2000 ids, for tests/kjv_lm_test.cpp).
"""
import argparse, json, math, os, re, subprocess, sys, time
from collections import Counter

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SEQ = 35
VOCAB_SIZE = 5000
REFERENCE_IDS = 2000
REF_LINE = re.compile(r"^([0-9]?[A-Za-z]+)([0-9]+):([0-9]+) (.*)$")
TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)*|[.,;:?!]")


def read_verses():
    """[(book index, verse text)] for the whole Bible, from Debian's `bible` program."""
    text = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, stdout=subprocess.PIPE).stdout
    verses, books = [], []
    for line in text.decode("ascii").split("\n"):
        if not line:
            continue
        m = REF_LINE.match(line)
        if not m:
            sys.exit(f"unexpected line from bible: {line!r}")
        if not books or books[-1] != m.group(1):
            books.append(m.group(1))
        verses.append((len(books) - 1, m.group(4)))
    if len(books) != 66 or len(verses) != 31102:
        sys.exit(f"expected 66 books and 31102 verses, got {len(books)} and {len(verses)}")
    return verses


def split_of(book):
    return "test" if book % 10 == 9 else "valid" if book % 10 == 4 else "train"


def tokenize(verse):
    return TOKEN.findall(verse.lower()) + ["<eos>"]


def split_tokens(verses):
    tokens = {"train": [], "valid": [], "test": []}
    for book, verse in verses:
        tokens[split_of(book)].extend(tokenize(verse))
    return tokens


def build_vocab(train_tokens, size):
    counts = Counter(t for t in train_tokens if t != "<eos>")
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].encode()))
    return ["<unk>", "<eos>"] + [t for t, _ in ranked[: size - 2]]


def windows(ids):
    """inputs, targets [W, SEQ] int64 from a 1-d id array."""
    count = (len(ids) - 1) // SEQ
    x = np.stack([ids[i * SEQ: i * SEQ + SEQ] for i in range(count)])
    y = np.stack([ids[i * SEQ + 1: i * SEQ + SEQ + 1] for i in range(count)])
    return torch.from_numpy(x), torch.from_numpy(y)


class LSTMLanguageModel(nn.Module):
    def __init__(self, vocab, embed=128, hidden=256, dropout=0.25):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=1, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        h, _ = self.lstm(self.drop(self.embed(tokens)))
        return self.out(self.drop(h))


def evaluate(model, x, y, batch=256):
    """(perplexity, mean nll, tokens) over all windows, zero initial state each."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = model(x[i:i + batch])
            nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).double(), y[i:i + batch].reshape(-1),
                                  reduction="sum")
            total += nll.item()
            count += y[i:i + batch].numel()
    return math.exp(total / count), total / count, count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300, help="training batches (300 x 64 windows = 0.84 epochs)")
    ap.add_argument("--out", default="models/kjv_lstm.onnx")
    ap.add_argument("--vocab", default="models/kjv_vocab.txt")
    ap.add_argument("--tests", default="tests/data")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    args = ap.parse_args()
    torch.manual_seed(0)
    np.random.seed(0)
    torch.set_num_threads(2)

    tokens = split_tokens(read_verses())
    vocab = build_vocab(tokens["train"], VOCAB_SIZE)
    index = {t: i for i, t in enumerate(vocab)}
    ids = {s: np.array([index.get(t, 0) for t in toks], np.int64) for s, toks in tokens.items()}
    for s in ids:
        print(f"{s}: {len(ids[s])} tokens, {100 * np.mean(ids[s] == 0):.2f}% <unk>", flush=True)
    data = {s: windows(ids[s]) for s in ids}

    model = LSTMLanguageModel(len(vocab))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    # Cosine decay to zero over the run, one scheduler step per batch.
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.5 * (1 + math.cos(math.pi * step / args.steps)))
    x_train, y_train = data["train"]
    start = time.time()
    step, total, count = 0, 0.0, 0
    while step < args.steps:
        order = torch.randperm(len(x_train))  # a new shuffle of the windows every epoch
        for b in range(0, len(order) - args.batch + 1, args.batch):
            if step == args.steps:
                break
            model.train()
            idx = order[b:b + args.batch]
            logits = model(x_train[idx])
            loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y_train[idx].reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            total += loss.item()
            count += 1
            if step % 100 == 0 or step == args.steps:
                valid_ppl = evaluate(model, *data["valid"])[0] if step % 200 == 0 else float("nan")
                print(f"step {step}/{args.steps} (epoch {step * args.batch / len(x_train):.2f}): train ppl "
                      f"{math.exp(total / count):.2f}  valid ppl {valid_ppl:.2f}  {time.time() - start:.0f}s",
                      flush=True)
                total, count = 0.0, 0

    model.eval()
    valid = evaluate(model, *data["valid"])
    test = evaluate(model, *data["test"])
    reference_ids = ids["test"][:REFERENCE_IDS]
    reference = evaluate(model, *windows(reference_ids))
    print(f"valid perplexity {valid[0]:.4f}  test perplexity {test[0]:.4f} ({test[2]} target tokens)")

    for path in (args.out, args.vocab):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(args.vocab, "w") as f:
        f.write("".join(t + "\n" for t in vocab))
    torch.onnx.export(model, (data["test"][0][:2],), args.out, opset_version=13,
                      input_names=["tokens"], output_names=["logits"],
                      dynamic_axes={"tokens": {0: "N"}, "logits": {0: "N"}})
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB) and {args.vocab}")

    os.makedirs(args.tests, exist_ok=True)
    np.save(os.path.join(args.tests, "kjv_test_ids.npy"), reference_ids)
    result = {
        "seq": SEQ, "vocab": len(vocab), "steps": args.steps, "batch": args.batch,
        "valid": {"perplexity": valid[0], "nll": valid[1], "tokens": valid[2]},
        "test": {"perplexity": test[0], "nll": test[1], "tokens": test[2]},
        "test_first_ids": {"ids": REFERENCE_IDS, "perplexity": reference[0], "nll": reference[1],
                           "tokens": reference[2]},
    }
    with open(os.path.join(args.tests, "kjv_reference.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
