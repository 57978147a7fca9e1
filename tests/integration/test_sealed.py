#!/usr/bin/env python3
"""Personal data is sealed on every node of a real certified tree (DESIGN §4,
§8; the trust issue's tests).

Tree, certified by scripts/provision.sh (which also makes the province's
audit key in OUTDIR/audit, off every node): province 630000000000, county
630121000000, township 630121101000 with its village node 630121101001, and
township 630121102000 standing in for its village 630121102001 (no node).
Households and census are imported at the village and at the stand-in
township; the test waits until the province holds everything.

  - No node's files (its LMDB data.mdb and lock file, its log, its config:
    every regular file under its directory) contain, as UTF-8 bytes, any
    name or any ID number (with either case of a final X) of the input
    CSVs; nor the audit key's secret key file.
  - `household show` prints the names and ID numbers of a household's
    members at its village node, its township and its county (the readers
    up to the county), and says the personal part is sealed at the province
    (text and --json). A township of another subtree does not hold it.
  - At the province, `household show --audit-key OUTDIR/audit/audit.key`
    opens it ("audit: personal part opened with the audit key" and every
    member); with another key file it fails with exit 1 and one line on
    stderr; with a file that is no key, likewise.
  - The county imports one file of two villages of the township that have
    no node of their own: it makes the households and one key record for
    each village (sealer.h), and once in step the township and the county
    print the members of a household of each village, the province says
    sealed, and the audit key opens them.
  - A village node that joins after the county imported its register
    (sealer.h, "Grants"), in one file with another village of the township
    with no node (listed first): provisioned but not started, so no key
    record of the import names it; once it starts, the county makes one
    grant, of its village's key record only (one record more, its log says
    so), and the village prints its households' members (its key record,
    with the first village as subject in a shared one, need not have come
    down), the province still says sealed. A restart of the county makes no
    second grant.
"""

import csv
import json
import os
import re

import jzfptest as jt
from jzfptest import check, check_eq

YEAR = 2020
P, C = "630000000000", "630121000000"
T, V = "630121101000", "630121101001"
TS, SV = "630121102000", "630121102001"  # stand-in township and its village
LV = "630121101004"  # a village node that joins after its register is imported
HOUSEHOLDS = 40


def persons(path):
    """{household id: [(name, id number)]} from a households CSV."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = [r for r in csv.reader(f) if r and any(x.strip() for x in r)]
    head = [h.strip() for h in rows[0]]

    def col(*names):
        return next(i for i, h in enumerate(head) if h in names)

    ch, cn, ci = col("household_id", "户编号"), col("name", "姓名"), col("id_number", "身份证号")
    out = {}
    for r in rows[1:]:
        out.setdefault(r[ch].strip(), []).append((r[cn].strip(), r[ci].strip()))
    return out


def node_files(n):
    """Every regular file under n's directory (data dir, log, config, key)."""
    for root, _dirs, names in os.walk(n.dir):
        for name in names:
            path = os.path.join(root, name)
            if os.path.isfile(path) and not os.path.islink(path):
                yield path


def scan(needles, paths):
    """[(needle, path)] for every needle found in the bytes of a file."""
    hits = []
    for path in paths:
        with open(path, "rb") as f:
            blob = f.read()
        hits += [(nd, path) for nd in needles if nd in blob]
    return hits


def show(t, n, hid, *extra):
    return t.run_ctl(n, "household", "show", hid, *extra)


def check_readable(t, n, hid, members):
    """household show at n prints every member's name and ID number."""
    p = show(t, n, hid)
    check(p.returncode == 0, f"{n}: household show {hid}: exit {p.returncode}: {p.stderr}")
    for name, idn in members:
        check(name in p.stdout and idn in p.stdout,
              f"{n}: household show {hid} does not print member {name} {idn}:\n{p.stdout}")
    check("sealed" not in p.stdout, f"{n}: household show {hid} says sealed:\n{p.stdout}")
    j = t.ctl(n, "household", "show", hid, "--json")
    check_eq(j.get("personal"), "readable", f"{n}: household show {hid} --json personal")
    check_eq(sorted((m["name"], m["id_number"]) for m in j.get("persons", [])),
             sorted(members), f"{n}: household show {hid} --json persons")


