#!/usr/bin/env python3
"""An exhaustive checker of small litmus tests under RC11, the memory model
whose `SeqCst` rules C++20 adopted (P0668) and Rust follows.

Loom treats a `SeqCst` access as `AcqRel`, and under loom the crate's
facade turns the `SeqCst` loads that close a store-buffering pattern into
read-modify-writes; Miri's weak-memory emulation is stronger than C++20 for
`SeqCst` accesses. None of them can tell a `SeqCst` claim CAS from an
`AcqRel` one. This checker can: it enumerates every execution of a litmus
test (reads-from and modification orders), keeps those RC11 allows, and
says whether a forbidden outcome is among them.

The litmus tests (litmus.toml) transcribe the wake-up and full/empty
protocols of the crate, each operation tagged with the code site it stands
for; mutate.py weakens the tagged operation as it weakens the code, and
counts a mutant as killed when the outcome its protocol forbids becomes
possible (and as proven redundant when it stays impossible).

RC11 (Lahav, Vafeiadis, Kang, Hur, Dreyer: "Repairing sequential
consistency in C/C++11", PLDI 2017), with C++20's release sequences (RMW
chains only). Read-modify-writes are single events that read and write.

Run `python3 scripts/mutate/rc11.py --self-test` for the classic litmus
tests and their known answers.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
import tomllib
from pathlib import Path

RANK = {"Relaxed": 0, "Acquire": 1, "Release": 1, "AcqRel": 2, "SeqCst": 3}


def is_acq(order: str) -> bool:
    return order in ("Acquire", "AcqRel", "SeqCst")


def is_rel(order: str) -> bool:
    return order in ("Release", "AcqRel", "SeqCst")


@dataclasses.dataclass
class Event:
    id: int
    thread: int
    index: int  # position in its thread
    kind: str  # "R", "W", "U" (read-modify-write), "F"
    loc: str | None
    order: str
    # W: the value; U: how the new value follows from the old
    # ("+k", "=v", "|v", "&v"); R/U: the register the read value goes to.
    value: str | int | None = None
    reg: str | None = None
    expect: int | None = None  # U: a CAS that succeeded, so it read this
    site: str = ""

    @property
    def reads(self) -> bool:
        return self.kind in ("R", "U")

    @property
    def writes(self) -> bool:
        return self.kind in ("W", "U")


def apply(update: str | int, old: int) -> int:
    if isinstance(update, int):
        return update
    op, arg = update[0], int(update[1:])
    return {"+": old + arg, "=": arg, "|": old | arg, "&": old & arg}[op]


# === Relations over event ids ===


def compose(a: set, b: set) -> set:
    by_src: dict[int, list[int]] = {}
    for x, y in b:
        by_src.setdefault(x, []).append(y)
    return {(x, z) for x, y in a for z in by_src.get(y, ())}


def closure(r: set) -> set:
    result = set(r)
    while True:
        new = compose(result, result) - result
        if not new:
            return result
        result |= new


def acyclic(r: set) -> bool:
    return all(x != y for x, y in closure(r))


def identity(ids) -> set:
    return {(i, i) for i in ids}


# === Executions ===


@dataclasses.dataclass
class Litmus:
    name: str
    init: dict[str, int]
    threads: list[list[Event]]
    forbidden: str  # a Python expression over the registers
    meaning: str = ""


def events_of(t: Litmus) -> list[Event]:
    return [e for thread in t.threads for e in thread]


def executions(t: Litmus):
    """Every RC11-consistent execution: yields the registers' values."""
    evs = events_of(t)
    # Initial writes: one per location, before everything.
    inits = {}
    for k, loc in enumerate(sorted(t.init)):
        inits[loc] = Event(-1 - k, -1, 0, "W", loc, "Relaxed", t.init[loc])
    allev = {e.id: e for e in evs} | {e.id: e for e in inits.values()}
    reads = [e for e in evs if e.reads]
    writes_at = {loc: [inits[loc]] + [e for e in evs if e.writes and e.loc == loc] for loc in t.init}
    sb = set()
    for thread in t.threads:
        for a, b in itertools.combinations(thread, 2):
            sb.add((a.id, b.id))
    for w in inits.values():
        for e in evs:
            sb.add((w.id, e.id))
    # Every modification order per location (the initial write first).
    mo_choices = []
    locs = sorted(t.init)
    for loc in locs:
        rest = writes_at[loc][1:]
        mo_choices.append([[inits[loc]] + list(p) for p in itertools.permutations(rest)])
    rf_choices = [[w for w in writes_at[r.loc] if w.id != r.id] for r in reads]
    for mos in itertools.product(*mo_choices):
        mo_pos = {}
        mo = set()
        for order in mos:
            for i, w in enumerate(order):
                mo_pos[w.id] = i
            for a, b in itertools.combinations(order, 2):
                mo.add((a.id, b.id))
        for rfs in itertools.product(*rf_choices):
            rf_of = {r.id: w for r, w in zip(reads, rfs)}
            # Atomicity: an RMW reads from its immediate predecessor in mo.
            if any(r.kind == "U" and mo_pos[w.id] != mo_pos[r.id] - 1 for r, w in zip(reads, rfs)):
                continue
            rf = {(w.id, r.id) for r, w in zip(reads, rfs)}
            # No thin air, and values by evaluation in (sb | rf) order.
            if not acyclic(sb | rf):
                continue
            values = evaluate(allev, evs, rf_of, sb | rf)
            if values is None:
                continue
            regs, written = values
            if not consistent(allev, evs, sb, rf, rf_of, mo):
                continue
            yield regs


