#!/usr/bin/env python3
"""The folders of docs/ARCHITECTURE.md and what each may include, checked
against the code (ctest package.layering).

  layering.py SOURCE_DIR

Reads the "may include" column of the user-side table (folder names in
backticks, "everything above", "itself only"), then every #include "x/..." of
userspace/, include/scanwatch/ and bpf/. Fails, naming file and line, when a
folder includes one the table does not allow it, when a folder of userspace/
is missing from the table, or when the table names a folder that is gone.
"""
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
doc = open(os.path.join(ROOT, "docs/ARCHITECTURE.md"), encoding="utf-8").read()

allowed = {}   # folder -> set of folders it may include (None: anything)
order = []
for line in doc.splitlines():
    m = re.match(r"\|\s*`([a-z_./]+)`\s*\|.*\|\s*(.+?)\s*\|\s*$", line)
    if not m:
        continue
    name = m.group(1).rstrip("/")
    if name.startswith("userspace/"):
        name = name[len("userspace/"):]
    may = m.group(2)
    if "everything above" in may:
        allowed[name] = None
    else:
        allowed[name] = {t.rstrip("/").split("/")[0] for t in re.findall(r"`([a-z_./]+)`", may)}
    order.append(name)

errors = []
us = os.path.join(ROOT, "userspace")
folders = sorted(d for d in os.listdir(us) if os.path.isdir(os.path.join(us, d)))
for d in folders:
    if d not in allowed:
        errors.append(f"userspace/{d}/ is not in docs/ARCHITECTURE.md's table")
for name in order:
    if name in ("include/scanwatch", "bpf", "main.cpp"):
        continue
    if name not in folders:
        errors.append(f"docs/ARCHITECTURE.md names {name}/, which userspace/ no longer has")

INC = re.compile(r'^\s*#\s*include\s+"([A-Za-z_]+)/')


def check(path, folder, may):
    for n, text in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
        m = INC.match(text)
        if not m:
            continue
        target = m.group(1)
        if target == folder or may is None or target in may:
            continue
        rel = os.path.relpath(path, ROOT)
        errors.append(f"{rel}:{n}: {folder}/ includes {target}/, which docs/ARCHITECTURE.md does not allow "
                      f"(allowed: {', '.join(sorted(may)) or 'nothing'})")


for d in folders:
    may = allowed.get(d)
    if d not in allowed:
        continue
    base = os.path.join(us, d)
    for f in sorted(os.listdir(base)):
        if f.endswith((".cpp", ".hpp", ".h", ".in")):
            check(os.path.join(base, f), d, may)
check(os.path.join(us, "main.cpp"), "main.cpp", allowed.get("main.cpp"))
pub = os.path.join(ROOT, "include/scanwatch")
for f in sorted(os.listdir(pub)):
    check(os.path.join(pub, f), "scanwatch", {"scanwatch"})
bpf = os.path.join(ROOT, "bpf")
for f in sorted(os.listdir(bpf)):
    # the BPF side includes its own headers without a folder, and abi.h
    check(os.path.join(bpf, f), "bpf", {"scanwatch", "bpf"})

for e in errors:
    print("FAIL:", e)
print(f"layering: {len(folders)} folders, {len(errors)} problems")
sys.exit(1 if errors else 0)
