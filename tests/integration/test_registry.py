#!/usr/bin/env python3
"""The registry behind replication (node/replication/apply.h, "Deferred").

A chain province - county - township - two villages. The county and the
province run with [registry] defer_ms = 86400000 (they never catch up by
themselves while the test runs), the township with the default (1000 ms);
the province signs no receipts during the test (they would catch it up).
Every household the villages import proposes nothing (status 非贫困户), so
each is deferred at the relays.

  - after the imports replicate, the county and the province hold every
    record (the sync barrier, on the exact cursors) with their household
    tables behind: status says by how many log entries (at least the
    households imported, at most the records added), and `status` text
    names it;
  - the township, quiet for its defer_ms, catches up by itself
    (registry_behind 0, waited on as exact state, with no read of it),
    having applied every household by catching up (registry_caught_up);
  - a rollup at the province catches the province up first: every level
    equals what this test computes from the files, and registry_behind is
    0 after it, while the county's stays what it was;
  - killed with its registry behind (kill -9), the county restarts behind
    by exactly as much (the position is in its store); a write there (a
    census it signs) catches it up first (registry_behind 0 right after),
    and its rollup then equals the files';
  - a census arriving while the relays are behind is applied without
    catching them up (it touches no household: behind grows by its one log
    entry), and a household version that proposes identification catches
    them up before it is applied (behind 0 once synced, with no read); the
    rollups, pending proposal included, again equal the files';
  - restarted with [registry] behind_max = 1024 and still never idle, the
    county takes in 1,500 more households and, once synced, stands below
    the mark, having caught up at least the difference by itself;
  - `rollup --verify` passes at every node.
"""

import csv
import os

import jzfptest as jt
from jzfptest import check, check_eq

PROVINCE, COUNTY, TOWNSHIP = "630000000000", "630121000000", "630121101000"
VILLAGES = ["630121101001", "630121101002"]
NEVER = 86400000  # [registry] defer_ms: no catching up by idleness during the test
HOUSEHOLDS = 150  # per village and import
BOUND = 1024  # [registry] behind_max at its least
MANY = 1500  # households past it
YEAR = 2020


