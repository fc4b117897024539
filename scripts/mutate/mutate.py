#!/usr/bin/env python3
"""Memory-ordering mutation campaign for taskring.

Finds every atomic operation and fence under src/, makes each one-step
weakening of its ordering (and each marked re-check removed), applies one
mutant at a time to a scratch copy of the tree, builds it, runs the checks
aimed at it, and classifies it:

  killed-semantic  a check failed with a report that means something (a loom
                   causality, leak or deadlock report, a failed assertion in
                   our code, a Miri data race or deadlock)
  killed-other     a check failed for another reason (a build error, loom's
                   branch limit)
  timeout          a check ran out of time
  survived         every check passed
  excluded         not run, for the reason given (model scaffolding, test
                   hooks)

The working tree is never touched: the scratch copy lives under /tmp.
Python 3 standard library only. `scripts/mutate/run.sh --help` for usage;
docs/mutation.md for the method and the results.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rc11  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CONFIG = HERE / "config.toml"

ORDERINGS = ("Relaxed", "Acquire", "Release", "AcqRel", "SeqCst")

# One-step weakenings, by the kind of operation.
WEAKER = {
    "load": {"SeqCst": ["Acquire"], "Acquire": ["Relaxed"]},
    "store": {"SeqCst": ["Release"], "Release": ["Relaxed"]},
    "rmw": {
        "SeqCst": ["AcqRel", "Acquire", "Release"],
        "AcqRel": ["Acquire", "Release"],
        "Acquire": ["Relaxed"],
        "Release": ["Relaxed"],
    },
    # A failure ordering may not be Release or AcqRel.
    "cas-failure": {"SeqCst": ["Acquire"], "Acquire": ["Relaxed"]},
    "fence": {
        "SeqCst": ["AcqRel", "removed"],
        "AcqRel": ["Acquire", "Release"],
        "Acquire": ["removed"],
        "Release": ["removed"],
    },
}
WEAKER["cas-success"] = WEAKER["rmw"]

RMW_METHODS = {
    "swap",
    "fetch_add",
    "fetch_sub",
    "fetch_or",
    "fetch_and",
    "fetch_xor",
    "fetch_nand",
    "fetch_max",
    "fetch_min",
}


# === Source scanning ===


def blank_comments_and_literals(text: str) -> str:
    """`text` with comments and the insides of string and char literals
    replaced by spaces (newlines kept), so offsets stay valid."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a: int, b: int) -> None:
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:]) and not re.match(r"\w", text[i - 1 : i] or " "):
            m = re.match(r'r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + len(m.group(0)))
            end = n if end < 0 else end + 1 + len(m.group(1))
            blank(i + len(m.group(0)), end - 1 - len(m.group(1)))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(i + 1, j)
            i = j + 1
        elif c == "'":
            m = re.match(r"'(\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'\n])'", text[i:])
            if m:
                blank(i + 1, i + len(m.group(0)) - 1)
                i += len(m.group(0))
            else:  # A lifetime.
                i += 1
        else:
            i += 1
    return "".join(out)


OPEN, CLOSE = "([{", ")]}"


def enclosing_open(code: str, pos: int, kinds: str = "([{") -> int:
    """Offset of the innermost unmatched opening bracket before `pos` whose
    kind is in `kinds` (brackets of other kinds are skipped over), or -1."""
    depth = {"(": 0, "[": 0, "{": 0}
    pair = dict(zip(CLOSE, OPEN))
    i = pos - 1
    while i >= 0:
        c = code[i]
        if c in CLOSE:
            depth[pair[c]] += 1
        elif c in OPEN:
            if depth[c]:
                depth[c] -= 1
            elif c in kinds:
                return i
            else:
                # An unmatched bracket of another kind: we left its scope.
                if c == "{" and "{" not in kinds:
                    return -1
        i -= 1
    return -1


def matching_close(code: str, open_pos: int) -> int:
    opener = code[open_pos]
    closer = CLOSE[OPEN.index(opener)]
    depth = 0
    for i in range(open_pos, len(code)):
        if code[i] == opener:
            depth += 1
        elif code[i] == closer:
            depth -= 1
            if depth == 0:
                return i
    raise ValueError("unbalanced brackets")


def statement_start(code: str, pos: int) -> int:
    """Start of the statement or item containing `pos` at its own nesting
    level: just after the previous `;`, `{` or `}` at that level."""
    depth = 0
    i = pos - 1
    while i >= 0:
        c = code[i]
        if c in ")]":
            depth += 1
        elif c in "([":
            if depth == 0:
                # Inside an argument list: keep going out to the statement.
                pass
            else:
                depth -= 1
        elif c == "}":
            if depth == 0:
                return i + 1
        elif c in ";{" and depth == 0:
            return i + 1
        i -= 1
    return 0


def cfg_attributes(original: str, start: int, end: int) -> list[str]:
    """The `#[cfg(...)]` and `#[cfg_attr(...)]` attributes in
    `original[start:end]`, with their bracket contents."""
    found = []
    for m in re.finditer(r"#\[(cfg|cfg_attr)\(", original[start:end]):
        a = start + m.start()
        depth, j = 0, a + 1
        while j < len(original):
            if original[j] == "[":
                depth += 1
            elif original[j] == "]":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        found.append(original[a : j + 1])
    return found


def cfgs_in_effect(original: str, code: str, pos: int) -> list[str]:
    """Every cfg attribute on the statement at `pos` and on each block
    (function, impl, module) around it."""
    cfgs = cfg_attributes(original, statement_start(code, pos), pos)
    p = pos
    while True:
        b = enclosing_open(code, p, "{")
        if b < 0:
            break
        cfgs += cfg_attributes(original, statement_start(code, b), b)
        p = b
    return cfgs


def cfg_tags(cfgs: list[str]) -> set[str]:
    tags = set()
    for cfg in cfgs:
        if cfg.startswith("#[cfg_attr"):
            continue
        body = re.sub(r"\s+", "", cfg)
        if "not(loom)" in body:
            tags.add("native-only")
        elif re.search(r"\bloom\b", body):
            tags.add("loom-only")
        if re.search(r"not\(taskring_mutant", body):
            pass
        elif "taskring_mutant" in body:
            tags.add("gate-mutant")
        if "not(taskring_force_cs)" in body:
            pass
        elif "taskring_force_cs" in body or 'not(target_has_atomic="ptr")' in body:
            tags.add("cs-only")
        if '"__test_hooks"' in body or "__test_hooks" in body:
            tags.add("test-hooks")
        if "not(taskring_tsan)" in body:
            pass
        elif "taskring_tsan" in body:
            tags.add("tsan-only")
    return tags


@dataclasses.dataclass
class Site:
    file: str
    line: int
    kind: str  # load, store, rmw, cas-success, cas-failure, fence, load_sc, load_latest, recheck
    op: str  # the method or function
    ordering: str  # the ordering written there (or the helper's name)
    start: int  # span to replace
    end: int
    text: str  # original text of the span
    function: str
    tags: list[str]
    note: str = ""
    anchor: str = ""
    receiver: str = ""


@dataclasses.dataclass
class Mutant:
    id: str
    file: str
    line: int
    kind: str
    op: str
    function: str
    original: str
    weakened: str  # what it becomes, in words (e.g. AcqRel, removed, Acquire load)
    start: int
    end: int
    replacement: str
    tags: list[str]
    excluded: str = ""
    anchor: str = ""


def enclosing_fn(original: str, code: str, pos: int) -> str:
    p = pos
    while True:
        b = enclosing_open(code, p, "{")
        if b < 0:
            return ""
        header = code[statement_start(code, b) : b]
        m = re.search(r"\bfn\s+(\w+)", header)
        if m:
            return m.group(1)
        m = re.search(r"\bmod\s+(\w+)", header)
        if m:
            return "mod " + m.group(1)
        p = b


def callee_at(code: str, paren: int) -> tuple[str, int]:
    """The name called at `paren` (an opening parenthesis) and the start of
    the callee expression's last path (`crate::loom::fence` starts at
    `crate`), or ("", -1)."""
    m = re.search(r"((?:\w+::)*)(\w+)\s*$", code[:paren])
    if not m:
        return "", -1
    return m.group(2), m.start()


def arg_index(code: str, paren: int, pos: int) -> int:
    depth, idx = 0, 0
    for c in code[paren + 1 : pos]:
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            idx += 1
    return idx


def line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def classify_call(name: str, idx: int) -> str | None:
    if name == "load":
        return "load"
    if name in ("store", "store_in"):
        return "store"
    if name in RMW_METHODS:
        return "rmw"
    if name in ("compare_exchange", "compare_exchange_weak"):
        return {2: "cas-success", 3: "cas-failure"}.get(idx)
    if name == "fence":
        return "fence"
    return None


def scan_file(rel: str, original: str) -> tuple[list[Site], list[str]]:
    """Sites in one file, and notes on `Ordering::` uses that are no site."""
    code = blank_comments_and_literals(original)
    sites: list[Site] = []
    skipped: list[str] = []

    def tags_at(pos: int) -> list[str]:
        return sorted(cfg_tags(cfgs_in_effect(original, code, pos)))

    for m in re.finditer(r"\bOrdering::(" + "|".join(ORDERINGS) + r")\b", code):
        pos = m.start()
        paren = enclosing_open(code, pos, "(")
        # Not inside parentheses of the same statement: a `const` or a match arm.
        cm = re.search(r"\bconst\s+(\w+)\s*:\s*Ordering\s*=\s*$", code[statement_start(code, pos) : pos])
        if cm:
            # Classify a named ordering by where it is used.
            name = cm.group(1)
            use = re.search(r"[,(]\s*" + name + r"\s*\)", code)
            kind = None
            if use:
                up = enclosing_open(code, use.end() - 1, "(")
                callee, _ = callee_at(code, up)
                kind = classify_call(callee, arg_index(code, up, use.end() - 1))
                op = f"const {name} ({callee})"
            if kind:
                sites.append(
                    Site(rel, line_of(original, pos), kind, op, m.group(1), m.start(), m.end(),
                         m.group(0), enclosing_fn(original, code, pos) or f"const {name}", tags_at(pos),
                         receiver=name)
                )
            else:
                skipped.append(f"{rel}:{line_of(original, pos)}: const {name} with no classified use")
            continue
        if paren < 0 or statement_start(code, pos) > paren:
            skipped.append(f"{rel}:{line_of(original, pos)}: {m.group(0)} outside a call (pattern or value)")
            continue
        callee, cstart = callee_at(code, paren)
        idx = arg_index(code, paren, pos)
        kind = classify_call(callee, idx)
        if kind is None:
            skipped.append(f"{rel}:{line_of(original, pos)}: {m.group(0)} passed to `{callee}`, not an atomic operation")
            continue
        fn = enclosing_fn(original, code, pos)
        # `self.tail.load(..)` and `self.tail().load(..)` both name `tail`.
        recv = re.search(r"(\w+)\s*(?:\(\s*\))?\s*\.\s*$", code[:cstart])
        receiver = recv.group(1) if recv else ""
        if kind == "fence":
            close = matching_close(code, paren)
            sites.append(Site(rel, line_of(original, pos), kind, callee, m.group(1), cstart, close + 1,
                              original[cstart : close + 1], fn, tags_at(pos)))
        else:
            sites.append(Site(rel, line_of(original, pos), kind, callee, m.group(1), m.start(), m.end(),
                              m.group(0), fn, tags_at(pos), receiver=receiver))

    # Call sites of the facade's ordering helpers (not their definitions).
    for m in re.finditer(r"(?<![\w.])((?:\w+::)*)(load_sc|load_latest)\s*\(", code):
        if re.search(r"\bfn\s*$", code[: m.start()]):
            continue
        paren = m.end() - 1
        close = matching_close(code, paren)
        arg = original[paren + 1 : close].strip()
        ident = re.findall(r"\w+", arg)
        sites.append(Site(rel, line_of(original, m.start()), m.group(2), m.group(2), m.group(2),
                          m.start(), close + 1, original[m.start() : close + 1],
                          enclosing_fn(original, code, m.start()), tags_at(m.start()), note=arg,
                          receiver=ident[-1] if ident else ""))

    # Re-checks marked in the source: `// mutate: recheck(OLD => NEW)` at the
    # end of the line that holds OLD.
    for m in re.finditer(r"//\s*mutate:\s*recheck\((.+?)\s*=>\s*(.+?)\)\s*$", original, re.M):
        line_start = original.rfind("\n", 0, m.start()) + 1
        old = m.group(1)
        at = original.find(old, line_start, m.start())
        if at < 0:
            skipped.append(f"{rel}:{line_of(original, m.start())}: recheck marker whose text is not on its line")
            continue
        fn = enclosing_fn(original, code, at)
        sites.append(Site(rel, line_of(original, at), "recheck", f"re-check in {fn}", fn, at, at + len(old), old,
                          fn, tags_at(at), note=m.group(2)))
    return sites, skipped


def config_rechecks(cfg: dict, rel: str, original: str) -> list[Site]:
    """Re-checks listed in config.toml (for files we may not mark)."""
    code = blank_comments_and_literals(original)
    sites = []
    for entry in cfg.get("recheck", []):
        if entry["file"] != rel:
            continue
        at = original.find(entry["old"])
        if at < 0 or original.find(entry["old"], at + 1) >= 0:
            print(f"warning: recheck {entry['name']}: text not found exactly once in {rel}", file=sys.stderr)
            continue
        tags = sorted(cfg_tags(cfgs_in_effect(original, code, at)))
        sites.append(Site(rel, line_of(original, at), "recheck", entry["name"], entry["id"], at,
                          at + len(entry["old"]), entry["old"], enclosing_fn(original, code, at), tags,
                          note=entry["new"]))
    return sites


def mutants_for(site: Site, cfg: dict) -> list[Mutant]:
    out = []
    short = site.file.removeprefix("src/")

    def make(weakened: str, replacement: str) -> Mutant:
        mid = f"{short}:{site.line}:{site.kind}:{site.ordering}->{weakened}"
        return Mutant(mid, site.file, site.line, site.kind, site.op, site.function, site.ordering, weakened,
                      site.start, site.end, replacement, list(site.tags), anchor=site.anchor)

    if site.kind in WEAKER:
        for weaker in WEAKER[site.kind].get(site.ordering, []):
            if site.kind == "fence":
                if weaker == "removed":
                    out.append(make("removed", "()"))
                else:
                    out.append(make(weaker, site.text.replace(f"Ordering::{site.ordering}", f"Ordering::{weaker}")))
            else:
                out.append(make(weaker, f"Ordering::{weaker}"))
    elif site.kind == "load_sc":
        # A plain SeqCst load becomes an Acquire load. Under loom the helper
        # is an RMW (always the latest value); the plain load is not.
        out.append(make("Acquire load", f"({site.note}).load(crate::loom::Ordering::Acquire)"))
    elif site.kind == "load_latest":
        # The SeqCst fence before the load is dropped.
        out.append(make("Relaxed load (fence dropped)", f"({site.note}).load(crate::loom::Ordering::Relaxed)"))
    elif site.kind == "recheck":
        out.append(make("removed", site.note))

    for m in out:
        for rule in cfg.get("exclude", []):
            if rule["file"] != m.file:
                continue
            if "function" in rule and rule["function"] != m.function:
                continue
            if "tag" in rule and rule["tag"] not in m.tags:
                continue
            m.excluded = rule["why"]
            break
        if not m.excluded and "loom-only" in m.tags:
            m.excluded = "compiled only under --cfg loom: model scaffolding of the facade, not product code"
        if not m.excluded and "gate-mutant" in m.tags:
            m.excluded = "the code of a gate mutant (taskring_mutant), not product code"
        if not m.excluded and "tsan-only" in m.tags:
            m.excluded = ("compiled only under --cfg taskring_tsan, the ThreadSanitizer build, which stands in "
                          "for orderings TSan does not model; no other build contains it")
    return out


def enumerate_sites(tree: Path, cfg: dict) -> tuple[list[Site], list[str]]:
    """Every site under src/ (Relaxed ones too), with its anchor:
    `file:function:kind`, plus `#n` for the n-th of several in a function."""
    sites: list[Site] = []
    skipped: list[str] = []
    for path in sorted((tree / "src").rglob("*.rs")):
        rel = path.relative_to(tree).as_posix()
        text = path.read_text()
        found, notes = scan_file(rel, text)
        found += config_rechecks(cfg, rel, text)
        skipped += notes
        sites += sorted(found, key=lambda x: x.start)
    groups: dict[str, list[Site]] = {}
    for site in sites:
        variant = [t for t in ("gate-mutant", "tsan-only", "loom-only") if t in site.tags]
        if variant:
            site.anchor = base_anchor(site) + f"({variant[0]})"
            continue
        groups.setdefault(base_anchor(site), []).append(site)
    for base, group in groups.items():
        for n, site in enumerate(group, 1):
            site.anchor = base + (f"#{n}" if len(group) > 1 else "")
    return sites, skipped


def base_anchor(site: Site) -> str:
    """`file:function:operation(atomic)`, e.g.
    `ring/atomic.rs:pop:compare_exchange(head):success`: stable while
    lines move, unlike a line number."""
    file = site.file.removeprefix("src/")
    function = site.function.replace("const ", "const-").replace(" ", "-")
    if site.kind == "recheck":
        return f"{file}:{function}:recheck({site.ordering})"
    if site.kind == "fence":
        return f"{file}:{function}:fence()"
    suffix = {"cas-success": ":success", "cas-failure": ":failure"}.get(site.kind, "")
    op = site.op.split(" ")[0] if site.op.startswith("const ") is False else site.op.split("(")[-1].rstrip(")")
    return same_cas(f"{file}:{function}:{op}({site.receiver}){suffix}")


def same_cas(anchor: str) -> str:
    """A weak and a strong compare-and-swap have the same orderings and the
    same mutants: both are `compare_exchange` in an anchor, so that a
    switch between them keeps the site's results, justifications and
    litmus tags."""
    return anchor.replace("compare_exchange_weak(", "compare_exchange(")


def enumerate_mutants(tree: Path, cfg: dict) -> tuple[list[Mutant], list[str]]:
    sites, skipped = enumerate_sites(tree, cfg)
    mutants: list[Mutant] = []
    for site in sites:
        mutants += mutants_for(site, cfg)
    seen = set()
    for m in mutants:
        base, k = m.id, 2
        while m.id in seen:
            m.id = f"{base}#{k}"
            k += 1
        seen.add(m.id)
    return mutants, skipped


# === Scratch tree ===


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_scratch(base: str, overlay: list[str], dest: Path) -> dict:
    """Fills `dest` with the tree to mutate: the working tree as it is
    (`base` = "worktree"), or a commit plus `overlay` paths copied from the
    working tree. Returns a description of what it holds."""
    if dest.exists():
        # Keep target dirs elsewhere; only the sources are replaced.
        for child in dest.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    dest.mkdir(parents=True, exist_ok=True)
    if base == "worktree":
        files = git("ls-files", "-z", "-co", "--exclude-standard").split("\0")
        for f in filter(None, files):
            src = ROOT / f
            if src.is_file():
                (dest / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / f)
        desc = {"base": "worktree", "commit": git("rev-parse", "HEAD").strip(), "dirty": git("status", "--porcelain").strip() != ""}
    else:
        commit = git("rev-parse", base).strip()
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "xf", "-"], cwd=dest, input=archive, check=True)
        for path in overlay:
            src = ROOT / path
            if src.is_dir():
                for f in src.rglob("*"):
                    if f.is_file():
                        target = dest / f.relative_to(ROOT)
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(f, target)
            elif src.is_file():
                (dest / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / path)
        desc = {"base": commit, "overlay": overlay}
    # The campaign's own loom models, wired in the scratch copy when the
    # shared hub does not list them yet.
    hub = dest / "loom-tests" / "main.rs"
    if (dest / "loom-tests" / "orderings.rs").exists() and hub.exists():
        text = hub.read_text()
        if not re.search(r"^mod orderings;", text, re.M):
            hub.write_text(re.sub(r"^mod pool;$", "mod orderings;\nmod pool;", text, count=1, flags=re.M))
            desc["wired"] = "mod orderings; (scratch copy only)"
    digest = hashlib.sha256()
    for f in sorted(dest.rglob("*.rs")):
        digest.update(f.relative_to(dest).as_posix().encode())
        digest.update(f.read_bytes())
    desc["tree_sha256"] = digest.hexdigest()[:16]
    return desc