def evaluate(allev, evs, rf_of, order):
    """Read values (registers) and written values, computed along `order`
    (sb | rf, acyclic); None when a successful CAS would have read another
    value (that execution is another branch of the code)."""
    written = {e.id: e.value for e in allev.values() if e.thread == -1}
    regs = {}
    indegree = {e.id: 0 for e in evs}
    successors: dict[int, list[int]] = {}
    for a, b in order:
        if a in indegree and b in indegree:
            successors.setdefault(a, []).append(b)
            indegree[b] += 1
    ready = [i for i, d in indegree.items() if d == 0]
    while ready:
        i = ready.pop()
        e = allev[i]
        if e.reads:
            old = written[rf_of[i].id]
            if e.reg:
                regs[e.reg] = old
            if e.kind == "U":
                if e.expect is not None and old != e.expect:
                    return None
                written[i] = apply(e.value, old)
        elif e.kind == "W":
            written[i] = e.value
        for j in successors.get(i, []):
            indegree[j] -= 1
            if indegree[j] == 0:
                ready.append(j)
    return regs, written


def consistent(allev, evs, sb, rf, rf_of, mo) -> bool:
    ids = list(allev)
    ev = allev
    # fr: a read before every write mo-after the one it read from.
    fr = set()
    for r_id, w in rf_of.items():
        for a, b in mo:
            if a == w.id and b != r_id:
                fr.add((r_id, b))
    eco = closure(rf | mo | fr)
    # Release sequences (C++20): a write and the chain of RMWs reading it.
    rs = identity(i for i in ids if ev[i].writes)
    rmw_rf = {(w, r) for w, r in rf if ev[r].kind == "U"}
    rs = rs | compose(rs, closure(rmw_rf))
    # sw = [E⊒rel] ; ([F] ; sb)? ; rs ; rf ; [R⊒rlx] ; (sb ; [F])? ; [E⊒acq]
    rel_heads = set()
    for i in ids:
        e = ev[i]
        if e.kind == "F" and is_rel(e.order):
            rel_heads |= {(i, j) for (a, j) in sb if a == i and ev[j].writes}
        elif e.writes and is_rel(e.order):
            rel_heads.add((i, i))
    acq_tails = set()
    for i in ids:
        e = ev[i]
        if e.kind == "F" and is_acq(e.order):
            acq_tails |= {(j, i) for (j, b) in sb if b == i and ev[j].reads}
        elif e.reads and is_acq(e.order):
            acq_tails.add((i, i))
    sw = compose(compose(compose(rel_heads, rs), rf), acq_tails)
    hb = closure(sb | sw)
    # Coherence: hb ; eco? irreflexive.
    if any(a == b for a, b in hb) or any(a == b for a, b in compose(hb, eco)):
        return False
    # SC: psc acyclic.
    def loc(i):
        return ev[i].loc

    def same_loc(a, b):
        return loc(a) is not None and loc(a) == loc(b)

    sb_neq = {(a, b) for a, b in sb if not same_loc(a, b)}
    hb_loc = {(a, b) for a, b in hb if same_loc(a, b)}
    scb = sb | compose(compose(sb_neq, hb), sb_neq) | hb_loc | mo | fr
    e_sc = identity(i for i in ids if ev[i].kind != "F" and ev[i].order == "SeqCst")
    f_sc = identity(i for i in ids if ev[i].kind == "F" and ev[i].order == "SeqCst")
    hb_opt = hb | identity(ids)
    left = e_sc | compose(f_sc, hb_opt)
    right = e_sc | compose(hb_opt, f_sc)
    psc_base = compose(compose(left, scb), right)
    psc_f = compose(compose(f_sc, hb | compose(compose(hb, eco), hb)), f_sc)
    return acyclic(psc_base | psc_f)


