#!/usr/bin/env python3
"""A relay whose registry cannot catch up (README: The registry behind
replication; node/daemon/node.c catch_up and registry_tick,
node/control/server.c control_registry_wait).

A chain province - township - village; the township runs with [registry]
defer_ms = 86400000 (it never catches up by idleness) and an HTTP listener,
and with tests/tools/preload/jzfp_failwrite.c in sticky mode: while the
test's trigger file exists, every write of its store's data pages fails with
ENOSPC, as on a full disk, and the state a failed catch-up leaves stays to
be looked at (a one-shot failure would be gone at the next try, a second
later). No other test makes a catch-up fail: only promtool saw the alert.
The village imports households that propose nothing (非贫困户), which the
township stores, forwards and defers; the province signs no receipts, so
that nothing comes down for the township to write meanwhile.

  - with the disk "full", the first /metrics scrape (before any read) has
    jzfp_registry_failing 1: the scrape's own try comes before the status
    it reports (was one scrape late); the area figures are left out (back
    once caught up);
  - a rollup at the township fails, three times, each
    within 10 s (not after the 50 s a read waits for the registry) with a
    non-zero exit and the reason (No space left on device), and the daemon
    keeps running; /api/rollup answers 503 with the reason;
  - meanwhile `status` shows `registry  CANNOT CATCH UP: <reason>`,
    store.registry_error is the reason, /metrics has jzfp_registry_failing
    1, registry_behind, the records held and the log head have not moved,
    and the log says it exactly once after those failed tries (each read
    is one, and the loop tries again every second);
  - the disk freed, the loop catches up by itself, with no read and
    defer_ms 86400000 (registry_tick retries a failure every second,
    whatever defer_ms; it once waited for a read): the errors are gone,
    registry_behind is 0 (waited on as exact state), the log says it
    catches up again, jzfp_registry_failing is 0, and the next rollup
    succeeds;
  - a failure the loop finds by itself, with no read at all: the township,
    behind again, is killed and started with the default defer_ms (1000)
    and the disk still "full": it says by itself that it cannot catch up,
    and once the disk is freed it catches up by itself;
  - nothing accepted was lost: the township's record count and log head are
    what they were, the tree syncs on exact cursors, the township's and the
    province's rollups both equal what this test computes from the files,
    and `rollup --verify` passes at both.
"""

import csv
import errno
import os
import time

import jzfptest as jt
from jzfptest import check, check_eq

PROVINCE, TOWNSHIP, VILLAGE = "630000000000", "630121101000", "630121101001"
NEVER = 86400000  # [registry] defer_ms: no catching up by idleness
HOUSEHOLDS = 40   # per import
FAILS = 3         # failing rollups in a row
# jzfpctl --timeout of a read that must fail fast: well under the 50 s a read
# waits for the registry (CONTROL_CATCH_UP_WAIT_MS), which a read that only
# timed out would have taken.
FAST_S = int(10 * jt.SLOW)
YEAR = 2020
REASON = os.strerror(errno.ENOSPC)  # err_str(-ENOSPC), common/err.c
STOPPED = "registry: catching up stopped"  # node.c catch_up: said once a failure


def with_status_0(path):
    """Rewrite a generated households file with every status 0 (非贫困户):
    such a version proposes nothing, what the relays defer."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    col = rows[0].index("status") if "status" in rows[0] else rows[0].index(jt.HH_COLS["status"])
    for r in rows[1:]:
        if r:
            r[col] = "0"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def households(t, village, tag, first_serial, expect):
    path = jt.gen_households(os.path.join(t.dir, f"hh_{tag}_{{village}}.csv"), [VILLAGE],
                             HOUSEHOLDS, seed=f"registry-fail-{tag}", year=YEAR,
                             first_serial=first_serial, new=True)[VILLAGE]
    expect.add_households(with_status_0(path))
    check_eq(t.import_ok(village, "households", path), HOUSEHOLDS, f"{tag}: households imported")


def store_of(t, n):
    return t.status(n).get("store") or {}


def rollup_csv(t, n, timeout_s=jt.CTL_TIMEOUT_S):
    return t.run_ctl(n, "rollup", "--level", "village", "--format", "csv", timeout_s=timeout_s)


def http_get(t, n, path):
    """(status, body text) of GET PATH at N's HTTP listener."""
    # 60 s: /metrics may wait for the registry (CONTROL_CATCH_UP_WAIT_MS, 50 s)
    st, _, body = jt.http_request(jt.http_addr(t, n), "GET", path, timeout=60)
    return st, body.decode("utf-8", "replace")