# === Running checks ===


def semantic_regex() -> str:
    """SEMANTIC_FAILURE from scripts/test.sh (one definition for the gate
    and the campaign), plus Miri's reports of the same kinds of failure."""
    text = (ROOT / "scripts" / "test.sh").read_text()
    m = re.search(r"^SEMANTIC_FAILURE='(.*)'$", text, re.M)
    base = m.group(1) if m else r"assertion failed|panicked at (\./)?(src|tests|loom-tests)/"
    miri = r"Data race detected|the evaluated program deadlocked|RC11 allows the forbidden outcome"
    return f"{base}|{miri}"


@dataclasses.dataclass
class StepResult:
    name: str
    rc: int
    seconds: float
    log: Path


def run_step(name: str, cmd: list[str], cwd: Path, env: dict, timeout: int, log: Path) -> StepResult:
    began = time.monotonic()
    full = ["nice", "-n", str(env.get("MUTATE_NICE", "15")), "timeout", "--kill-after=30", str(timeout), *cmd]
    with open(log, "w") as out:
        out.write("+ " + " ".join(cmd) + "\n")
        out.flush()
        # Its own process group, so that a stopped campaign stops its
        # build or test run too.
        proc = subprocess.Popen(full, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            rc = proc.wait()
        except BaseException:
            os.killpg(proc.pid, signal.SIGTERM)
            raise
    return StepResult(name, rc, time.monotonic() - began, log)


def steps_for(m: Mutant | None, cfg: dict, only: list[str] | None) -> list[dict]:
    """The checks for mutant `m` (all of them for the baseline), cheapest
    first: a normal build, the loom models aimed at its file, the rest of
    the loom suite, then the native and Miri ordering tests."""
    file_cfg = {}
    for pattern, entry in cfg.get("targets", {}).items():
        if m is None or m.file == pattern or (pattern.endswith("/") and m.file.startswith(pattern)):
            file_cfg = entry
            break
    steps = [{"name": "build", "kind": "build"}]
    native_only = m is not None and "native-only" in m.tags
    cs_only = m is not None and "cs-only" in m.tags
    if not native_only:
        loom_kind = "loom-cs" if cs_only else "loom"
        targeted = file_cfg.get("loom", [])
        for group in targeted:
            steps.append({"name": f"{loom_kind}:{group['filter']}", "kind": loom_kind, **group})
        if cfg["campaign"].get("loom_rest", True) and not NO_REST:
            steps.append({"name": f"{loom_kind}:rest", "kind": loom_kind, "filter": "",
                          "skip": [g["filter"] for g in targeted] + file_cfg.get("loom_rest_skip", [])})
    if m is not None and m.anchor in litmus_anchors():
        # First: it takes a second, and loom cannot tell SeqCst from AcqRel.
        steps.insert(1, {"name": "rc11", "kind": "rc11"})
    for test in file_cfg.get("native", cfg["campaign"].get("native", [])):
        steps.append({"name": f"native:{test}", "kind": "native", "test": test})
    if file_cfg.get("miri", cfg["campaign"].get("miri", [])):
        steps.append({"name": "miri", "kind": "miri", "filters": file_cfg.get("miri", cfg["campaign"].get("miri", []))})
    if only:
        steps = [s for s in steps
                 if s["kind"].split("-")[0] in only or s["name"] in only or s["kind"] == "build"]
    return steps


def baseline_steps(cfg: dict, only: list[str] | None) -> list[dict]:
    """The unmutated tree's checks: a build, the whole loom suite, the
    native and Miri ordering tests."""
    camp = cfg["campaign"]
    steps = [{"name": "build", "kind": "build"}, {"name": "loom:all", "kind": "loom", "filter": ""}]
    steps += [{"name": f"native:{t}", "kind": "native", "test": t} for t in camp.get("native", [])]
    if camp.get("miri"):
        steps.append({"name": "miri", "kind": "miri", "filters": camp["miri"]})
    if only:
        steps = [s for s in steps
                 if s["kind"].split("-")[0] in only or s["name"] in only or s["kind"] == "build"]
    return steps


LITMUS = HERE / "litmus.toml"
# Set by `run --no-rest`: only the models aimed at the mutant's file.
NO_REST = False
# Set by `run --sample`: mutant id -> the one step that killed it in the
# recorded results (the build still runs first).
SAMPLE_STEP: dict[str, str] = {}


def litmus_anchors() -> set[str]:
    anchors = set()
    for entry in rc11.load(LITMUS):
        for thread in entry["thread"]:
            for op in thread["ops"]:
                anchors.update(op.get("site", "").split())
    return anchors


def run_rc11(m: Mutant, log: Path) -> StepResult:
    """Weakens the litmus operations tagged with the mutant's anchor and
    checks each litmus test under RC11: exit status 1 (and the forbidden
    outcome's meaning) if one becomes possible."""
    began = time.monotonic()
    lines, rc = [], 0
    for entry in rc11.load(LITMUS):
        changed = rc11.weakened(entry, m.anchor, m.weakened)
        if changed is None:
            continue
        found = rc11.allows(rc11.parse(changed))
        if found is None:
            lines.append(f"still forbidden: {entry['name']} (the weakened ordering is not needed there)")
        else:
            rc = 1
            lines.append(f"RC11 allows the forbidden outcome of '{entry['name']}': {entry['meaning']} "
                         f"(registers {found})")
    log.write_text("\n".join(lines) + "\n")
    return StepResult("rc11", rc, time.monotonic() - began, log)


def command_for(step: dict, cfg: dict, target: Path) -> tuple[list[str], dict, int]:
    camp = cfg["campaign"]
    env = dict(os.environ)
    env["CARGO_INCREMENTAL"] = "1"
    env["CARGO_TERM_COLOR"] = "never"
    env.pop("RUSTFLAGS", None)
    kind = step["kind"]
    features = camp.get("features", "std,__test_hooks")
    if kind == "build":
        env["CARGO_TARGET_DIR"] = str(target / "native")
        return ["cargo", "build", "--release", "--features", features, "--lib"], env, camp["build_timeout_s"]
    if kind in ("loom", "loom-cs"):
        flags = "--cfg loom -C debug-assertions"
        feats = features
        if kind == "loom-cs":
            flags += " --cfg taskring_force_cs"
            feats += ",critical-section"
        env["RUSTFLAGS"] = flags
        # CI shares the loom stage's build directory (same flags): the
        # dependencies are built already, and the scratch copy's crate
        # has its own fingerprint there.
        shared = os.environ.get("MUTATE_LOOM_TARGET") if kind == "loom" else None
        env["CARGO_TARGET_DIR"] = shared or str(target / kind)
        env["LOOM_MAX_PREEMPTIONS"] = str(camp.get("loom_preemptions", 2))
        env["LOOM_MAX_BRANCHES"] = str(camp.get("loom_branches", 10000))
        args = ["cargo", "test", "--release", "--features", feats, "--test", "loom", "--",
                f"--test-threads={camp.get('loom_threads', 2)}"]
        if step.get("filter"):
            args.append(step["filter"])
        for skip in step.get("skip", []):
            args += ["--skip", skip]
        return args, env, step.get("timeout_s", camp["loom_timeout_s"])
    if kind == "native":
        env["CARGO_TARGET_DIR"] = str(target / "native")
        return (["cargo", "test", "--release", "--features", features, "--test", step["test"], "--",
                 "--test-threads=2"], env, camp["native_timeout_s"])
    if kind == "miri":
        env["CARGO_TARGET_DIR"] = str(target / "miri")
        env["MIRIFLAGS"] = camp.get("miri_flags", "")
        args = ["cargo", "+nightly", "miri", "test", "--features", camp.get("miri_features", "std"),
                "--test", camp.get("miri_test", "orderings"), "--"]
        args += step["filters"]
        return args, env, camp["miri_timeout_s"]
    raise ValueError(kind)


PANIC = re.compile(r"^thread '([^']+)'(?: \(\d+\))? panicked at ([^\n]*):\n([^\n]*)", re.M)
OWN_CODE = re.compile(r"^(\./)?(src|tests|loom-tests)/")


def failed_tests(text: str) -> list[str]:
    """Tests that failed: `FAILED` lines, and tests whose panic aborted the
    whole binary before libtest could report them (a panic while
    unwinding)."""
    names = re.findall(r"^test (\S+) \.\.\. FAILED$", text, re.M)
    for m in PANIC.finditer(text):
        if "::" in m.group(1) and m.group(1) not in names:
            names.append(m.group(1))
    return names


def step_verdict(r: StepResult, regex: str) -> tuple[str, str]:
    """How one failed step failed: ("semantic" | "other" | "timeout", report).

    A loom or libtest log is judged test by test, on each failed test's
    first panic: semantic if it was raised in our code (src/, tests/,
    loom-tests/) or is one of loom's own reports (causality, leak,
    deadlock), so a model that first hits loom's branch limit and then
    panics again while unwinding counts as "other". Any other log (a build,
    Miri) is judged by the regex over the whole text."""
    text = r.log.read_text(errors="replace")
    first: dict[str, tuple[str, str]] = {}
    for m in PANIC.finditer(text):
        first.setdefault(m.group(1), (m.group(2), m.group(3)))
    failed = failed_tests(text)
    if failed:
        for name in failed:
            loc, msg = first.get(name, ("", ""))
            if OWN_CODE.match(loc) or re.search(regex, msg):
                return "semantic", f"{msg.strip()[:120]} ({name})"
        name = failed[0]
        loc, msg = first.get(name, ("", "no panic message"))
        return "other", f"{msg.strip()[:120]} ({name})"
    if r.rc in (124, 137):
        return "timeout", f"no result within the step's limit ({r.seconds:.0f}s)"
    m = re.search(regex, text)
    if m:
        line_start = text.rfind("\n", 0, m.start()) + 1
        line_end = text.find("\n", m.end())
        return "semantic", text[line_start : line_end if line_end >= 0 else None].strip()[:200]
    first_error = re.search(r"^(error(\[E\d+\])?:.*)$", text, re.M)
    return "other", (first_error.group(0) if first_error else f"exit status {r.rc}")[:160]


def classify(results: list[StepResult], regex: str) -> tuple[str, str, str]:
    """(outcome, step that decided it, first report): killed-semantic if
    any step failed for a semantic reason, else killed-other, else
    timeout, else survived."""
    verdicts = [(r, *step_verdict(r, regex)) for r in results if r.rc != 0]
    for kind, outcome in (("semantic", "killed-semantic"), ("other", "killed-other"), ("timeout", "timeout")):
        for r, verdict, report in verdicts:
            if verdict == kind:
                return outcome, r.name, report
    return "survived", "", ""


# === Results ===

FIELDS = ["id", "anchor", "file", "line", "function", "kind", "op", "original", "weakened", "tags", "outcome",
          "decided_by", "report", "seconds", "tree", "when"]


def load_results(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        return {row["id"]: row for row in csv.DictReader(f)}


def write_results(path: Path, rows: dict[str, dict], order: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = [rows[i] for i in order if i in rows] + [r for i, r in rows.items() if i not in order]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for row in ordered:
            w.writerow({k: row.get(k, "") for k in FIELDS})
    tmp.replace(path)


def markdown(rows: list[dict]) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    out = ["| outcome | mutants |", "|---|---|"]
    # Every outcome, 0 included, so that a table says "survived | 0".
    named = ["excluded", "killed-semantic", "killed-other", "timeout", "survived-justified", "survived"]
    out += [f"| {k} | {counts.get(k, 0)} |" for k in named]
    out += [f"| {k} | {v} |" for k, v in sorted(counts.items()) if k not in named]
    out += [f"| generated (total) | {len(rows)} |", ""]
    by: dict[str, int] = {}
    for r in rows:
        if r["outcome"] == "killed-semantic":
            check = "rc11" if r["decided_by"] == "rc11" else "loom (" + r["decided_by"].removeprefix("loom:") + ")"
            by[check] = by.get(check, 0) + 1
    if by:
        out += ["| killed for a semantic reason by | mutants |", "|---|---|"]
        out += [f"| {k} | {v} |" for k, v in sorted(by.items())]
        out.append("")
    out += ["| id | function | weakening | outcome | decided by | first report |", "|---|---|---|---|---|---|"]
    for r in rows:
        report = r["report"].replace("|", "\\|")
        out.append(f"| `{r['id']}` | `{r['function']}` | {r['op']} {r['original']} → {r['weakened']} | "
                   f"{r['outcome']} | {r['decided_by']} | {report} |")
    return "\n".join(out) + "\n"


# === Commands ===


def load_config() -> dict:
    with open(CONFIG, "rb") as f:
        return tomllib.load(f)


def select(mutants: list[Mutant], args) -> list[Mutant]:
    chosen = mutants
    if args.file:
        chosen = [m for m in chosen if any(m.file == f or m.file.startswith(f.rstrip("/") + "/") for f in args.file)]
    if args.id:
        chosen = [m for m in chosen if any(m.id == i or m.id.startswith(i) for i in args.id)]
    if args.match:
        chosen = [m for m in chosen if re.search(args.match, m.id)]
    if getattr(args, "rerun", None):
        previous = load_results(Path(args.rerun))
        again = {row_key(r) for r in previous.values() if r["outcome"] in ("survived", "killed-other", "timeout")}
        chosen = [m for m in chosen if mutant_key(m) in again]
    return chosen


def cmd_list(args, cfg) -> int:
    mutants, skipped = enumerate_mutants(ROOT, cfg)
    mutants = select(mutants, args)
    if args.json:
        json.dump([dataclasses.asdict(m) for m in mutants], sys.stdout, indent=1)
        print()
        return 0
    for m in mutants:
        flag = f"  [excluded: {m.excluded}]" if m.excluded else ""
        tags = f" {{{','.join(m.tags)}}}" if m.tags else ""
        print(f"{m.id:58} {m.op} {m.original} -> {m.weakened}{tags}{flag}")
        if args.verbose:
            print(f"    key: {mutant_key(m)}")
    live = [m for m in mutants if not m.excluded]
    print(f"\n{len(mutants)} mutants, {len(live)} to run, {len(mutants) - len(live)} excluded", file=sys.stderr)
    if args.verbose:
        for note in skipped:
            print("not a site: " + note, file=sys.stderr)
    return 0


def cmd_run(args, cfg) -> int:
    global NO_REST
    NO_REST = args.no_rest
    camp = cfg["campaign"]
    scratch = Path(args.scratch)
    target = Path(args.target)
    desc = make_scratch(args.base, args.overlay, scratch)
    print(f"scratch tree {scratch}: {desc}", flush=True)
    mutants, _ = enumerate_mutants(scratch, cfg)
    mutants = select(mutants, args)
    if args.sample is not None:
        mutants = sample(mutants, args.sample, args, cfg)
        if not mutants:
            print("FAIL: --sample found no mutant that the results record as killed by a loom model", flush=True)
            return 1
    results_path = Path(args.results)
    rows = load_results(results_path) if args.resume else {}
    order = [m.id for m in mutants]
    regex = semantic_regex()
    logs = target / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    only = args.only.split(",") if args.only else None
    began = time.monotonic()
    tree = f"{desc.get('base', '')[:12]}{'+' + ','.join(desc['overlay']) if desc.get('overlay') else ''}" \
           f"{'+dirty' if desc.get('dirty') else ''}"

    broken: list[str] = list(args.skip_test or [])
    if not args.no_baseline:
        print("=== baseline (no mutant): every check must pass", flush=True)
        for step in baseline_steps(cfg, only):
            for attempt in range(4):
                if step["kind"].startswith("loom"):
                    step = {**step, "skip": broken}
                cmd, env, timeout = command_for(step, cfg, target)
                r = run_step(step["name"], cmd, scratch, env, timeout,
                             logs / f"baseline.{safe(step['name'])}.{attempt + 1}.log")
                print(f"  {step['name']}: rc={r.rc} {r.seconds:.0f}s (log {r.log})", flush=True)
                if r.rc == 0:
                    break
                text = r.log.read_text(errors="replace")
                failed = failed_tests(text)
                if r.rc in (124, 137):
                    # Too slow to finish at the baseline: the models that
                    # were still running.
                    done = set(re.findall(r"^test (\S+) \.\.\. ", text, re.M))
                    failed += [t for t in re.findall(r"^test (\S+) has been running", text, re.M)
                               if t not in done and t not in failed]
                if step["kind"].startswith("loom") and failed:
                    # Models broken before any mutation tell nothing about
                    # a mutant: leave them out, say so, and run the rest.
                    print(f"  WARNING: loom models failing at the baseline, left out: {' '.join(failed)}", flush=True)
                    broken += failed
                    continue
                print(f"FAIL: the baseline fails {step['name']} (log: {r.log}); fix that first", flush=True)
                return 2
            else:
                print(f"FAIL: the baseline still fails {step['name']}", flush=True)
                return 2
    if broken:
        (results_path.parent).mkdir(parents=True, exist_ok=True)
        results_path.with_suffix(".broken.txt").write_text("\n".join(broken) + "\n")

    failed_expectation = []
    cs_baseline: dict[str, list[str] | None] = {}
    for n, m in enumerate(mutants, 1):
        if m.excluded:
            rows[m.id] = row_for(m, "excluded", "", m.excluded, 0, tree)
            continue
        if args.resume and m.id in rows and rows[m.id].get("outcome") not in ("", None):
            continue
        path = scratch / m.file
        original = path.read_text()
        mutated = original[: m.start] + m.replacement + original[m.end :]
        print(f"=== [{n}/{len(mutants)}] {m.id}: {m.op} {m.original} -> {m.weakened} in {m.function}", flush=True)
        t0 = time.monotonic()
        results = []
        try:
            path.write_text(mutated)
            steps = steps_for(m, cfg, only)
            if m.id in SAMPLE_STEP:
                steps = [s for s in steps if s["kind"] == "build" or s["name"] == SAMPLE_STEP[m.id]]
                if len(steps) < 2:
                    print(f"  the recorded step {SAMPLE_STEP[m.id]} is no check of this mutant now", flush=True)
            for step in steps:
                if step["kind"] == "loom-cs" and step["name"] not in cs_baseline:
                    # The critical-section build has no baseline of its own
                    # yet: run this step once on the unmutated file.
                    path.write_text(original)
                    cmd, env, timeout = command_for({**step, "skip": broken}, cfg, target)
                    b = run_step(step["name"], cmd, scratch, env, timeout,
                                 logs / f"baseline.{safe(step['name'])}.log")
                    text = b.log.read_text(errors="replace")
                    cs_baseline[step["name"]] = failed_tests(text) if b.rc else []
                    if b.rc and not cs_baseline[step["name"]]:
                        cs_baseline[step["name"]] = None  # Does not build or run at all.
                    print(f"  baseline {step['name']}: rc={b.rc} {b.seconds:.0f}s; left out: "
                          f"{cs_baseline[step['name']]}", flush=True)
                    path.write_text(mutated)
                if step["kind"] == "loom-cs" and cs_baseline[step["name"]] is None:
                    continue
                if step["kind"].startswith("loom"):
                    step = {**step, "skip": step.get("skip", []) + broken + (cs_baseline.get(step["name"]) or [])}
                log = logs / f"{safe(m.id)}.{safe(step['name'])}.log"
                if step["kind"] == "rc11":
                    r = run_rc11(m, log)
                else:
                    cmd, env, timeout = command_for(step, cfg, target)
                    r = run_step(step["name"], cmd, scratch, env, timeout, log)
                results.append(r)
                verdict = step_verdict(r, regex)[0] if r.rc != 0 else "pass"
                print(f"  {step['name']}: rc={r.rc} {r.seconds:.0f}s {verdict}", flush=True)
                # Stop at the first semantic kill; after any other failure
                # (a model at loom's branch limit) the later checks may
                # still kill it for a reason that means something.
                if verdict == "semantic" and not args.keep_going:
                    break
        finally:
            path.write_text(original)
        outcome, by, report = classify(results, regex)
        print(f"  -> {outcome} {by} {report}", flush=True)
        rows[m.id] = row_for(m, outcome, by, report, time.monotonic() - t0, tree)
        write_results(results_path, rows, order)
        if args.expect_killed and outcome not in ("killed-semantic",):
            failed_expectation.append(f"{m.id}: {outcome} {report}")
    write_results(results_path, rows, order)
    md = results_path.with_suffix(".md")
    md.write_text(markdown([rows[i] for i in order if i in rows]))
    total = time.monotonic() - began
    print(f"=== done: {len(mutants)} mutants in {total:.0f}s; results {results_path} and {md}", flush=True)
    if failed_expectation:
        print("FAIL: mutants that should have been killed for a semantic reason:")
        for line in failed_expectation:
            print("  " + line)
        return 1
    return 0


def row_for(m: Mutant, outcome: str, by: str, report: str, seconds: float, tree: str) -> dict:
    return {
        "id": m.id, "anchor": m.anchor, "file": m.file, "line": m.line, "function": m.function, "kind": m.kind, "op": m.op,
        "original": m.original, "weakened": m.weakened, "tags": " ".join(m.tags), "outcome": outcome,
        "decided_by": by, "report": report, "seconds": f"{seconds:.0f}", "tree": tree,
        "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
    }


def safe(s: str) -> str:
    return re.sub(r"[^\w.-]+", "_", s)


def sample(mutants: list[Mutant], count: int, args, cfg) -> list[Mutant]:
    """A small rotating sample of the mutants the campaign recorded as
    killed for a semantic reason by the loom models aimed at their file:
    those in files changed since the merge base first, the rest chosen by
    the day of the year. Each is run again with the one loom step that
    killed it (SAMPLE_STEP). The RC11 kills need no sample: `mutate.py
    litmus` checks every one of them in seconds."""
    expected = load_results(HERE / "results" / "latest.csv")
    step = {row_key(r): r["decided_by"] for r in expected.values()
            if r["outcome"] == "killed-semantic" and r["decided_by"].startswith("loom")
            and not r["decided_by"].endswith(":rest")}
    pool = [m for m in mutants if not m.excluded and mutant_key(m) in step]
    for m in pool:
        SAMPLE_STEP[m.id] = step[mutant_key(m)]
    if not pool:
        return []
    changed: set[str] = set()
    try:
        base = git("merge-base", "HEAD", args.merge_base).strip()
        changed = set(git("diff", "--name-only", base).split())
    except subprocess.CalledProcessError:
        pass
    day = int(os.environ.get("MUTATE_DAY", datetime.date.today().timetuple().tm_yday))
    first = [m for m in pool if m.file in changed]
    rest = [m for m in pool if m.file not in changed]
    chosen: list[Mutant] = []
    for group in (first, rest):
        if not group:
            continue
        stride = max(1, len(group) // max(1, count))
        k = 0
        while len(chosen) < count and k < len(group):
            pick = group[(day * stride + k * stride + k) % len(group)]
            if pick not in chosen:
                chosen.append(pick)
            k += 1
    return chosen[:count]


def key_of(anchor: str, original: str, weakened: str) -> str:
    """A mutant's identity that survives edits elsewhere in its file: its
    site's anchor and the weakening."""
    return f"{same_cas(anchor)} {original}->{weakened}"


def row_key(row: dict) -> str:
    return key_of(row.get("anchor", ""), row["original"], row["weakened"])


def mutant_key(m: Mutant) -> str:
    return key_of(m.anchor, m.original, m.weakened)


def cmd_litmus(args, cfg) -> int:
    """Checks litmus.toml against the code (every tagged operation's site
    exists, with the ordering the litmus gives it), checks that each
    litmus forbids its outcome, and prints the RC11 verdict on every
    mutant whose site a litmus tags. Needs no build."""
    sites, _ = enumerate_sites(ROOT, cfg)
    by_anchor = {site.anchor: site for site in sites}
    problems = []
    for entry in rc11.load(LITMUS):
        for thread in entry["thread"]:
            for op in thread["ops"]:
                for anchor in op.get("site", "").split():
                    site = by_anchor.get(anchor)
                    if site is None:
                        problems.append(f"{entry['name']}: no site {anchor} in the code")
                    elif site.kind in WEAKER and site.ordering != op["order"]:
                        problems.append(f"{entry['name']}: {anchor} is {site.ordering} in the code, "
                                        f"{op['order']} in the litmus")
        if rc11.allows(rc11.parse(entry)) is not None:
            problems.append(f"{entry['name']}: its forbidden outcome is allowed as the code stands")
    mutants, _ = enumerate_mutants(ROOT, cfg)
    anchors = litmus_anchors()
    # The mutants the results record as killed by RC11 must still be.
    recorded = {row_key(r) for r in load_results(HERE / "results" / "latest.csv").values()
                if r["outcome"] == "killed-semantic" and r["decided_by"] == "rc11"}
    kills = 0
    for m in mutants:
        if m.anchor not in anchors or m.excluded:
            if mutant_key(m) in recorded:
                problems.append(f"{m.id}: recorded as killed by rc11, but no litmus test tags {m.anchor}")
            continue
        verdicts = []
        for entry in rc11.load(LITMUS):
            changed = rc11.weakened(entry, m.anchor, m.weakened)
            if changed is not None:
                allowed = rc11.allows(rc11.parse(changed)) is not None
                verdicts.append(f"{'KILLS' if allowed else 'holds'}: {entry['name']}")
        print(f"{m.id}\n    " + "\n    ".join(verdicts))
        if mutant_key(m) in recorded:
            if any(v.startswith("KILLS") for v in verdicts):
                kills += 1
            else:
                problems.append(f"{m.id}: recorded as killed by rc11, but every litmus test holds now")
    gone = recorded - {mutant_key(m) for m in mutants}
    problems += [f"recorded as killed by rc11, no such mutant now: {k}" for k in sorted(gone)]
    print(f"{kills} of the {len(recorded)} mutants recorded as killed by rc11 are still killed")
    for p in problems:
        print("PROBLEM: " + p)
    return 1 if problems else 0


def cmd_proposals(args, cfg) -> int:
    """Applies the edits of proposals.toml (all, or --id) to a scratch
    copy and checks them together: RC11 with their litmus weakenings, then
    a build and the loom suite."""
    with open(HERE / "proposals.toml", "rb") as f:
        proposals = tomllib.load(f)["proposal"]
    if args.id:
        proposals = [p for p in proposals if p["id"] in args.id]
    failures = []
    # RC11 first: every litmus test must still forbid its outcome.
    for entry in rc11.load(LITMUS):
        changed = entry
        for p in proposals:
            for w in p.get("litmus", []):
                changed = rc11.weakened(changed, w["site"], w["to"]) or changed
        found = rc11.allows(rc11.parse(changed))
        print(f"rc11: {entry['name']}: {'ALLOWED ' + str(found) if found else 'forbidden'}")
        if found:
            failures.append(f"rc11: {entry['name']}")
    scratch = Path(args.scratch)
    desc = make_scratch("worktree", [], scratch)
    print(f"scratch tree {scratch}: {desc}")
    for p in proposals:
        for e in p["edits"]:
            path = scratch / e["file"]
            text = path.read_text()
            if text.count(e["old"]) != 1:
                failures.append(f"{p['id']}: the text to replace in {e['file']} is not there exactly once")
                continue
            path.write_text(text.replace(e["old"], e["new"]))
        print(f"applied {p['id']}: {p['title']}")
    if failures:
        print("FAIL: " + "; ".join(failures))
        return 1
    target = Path(args.target)
    logs = target / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    regex = semantic_regex()
    steps = [{"name": "build", "kind": "build"}, {"name": "loom:all", "kind": "loom", "filter": "",
                                                   "skip": list(args.skip_test or [])}]
    for step in steps:
        cmd, env, timeout = command_for(step, cfg, target)
        r = run_step(step["name"], cmd, scratch, env, timeout, logs / f"proposals.{safe(step['name'])}.log")
        verdict = step_verdict(r, regex) if r.rc else ("pass", "")
        print(f"  {step['name']}: rc={r.rc} {r.seconds:.0f}s {verdict[0]} {verdict[1]}", flush=True)
        if r.rc:
            failures.append(f"{step['name']}: {verdict[1]} (log {r.log})")
    if failures:
        print("FAIL: " + "; ".join(failures))
        return 1
    print("ok: the proposals keep every litmus outcome forbidden and the loom suite passing")
    return 0


def cmd_report(args, cfg) -> int:
    """Merges result CSVs (later files win for the same mutant), adds the
    justifications of justified.toml to survivors, writes the merged CSV
    (--merge) and prints the markdown tables."""
    # Rows written before the anchor column take it from the current tree.
    current = enumerate_mutants(ROOT, cfg)[0]
    by_id = {m.id: m for m in current}
    by_key = {mutant_key(m): m for m in current}
    rows: dict[str, dict] = {}
    for path in args.results or [str(HERE / "results" / "latest.csv")]:
        for row in load_results(Path(path)).values():
            if not row.get("anchor") and row["id"] in by_id:
                row["anchor"] = by_id[row["id"]].anchor
            # Keyed by anchor and weakening: a rerun on a tree whose lines
            # moved replaces the earlier row of the same mutant.
            rows[row_key(row) if row.get("anchor") else row["id"]] = row
    # The report is about the mutants of the tree as it is: rows of sites
    # that no longer exist are left out (said on stderr), excluded mutants
    # need no run, and a mutant with no row is reported as not run. Ids and
    # lines are today's; the `tree` column says what each row was run on.
    for key in [k for k in rows if k not in by_key]:
        print(f"report: left out {rows[key]['id']} ({key}): no such mutant in the tree now", file=sys.stderr)
        del rows[key]
    for key, m in by_key.items():
        if key in rows:
            rows[key]["id"], rows[key]["line"], rows[key]["anchor"] = m.id, m.line, m.anchor
        elif m.excluded:
            rows[key] = row_for(m, "excluded", "", m.excluded, 0, "not run")
        else:
            print(f"report: {m.id} ({key}) has no result: not run", file=sys.stderr)
            rows[key] = row_for(m, "not-run", "", "no result in the result files given", 0, "")
    order = sorted(rows, key=lambda i: (rows[i]["file"], int(rows[i]["line"] or 0), i))
    if args.merge:
        # The measured outcomes; the justifications are added below only.
        write_results(Path(args.merge), rows, order)
    rows = {k: dict(r) for k, r in rows.items()}
    justified = load_justified()
    for row in rows.values():
        key = row_key(row)
        if row["outcome"] == "survived" and key in justified:
            row["outcome"] = "survived-justified"
            row["report"] = justified[key]
    for key in sorted(set(justified) - {row_key(r) for r in rows.values() if r["outcome"] == "survived-justified"}):
        print(f"report: justified.toml entry that justifies no survivor: {key}", file=sys.stderr)
    table = markdown([rows[i] for i in order])
    if args.doc:
        # Between the markers of docs/mutation.md.
        doc = Path(args.doc)
        text = doc.read_text()
        begin, end = "<!-- RESULTS -->", "<!-- /RESULTS -->"
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        doc.write_text(f"{head}{begin}\n\n{table}\n{end}{tail}")
    print(table, end="")
    return 0


def load_justified() -> dict[str, str]:
    """mutant key (`anchor original->weakened`) -> the one-line reason a
    survivor is fine; docs/mutation.md has the argument."""
    path = HERE / "justified.toml"
    if not path.exists():
        return {}
    with open(path, "rb") as f:
        entries = tomllib.load(f).get("justified", [])
    return {e["mutant"]: e["why"] for e in entries}


def main() -> int:
    # A terminated run still restores the mutated file (`finally`).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cfg = load_config()
    camp = cfg["campaign"]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("list", "run"):
        s = sub.add_parser(name)
        s.add_argument("--file", action="append", help="only mutants in this file or directory (repeatable)")
        s.add_argument("--id", action="append", help="only this mutant id or id prefix (repeatable)")
        s.add_argument("--match", help="only mutant ids matching this regex")
        if name == "list":
            s.add_argument("--json", action="store_true")
            s.add_argument("-v", "--verbose", action="store_true", help="also list the Ordering uses that are no site")
        else:
            s.add_argument("--base", default=camp.get("base", "worktree"),
                           help="'worktree' (as it is now) or a commit to mutate (default: %(default)s)")
            s.add_argument("--overlay", action="append", default=None,
                           help="with a commit base: working-tree paths copied over it (repeatable)")
            s.add_argument("--scratch", default=camp.get("scratch", "/tmp/taskring-mutate/tree"))
            s.add_argument("--target", default=str(ROOT / "target" / "mutation"))
            s.add_argument("--results", default=str(HERE / "results" / "latest.csv"))
            s.add_argument("--resume", action="store_true", help="keep results already in the CSV")
            s.add_argument("--keep-going", action="store_true", help="run every check, not only up to the first kill")
            s.add_argument("--only", help="comma-separated step kinds or names to run (build always runs)")
            s.add_argument("--no-baseline", action="store_true")
            s.add_argument("--skip-test", action="append", help="a loom model to leave out (repeatable)")
            s.add_argument("--no-rest", action="store_true", help="only the loom models aimed at each file")
            s.add_argument("--sample", type=int, help="a rotating sample of N mutants known to be killed")
            s.add_argument("--rerun", help="only the mutants this result CSV records as not killed")
            s.add_argument("--merge-base", default="origin/main", help="for --sample: changed files since here")
            s.add_argument("--expect-killed", action="store_true", help="fail unless every mutant is killed semantically")
    sub.add_parser("litmus", help="check litmus.toml against the code and print RC11 verdicts")
    pr = sub.add_parser("proposals", help="check the edits of proposals.toml together")
    pr.add_argument("--id", action="append", help="only this proposal (repeatable)")
    pr.add_argument("--scratch", default="/tmp/taskring-mutate/proposals")
    pr.add_argument("--target", default=str(ROOT / "target" / "mutation" / "proposals"))
    pr.add_argument("--skip-test", action="append", help="a loom model to leave out (repeatable)")
    r = sub.add_parser("report")
    r.add_argument("--results", action="append", help="a result CSV (repeatable; later ones win)")
    r.add_argument("--merge", help="write the merged CSV here")
    r.add_argument("--doc", help="also write the tables into this file, between <!-- RESULTS --> markers")
    args = p.parse_args()
    if getattr(args, "overlay", None) is None and args.cmd == "run":
        args.overlay = camp.get("overlay", [])
    return {"list": cmd_list, "run": cmd_run, "report": cmd_report, "litmus": cmd_litmus,
            "proposals": cmd_proposals}[args.cmd](args, cfg)


if __name__ == "__main__":
    sys.exit(main())
