#!/usr/bin/env python3
"""Faults: crashes, outages, restarts and a restored backup (DESIGN §5, §7).

Tree: province, county 630121000000, township 630121101000 with villages
630121101001 and 630121101002 (small batches, so that replication takes many
round trips), and a second county 632221000000 with one village node under
it (its parent is the county) that keeps working throughout.

  (a) kill -9 the township while both its villages import a large file and
      their batches are on the way up; restart it: after sync the province's
      rollup equals the expected one and verify passes everywhere (nothing
      lost, nothing counted twice);
  (b) stop a village's parent, import at the village (works offline), see the
      link reported down with a backlog, restart the parent: the backlog
      drains and the totals are right;
  (c) stop every node, start every node: every node's record count and
      rollups are unchanged;
  (d) a county's data directory is replaced by an older copy: its children
      refill it (the county's and the province's rollups are right again and
      verify passes);
  (e) a village's data directory is deleted and the village restarted with
      the same key: before it signs anything it recovers its own records
      from its parent (DESIGN §7), then imports again; no equivocation
      anywhere, every rollup right;
  (f) a village restored from an older copy while its parent is down signs
      new records (a fork of its chain): its parent refuses it with the
      reason, on both sides, and nothing above changes.
"""

import os
import re
import shutil
import subprocess

import jzfptest as jt
from jzfptest import check, check_eq

YEAR = 2020
SMALL = 60     # households per village for the first imports


def KEY_RECORDS(households):
    """Key records an import of this many households makes: one per request
    of 1000 households (jzfpctl's chunk), the data key of its sealed parts."""
    return (households + 999) // 1000


# households per village for the import that is cut by kill -9: enough that
# the township, fed in batches of 16 (window 2), is killed after 20 of them
# and well before the last (1500 took minutes more and showed nothing more)
LARGE = 600
V1, V2 = "630121101001", "630121101002"
W1 = "632221101001"  # village under the other county


class Scenario:
    def __init__(self, t):
        self.t = t
        self.data = os.path.join(t.dir, "input")
        os.mkdir(self.data)
        self.expect = jt.Expect()
        self.serial = {}  # village -> next free household serial
        self.batch = 0

    def households(self, villages, n, seed):
        """Generate n new households for each village (fresh serials, so
        every household is new)."""
        self.batch += 1
        files = {}
        for v in villages:
            first = self.serial.get(v, 1)
            files.update(jt.gen_households(
                os.path.join(self.data, f"b{self.batch}_{{village}}.csv"), [v], n,
                seed=f"{seed}{self.batch}{v}", year=YEAR, first_serial=first, new=True))
            self.serial[v] = first + n
            self.expect.add_households(files[v])
        return files

    def census(self, village):
        path = jt.gen_census(os.path.join(self.data, f"census_{village}.csv"), [village], YEAR,
                             seed=village)
        self.expect.add_census(path)
        return path

    def check_all(self, what):
        """Province and every county: rollups as expected; verify everywhere."""
        t = self.t
        names = jt.node_names(t)
        recs = t.wait_synced()
        own = sum(t.status(n)["own_records"] for n in t.nodes.values())
        check_eq(recs, own, f"{what}: province records vs. records signed by all nodes")
        prov = t.province()
        for level in jt.ROLLUP_LEVELS:
            jt.compare_rollup(t.rollup(prov, level), self.expect.rollup(level, names=names),
                              f"{what}: province rollup --level {level}")
        for n in t.nodes.values():
            if n.level == "county":
                jt.compare_rollup(t.rollup(n, "village"),
                                  self.expect.rollup("village", under=n.area, names=names),
                                  f"{what}: {n} rollup --level village")
        for n in t.nodes.values():
            t.verify(n, what)

    def snapshot(self):
        """Every node's record count and rollup at every level."""
        t = self.t
        snap = {}
        for a, n in t.nodes.items():
            snap[a] = (t.status(n)["records"],
                       {lv: t.rollup(n, lv) for lv in jt.rollup_levels(n)})
        return snap


def part_a(s):
    """kill -9 of the township in the middle of its villages' batches."""
    t = s.t
    town = t.nodes["630121101000"]
    for attempt in range(1, 4):
        files = s.households([V1, V2], LARGE, "crash")
        before = t.status(town)["records"]
        full = before + 2 * (LARGE + KEY_RECORDS(LARGE))
        procs = []
        for v in (V1, V2):
            argv = [jt.JZFPCTL, "-c", t.nodes[v].conf, "--timeout", "120", "import",
                    "households", files[v]]
            procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True))
        # Kill the township once some, not all, of the new records arrived.
        def arrived():
            r = t.status(town)["records"]
            return r if r > before + 20 else None

        seen = jt.poll("the first new records at the township", arrived, [town], timeout=60)
        t.kill9(town)
        mid = before < seen < full
        jt.log(f"(a) attempt {attempt}: township killed at {seen - before} of {2 * LARGE} "
               f"new records")
        for p in procs:
            out, err = p.communicate(timeout=300)
            check(p.returncode == 0, f"(a) import at a village while its township died: "
                  f"exit {p.returncode}: {err.strip()}")
        t.start(town)
        s.check_all(f"(a) attempt {attempt}")
        if mid:
            return
    raise jt.Failure("(a) could not kill the township in the middle of the replication "
                     "in 3 attempts")