def metric(t, n, name):
    st, body = http_get(t, n, "/metrics")
    check_eq(st, 200, f"{n}: GET /metrics status")
    samples, _, _ = jt.parse_metrics(body)
    check((name, frozenset()) in samples, f"{n}: /metrics has no {name}")
    return samples[(name, frozenset())]


def check_rollups(t, expect, names, what, nodes):
    for n in nodes:
        for level in ("village", "township"):
            jt.compare_rollup(t.rollup(n, level),
                              expect.rollup(level, under=TOWNSHIP, names=names),
                              f"{what}: {n} rollup --level {level}")


def stopped_lines(n):
    return [line for line in n.log_text().splitlines() if STOPPED in line]


def fail_reads(t, town, behind):
    """With the disk full: FAILS rollups fail with the reason, each after
    the loop's try (control_registry_wait), and the node says so."""
    for i in range(FAILS):
        t0 = time.monotonic()
        p = rollup_csv(t, town, timeout_s=FAST_S)
        took = time.monotonic() - t0
        jt.log(f"{town}: failing rollup {i + 1} answered in {took:.2f} s: exit {p.returncode}")
        check(p.returncode != 0, f"{town}: rollup succeeded with the disk full: {p.stdout!r}")
        check(f"cannot catch up: {REASON}" in p.stderr,
              f"{town}: rollup {i + 1} failed without the reason: {p.stderr.strip()!r}")
        check(town.running, f"{town}: jzfpd exited after a failed catch-up")
    st, body = http_get(t, town, "/api/rollup?level=village&format=csv")
    check_eq(st, 503, f"{town}: /api/rollup status with the disk full (body {body[:200]!r})")
    check(REASON in body, f"{town}: /api/rollup's 503 does not say why: {body[:300]!r}")
    store = store_of(t, town)
    check_eq(store.get("registry_error"), REASON, f"{town}: store.registry_error")
    check_eq(store.get("registry_behind"), behind, f"{town}: registry_behind while failing")
    text = t.ctl_text(town, "status")
    check(f"registry  CANNOT CATCH UP: {REASON}" in text and
          f"stand {behind} log entries behind the log (they cannot catch up: see below)" in text,
          f"{town}: status does not show the failure:\n{text}")
    check_eq(metric(t, town, "jzfp_registry_failing"), 1.0,
             f"{town}: jzfp_registry_failing while failing")