def check_sealed(t, n, hid, members):
    p = show(t, n, hid)
    check(p.returncode == 0, f"{n}: household show {hid}: exit {p.returncode}: {p.stderr}")
    check(re.search(r"members +\d+ \(personal part sealed", p.stdout),
          f"{n}: household show {hid} does not say the personal part is sealed:\n{p.stdout}")
    for name, idn in members:
        check(name not in p.stdout and idn not in p.stdout,
              f"{n}: household show {hid} prints {name} {idn} of a sealed part")
    j = t.ctl(n, "household", "show", hid, "--json")
    check_eq(j.get("personal"), "sealed", f"{n}: household show {hid} --json personal")
    # Every field of a typed reply is written (ctl.proto): sealed, "persons" is [].
    check(not j.get("persons"), f"{n}: --json lists persons of a sealed part")
    check_eq(j.get("members"), len(members), f"{n}: household {hid} members (clear part)")


def test(t):
    out = t.provision([(P, "province", "青海省"), (C, "county", "大通县"),
                        (T, "township", "城关镇"), (V, "village", "新庄村"),
                        (TS, "township", "桥头镇"), (LV, "village", "后加村")], receipt_ms=300)
    prov, county, town, village, standin, late = (t.nodes[a] for a in (P, C, T, V, TS, LV))
    audit_key = os.path.join(out, "audit", "audit.key")
    check(os.path.isfile(audit_key), "provision.sh wrote no audit key")
    for n in t.nodes.values():
        check(not os.path.exists(os.path.join(n.dir, "audit.key")), f"{n}: holds the audit key")
    for n in t.top_down():
        if n is not late:
            t.start(n)

    data = os.path.join(t.dir, "input")
    os.mkdir(data)
    files = jt.gen_households(os.path.join(data, "hh_{village}.csv"), [V, SV], HOUSEHOLDS,
                              seed="sealed", year=YEAR, new=True, chinese=[SV])
    census = jt.gen_census(os.path.join(data, "census.csv"), [V, SV], YEAR, seed="sealed")
    cv = jt.split_census(census, os.path.join(data, "census_v.csv"), [V])
    cs = jt.split_census(census, os.path.join(data, "census_s.csv"), [SV])
    t.import_many([(village, "households", files[V]), (village, "census", cv),
                   (standin, "households", files[SV]), (standin, "census", cs)])
    t.wait_synced()
    expect = jt.Expect()
    for path in files.values():
        expect.add_households(path)
    expect.add_census(census)
    names = jt.node_names(t)
    for level in jt.ROLLUP_LEVELS:
        jt.compare_rollup(t.rollup(prov, level), expect.rollup(level, names=names),
                          f"province rollup --level {level}")

    by_hh = {}
    for path in files.values():
        by_hh.update(persons(path))
    check_eq(len(by_hh), 2 * HOUSEHOLDS, "households in the input")

    # ---- 1. No name, no ID number, anywhere on any node.
    public = [n.name for n in t.nodes.values()]
    with open(census, encoding="utf-8") as f:
        public += [r["name"] for r in csv.DictReader(f)]
    needles, skipped = {}, 0
    for hid, members in by_hh.items():
        for name, idn in members:
            # A name that is part of a public string (a village's or a
            # node's name) is legitimately stored: not a leak.
            if any(name in s for s in public):
                skipped += 1
            else:
                needles[name.encode("utf-8")] = f"name of a member of {hid}"
            for v in {idn, idn.upper(), idn.lower()}:
                needles[v.encode("ascii")] = f"ID number of a member of {hid}"
    check(len(needles) > 3 * HOUSEHOLDS, f"only {len(needles)} strings to look for")
    jt.log(f"looking for {len(needles)} names and ID numbers ({skipped} names skipped as "
           f"part of a public name) in every node's files")
    # A positive control: the same search finds every one in the input.
    originals = {m[0].encode() for ms in by_hh.values() for m in ms if m[0].encode() in needles}
    originals |= {m[1].encode() for ms in by_hh.values() for m in ms}
    found = {nd for nd, _ in scan(originals, list(files.values()))}
    check_eq(len(found), len(originals), "personal strings found in the input CSVs themselves")
    with open(audit_key, encoding="ascii") as f:
        seed = f.read().split()[-1]
    check(re.fullmatch(r"[0-9a-f]{64}", seed), "audit.key: unexpected format")
    needles[seed.encode("ascii")] = "the audit key's secret seed"
    paths = []
    for n in (n for n in t.nodes.values() if n.started):
        mine = list(node_files(n))
        check(any(p.endswith("data.mdb") for p in mine), f"{n}: no data.mdb under {n.dir}")
        check(n.logfile in mine, f"{n}: no log")
        paths += mine
    leaks = [f"{os.path.relpath(path, out)}: {needles[nd]} "
             f"({nd[:40].decode('utf-8', 'replace')!r})" for nd, path in scan(needles, paths)]
    jt.log(f"scanned {sum(os.path.getsize(p) for p in paths)} bytes in {len(paths)} files "
           f"of {len(t.nodes) - 1} nodes")
    check(not leaks, f"{len(leaks)} personal strings found in node files:\n  " +
          "\n  ".join(leaks[:30]))

    # ---- 2. Who reads what.
    sample_v = sorted(h for h in by_hh if h.startswith(V))[:3]
    sample_s = sorted(h for h in by_hh if h.startswith(SV))[:3]
    for hid in sample_v:
        for n in (village, town, county):
            check_readable(t, n, hid, by_hh[hid])
        check_sealed(t, prov, hid, by_hh[hid])
        p = show(t, standin, hid)
        check(p.returncode != 0 and "not held" in p.stderr,
              f"{standin}: holds household {hid} of another township: {p.stdout}{p.stderr}")
    for hid in sample_s:
        for n in (standin, county):
            check_readable(t, n, hid, by_hh[hid])
        check_sealed(t, prov, hid, by_hh[hid])
        p = show(t, town, hid)
        check(p.returncode != 0 and "not held" in p.stderr,
              f"{town}: holds household {hid} of another township: {p.stdout}{p.stderr}")
    p = show(t, prov, sample_v[0])
    check("the province reads statistics only" in p.stdout,
          f"{prov}: household show does not say why it is sealed:\n{p.stdout}")

    # ---- 3. The audit key opens it at the province; another key does not.
    for hid in (sample_v[0], sample_s[0]):
        p = show(t, prov, hid, "--audit-key", audit_key)
        check(p.returncode == 0, f"audit of {hid}: exit {p.returncode}: {p.stderr}")
        check("audit: personal part opened with the audit key" in p.stdout,
              f"audit of {hid}: no 'opened' line:\n{p.stdout}")
        audit_part = p.stdout.split("audit: personal part opened with the audit key", 1)[1]
        for name, idn in by_hh[hid]:
            check(name in audit_part and idn in audit_part,
                  f"audit of {hid}: member {name} {idn} not printed:\n{p.stdout}")
        # As JSON: one object, the node's answer and what the key opened.
        p = show(t, prov, hid, "--audit-key", audit_key, "--json")
        check(p.returncode == 0, f"audit of {hid} --json: exit {p.returncode}: {p.stderr}")
        j = json.loads(p.stdout)
        check_eq((j["household"]["id"], j["household"]["personal"], j["audit"]["opened"]),
                 (hid, "sealed", True), f"audit of {hid} --json")
        check_eq(sorted((m["name"], m["id_number"]) for m in j["audit"]["persons"]),
                 sorted(by_hh[hid]), f"audit of {hid} --json: persons")
    wrong = os.path.join(t.dir, "wrong.key")
    t.keygen(wrong)
    junk = os.path.join(t.dir, "junk.key")
    with open(junk, "w") as f:
        f.write("not a key\n")
    os.chmod(junk, 0o600)
    for keyfile, why in ((wrong, r"does not open household .*not one of its readers"),
                         (junk, r"cannot load the audit key")):
        p = show(t, prov, sample_v[0], "--audit-key", keyfile)
        err = p.stderr.strip().splitlines()
        what = f"audit with {os.path.basename(keyfile)}"
        check(p.returncode == 1 and err and re.search(why, err[-1]),
              f"{what}: exit {p.returncode}, stderr {p.stderr!r} (expected /{why}/)")
        if len(err) != 1:
            # README, DESIGN §10: any error exits with a one-line reason.
            t.soft_fail(f"{what}: {len(err)} lines on stderr, expected one: {p.stderr!r}")
        check("audit: personal part opened" not in p.stdout, f"{what} opened it")
        for name, idn in by_hh[sample_v[0]]:
            check(idn not in p.stdout, f"{what} printed {idn}")
    # The audit left nothing behind either.
    for n in (n for n in t.nodes.values() if n.started):
        with open(n.logfile, "rb") as f:
            log = f.read()
        for name, idn in by_hh[sample_v[0]] + by_hh[sample_s[0]]:
            check(idn.encode() not in log, f"{n}: its log holds {idn} after the audit")
    # ---- 4. The county imports, in one file, the households of two
    # villages of the township that have no node of their own: one key
    # record each (sealer.h), each read by the township and the county.
    pair = ["630121101002", "630121101003"]
    pfiles = jt.gen_households(os.path.join(data, "pair_{village}.csv"), pair, 10,
                               seed="shared", year=YEAR, new=True)
    both = os.path.join(data, "pair.csv")
    with open(both, "w", encoding="utf-8") as out_f:
        for i, v in enumerate(pair):
            with open(pfiles[v], encoding="utf-8-sig") as f:
                lines = f.read().splitlines(keepends=True)
            out_f.writelines(lines if i == 0 else lines[1:])
    by_pair = persons(both)
    check_eq(sorted({h[:12] for h in by_pair}), pair, "villages of the shared import")
    before = t.status(county)["own_records"]
    added = t.import_ok(county, "households", both)
    check_eq(added, len(by_pair), "households the county imported for the two villages")
    # The households and one key record a village.
    check_eq(t.status(county)["own_records"] - before, len(by_pair) + 2,
             "records the county made for one import of two villages of one township")
    t.wait_synced()
    for v in pair:
        hid = sorted(h for h in by_pair if h.startswith(v))[0]
        for n in (town, county):
            check_readable(t, n, hid, by_pair[hid])
        check_sealed(t, prov, hid, by_pair[hid])
        p = show(t, prov, hid, "--audit-key", audit_key)
        check(p.returncode == 0 and "audit: personal part opened with the audit key" in p.stdout,
              f"audit of {hid}: exit {p.returncode}: {p.stdout}{p.stderr}")

    # ---- 5. A village node that joins after its register was imported.
    other = "630121101005"
    lfiles = jt.gen_households(os.path.join(data, "late_{village}.csv"), [other, LV], 8,
                               seed="late", year=YEAR, new=True)
    two = os.path.join(data, "late.csv")
    with open(two, "w", encoding="utf-8") as out_f:
        for i, v in enumerate([other, LV]):
            with open(lfiles[v], encoding="utf-8-sig") as f:
                lines = f.read().splitlines(keepends=True)
            out_f.writelines(lines if i == 0 else lines[1:])
    by_two = persons(two)
    by_late = {h: m for h, m in by_two.items() if h.startswith(LV)}
    check_eq(len(by_late), 8, "households of the late village in the file")
    before = t.status(county)["own_records"]
    check_eq(t.import_ok(county, "households", two), len(by_two),
             "households the county imported for two villages with no node yet")
    check_eq(t.status(county)["own_records"] - before, len(by_two) + 2,
             "records of that import: the households and a key record a village")
    t.wait_synced()
    t.start(late)
    t.wait_synced()
    check_eq(t.status(county)["own_records"] - before, len(by_two) + 3,
             "records of the county once the village joined: one grant more")
    check(t.grep_log(county, r"granted 1 key record\(s\) of personal data sealed before to "
                            r"nodes that joined later"),
          f"{county}: no log line of the grant")
    for hid in sorted(by_late)[:3]:
        for n in (late, town, county):
            check_readable(t, n, hid, by_late[hid])
        check_sealed(t, prov, hid, by_late[hid])
    # Granted once: a restart looks again and finds nothing to give.
    t.stop(county)
    t.start(county)
    t.wait_synced()
    check_eq(t.status(county)["own_records"] - before, len(by_two) + 3,
             "records of the county after a restart: no second grant")

    for n in t.nodes.values():
        t.verify(n)


if __name__ == "__main__":
    jt.main(test)