def part_b(s):
    """A village keeps working while its parent is down; the backlog drains."""
    t = s.t
    town, v1 = t.nodes["630121101000"], t.nodes[V1]
    t.stop(town)
    files = s.households([V1], SMALL, "offline")
    created = t.import_ok(v1, "households", files[V1])
    check_eq(created, SMALL, "(b) households imported while the parent is down")

    def down():
        par = t.status(v1)["parent"]
        return par if par["connected"] is False else None
    par = t.wait_for("the village to report its parent link down", down, timeout=30)
    check(par["backlog"] >= SMALL, f"(b) backlog while the parent is down: {par['backlog']}")
    check(isinstance(par.get("why"), str) and par["why"],
          f"(b) status gives no reason why the link is down: {par!r}")
    jt.log(f"(b) parent down: backlog {par['backlog']}, why: {par['why']}")
    t.start(town)
    s.check_all("(b) after the parent came back")


def part_c(s):
    """Stop everything, start everything: nothing changes."""
    t = s.t
    t.wait_synced()
    before = s.snapshot()
    marks = {a: len(n.log_text()) for a, n in t.nodes.items()}
    t.stop_all()
    t.start_all()
    t.wait_synced()
    after = s.snapshot()
    # Every log starts a new epoch; each parent's cursor, in the epoch
    # before, still names its entry: every link resumes where it stood.
    for a, n in t.nodes.items():
        if n.parent is not None:
            up = re.findall(r"link to parent up: parent holds our log up to (\d+) of (\d+)",
                            n.log_text()[marks[a]:])
            check(up and up[0][0] == up[0][1] and int(up[0][0]) > 0,
                  f"(c) {n}: its parent does not resume where it stood: {up}")
    for a in t.nodes:
        check_eq(after[a][0], before[a][0], f"(c) {t.nodes[a]}: records after a full restart")
        for lv in before[a][1]:
            jt.compare_rollup(after[a][1][lv], before[a][1][lv],
                              f"(c) {t.nodes[a]} rollup --level {lv} after a full restart")
    # New records up and receipts down, in the new epochs, continue the
    # cursors of the epochs before: no link asks for, or makes, a resend.
    files = s.households([V1], 5, "after-restart")
    t.import_ok(t.nodes[V1], "households", files[V1])
    s.check_all("(c) after a full restart")
    for a, n in t.nodes.items():
        new = n.log_text()[marks[a]:]
        for bad in ("resending everything", "asking for a resend", "asks to resend",
                    "start at", "starts at", "new epoch"):
            check(bad not in new, f"(c) {n}: '{bad}' after a full restart")


def part_d(s):
    """A county restored from an older copy of its data directory is refilled
    by its children."""
    t = s.t
    county = t.nodes["630121000000"]
    backup = os.path.join(t.dir, "county-data-backup")
    t.wait_synced()
    old_records = t.status(county)["records"]
    t.stop(county)
    shutil.copytree(county.data, backup, symlinks=True)
    t.start(county)
    files = s.households([V1, V2], SMALL, "after-backup")
    for v in (V1, V2):
        check_eq(t.import_ok(t.nodes[v], "households", files[v]), SMALL,
                 f"(d) import at {v} after the backup")
    t.wait_synced()
    newer = t.status(county)["records"]
    # The new households and key records, and the province's receipts
    # for them on their way down.
    check(newer > old_records + 2 * (SMALL + KEY_RECORDS(SMALL)),
          f"(d) county records before the restore: {newer}, was {old_records}")
    # Its children wait while it restarts, so that what it holds right
    # after the restore is read before they refill it (else the check races
    # their reconnection).
    for k in county.children:
        t.stop(k)
    t.stop(county)
    shutil.rmtree(county.data)
    shutil.copytree(backup, county.data, symlinks=True)
    sock = os.path.join(county.data, "control.sock")
    check(not os.path.exists(sock), f"(d) backup holds a control socket {sock}")
    t.start(county)
    restored = t.status(county)["records"]
    check(old_records <= restored < newer,
          f"(d) county records right after restore: {restored}, the backup held {old_records}, "
          f"the lost store {newer}")
    for k in county.children:
        t.start(k)
    s.check_all("(d) after restoring the county's old data directory")
    check_eq(t.status(county)["records"], newer, "(d) county records after the refill")


