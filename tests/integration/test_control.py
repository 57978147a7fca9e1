#!/usr/bin/env python3
"""The control plane (DESIGN §10): reads run beside replication, typed errors.

A province, a county, a township and a village, with test clocks.

  - A slow read does not stop the node: `rollup --verify` at the province is
    held open on a reader thread (JZFP_TEST_HOLD_MS; only a --test-clock
    node honours it) until the test releases it. While it is held, the
    province's other reader answers `status` (which counts both busy
    readers), the village imports households and they reach the province
    (exact: the village's up cursor acknowledged, the province's record count
    grown by exactly what was imported), and the county's heartbeats stay
    fresh in the province's `tree`. The held read then answers from the
    snapshot it began with: its log head is the province's before the import.
  - A client that leaves during a held read costs the node nothing: the
    reader finishes, and the next reads are answered.
  - `status --wait-change N` is answered at once when the node's change
    count has passed N, at the end of its wait (the count not reached) when
    nothing reaches it, and by the change itself when one comes: a waiter
    at the province is answered by the village's import arriving, with the
    records it brought. `status --follow --count 2` prints the status, then
    the one after the next change (the test clock moved).
  - A node whose parent is stopped says, once the parent has been silent
    past its limit, "no answer from parent ... for N s": N grows as status
    answers, and the change count stands still (a long poll of 3 s waits
    out).
  - jzfpctl notices that its node died during a request: it says the
    connection closed, and does not wait out its --timeout.
  - A child still down when its parent restarts is listed by the parent
    (from the store) as not connected and not heard from since the start,
    with its name, until it says hello: in status, in its tree, and in the
    province's tree through the heartbeats; one whose last record is more
    than 30 days old (the test clock moved) is not. `child forget` removes
    one that is not connected (refused while it is), and it comes back
    when it says hello.
  - Malformed, oversized, multi-frame and unknown control requests get a typed
    error reply naming the problem, and the node keeps answering.
  - Local users: a command that signs is logged with the local user
    (SO_PEERCRED); with `[control] read_group = nogroup`, user nobody reads
    status and rollup through DATA_DIR/control-ro.sock, is refused an import
    with "permission denied", and a user outside the group is told
    "permission denied", not "not running".
"""

import datetime
import json
import os
import re
import signal
import subprocess
import threading

import jzfptest as jt
from jzfptest import check, check_eq

YEAR = 2020
VILLAGE = "630121101001"
HOLD_MS = 120000  # the held read waits for the release file, not for this


