#!/usr/bin/env python3
"""loghub.py — builds a large log file for the store benchmarks by repeating the Loghub
samples (DIR/*/*.log), each repetition in a freshly shuffled order of files. Lines end in LF
(a CR before it is dropped); their text is otherwise kept, or with --vary rewritten in place so
that repetitions differ while every line keeps its length and its timestamp stays parseable.

--vary, for repetition r (r = 0 is the original text):
  * the leading timestamp: the seconds of the first HH:MM:SS near the line start become
    (SS + r) mod 60 (so date and minute stay put); HDFS's "yymmdd HHMMSS" likewise; a
    leading epoch ("- 1117838570 ...", BGL and Thunderbird) gets + r seconds;
  * ids: every run of 5 or more digits after the timestamp becomes (n + 7919 r) mod 10^len,
    zero-padded to its length (block ids, pids, request numbers, microseconds...), so an id
    seen in one repetition is rare in the whole file;
  * --needle TOKEN puts " TOKEN" once, at a word boundary of one line chosen at random,
    so TOKEN occurs exactly once (the script checks the samples do not already hold it).
The summary goes to stdout as key=value lines: lines, bytes, repetitions, needle,
needle_line (1-based). Loghub's samples are for research use: the output is a temp file, never
something to commit.

Usage: loghub.py --data DIR --out FILE (--bytes N | --lines N) [--vary]
                       [--needle TOKEN] [--seed S]
"""
import argparse
import glob
import os
import random
import re
import sys

STEP_ID = 7919
ID_RE = re.compile(rb"\d{5,}")
# the first field that looks like a timestamp's seconds, tried in this order
EPOCH_RE = re.compile(rb"^(- )(\d{10})(?!\d)")
HDFS_RE = re.compile(rb"^\d{6} \d{4}(\d{2})(?!\d)")
HMS_RE = re.compile(rb"(?<!\d)\d{1,2}[:.]\d{2}[:.](\d{2})(?!\d)")
HMS_WINDOW = 48  # only a time near the line start is the line's timestamp


def template(line):
    """Returns (fmt, fields): fmt is a bytes %-format of the line and fields a list of
    (base, step, modulus) such that fmt % ((base + r*step) % modulus, ...) is repetition r."""
    fields = []   # (start, end, base, step, modulus)
    ts_end = 0
    m = EPOCH_RE.match(line)
    if m:
        fields.append((m.start(2), m.end(2), int(m.group(2)), 1, 10 ** 10))
        ts_end = m.end(2)
    else:
        m = HDFS_RE.match(line)
        if not m:
            m = HMS_RE.search(line, 0, HMS_WINDOW)
        if m:
            fields.append((m.start(1), m.end(1), int(m.group(1)), 1, 60))
            ts_end = m.end(1)
    for m in ID_RE.finditer(line, ts_end):
        n = m.end() - m.start()
        fields.append((m.start(), m.end(), int(m.group()), STEP_ID, 10 ** n))
    out, pos = [], 0
    for start, end, _, _, _ in fields:
        out.append(line[pos:start].replace(b"%", b"%%"))
        out.append(b"%%0%dd" % (end - start))
        pos = end
    out.append(line[pos:].replace(b"%", b"%%"))
    return b"".join(out), [(b, s, mod) for _, _, b, s, mod in fields]


def load(data_dir):
    files = sorted(glob.glob(os.path.join(data_dir, "*", "*.log")))
    if not files:
        sys.exit("loghub.py: no %s/*/*.log files" % data_dir)
    out = []
    for path in files:
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        out.append([ln[:-1] if ln.endswith(b"\r") else ln for ln in lines])
    return files, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    size = ap.add_mutually_exclusive_group(required=True)
    size.add_argument("--bytes", type=int)
    size.add_argument("--lines", type=int)
    ap.add_argument("--vary", action="store_true")
    ap.add_argument("--needle")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    files, texts = load(a.data)
    if a.needle:
        if not re.fullmatch(rb"[A-Za-z0-9_]+", a.needle.encode()):
            sys.exit("loghub.py: --needle must be one token ([A-Za-z0-9_]+)")
        for path, lines in zip(files, texts):
            if any(a.needle.encode() in ln for ln in lines):
                sys.exit("loghub.py: %s already holds %s" % (path, a.needle))
    if a.vary:
        tmpl = [[template(ln) for ln in lines] for lines in texts]
    rep_lines = sum(len(t) for t in texts)
    rep_bytes = sum(len(ln) + 1 for t in texts for ln in t)
    if a.lines is not None:
        total_lines = a.lines
    else:
        total_lines = -(-a.bytes * rep_lines // rep_bytes)  # estimate, for the needle only
    needle_at = rng.randrange(max(1, total_lines * 9 // 10)) if a.needle else -1

    nlines = nbytes = 0
    rep = 0
    order = list(range(len(texts)))
    done = False
    with open(a.out, "wb") as out:
        while not done:
            rng.shuffle(order)
            for fi in order:
                if a.vary:
                    lines = [fmt % tuple((b + rep * s) % mod for b, s, mod in flds)
                             for fmt, flds in tmpl[fi]]
                else:
                    lines = texts[fi]
                if a.lines is not None:
                    lines = lines[:a.lines - nlines]
                elif nbytes + sum(len(ln) + 1 for ln in lines) > a.bytes:
                    keep, acc = 0, nbytes
                    while acc < a.bytes:
                        acc += len(lines[keep]) + 1
                        keep += 1
                    lines = lines[:keep]
                if nlines <= needle_at < nlines + len(lines):
                    lines = list(lines)
                    i = needle_at - nlines
                    ln = lines[i]
                    cuts = [m.start() for m in re.finditer(rb" ", ln)] or [len(ln)]
                    at = rng.choice(cuts)
                    lines[i] = ln[:at] + b" " + a.needle.encode() + ln[at:]
                if lines:
                    blob = b"\n".join(lines) + b"\n"
                    out.write(blob)
                    nbytes += len(blob)
                    nlines += len(lines)
                if (a.lines is not None and nlines >= a.lines) or \
                        (a.bytes is not None and nbytes >= a.bytes):
                    done = True
                    break
            rep += 1
    print("lines=%d" % nlines)
    print("bytes=%d" % nbytes)
    print("repetitions=%.2f" % (nlines / rep_lines))
    print("files=%d" % len(files))
    if a.needle:
        print("needle=%s" % a.needle)
        print("needle_line=%d" % (needle_at + 1))


if __name__ == "__main__":
    main()