def allows(t: Litmus) -> dict | None:
    """The registers of an execution that reaches the forbidden outcome,
    or None if no RC11-consistent execution does."""
    for regs in executions(t):
        if eval(t.forbidden, {}, dict(regs)):
            return regs
    return None


# === Litmus files ===


def parse(entry: dict) -> Litmus:
    threads = []
    nid = 0
    for ti, thread in enumerate(entry["thread"]):
        evs = []
        for k, op in enumerate(thread["ops"]):
            kind = {"load": "R", "store": "W", "rmw": "U", "fence": "F"}[op["op"]]
            value = op.get("value")
            evs.append(Event(nid, ti, k, kind, op.get("loc"), op["order"], value, op.get("reg"), op.get("expect"),
                             op.get("site", "")))
            nid += 1
        threads.append(evs)
    return Litmus(entry["name"], dict(entry["init"]), threads, entry["forbidden"], entry.get("meaning", ""))


def load(path: Path) -> list[dict]:
    with open(path, "rb") as f:
        return tomllib.load(f)["litmus"]


def weakened(entry: dict, site: str, to: str) -> dict | None:
    """`entry` with every operation tagged `site` weakened to `to`
    ("removed" drops it, or with `if_removed = V` on a load, makes its
    register V; "Acquire load"/"Relaxed load (fence dropped)" are
    the facade helpers' mutants), or None if no operation has that tag."""
    hit = False
    threads = []
    init = dict(entry["init"])
    for thread in entry["thread"]:
        ops = []
        for op in thread["ops"]:
            tags = op.get("site", "")
            if site not in tags.split():
                ops.append(op)
                continue
            hit = True
            new = dict(op)
            if to == "removed":
                if "reg" in op and "if_removed" in op:
                    # A removed look (a re-check): its register takes the
                    # value the code acts on without it, read from a
                    # location nobody writes.
                    loc = f"removed_{op['reg']}"
                    init[loc] = op["if_removed"]
                    ops.append({"op": "load", "loc": loc, "reg": op["reg"], "order": "Relaxed"})
                continue
            if to == "Acquire load":
                # load_sc(x) becomes x.load(Acquire).
                new["order"] = "Acquire"
            elif to.startswith("Relaxed load"):
                # load_latest(x) loses its SeqCst fence.
                if op["op"] == "fence":
                    continue
            else:
                new["order"] = to
            ops.append(new)
        threads.append({**thread, "ops": ops})
    return {**entry, "init": init, "thread": threads} if hit else None