def held_ctl(t, n, *args, timeout_s=120):
    """Start jzfpctl ARGS at n with its read held; returns the Popen."""
    env = dict(os.environ, JZFP_TEST_HOLD_MS=str(HOLD_MS))
    return subprocess.Popen([jt.JZFPCTL, "-c", n.conf, "--timeout", str(timeout_s)] + list(args),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def release(n):
    with open(os.path.join(n.data, "release-hold"), "w"):
        pass


def unrelease(n):
    path = os.path.join(n.data, "release-hold")
    if os.path.exists(path):
        os.unlink(path)


def wait_busy(t, n, busy, what):
    t.wait_for(f"{n}: {busy} readers busy ({what})",
               lambda: (t.status(n).get("control") or {}).get("busy") == busy, timeout=30)


def status_wait(n, after, wait_s):
    """jzfpctl status --json --wait-change AFTER --wait WAIT_S at n, started."""
    argv = [jt.JZFPCTL, "-c", n.conf, "status", "--json", "--wait-change", str(after),
            "--wait", str(wait_s)]
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def answer(p, what, timeout=120):
    out, err = p.communicate(timeout=timeout)
    check_eq(p.returncode, 0, f"{what}: {err.strip()}")
    return json.loads(out)


def long_poll(t, prov, village):
    """status --wait-change: answered by a change, or by the end of its wait
    saying nothing changed (the harness's waits stand on it, jzfptest.Waker)."""
    k = t.status(prov)["changes"]
    check(k >= 1, f"{prov}: change count {k}")
    # A count already passed: answered at once (well inside its 60 s wait).
    st = answer(status_wait(prov, k - 1, 60), "status --wait-change, passed")
    check(st["changes"] >= k and not st["waited_out"],
          f"passed count: changes {st['changes']} (at least {k}), waited out "
          f"{st['waited_out']}")
    # A count far ahead: answered when the wait ends, with the count not reached.
    far = k + 10**6
    st = answer(status_wait(prov, far, 1), "status --wait-change, far ahead")
    check(k <= st["changes"] <= far and st["waited_out"],
          f"far count: changes {st['changes']} (asked {far}), waited out {st['waited_out']}")

    # A change ends the wait: the village's import reaches the province. Every
    # answer must come from a change (count passed), and the one after the
    # import arrived shows the records it brought.
    before, vbefore = t.status(prov), t.status(village)["records"]
    hh = jt.gen_households(os.path.join(t.dir, "lp-{village}.csv"), [VILLAGE], 5, seed=9,
                           new=True, year=YEAR, first_serial=900)[VILLAGE]
    after = before["changes"]
    waiter = status_wait(prov, after, 60)
    created = t.import_ok(village, "households", hh)
    check(created >= 5, f"import created {created} versions")
    want = before["records"] + t.status(village)["records"] - vbefore  # all it signed
    for _ in range(1000):
        st = answer(waiter, "status --wait-change at the province")
        check(st["changes"] > after and not st["waited_out"],
              f"answered without a change: changes {st['changes']} (waited for more than "
              f"{after}), waited out {st['waited_out']}")
        if st["records"] >= want:
            break
        after = st["changes"]
        waiter = status_wait(prov, after, 60)
    check_eq(st["records"], want, f"{prov}: records in the answer that the import arrived")

    # --follow: the status at once, then one per change (here the test clock,
    # on a tree in step). Something else may still move the province's count
    # first (a receipt going down, a child's report): then the second line
    # is that change, and the round is tried again, a few times at most.
    t.wait_synced(receipts=False)
    argv = [jt.JZFPCTL, "-c", prov.conf, "status", "--json", "--follow", "--count", "2"]
    for attempt in range(5):
        f = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        # Bounded: a follow that never prints is ended, its line then empty.
        stop = threading.Timer(90, f.kill)
        stop.start()
        try:
            first = json.loads(f.stdout.readline() or "null")  # printed before any change
            check(first is not None, f"status --follow printed nothing: {f.poll()}")
            t.ctl_text(prov, "clock", "advance", "1m")
            second = json.loads(f.stdout.readline() or "null")  # the one after a change
            rc = f.wait(timeout=60)
        finally:
            stop.cancel()
            if f.poll() is None:
                f.kill()
                f.wait()
        check(second is not None and rc == 0, f"status --follow --count 2: exit {rc}, {second}")
        check(second["changes"] > first["changes"],
              f"status --follow: changes {first['changes']} then {second['changes']}")
        moved = (datetime.datetime.fromisoformat(second["now"]) -
                 datetime.datetime.fromisoformat(first["now"])).total_seconds()
        if moved >= 60:
            break
        other = sorted(k for k in first if k not in ("now", "changes") and first[k] != second[k])
        jt.log(f"status --follow: another change came first ({', '.join(other) or 'clocks'}): "
               f"again")
    else:
        raise jt.Failure("status --follow never showed the test clock's move in 5 rounds")

def as_user(uid, gid, argv):
    """Run argv as uid:gid without supplementary groups."""
    return jt.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"] + argv,
                  timeout=60)


