#!/usr/bin/env python3
"""Bad input on the wire: the parent refuses it, says why, and lives
(DESIGN §3, §7, §8).

Tree: province, county 630121000000, and a real village 630121101001 whose
parent is the county. tests/tools/jzfp_evil acts as another child of the
county, village 630121101009, with its own key, over CURVE. Its chain is
deterministic (see jzfp_evil.c): seq 1 NodeInfo, seq 2 a census, seq k >= 3
household serial k - 2. It sends, one connection per step:

  garbage bytes; a frame over WIRE_MAX_FRAME; a frame over ZMQ_MAXMSGSIZE;
  a Batch before Hello; a valid chain; the same chain again (duplicates);
  a batch whose last envelope has a broken signature; an equivocating
  envelope; a gap; an out-of-scope household after a valid one; census
  names with hostile text (a C0 escape sequence, a C1 CSI, a bidi
  override), correctly signed; the same text as a Hello's node name; and
  envelopes dated an hour ahead of the county's clock (beyond [trust]
  max_skew, 300 s), correctly signed.

After each: the county still answers status, its log names the refusal,
its record count and rollup change exactly by the valid envelopes, and
valid envelopes in the same batch as a bad one are applied. The hostile
text is refused and reaches neither the log nor status. The envelopes
dated ahead are held, not applied (status held_ahead, one log line with
the skew), a replay of them is a duplicate, and they are applied once the
county's test clock reaches them less max_skew; then the province (also on
a test clock) holds them the same way until its clock is moved. At the end
the province holds the same valid records and verify passes everywhere.
"""

import os
import re

import jzfptest as jt
from jzfptest import check, check_eq

YEAR = 2020
EVIL_AREA = "630121101009"
OOS_VILLAGE = "632221101001"  # jzfp_evil.c OOS_VILLAGE
EVIL = os.path.join(jt.BIN, "jzfp_evil")


class Evil:
    def __init__(self, t, parent):
        self.t = t
        self.parent = parent
        self.key = os.path.join(t.dir, "evil.key")
        self.pub = t.keygen(self.key)

    def run(self, *steps, timeout_ms=None):
        """Run jzfp_evil with STEPS; returns (sent, replies): the SENT lines
        parsed into dicts and the REPLY / NO REPLY lines."""
        tmo = timeout_ms or int(3000 * jt.SLOW)
        argv = [EVIL, "--endpoint", self.parent.endpoint, "--server-key", self.parent.pub,
                "--key", self.key, "--area", EVIL_AREA, "--timeout-ms", str(tmo), *steps]
        p = jt.run(argv, timeout=120)
        check(p.returncode == 0, f"jzfp_evil {' '.join(steps)}: exit {p.returncode}: "
              f"{p.stderr.strip()}")
        sent, replies = [], []
        for line in p.stdout.splitlines():
            if line.startswith("SENT seq="):
                sent.append(dict(kv.split("=", 1) for kv in line.split()[1:]))
            elif line.startswith("REPLY") or line.startswith("NO REPLY"):
                replies.append(line)
        jt.log(f"evil {' '.join(steps)}: {replies}")
        return sent, replies


class County:
    """What the county should hold: counted from what it was sent."""

    def __init__(self, t, n, expect):
        self.t, self.n, self.expect = t, n, expect
        self.records = t.status(n)["records"]
        self.refused = t.status(n)["refused"]
        self.log_lines = 0

    def applied(self, sent_items):
        """The envelopes in sent_items (SENT dicts) are expected to be applied."""
        for e in sent_items:
            self.records += 1
            if e["kind"] == "household":
                hid = int(e["subject"])
                # The tool's versions propose nothing: data edits, which keep
                # a new household's official status, 非贫困户 (DESIGN §6).
                self.expect.add_household(f"{hid:016d}", f"{hid // 10000:012d}", 0, YEAR,
                                          int(e["members"]))
            elif e["kind"] == "census":
                self.expect.census[(EVIL_AREA, YEAR)] = ("evil village", 120, 500)

    def new_log(self):
        """Log lines written since the last call."""
        lines = self.n.log_text().splitlines()
        new = lines[self.log_lines:]
        self.log_lines = len(lines)
        return new

    def check(self, what, refusal=None, refused_more=0):
        """The county is alive, holds exactly the expected records and
        rollup, and (refusal) logged a refusal matching the regex."""
        t, n = self.t, self.n
        check(n.running, f"{what}: the county died (exit {n.proc.poll()})")
        st = t.status(n)
        check_eq(st["records"], self.records, f"{what}: county records")
        if refused_more is not None:
            check_eq(st["refused"], self.refused + refused_more, f"{what}: county refused count")
        self.refused = st["refused"]
        jt.compare_rollup(t.rollup(n, "village"),
                          self.expect.rollup("village", under=n.area, names=jt.node_names(t)),
                          f"{what}: county rollup --level village")
        lines = self.new_log()
        if refusal:
            hits = [ln for ln in lines if re.search("refused", ln) and re.search(refusal, ln)]
            check(hits, f"{what}: no log line with 'refused' and /{refusal}/ in the county's "
                  f"log; new lines:\n  " + "\n  ".join(lines[-10:]))


