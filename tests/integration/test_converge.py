#!/usr/bin/env python3
"""The procedure converges (DESIGN §6; issue 14): a village cut off while
the province changes the policy ends up agreeing with every level on the
state and history of its proposal, and learns which of its steps were
refused and why. Every node runs jzfpd --test-clock.

Tree: the province, county 630121, township T1, village V1. V1 reaches T1
through a TCP relay process started by this test (127.0.0.1); stopping the
relay cuts the link, starting it again on the same port restores it.

  1. The policy is 7 days; the county migrates V1's register (--recorded),
     which reaches V1.
  2. The link is cut. The province sets 10 days; it reaches the township and
     not V1. Clocks advance 8 days.
  3. At V1: an exit proposal with the household's consent; `notice open`
     (V1 still on 7 days, so V1 takes it); clocks advance 16 days; `notice
     close`.
  4. The link returns; the tree gets in step (exact cursors). The village,
     township, county and province show the same state (PROPOSED) and the
     same history for the proposal: V1's open refused by the policy signed
     before it, its close waiting for an open that is not there. V1's status
     counts its refused step and says why; its log says so.
  5. The township posts and closes the notice itself (10 days): it works
     everywhere (VILLAGE_PASSED), every node shows V1's close refused, and
     V1 counts both of its steps refused. The rollups verify everywhere.
"""

import datetime
import json
import os
import subprocess
import sys
import time

import jzfptest as jt
from jzfptest import check, check_eq

YEAR = 2020
P, C, T1, V1 = "630000000000", "630121000000", "630121101000", "630121101001"

RELAY = r"""
import socket, sys, threading
lport, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", lport))
srv.listen(16)
print(srv.getsockname()[1], flush=True)

def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

while True:
    c, _ = srv.accept()
    try:
        u = socket.create_connection((host, port), timeout=5)
        u.settimeout(None)
    except OSError:
        c.close()
        continue
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
"""


class Relay:
    """A TCP forwarder process on 127.0.0.1 (this test's own PID to stop)."""

    def __init__(self, target):
        host, port = target[len("tcp://"):].rsplit(":", 1)
        self.host, self.tport = host, int(port)
        self.port = 0
        self.proc = None

    def start(self):
        check(self.proc is None, "relay already running")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", RELAY, str(self.port), self.host, str(self.tport)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        check(line.isdigit(), f"relay did not start: {line!r} (exit {self.proc.poll()})")
        self.port = int(line)
        return f"tcp://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc = None


def advance(t, days):
    for n in t.nodes.values():
        out = t.ctl(n, "clock", "advance", f"{days}d", "--json")
        check("offset_ms" in out, f"clock advance at {n}: {out}")


def proposal_of(t, n, hid):
    """The household's proposal as node n shows it: state and history."""
    s = t.ctl(n, "household", "show", hid, "--json")
    props = [p for p in s["proposals"] if p["kind"] == "exit" and not p["historic"]]
    check_eq(len(props), 1, f"{n}: exit proposals of {hid}")
    p = props[0]
    steps = [(x["step"], x["refused"], x["level"], x["area"], x["hlc_ms"], x["days"],
              x["reason"]) for x in p["steps"]]
    listed = {x["household"]: x for x in t.ctl(n, "proposals", "--json", "--state",
                                               p["state"])["proposals"]}
    check(hid in listed, f"{n}: proposals --state {p['state']} does not list {hid}")
    # Times as instants: the township shows them in a zone of its own.
    def instant(x):
        return datetime.datetime.fromisoformat(x).timestamp() if x else None
    return (p["proposal"], p["state"], p["consent"], tuple(steps),
            listed[hid]["state"], instant(listed[hid]["since"]), instant(listed[hid]["closes"]))


def same_everywhere(t, hid, what):
    got = {n.area: proposal_of(t, n, hid) for n in t.nodes.values()}
    ref = got[V1]
    for a, g in got.items():
        if g != ref:
            raise jt.Failure(f"{what}: {a} shows {json.dumps(g, ensure_ascii=False)}\n"
                             f"  but {V1} shows {json.dumps(ref, ensure_ascii=False)}")
    parked = {n.area: t.status(n)["workflow"]["parked"] for n in t.nodes.values()}
    check(len(set(parked.values())) == 1, f"{what}: waiting steps differ: {parked}")
    return ref


def wait_policy(t, nodes, days):
    for n in nodes:
        t.wait_for(f"{n}: policy of {days} days",
                   lambda n=n: t.ctl(n, "policy", "show", "--json")["notice_days"] == days)


def test(t):
    prov = t.add(P, "province", "青海省")
    county = t.add(C, "county", "大通县")
    town = t.add(T1, "township", "桥头镇")
    # Another zone than the others': the reasons every node keeps for a
    # refused step must read the same (their times in UTC).
    town.timezone = "Asia/Urumqi"
    village = t.add(V1, "village", "新庄村")
    for n in (prov, county, town):
        t.start(n)
    relay = Relay(town.endpoint)
    try:
        run(t, prov, county, town, village, relay)
    finally:
        relay.stop()


