#!/usr/bin/env python3
"""A hostile child with a valid certificate, and clients without one
(DESIGN §3, §7, §8; the trust issue's tests).

Tree, certified by scripts/provision.sh: province 630000000000, county
630121000000, townships 630121101000 and 630121102000 (the latter standing
in for its village 630121102001), and village 630121101001 under the first.
The harness runs the daemons (so each stop is checked for exit status 0).

At the handshake, against the real county (and the province):
  - a plain TCP client speaking ZMTP 3.0 with the NULL mechanism never gets
    a READY: the CURVE server closes the connection;
  - a Hello with no certificate chain: Refuse 1105;
  - failed Hellos from one key are slowed down: another Hello inside the
    back-off gets Refuse 1107 at once, and a new connection of that key is
    refused by ZAP (no answer) and the county logs it (the back-off moved
    past with the county's test clock, and made long enough to leave no
    race);
  - a Hello whose chain certifies another key (made for key A, sent over a
    connection of key B): Refuse 1105, "another key";
  - a Hello with a chain for this key but claiming another area: 1105, or
    another level: 1101;
  - a county chain from a root that is not the province's key: 1105 at the
    province.

Then tests/tools/jzfp_evil plays township 630121103000 with a key the county
certified offline (jzfpctl cert issue with the county's key and chain), a
compromised township: its Hello is welcomed and its NodeInfo (carrying its
chain) accepted; then a valid chain, the same batch again (duplicates), a
forged signature, an equivocating envelope, and households for another
township's village (630121101001, whose real household of the same id must
not change) are refused at the county, with the reason in its log and the
counts in `status` ("refused", the child's "refused"), and the canonical
chain goes on. The county's and the province's records and rollups change
exactly by the valid envelopes, nothing refused reaches the province, every
daemon keeps running and rollup --verify passes everywhere.
"""

import os
import re
import socket
import time

import jzfptest as jt
from jzfptest import check, check_eq

EVIL = os.path.join(jt.BIN, "jzfp_evil")
YEAR = 2020

P, C = "630000000000", "630121000000"
T1, T2, V = "630121101000", "630121102000", "630121101001"
STANDIN_V = "630121102001"  # served by T2, no node of its own
EVIL_T = "630121103000"     # the compromised township, played by jzfp_evil
EVIL_V = "630121103001"     # its village (census and households)


# ---------------------------------------------------------------- the tree

class LogCursor:
    """The lines a node logged since the last call."""

    def __init__(self, n):
        self.n, self.seen = n, len(n.log_text().splitlines())

    def new(self):
        lines = self.n.log_text().splitlines()
        out, self.seen = lines[self.seen:], len(lines)
        return out


def evil(parent, key, area, *steps, chain=None, extra=(), timeout_ms=None):
    """Run jzfp_evil against PARENT; returns (sent, replies) as in
    test_bad_input.py."""
    tmo = timeout_ms or int(3000 * jt.SLOW)
    argv = [EVIL, "--endpoint", parent.endpoint, "--server-key", parent.pub, "--key", key,
            "--area", area, "--timeout-ms", str(tmo)]
    if chain:
        argv += ["--chain", chain]
    argv += list(extra) + list(steps)
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


# ---------------------------------------------------------------- ZMTP

def zmtp_null_probe(endpoint, wait_s):
    """Speak ZMTP 3.0 with the NULL mechanism to ENDPOINT (tcp://host:port):
    wait for the server's signature (10 bytes), send our greeting (signature
    FF 00*8 7F, version 3.0, "NULL" padded to 20 bytes, as-server 0, 31
    filler bytes), and once the server's whole greeting is in, a NULL READY
    command as a DEALER would send. Returns (bytes received, closed by the
    server?) after at most wait_s seconds."""
    m = re.fullmatch(r"tcp://([0-9.]+):(\d+)", endpoint)
    check(m is not None, f"endpoint {endpoint!r}")
    greeting = (b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00")
                + b"\x00" + b"\x00" * 31)
    assert len(greeting) == 64
    prop = b"\x0bSocket-Type" + (6).to_bytes(4, "big") + b"DEALER"
    body = b"\x05READY" + prop
    ready = b"\x04" + bytes([len(body)]) + body
    got, closed, sent = b"", False, 0  # sent: 1 greeting, 2 READY too
    s = socket.create_connection((m.group(1), int(m.group(2))), timeout=5)
    try:
        deadline = time.monotonic() + wait_s
        for _ in range(10000):
            if sent == 0 and (len(got) >= 10 or time.monotonic() > deadline - wait_s / 2):
                s.sendall(greeting)
                sent = 1
            elif sent == 1 and len(got) >= 64:
                s.sendall(ready)
                sent = 2
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(min(left, 0.2))
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                continue
            except ConnectionError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            got += chunk
    except ConnectionError:
        closed = True
    finally:
        s.close()
    return got, closed


