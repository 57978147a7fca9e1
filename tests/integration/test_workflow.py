#!/usr/bin/env python3
"""两公示一公告 on a real tree (DESIGN §6, §7; issue 3), every node with
jzfpd --test-clock so that windows close without waiting a week.

Tree: the province; county 630121 with township T1 (villages V1, V2) and
township T2 (village V3); county 632221 with township T3 and village W1.
The villages import new registers (identification proposals); county
632221 migrates W1's existing register (import --recorded). One person is
put into a household of V2 and one of V3. Then:

  - the province's policy (3 %, 7 days) reaches every node; the rollups
    count only recorded statuses, show what is pending, and mark areas below
    the threshold;
  - a second --recorded import that changes a recorded status is refused
    whole, naming the household;
  - the duplicate person is listed by `conflicts` at the county, the common
    ancestor, and not at the townships;
  - `notice print` masks names and ID numbers;
  - a close attempted a day early (signed with --unchecked) is refused at
    the village, its township, the county and the province, and changes no
    state anywhere;
  - one objection is dismissed (back to the window, which still counts from
    its opening) and one upheld (rejected);
  - a township taking a county step (--unchecked) is refused by its county
    and by the province;
  - the county's review refuses the second identification of the duplicate
    person, naming both households;
  - after the announcement is recorded, the province's rollup equals the
    independent computation, and the decisions reach the villages;
  - exits of migrated households need consent and go through the same
    procedure;
  - concurrent edits of one household at a village (cut off from its
    parent) and at its township converge to the same effective head at every
    node; a merge settles the conflict;
  - re-importing the register changes nothing; a changed row is one data
    edit.
"""

import csv
import json
import os
import re

import jzfptest as jt
from jzfptest import check, check_eq

YEAR = 2020
N = 24  # households per village
P, C, C2 = "630000000000", "630121000000", "632221000000"
# Names only the policy gives (no node runs there): two prefectures; and a
# township whose own node's name wins over the policy's.
PREFECTURES = {"630100000000": "西宁市", "632200000000": "海北藏族自治州"}
NAMED = {**PREFECTURES, "630121101000": "桥头(政策)"}
T1, T2, T3 = "630121101000", "630121102000", "632221101000"
V1, V2, V3, W1 = "630121101001", "630121101002", "630121102001", "632221101001"


def advance(t, days):
    for n in t.nodes.values():
        out = t.ctl(n, "clock", "advance", f"{days}d", "--json")
        check("offset_ms" in out, f"clock advance at {n}: {out}")
        # clock show is a read (a reader thread): it sees the advance at once
        check_eq(t.ctl(n, "clock", "show", "--json")["offset_ms"], out["offset_ms"],
                 f"clock show after clock advance at {n}")


def wf(t, n, *args):
    """A workflow command with --json; returns its answer."""
    return t.ctl(n, *args, "--json")


def proposals(t, n, state=None):
    args = ["proposals", "--json"] + (["--state", state] if state else [])
    return {p["household"]: p for p in t.ctl(n, *args)["proposals"]}


def wf_refused(t):
    return {a: t.status(n)["workflow"]["refused"] for a, n in t.nodes.items()}