def run(t, prov, county, town, village, relay):
    village.parent_override = relay.start()
    t.start(village)
    t.ctl_text(prov, "policy", "set", "--notice-days", "7")

    # ------------------------------------------------------------ data
    data = os.path.join(t.dir, "input")
    os.mkdir(data)
    files = jt.gen_households(os.path.join(data, "hh_{village}.csv"), [V1], 12,
                              seed="converge", year=YEAR)
    expect = jt.Expect()
    expect.add_households(files[V1], recorded=True)
    p = t.import_file(county, "households", files[V1], "--recorded")
    check(p.returncode == 0, f"migration at the county: {p.stdout} {p.stderr}")
    t.wait_synced()
    wait_policy(t, t.nodes.values(), 7)
    poor = [h for h, x in sorted(expect.households.items()) if x["status"] in (1, 4)]
    check(len(poor) >= 1, "no poor household in the register")
    hid = poor[0]
    t.ctl(village, "household", "show", hid, "--json")  # held at the village

    # ------------------------------------------------------------ cut off
    relay.stop()
    t.wait_for("the village to see its link down",
               lambda: t.status(village)["parent"]["connected"] is False)
    t.ctl_text(prov, "policy", "set", "--notice-days", "10")
    wait_policy(t, (prov, county, town), 10)
    check_eq(t.ctl(village, "policy", "show", "--json")["notice_days"], 7,
             "the village's policy while cut off")
    advance(t, 8)
    out = t.ctl_text(village, "household", "edit", hid, "--status", "2")
    check("a proposal" in out, f"edit --status 2 of {hid}: {out}")
    t.ctl(village, "consent", hid, "--json")
    check_eq(t.ctl(village, "notice", "open", hid, "--json")["proposals"], 1,
             "the village opens its notice (7 days, as it knows the policy)")
    advance(t, 16)
    check_eq(t.ctl(village, "notice", "close", hid, "--json")["proposals"], 1,
             "the village closes its notice")
    st = t.ctl(village, "household", "show", hid, "--json")
    check_eq([p["state"] for p in st["proposals"] if not p["historic"]], ["VILLAGE_PASSED"],
             "the village, cut off, passed its notice")
    check_eq(t.status(village)["workflow"].get("own_steps_refused", 0), 0,
             "own steps refused while cut off")

    # ------------------------------------------------------------ back
    relay.start()
    t.wait_synced()
    wait_policy(t, (village,), 10)
    t.wait_synced()
    state = same_everywhere(t, hid, "after the link returns")
    steps = state[3]
    check_eq(state[1], "PROPOSED", "state everywhere after the link returns")
    check_eq([(s[0], s[1], s[2]) for s in steps],
             [("consent", False, "village"), ("village_notice_open", True, "village")],
             "history everywhere after the link returns")
    check("shorter than the policy's 10" in steps[1][6] and "the policy signed" in steps[1][6],
          f"the reason names the rule: {steps[1][6]!r}")
    check_eq(t.status(village)["workflow"]["parked"], 1,
             "the village's close waits for an open")
    wf = t.status(village)["workflow"]
    check_eq(wf.get("own_steps_refused"), 1, "the village counts its refused step")
    check("village_notice_open" in wf.get("own_refused_last", "") and
          "policy's 10" in wf.get("own_refused_last", ""),
          f"the village says why: {wf.get('own_refused_last')!r}")
    check(t.grep_log(village, r"our own workflow step is refused: household \d{16}, "
                              r"village_notice_open"),
          "the village's log does not say its step was refused")
    text = t.ctl_text(village, "status")
    check("own steps 1 signed here are refused" in text, f"status text:\n{text}")

    # ------------------------------------------------------------ redone
    check_eq(t.ctl(town, "notice", "open", hid, "--json")["proposals"], 1,
             "the township posts the notice")
    t.wait_synced()
    advance(t, 10)
    check_eq(t.ctl(town, "notice", "close", hid, "--json")["proposals"], 1,
             "the township closes the notice")
    t.wait_synced()
    t.wait_for("the township's close at the village",
               lambda: proposal_of(t, village, hid)[1] == "VILLAGE_PASSED")
    state = same_everywhere(t, hid, "after the township redid the notice")
    check_eq([(s[0], s[1], s[2]) for s in state[3]],
             [("consent", False, "village"), ("village_notice_open", True, "village"),
              ("village_notice_close", True, "village"),
              ("village_notice_open", False, "township"),
              ("village_notice_close", False, "township")],
             "history everywhere after the township redid the notice")
    check_eq(t.status(village)["workflow"]["parked"], 0, "nothing waits any more")
    wf = t.status(village)["workflow"]
    check_eq(wf.get("own_steps_refused"), 2, "the village counts both refused steps")
    check("village_notice_close" in wf.get("own_refused_last", ""),
          f"the latest refusal: {wf.get('own_refused_last')!r}")
    check_eq(t.ctl(town, "review", "approve", hid, "--json")["proposals"], 1,
             "the township approves")
    t.wait_synced()
    t.wait_for("the approval at the village",
               lambda: proposal_of(t, village, hid)[1] == "TOWNSHIP_APPROVED")
    same_everywhere(t, hid, "after the approval")
    for n in t.nodes.values():
        t.verify(n, "after the procedure converged")


if __name__ == "__main__":
    jt.main(test, test_clock=True)
