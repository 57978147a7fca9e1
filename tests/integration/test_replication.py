#!/usr/bin/env python3
"""Replication and rollups from village to province (DESIGN §7, §9, §10).

A 15-node tree: the province, two counties in two prefectures, two
townships per county, two villages per township. One township also keeps the
register of two villages that have no node, and another publishes the census
of a village without households. Every village imports its census; most
villages import a new register of a few hundred households (one file with
Chinese headers), where every status but 非贫困户 is a proposal for
identification that the rollups do not count yet (DESIGN §6); and one county
migrates the existing register of two of its villages (import --recorded),
whose statuses count at once and flow down to those villages. Then:

  - the province's `rollup --format csv` at village, township, county,
    prefecture and province level equals what this test computes from the
    input files, and the province holds every record of every node;
  - every node's own rollup covers exactly its subtree, and `rollup --verify`
    passes everywhere;
  - the pending proposals per area equal the villages' identification
    proposals;
  - `status --json` and `tree --json` have the documented fields and values;
  - importing the same files again makes no new version and changes nothing;
  - a policy set at the province reaches every node as soon as the sync
    barrier (wait_synced, on the exact cursors) returns, with every node's
    down.applied == down.head and its parent's downlog head equal to it.
"""

import os

import jzfptest as jt
from jzfptest import check, check_eq

HOUSEHOLDS = 200  # per village
YEAR = 2020

TREE = [
    ("630000000000", "province", "青海省"),
    ("630121000000", "county", "大通县"),
    ("632221000000", "county", "门源县"),
    ("630121101000", "township", "桥头镇"),
    ("630121102000", "township", "城关镇"),
    ("632221101000", "township", "浩门镇"),
    ("632221102000", "township", "青石嘴镇"),
]
TOWNSHIP_VILLAGES = ["001", "002"]
STANDIN_TOWNSHIP = "630121102000"
STANDIN_VILLAGES = ["630121102003", "630121102004"]  # no node: data entry at the township
CENSUS_ONLY_TOWNSHIP = "632221101000"
CENSUS_ONLY_VILLAGE = "632221101003"  # a census, no households
CHINESE_VILLAGE = "630121101002"
MIGRATING_COUNTY = "632221000000"
MIGRATED_VILLAGES = ["632221102001", "632221102002"]  # their register comes from the county


def build(t):
    for area, level, name in TREE:
        t.add(area, level, name)
    for area, level, _ in TREE:
        if level == "township":
            for v in TOWNSHIP_VILLAGES:
                t.add(area[:9] + v, "village", f"村{area[6:9]}{v}")


def check_status_fields(t, n, st):
    check_eq(st.get("area"), n.area, f"{n}: status area")
    check_eq(st.get("level"), n.level, f"{n}: status level")
    check(isinstance(st.get("records"), int) and st["records"] > 0,
          f"{n}: status records {st.get('records')!r}")
    if n.level == "province":
        check(st.get("parent") is None, f"{n}: province status parent {st.get('parent')!r}")
        check(st.get("up") is None and st.get("down") is None,
              f"{n}: province status up {st.get('up')!r}, down {st.get('down')!r}")
    else:
        check_cursors(t, n, st)
        par = st.get("parent")
        check(isinstance(par, dict), f"{n}: status parent {par!r}")
        check_eq(par.get("connected"), True, f"{n}: parent.connected")
        check_eq(par.get("backlog"), 0, f"{n}: parent.backlog")
        check_eq(par.get("area"), n.parent.area, f"{n}: parent.area")
    kids = st.get("children")
    check(isinstance(kids, list), f"{n}: status children {kids!r}")
    for c in kids:
        for field in ("area", "connected", "last_seen_s"):
            check(field in c, f"{n}: child entry without {field}: {c}")
        check_eq(c["connected"], True, f"{n}: child {c['area']} connected")
        check(isinstance(c["last_seen_s"], (int, float)) and 0 <= c["last_seen_s"] < 10,
              f"{n}: child {c['area']} last_seen_s {c['last_seen_s']!r}")
    check_eq(sorted(c["area"] for c in kids), sorted(c.area for c in n.children),
             f"{n}: children in status")


