#!/usr/bin/env python3
"""Every program the scripts, tests and benchmarks call comes from a package
that scripts/install-deps.sh installs (issue 17: `ping` was missing and a fresh
machine failed 19 tests).

  deps.py SOURCE_DIR [--list]

1. Parses every shell script (scripts/, tests/, bench/; heredocs fed to python3
   and `bash -c` strings included), every Python file's subprocess calls and
   imports, the CMake test commands and the command strings in the benchmarks'
   C++ (`sh("...")`, `run_cmd("...")`) for the programs they run.
2. Cross-checks that against tests/package/programs.txt (program -> Debian
   package): a program called but not listed, or listed but no longer called,
   fails, so the list cannot drift silently.
3. For each program: its package must be in install-deps.sh's list (or be
   Essential / Priority required, i.e. in every Debian install, or a dependency
   of a listed package); it must resolve (`command -v`) to a file that dpkg says
   that package owns (/bin vs /usr/bin and alternatives resolved).
Fails naming the missing package. --list prints what was found and exits.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
LIST_ONLY = "--list" in sys.argv

# Shell words that are not programs. Builtins and keywords of bash.
BUILTINS = set("""
: . [ [[ ]] alias bg bind break builtin caller cd command compgen complete compopt continue
declare dirs disown echo enable eval exec exit export false fc fg getopts hash help history
jobs kill let local logout mapfile popd printf pushd pwd read readarray readonly return set
shift shopt source suspend test times trap true type typeset ulimit umask unalias unset wait
if then else elif fi case esac for select while until do done in function time coproc ! { }
""".split())
# Wrappers: the real command follows (after their options / fixed arguments).
WRAPPERS = {"exec", "command", "nice", "env", "time", "xargs", "nohup", "stdbuf", "timeout",
            "nsenter", "setpriv", "unshare", "sudo", "runuser", "chroot", "taskset", "ionice"}
# wrapper options that take a separate argument
WRAP_ARG_OPTS = {"-n", "-u", "-g", "-s", "-k", "-c", "-t", "-I", "-P", "-L", "-d", "-p", "-i",
                 "--signal", "--kill-after", "--user", "--group", "-E", "--propagation",
                 "--setgroups", "--map-user", "--map-group", "--reuid", "--regid", "--groups"}
SEPARATORS = {";", "&", "&&", "||", "|", "|&", "(", ")", "((", "\n",
              "{", "}", "then", "do", "else", "elif", "if", "while", "until", "!"}
REDIRECTS = {">", ">>", "<", "<>", ">&", "<&", "&>", "&>>", ">|", "<<<", "2>", "2>>"}

found = {}  # program -> first "file:line" that runs it


def note(prog, where):
    if not prog or prog in BUILTINS:
        return
    prog = os.path.basename(prog) if prog.startswith("/usr/") or prog.startswith("/bin") \
        or prog.startswith("/sbin") else prog
    found.setdefault(prog, where)


HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
OPS = ["<<<", "&>>", ";;&", "&&", "||", ";;", ";&", "|&", ">>", "<&", ">&", "&>", "<>", ">|",
       ";", "&", "|", "(", ")", "<", ">"]


def lex(text):
    """Bash tokens of TEXT as (word, line, subs) tuples; operators and newlines are
    their own tokens; comments dropped; subs are the command substitutions
    ($(...), `...`) inside the word, to be scanned as scripts of their own."""
    out, i, n, line = [], 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] == "\n":
            i += 2; line += 1; continue
        if c in " \t":
            i += 1; continue
        if c == "\n":
            out.append(("\n", line, [])); line += 1; i += 1; continue
        if c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if text.startswith("((", i):  # arithmetic command: not a command
            j, depth = i + 2, 2
            while j < n and depth:
                depth += {"(": 1, ")": -1}.get(text[j], 0); j += 1
            out.append(("((", line, [])); line += text.count("\n", i, j); i = j
            continue
        op = next((o for o in OPS if text.startswith(o, i)), None)
        if op:
            out.append((op, line, [])); i += len(op); continue
        # a word
        w, subs, start = [], [], line
        while i < n and text[i] not in " \t\n;&|()<>":
            c = text[i]
            if c == "\\":
                w.append(text[i + 1:i + 2]); i += 2; continue
            if c == "'":
                j = text.find("'", i + 1); j = n if j < 0 else j
                w.append(text[i + 1:j]); line += text.count("\n", i, j); i = j + 1; continue
            if c == '"':
                j = i + 1
                while j < n and text[j] != '"':
                    if text[j] == "\\":
                        j += 2; continue
                    if text.startswith("$(", j) and not text.startswith("$((", j):
                        k = match_paren(text, j + 1)
                        subs.append(text[j + 2:k]); j = k + 1; continue
                    if text[j] == "`":
                        k = text.find("`", j + 1); subs.append(text[j + 1:k]); j = k + 1; continue
                    j += 1
                w.append(text[i + 1:j]); line += text.count("\n", i, j); i = j + 1; continue
            if text.startswith("$(", i):
                k = match_paren(text, i + 1)
                if not text.startswith("$((", i):
                    subs.append(text[i + 2:k])
                w.append(text[i:k + 1]); line += text.count("\n", i, k); i = k + 1; continue
            if text.startswith("${", i):
                k = text.find("}", i); k = n if k < 0 else k
                w.append(text[i:k + 1]); i = k + 1; continue
            if c == "`":
                k = text.find("`", i + 1); subs.append(text[i + 1:k]); w.append("$`"); i = k + 1; continue
            if c == "=" and i + 1 < n and text[i + 1] == "(" and w:  # name=( array )
                w.append("="); i += 1
                k = match_paren(text, i)
                line += text.count("\n", i, k); i = k + 1
                w.append("()"); continue
            w.append(c); i += 1
        out.append(("".join(w), start, subs))
    return out


def match_paren(text, i):
    """Index of the ')' matching the '(' at i (quotes respected)."""
    depth, j, n = 0, i, len(text)
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2; continue
        if c in "'\"":
            k = text.find(c, j + 1); j = n if k < 0 else k + 1; continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return n


def mask_quoted_lt(text):
    """TEXT with every '<' inside quotes blanked, so `python3 -c "1 << n"` is
    not taken for a heredoc. Newlines are kept: lines still line up."""
    out, q, i = [], None, 0
    while i < len(text):
        c = text[i]
        if q is None and c == "\\":
            out.append(text[i:i + 2]); i += 2; continue
        if q == '"' and c == "\\":
            out.append(text[i:i + 2]); i += 2; continue
        if q is None and c == "#" and (i == 0 or text[i - 1] in " \t\n"):
            j = text.find("\n", i); j = len(text) if j < 0 else j
            out.append(text[i:j]); i = j; continue
        if q is None and c in "'\"":
            q = c
        elif q == c:
            q = None
        elif q and c == "<":
            c = " "
        out.append(c); i += 1
    return "".join(out)


def shell_text(text, fname, first_line=1, funcs=None):
    """Scans a shell script: heredoc bodies fed to python3 go to the Python
    scanner, the rest is tokenized and its command words noted."""
    lines, keep, i = text.split("\n"), [], 0
    masked = mask_quoted_lt(text).split("\n")
    while i < len(lines):
        raw = lines[i]
        keep.append(raw)
        m = HEREDOC.search(masked[i]) if "<<<" not in masked[i] else None
        if m:
            doc = []
            i += 1
            while i < len(lines) and lines[i].strip() != m.group(2):
                doc.append(lines[i]); keep.append(""); i += 1
            keep.append("")
            if re.search(r"\bpython3?\b", raw):
                python_text("\n".join(doc), fname)
        i += 1
    scan_tokens(lex("\n".join(keep)), fname, first_line, funcs if funcs is not None else set())


def scan_line(text, where, funcs):
    fname, _, no = where.rpartition(":")
    scan_tokens(lex(text), fname, int(no) if no.isdigit() else 1, funcs)


def scan_tokens(toks, fname, first, funcs):
    state = "cmd"      # the next word is a command
    wrapper, fixed = None, 0
    skip_until = None
    in_case = 0
    i = 0
    while i < len(toks):
        t, ln, subs = toks[i]
        where = f"{fname}:{first + ln - 1}"
        for s in subs:
            scan_tokens(lex(s), fname, first + ln - 1, funcs)
        if skip_until:
            if t == skip_until:
                skip_until = None; state = "args"
            i += 1; continue
        if state == "pattern":  # case patterns up to ')'
            if t == "esac":
                in_case -= 1; state = "args"
            elif t == ")":
                state = "cmd"
            i += 1; continue
        if t in (";;", ";&", ";;&") and in_case:
            state = "pattern"; i += 1; continue
        if t in SEPARATORS:
            state = "cmd"; wrapper = None; i += 1; continue
        if t in REDIRECTS or t in ("<<", "<<-") or t in OPS and t in "<>":
            i += 2; continue
        if state != "cmd":
            if t == "-c" and i >= 1 and toks[i - 1][0] in ("bash", "sh") and i + 1 < len(toks):
                scan_tokens(lex(toks[i + 1][0]), fname, first + ln - 1, funcs); i += 2; continue
            if t == "-c" and i >= 1 and toks[i - 1][0] in ("python3", "python") and i + 1 < len(toks):
                python_text(toks[i + 1][0], fname); i += 2; continue
            i += 1; continue
        # a command word
        if t == "[[":
            skip_until = "]]"; i += 1; continue
        if t == "case":
            while i < len(toks) and toks[i][0] != "in":
                i += 1
            in_case += 1; state = "pattern"; i += 1; continue
        if t in ("for", "select"):
            while i < len(toks) and toks[i][0] not in (";", "\n", "do"):
                i += 1
            continue
        if re.fullmatch(r"\d+", t) and i + 1 < len(toks) and toks[i + 1][0] in OPS:
            i += 1; continue  # an fd number before a redirection
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=.*", t, re.S):
            i += 1; continue  # an assignment before the command
        if i + 2 < len(toks) and toks[i + 1][0] == "(" and toks[i + 2][0] == ")":
            funcs.add(t); i += 3; continue  # a function definition
        if t == "function":
            funcs.add(toks[i + 1][0]); i += 2; continue
        if wrapper:
            if t.startswith("-") or fixed > 0:
                if t in WRAP_ARG_OPTS:
                    i += 2; continue
                if not t.startswith("-"):
                    fixed -= 1
                i += 1; continue
        if "$" in t or t.startswith("-") or t == "":
            state = "args"; i += 1; continue
        if t in BUILTINS and t not in WRAPPERS:
            state = "cmd" if t in ("!", "time", "{", "}") else "args"
            i += 1; continue
        if t in WRAPPER_FUNCS:  # in_scan CMD...: runs CMD
            state = "cmd"; i += 1; continue
        if t in funcs:
            state = "args"; i += 1; continue
        note(t, where)
        if t in WRAPPERS:
            wrapper, fixed, state = t, (1 if t == "timeout" else 0), "cmd"
        elif t == "ip" and [x[0] for x in toks[i + 1:i + 3]] == ["netns", "exec"]:
            wrapper, fixed, state = "ip", 1, "cmd"; i += 3; continue
        else:
            wrapper, state = None, "args"
        i += 1


def python_text(text, fname):
    """Programs a Python script runs (subprocess with a literal argv[0],
    os.system strings) and the modules it imports."""
    for m in re.finditer(r"(?:subprocess\.)?(?:run|Popen|check_output|check_call|call)\(\s*\[\s*[\"']([^\"']+)[\"']", text):
        line = text.count("\n", 0, m.start()) + 1
        note(m.group(1), f"{fname}:{line}")
    for m in re.finditer(r"os\.system\(\s*[\"']([^\"']+)[\"']", text):
        scan_line(m.group(1), fname, set())
    for m in re.finditer(r"^\s*(?:import\s+([\w.]+)|from\s+([\w.]+)\s+import)", text, re.M):
        mod = (m.group(1) or m.group(2)).split(".")[0]
        if mod and mod not in sys.stdlib_module_names and mod != "__future__":
            line = text.count("\n", 0, m.start()) + 1
            found.setdefault("python3:" + mod, f"{fname}:{line}")


def cpp_text(text, fname):
    """Shell command strings the benchmarks pass to sh() / run_cmd() / system()."""
    for m in re.finditer(r"\b(?:sh|run_cmd|system)\(\s*((?:\"(?:[^\"\\]|\\.)*\"\s*)+)", text):
        s = "".join(re.findall(r"\"((?:[^\"\\]|\\.)*)\"", m.group(1)))
        line = text.count("\n", 0, m.start()) + 1
        scan_line(s, f"{fname}:{line}", set())
    # const char* setup = "..." "..."; run_cmd(setup)
    for m in re.finditer(r"const char\*\s*(\w+)\s*=\s*((?:\"(?:[^\"\\]|\\.)*\"\s*)+);", text):
        if re.search(r"\b(?:sh|run_cmd|system)\(\s*" + m.group(1) + r"\b", text):
            s = "".join(re.findall(r"\"((?:[^\"\\]|\\.)*)\"", m.group(2)))
            line = text.count("\n", 0, m.start()) + 1
            scan_line(s, f"{fname}:{line}", set())


def cmake_text(text, fname):
    for m in re.finditer(r"\bCOMMAND\s+([^\s)]+)", text):
        w = m.group(1)
        if w.startswith("$") or w.startswith("${"):
            continue
        line = text.count("\n", 0, m.start()) + 1
        if "/" in w or w.startswith("sw_") or w.startswith("bpf_") or w.startswith("fuzz_"):
            continue  # a script of ours or a built target
        if re.search(r"add_(?:executable|library)\(\s*" + re.escape(w) + r"\b", ALL_CMAKE):
            continue
        note(w, f"{fname}:{line}")
    for m in re.finditer(r"find_program\(\s*\w+\s+(?:NAMES\s+)?(\S+)", text):
        note(m.group(1), f"{fname}:{text.count(chr(10), 0, m.start()) + 1}")


def walk(dirs, exts):
    for d in dirs:
        for base, subdirs, files in os.walk(os.path.join(ROOT, d)):
            subdirs[:] = [s for s in subdirs if not s.startswith("build") and s != "corpus"]
            for f in sorted(files):
                if any(f.endswith(e) for e in exts):
                    yield os.path.join(base, f)


def rel(p):
    return os.path.relpath(p, ROOT)


ALL_CMAKE = "".join(open(p).read() for p in walk([".", "cmake"], ["CMakeLists.txt", ".cmake"])
                    if "/build" not in rel(p))

# Functions defined by any script (lib.sh's are used by the tests that source it).
FUNCS = set()
for p in list(walk(["scripts", "tests", "bench"], [".sh"])) + [os.path.join(ROOT, "packaging/scanwatch.bash-completion")]:
    FUNCS.update(re.findall(r"^\s*(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\)\s*\{", open(p).read(), re.M))

# ... and those that run their arguments as a command: `in_scan() { ip netns exec "$NS_SCAN" "$@"; }`
WRAPPER_FUNCS = set()
for p in walk(["scripts", "tests", "bench"], [".sh"]):
    WRAPPER_FUNCS.update(re.findall(
        r'^\s*([A-Za-z_][\w-]*)\s*\(\)\s*\{\s*(?:ip netns exec|nsenter|timeout|exec|command)\s+(?:"?\$\{?\w+\}?"?|-\S+|\d+\s+)*\s*"\$@";?\s*\}',
        open(p).read(), re.M))

for p in walk(["scripts", "tests", "bench"], [".sh"]):
    shell_text(open(p).read(), rel(p), funcs=FUNCS)
for p in walk(["scripts", "tests", "bench"], [".py"]):
    python_text(open(p).read(), rel(p))
for p in walk(["bench", "tests"], [".cpp"]):
    cpp_text(open(p).read(), rel(p))
for p in walk([".", "cmake"], ["CMakeLists.txt", ".cmake"]):
    if not rel(p).startswith("build"):
        cmake_text(open(p).read(), rel(p))

# Words that look like commands but are ours: the built tree and its scripts.
OURS = {"scanwatch", "python3:lib", "python3:check"}
for p in walk(["scripts", "tests", "bench"], [".py"]):
    OURS.add("python3:" + os.path.basename(p)[:-3])
for k in list(found):
    if k in OURS or k.startswith("./") or k.startswith("build/") or "/" in k:
        del found[k]

if LIST_ONLY:
    for k in sorted(found):
        print(f"{k:24} {found[k]}")
    sys.exit(0)

# ---- the maintained list ----------------------------------------------------
listed = {}
for no, line in enumerate(open(os.path.join(ROOT, "tests/package/programs.txt")), 1):
    line = line.split("#", 1)[0].strip()
    if line:
        prog, pkg = line.split()[:2]
        listed[prog] = pkg

problems = []
for prog in sorted(set(found) - set(listed)):
    problems.append(f"{found[prog]} runs '{prog}', which tests/package/programs.txt does not list "
                    "(add it with its Debian package, and the package to scripts/install-deps.sh)")
for prog in sorted(set(listed) - set(found)):
    problems.append(f"tests/package/programs.txt lists '{prog}', which nothing runs any more (remove it)")

out = subprocess.run(["bash", os.path.join(ROOT, "scripts/install-deps.sh"), "--list"],
                     capture_output=True, text=True, check=True).stdout.split()
install = set(out)


# Every installed package's fields, read once.
DB = {}
_q = subprocess.run(["dpkg-query", "-W", "-f=${Package}\\t${db:Status-Abbrev}\\t${Essential}\\t"
                     "${Priority}\\t${Depends}, ${Pre-Depends}\\t${Provides}\\n"],
                    capture_output=True, text=True).stdout
PROVIDERS = {}
for row in _q.splitlines():
    name, status, ess, prio, deps, prov = (row.split("\t") + [""] * 6)[:6]
    if not status.startswith("ii"):
        continue
    DB[name] = (ess, prio, deps)
    for v in prov.split(","):
        v = v.strip().split(" ")[0]
        if v:
            PROVIDERS.setdefault(v, []).append(name)


def closure(pkgs):
    """Installed packages the given ones depend on (Depends, Pre-Depends), recursively."""
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p in seen or p not in DB:
            continue
        seen.add(p)
        for alt in DB[p][2].split(","):
            for choice in alt.split("|"):
                name = choice.strip().split(" ")[0].split(":")[0]
                cands = [name] if name in DB else PROVIDERS.get(name, [])
                if cands:
                    todo.extend(cands)
                    break
    return seen


def everywhere(p):
    """Essential or Priority required: in every Debian install (debootstrap minbase)."""
    return p in DB and (DB[p][0] == "yes" or DB[p][1] == "required")


def candidates(path):
    """PATH, its real path, and their /bin <-> /usr/bin (usrmerge) twins."""
    cands = [path, os.path.realpath(path)]
    for c in list(cands):
        for a, b in (("/usr/bin/", "/bin/"), ("/usr/sbin/", "/sbin/"), ("/usr/lib/", "/lib/")):
            if c.startswith(a):
                cands.append(b + c[len(a):])
            elif c.startswith(b):
                cands.append(a + c[len(b):])
    return cands


OWNERS = {}


def lookup_owners(paths):
    """One `dpkg -S` for every candidate path (each call reads dpkg's whole database)."""
    allc = sorted({c for p in paths for c in candidates(p)})
    if not allc:
        return
    r = subprocess.run(["dpkg", "-S"] + allc, capture_output=True, text=True)
    for line in r.stdout.splitlines():
        pkgs, _, f = line.partition(": ")
        if not pkgs.startswith("diversion") and f.strip() in allc:
            OWNERS[f.strip()] = [q.split(":")[0].strip() for q in pkgs.split(",")]


def owner(path):
    for c in candidates(path):
        if c in OWNERS:
            return OWNERS[c]
    return []


# A fresh machine's PATH: a program found only in /usr/local, ~/.pyenv and the
# like is not one a package provides.
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
sysenv = dict(os.environ, PATH=SYSTEM_PATH)

def resolve(prog):
    if prog.startswith("python3:"):
        mod = prog.split(":", 1)[1]
        r = subprocess.run(["python3", "-c", f"import {mod}; print({mod}.__file__)"],
                           capture_output=True, text=True, env=sysenv)
    else:
        r = subprocess.run(["bash", "-c", 'command -v -- "$1"', "_", prog], capture_output=True,
                           text=True, env=sysenv)
    path = r.stdout.strip()
    return path if r.returncode == 0 and path.startswith("/") else None


paths = {prog: resolve(prog) for prog in listed if prog in found}
lookup_owners([p for p in paths.values() if p])

for prog, pkg in sorted(listed.items()):
    if prog not in found:
        continue
    where = found[prog]
    if pkg not in install and not everywhere(pkg):
        problems.append(f"{where} runs '{prog}' from package {pkg}, which scripts/install-deps.sh "
                        f"does not install: add {pkg} to its list")
        continue
    brings = closure([pkg])  # the package and what it pulls in (clang -> clang-14)
    if prog.startswith("python3:"):
        mod = prog.split(":", 1)[1]
        if not paths[prog]:
            problems.append(f"{where} imports '{mod}', which is not installed: package {pkg} "
                            "(run scripts/install-deps.sh)")
        elif not brings & set(owner(paths[prog])):
            problems.append(f"{where} imports '{mod}' from {paths[prog]}, not from package {pkg}")
        continue
    path = paths[prog]
    if not path:
        problems.append(f"{where} runs '{prog}', which is not installed: package {pkg} "
                        "(run scripts/install-deps.sh)")
        continue
    owners = owner(path)
    if not brings & set(owners):
        problems.append(f"{where} runs '{prog}' = {path}, owned by {', '.join(owners) or 'no package'}, "
                        f"which package {pkg} (tests/package/programs.txt) does not bring")

for p in problems:
    print("FAIL: " + p)
if problems:
    sys.exit(1)
print(f"PASS deps: {len(found)} programs and modules, each from a package install-deps.sh provides")
