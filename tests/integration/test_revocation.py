#!/usr/bin/env python3
"""Revocation and re-keying end to end, on a real certified tree (DESIGN §3,
§7, §8; the trust issue's tests).

Tree, certified by scripts/provision.sh: province 630000000000, county
630121000000, township 630121101000 and its village node 630121101001 (V).
tests/tools/jzfp_evil plays a second village of the township, 630121101002
(E), with a key the township certified offline (jzfpctl cert issue).

 1. V imports a register; E sends its NodeInfo, census and a household and
    stays connected; all of it reaches the province.
 2. The township revokes E (`jzfpctl revoke HEX --reason TEXT`): E, still
    connected, gets Refuse 1106; the revocation reaches the county, the
    province and, down, V (each logs it with the same time). A revocation of
    a key that is not below the township is refused. A new connection of E's
    key to the county gets no answer: its ZAP handler refuses it, and logs it.
 3. E's envelopes arriving after the revocation: over a link of a second key
    certified for E's village, seq 4 (signed before the revocation) is applied
    at the township and travels up, seq 5 (signed after) is refused there;
    seq 5 relayed to the county (by a township it certified) and to the
    province (by a county the root certified) is refused at each, with the
    reason in its log and one more in its "refused" count.
 4. V, cut off from its township (its parent endpoint pointed elsewhere),
    imports households; stopped, it is revoked by the township; the county
    and the province apply the revocation.
 5. V started again with its revoked key (a new connection) is refused at the
    handshake: its status says so, the township's ZAP handler logs it; the
    township answers no Hello of E's key either. V still signs locally; none
    of it, and none of its backlog, reaches the township, county or province.
    Rollups there are V's register and E's records; --verify passes.
 6. Re-keying: V is stopped, gets a new key and a certificate for the same
    area from the township (jzfpctl cert issue with its key and chain), keeps
    its data dir and starts again: it is welcomed and receives its old key's
    revocation, its new imports reach the province under the new origin, what
    its old key signed after the revocation never does, what its old key
    signed before the revocation and had not sent yet does (it is valid), its
    old records stay counted and readable at the township and the county, and
    verify passes at every node.
 7. Expiry: V, certified for one day and run on the test clock, signs until
    the day is over, then refuses to sign (its status says so) and keeps what
    it signed.
"""

import os
import re
import socket
import subprocess
import time
import types

import jzfptest as jt
from jzfptest import check, check_eq

EVIL = os.path.join(jt.BIN, "jzfp_evil")
YEAR = 2020
P, C, T, V = "630000000000", "630121000000", "630121101000", "630121101001"
E_AREA = "630121101002"    # jzfp_evil's village
RELAY_T = "630121103000"   # a township the county certifies, to relay to it
RELAY_C = "630122000000"   # a county the root certifies, to relay to the province


def evil(parent, key, area, chain, *steps, extra=(), timeout_ms=None):
    """Run jzfp_evil against PARENT; returns (sent, replies)."""
    tmo = timeout_ms or int(3000 * jt.SLOW)
    argv = [EVIL, "--endpoint", parent.endpoint, "--server-key", parent.pub, "--key", key,
            "--area", area, "--chain", chain, "--timeout-ms", str(tmo), *extra, *steps]
    p = jt.run(argv, timeout=120)
    check(p.returncode == 0, f"jzfp_evil {' '.join(steps)}: exit {p.returncode}: "
          f"{p.stderr.strip()}")
    sent, replies = [], []
    for line in p.stdout.splitlines():
        if line.startswith("SENT seq="):
            sent.append(dict(kv.split("=", 1) for kv in line.split()[1:]))
        elif line.startswith(("REPLY", "NO REPLY")):
            replies.append(line)
    jt.log(f"evil {area} {' '.join(steps)}: {replies}")
    return sent, replies