def only(replies, what):
    check_eq(len(replies), 1, f"{what}: number of replies ({replies})")
    return replies[0]


def test(t):
    check(os.access(EVIL, os.X_OK), f"{EVIL} not built")
    # The province's receipts would add records to the county while this
    # test counts them exactly: none during the test.
    t.receipt_ms = 3600000
    # The county and the province run on test clocks (`clock advance`), to
    # reach the envelopes dated ahead without waiting.
    prov = t.add("630000000000", "province", "青海省", test_clock=True)
    county = t.add("630121000000", "county", "大通县", test_clock=True)
    village = t.add("630121101001", "village", "新庄村")
    t.start_all()

    data = os.path.join(t.dir, "input")
    os.mkdir(data)
    expect = jt.Expect()
    files = jt.gen_households(os.path.join(data, "hh_{village}.csv"), [village.area], 50,
                              seed="bad-input", year=YEAR, new=True)
    census = jt.gen_census(os.path.join(data, "census.csv"), [village.area], YEAR, seed="bi")
    expect.add_households(files[village.area])
    expect.add_census(census)
    t.import_many([(village, "households", files[village.area]), (village, "census", census)])
    t.wait_synced(receipts=False)

    c = County(t, county, expect)
    c.check("baseline")
    evil = Evil(t, county)

    # 1. Garbage bytes: Refuse (malformed), nothing stored.
    _, r = evil.run("garbage")
    check(re.match(r"REPLY REFUSE code=1102 why=malformed", only(r, "garbage")),
          f"garbage: reply {r}")
    c.check("garbage", refusal="malformed")

    # 2. A frame just over WIRE_MAX_FRAME: refused as too big, not decoded.
    _, r = evil.run("oversize", timeout_ms=int(20000 * jt.SLOW))
    check(re.match(r"REPLY REFUSE code=1102 why=malformed frame: .*(big|size|limit)",
                   only(r, "oversize")), f"oversize: reply {r}")
    c.check("oversize frame", refusal="malformed frame")

    # 3. A frame over ZMQ_MAXMSGSIZE: libzmq drops the connection; no answer,
    # and the county goes on.
    _, r = evil.run("huge", timeout_ms=int(3000 * jt.SLOW))
    check(only(r, "huge").startswith("NO REPLY"), f"huge: reply {r}")
    c.check("frame over ZMQ_MAXMSGSIZE")

    # 4. A batch before Hello: "send hello first".
    _, r = evil.run("batch", "1-4")
    check(re.match(r"REPLY REFUSE code=1100 why=send hello first", only(r, "batch before hello")),
          f"batch before hello: reply {r}")
    c.check("batch before hello")

    # 5. Hello and a valid chain: NodeInfo, census, 2 households.
    sent, r = evil.run("hello", "batch", "1-4")
    check(re.match(rf"REPLY WELCOME area={county.area}", r[0]), f"hello: reply {r}")
    check(re.match(r"REPLY ACK cursor=1 local_seq=4 rewind=0", r[1]), f"valid batch: reply {r}")
    c.applied(sent)
    c.check("valid chain 1-4")

    # 6. The same envelopes again: duplicates, ignored.
    dups = t.status(county)["duplicates"]
    _, r = evil.run("hello", "batch", "1-4")
    check(re.match(r"REPLY ACK cursor=1 local_seq=4 rewind=0", r[1]), f"replay: reply {r}")
    c.check("replay of 1-4")
    check_eq(t.status(county)["duplicates"], dups + 4, "replay: duplicates counted")

    # 7. 5 and 6 valid, 7 with a broken signature: 5 and 6 applied, 7 refused.
    sent, r = evil.run("hello", "batch", "5,6,7:badsig")
    check(re.match(r"REPLY ACK ", r[1]), f"bad signature: reply {r}")
    c.applied([e for e in sent if e["variant"] == "none"])
    c.check("batch 5, 6, 7 with a broken signature", refusal="signature", refused_more=1)

    # 8. Equivocation: a different, validly signed envelope for seq 3.
    eq = t.status(county)["equivocations"]
    sent, r = evil.run("hello", "batch", "3:equiv")
    check(re.match(r"REPLY ACK ", r[1]), f"equivocation: reply {r}")
    c.check("equivocating seq 3", refusal="EQUIVOCATION", refused_more=1)
    check_eq(t.status(county)["equivocations"], eq + 1, "equivocations counted")
    # Kept as evidence, with what an operator is to look for.
    eqs = [c for c in t.ctl(county, "conflicts", "--json")["conflicts"]
           if c["kind"] == "equivocation"]
    check(any("two nodes ran with this key" in c.get("settled_by", "") for c in eqs),
          f"the equivocation's conflict does not say what to look for: {eqs}")

    # 9a. A batch that starts past what the county holds of the sender's log
    # (as if one was lost on the way): dropped whole, and the sender is told
    # to resend from the county's cursor (7: the last batch it carried).
    gaps = t.status(county)["gaps"]
    _, r = evil.run("hello", "batch", "9")
    check(re.match(r"REPLY ACK cursor=1 local_seq=7 rewind=1", r[1]),
          f"link gap: reply {r} (expected rewind=1 from 7)")
    lines = c.new_log()
    check(any(re.search(r"starts at 9 but we hold up to 7", ln) for ln in lines),
          "link gap: no log line asking for a resend; new lines:\n  " + "\n  ".join(lines[-10:]))
    c.check("batch past the cursor (dropped, nothing refused)")

    # 9b. In order on the link, but a gap in the origin's chain: seq 9 while
    # the county holds the chain up to 6. Refused for good (a resend would
    # not bring seq 7 and 8: the sender does not have them either).
    _, r = evil.run("hello", "from", "8", "batch", "9")
    check(re.match(r"REPLY ACK .*rewind=0", r[1]), f"chain gap: reply {r} (expected rewind=0)")
    c.check("gap (seq 9 after 6)", refusal="gap", refused_more=1)
    check_eq(t.status(county)["gaps"], gaps + 1, "gaps counted")

    # 10. Out of scope: seq 7 valid, seq 8 a household of another county's
    # village. 7 applied, 8 refused.
    sent, r = evil.run("hello", "batch", "7,8:oos")
    check(re.match(r"REPLY ACK ", r[1]), f"out of scope: reply {r}")
    check(any(e["variant"] == "oos" and int(e["subject"]) // 10000 == int(OOS_VILLAGE)
              for e in sent), f"oos envelope not as expected: {sent}")
    c.applied([e for e in sent if e["variant"] == "none"])
    c.check("out-of-scope household", refusal="may not speak", refused_more=1)

    # 11. The chain goes on after all that: the canonical 8 and 9.
    sent, r = evil.run("hello", "batch", "8-9")
    check(re.match(r"REPLY ACK cursor=1 local_seq=9 rewind=0", r[1]), f"8-9: reply {r}")
    c.applied(sent)
    c.check("canonical 8-9 after the refusals")

    # 12. Hostile text in a record's string field, correctly signed: census
    # names with a C0 escape sequence (a terminal title change), a C1 CSI
    # (clear screen) and a right-to-left override, at seq 10. Each is
    # refused as a malformed record; the census keeps its name, nothing is
    # stored, and the bytes reach neither the county's log nor its status.
    sent, r = evil.run("hello", "batch", "10:c0", "batch", "10:c1", "batch", "10:bidi")
    check_eq([e["variant"] for e in sent], ["c0", "c1", "bidi"], "hostile text: variants sent")
    check(all(e["kind"] == "census" and e["subject"] == EVIL_AREA for e in sent),
          f"hostile text: not censuses of {EVIL_AREA}: {sent}")
    check(len(r) == 4 and all(re.match(r"REPLY ACK ", x) for x in r[1:]),
          f"hostile text: replies {r}")
    c.check("census names with hostile text", refusal="malformed", refused_more=3)
    hostile = ("\x1b", "\x07", "\x9b", "\u202e")
    log = county.log_text()
    check(not any(h in log for h in hostile), "hostile text reached the county's log")
    st_text = t.ctl_text(county, "status")
    check(not any(h in st_text for h in hostile), "hostile text reached the county's status")

    # 12b. The same hostile text as the node name of a Hello (a link frame,
    # not a signed record): wire_decode refuses the frame as malformed, the
    # county answers so and logs it, and the bytes reach neither its log nor
    # its status (issue 11: strings from the wire are refused, not only
    # escaped).
    _, r = evil.run("hello:c0", "hello:c1", "hello:bidi")
    check(len(r) == 3 and all(re.match(r"REPLY REFUSE code=1102 why=malformed frame", x)
                              for x in r), f"hostile hello names: replies {r}")
    lines = c.new_log()
    c.log_lines -= len(lines)  # c.check reads them again
    malformed = [ln for ln in lines if re.search(r"refused: malformed frame", ln)]
    check_eq(len(malformed), 3, "hostile hello names: log lines on the malformed frames "
             f"(new lines: {lines[-10:]})")
    c.check("hello names with hostile text", refusal="malformed frame")
    log = county.log_text()
    check(not any(h in log for h in hostile), "hostile hello name reached the county's log")
    st_text = t.ctl_text(county, "status")
    check(not any(h in st_text for h in hostile),
          "hostile hello name reached the county's status")
    check_eq(t.status(county)["held_ahead"], 0, "held_ahead before the envelopes dated ahead")

    # 13. Envelopes 10 and 11 dated an hour ahead of the county's clock, and
    # the same batch again: held, not applied (records and rollup as they
    # were), counted in status, logged once with the skew; the replay is a
    # pair of duplicates. Nothing of them reaches the province.
    dups = t.status(county)["duplicates"]
    prov_records = t.status(prov)["records"]
    ahead_s = 3600
    sent, r = evil.run("--hlc-ahead", f"10:{ahead_s}", "hello", "batch", "10-11",
                       "batch", "10-11")
    check(len(r) == 3 and re.match(r"REPLY ACK cursor=1 local_seq=11 rewind=0", r[1]) and
          re.match(r"REPLY ACK ", r[2]), f"envelopes dated ahead: replies {r}")
    held_sent = sent[:2]
    check_eq([(e["seq"], e["variant"]) for e in held_sent], [("10", "none"), ("11", "none")],
             "envelopes dated ahead: sent")
    c.check("envelopes dated an hour ahead: held")
    st = t.status(county)
    check_eq(st["held_ahead"], 2, "county held_ahead")
    check_eq(st["duplicates"], dups + 2, "the replay of held envelopes: duplicates counted")
    holding = [ln for ln in county.log_text().splitlines()
               if re.search(r"holding envelopes of origin [0-9a-f]+ from seq 10: dated "
                            r"(\d+) s ahead of this node's clock \(max_skew 300 s\)", ln)]
    check_eq(len(holding), 1, f"log lines on the held envelopes ({holding})")
    skew = int(re.search(r"dated (\d+) s ahead", holding[0]).group(1))
    check(ahead_s - 120 * jt.SLOW <= skew <= ahead_s, f"logged skew {skew} s")
    check_eq(t.status(prov)["records"], prov_records, "province records while the county holds")

    # Half an hour on: still more than max_skew ahead, still held (the
    # county tries its held envelopes in the loop pass that advances its
    # clock, before it answers the next request).
    t.ctl_text(county, "clock", "advance", "30m")
    check_eq(t.status(county)["held_ahead"], 2, "county held_ahead after 30 min")
    c.check("envelopes dated ahead, 30 min on")

    # Another half hour: the county's clock is past their date less
    # max_skew; they are applied, and the rollup counts their households.
    t.ctl_text(county, "clock", "advance", "30m")
    t.wait_for("the county to apply the held envelopes",
               lambda: t.status(county)["held_ahead"] == 0)
    c.applied(held_sent)
    c.check("envelopes dated ahead, once the county's clock reached them")

    # They go up to the province, dated an hour ahead of its clock as well:
    # held there, until its clock is moved.
    t.wait_for("the province to hold the relayed envelopes",
               lambda: t.status(prov)["held_ahead"] == 2)
    check_eq(t.status(prov)["records"], prov_records, "province records while it holds")
    t.ctl_text(prov, "clock", "advance", "1h")
    t.wait_for("the province to apply the held envelopes",
               lambda: t.status(prov)["held_ahead"] == 0)

    # The real village is unaffected and everything reached the province.
    recs = t.wait_synced(receipts=False)
    own = sum(t.status(n)["own_records"] for n in t.nodes.values())
    check_eq(recs, own + 11, "province records: every node's records plus the 11 valid evil "
             "ones")
    names = jt.node_names(t)
    for level in jt.ROLLUP_LEVELS:
        jt.compare_rollup(t.rollup(prov, level), expect.rollup(level, names=names),
                          f"province rollup --level {level}")
    for n in t.nodes.values():
        t.verify(n)


if __name__ == "__main__":
    jt.main(test)
