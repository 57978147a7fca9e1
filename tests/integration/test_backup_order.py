#!/usr/bin/env python3
"""A restored relay whose children resend in another order (README: Operations,
Backup and restore; node/replication/apply.c epochs_turn).

A parent's cursor for a child names a position in the child's log and the
entry there. A township restored from a copy applies its villages'
resends from the copy's head on. Here they come in an order that puts the
entry the county's cursor names back at the same position, behind other
entries:

  - after the copy, V1 imports A (n records), then V2 imports B; the
    township's log is copy + A + B, and the county's cursor names B's last
    record, at position Q;
  - the township is restored with the county, V1 and V2 stopped; V3
    imports C, as many records as A; then V2 resends B: the township's log
    is copy + C + B, B's last record at Q again;
  - the county starts. Its cursor is in the epoch the copy was taken in;
    the restored township ended that epoch at the copy's head when it
    started, so the cursor, past that end, names no entry of its log and
    it sends the county everything. Had the epoch gone on, the county would
    resume after Q and never get C.

The copy is `jzfpctl backup`'s here; test_snapshot_order takes it as a VM
snapshot or a hand copy would, the running township paused (SIGSTOP) while
its data file is copied.

Then V1 resends A, the tree syncs on exact cursors, and the province holds
C: its rollups for the township's villages equal the township's, and
`rollup --verify` passes at both. The scenario is checked as it forms (the
township's log head after C and after B): if it did not form, the test
says so and fails instead of passing for nothing.
"""

import os
import shutil
import signal

import jzfptest as jt
from jzfptest import check, check_eq

YEAR = 2020
TOWNSHIP = "630121101000"
V1, V2, V3 = "630121101001", "630121101002", "630121101004"
HOUSEHOLDS = 12


def rollup_csv(t, n):
    return t.ctl_text(n, "rollup", "--level", "village", "--under", TOWNSHIP, "--format", "csv")


def head(t, n):
    return (t.status(n).get("up") or {}).get("head")


def wait_held(t, village, town):
    """Until TOWN holds VILLAGE's whole log; returns TOWN's log head."""
    def held():
        up = t.status(village).get("up") or {}
        return up.get("head") is not None and up.get("acked") == up.get("head")
    t.wait_for(f"{town} holding {village}'s log", held, nodes=[village, town])
    return head(t, town)


def copy_paused(town, dest):
    """Copy TOWN's data file while it is paused, as a snapshot of the running
    node would: LMDB's file is whole at any instant between its writes."""
    os.mkdir(dest, 0o700)
    pid = town.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        shutil.copy(os.path.join(town.data, "data.mdb"), os.path.join(dest, "data.mdb"))
    finally:
        os.kill(pid, signal.SIGCONT)


def scenario(t, how):
    """HOW: "backup" (`jzfpctl backup`) or "snapshot" (copy_paused)."""
    t.receipt_ms = 3600 * 1000
    prov = t.add("630000000000", "province", "青海省")
    county = t.add("630121000000", "county", "大通县")
    town = t.add(TOWNSHIP, "township", "桥头镇")
    v1 = t.add(V1, "village", "新庄村")
    v2 = t.add(V2, "village", "黄家村")
    v3 = t.add(V3, "village", "李家村")
    t.start_all()
    t.wait_synced(receipts=False)

    t.import_census_each([v1, v2, v3], YEAR, seed=7)
    t.wait_synced(receipts=False)

    # ---- the copy, then A (V1) and B (V2) through the township, in turn
    backup = os.path.join(t.dir, "town-backup")
    copy_head = head(t, town)
    if how == "backup":
        t.ctl(town, "backup", backup, "--json", timeout_s=600)
    else:
        copy_paused(town, backup)
    check_eq(head(t, town), copy_head, "the township's head across the copy (nothing moving)")
    files = jt.gen_households(os.path.join(t.dir, "h-{village}.csv"), [V1, V2, V3],
                              HOUSEHOLDS, seed=21, year=YEAR, new=True)
    t.import_ok(v1, "households", files[V1])
    t.wait_synced(receipts=False)
    n_a = head(t, town) - copy_head
    t.import_ok(v2, "households", files[V2])
    t.wait_synced(receipts=False)
    q = head(t, town)
    n_b = q - copy_head - n_a
    check(n_a > 0 and n_b > 0, f"A and B in the township's log: {n_a}, {n_b}")

    # ---- restore the township with its parent and V1, V2 down
    for n in (county, v1, v2, town):
        t.stop(n)
    shutil.rmtree(town.data)
    os.mkdir(town.data, 0o700)
    shutil.copy(os.path.join(backup, "data.mdb"), os.path.join(town.data, "data.mdb"))
    os.chmod(os.path.join(town.data, "data.mdb"), 0o600)
    t.start(town, wait=False)
    t.wait_up(town, wait_sign=False)
    check_eq(head(t, town), copy_head, "the restored township's log head")
    mark = len(town.log_text())

    # ---- C (V3, as many records as A), then V2 resends B
    t.import_ok(v3, "households", files[V3])
    check_eq(wait_held(t, v3, town), copy_head + n_a,
             "scenario: the township's head after V3's import (C as long as A)")
    t.start(v2)
    check_eq(wait_held(t, v2, town), q,
             "scenario: the township's head after V2's resend (B's last record at Q again)")

    # ---- the county, then V1; everything must reach the province
    t.start(county)
    t.start(v1)
    t.wait_synced(receipts=False)
    want = rollup_csv(t, town)
    check(V3 in want, f"the township's rollup lists {V3}")
    check_eq(rollup_csv(t, prov), want,
             "province rollup for the township's villages (C reached it)")
    check_eq(rollup_csv(t, county), want, "county rollup for the township's villages")
    t.verify(town, "restored township")
    t.verify(prov, "province")
    check("parent's cursor does not name an entry of our log" in town.log_text()[mark:],
          f"{town}: no log line saying the county's cursor is past the copy's epoch")


def test(t):
    scenario(t, "backup")


if __name__ == "__main__":
    jt.main(test)