def rows_of(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def write_rows(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def check_rollups(t, expect, what):
    names = {**NAMED, **jt.node_names(t)}
    prov = t.province()
    for level in jt.ROLLUP_LEVELS:
        jt.compare_rollup(t.rollup(prov, level), expect.rollup(level, names=names),
                          f"{what}: province rollup --level {level}")
    for n in t.nodes.values():
        if n.level in ("county", "township", "village"):
            jt.compare_rollup(t.rollup(n, "village"),
                              expect.rollup("village", under=n.area, names=names),
                              f"{what}: {n} rollup --level village")
    for n in t.nodes.values():
        t.verify(n, what)


def test(t):
    t.add(P, "province", "青海省")
    t.add(C, "county", "大通县")
    t.add(T1, "township", "桥头镇")
    t.add(T2, "township", "城关镇")
    t.add(V1, "village", "新庄村")
    t.add(V2, "village", "黄家村")
    t.add(V3, "village", "东门村")
    t.add(C2, "county", "门源县")
    t.add(T3, "township", "浩门镇")
    t.add(W1, "village", "东川村")
    t.start_all()
    prov, county, t1, t2 = t.nodes[P], t.nodes[C], t.nodes[T1], t.nodes[T2]
    v1, v2, v3, w1, c2, t3 = (t.nodes[a] for a in (V1, V2, V3, W1, C2, T3))

    # ------------------------------------------------------------ policy
    t.ctl_text(prov, "policy", "set", "--notice-days", "7", "--threshold-pct", "3",
               "--line", "2019:3747", "--line", "2020:4000",
               *(f"--area-name={a}={n}" for a, n in NAMED.items()),
               "--area-name", "632300000000=黄南藏族自治州")
    # a name given, then taken back (CODE=)
    out = t.ctl(prov, "policy", "set", "--area-name", "632300000000=", "--json")
    check_eq({x["area"]: x["name"] for x in out["names"]}, NAMED,
             "policy set --area-name CODE=: the name taken back")
    expect = jt.Expect(threshold_pct="3.00")
    # Values that are no percentage, line or duration are refused by name,
    # and change nothing (policy show at every node is checked below).
    for bad in (["--threshold-pct", "nan"], ["--threshold-pct", "0.004"],
                ["--threshold-pct", "101"], ["--line", "2019:nan"], ["--line", "x:3747"],
                ["--line", "2019:-5"]):
        p = t.run_ctl(prov, "policy", "set", *bad)
        check(p.returncode != 0 and bad[0] in p.stderr,
              f"policy set {' '.join(bad)}: exit {p.returncode}, {p.stderr.strip()!r}")
    # Names: what jzfpctl can tell is wrong exits 2 with the usage line; what
    # only the node can (its province, its policy) exits 1.
    for args, rc, says in (
            (["630121000000=大通县"], 2, "630121000000 is a county"),
            (["630121101001=新庄村"], 2, "630121101001 is a village"),
            (["630000000000=青海"], 2, "630000000000 is a province"),
            (["630100000000"], 2, "'630100000000' is not CODE=NAME"),
            (["63010000000x=西宁市"], 2, "'63010000000x' is not a 12-digit area code"),
            (["630100000000=西\x1b宁"], 2, "the name of 630100000000: not clean text"),
            (["630100000000=" + "长" * 22], 2, "the name of 630100000000: over 63 bytes"),
            (["630100000000= 西宁市"], 2,
             "the name of 630100000000: a space (or a character that shows nothing) at its start"),
            (["630100000000=西宁市\u3000"], 2, "at its start or end"),
            (["630100000000=甲", "--area-name", "630100000000=乙"], 2,
             "630100000000 given twice"),
            (["640100000000=银川市"], 1, "640100000000 is not under this province"),
            (["632600000000="], 1, "632600000000 has no name in the policy to take back")):
        p = t.run_ctl(prov, "policy", "set", "--area-name", *args)
        lines = p.stderr.strip().splitlines()
        check(p.returncode == rc and lines and says in lines[0] and
              "--area-name" in lines[0] and (rc == 1) == (len(lines) == 1),
              f"policy set --area-name {' '.join(args)}: exit {p.returncode}, {p.stderr!r}")
    # The same refused by the node itself, sent past jzfpctl's checks.
    probe = jt.run(
        [os.path.join(jt.BIN, "jzfp_ctlprobe"), os.path.join(prov.data, "control.sock"),
         "area-names=630100000000= 西宁市", "area-names=630100000000=甲|630100000000=乙",
         "area-names=630121101001=新庄村", "area-names=630100000000=西\x1b宁"], timeout=60)
    got = probe.stdout.splitlines()
    for line, says in zip(got, ("at its start or end", "630100000000 given twice",
                                "630121101001 is a village, which its census names",
                                # (the node's check of every text of a request)
                                "control character U+001B")):
        check("code=-1000 " in line and says in line,  # JZ_EPARSE
              f"the node's own check of --area-name: {line!r}")
    check_eq(len(got), 4, f"jzfp_ctlprobe: {probe.stdout!r} {probe.stderr!r}")
    # --under another township: this one holds nothing there, and says so
    # rather than answer with nothing.
    for args in (["proposals", "--under", T2], ["rollup", "--level", "village", "--under", T2],
                 ["export", "households", "--under", T2, os.path.join(t.dir, "x.csv")]):
        p = t.run_ctl(t1, *args)
        check(p.returncode == 1 and f"--under {T2} is outside this node's area {T1}" in p.stderr,
              f"{t1}: {' '.join(args[:3])}: exit {p.returncode}, {p.stderr.strip()!r}")
    # --under its county: it holds only its own part, and says so.
    for args in (["proposals", "--under", C], ["export", "households", "--under", C,
                                               os.path.join(t.dir, "x.csv")]):
        p = t.run_ctl(t1, *args)
        check(p.returncode == 1 and f"--under {C} is above this node's area {T1}" in p.stderr,
              f"{t1}: {' '.join(args[:3])}: exit {p.returncode}, {p.stderr.strip()!r}")
    # A list longer than a request carries is refused whole, not cut short.
    p = t.run_ctl(t1, "review", "approve", *([f"{V1}0001"] * 2200))
    check(p.returncode != 0 and "more than 2100 arguments" in p.stderr,
          f"review approve with 2200 ids: exit {p.returncode}, {p.stderr.strip()[-200:]!r}")
    for bad in ("nand", "1.5d", "0d", "8x", "99999999999d"):
        p = t.run_ctl(prov, "clock", "advance", bad)
        check(p.returncode != 0 and "duration" in p.stderr,
              f"clock advance {bad}: exit {p.returncode}, {p.stderr.strip()!r}")

    # ------------------------------------------------------------ data
    data = os.path.join(t.dir, "input")
    os.mkdir(data)
    files = jt.gen_households(os.path.join(data, "hh_{village}.csv"), [V1, V2, V3], N,
                              seed="workflow", year=YEAR, new=True)
    mig = jt.gen_households(os.path.join(data, "mig_{village}.csv"), [W1], N, seed="mig",
                            year=YEAR)
    census = jt.gen_census(os.path.join(data, "census.csv"), [V1, V2, V3, W1], YEAR, seed="wf")
    # One person in a household of V2 and in one of V3 (重复识别): copy a
    # member of V3's first identified household into V2's first one.
    r3, r2 = rows_of(files[V3]), rows_of(files[V2])
    col = {h: i for i, h in enumerate(r3[0])}
    poor3 = next(r for r in r3[1:] if r[col["status"]] == "1" and r[col["relation"]] == "01")
    poor2 = next(r for r in r2[1:] if r[col["status"]] == "1" and r[col["relation"]] == "01")
    dup3, dup2 = poor3[col["household_id"]], poor2[col["household_id"]]
    person = list(poor3)
    for k in ("household_id", "village", "attribute", "main_cause", "income", "status", "year"):
        person[col[k]] = poor2[col[k]]
    person[col["relation"]] = "99"
    # a household's rows come together: after its last row
    last = max(i for i, r in enumerate(r2) if r[col["household_id"]] == dup2)
    r2.insert(last + 1, person)
    write_rows(files[V2], r2)
    # A household of V1 registered again in V3 (易地扶贫搬迁 gone wrong): all
    # its members in a new household of V3, not poor there, so the procedure
    # is not involved; `conflicts` lists it as claimed by two villages.
    r1 = rows_of(files[V1])
    moved = next(r[col["household_id"]] for r in r1[1:] if r[col["status"]] == "0")
    serial = max(int(r[col["household_id"]][12:]) for r in r3[1:]) + 1
    claimed = f"{V3}{serial:04d}"
    for r in r1[1:]:
        if r[col["household_id"]] == moved:
            c = list(r)
            c[col["household_id"]], c[col["village"]] = claimed, V3
            r3.append(c)
    write_rows(files[V3], r3)

    for v in (V1, V2, V3):
        expect.add_households(files[v])
    expect.add_households(mig[W1], recorded=True)
    expect.add_census(census)
    jobs = [(t.nodes[v], "households", files[v]) for v in (V1, V2, V3)]
    jobs += [(c2, "households", mig[W1], "--recorded")]
    for v in (V1, V2, V3, W1):
        jobs.append((t.nodes[v], "census",
                     jt.split_census(census, os.path.join(data, f"census_{v}.csv"), [v])))
    t.import_many(jobs)
    t.wait_synced()
    for n in t.nodes.values():
        pol = t.ctl(n, "policy", "show", "--json")
        check_eq((pol["notice_days"], pol["threshold_pct"]), (7, 3.0), f"policy at {n}")
        check_eq({x["area"]: x["name"] for x in pol.get("names", [])}, NAMED,
                 f"the policy's names at {n}")
    check_rollups(t, expect, "after the imports")

    # A second migration does not change a recorded status: that is the
    # procedure's. The whole file is refused, naming the household.
    rm = rows_of(mig[W1])
    cm = {name: i for i, name in enumerate(rm[0])}
    hit = next(r for r in rm[1:] if r[cm["status"]] == "1")
    for r in rm[1:]:
        if r[cm["household_id"]] == hit[cm["household_id"]]:
            r[cm["status"]] = "2"
    again = os.path.join(data, "migration_again.csv")
    write_rows(again, rm)
    p = t.import_file(c2, "households", again, "--recorded")
    check(p.returncode != 0 and hit[cm["household_id"]] in p.stderr and
          "already has a recorded status" in p.stderr,
          f"a second --recorded import changing a status: exit {p.returncode}, "
          f"{p.stderr[-300:]!r}")
    check_rollups(t, expect, "after the refused second migration")
    ids = {v: expect.pending_ids(v) for v in (V1, V2, V3)}
    check(all(len(x) >= 6 for x in ids.values()), f"too few identifications: {ids}")

    # ------------------------------------------------------------ conflicts
    def dup_listed(n):
        return any(c["kind"] == "duplicate_person" and sorted(c["households"]) ==
                   sorted([dup2, dup3]) for c in t.ctl(n, "conflicts", "--json")["conflicts"])
    check(dup_listed(county), f"the county does not list {dup2} and {dup3} as sharing a person")
    check(dup_listed(prov), "the province does not list the duplicate person")
    for n in (t1, t2):
        check(not dup_listed(n), f"{n} lists a duplicate it cannot see")
    check(any(c["kind"] == "claimed_by_two_villages" and
              sorted(c["households"]) == sorted([moved, claimed])
              for c in t.ctl(county, "conflicts", "--json")["conflicts"]),
          f"the county does not list {moved} and {claimed} as one household in two villages")

    # ------------------------------------------------------------ village notice
    # The township stands in only for villages without a node: here every
    # village of T1 has one, so --all there opens nothing and says why.
    out = wf(t, t1, "notice", "open", "--all")
    check(out["proposals"] == 0 and
          len(out.get("left_out", [])) == len(ids[V1]) + len(ids[V2]) and
          all("runs a node of its own" in x["why"] for x in out["left_out"]),
          f"{t1}: notice open --all: {json.dumps(out, ensure_ascii=False)[:600]}")
    for v in (v1, v2, v3):
        out = wf(t, v, "notice", "open", "--all")
        check_eq(out["proposals"], len(ids[v.area]), f"{v}: notice open --all")
    t.wait_synced()
    text = t.ctl_text(v1, "notice", "print", "--all")
    rows1 = rows_of(files[V1])
    for r in rows1[1:]:
        if r[col["household_id"]] in ids[V1]:
            check(r[col["id_number"]] not in text, "notice print shows a full ID number")
            name = r[col["name"]]
            if len(name) >= 2:
                check(name not in text, "notice print shows a full name")
    check(re.search(r"630\d{3}\*{8}[0-9X]{4}", text), f"no masked ID number in:\n{text}")
    check(re.search(r"第一次公示", text) and re.search(r"如有异议", text),
          f"notice print lacks its title or where to object:\n{text}")
    html = t.ctl_text(v1, "notice", "print", "--all", "--format", "html")
    check(html.count("<tr>") == len(ids[V1]) + 1, f"notice print html rows:\n{html[:400]}")
    j = t.ctl(v1, "notice", "print", "--all", "--json")
    check_eq((j["count"], len(j["notices"])), (len(ids[V1]), 1), "notice print --json: counts")
    n0 = j["notices"][0]
    check_eq((n0["kind"], n0["village_name"], n0["office_name"]), ("公示", "新庄村", "桥头镇"),
             "notice print --json: the notice")
    check_eq([h["household"] for h in n0["households"]], sorted(ids[V1]),
             "notice print --json: households sorted by 户编号")
    flat = json.dumps(j, ensure_ascii=False)
    check(not re.search(r"\d{17}[0-9X]", flat), "notice print --json shows a full ID number")
    for r in rows1[1:]:
        if r[col["household_id"]] in ids[V1] and len(r[col["name"]]) >= 2:
            check(r[col["name"]] not in flat, "notice print --json shows a full name")
    # the township reads the same notice; the province cannot
    check(t.ctl_text(t1, "notice", "print", ids[V1][0]).count("*") >= 2,
          "the township's notice print shows no masked names")
    st = t.ctl(prov, "household", "show", ids[V1][0], "--json")
    check_eq(st["personal"], "sealed", "the province reads no names")
    st = t.ctl(county, "household", "show", ids[V1][0], "--json")
    check_eq(st["personal"], "readable", "the county reads the names of its villages")

    # Objections: one to dismiss, one to uphold.
    a1, b1 = ids[V1][0], ids[V1][1]
    for hid, who in ((a1, "张三"), (b1, "李四")):
        out = wf(t, v1, "object", hid, "--reason", "收入核实有误", "--name", who,
                 "--contact", "13800000000")
        check_eq(out["proposals"], 1, f"object {hid}")

    # A close a day early, signed without the local check: every node refuses it.
    advance(t, 6)
    t.wait_synced()
    before = wf_refused(t)
    out = wf(t, v3, "notice", "close", "--all", "--unchecked")
    check_eq(out["proposals"], len(ids[V3]), "early close: proposals in the event")
    check_eq(out["refused"], len(ids[V3]), "early close: refused at the village itself")
    t.wait_synced()
    after = wf_refused(t)
    for a in (V3, T2, C, P):
        check_eq(after[a] - before[a], len(ids[V3]), f"early close: steps refused at {a}")
    for n in (v3, t2, county, prov):
        states = {h: p["state"] for h, p in proposals(t, n).items() if h in ids[V3]}
        check_eq(set(states.values()), {"VILLAGE_NOTICE"}, f"early close: states at {n}")
        check(t.grep_log(n, r"workflow step refused: household " + ids[V3][0] +
                         r", village_notice_close .*runs 7 days"),
              f"{n} does not log why the early close is refused")

    advance(t, 2)
    for v in (v2, v3):
        check_eq(wf(t, v, "notice", "close", "--all")["proposals"], len(ids[v.area]),
                 f"{v}: notice close --all")
    # the contested ones wait; the township decides the objections
    out = wf(t, v1, "notice", "close", "--all")
    check_eq(out["proposals"], len(ids[V1]) - 2, "V1: close --all skips contested proposals")
    # and says so: left out, each with the objection as the reason
    left = {x["household"]: x["why"] for x in out.get("left_out", [])}
    jt.log(f"V1: close --all left out {left}")
    check_eq(sorted(left), sorted([a1, b1]), "V1: close --all's left out")
    check(all("objection" in why for why in left.values()),
          f"V1: close --all's reasons for the contested: {left}")
    t.wait_synced()
    # Who objected, for those who decide: the township and the county read
    # the objector (sealed to the village's readers), the province does not.
    def objectors(n, hid):
        return [(s.get("objector", ""), s.get("objector_name", ""),
                 s.get("objector_contact", ""))
                for p in t.ctl(n, "household", "show", hid, "--json")["proposals"]
                for s in p["steps"] if s["step"] == "object"]
    for n in (t1, county):
        check_eq(objectors(n, a1), [("readable", "张三", "13800000000")], f"{n}: objector")
    check_eq(objectors(prov, b1), [("sealed", "", "")], "the province: objector")
    text = t.ctl_text(t1, "household", "show", b1)
    check("lodged by 李四, contact 13800000000" in text,
          f"household show at the township does not name the objector:\n{text[-600:]}")
    check(": 第一次公示开始 village_notice_open (7 days)" in text and ": 提出异议 object" in text,
          f"household show names the steps in Chinese too:\n{text[-800:]}")
    p = t.run_ctl(v1, "objection", "dismiss", a1, "--reason", "核实无误")
    check(p.returncode == 1 and "taken by the township" in p.stderr,
          f"a village dismissing an objection: {p.returncode} {p.stderr}")
    # The county may decide for a township without a node; T1 runs one.
    out = wf(t, county, "objection", "dismiss", "--all", "--reason", "核实无误")
    lo = {x["household"]: x["why"] for x in out.get("left_out", [])}
    check(out["proposals"] == 0 and a1 in lo and b1 in lo and
          all(f"its township {T1} runs a node of its own" in lo[h] for h in (a1, b1)),
          f"{county}: objection dismiss --all: {json.dumps(out, ensure_ascii=False)[:500]}")
    # Each decision says where the proposal stands now.
    text = t.ctl_text(t1, "objection", "dismiss", a1, "--reason", "经核实收入无误")
    check("1 proposal(s) in 1 signed event(s); now VILLAGE_NOTICE 第一次公示, 0 objection(s) "
          "still open" in text, f"objection dismiss's answer: {text!r}")
    out = wf(t, t1, "objection", "uphold", b1, "--reason", "家庭有财政供养人员")
    check_eq((out.get("state_after"), out.get("state_after_label"), out.get("objections_open", 0)),
             ("REJECTED", "未通过", 0), "objection uphold's answer")
    expect.reject(b1)
    t.wait_synced()
    check_eq(proposals(t, v1)[a1]["state"], "VILLAGE_NOTICE", "dismissed: back to the window")
    check_eq(proposals(t, v1, "REJECTED")[b1]["state"], "REJECTED", "upheld: rejected")
    # A step named for it says what became of its proposal.
    p = t.run_ctl(v1, "notice", "close", b1)
    check(p.returncode == 1 and re.search(
        rf"household {b1} has no open proposal in .*\(its last proposal, \S+ to \S+, was "
        r"REJECTED 未通过 at [0-9T:-]+Z: a new version of the household proposes again\)",
        p.stderr), f"a step for a rejected proposal: {p.returncode} {p.stderr!r}")
    # The state as the dashboard and the notices say it asks the same.
    check_eq(sorted(proposals(t, v1, "未通过")), sorted(proposals(t, v1, "REJECTED")),
             "proposals --state 未通过")
    # None: the area said by code and name.
    text = t.ctl_text(t1, "proposals", "--state", "已录入")
    check_eq(text.strip(), f"no RECORDED proposals under {T1} {t1.name}",
             "proposals with none to list")
    check_eq(wf(t, v1, "notice", "close", a1)["proposals"], 1,
             "the window counts from its opening: it closes at once")
    t.wait_synced()

    # ------------------------------------------------------------ township
    for tw in (t1, t2):
        wf(t, tw, "review", "approve", "--all")
        wf(t, tw, "notice", "open", "--all")
    advance(t, 8)
    for tw in (t1, t2):
        wf(t, tw, "notice", "close", "--all")
    t.wait_synced()
    # A township taking the county's step: refused by its county and the province.
    before = wf_refused(t)
    out = wf(t, t2, "review", "approve", dup3, "--unchecked")
    check_eq(out["refused"], 1, "a township's county step: refused at the township")
    t.wait_synced()
    after = wf_refused(t)
    for a in (T2, C, P):
        check_eq(after[a] - before[a], 1, f"a township's county step: refused at {a}")
    check(t.grep_log(county, r"household " + dup3 + r", county_approve by township "
                     + T2 + r".*taken by the county"),
          "the county does not log the township's county step as refused")
    for n in (county, prov):
        check_eq(proposals(t, n)[dup3]["state"], "TOWNSHIP_PASSED", f"{n}: state unchanged")

    # ------------------------------------------------------------ county
    out = wf(t, county, "review", "approve", "--all")
    check_eq(out["skipped"], 1, "county approve --all leaves out the duplicate identification")
    p = t.run_ctl(county, "review", "approve", dup3)
    check(p.returncode == 1 and dup3 in p.stderr and dup2 in p.stderr and "重复识别" in p.stderr,
          f"approving the duplicate identification: {p.returncode} {p.stderr}")
    wf(t, county, "notice", "open", "--all")
    advance(t, 8)
    out = wf(t, county, "notice", "close", "--all")
    recorded = [h for v in (V1, V2, V3) for h in ids[v] if h not in (b1, dup3)]
    check_eq(out["proposals"], len(recorded), "county records the announced proposals")
    for h in recorded:
        expect.record(h)
    t.wait_synced()
    check_rollups(t, expect, "after the announcement is recorded")
    # decisions reach the villages
    for v in (v1, v2, v3):
        got = set(proposals(t, v, "RECORDED"))
        check_eq(got, {h for h in recorded if h.startswith(v.area)}, f"{v}: recorded proposals")
    show = t.ctl(v1, "household", "show", a1, "--json")
    steps = [s["step"] for p_ in show["proposals"] for s in p_["steps"] if not s["refused"]]
    check(steps[-3:] == ["county_approve", "announce", "record"] and "dismiss" in steps,
          f"the village's history of {a1}: {steps}")
    check_eq(show["official_status"], 1, f"{a1}: official status at the village")
    # A recorded proposal's "since" is when it was recorded.
    rec_at = [s_["at"] for p_ in show["proposals"] for s_ in p_["steps"]
              if s_["step"] == "record" and not s_["refused"]]
    since = proposals(t, v1, "RECORDED")[a1]["since"]
    check(rec_at and since == rec_at[-1], f"{a1}: since {since}, recorded at {rec_at}")
    below = [r for r in t.rollup(prov, "county") if r["area"] == C2]
    check(below and below[0]["below_threshold"] in ("yes", "no"), f"threshold marks: {below}")

    # ------------------------------------------------------------ exits
    poor_w1 = [h for h, x in sorted(expect.households.items())
               if h.startswith(W1) and x["status"] in (1, 4)][:3]
    check(len(poor_w1) == 3, "too few poor migrated households")
    for h in poor_w1:
        out = t.ctl_text(w1, "household", "edit", h, "--status", "2")
        check("a proposal" in out, f"edit --status 2 of {h}: {out}")
        expect.propose(h, 2)
    p = t.run_ctl(w1, "notice", "open", poor_w1[0])
    check(p.returncode == 1 and "consent" in p.stderr, f"an exit notice without consent: {p.stderr}")
    p = t.run_ctl(w1, "household", "edit", poor_w1[0], "--status", "5")
    check(p.returncode == 1 and "open proposal" in p.stderr,
          f"a second status change while one is open: {p.stderr}")
    wf(t, w1, "consent", *poor_w1)
    wf(t, w1, "notice", "open", "--all")
    # A step named for a household whose proposal is past it, or for a
    # household of another village: said as such.
    p = t.run_ctl(w1, "notice", "open", poor_w1[0])
    check(p.returncode == 1 and f"household {poor_w1[0]}'s open proposal is in VILLAGE_NOTICE "
          "第一次公示; this step takes one in PROPOSED 待公示, TOWNSHIP_APPROVED" in p.stderr,
          f"a notice opened twice: {p.stderr}")
    elsewhere = next(h for h in sorted(expect.households) if not h.startswith(W1))
    p = t.run_ctl(w1, "notice", "open", elsewhere)
    check(p.returncode == 1 and f"household {elsewhere} is not held by this node" in p.stderr,
          f"a notice for another village's household: {p.stderr}")
    advance(t, 8)
    wf(t, w1, "notice", "close", "--all")
    t.wait_synced()
    wf(t, t3, "review", "approve", "--all")
    wf(t, t3, "notice", "open", "--all")
    advance(t, 8)
    wf(t, t3, "notice", "close", "--all")
    t.wait_synced()
    wf(t, c2, "review", "approve", "--all")
    wf(t, c2, "notice", "open", "--all")
    advance(t, 8)
    check_eq(wf(t, c2, "notice", "close", "--all")["proposals"], 3, "exits recorded")
    for h in poor_w1:
        expect.record(h)
    t.wait_synced()
    check_rollups(t, expect, "after the exits")

    # ------------------------------------------------------------ concurrency
    hh = recorded[0]
    village = t.nodes[hh[:12]]
    town = village.parent
    t.stop(village)
    village.parent_override = "tcp://127.0.0.1:9"  # nothing listens there
    t.start(village, wait=False)
    t.wait_up(village, wait_sign=False)
    t.ctl_text(village, "household", "edit", hh, "--income", "5100")
    t.ctl_text(town, "household", "edit", hh, "--income", "6200")
    t.stop(village)
    village.parent_override = None
    t.start(village)
    t.wait_synced()
    heads = {}
    for n in [village, town, town.parent, prov]:
        s = t.ctl(n, "household", "show", hh, "--json")
        heads[n.area] = (s["head"], s["heads"], s["income_fen"])
    check(len(set(heads.values())) == 1 and list(heads.values())[0][1] == 2,
          f"concurrent edits: the effective heads differ or are not two: {heads}")
    check(any(c["kind"] == "concurrent_heads" and c["households"] == [hh]
              for c in t.ctl(town, "conflicts", "--json")["conflicts"]),
          "the township does not list the concurrent heads")
    t.ctl_text(village, "household", "edit", hh, "--merge")
    t.wait_synced()
    for n in [village, town, town.parent, prov]:
        s = t.ctl(n, "household", "show", hh, "--json")
        check_eq(s["heads"], 1, f"{n}: heads after the merge")
        check(not any(c["households"] == [hh]
                      for c in t.ctl(n, "conflicts", "--json")["conflicts"]),
              f"{n} still lists the settled conflict")

    # ------------------------------------------------------------ re-import
    before = t.status(v2)["own_records"]
    p = t.import_file(v2, "households", files[V2])
    check(p.returncode == 0 and re.search(r"0 new versions", p.stdout),
          f"re-import of the same register: {p.stdout} {p.stderr}")
    rows = rows_of(files[V2])
    target = next(r[col["household_id"]] for r in rows[1:]
                  if r[col["household_id"]] not in ids[V2])
    for r in rows[1:]:
        if r[col["household_id"]] == target:
            r[col["income"]] = "9999.99"
    write_rows(files[V2], rows)
    p = t.import_file(v2, "households", files[V2])
    check(p.returncode == 0 and re.search(r"1 new version \(0 proposals", p.stdout),
          f"re-import with one changed row: {p.stdout} {p.stderr}")
    check_eq(t.status(v2)["own_records"], before + 2, "a data edit and its key record")
    t.wait_synced()
    check_rollups(t, expect, "after the re-import")
    for n in t.nodes.values():
        st = t.status(n)
        if n.level != "province":
            check(st["receipt"]["intact"] and st["receipt"]["seq"] == st["own_records"],
                  f"{n}: receipt {st['receipt']} for {st['own_records']} own records")


if __name__ == "__main__":
    jt.main(test, test_clock=True)
