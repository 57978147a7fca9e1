#!/usr/bin/env python3
"""import households streamed to an import session at the node (issue 12):
all or nothing, and jzfpctl's memory bounded whatever the file's size.

Tree: province 630000000000, county 630121000000, village node
630121101001 (its parent the county).

  - A file of 1,500 households with two faults near its end: a wrong ID
    check character in the last household (found by jzfpctl as it reads)
    and, in the household before it, the ID number of the file's first row
    (found by the node's session, after more than a thousand households were
    staged there). Both are listed as FILE:LINE: id_number: ..., and nothing
    is imported: the node's record count and rollup are exactly as before.
  - jzfpctl reads a file from a pipe, so the test decides how far it gets:
    once the node has answered two of its chunks (staged), jzfpctl is killed
    by its PID. The node's records and rollup are exactly as before; a new
    import then works (the dead jzfpctl's session is discarded) and its
    households are exactly those counted in the village's rollup.
  - jzfpctl's VmHWM (/proc/PID/status, read until it exits) importing 8,000
    households is within RSS_RATIO of its VmHWM importing 1,200.
"""

import csv
import os
import re
import select
import subprocess
import threading
import time

import jzfptest as jt
from jzfptest import check, check_eq

YEAR = 2020
P, C, V = "630000000000", "630121000000", "630121101001"
# The normal build: 1.03-1.06 measured, and the reader that kept the ids
# 1.24. Under ASan (its allocator's caches grow about 2 MiB with the larger
# file on a 16 MiB base) 1.12-1.13 measured, so 1.20 there: the normal
# build's run is the one that catches a reader keeping ids.
RSS_RATIO = 1.20 if jt.is_sanitized() else 1.12


def rows_of(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def write_rows(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def bad_id_number(idn):
    chars = "0123456789X"
    return idn[:17] + chars[(chars.index(idn[17].upper()) + 1) % 11]


def snapshot(t, n):
    return (t.status(n)["records"], t.rollup(n, "village"))


def village_row(t, n):
    row = next((r for r in t.rollup(n, "village") if r["area"] == V), None)
    return (int(row["households"]), int(row["persons"])) if row else (0, 0)


def vm_hwm(pid):
    """VmHWM of PID in KiB once it runs jzfpctl; None before (between fork
    and exec it is a copy of this Python process, whose high-water mark is
    not jzfpctl's) and once it has exited."""
    try:
        with open(f"/proc/{pid}/status") as f:
            name = None
            for ln in f:
                if ln.startswith("Name:"):
                    name = ln.split()[1]
                elif ln.startswith("VmHWM:"):
                    return int(ln.split()[1]) if name == "jzfpctl" else None
    except OSError:
        pass
    return None


def import_hwm(t, n, path):
    """jzfpctl import households PATH at n: (exit status, stdout, stderr,
    VmHWM in KiB of that process, read until it exits: a high-water mark,
    so the last reading is its peak but for a rise in its last moments).
    Not ru_maxrss: a child's counts the Python parent's RSS at the fork."""
    out_path, err_path = path + ".out", path + ".err"
    argv = [jt.JZFPCTL, "-c", n.conf, "--timeout", "120", "import", "households", path]
    with open(out_path, "w") as out, open(err_path, "w") as err:
        # an ASan build's quarantine of freed memory would grow with the file
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                     "quarantine_size_mb=0"]))
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
    hwm = 0
    exited = os.pidfd_open(p.pid)
    try:
        end = jt.deadline(280)
        for _ in range(10**8):
            hwm = max(hwm, vm_hwm(p.pid) or 0)
            # Wait for its exit; the timeout is the sampling period of VmHWM.
            if select.select([exited], [], [], 0.005)[0] or p.poll() is not None:
                break
            if time.monotonic() > end:
                raise jt.Failure("jzfpctl import: no exit within 280 s (or the test's budget)")
    finally:
        os.close(exited)
        if p.poll() is None:
            p.kill()
        p.wait(30)
    with open(out_path) as f:
        out = f.read()
    with open(err_path) as f:
        err = f.read()
    return p.returncode, out, err, hwm