def check_cursors(t, n, st, pst=None):
    """n's exact cursors in its status ST (a synced tree): its parent holds
    its whole log, and it holds the parent's whole downlog, whose head (in
    the parent's status PST) is what the parent told it."""
    up, down, par = st.get("up"), st.get("down"), st.get("parent") or {}
    check(isinstance(up, dict) and isinstance(down, dict),
          f"{n}: status up {up!r}, down {down!r}")
    for d, f in ((up, "head"), (up, "acked"), (down, "head"), (down, "applied")):
        check(isinstance(d.get(f), int), f"{n}: status cursor {f} {d.get(f)!r}")
    check_eq(up["head"], st["records"], f"{n}: up.head (its log head)")
    check_eq(up["acked"], up["head"], f"{n}: up.acked")
    check_eq(par.get("acked"), up["acked"], f"{n}: parent.acked")
    check_eq(par.get("backlog"), up["head"] - up["acked"], f"{n}: parent.backlog")
    check(down["head"] > 0, f"{n}: down.head {down['head']}: the parent has a downlog")
    check_eq(down["applied"], down["head"], f"{n}: down.applied")
    pst = pst or t.status(n.parent)
    kid = next((c for c in pst["children"] if c["area"] == n.area), None)
    check(kid is not None, f"{n}: not among {n.parent}'s children")
    check_eq(kid.get("down_head"), down["head"], f"{n}: its parent's downlog head")
    check_eq(kid.get("down_acked"), down["head"], f"{n}: what its parent saw acknowledged")
    check_eq(kid.get("down_backlog"), 0, f"{n}: down_backlog at its parent")


def check_tree(t, prov):
    """The province's tree lists every node once, with its level, parent and
    (once the heartbeats have caught up) its current record count."""
    want = {a: t.status(n)["records"] for a, n in t.nodes.items()}

    def current():
        tr = t.ctl(prov, "tree", "--json")
        nodes = tr.get("nodes")
        check(isinstance(nodes, list), f"tree --json: nodes {nodes!r}")
        areas = [x.get("area") for x in nodes]
        check_eq(sorted(areas), sorted(t.nodes), "tree --json: areas")
        for x in nodes:
            n = t.nodes[x["area"]]
            check_eq(x.get("level"), n.level, f"tree: {n} level")
            if n.parent:
                check_eq(x.get("parent"), n.parent.area, f"tree: {n} parent")
                check_eq(x.get("connected"), True, f"tree: {n} connected")
            for field in ("records", "backlog", "down_backlog", "age_s"):
                check(field in x, f"tree: {n}: no {field}")
        got = {x["area"]: (x["records"], x["backlog"], x["down_backlog"]) for x in nodes}
        return got == {a: (r, 0, 0) for a, r in want.items()}

    t.wait_for("the province's tree to show every node's record count and no lag", current,
               timeout=20)


def check_rollups(t, expect, names, what):
    prov = t.province()
    for level in jt.ROLLUP_LEVELS:
        jt.compare_rollup(t.rollup(prov, level), expect.rollup(level, names=names),
                          f"{what}: province rollup --level {level}")
    for n in t.nodes.values():
        if n.level == "province":
            continue
        levels = {"county": ["village", "township", "county"], "township": ["village", "township"],
                  "village": ["village"]}[n.level]
        for level in levels:
            jt.compare_rollup(t.rollup(n, level), expect.rollup(level, under=n.area, names=names),
                              f"{what}: {n} rollup --level {level} (its subtree only)")
    for n in t.nodes.values():
        t.verify(n, what)


