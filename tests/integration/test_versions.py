"""test_versions - the version index, its versions kept apart and their merges
(node/registry/version.h), under real daemons.

Tree: province, county, township, village. The county migrates the village's
register (--recorded); the village then imports the same register five times
more, each time with every household's income changed: a data edit, one new
version of each household on top of its last. Every jzfpd the tests start
merges its version index at 4 versions kept apart and folds a household's at
2 (JZFP_TEST_VERSION_MERGE_AT and _PEND_MAX, which jzfptest sets for every
test; 65,536 and 32 in production), so merges and folds happen at every node,
in the middle of the batches it applies. The township is killed (-9) while
the fourth import's versions are on the way up, and restarted.

Then, at every node:
  - each household holds six versions (household show), and the four nodes
    list the same versions, in the same order;
  - the household's data is the last import's (the income shown);
  - rollup --verify agrees (it checks the versions kept apart against their
    envelopes, and the lists of them both ways);
  - its log says it merged its version index.
A restart of every node changes none of it.
"""

import csv
import os

import jzfptest as jt
from jzfptest import check, check_eq

P, C, T, V = "630000000000", "630121000000", "630121101000", "630121101001"
YEAR = 2020
HOUSEHOLDS = 30
EDITS = 5
KILL_AT = 3  # the township is killed during this edit (0-based)


def edited(src, dst, k):
    """Register SRC with every income raised by k yuan, into DST."""
    with open(src, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    col = rows[0].index("income")
    for r in rows[1:]:
        if r:
            r[col] = f"{float(r[col]) + k:.2f}"
    with open(dst, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return dst


def incomes(path):
    """{household id: income in the file}."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    return {r["household_id"]: r["income"] for r in rows}


def shown(t, n, hid):
    """n's household show of HID: the versions listed and the income."""
    s = t.ctl(n, "household", "show", hid, "--json")
    return [(v["version"], v["seq"], v["hlc_ms"]) for v in s["history"]], s


def test(t):
    prov = t.add(P, "province", "青海省")
    county = t.add(C, "county", "大通县")
    town = t.add(T, "township", "桥头镇")
    village = t.add(V, "village", "新庄村")
    t.start_all()
    check_eq(os.environ.get("JZFP_TEST_VERSION_MERGE_AT"), "4", "the harness's merge point")

    data = os.path.join(t.dir, "input")
    os.mkdir(data)
    reg = jt.gen_households(os.path.join(data, "hh_{village}.csv"), [V], HOUSEHOLDS,
                            seed="versions", year=YEAR)[V]
    p = t.import_file(county, "households", reg, "--recorded")
    check(p.returncode == 0, f"migration at the county: {p.stdout} {p.stderr}")
    t.wait_synced()
    ids = sorted(incomes(reg))
    check_eq(len(ids), HOUSEHOLDS, "households in the register")

    last = reg
    for k in range(EDITS):
        last = edited(reg, os.path.join(data, f"edit{k}.csv"), k + 1)
        if k == KILL_AT:
            # Its versions on the way up when the township dies: the
            # village keeps them until a restarted township takes them.
            new = t.import_ok(village, "households", last)
            t.kill9(town)
            t.start(town)
        else:
            new = t.import_ok(village, "households", last)
        check_eq(new, HOUSEHOLDS, f"new versions from edit {k + 1}")
        t.wait_synced()

    want = incomes(last)
    for when in ("after the edits", "after a restart of every node"):
        lists = {}
        for n in (village, town, county, prov):
            for hid in ids:
                vs, s = shown(t, n, hid)
                check_eq(len(vs), 1 + EDITS, f"{n} {when}: versions of {hid}")
                lists.setdefault(hid, {})[n.area] = vs
                text = t.ctl_text(n, "household", "show", hid)
                check(f"income {want[hid]} yuan" in text,
                      f"{n} {when}: {hid} does not show the last income {want[hid]}:\n{text}")
            t.verify(n, when)
        for hid, by_node in lists.items():
            first = by_node[V]
            for area, vs in by_node.items():
                check(vs == first, f"{when}: {hid}: node {area} lists {vs}, the village {first}")
        if when == "after the edits":
            for n in (village, town, county, prov):
                with open(n.logfile, encoding="utf-8") as f:
                    merges = f.read().count("versions kept apart merged into it")
                check(merges >= 1, f"{n}: no merge of its version index in its log")
                jt.log(f"{n}: {merges} merges of its version index")
            t.stop_all()
            t.start_all()
            t.wait_synced()


if __name__ == "__main__":
    jt.main(test)