def bad_near_end(t, village):
    path = jt.gen_households(os.path.join(t.dir, "end-{village}.csv"), [V], 1500, seed=41,
                             year=YEAR, new=True)[V]
    rows = rows_of(path)
    col = {h: i for i, h in enumerate(rows[0])}
    first_row = {}
    for i, r in enumerate(rows[1:], start=2):
        first_row.setdefault(r[col["household_id"]], i)
    hids = list(first_row)
    # the last household's first row: a wrong check character (jzfpctl)
    l_bad = first_row[hids[-1]]
    rows[l_bad - 1][col["id_number"]] = bad_id_number(rows[l_bad - 1][col["id_number"]])
    # the household before it: its first row takes the person of line 2 (the node)
    l_dup = first_row[hids[-2]]
    for c in ("id_number", "sex", "birth_date"):
        rows[l_dup - 1][col[c]] = rows[1][col[c]]
    write_rows(path, rows)

    before = snapshot(t, village)
    p = t.import_file(village, "households", path)
    check_eq(p.returncode, 1, f"import with bad rows near the end: exit ({p.stderr[-300:]})")
    rx = re.compile(re.escape(path) + r":(\d+): ([a-z_]+): (.*)")
    got = {}
    for ln in p.stderr.splitlines():
        m = rx.match(ln)
        if m:
            got[(int(m.group(1)), m.group(2))] = m.group(3)
    check_eq(set(got), {(l_bad, "id_number"), (l_dup, "id_number")},
             "errors listed for the file with bad rows near its end")
    check(got.get((l_dup, "id_number"), "").startswith("appears twice (first on line 2)"),
          f"the node's duplicate: {got}")
    last = p.stderr.strip().splitlines()[-1]
    check("2 error(s) in 2 household(s); nothing imported" in last,
          f"summary line: {last!r}")
    check_eq(snapshot(t, village), before, "records and rollup after the refused import")


