#!/usr/bin/env python3
"""Checks a Prometheus text exposition (format 0.0.4) read from a file, then
asserts on sample values.

Usage: check_metrics.py FILE [ASSERTION ...]
ASSERTION: 'name{label="v",...}>=N', '>N' or '==N' (labels optional; with
several matching samples their sum is compared). Exit 0 when the text parses
and every assertion holds; otherwise one line per problem and exit 1.
"""
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?,?\}})? (\S+)(?: -?\d+)?$")
LABEL_RE = re.compile(rf'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def unescape(v):
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def value(s):
    if s in ("+Inf", "-Inf", "NaN"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    return float(s)


def parse(text):
    errors, samples = [], []
    types, helps, done, current = {}, set(), set(), None
    if text and not text.endswith("\n"):
        errors.append("the exposition does not end with a newline")
    for n, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not re.fullmatch(NAME, name):
                    errors.append(f"line {n}: bad metric name {name!r}")
                if parts[1] == "TYPE":
                    t = parts[3] if len(parts) > 3 else ""
                    if t not in TYPES:
                        errors.append(f"line {n}: unknown type {t!r}")
                    if name in types:
                        errors.append(f"line {n}: second TYPE for {name}")
                    if name in done:
                        errors.append(f"line {n}: TYPE for {name} after its samples")
                    types[name] = t
                    if t == "counter" and not name.endswith("_total"):
                        errors.append(f"line {n}: counter {name} does not end in _total")
                else:
                    if name in helps:
                        errors.append(f"line {n}: second HELP for {name}")
                    helps.add(name)
            continue
        m = SAMPLE.match(line)
        if not m:
            errors.append(f"line {n}: not a sample: {line!r}")
            continue
        name, labels, v = m.group(1), m.group(2) or "", m.group(3)
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[: -len(suffix)] if name.endswith(suffix) else None
            if base and types.get(base) in ("histogram", "summary"):
                family = base
        if family not in types:
            errors.append(f"line {n}: sample of {name} without a TYPE line")
        if current != family:
            if family in done:
                errors.append(f"line {n}: samples of {family} are not contiguous")
            if current:
                done.add(current)
            current = family
        try:
            val = value(v)
        except ValueError:
            errors.append(f"line {n}: bad value {v!r}")
            continue
        lab = {k: unescape(x) for k, x in LABEL_RE.findall(labels)}
        samples.append((name, lab, val))
    # histograms: cumulative buckets ending in +Inf == _count
    for fam, t in types.items():
        if t != "histogram":
            continue
        buckets = [(s[1].get("le"), s[2]) for s in samples if s[0] == fam + "_bucket"]
        counts = [s[2] for s in samples if s[0] == fam + "_count"]
        if not buckets or buckets[-1][0] != "+Inf":
            errors.append(f"{fam}: no +Inf bucket last")
        elif counts and buckets[-1][1] != counts[0]:
            errors.append(f"{fam}: +Inf bucket {buckets[-1][1]} != count {counts[0]}")
        if any(later[1] < earlier[1] for earlier, later in zip(buckets, buckets[1:])):
            errors.append(f"{fam}: buckets are not cumulative")
    return errors, samples


ASSERT = re.compile(rf"^({NAME})(?:\{{(.*)\}})?(>=|>|==)([0-9.eE+-]+)$")


def check(samples, a):
    m = ASSERT.match(a)
    if not m:
        return f"bad assertion {a!r}"
    name, labels, op, want = m.group(1), m.group(2) or "", m.group(3), float(m.group(4))
    want_labels = dict(LABEL_RE.findall(labels))
    hits = [s[2] for s in samples if s[0] == name and all(s[1].get(k) == v for k, v in want_labels.items())]
    if not hits:
        return f"{a}: no such sample"
    got = sum(hits)
    ok = got >= want if op == ">=" else got > want if op == ">" else got == want
    return None if ok else f"{a}: got {got:g}"


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    errors, samples = parse(text)
    if not samples:
        errors.append("no samples at all")
    errors += [e for e in (check(samples, a) for a in sys.argv[2:]) if e]
    for e in errors:
        print(f"check_metrics: {e}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