def with_status(path, status):
    """Rewrite a generated households file with every status STATUS: 0
    (非贫困户) proposes nothing, what the relays defer; 1 proposes
    identification, which they apply at once."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    col = rows[0].index("status") if "status" in rows[0] else rows[0].index(jt.HH_COLS["status"])
    for r in rows[1:]:
        if r:
            r[col] = status
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def behind(t, n):
    return (t.status(n).get("store") or {}).get("registry_behind", 0)


def check_rollups(t, expect, names, what, nodes):
    for n in nodes:
        levels = {"province": ["village", "township", "county", "province"],
                  "county": ["village", "township", "county"]}[n.level]
        for level in levels:
            under = None if n.level == "province" else n.area
            jt.compare_rollup(t.rollup(n, level), expect.rollup(level, under=under, names=names),
                              f"{what}: {n} rollup --level {level}")


def households(t, data, tag, first_serial, expect):
    files = jt.gen_households(os.path.join(data, f"hh_{tag}_{{village}}.csv"), VILLAGES,
                              HOUSEHOLDS, seed=f"registry-{tag}", year=YEAR,
                              first_serial=first_serial, new=True)
    for v in VILLAGES:
        expect.add_households(with_status(files[v], "0"))
    counts = t.import_many([(t.nodes[v], "households", files[v]) for v in VILLAGES])
    check_eq(counts, [HOUSEHOLDS] * len(VILLAGES), f"{tag}: new households imported")


def test(t):
    t.receipt_ms = 3600000
    prov = t.add(PROVINCE, "province", "青海省")
    county = t.add(COUNTY, "county", "大通县")
    town = t.add(TOWNSHIP, "township", "桥头镇")
    for v in VILLAGES:
        t.add(v, "village", f"村{v[-3:]}")
    for n in (prov, county):
        n.extra_conf = {"registry": {"defer_ms": NEVER}}
    t.start_all()
    names = jt.node_names(t)
    data = os.path.join(t.dir, "input")
    os.mkdir(data)
    expect = jt.Expect()

    census = jt.gen_census(os.path.join(data, "census.csv"), VILLAGES, YEAR, seed="registry")
    for v in VILLAGES:
        part = jt.split_census(census, os.path.join(data, f"census_{v}.csv"), [v])
        expect.add_census(part)
        t.import_ok(t.nodes[v], "census", part)
    t.wait_synced(receipts=False)
    before = {n.area: t.status(n)["records"] for n in (prov, county)}
    for n in (prov, county):
        check_eq(behind(t, n), 0, f"{n}: registry_behind before any household")

    # Deferred at the relays.
    households(t, data, "first", 1, expect)
    t.wait_synced(receipts=False)
    lag = {}
    for n in (prov, county):
        st = t.status(n)
        lag[n.area] = b = st["store"].get("registry_behind", 0)
        added = st["records"] - before[n.area]
        jt.log(f"{n}: {added} records added, registry behind by {b}")
        check(HOUSEHOLDS * len(VILLAGES) <= b <= added,
              f"{n}: registry_behind {b}, expected between the {HOUSEHOLDS * len(VILLAGES)} "
              f"households and the {added} records added")
        text = t.ctl_text(n, "status")
        check(f"registry  the household tables and rollups stand {b} log entries behind" in text,
              f"{n}: status text does not name the registry's lag:\n{text}")
    t.wait_for(f"{town} to catch up by itself (defer_ms 1000)", lambda: behind(t, town) == 0,
               nodes=[town])
    # It had deferred them: it applied every household by catching up.
    caught = (t.status(town).get("store") or {}).get("registry_caught_up", 0)
    check_eq(caught, HOUSEHOLDS * len(VILLAGES), f"{town}: versions applied by catching up")

    # A read at the province catches it up; the county is not touched.
    check_rollups(t, expect, names, "after the first import", [prov])
    check_eq(behind(t, prov), 0, f"{prov}: registry_behind after its rollup")
    check_eq((t.status(prov).get("store") or {}).get("registry_caught_up", 0),
             HOUSEHOLDS * len(VILLAGES), f"{prov}: versions applied by catching up")
    check_eq(behind(t, county), lag[county.area], f"{county}: registry_behind after the "
             "province's rollup")

    # Killed while behind, the county goes on from where its store says.
    t.kill9(county)
    t.start(county)
    check_eq(behind(t, county), lag[county.area], f"{county}: registry_behind after kill -9 "
             "and restart")
    t.wait_synced(receipts=False)
    # A write at the county (a census it signs for one of its villages, the
    # same figures again) catches it up before it runs.
    t.import_ok(county, "census", os.path.join(data, f"census_{VILLAGES[1]}.csv"))
    check_eq(behind(t, county), 0, f"{county}: registry_behind after a write there")
    check_rollups(t, expect, names, "after the county's restart", [county])

    # More households, then a census, which leaves them waiting, then a
    # household that proposes, which catches the registry up first.
    households(t, data, "second", HOUSEHOLDS + 1, expect)
    t.wait_synced(receipts=False)
    lag = {}
    for n in (prov, county):
        lag[n.area] = behind(t, n)
        check(lag[n.area] >= HOUSEHOLDS * len(VILLAGES),
              f"{n}: registry_behind {lag[n.area]} after the second import")
    census2 = jt.gen_census(os.path.join(data, "census2.csv"), VILLAGES[:1], YEAR + 1,
                            seed="registry2")
    expect.add_census(census2)
    t.import_ok(t.nodes[VILLAGES[0]], "census", census2)
    t.wait_synced(receipts=False)
    for n in (prov, county):
        check_eq(behind(t, n), lag[n.area] + 1, f"{n}: registry_behind after a census")
    poor = jt.gen_households(os.path.join(data, "hh_poor_{village}.csv"), VILLAGES[:1], 1,
                             seed="registry-poor", year=YEAR, first_serial=2 * HOUSEHOLDS + 1,
                             new=True)[VILLAGES[0]]
    expect.add_households(with_status(poor, "1"))
    check_eq(t.import_ok(t.nodes[VILLAGES[0]], "households", poor), 1, "the proposing household")
    t.wait_synced(receipts=False)
    for n in (prov, county):
        check_eq(behind(t, n), 0, f"{n}: registry_behind once a proposing version came")
    check_rollups(t, expect, names, "after the proposal", [prov, county])

    # [registry] behind_max bounds the lag: the county, restarted with the
    # least (1,024) and still never idle, takes in more households than
    # that and stands below the mark once synced, having caught up by
    # itself, with no read.
    t.stop(county)
    county.extra_conf = {"registry": {"defer_ms": NEVER, "behind_max": BOUND}}
    t.start(county)
    many = jt.gen_households(os.path.join(data, "hh_many_{village}.csv"), VILLAGES[:1], MANY,
                             seed="registry-many", year=YEAR, first_serial=2 * HOUSEHOLDS + 2,
                             new=True)[VILLAGES[0]]
    expect.add_households(with_status(many, "0"))
    check_eq(t.import_ok(t.nodes[VILLAGES[0]], "households", many), MANY, "the many households")
    t.wait_synced(receipts=False)
    st = t.status(county)["store"]
    jt.log(f"{county}: {st.get('registry_behind', 0)} behind, "
           f"{st.get('registry_caught_up', 0)} caught up by itself")
    check(st.get("registry_behind", 0) < BOUND,
          f"{county}: registry_behind {st.get('registry_behind')} at rest, bound {BOUND}")
    check(st.get("registry_caught_up", 0) >= MANY - BOUND,
          f"{county}: {st.get('registry_caught_up')} versions caught up at the bound")
    check_rollups(t, expect, names, "after the bound", [county])
    for n in t.nodes.values():
        t.verify(n, "registry")


if __name__ == "__main__":
    jt.main(test)