def check_null_refused(node, cur):
    got, closed = zmtp_null_probe(node.endpoint, 4 * jt.SLOW)
    jt.log(f"NULL-mechanism client at {node}: got {got[:80]!r}, closed={closed}")
    check(got[:1] == b"\xff" and got[9:10] == b"\x7f",
          f"{node}: no ZMTP signature from the server: {got!r}")
    if len(got) >= 32:
        check_eq(got[12:32].rstrip(b"\x00"), b"CURVE", f"{node}: mechanism in its greeting")
    check(b"READY" not in got, f"{node}: a plain-TCP NULL client got a READY: {got!r}")
    check(closed or len(got) <= 64, f"{node}: answered the NULL client past its greeting")
    check(node.running, f"{node} died after the plain-TCP client")
    # The node logs the failure when its socket monitor reports it, which
    # may be after the client saw the connection close: wait for the line.
    lines = []

    def logged():
        lines.extend(cur.new())
        return any(re.search(r"child connection .*handshake failed", ln) for ln in lines)

    try:
        node.tree.wait_for(f"{node} to log the failed handshake", logged, timeout=10)
    except jt.Failure:
        raise jt.Failure(f"{node}: no log line for the failed handshake; new lines:\n  " +
                         "\n  ".join(lines))


# ---------------------------------------------------------------- the test

class Watch:
    """What a node should hold, counted from what was sent to it."""

    def __init__(self, t, n, expect, names):
        self.t, self.n, self.expect, self.names = t, n, expect, names
        st = t.status(n)
        self.records, self.refused = st["records"], st["refused"]
        self.log = LogCursor(n)

    def applied(self, sent):
        for e in sent:
            self.records += 1
            if e["kind"] == "household":
                hid = int(e["subject"])
                # data edits of a new household: official status 0 (DESIGN §6)
                self.expect.add_household(f"{hid:016d}", f"{hid // 10000:012d}", 0, YEAR,
                                          int(e["members"]))
            elif e["kind"] == "census":
                self.expect.census[(EVIL_V, YEAR)] = ("evil village", 120, 500)

    def check(self, what, refusal=None, refused_more=0):
        t, n = self.t, self.n
        check(n.running, f"{what}: {n} died (exit {n.proc.poll()})")
        st = t.status(n)
        check_eq(st["records"], self.records, f"{what}: {n} records")
        check_eq(st["refused"], self.refused + refused_more, f"{what}: {n} refused count")
        self.refused = st["refused"]
        for level in ("village", "township"):
            jt.compare_rollup(t.rollup(n, level),
                              self.expect.rollup(level, under=n.area, names=self.names),
                              f"{what}: {n} rollup --level {level}")
        lines = self.log.new()
        if refusal:
            hits = [ln for ln in lines if "refused" in ln and re.search(refusal, ln)]
            check(hits, f"{what}: no log line with 'refused' and /{refusal}/ at {n}; new "
                  f"lines:\n  " + "\n  ".join(lines[-12:]))
        return st


def only(replies, what):
    check_eq(len(replies), 1, f"{what}: number of replies ({replies})")
    return replies[0]


def child_row(st, area):
    rows = [c for c in st.get("children") or [] if c.get("area") == area]
    check(rows, f"no child {area} in status: {st.get('children')}")
    return rows[0]


