#!/usr/bin/env python3
"""import households: --allow-removals, and a large file in bounded memory
(issue 10 item 4).

Tree: province 630000000000, county 630121000000, village node
630121101001 (its parent the county).

  - The village imports a new register of 5 households, then the same file
    with one member left out of each of two households: both are refused
    (exit 1), each with a line naming its missing member masked (张*明,
    630121********123X), the others unchanged; no clear name or ID number
    is printed. With --allow-removals the two get new versions without the
    member, and `household show` lists one member fewer.
  - The village imports 2,500 households while its jzfpd is stopped
    (SIGSTOP, jzfpctl --timeout 3): jzfpctl says no household was stored
    (the node only stages a streamed import until its commit) and that
    re-running the file is safe; once the node goes on, re-running it stores
    them all, each a new version.
  - The county imports 20,000 households of three villages in one file:
    jzfpctl's peak RSS (os.wait4's ru_maxrss of that very process) stays
    under 100 MB (the reader that kept the whole file took about 9 KB per
    household: 180 MB), and the county's rollup equals the files' content.
"""

import csv
import os
import re
import signal
import subprocess
import threading

import jzfptest as jt
from jzfptest import check, check_eq

YEAR = 2020
P, C, V = "630000000000", "630121000000", "630121101001"
BIG_VILLAGES = ["630121101002", "630121102001", "630121103001"]
BIG_PER_VILLAGE = 6667  # 20,001 households
RSS_BOUND_KB = 100 * 1024