def held(t, n, hid):
    """Does n hold household hid?"""
    p = t.run_ctl(n, "household", "show", hid, "--json")
    if p.returncode == 0:
        return True
    check("not held" in p.stderr, f"{n}: household show {hid}: {p.stderr.strip()}")
    return False


def revocation_logged(n, key, area, by):
    """The revocation time (ms) n logged for KEY, or None."""
    rx = re.compile(rf"key {key[:8]} \(area {area}\) revoked by {by[:8]} from "
                    rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d \((\d+) ms\)")
    for line in n.log_text().splitlines():
        m = rx.search(line)
        if m:
            return int(m.group(1))
    return None


def set_conf(path, **values):
    """Replace `name = value` lines of a config."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for k, v in values.items():
        text, count = re.subn(rf"^{k} = .*$", f"{k} = {v}", text, flags=re.M)
        check_eq(count, 1, f"{path}: lines '{k} = ...'")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def dead_endpoint():
    """A loopback TCP endpoint nothing listens on."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"tcp://127.0.0.1:{port}"


def test(t):
    check(os.access(EVIL, os.X_OK), f"{EVIL} not built")
    t.provision([(P, "province", "青海省"), (C, "county", "大通县"), (T, "township", "城关镇"),
                  (V, "village", "新庄村")],
              receipt_ms=3600000)  # no receipts while records are counted
    prov, county, town, village = (t.nodes[a] for a in (P, C, T, V))
    t.start_all()
    keys = os.path.join(t.dir, "keys")
    os.mkdir(keys)
    data = os.path.join(t.dir, "input")
    os.mkdir(data)
    names = jt.node_names(t)
    expect = jt.Expect()
    uplinks = (town, county, prov)

    def households(tag, n, first):
        path = jt.gen_households(os.path.join(data, tag + "_{village}.csv"), [V], n,
                                 seed="revocation-" + tag, year=YEAR, new=True,
                                 first_serial=first)[V]
        return path, [f"{int(V) * 10000 + s:016d}" for s in range(first, first + n)]

    def check_rollups(what):
        for n in uplinks:
            for level in ("village", "township", "county", "province"):
                if jt.NODE_LEVELS.index(level) < jt.NODE_LEVELS.index(n.level):
                    continue
                jt.compare_rollup(t.rollup(n, level),
                                  expect.rollup(level, under=n.area, names=names),
                                  f"{what}: {n} rollup --level {level}")

    def e_applied(items):
        for e in items:
            if e["kind"] == "household":
                hid = int(e["subject"])
                expect.add_household(f"{hid:016d}", E_AREA, 0, YEAR, int(e["members"]))
            elif e["kind"] == "census":
                expect.census[(E_AREA, YEAR)] = ("evil village", 120, 500)

    # ---- 1. V's register; E's first records, E staying connected.
    hh, _ = households("register", 20, 1)
    census = jt.gen_census(os.path.join(data, "census.csv"), [V], YEAR, seed="revocation")
    t.import_many([(village, "households", hh), (village, "census", census)])
    expect.add_households(hh)
    expect.add_census(census)

    k_e = os.path.join(keys, "e.key")
    pub_e = t.keygen(k_e)
    chain_e = jt.cert_issue(town, pub_e, "village", E_AREA, os.path.join(keys, "e.cert"))
    before_ms = int(time.time() * 1000)  # inside E's certificate, before any revocation
    e_out = os.path.join(t.dir, "evil-e.out")
    with open(e_out, "w") as f:
        e_proc = subprocess.Popen(
            [EVIL, "--endpoint", town.endpoint, "--server-key", town.pub, "--key", k_e,
             "--area", E_AREA, "--chain", chain_e, "--hlc-ms", str(before_ms),
             "--timeout-ms", str(int(5000 * jt.SLOW)), "hello", "batch", "1-3", "await",
             str(int(30000 * jt.SLOW))], stdout=f, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL)
    try:
        def e_lines():
            with open(e_out) as f:
                return f.read().splitlines()
        # its output file is its log
        e_peer = types.SimpleNamespace(conf=None, logfile=e_out, proc=e_proc,
                                       changes_seen=None)
        t.wait_for("E's first batch acknowledged",
                   lambda: any(ln.startswith("REPLY ACK") for ln in e_lines()),
                   nodes=t.running() + [e_peer])
        r = [ln for ln in e_lines() if ln.startswith(("REPLY", "NO REPLY"))]
        check(len(r) == 2 and r[0].startswith("REPLY WELCOME") and
              re.match(r"REPLY ACK cursor=1 local_seq=3 rewind=0", r[1]),
              f"E's certified hello and first batch: {r}")
        e_applied(dict(kv.split("=", 1) for kv in ln.split()[1:])
                  for ln in e_lines() if ln.startswith("SENT seq="))
        t.wait_synced(receipts=False)
        check_rollups("before the revocations")
        for n in uplinks:
            check_eq(t.status(n)["refused"], 0, f"{n}: refused before the revocations")

        # ---- 2. The township revokes E, connected: it is dropped with a
        # Refuse; the revocation goes up to the province and down to V.
        out = t.ctl_text(town, "revoke", pub_e, "--reason", "key lost with the laptop")
        check(re.search(rf"revoked {pub_e[:16]}\.\.\. \(area {E_AREA}\)", out),
              f"revoke E: {out!r}")
        try:
            e_proc.wait(timeout=60 * jt.SLOW)
        except subprocess.TimeoutExpired:
            raise jt.Failure(f"jzfp_evil (E) did not end after its revocation: {e_lines()}")
    finally:
        if e_proc.poll() is None:
            e_proc.kill()
            e_proc.wait(10)
    r = [ln for ln in e_lines() if ln.startswith(("REPLY", "NO REPLY"))]
    check(len(r) == 3 and re.match(r"REPLY REFUSE code=1106 why=your key is revoked", r[2]),
          f"E, connected when its key was revoked: {r}")
    check(t.grep_log(town, rf"child {E_AREA}: its key is revoked; dropped"),
          "the township does not log dropping E")
    at = {}
    at[E_AREA] = t.wait_for("the township's log of E's revocation",
                            lambda: revocation_logged(town, pub_e, E_AREA, town.pub))
    for n in (county, prov, village):
        got = t.wait_for(f"{n} to apply E's revocation",
                         lambda: revocation_logged(n, pub_e, E_AREA, town.pub))
        check_eq(got, at[E_AREA], f"{n}: time of E's revocation")
    check(before_ms <= at[E_AREA], "E's first records are not older than its revocation")
    p = t.run_ctl(town, "revoke", pub_e, "--reason", "again")
    check(p.returncode == 1 and f"key {pub_e[:16]}... is already revoked, from " in p.stderr
          and "nothing signed" in p.stderr, f"revoking E again: {p.returncode} {p.stderr!r}")
    p = t.run_ctl(town, "revoke", prov.pub, "--reason", "not below")
    check(p.returncode != 0 and "only an ancestor revokes" in p.stderr,
          f"the township revoked the province's key: {p.stdout}{p.stderr}")

    # A new connection of E's key: refused at the handshake by ZAP (no
    # answer to its Hello) at the county, which has the revocation too.
    _, r = evil(county, k_e, E_AREA, chain_e, "hello", timeout_ms=int(2000 * jt.SLOW))
    check(len(r) == 1 and r[0].startswith("NO REPLY"),
          f"county: a Hello over a connection of E's revoked key got {r}")
    t.wait_for("the county's ZAP handler to log the revoked key",
               lambda: t.grep_log(county, r"connection refused at the handshake: key revoked"))

    # ---- 3. E's envelopes after the revocation, wherever they arrive. Over
    # a link of a second key certified for E's village, seq 4 (signed before
    # the revocation) is applied and travels up, seq 5 (after) is refused.
    after_ms = at[E_AREA] + 1000
    e_opts = ["--origin-key", k_e, "--origin-chain", chain_e, "--origin-area", E_AREA,
              "--hlc-ms", str(before_ms), "--hlc-from", f"5:{after_ms}"]
    k_e2 = os.path.join(keys, "e2.key")
    chain_e2 = jt.cert_issue(town, t.keygen(k_e2), "village", E_AREA, os.path.join(keys, "e2.cert"))
    lines = len(town.log_text().splitlines())
    sent, r = evil(town, k_e2, E_AREA, chain_e2, "hello", "batch", "4,5", extra=e_opts)
    check(len(r) == 2 and r[0].startswith("REPLY WELCOME") and r[1].startswith("REPLY ACK"),
          f"relay of E's seq 4 and 5 to the township: {r}")
    e_applied([e for e in sent if e["seq"] == "4"])
    new = town.log_text().splitlines()[lines:]
    check(any(re.search(rf"refused 1 envelope\(s\) from origin {pub_e[:8]} at seq 5: its key "
                        r"was revoked at", ln) for ln in new),
          "the township does not log refusing E's seq 5 for its revocation; new lines:\n  "
          + "\n  ".join(new[-10:]))
    check_eq(t.status(town)["refused"], 1, "township: refused after E's seq 5")
    e4 = f"{int(E_AREA) * 10000 + 2:016d}"
    e5 = f"{int(E_AREA) * 10000 + 3:016d}"
    check(held(t, town, e4) and not held(t, town, e5), "township: E's seq 4 held, 5 not")
    for n in (county, prov):
        t.wait_for(f"{n} to hold E's seq 4 (signed before the revocation)",
                   lambda: held(t, n, e4))
    # seq 5 relayed to the county (by a township it certified) and to the
    # province (by a county the root certified): refused at each.
    k_rt, k_rc = os.path.join(keys, "relay-t.key"), os.path.join(keys, "relay-c.key")
    relay_t = jt.cert_issue(county, t.keygen(k_rt), "township", RELAY_T,
                         os.path.join(keys, "relay-t.cert"))
    relay_c = jt.cert_issue(prov, t.keygen(k_rc), "county", RELAY_C,
                         os.path.join(keys, "relay-c.cert"))
    for n, k, area, chain in ((county, k_rt, RELAY_T, relay_t), (prov, k_rc, RELAY_C, relay_c)):
        lines = len(n.log_text().splitlines())
        refused = t.status(n)["refused"]
        _, r = evil(n, k, area, chain, "hello", "from", "1", "batch", "5", extra=e_opts)
        check(len(r) == 2 and r[0].startswith("REPLY WELCOME") and r[1].startswith("REPLY ACK"),
              f"relay of E's seq 5 to {n}: {r}")
        new = n.log_text().splitlines()[lines:]
        check(any(re.search(rf"from origin {pub_e[:8]} at seq 5: its key was revoked at", ln)
                  for ln in new),
              f"{n} does not log refusing E's seq 5 for its revocation; new lines:\n  "
              + "\n  ".join(new[-10:]))
        check_eq(t.status(n)["refused"], refused + 1, f"{n}: refused after the relayed seq 5")
        check(not held(t, n, e5), f"{n} holds E's seq 5, signed after its revocation")
    t.wait_synced(receipts=False)
    check_rollups("after E's revocation")

    # ---- 4. V, cut off from its township, signs households that have not
    # gone up when its key is revoked (signed before the revocation).
    t.stop(village)
    set_conf(village.conf, parent=dead_endpoint())
    t.start(village)
    offline, offline_ids = households("offline", 3, 101)
    check_eq(t.import_ok(village, "households", offline), 3, "households imported offline")
    check(t.status(village)["parent"]["backlog"] > 0, "the cut-off village has no backlog")
    newest = max(t.ctl(village, "household", "show", hid, "--json")["history"][0]["hlc_ms"]
                 for hid in offline_ids)
    t.stop(village)
    # The revocation is strictly later than the village's records: the
    # township dates it by its clock, CLOCK_REALTIME (its HLC never behind
    # it), the clock read here; once that has passed the newest record, so
    # has the revocation.
    t.wait_for("the clock to pass the village's newest record",
               lambda: time.time_ns() // 1000000 > newest,
               wake_at=time.monotonic() + (newest + 1) / 1000 - time.time())
    out = t.ctl_text(town, "revoke", village.pub, "--reason", "key lost with the laptop")
    check(re.search(rf"revoked {village.pub[:16]}\.\.\. \(area {V}\)", out),
          f"revoke V: {out!r}")
    at[V] = t.wait_for("the township's log of V's revocation",
                       lambda: revocation_logged(town, village.pub, V, town.pub))
    for n in (county, prov):
        got = t.wait_for(f"{n} to apply V's revocation",
                         lambda: revocation_logged(n, village.pub, V, town.pub))
        check_eq(got, at[V], f"{n}: time of V's revocation")

    # ---- 5. V with its revoked key: refused at the handshake.
    set_conf(village.conf, parent=town.endpoint)
    t.start(village, wait=False)
    t.wait_up(village, wait_sign=False)
    st = t.wait_for("the village's status to say it is refused at the handshake",
                    lambda: (lambda s: not s["parent"]["connected"] and re.search(
                        r"refused at the handshake.*revoked", s["parent"]["why"]) and s)(
                        t.status(village)))
    jt.log(f"revoked village's parent link: {st['parent']['why']!r}")
    for hid in offline_ids:  # the premise of step 6
        hlc = t.ctl(village, "household", "show", hid, "--json")["history"][0]["hlc_ms"]
        check(hlc <= at[V], f"{hid} was signed at {hlc}, after V's revocation at {at[V]}")
    t.wait_for("the township's ZAP handler to log the refusal",
               lambda: t.grep_log(town, r"connection refused at the handshake: key revoked"))
    check(not any(k["area"] == V and k["connected"] for k in t.status(town)["children"]),
          "the township lists the revoked village as connected")
    _, r = evil(town, k_e, E_AREA, chain_e, "hello", timeout_ms=int(2000 * jt.SLOW))
    check(len(r) == 1 and r[0].startswith("NO REPLY"),
          f"township: a Hello over a connection of E's revoked key got {r}")
    # Told its key is revoked, it signs nothing more, and says why.
    late, late_ids = households("late", 4, 201)
    p = t.import_file(village, "households", late)
    check(p.returncode == 1 and "revoked" in p.stderr,
          f"import at a node whose key is revoked: exit {p.returncode}, {p.stderr[-300:]!r}")
    check(not t.status(village)["may_sign"], "a revoked node says it may sign")
    for n in uplinks:
        for hid in late_ids + offline_ids:
            check(not held(t, n, hid), f"{n} holds {hid} of the cut-off, revoked village")
    check_rollups("V revoked")
    for n in t.nodes.values():
        t.verify(n, "V revoked")

    # ---- 6. Re-key V: a new key and certificate for the same area, the
    # same data dir.
    t.stop(village)
    old_pub = village.pub
    village.key = os.path.join(village.dir, "node2.key")
    village.pub = t.keygen(village.key)
    village.cert = jt.cert_issue(town, village.pub, "village", V,
                              os.path.join(village.dir, "node2.cert"))
    set_conf(village.conf, key="node2.key", cert="node2.cert")
    lines = len(town.log_text().splitlines())
    t.start(village)  # waits until the township welcomed it and it may sign
    again, again_ids = households("again", 5, 301)
    check_eq(t.import_ok(village, "households", again), 5, "households after the re-key")
    expect.add_households(again)
    expect.add_households(offline)  # signed before the revocation: they count
    t.wait_synced(receipts=False)
    st = t.status(village)
    check(st["parent"]["connected"] and not st["parent"]["why"],
          f"re-keyed village's link: {st['parent']}")
    check(revocation_logged(village, old_pub, V, town.pub) == at[V],
          "the re-keyed village did not receive its old key's revocation from the township")
    new = town.log_text().splitlines()[lines:]
    jt.log("township after the re-key:\n  " + "\n  ".join(new[-8:]))
    for n in uplinks:
        for hid in again_ids:
            check(held(t, n, hid), f"{n}: {hid}, signed by the new key, not held")
        h = t.ctl(n, "household", "show", again_ids[0], "--json")
        check(h["history"] and "新庄村" in h["history"][0]["by"],
              f"{n}: {again_ids[0]} history: {h.get('history')}")
        for hid in late_ids:
            check(not held(t, n, hid), f"{n} holds {hid}, signed by the revoked key after "
                  "its revocation")
        lost = [hid for hid in offline_ids if not held(t, n, hid)]
        if lost:
            # Signed before the revocation, so valid (DESIGN §8), and in
            # V's log unsent when it was re-keyed: they must still go up.
            t.soft_fail(f"{n}: households {', '.join(lost)}, signed by V's old key before "
                        "its revocation and still in V's backlog when V was re-keyed, never "
                        f"arrived (V's backlog: {t.status(village)['parent']['backlog']})")
    # Old records stay: counted (what the province held before, plus what
    # the new key signed) and verifiable everywhere.
    missing = [h for h in offline_ids if not held(t, prov, h)]
    for hid in missing:  # so that the rest of the comparison still says something
        del expect.households[hid]
    check_rollups("after the re-key")
    for n in t.nodes.values():
        t.verify(n, "after the re-key")
    old_hid = f"{int(V) * 10000 + 1:016d}"
    for n in (town, county):
        h = t.ctl(n, "household", "show", old_hid, "--json")
        check_eq(h.get("personal"), "readable", f"{n}: {old_hid} after the re-key")
    # What V sealed under its old key: sealed to the new one, opened again
    # with [node] previous_key (which signs nothing: the revoked key's
    # envelopes would be refused everywhere, and none are made).
    h = t.ctl(village, "household", "show", old_hid, "--json")
    check_eq(h.get("personal"), "sealed", f"the re-keyed village: {old_hid}, no previous_key")
    t.stop(village)
    set_conf(village.conf, key="node2.key\nprevious_key = node.key")
    t.start(village)
    h = t.ctl(village, "household", "show", old_hid, "--json")
    check_eq(h.get("personal"), "readable", f"the re-keyed village: {old_hid}, previous_key")
    check(t.grep_log(village, rf"previous key {old_pub[:16]}\.\.\. kept to open"),
          "the village does not log its previous key")
    out = t.ctl_text(village, "household", "edit", old_hid, "--income", "3000")
    check(old_hid in out, f"an edit at the village of a household sealed before: {out!r}")
    t.wait_synced(receipts=False)
    check_eq(t.status(village)["refused"], 0, "refusals at the re-keyed village")

    # ---- 7. An expired certificate: V, certified for one day and started
    # on the test clock, signs until the day is over, then refuses and says
    # why; what it signed before stays.
    t.stop(village)
    village.cert = jt.cert_issue(town, village.pub, "village", V,
                                 os.path.join(village.dir, "node3.cert"), days=1)
    set_conf(village.conf, cert="node3.cert")
    village.test_clock = True
    t.start(village)
    fresh, fresh_ids = households("fresh", 2, 401)
    check_eq(t.import_ok(village, "households", fresh), 2, "households under a one-day cert")
    t.ctl_text(village, "clock", "advance", "2d")
    p = t.import_file(village, "households", households("stale", 2, 411)[0])
    check(p.returncode == 1 and "expired" in p.stderr,
          f"import at a node whose certificate expired: exit {p.returncode}, "
          f"{p.stderr[-300:]!r}")
    st = t.status(village)
    check(not st["may_sign"], "a node with an expired certificate says it may sign")
    for hid in fresh_ids:
        check(held(t, village, hid), f"V lost {hid} when its certificate expired")


if __name__ == "__main__":
    jt.main(test)