def part_e(s):
    """A village whose store was lost recovers its own records from its
    parent before it signs anything new: its chain never forks."""
    t = s.t
    t.wait_synced()
    county = t.nodes["632221000000"]
    w1 = t.nodes[W1]
    before = s.snapshot()
    own_before = t.status(w1)["own_records"]
    t.stop(w1)
    shutil.rmtree(w1.data)
    t.start(w1)  # waits until it may sign: recovered
    st = t.status(w1)
    check_eq(st["own_records"], own_before, "(e) own records after the recovery")
    check(st["may_sign"] is True, f"(e) the recovered village may not sign: {st!r}")
    check(t.grep_log(w1, r"recovered our own records up to " + str(own_before)),
          "(e) the village does not log its recovery")
    check(t.grep_log(county, r"child " + W1 + r" holds its own records up to 0"),
          "(e) the county does not log that the child recovers")
    t.wait_synced()
    # Its own households are back, and what came down is back too.
    after = s.snapshot()
    for lv in before[W1][1]:
        jt.compare_rollup(after[W1][1][lv], before[W1][1][lv],
                          f"(e) {w1} rollup --level {lv} after the recovery")
    for a in ("630000000000", "632221000000"):
        for lv in before[a][1]:
            jt.compare_rollup(after[a][1][lv], before[a][1][lv],
                              f"(e) {t.nodes[a]} rollup --level {lv} after the recovery")
    # It signs again, continuing its chain: no equivocation anywhere.
    files = s.households([W1], 5, "after-loss")
    check_eq(t.import_ok(w1, "households", files[W1]), 5, "(e) import after the recovery")
    s.check_all("(e) after the recovery and a new import")
    for n in t.nodes.values():
        check_eq(t.status(n)["equivocations"], 0, f"(e) {n}: equivocations")


def part_f(s):
    """A village restored from an older copy while its parent is down, that
    signs new records before it reconnects, forked its chain: its parent
    refuses it, saying why, and nothing above it changes."""
    t = s.t
    t.wait_synced()
    county = t.nodes["632221000000"]
    w1 = t.nodes[W1]
    backup = os.path.join(t.dir, "w1-data-backup")
    t.stop(w1)
    shutil.copytree(w1.data, backup, symlinks=True)
    t.start(w1)
    files = s.households([W1], 3, "before-restore")
    check_eq(t.import_ok(w1, "households", files[W1]), 3, "(f) import before the restore")
    s.check_all("(f) before the restore")
    before = s.snapshot()
    t.stop(county)
    t.stop(w1)
    shutil.rmtree(w1.data)
    shutil.copytree(backup, w1.data, symlinks=True)
    t.start(w1, wait=False)
    t.wait_up(w1, wait_sign=False)
    # Offline, the old copy looks like any store that has signed before:
    # it signs records under sequence numbers it already used.
    forked = s.households([W1], 2, "fork")
    p = t.import_file(w1, "households", forked[W1])
    check_eq(p.returncode, 0, f"(f) import at the restored copy: {p.stderr}")
    gone = jt.Expect()
    gone.add_households(forked[W1])
    for hid in gone.households:
        del s.expect.households[hid]  # they never reach the province
    t.start(county)

    def refused():
        par = t.status(w1)["parent"]
        return par if par.get("behind") else None
    par = t.wait_for("the forked village to be refused", refused, timeout=30)
    check(par["connected"] is False, f"(f) a forked village is connected: {par!r}")
    check(re.search(r"different record", par["why"]), f"(f) status does not say why: {par!r}")
    check(t.grep_log(county, r"refused hello from " + W1 + r": this parent holds a different"),
          "(f) the county does not log the refusal")
    p = t.import_file(w1, "households", forked[W1])
    check(p.returncode != 0 and "fork" in p.stderr,
          f"(f) import at the forked village: exit {p.returncode}, {p.stderr!r}")
    after = s.snapshot()
    for a in ("630000000000", "632221000000"):
        check_eq(after[a][0], before[a][0], f"(f) {t.nodes[a]}: records after the fork")
        for lv in before[a][1]:
            jt.compare_rollup(after[a][1][lv], before[a][1][lv],
                              f"(f) {t.nodes[a]} rollup --level {lv} after the fork")
    t.verify(t.nodes["630000000000"], "(f) province")


def test(t):
    t.add("630000000000", "province", "青海省")
    t.add("630121000000", "county", "大通县")
    t.add("630121101000", "township", "桥头镇")
    t.add(V1, "village", "新庄村", batch_max=16, window=2)
    t.add(V2, "village", "黄家村", batch_max=16, window=2)
    t.add("632221000000", "county", "门源县")
    t.add(W1, "village", "东川村")
    s = Scenario(t)
    t.start_all()
    jobs = []
    first = s.households([V1, V2, W1], SMALL, "base")
    for v in (V1, V2, W1):
        jobs += [(t.nodes[v], "households", first[v]), (t.nodes[v], "census", s.census(v))]
    t.import_many(jobs)
    s.check_all("initial import")
    for part in (part_a, part_b, part_c, part_d, part_e, part_f):
        jt.log(f"--- {part.__doc__.splitlines()[0]}")
        part(s)


if __name__ == "__main__":
    jt.main(test)