def test(t):
    build(t)
    data = os.path.join(t.dir, "input")
    os.mkdir(data)
    villages = [a for a, n in t.nodes.items() if n.level == "village"]
    hh_villages = villages + STANDIN_VILLAGES
    new_villages = [v for v in hh_villages if v not in MIGRATED_VILLAGES]
    files = jt.gen_households(os.path.join(data, "hh_{village}.csv"), new_villages, HOUSEHOLDS,
                              seed="replication", year=YEAR, chinese=[CHINESE_VILLAGE], new=True)
    files.update(jt.gen_households(os.path.join(data, "hh_{village}.csv"), MIGRATED_VILLAGES,
                                   HOUSEHOLDS, seed="migrated", year=YEAR, first_serial=1))
    census_all = jt.gen_census(os.path.join(data, "census_all.csv"),
                               hh_villages + [CENSUS_ONLY_VILLAGE], YEAR, seed="replication")
    with open(files[CHINESE_VILLAGE], encoding="utf-8-sig") as f:
        check(f.readline().split(",")[0] in jt.HH_COLS.values(),
              "the Chinese village file has no Chinese header")

    expect = jt.Expect()
    jobs = []
    recorded = set()
    for v in villages:
        c = jt.split_census(census_all, os.path.join(data, f"census_{v}.csv"), [v])
        jobs.append((t.nodes[v], "census", c))
        if v in MIGRATED_VILLAGES:
            jobs.append((t.nodes[MIGRATING_COUNTY], "households", files[v]))
            recorded.add(files[v])
        else:
            jobs.append((t.nodes[v], "households", files[v]))
    standin = t.nodes[STANDIN_TOWNSHIP]
    for v in STANDIN_VILLAGES:
        jobs.append((standin, "households", files[v]))
    jobs.append((standin, "census", jt.split_census(
        census_all, os.path.join(data, "census_standin.csv"), STANDIN_VILLAGES)))
    jobs.append((t.nodes[CENSUS_ONLY_TOWNSHIP], "census", jt.split_census(
        census_all, os.path.join(data, "census_only.csv"), [CENSUS_ONLY_VILLAGE])))
    for n, kind, path in jobs:
        if kind == "households":
            expect.add_households(path, recorded=path in recorded)
        else:
            expect.add_census(path)
    check(len(expect.households) == HOUSEHOLDS * len(hh_villages),
          f"input: {len(expect.households)} households generated")

    t.start_all()
    jt.log(f"{len(t.nodes)} nodes running; importing {len(jobs)} files")
    counts = t.import_many([j + (("--recorded",) if j[2] in recorded else ()) for j in jobs])
    hh_created = sum(c for (n, kind, p), c in zip(jobs, counts) if kind == "households")
    check_eq(hh_created, len(expect.households), "new household versions reported by imports")
    prov = t.province()
    recs = t.wait_synced()
    own = sum(t.status(n)["own_records"] for n in t.nodes.values())
    check_eq(recs, own, "province records vs. records signed by all nodes")
    # Every NodeInfo, census and household version made it up, each household
    # file with one key record (its personal parts sealed under one data key),
    # and the migration with one historic record event; the province's own
    # records beyond its NodeInfo are its receipts.
    below = sum(t.status(n)["own_records"] for n in t.nodes.values() if n.level != "province")
    hh_files = sum(1 for _, kind, _ in jobs if kind == "households")
    migrations = len(MIGRATED_VILLAGES)
    check_eq(below, len(t.nodes) - 1 + len(expect.households) + len(expect.census) + hh_files +
             migrations, "records signed below the province")
    check_eq(sum(1 for h in expect.households.values() if h["proposed"] is not None),
             t.status(prov)["workflow"]["open_proposals"], "open proposals at the province")

    names = jt.node_names(t)
    check_rollups(t, expect, names, "after import")
    for n in t.nodes.values():
        check_status_fields(t, n, t.status(n))
    check_tree(t, prov)

    # The same files again: no new version, nothing changes.
    before = {a: t.status(n)["records"] for a, n in t.nodes.items()}
    counts = t.import_many([j + (("--recorded",) if j[2] in recorded else ()) for j in jobs])
    check_eq(counts, [0] * len(jobs), "new records from importing the same files again")
    t.wait_synced()
    after = {a: t.status(n)["records"] for a, n in t.nodes.items()}
    check_eq(after, before, "record counts after importing the same files again")
    check_rollups(t, expect, names, "after re-import")

    # A down flow: a policy from the province. Right when the barrier
    # returns (no further waiting), every node holds it and its cursors say
    # so exactly.
    heads = {a: t.status(n)["down"] for a, n in t.nodes.items() if n.parent}
    t.ctl_text(prov, "policy", "set", "--notice-days", "9")
    t.wait_synced()
    sts = {a: t.status(n) for a, n in t.nodes.items()}
    for n in t.nodes.values():
        pol = t.ctl(n, "policy", "show", "--json")
        check_eq(pol.get("notice_days"), 9, f"{n}: the province's new policy, right after sync")
        if n.parent:
            check_cursors(t, n, sts[n.area], sts[n.parent.area])
            check(sts[n.area]["down"]["head"] > heads[n.area]["head"],
                  f"{n}: down.head did not move with the policy ({heads[n.area]} -> "
                  f"{sts[n.area]['down']})")
    check_tree(t, prov)


if __name__ == "__main__":
    jt.main(test)
