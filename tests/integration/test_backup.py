#!/usr/bin/env python3
"""Backup and restore (README: Operations; DESIGN §5, §7).

A province, a county, a township and two villages. The township is backed
up with `jzfpctl backup DIR` while a village's import replicates through it;
more records flow through it after the backup; then the township is stopped,
its data directory replaced by the backup's copy, and restarted. Then:

  - the restored township signs nothing before its parent has answered
    (`status` says why), and then may sign again;
  - it catches up: its children resend what came after the copy, the tree
    syncs on exact cursors, and `rollup --verify` passes at the township and
    the province;
  - its rollups equal the province's for its subtree, and equal what they
    were before it was stopped; nothing was refused or duplicated above it;
  - the copy holds the log's epoch, which the restored township ends at the
    copy's head when it starts: the county's cursor, past that, names no
    entry of its log, and it resends its log (apply.c epochs_turn says why;
    test_backup_order makes the case where an epoch going on would lose
    records);
  - a backup into a non-empty directory, or a relative path it cannot
    create, is refused with a clear reason.
"""

import os
import shutil
import subprocess

import jzfptest as jt
from jzfptest import check, check_eq

YEAR = 2020
V1, V2 = "630121101001", "630121101002"
TOWNSHIP = "630121101000"


def rollup_csv(t, n, under):
    return t.ctl_text(n, "rollup", "--level", "village", "--under", under, "--format", "csv")


def test(t):
    t.receipt_ms = 3600 * 1000
    prov = t.add("630000000000", "province", "青海省")
    t.add("630121000000", "county", "大通县")
    town = t.add(TOWNSHIP, "township", "桥头镇")
    v1 = t.add(V1, "village", "新庄村")
    v2 = t.add(V2, "village", "黄家村")
    t.start_all()
    t.wait_synced(receipts=False)

    t.import_census_each([v1, v2], YEAR, seed=7)
    first = jt.gen_households(os.path.join(t.dir, "a-{village}.csv"), [V1, V2], 60, seed=11,
                              year=YEAR, new=True)
    t.import_ok(v1, "households", first[V1])
    t.wait_synced(receipts=False)

    # ---- a backup while V2's import replicates through the township
    backup = os.path.join(t.dir, "town-backup")
    load = subprocess.Popen([jt.JZFPCTL, "-c", v2.conf, "import", "households", first[V2]],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    b = t.ctl(town, "backup", backup, "--json", timeout_s=600)
    out, err = load.communicate(timeout=300)
    check_eq(load.returncode, 0, f"import at {v2} during the backup: {err}")
    check(b["bytes"] > 0 and os.path.isfile(os.path.join(backup, "data.mdb")),
          f"backup reply {b}")
    check_eq(oct(os.stat(backup).st_mode & 0o777), oct(0o700), "backup directory mode")
    p = jt.run([os.path.join(jt.BIN, "jzfp_schema"), backup, "--keys", "meta"])
    check_eq(p.returncode, 0, f"jzfp_schema {backup} --keys meta: {p.stderr}")
    keys = set(p.stdout.split())
    check(b"restored_from_backup".hex() in keys, f"the copy is not marked restored: {keys}")
    check(b"epoch".hex() in keys, f"the copy has no log epoch: {keys}")
    t.wait_synced(receipts=False)

    # ---- refusals
    p = t.run_ctl(town, "backup", backup)
    check(p.returncode == 1 and "not an empty directory" in p.stderr,
          f"backup into a used directory: exit {p.returncode} {p.stderr!r}")
    inside = os.path.join(town.data, "copy")
    p = t.run_ctl(town, "backup", inside)
    check(p.returncode == 1 and "inside the node's data directory" in p.stderr and
          not os.path.exists(inside),
          f"backup into the node's own data directory: exit {p.returncode} {p.stderr!r}")
    link = os.path.join(t.dir, "data-link")
    os.symlink(town.data, link)
    p = t.run_ctl(town, "backup", os.path.join(link, "copy2"))
    check(p.returncode == 1 and "inside the node's data directory" in p.stderr and
          not os.path.exists(os.path.join(town.data, "copy2")),
          f"backup into the data directory through a link: exit {p.returncode} {p.stderr!r}")

    # ---- more records through the township after the copy
    second = jt.gen_households(os.path.join(t.dir, "b-{village}.csv"), [V1], 30, seed=12,
                               year=YEAR, new=True, first_serial=5001)
    t.import_ok(v1, "households", second[V1])
    t.wait_synced(receipts=False)
    want = rollup_csv(t, prov, TOWNSHIP)
    check_eq(rollup_csv(t, town, TOWNSHIP), want, "township rollup before the restore")
    prov_records = t.status(prov)["records"]
    county = t.nodes["630121000000"]
    refused_before = t.status(county)["refused"]

    # ---- the township's copy restored at a village: refused at start, and
    # the village starts again on its own store
    t.stop(v1)
    own = v1.data + ".own"
    os.rename(v1.data, own)
    os.mkdir(v1.data, 0o700)
    shutil.copy(os.path.join(backup, "data.mdb"), os.path.join(v1.data, "data.mdb"))
    p = jt.run([jt.JZFPD, "--config", v1.conf], timeout=60)
    check(p.returncode != 0 and f"is the store of area {TOWNSHIP}, not of this node's {V1}"
          in p.stderr, f"a village started on the township's backup: exit {p.returncode}, "
          f"{p.stderr[-400:]!r}")
    shutil.rmtree(v1.data)
    os.rename(own, v1.data)
    t.start(v1)

    # ---- restore the township from the copy
    t.stop(town)
    shutil.rmtree(town.data)
    os.mkdir(town.data, 0o700)
    shutil.copy(os.path.join(backup, "data.mdb"), os.path.join(town.data, "data.mdb"))
    os.chmod(os.path.join(town.data, "data.mdb"), 0o600)
    mark = len(town.log_text())
    t.start(town)
    check(t.grep_log(town, r"restored from a backup: waiting for the parent"),
          f"{town}: no log line saying it waits for its parent")
    t.wait_synced(receipts=False)
    st = t.status(town)
    check_eq(st["may_sign"], True, f"{town}: may sign after its parent answered")
    check(t.grep_log(town, r"restored store: the parent has answered"),
          f"{town}: no log line saying signing is allowed again")
    check("parent's cursor does not name an entry of our log" in town.log_text()[mark:],
          f"{town}: no log line saying the county's cursor is past the copy's epoch")
    check_eq(rollup_csv(t, town, TOWNSHIP), want, "township rollup after the restore")
    check_eq(rollup_csv(t, prov, TOWNSHIP), want, "province rollup after the restore")
    check_eq(t.status(prov)["records"], prov_records, "province records after the restore")
    check_eq(t.status(county)["refused"], refused_before, "county refusals after the restore")
    check_eq(t.status(county)["equivocations"], 0, "county equivocations")
    t.verify(town, "restored township")
    t.verify(prov, "province after the township's restore")

    # ---- the restored township signs again: a census for a village without a node
    extra = os.path.join(t.dir, "census-extra.csv")
    jt.gen_census(extra, ["630121101003"], YEAR, seed=8)
    t.import_ok(town, "census", extra)
    t.wait_synced(receipts=False)
    t.verify(prov, "province after the restored township signed")


if __name__ == "__main__":
    jt.main(test)