def test(t):
    t.receipt_ms = 3600000  # no receipts: nothing comes down to write meanwhile
    prov = t.add(PROVINCE, "province", "青海省")
    town = t.add(TOWNSHIP, "township", "桥头镇")
    village = t.add(VILLAGE, "village", "新庄村")
    town.extra_conf = {"registry": {"defer_ms": NEVER}, "http": {"listen": "127.0.0.1:0"}}
    trigger = os.path.join(t.dir, "disk-full")
    town.env = {"LD_PRELOAD": os.path.join(jt.BIN, "libjzfp_failwrite.so"),
                "JZFP_FAILWRITE_TRIGGER": trigger, "JZFP_FAILWRITE_STICKY": "1"}
    opts = os.environ.get("ASAN_OPTIONS")
    if opts is not None:  # the shim comes before the sanitizer's runtime
        town.env["ASAN_OPTIONS"] = opts + ":verify_asan_link_order=0"
    t.start_all()
    names = jt.node_names(t)
    expect = jt.Expect()

    census = jt.gen_census(os.path.join(t.dir, "census.csv"), [VILLAGE], YEAR,
                           seed="registry-fail")
    expect.add_census(census)
    t.import_ok(village, "census", census)
    t.wait_synced(receipts=False)
    before = t.status(town)["records"]
    households(t, village, "first", 1, expect)
    t.wait_synced(receipts=False)
    st = t.status(town)
    records, head = st["records"], st["up"]["head"]
    behind = st["store"].get("registry_behind", 0)
    check(HOUSEHOLDS <= behind <= records - before,
          f"{town}: registry_behind {behind}, expected between the {HOUSEHOLDS} households "
          f"and the {records - before} records added")
    check_eq(st["store"].get("registry_error"), "", f"{town}: store.registry_error at first")

    # The disk full: a scrape says so at once, reads fail with the reason,
    # said once in the log.
    with open(trigger, "w"):
        pass
    check_eq(metric(t, town, "jzfp_registry_failing"), 1.0,
             f"{town}: jzfp_registry_failing at the first scrape with the disk full")
    check("\njzfp_area_" not in http_get(t, town, "/metrics")[1],
          f"{town}: /metrics has area figures while its tables cannot catch up")
    fail_reads(t, town, behind)
    lines = stopped_lines(town)
    check_eq(len(lines), 1, f"{town}: log lines {STOPPED!r} after {FAILS + 3} or more failed "
                            f"tries (each read, the scrapes, the loop's every second)")
    check(REASON in lines[0], f"{town}: the log does not say why: {lines[0]!r}")
    st = t.status(town)
    check_eq((st["records"], st["up"]["head"]), (records, head),
             f"{town}: (records, log head) while failing")

    # The disk freed: the loop tries again by itself, with no read and
    # defer_ms 86400000, and catches up.
    os.unlink(trigger)

    def caught_up():
        s = store_of(t, town)
        return s.get("registry_error") == "" and s.get("registry_behind") == 0
    t.wait_for(f"{town} to catch up by itself at defer_ms {NEVER} once the disk is freed",
               caught_up, nodes=[town])
    check_eq(store_of(t, town).get("error"), "", f"{town}: store.error after catching up")
    check("registry: catching up again" in town.log_text(),
          f"{town}: the log does not say it catches up again")
    check("CANNOT CATCH UP" not in t.ctl_text(town, "status"),
          f"{town}: status still shows the failure")
    check_eq(metric(t, town, "jzfp_registry_failing"), 0.0,
             f"{town}: jzfp_registry_failing after catching up")
    check(f'\njzfp_area_poor_persons{{area="{VILLAGE}"' in http_get(t, town, "/metrics")[1],
          f"{town}: /metrics has no area figures once caught up")
    p = rollup_csv(t, town)
    check(p.returncode == 0, f"{town}: rollup after the disk was freed: exit {p.returncode}: "
                             f"{p.stderr.strip()}")
    check_rollups(t, expect, names, "after catching up on a read", [town, prov])

    # The loop's own tries: killed while behind again, started with the
    # default defer_ms (1000) and the disk full, it fails by itself, and
    # catches up by itself once the disk is freed.
    households(t, village, "second", HOUSEHOLDS + 1, expect)
    t.wait_synced(receipts=False)
    st = t.status(town)
    records, head = st["records"], st["up"]["head"]
    behind = st["store"].get("registry_behind", 0)
    check(behind >= HOUSEHOLDS, f"{town}: registry_behind {behind} after the second import")
    t.kill9(town)
    with open(trigger, "w"):
        pass
    town.extra_conf = {"http": {"listen": "127.0.0.1:0"}}
    mark = len(town.log_text())
    t.start(town)
    t.wait_for(f"{town} to fail catching up by itself",
               lambda: store_of(t, town).get("registry_error") == REASON, nodes=[town])
    lines = [line for line in town.log_text()[mark:].splitlines() if STOPPED in line]
    check_eq(len(lines), 1, f"{town}: log lines {STOPPED!r} after failing by itself")
    os.unlink(trigger)
    t.wait_for(f"{town} to catch up by itself once the disk is freed", caught_up, nodes=[town])
    check_eq(store_of(t, town).get("error"), "", f"{town}: store.error after catching up")
    check_eq(metric(t, town, "jzfp_registry_failing"), 0.0,
             f"{town}: jzfp_registry_failing after catching up by itself")

    # Nothing accepted was lost.
    st = t.status(town)
    check_eq((st["records"], st["up"]["head"]), (records, head),
             f"{town}: (records, log head) after the failures")
    t.wait_synced(receipts=False)
    check_rollups(t, expect, names, "at the end", [town, prov])
    t.verify(town, "after the failed catch-ups")
    t.verify(prov, "province")


if __name__ == "__main__":
    jt.main(test)