def local_access(t, n):
    """n gets [control] read_group = nogroup; nobody (group nogroup) reads,
    cannot write; a user of another group is denied."""
    t.stop(n)
    extra = "\n[control]\nread_group = nogroup\n"
    write_conf = t.write_conf

    def conf_with_group(node):
        write_conf(node)
        if node is n:
            with open(node.conf, "a", encoding="utf-8") as f:
                f.write(extra)
    t.write_conf = conf_with_group
    t.start(n)
    t.write_conf = write_conf
    # The path to the data directory must be traversable by others.
    for d in (t.dir, n.dir):
        os.chmod(d, 0o711)
    ro = os.path.join(n.data, "control-ro.sock")
    check(os.path.exists(ro), f"{n}: no {ro}")
    ctl = [jt.JZFPCTL, "--node", n.data, "--timeout", "30"]
    p = as_user(65534, 65534, ctl + ["status", "--json"])
    check_eq(p.returncode, 0, f"nobody: status through the read-only socket: {p.stderr}")
    check_eq(json.loads(p.stdout)["area"], n.area, "nobody's status")
    p = as_user(65534, 65534, ctl + ["rollup", "--level", "village", "--format", "csv"])
    check_eq(p.returncode, 0, f"nobody: rollup: {p.stderr}")
    check_eq(p.stdout, t.ctl_text(n, "rollup", "--level", "village", "--format", "csv"),
             "rollup through the read-only socket")
    p = as_user(65534, 65534, ctl + ["policy", "set", "--notice-days", "9"])
    check(p.returncode != 0 and "permission denied" in p.stderr,
          f"nobody: a write through the read-only socket: exit {p.returncode} {p.stderr!r}")
    # A request over the read-only socket's limit is refused by its size,
    # before it is decoded; the same one is served on the owner's socket.
    probe = os.path.join(jt.BIN, "jzfp_ctlprobe")
    p = as_user(65534, 65534, [probe, ro, "big-status", "status"])
    lines = dict(line.split(" ", 1) for line in p.stdout.strip().splitlines())
    check(re.match(r"code=-\d+ .*over the read-only socket's limit of 65536",
                   lines.get("big-status", "")) and lines.get("status", "").startswith("code=0"),
          f"nobody: a status of 100,000 bytes: {p.returncode} {lines} {p.stderr!r}")
    p = jt.run([probe, os.path.join(n.data, "control.sock"), "big-status"], timeout=60)
    check(p.stdout.startswith("big-status code=0 "), f"the owner's big status: {p.stdout!r}")
    p = as_user(65534, 1, ctl + ["status"])
    check(p.returncode == 1 and "permission denied" in p.stderr and "not running" not in p.stderr,
          f"a user outside the group: exit {p.returncode} {p.stderr!r}")
    for d in (t.dir, n.dir):
        os.chmod(d, 0o700)


def silent_for(st):
    """N of a status whose parent "... for N s" has been silent, or None."""
    m = re.fullmatch(r"no answer from parent \S+ for (\d+) s", st["parent"]["why"])
    return int(m.group(1)) if m else None


def parent_silent(t, parent, n):
    """With n's parent stopped, n's status says for how long the parent has
    been silent, counted as it answers: its change count stands still (a
    long poll waits out), while the seconds it shows grow."""
    t.stop(parent)
    k = t.status(n)["changes"]
    for _ in range(20):  # the link closed, then silent past its limit
        st = answer(status_wait(n, k, 30), f"{n}: status --wait-change, parent stopped")
        if silent_for(st) is not None:
            break
        k = st["changes"]
    first = silent_for(st)
    check(first is not None, f"{n}: parent stopped, status says {st['parent']['why']!r}")
    st = answer(status_wait(n, st["changes"], 3), f"{n}: status --wait-change, parent silent")
    check(st["waited_out"] and silent_for(st) is not None and silent_for(st) > first,
          f"{n}: its parent silent for {first} s, then changes {st['changes']}, waited out "
          f"{st['waited_out']}, {st['parent']['why']!r}")
    t.start(parent)
    t.wait_synced(receipts=False)