def killed(t, village):
    path = jt.gen_households(os.path.join(t.dir, "kill-{village}.csv"), [V], 3000, seed=42,
                             year=YEAR, new=True)[V]
    with open(path, "rb") as f:
        data = f.read()
    # about half the file: more than two chunks' households (100 + 1000)
    cut = data.index(b"\n", len(data) // 2) + 1
    fifo = os.path.join(t.dir, "kill.fifo")
    os.mkfifo(fifo)
    before = snapshot(t, village)
    done_before = village.log_text().count("import-households done")
    fed, stop = threading.Event(), threading.Event()

    def feed():
        try:
            with open(fifo, "wb") as w:  # blocks until jzfpctl opens it
                w.write(data[:cut])
                w.flush()
                fed.set()
                stop.wait(jt.left(120))
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    argv = [jt.JZFPCTL, "-c", village.conf, "--timeout", "60", "import", "households", fifo]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        t.wait_for("the node staging two chunks",
                   lambda: village.log_text().count("import-households done") >= done_before + 2,
                   timeout=60)
        check(p.poll() is None, "jzfpctl ended before it was killed")
    finally:
        p.kill()
        p.wait(30)
        stop.set()
        writer.join(30)
    check(not writer.is_alive(), "the pipe's writer did not end")
    check_eq(snapshot(t, village), before, "records and rollup after jzfpctl was killed")

    # a new import: the dead jzfpctl's session is no obstacle
    small = jt.gen_households(os.path.join(t.dir, "small-{village}.csv"), [V], 300, seed=43,
                              year=YEAR, new=True)[V]
    rc, out, err, _ = import_hwm(t, village, small)
    check_eq(rc, 0, f"import after the kill: exit ({err[-300:]})")
    m = re.search(r"(\d+) households? in (\d+) rows?: (\d+) new versions?", out)
    check(m is not None, f"import after the kill: summary {out!r}")
    persons = len(rows_of(small)) - 1
    check_eq((int(m.group(1)), int(m.group(2)), int(m.group(3))), (300, persons, 300),
             "import after the kill: households, rows, new versions")
    check_eq(village_row(t, village), (300, persons),
             "village households and persons after the import that followed the kill")


def logged_lines(log, out):
    """The node's log of one streamed import (LOG), against jzfpctl's summary
    (OUT): one line per request saying what it did, the commits' new records
    adding up to the summary's, and the last commit ending the session."""
    m = re.search(r"(\d+) households? in \d+ rows?: (\d+) new versions? \((\d+) proposals?", out)
    check(m is not None, f"import summary {out!r}")
    lines = [line for line in log.splitlines() if "import-households" in line]
    staged = [line for line in lines if "staged" in line and "nothing signed yet" in line]
    opened = [line for line in staged if "(a new import session)" in line]
    commits = [re.search(r"import-households done: (\d+) new record\(s\) \((\d+) "
                         r"proposal\(s\)\), 0 unchanged, 0 refused; (.*)$", line)
               for line in lines if line not in staged]
    check(len(opened) == 1 and all(commits) and commits,
          f"the import's log lines: {lines}")
    check_eq([sum(int(c.group(1)) for c in commits), sum(int(c.group(2)) for c in commits)],
             [int(m.group(2)), int(m.group(3))],
             "new records and proposals in the log's commit lines against the summary")
    check_eq([c.group(3) for c in commits][-1], "the import session ended",
             "the last commit's line")
    check(all(c.group(3).endswith("staged to go") for c in commits[:-1]),
          f"the commits before the last: {lines}")


def memory(t, village):
    """Peak memory importing 1,200 households (whole chunks of 1,000 too) and
    8,000: the larger file's within RSS_RATIO."""
    small = jt.gen_households(os.path.join(t.dir, "mem-{village}.csv"), [V], 1200, seed=45,
                              year=YEAR, new=True, first_serial=301)[V]
    logged = len(village.log_text())
    rc, out, err, small_rss = import_hwm(t, village, small)
    check_eq(rc, 0, f"import of 1,200 households: exit ({err[-300:]})")
    logged_lines(village.log_text()[logged:], out)
    big = jt.gen_households(os.path.join(t.dir, "big-{village}.csv"), [V], 8000, seed=44,
                            year=YEAR, new=True, first_serial=1501)[V]
    rc, out, err, big_rss = import_hwm(t, village, big)
    check_eq(rc, 0, f"import of 8,000 households: exit ({err[-300:]})")
    m = re.search(r"(\d+) households? in \d+ rows?: (\d+) new versions?", out)
    check(m is not None and (int(m.group(1)), int(m.group(2))) == (8000, 8000),
          f"import of 8,000 households: summary {out!r}")
    jt.log(f"jzfpctl VmHWM: {small_rss} KiB for 1,200 households, {big_rss} KiB for 8,000")
    check(small_rss > 0 and big_rss <= small_rss * RSS_RATIO,
          f"jzfpctl's VmHWM: {big_rss} KiB for 8,000 households, {small_rss} KiB for 1,200 "
          f"(bound: {RSS_RATIO}x)")


def test(t):
    t.add(P, "province", "青海省")
    county = t.add(C, "county", "大通县")
    village = t.add(V, "village", "一村", parent=county)
    t.start_all()
    t.wait_synced()
    census = jt.gen_census(os.path.join(t.dir, "census.csv"), [V], YEAR, seed=4)
    p = t.import_file(county, "census", census)
    check_eq((p.returncode, p.stdout.strip()),
             (0, f"{census}: 1 census row: 1 new, 0 unchanged, 0 refused"),
             "the census import of one village: exit and summary")
    t.wait_synced()

    bad_near_end(t, village)
    killed(t, village)
    memory(t, village)


if __name__ == "__main__":
    jt.main(test)