def household_json(t, n, hid):
    return t.ctl(n, "household", "show", hid, "--json")


def test(t):
    check(os.access(EVIL, os.X_OK), f"{EVIL} not built")
    t.provision([(P, "province", "青海省"), (C, "county", "大通县"),
                  (T1, "township", "城关镇"), (T2, "township", "桥头镇"),
                  (V, "village", "新庄村")],
              receipt_ms=3600000)  # no receipts while records are counted
    prov, county, t1, t2, village = (t.nodes[a] for a in (P, C, T1, T2, V))
    county.test_clock = True  # its Hello back-off is passed with `clock advance`
    t.start_all()

    data = os.path.join(t.dir, "input")
    os.mkdir(data)
    expect = jt.Expect()
    files = jt.gen_households(os.path.join(data, "hh_{village}.csv"), [V, STANDIN_V], 30,
                              seed="hostile-certified", year=YEAR, new=True)
    census = jt.gen_census(os.path.join(data, "census.csv"), [V, STANDIN_V], YEAR, seed="hc")
    cv = jt.split_census(census, os.path.join(data, "census_v.csv"), [V])
    cs = jt.split_census(census, os.path.join(data, "census_s.csv"), [STANDIN_V])
    for path in files.values():
        expect.add_households(path)
    expect.add_census(census)
    t.import_many([(village, "households", files[V]), (village, "census", cv),
                   (t2, "households", files[STANDIN_V]), (t2, "census", cs)])
    t.wait_synced(receipts=False)
    names = jt.node_names(t)
    names[EVIL_T] = f"evil {EVIL_T}"  # from its NodeInfo, once accepted

    c = Watch(t, county, expect, names)
    pw = Watch(t, prov, expect, names)
    c.check("baseline")
    pw.check("baseline at the province")
    check_eq(t.status(prov)["refused"], 0, "province refused anything of a certified tree")
    keys = os.path.join(t.dir, "keys")
    os.mkdir(keys)

    # ---- 1. A plain TCP client without CURVE (ZMTP NULL): no READY, ever.
    check_null_refused(county, c.log)
    pcur = LogCursor(prov)
    check_null_refused(prov, pcur)

    # ---- 2. A Hello without a certificate chain (a key of its own).
    k_none = os.path.join(keys, "none.key")
    t.keygen(k_none)
    _, r = evil(county, k_none, EVIL_T, "hello")
    check(re.match(r"REPLY REFUSE code=1105 why=no certificate chain", only(r, "no chain")),
          f"hello without a chain: {r}")
    check(any(re.search(rf"refused hello for {EVIL_T}: no certificate chain", ln)
              for ln in c.log.new()), "the county does not log the refused Hello (no chain)")

    # ---- 2b. Failed Hellos from one key are slowed down: the back-off
    # doubles from 0.5 s with each failure, and runs on the county's test
    # clock, so moving it a minute on passes any back-off (at most 60 s)
    # without sleeping. Six failures, each past the last back-off, then a
    # seventh make it 32 s; the next Hello on the seventh's connection is
    # answered at once without checks (1107), and a new connection of that
    # key is refused by ZAP and never answered. The two checks need the real time between
    # them to stay under 32 s, not under the first back-off's 0.5 s.
    k_rep = os.path.join(keys, "rep.key")
    t.keygen(k_rep)
    for fails in range(6):
        if fails:
            t.ctl_text(county, "clock", "advance", "1m")
        _, r = evil(county, k_rep, EVIL_T, "hello")
        check(only(r, "a hello past the back-off").startswith("REPLY REFUSE code=1105"),
              f"a hello past the back-off after {fails} failure(s): {r}")
    t.ctl_text(county, "clock", "advance", "1m")
    _, r = evil(county, k_rep, EVIL_T, "hello", "hello")
    check(len(r) == 2 and r[0].startswith("REPLY REFUSE code=1105") and
          re.match(r"REPLY REFUSE code=1107 why=too many failed hellos", r[1]),
          f"a second hello inside the back-off: {r}")
    _, r = evil(county, k_rep, EVIL_T, "hello", timeout_ms=1500)
    check(re.match(r"NO REPLY", only(r, "a new connection inside the back-off")),
          f"a new connection of a slowed-down key: {r}")
    t.wait_for("the county's ZAP handler to log the slowed-down key",
               lambda: any("connection refused at the handshake: too many failed hellos" in ln
                           for ln in c.log.new()))

    # ---- 3. A chain made for key A, sent over a connection of key B.
    k_a, k_b = os.path.join(keys, "a.key"), os.path.join(keys, "b.key")
    pub_a = t.keygen(k_a)
    t.keygen(k_b)
    chain_a = jt.cert_issue(county, pub_a, "township", EVIL_T, os.path.join(keys, "a.cert"))
    _, r = evil(county, k_b, EVIL_T, "hello", chain=chain_a)
    check(re.match(r"REPLY REFUSE code=1105 why=certificate is for another key",
                   only(r, "chain of another key")), f"hello with A's chain sent by B: {r}")
    check(any(re.search(rf"refused hello for {EVIL_T}: certificate is for another key", ln)
              for ln in c.log.new()), "the county does not log the refused Hello (other key)")

    # ---- 4. The right key and chain, but the Hello claims another area.
    k_c = os.path.join(keys, "c.key")
    pub_c = t.keygen(k_c)
    chain_c = jt.cert_issue(county, pub_c, "township", "630121104000",
                         os.path.join(keys, "c.cert"))
    _, r = evil(county, k_c, "630121105000", "hello", chain=chain_c)
    check(re.match(r"REPLY REFUSE code=1105 why=hello claims another key, area or level",
                   only(r, "another area")), f"hello for another area than its chain: {r}")
    # ... or another level than its area's and its certificate's.
    k_f = os.path.join(keys, "f.key")
    chain_f = jt.cert_issue(county, t.keygen(k_f), "township", "630121106000",
                         os.path.join(keys, "f.cert"))
    _, r = evil(county, k_f, "630121106000", "hello", chain=chain_f, extra=["--level", "village"])
    check(re.match(r"REPLY REFUSE code=1101 why=.*630121106000",
                   only(r, "another level")), f"hello claiming another level: {r}")
    c.log.new()

    # ---- 5. A county chain from a made-up root, at the province.
    k_root, k_d = os.path.join(keys, "fake-root.key"), os.path.join(keys, "d.key")
    t.keygen(k_root)
    pub_d = t.keygen(k_d)
    p = jt.run([jt.JZFPCTL, "cert", "issue", "--issuer-key", k_root, "--root", "--pub", pub_d,
                "--level", "county", "--area", "630122000000", "--days", "30", "--out",
                os.path.join(keys, "d.cert")])
    check(p.returncode == 0, f"cert issue with a fake root: {p.stderr}")
    _, r = evil(prov, k_d, "630122000000", "hello", chain=os.path.join(keys, "d.cert"))
    check(re.match(r"REPLY REFUSE code=1105 why=certificate chain refused",
                   only(r, "fake root")), f"county chain from a fake root: {r}")
    check(any(re.search(r"refused hello for 630122000000: certificate chain refused", ln)
              for ln in pcur.new()), "the province does not log the refused fake-root chain")

    for what, w in (("after the refused handshakes", c), ("province after them", pw)):
        w.check(what)

    # ---- 6. A certified township of the county, compromised.
    k_evil = os.path.join(keys, "evil.key")
    pub_evil = t.keygen(k_evil)
    chain = jt.cert_issue(county, pub_evil, "township", EVIL_T, os.path.join(keys, "evil.cert"))
    hlc_ms = int(time.time() * 1000) + 1000  # inside its certificate's validity
    opts = ["--village", EVIL_V, "--oos-village", V, "--hlc-ms", str(hlc_ms)]

    def run(*steps):
        return evil(county, k_evil, EVIL_T, *steps, chain=chain, extra=opts)

    # 6a. Welcomed; NodeInfo, census and 2 households applied.
    sent, r = run("hello", "batch", "1-4")
    check(re.match(rf"REPLY WELCOME area={C}", r[0]), f"certified hello: {r}")
    check(re.match(r"REPLY ACK cursor=1 local_seq=4 rewind=0", r[1]), f"valid batch: {r}")
    c.applied(sent)
    c.check("certified evil township: valid chain 1-4")
    check_eq(child_row(t.status(county), EVIL_T)["refused"], 0, "evil child refused count")

    # 6b. Replayed: the same batch again changes nothing.
    dups = t.status(county)["duplicates"]
    _, r = run("hello", "batch", "1-4")
    check(re.match(r"REPLY ACK cursor=1 local_seq=4 rewind=0", r[1]), f"replay: {r}")
    c.check("replay of 1-4")
    check_eq(t.status(county)["duplicates"], dups + 4, "replay: duplicates counted")

    # 6c. Forged: 5 and 6 valid, 7 with a broken signature.
    sent, r = run("hello", "batch", "5,6,7:badsig")
    check(re.match(r"REPLY ACK ", r[1]), f"forged: {r}")
    c.applied([e for e in sent if e["variant"] == "none"])
    c.check("5, 6 and a forged 7", refusal="signature", refused_more=1)

    # 6d. Equivocating: another validly signed envelope for seq 3.
    eq = t.status(county)["equivocations"]
    _, r = run("hello", "batch", "3:equiv")
    check(re.match(r"REPLY ACK ", r[1]), f"equivocation: {r}")
    c.check("equivocating seq 3", refusal="EQUIVOCATION", refused_more=1)
    check_eq(t.status(county)["equivocations"], eq + 1, "equivocations counted")
    evil_hh3 = f"{int(EVIL_V) * 10000 + 1:016d}"
    h = household_json(t, county, evil_hh3)
    check_eq((h["versions"], h["members"]), (1, 2),
             f"household {evil_hh3} after the equivocation (versions, members)")

    # 6e. Out of scope: a compromised township signs a household of another
    # township's village (630121101001, whose household of that id exists).
    victim = f"{int(V) * 10000 + 6:016d}"
    before = {n.area: household_json(t, n, victim) for n in (county, prov, t1)}
    sent, r = run("hello", "batch", "7,8:oos")
    check(re.match(r"REPLY ACK ", r[1]), f"out of scope: {r}")
    check(any(e["variant"] == "oos" and f"{int(e['subject']):016d}" == victim for e in sent),
          f"oos envelope not for {victim}: {sent}")
    c.applied([e for e in sent if e["variant"] == "none"])
    st = c.check("household of another township's village", refusal="may not speak",
                 refused_more=1)
    check_eq(child_row(st, EVIL_T)["refused"], 3,
             "status: the compromised township's refused envelopes (forged, equivocating, "
             "out of scope)")
    check(any(re.search(rf"batch from {EVIL_T}: \d+ applied, 1 refused", ln)
              for ln in t.grep_log(county, r"batch from")),
          "the county's log does not name the township whose batch had a refusal")

    # 6f. The canonical chain goes on.
    sent, r = run("hello", "batch", "8-9")
    check(re.match(r"REPLY ACK cursor=1 local_seq=9 rewind=0", r[1]), f"8-9: {r}")
    c.applied(sent)
    c.check("canonical 8-9 after the refusals")

    # ---- Everything valid reached the province, nothing refused did.
    t.wait_synced(receipts=False)
    pw.records += 9
    pw.check("province after the hostile township")
    check_eq(t.status(prov)["refused"], 0, "something refused at the county reached the province")
    for n in (county, prov, t1):
        got = household_json(t, n, victim)
        check_eq((got["versions"], got["head"], got["members"]),
                 (before[n.area]["versions"], before[n.area]["head"],
                  before[n.area]["members"]),
                 f"{n}: household {victim} changed by the out-of-scope envelope")
    for level in jt.ROLLUP_LEVELS:
        jt.compare_rollup(t.rollup(prov, level), expect.rollup(level, names=names),
                          f"province rollup --level {level}")
    for n in t.nodes.values():
        check(n.running, f"{n} died")
        t.verify(n)


if __name__ == "__main__":
    jt.main(test)