def test(t):
    t.receipt_ms = 3600 * 1000  # no receipts during the test: exact record counts
    prov = t.add("630000000000", "province", "青海省")
    county = t.add("630121000000", "county", "大通县")
    t.add("630121101000", "township", "桥头镇")
    village = t.add(VILLAGE, "village", "新庄村")
    t.start_all()
    t.wait_synced(receipts=False)

    census = os.path.join(t.dir, "census.csv")
    jt.gen_census(census, [VILLAGE], YEAR, seed=3)
    t.import_ok(village, "census", census)
    t.wait_synced(receipts=False)

    # ---- a held read at the province; replication goes on beside it
    before = t.status(prov)["records"]
    unrelease(prov)
    verify = held_ctl(t, prov, "rollup", "--verify", "--json")
    wait_busy(t, prov, 2, "the held verify and this status")
    # One verify at a time: a second is refused at once, not queued behind it.
    p = t.run_ctl(prov, "rollup", "--verify", timeout_s=30)
    check(p.returncode == 1 and "a rollup --verify is already running at this node"
          in p.stderr, f"a second verify during the held one: {p.returncode} {p.stderr!r}")
    hh = jt.gen_households(os.path.join(t.dir, "hh-{village}.csv"), [VILLAGE], 40, seed=5, new=True,
                           year=YEAR)[VILLAGE]
    created = t.import_ok(village, "households", hh)
    check(created >= 40, f"import created {created} versions")
    vst = t.wait_for(f"{village}: parent holds its whole log",
                     lambda: (lambda s: s if s["up"]["acked"] == s["up"]["head"] else None)(
                         t.status(village)), timeout=60)
    grown = t.wait_for(f"{prov}: records grown by the import",
                       lambda: (lambda r: r if r > before else None)(t.status(prov)["records"]),
                       timeout=60)
    check(verify.poll() is None, "the held verify ended before it was released")
    st = t.status(prov)
    check_eq((st.get("control") or {}).get("busy"), 2, f"{prov}: busy readers during the hold")
    tree = t.ctl(prov, "tree", "--json")
    row = next((r for r in tree["nodes"] if r["area"] == county.area), None)
    check(row is not None, f"{prov}: tree has no row for {county}")
    check_eq(row["stale"], False, f"{prov}: {county}'s heartbeat is stale during the held read")
    check(vst["up"]["acked"] > 0, f"{village}: up cursor {vst['up']}")

    release(prov)
    out, err = verify.communicate(timeout=120)
    check_eq(verify.returncode, 0, f"held rollup --verify: {err.strip()}")
    snap = json.loads(out)
    check_eq(snap["ok"], True, "held verify ok")
    check_eq(snap["log_head"], before, "the held verify's snapshot is the log before the import")
    check(grown > before, "the province applied the import during the held read")
    unrelease(prov)
    t.wait_synced(receipts=False)
    t.verify(prov, "after the held read")

    # ---- a client that leaves during a held read
    gone = held_ctl(t, prov, "rollup", "--verify")
    wait_busy(t, prov, 2, "a held verify whose client will leave")
    gone.send_signal(signal.SIGKILL)
    gone.wait(timeout=30)
    release(prov)
    wait_busy(t, prov, 1, "the left client's reader is free again")
    t.verify(prov, "after a client left mid-request")
    unrelease(prov)

    # ---- a status that waits for a change
    long_poll(t, prov, village)
    t.wait_synced(receipts=False)

    # ---- malformed and oversized requests get typed errors
    probe = os.path.join(jt.BIN, "jzfp_ctlprobe")
    sock = os.path.join(prov.data, "control.sock")
    p = jt.run([probe, sock, "garbage", "frames", "unknown", "oversize", "status"], timeout=120)
    check_eq(p.returncode, 0, f"jzfp_ctlprobe: {p.stderr}")
    lines = dict(line.split(" ", 1) for line in p.stdout.strip().splitlines())
    jt.log(f"probe: {lines}")
    check("malformed control request" in lines.get("garbage", ""), f"garbage: {lines}")
    check("frames" in lines.get("frames", "") and "code=-" in lines.get("frames", ""),
          f"frames: {lines}")
    check("unknown control request" in lines.get("unknown", ""), f"unknown: {lines}")
    check("over the limit" in lines.get("oversize", ""), f"oversize: {lines}")
    check(lines.get("status", "").startswith("code=0 "), f"status after the probes: {lines}")
    check(prov.running, f"{prov} died of the probes")
    # A village's import of an empty household, which jzfpctl never sends:
    # refused with its reason, and the village goes on.
    village = t.nodes["630121101001"]
    held = t.status(village)["records"]
    p = jt.run([probe, os.path.join(village.data, "control.sock"), "empty-household", "status"],
               timeout=60)
    lines = dict(line.split(" ", 1) for line in p.stdout.strip().splitlines())
    check(re.match(r"code=-\d+ .*error=import: the chunk could not be staged.*: household "
                   r"\d+: no members$", lines.get("empty-household", "")), f"probe: {lines}")
    check(lines.get("status", "").startswith("code=0 ") and village.running,
          f"{village} after the empty household: {lines}")
    check_eq(t.status(village)["records"], held, "records after the refused import")

    # ---- local users: who signed, and the read-only socket
    check(t.grep_log(village, r"control: uid 0 \(root\): .*import.*"),
          f"{village}: the import is not logged with the local user")
    local_access(t, county)

    # ---- a link that stays down: its count stands still
    parent_silent(t, t.nodes["630121101000"], village)

    # ---- jzfpctl notices a node that dies during its request
    unrelease(village)
    dying = held_ctl(t, village, "rollup", "--verify", timeout_s=100)
    wait_busy(t, village, 2, "a held verify at a node about to be killed")
    t.kill9(village)
    out, err = dying.communicate(timeout=60)
    check_eq(dying.returncode, 1, f"jzfpctl whose node died: {out} {err}")
    check("closed the connection" in err, f"jzfpctl whose node died says: {err.strip()!r}")

    # ---- a child still down when its parent restarts is listed, not lost
    township = t.nodes["630121101000"]
    t.restart(township)
    kids = {c["area"]: c for c in t.status(township)["children"]}
    check_eq(sorted(kids), [village.area], f"{township}: children after its restart")
    c = kids[village.area]
    check_eq((c["connected"], c["heard"], c["name"], c["level"]),
             (False, False, "新庄村", "village"), f"{township}: the child not back yet")
    text = t.ctl_text(township, "status")
    check(f"child     {village.area} 新庄村 DOWN, not heard from since this node started"
          in text, f"{township}: status text: {text}")
    # ... and in the tree, its own and (through the heartbeats) the province's
    rows = {r["area"]: r for r in t.ctl(township, "tree", "--json")["nodes"]}
    row = rows.get(village.area) or {}
    check_eq((row.get("connected"), row.get("heard"), row.get("name"), row.get("parent")),
             (False, False, "新庄村", township.area),
             f"{township}: tree row of the child not back: {row}")
    line = next((ln for ln in t.ctl_text(township, "tree").splitlines()
                 if ln.startswith(village.area)), "")
    check(re.search(r"\bsilent\b", line) and " - " in line,
          f"{township}: tree text of the child not back (silent, figures unknown): {line!r}")
    prov_rows = t.wait_for(
        f"{prov}: {village} in the tree as not heard from, reported by the restarted {township}",
        lambda: (lambda r: r if r and not r["heard"] else None)(
            next((x for x in t.ctl(prov, "tree", "--json")["nodes"]
                  if x["area"] == village.area), None)), timeout=60)
    check_eq((prov_rows["parent"], prov_rows["connected"]), (township.area, False),
             f"{prov}: {village}'s row in the tree, through the heartbeats")
    # A child gone for good is forgotten by hand; it comes back by saying hello.
    out = t.ctl_text(township, "child", "forget", village.area)
    check(f"child {village.area} 新庄村 forgotten" in out, f"child forget: {out!r}")
    check_eq(t.status(township)["children"], [], f"{township}: children after child forget")
    check(all(r["area"] != village.area for r in t.ctl(township, "tree", "--json")["nodes"]),
          f"{township}: the forgotten child still in the tree")
    p = t.run_ctl(township, "child", "forget", village.area)
    check(p.returncode == 1 and "is not a child this node lists" in p.stderr,
          f"child forget of one not listed: {p.returncode} {p.stderr!r}")
    t.start(village)
    t.wait_for(f"{township}: {village} back",
               lambda: (lambda k: k and all(x["connected"] and x["heard"] for x in k))(
                   t.status(township)["children"]), timeout=60)
    p = t.run_ctl(township, "child", "forget", village.area)
    check(p.returncode == 1 and "is connected" in p.stderr,
          f"child forget of a connected child: {p.returncode} {p.stderr!r}")
    # A child whose last record is older than 30 days (LINK_KNOWN_CHILD_DAYS)
    # is not listed after a restart: a retired node drops off.
    t.kill9(village)
    t.ctl_text(township, "clock", "advance", "31d")
    t.restart(township)
    check_eq(t.status(township)["children"], [],
             f"{township}: children after a restart 31 days after the child's last record")


if __name__ == "__main__":
    jt.main(test, test_clock=True)
