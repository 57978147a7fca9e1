#!/usr/bin/env python3
"""A node's clock cannot shorten a window (DESIGN §6; issue 11 item 3).
Every node runs jzfpd --test-clock, and only the village's clock is moved
first: it runs eight days ahead of the others.

Tree: the province, county 630121, township T1, village V1.

  1. The policy is 7 days; the county migrates V1's register (--recorded),
     which reaches V1.
  2. At V1, on time: an exit proposal, the household's consent, `notice
     open`; every node shows VILLAGE_NOTICE.
  3. V1's clock jumps eight days; `notice close` at once: V1 shows
     VILLAGE_PASSED. The township acknowledges the close (it is stored
     there) but holds it: status counts it (held_ahead, and a text line),
     the proposal stays VILLAGE_NOTICE there, its log says once that it
     holds V1's envelopes, with the skew. The county and the province do not
     have it yet (a held envelope is not in the holder's log).
  4. The township's clock moves seven days: still held. One more day: the
     township applies the close (VILLAGE_PASSED), held_ahead 0, and sends it
     on: the county holds it the same way, until its clock moves eight days;
     then the province. The tree gets in step, every node agrees.
  5. V1 restarts without --test-clock: its clock is now eight days behind
     its newest signed record; it says so at start and in status.
"""

import os

import jzfptest as jt
from jzfptest import check, check_eq

YEAR = 2020
P, C, T1, V1 = "630000000000", "630121000000", "630121101000", "630121101001"


def advance(t, n, days):
    out = t.ctl(n, "clock", "advance", f"{days}d", "--json")
    check("offset_ms" in out, f"clock advance at {n}: {out}")


def state_of(t, n, hid):
    s = t.ctl(n, "household", "show", hid, "--json")
    props = [p for p in s["proposals"] if p["kind"] == "exit" and not p["historic"]]
    return props[0]["state"] if len(props) == 1 else f"{len(props)} exit proposals"


def held(t, n):
    return t.status(n).get("held_ahead", 0)


def wait_acked(t, n):
    """N's parent holds N's whole log (acknowledged)."""
    def acked():
        up = t.status(n).get("up") or {}
        return up.get("head") and up.get("acked") == up.get("head")
    t.wait_for(f"{n}: its log acknowledged by its parent", acked)


def test(t):
    prov = t.add(P, "province", "青海省")
    county = t.add(C, "county", "大通县")
    town = t.add(T1, "township", "桥头镇")
    village = t.add(V1, "village", "新庄村")
    t.start_all()
    t.ctl_text(prov, "policy", "set", "--notice-days", "7")

    # ------------------------------------------------------------ data

    data = os.path.join(t.dir, "input")
    os.mkdir(data)
    files = jt.gen_households(os.path.join(data, "hh_{village}.csv"), [V1], 8,
                              seed="clocks", year=YEAR)
    expect = jt.Expect()
    expect.add_households(files[V1], recorded=True)
    p = t.import_file(county, "households", files[V1], "--recorded")
    check(p.returncode == 0, f"migration at the county: {p.stdout} {p.stderr}")
    t.wait_synced()
    t.wait_for("the policy at the village",
               lambda: t.ctl(village, "policy", "show", "--json")["notice_days"] == 7)
    poor = [h for h, x in sorted(expect.households.items()) if x["status"] in (1, 4)]
    check(len(poor) >= 1, "no poor household in the register")
    hid = poor[0]

    # ------------------------------------------------------------ on time
    out = t.ctl_text(village, "household", "edit", hid, "--status", "2")
    check("a proposal" in out, f"edit --status 2 of {hid}: {out}")
    t.ctl(village, "consent", hid, "--json")
    check_eq(t.ctl(village, "notice", "open", hid, "--json")["proposals"], 1,
             "the village opens its notice")
    t.wait_synced()
    for n in (village, town, county, prov):
        check_eq(state_of(t, n, hid), "VILLAGE_NOTICE", f"{n}: after the open")
        check_eq(held(t, n), 0, f"{n}: held before the jump")

    # ------------------------------------------------------------ ahead
    advance(t, village, 8)
    check_eq(t.ctl(village, "notice", "close", hid, "--json")["proposals"], 1,
             "the village, eight days ahead, closes its notice")
    check_eq(state_of(t, village, hid), "VILLAGE_PASSED", "at the village")
    wait_acked(t, village)
    check_eq(held(t, village), 0, "nothing held at the village")
    # Each level holds the close until its own clock reaches it; a held
    # envelope is not in the holder's log, so it goes on up only once
    # applied there: the levels above see it one after the other.
    above = [county, prov]
    for n in (town, county, prov):
        t.wait_for(f"{n}: the close held", lambda n=n: held(t, n) >= 1)
        check_eq(held(t, n), 1, f"{n}: envelopes held")
        check_eq(state_of(t, n, hid), "VILLAGE_NOTICE", f"{n}: the close is not applied")
        text = t.ctl_text(n, "status")
        check("held until this node's clock reaches them" in text, f"{n}: status text:\n{text}")
        lines = t.grep_log(n, r"holding envelopes of origin [0-9a-f]{8} from seq \d+: "
                              r"dated 69\d{4} s ahead of this node's clock \(max_skew 300 s\)")
        check_eq(len(lines), 1, f"{n}: the hold logged once with its skew")
        for m in above:
            check_eq(held(t, m), 0, f"{m}: holds nothing before {n} applied the close")
            check_eq(state_of(t, m, hid), "VILLAGE_NOTICE", f"{m}: before {n} applied the close")
        if n is town:
            # Seven days on: still held (the try comes with the advance).
            advance(t, n, 7)
            t.wait_for(f"{n}: its clock seven days on",
                       lambda: t.ctl(n, "clock", "show", "--json")["offset_ms"] >= 7 * 86400000)
            check_eq(state_of(t, n, hid), "VILLAGE_NOTICE", f"{n}: after 7 days")
            check_eq(held(t, n), 1, f"{n}: held after 7 days")
            advance(t, n, 1)
        else:
            advance(t, n, 8)
        t.wait_for(f"{n}: applies the close",
                   lambda n=n: state_of(t, n, hid) == "VILLAGE_PASSED")
        t.wait_for(f"{n}: holds nothing", lambda n=n: held(t, n) == 0)
        if above:
            above.pop(0)
    t.wait_synced()
    for n in t.nodes.values():
        check_eq(state_of(t, n, hid), "VILLAGE_PASSED", f"{n}: in the end")
        check_eq(t.status(n).get("clock_behind_s", 0), 0, f"{n}: clock not behind")
        t.verify(n, "after the held close was applied")

    # ------------------------------------------------------------ behind
    t.stop(village)
    village.test_clock = False
    t.start(village)
    st = t.status(village)
    check(7 * 86400 < st.get("clock_behind_s", 0) <= 8 * 86400 + 600,
          f"the village's clock behind its newest record: {st.get('clock_behind_s')}")
    text = t.ctl_text(village, "status")
    check("BEHIND" in text, f"status text of the village:\n{text}")
    check(t.grep_log(village, r"clock is \d+ s behind its newest signed record"),
          "the village's log does not say its clock is behind")


if __name__ == "__main__":
    jt.main(test, test_clock=True)