def rows_of(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def write_rows(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def mask_name(name):
    if len(name) <= 1:
        return name + "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" + name[-1]


def mask_id(pid):
    return pid[:6] + "*" * (len(pid) - 10) + pid[-4:]


def import_measured(t, n, path):
    """jzfpctl import households PATH at n; returns (exit status, stdout,
    stderr, peak RSS in KiB of that process)."""
    out_path, err_path = path + ".out", path + ".err"
    argv = [jt.JZFPCTL, "-c", n.conf, "--timeout", "120", "import", "households", path]
    with open(out_path, "w") as out, open(err_path, "w") as err:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    # jzfpctl ends by itself (--timeout per request); the watchdog bounds it
    watchdog = threading.Timer(jt.left(280), p.kill)
    watchdog.start()
    try:
        _, status, usage = os.wait4(p.pid, 0)
    finally:
        watchdog.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    with open(out_path) as f:
        out = f.read()
    with open(err_path) as f:
        err = f.read()
    return p.returncode, out, err, usage.ru_maxrss


def removals(t, village, expect):
    files = jt.gen_households(os.path.join(t.dir, "hh-{village}.csv"), [V], 5, seed=31,
                              year=YEAR, new=True)
    path = files[V]
    t.import_ok(village, "households", path)
    rows = rows_of(path)
    col = {h.strip(): i for i, h in enumerate(rows[0])}
    ids = []
    for r in rows[1:]:
        if r[col["household_id"]] not in ids:
            ids.append(r[col["household_id"]])
    # one non-head member of two households of 2 or more members left out
    gone = {}
    for hid in ids:
        members = [r for r in rows[1:] if r[col["household_id"]] == hid]
        if len(members) >= 2 and len(gone) < 2:
            gone[hid] = next(r for r in members if int(r[col["relation"]]) != 1)
    check_eq(len(gone), 2, "households of two or more members in the file")
    fewer = [rows[0]] + [r for r in rows[1:] if not any(r is g for g in gone.values())]
    write_rows(path, fewer)

    p = t.import_file(village, "households", path)
    check_eq(p.returncode, 1, f"re-import with members missing: exit status ({p.stderr})")
    m = re.search(r"(\d+) new versions? .*, (\d+) unchanged, (\d+) refused", p.stdout)
    check(m is not None, f"re-import: summary {p.stdout!r}")
    check_eq((int(m.group(1)), int(m.group(2)), int(m.group(3))), (0, len(ids) - 2, 2),
             "re-import without --allow-removals: new, unchanged, refused")
    for hid, r in gone.items():
        name, pid = r[col["name"]], r[col["id_number"]]
        want = f"{mask_name(name)} {mask_id(pid)}"
        line = next((ln for ln in p.stderr.splitlines() if hid in ln), "")
        check("refused by the node" in line and want in line and "--allow-removals" in line,
              f"refusal of {hid}: no line naming {want!r}: {p.stderr!r}")
        check(name not in p.stderr and pid not in p.stderr,
              f"a clear name or ID number printed: {p.stderr!r}")
    before = {hid: int(t.ctl(village, "household", "show", hid, "--json")["members"])
              for hid in gone}

    p = t.import_file(village, "households", path, "--allow-removals")
    check_eq(p.returncode, 0, f"re-import --allow-removals: exit status ({p.stderr})")
    m = re.search(r"(\d+) new versions? .*, (\d+) unchanged, (\d+) refused", p.stdout)
    check(m is not None, f"re-import --allow-removals: summary {p.stdout!r}")
    check_eq((int(m.group(1)), int(m.group(2)), int(m.group(3))), (2, len(ids) - 2, 0),
             "re-import --allow-removals: new, unchanged, refused")
    for hid in gone:
        got = int(t.ctl(village, "household", "show", hid, "--json")["members"])
        check_eq(got, before[hid] - 1, f"members of {hid} after --allow-removals")
    expect.add_households(path)


def large_file(t, county, expect):
    files = jt.gen_households(os.path.join(t.dir, "big-{village}.csv"), BIG_VILLAGES,
                              BIG_PER_VILLAGE, seed=32, year=YEAR, new=True)
    big = os.path.join(t.dir, "big.csv")
    with open(big, "w", encoding="utf-8", newline="") as out:
        for k, v in enumerate(BIG_VILLAGES):
            with open(files[v], encoding="utf-8-sig", newline="") as f:
                lines = f.read().splitlines(keepends=True)
            out.writelines(lines if k == 0 else lines[1:])
    rc, out, err, rss_kb = import_measured(t, county, big)
    check_eq(rc, 0, f"import of {BIG_PER_VILLAGE * 3} households: exit status ({err[-500:]})")
    total = BIG_PER_VILLAGE * len(BIG_VILLAGES)
    m = re.search(r"(\d+) households? in \d+ rows?: (\d+) new versions?", out)
    check(m is not None, f"large import: summary {out!r}")
    check_eq((int(m.group(1)), int(m.group(2))), (total, total), "large import: households, new")
    jt.log(f"jzfpctl importing {total} households: peak RSS {rss_kb} KiB")
    check(rss_kb < RSS_BOUND_KB,
          f"jzfpctl's peak RSS importing {total} households: {rss_kb} KiB "
          f"(bound {RSS_BOUND_KB} KiB)")
    expect.add_households(big)


def stopped(t, village, expect):
    """An import whose node stops answering: the summary says what was
    stored (here nothing: the node is stopped before the first chunk) and
    that re-running the file is safe; re-running it imports the lot."""
    files = jt.gen_households(os.path.join(t.dir, "stop-{village}.csv"), [V], 2500, seed=33,
                              year=YEAR, new=True, first_serial=100)
    path = files[V]
    os.kill(village.proc.pid, signal.SIGSTOP)
    try:
        p = t.run_ctl(village, "import", "households", path, timeout_s=3)
    finally:
        os.kill(village.proc.pid, signal.SIGCONT)
    check_eq(p.returncode, 1, f"import at a stopped node: exit status ({p.stderr})")
    # the node stages what it is sent until the end of the file: nothing of
    # an import that stops before its commit is stored
    check(re.search(r"import stopped: no household was stored \(.*\); re-running the same "
                    r"file is safe", p.stderr),
          f"import at a stopped node: summary {p.stderr!r}")
    p = t.import_file(village, "households", path)
    check_eq(p.returncode, 0, f"re-run after the stop: exit status ({p.stderr})")
    m = re.search(r"(\d+) households? in \d+ rows?: (\d+) new versions? .*, (\d+) unchanged",
                  p.stdout)
    check(m is not None, f"re-run: summary {p.stdout!r}")
    check_eq(int(m.group(1)), 2500, "re-run: households")
    # what the stopped node was sent was staged only, and discarded
    check_eq((int(m.group(2)), int(m.group(3))), (2500, 0), "re-run: new versions, unchanged")
    expect.add_households(path)


def test(t):
    t.add(P, "province", "青海省")
    county = t.add(C, "county", "大通县")
    village = t.add(V, "village", "一村", parent=county)
    t.start_all()
    t.wait_synced()
    census = jt.gen_census(os.path.join(t.dir, "census.csv"), [V] + BIG_VILLAGES, YEAR, seed=3)
    t.import_ok(county, "census", census)
    expect = jt.Expect()
    expect.add_census(census)

    removals(t, village, expect)
    stopped(t, village, expect)
    large_file(t, county, expect)

    t.wait_synced()
    for level in ("village", "county"):
        jt.compare_rollup(t.rollup(county, level, under=C), expect.rollup(level, under=C),
                          f"rollup at the county, level {level}",
                          columns=[c for c in jt.ROLLUP_COLUMNS if c != "name"])


if __name__ == "__main__":
    jt.main(test)