# === Self-test: classic litmus tests with known answers ===


def classic() -> list[tuple[str, dict, bool]]:
    def t(name, init, threads, forbidden, allowed):
        return name, {"name": name, "init": init, "thread": [{"ops": ops} for ops in threads],
                      "forbidden": forbidden}, allowed

    def w(loc, v, o):
        return {"op": "store", "loc": loc, "value": v, "order": o}

    def r(loc, reg, o):
        return {"op": "load", "loc": loc, "reg": reg, "order": o}

    def f(o):
        return {"op": "fence", "order": o}

    def u(loc, upd, o, reg=None, expect=None):
        d = {"op": "rmw", "loc": loc, "value": upd, "order": o}
        if reg:
            d["reg"] = reg
        if expect is not None:
            d["expect"] = expect
        return d

    xy = {"x": 0, "y": 0}
    return [
        t("SB relaxed", xy, [[w("x", 1, "Relaxed"), r("y", "a", "Relaxed")], [w("y", 1, "Relaxed"), r("x", "b", "Relaxed")]], "a == 0 and b == 0", True),
        t("SB rel/acq", xy, [[w("x", 1, "Release"), r("y", "a", "Acquire")], [w("y", 1, "Release"), r("x", "b", "Acquire")]], "a == 0 and b == 0", True),
        t("SB SeqCst", xy, [[w("x", 1, "SeqCst"), r("y", "a", "SeqCst")], [w("y", 1, "SeqCst"), r("x", "b", "SeqCst")]], "a == 0 and b == 0", False),
        t("SB relaxed + SeqCst fences", xy, [[w("x", 1, "Relaxed"), f("SeqCst"), r("y", "a", "Relaxed")], [w("y", 1, "Relaxed"), f("SeqCst"), r("x", "b", "Relaxed")]], "a == 0 and b == 0", False),
        t("SB relaxed + AcqRel fences", xy, [[w("x", 1, "Relaxed"), f("AcqRel"), r("y", "a", "Relaxed")], [w("y", 1, "Relaxed"), f("AcqRel"), r("x", "b", "Relaxed")]], "a == 0 and b == 0", True),
        t("SB one fence only", xy, [[w("x", 1, "Relaxed"), f("SeqCst"), r("y", "a", "Relaxed")], [w("y", 1, "Relaxed"), r("x", "b", "Relaxed")]], "a == 0 and b == 0", True),
        t("SB SC accesses / fence", xy, [[w("x", 1, "SeqCst"), r("y", "a", "SeqCst")], [w("y", 1, "Relaxed"), f("SeqCst"), r("x", "b", "Relaxed")]], "a == 0 and b == 0", False),
        t("SB AcqRel RMW, SC load / SC store, fence", xy, [[u("x", "=1", "AcqRel"), r("y", "a", "SeqCst")], [w("y", 1, "SeqCst"), f("SeqCst"), r("x", "b", "Relaxed")]], "a == 0 and b == 0", True),
        t("SB SC RMW, SC load / SC store, fence", xy, [[u("x", "=1", "SeqCst"), r("y", "a", "SeqCst")], [w("y", 1, "SeqCst"), f("SeqCst"), r("x", "b", "Relaxed")]], "a == 0 and b == 0", False),
        t("MP relaxed", xy, [[w("x", 1, "Relaxed"), w("y", 1, "Relaxed")], [r("y", "a", "Relaxed"), r("x", "b", "Relaxed")]], "a == 1 and b == 0", True),
        t("MP rel/acq", xy, [[w("x", 1, "Relaxed"), w("y", 1, "Release")], [r("y", "a", "Acquire"), r("x", "b", "Relaxed")]], "a == 1 and b == 0", False),
        t("MP fences", xy, [[w("x", 1, "Relaxed"), f("Release"), w("y", 1, "Relaxed")], [r("y", "a", "Relaxed"), f("Acquire"), r("x", "b", "Relaxed")]], "a == 1 and b == 0", False),
        t("MP through an RMW release sequence", {"x": 0, "y": 0}, [[w("x", 1, "Relaxed"), w("y", 1, "Release")], [u("y", "+1", "Relaxed")], [r("y", "a", "Acquire"), r("x", "b", "Relaxed")]], "a == 2 and b == 0", False),
        t("MP broken release sequence (plain store)", {"x": 0, "y": 0}, [[w("x", 1, "Relaxed"), w("y", 1, "Release")], [w("y", 2, "Relaxed")], [r("y", "a", "Acquire"), r("x", "b", "Relaxed")]], "a == 2 and b == 0", True),
        t("IRIW SeqCst", xy, [[w("x", 1, "SeqCst")], [w("y", 1, "SeqCst")], [r("x", "a", "SeqCst"), r("y", "b", "SeqCst")], [r("y", "c", "SeqCst"), r("x", "d", "SeqCst")]], "a == 1 and b == 0 and c == 1 and d == 0", False),
        t("IRIW acquire", xy, [[w("x", 1, "Release")], [w("y", 1, "Release")], [r("x", "a", "Acquire"), r("y", "b", "Acquire")], [r("y", "c", "Acquire"), r("x", "d", "Acquire")]], "a == 1 and b == 0 and c == 1 and d == 0", True),
        t("WRC relaxed", xy, [[w("x", 1, "Relaxed")], [r("x", "a", "Relaxed"), w("y", 1, "Relaxed")], [r("y", "b", "Relaxed"), r("x", "c", "Relaxed")]], "a == 1 and b == 1 and c == 0", True),
        t("WRC rel/acq on y (coherence through hb)", xy, [[w("x", 1, "Relaxed")], [r("x", "a", "Relaxed"), w("y", 1, "Release")], [r("y", "b", "Acquire"), r("x", "c", "Relaxed")]], "a == 1 and b == 1 and c == 0", False),
        t("WRC rel/acq all", xy, [[w("x", 1, "Release")], [r("x", "a", "Acquire"), w("y", 1, "Release")], [r("y", "b", "Acquire"), r("x", "c", "Relaxed")]], "a == 1 and b == 1 and c == 0", False),
        t("2+2W relaxed", xy, [[w("x", 1, "Relaxed"), w("y", 2, "Relaxed")], [w("y", 1, "Relaxed"), w("x", 2, "Relaxed")], [r("x", "a", "Relaxed")], [r("y", "b", "Relaxed")]], "True", True),
        t("RMW atomicity", {"x": 0}, [[u("x", "+1", "Relaxed", "a")], [u("x", "+1", "Relaxed", "b")]], "a == 0 and b == 0", False),
        t("coherence CoRR", {"x": 0}, [[w("x", 1, "Relaxed")], [r("x", "a", "Relaxed"), r("x", "b", "Relaxed")]], "a == 1 and b == 0", False),
        t("load buffering (no thin air)", xy, [[r("x", "a", "Relaxed"), w("y", 1, "Relaxed")], [r("y", "b", "Relaxed"), w("x", 1, "Relaxed")]], "a == 1 and b == 1", False),
    ]


def self_test() -> int:
    bad = 0
    for name, entry, expected in classic():
        got = allows(parse(entry)) is not None
        mark = "ok " if got == expected else "BAD"
        bad += got != expected
        print(f"{mark} {name}: {'allowed' if got else 'forbidden'} (expected {'allowed' if expected else 'forbidden'})")
    return 1 if bad else 0


def main() -> int:
    if "--self-test" in sys.argv:
        return self_test()
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("litmus.toml")
    status = 0
    for entry in load(path):
        found = allows(parse(entry))
        verdict = "ALLOWED" if found else "forbidden"
        if found:
            status = 1
        print(f"{entry['name']}: forbidden outcome {verdict}{'' if not found else f' {found}'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
