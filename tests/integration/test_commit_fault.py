#!/usr/bin/env python3
"""A relay's commit that fails after its entries went up (README: Down the tree;
node/replication/apply.c apply_commit).

A relay sends its children's entries to its parent before its own commit.
When that commit fails (here: the township's store write fails once, as on a
full disk, by tests/tools/preload/jzfp_failwrite.c), those entries are lost
at the township, and the positions they named will hold other entries: the
township ends its log's epoch, says Hello again, and its parent is sent
everything. Its downlog, of which nothing went before its commit, keeps its
epoch: a child with a batch of it in flight at that moment (V2, paused while
the township sends it, its down window of one full) acknowledges it later
and its stream goes on, with no resend of its whole down stream.

Checked: the scenario forms (the township logs the failed commit after its
entries went up, while its status shows a down batch to V2 in flight); the
tree then syncs on exact cursors both ways, receipts included (a down stream
stuck behind an ignored ack would not); no village finds a gap in its down
stream and asks for a resend; the province's rollups for the township's
villages equal the township's, and `rollup --verify` passes at both.
"""

import os
import signal

import jzfptest as jt
from jzfptest import check, check_eq

YEAR = 2020
TOWNSHIP = "630121101000"
V1, V2 = "630121101001", "630121101002"
ATTEMPTS = 3


def rollup_csv(t, n):
    return t.ctl_text(n, "rollup", "--level", "village", "--under", TOWNSHIP, "--format", "csv")


def child(t, parent, area):
    for c in t.status(parent).get("children") or []:
        if c.get("area") == area:
            return c
    return {}


def test(t):
    prov = t.add("630000000000", "province", "青海省")
    t.add("630121000000", "county", "大通县")
    town = t.add(TOWNSHIP, "township", "桥头镇", window=1)
    v1 = t.add(V1, "village", "新庄村")
    v2 = t.add(V2, "village", "黄家村")
    trigger = os.path.join(t.dir, "fail-next-write")
    town.env = {"LD_PRELOAD": os.path.join(jt.BIN, "libjzfp_failwrite.so"),
                "JZFP_FAILWRITE_TRIGGER": trigger}
    opts = os.environ.get("ASAN_OPTIONS")
    if opts is not None:  # the shim comes before the sanitizer's runtime
        town.env["ASAN_OPTIONS"] = opts + ":verify_asan_link_order=0"
    t.start_all()
    t.import_census_each([v1, v2], YEAR, seed=7)
    t.wait_synced()

    formed = False
    for attempt in range(1, ATTEMPTS + 1):
        marks = {n.area: len(n.log_text()) for n in (town, v1, v2)}
        files = jt.gen_households(os.path.join(t.dir, f"a{attempt}-{{village}}.csv"), [V1],
                                  8, seed=30 + attempt, year=YEAR, new=True,
                                  first_serial=100 * attempt)
        # V2 paused: the province's receipts for V1's records come down, and
        # the township's one batch of them to V2 stays unacknowledged.
        os.kill(v2.proc.pid, signal.SIGSTOP)
        try:
            t.import_ok(v1, "households", files[V1])

            def in_flight():
                c = child(t, town, V2)
                return c if c.get("down_in_flight", 0) > 0 else None
            t.wait_for("a down batch to the paused V2 in flight", in_flight, nodes=[town])
            # The township's next store write fails: V1's next records.
            with open(trigger, "w"):
                pass
            more = jt.gen_households(os.path.join(t.dir, f"b{attempt}-{{village}}.csv"), [V1],
                                     4, seed=60 + attempt, year=YEAR, new=True,
                                     first_serial=100 * attempt + 50)
            t.import_ok(v1, "households", more[V1])
            t.wait_for("the township's failed write", lambda: not os.path.exists(trigger),
                       nodes=[town])
        finally:
            os.kill(v2.proc.pid, signal.SIGCONT)
        t.wait_synced()
        new = town.log_text()[marks[TOWNSHIP]:]
        check("store: cannot write" in new, f"attempt {attempt}: the township logs no failed write")
        formed = "a commit failed after its entries were sent on" in new
        for v in (v1, v2):
            tail = v.log_text()[marks[v.area]:]
            check("records from the parent start at" not in tail,
                  f"attempt {attempt}: {v} found a gap in its down stream and asked for a "
                  f"resend")
        check(" asks to resend our records" not in new,
              f"attempt {attempt}: a village asked the township to resend its down stream")
        jt.log(f"attempt {attempt}: the failed write was "
               f"{'after' if formed else 'not after'} entries went up")
        if formed:
            break
    check(formed, f"the township's failed write never came after its entries went up "
                  f"in {ATTEMPTS} attempts")
    # Passed, but still in its status: each failed write counted, the last named.
    st = t.status(town)["store"]
    check(st.get("error", "") == "" and int(st.get("write_failures", 0)) >= 1 and
          st.get("last_write_error") and st.get("last_write_failure"),
          f"the township's status after its failed writes: {st}")
    text = t.ctl_text(town, "status")
    check("write(s) failed since the start" in text and "(writes succeed again)" in text,
          f"status text after a failed write:\n{text}")
    want = rollup_csv(t, town)
    check(V1 in want and V2 in want, f"the township's rollup lists both villages: {want!r}")
    check_eq(rollup_csv(t, prov), want, "province rollup for the township's villages")
    t.verify(town, "township after its failed commit")
    t.verify(prov, "province")


if __name__ == "__main__":
    jt.main(test)
