#!/usr/bin/env python3
"""The operator's surface: jzfpctl and jzfpd on bad days (DESIGN §10).

  - every jzfpctl command (as listed by `jzfpctl --help`) and jzfpd have
    --help: exit 0, usage on stdout;
  - errors exit non-zero with one line on stderr: status of a node that is not
    running (never started; killed, with its socket left behind), bad
    configs ("FILE:LINE: [section] key: reason"), unreadable files, bad
    arguments; keygen never overwrites a key;
  - jzfpd with a bad config exits 1 with the same one-line reason;
  - a bad household CSV lists its errors as FILE:LINE: column: what, exits 1
    and imports nothing (record count and rollup unchanged); --skip-bad
    imports exactly the good households;
  - the command-line conventions (issue 9, item 4): options before or after
    operands, --opt=value and --opt value, -cFILE and -c FILE, the global
    options after the command too; exit 0 ok, 1 error (one line), 2 usage
    or a bad value jzfpctl can judge, which names the word and prints only
    the command's usage line; --version of both binaries; --json on import,
    keygen, pubkey, cert root/issue/show/verify; notice print --json is
    accepted (the node judges it).
"""

import json

import csv
import os
import re
import shutil
import time

import jzfptest as jt
from jzfptest import check, check_eq

YEAR = 2020
VILLAGE = "630121101001"
DATA = os.path.join(jt.SRC, "tests", "data")


def ctl(*args, timeout=60):
    return jt.run([jt.JZFPCTL, *args], timeout=timeout)


def one_line_error(t, p, what, pattern=None, rc=1):
    """p exited with rc and printed exactly one line on stderr (matching the
    regex pattern, if given)."""
    lines = p.stderr.strip().splitlines()
    if p.returncode != rc or len(lines) != 1 or (pattern and not re.search(pattern, lines[0])):
        t.soft_fail(f"{what}: expected exit {rc} and one line on stderr"
                    f"{' matching /' + pattern + '/' if pattern else ''}; got exit "
                    f"{p.returncode}, stderr {p.stderr.strip()[:400]!r}")
    return lines[0] if lines else ""


def usage_error(t, p, what, cmd, *words):
    """p exited 2 with two lines on stderr: "jzfpctl: CMD: ..." naming every
    one of words, then that command's usage line ("usage: jzfpctl CMD...")."""
    lines = p.stderr.strip().splitlines()
    ok = (p.returncode == 2 and len(lines) == 2 and
          lines[0].startswith(f"jzfpctl: {cmd}" if cmd else "jzfpctl: ") and
          all(w in lines[0] for w in words) and
          lines[1].startswith(f"usage: jzfpctl {cmd}".rstrip()) and p.stdout == "")
    if not ok:
        t.soft_fail(f"{what}: expected exit 2, 'jzfpctl: {cmd}: ...' naming {words} and one "
                    f"usage line; got exit {p.returncode}, stderr {p.stderr.strip()[:400]!r}")


def part_help(t):
    p = ctl("--help")
    check_eq(p.returncode, 0, "jzfpctl --help exit status")
    check(p.stdout.startswith("usage: jzfpctl"), f"jzfpctl --help: {p.stdout[:200]!r}")
    body = p.stdout.split("Commands", 1)
    check(len(body) == 2, f"jzfpctl --help lists no commands: {p.stdout!r}")
    commands = re.findall(r"^  ([a-z][a-z-]*)\s", body[1], re.M)
    check(len(commands) >= 5, f"jzfpctl --help: commands found: {commands}")
    for cmd in commands:
        bad = []
        for flag in ("--help", "-h"):
            p = ctl(cmd, flag)
            if p.returncode != 0 or not re.match(rf"usage: jzfpctl .*{cmd}", p.stdout):
                bad.append(f"{flag}: exit {p.returncode}, {len(p.stdout)} bytes on stdout, "
                           f"stderr {p.stderr.splitlines()[0] if p.stderr else ''!r}")
        if bad:
            t.soft_fail(f"jzfpctl {cmd} --help / -h: expected exit 0 and the usage on stdout; "
                        f"got {'; '.join(bad)}")
    for flag in ("--help", "-h"):
        p = jt.run([jt.JZFPD, flag])
        check(p.returncode == 0 and p.stdout.startswith("usage: jzfpd"),
              f"jzfpd {flag}: exit {p.returncode}, stdout {p.stdout[:80]!r}")
    p = ctl()
    check(p.returncode == 2 and "usage:" in p.stderr, f"jzfpctl without a command: exit "
          f"{p.returncode}, stderr {p.stderr[:100]!r}")
    p = ctl("no-such-command")
    check(p.returncode == 2 and "no-such-command" in p.stderr,
          f"jzfpctl no-such-command: exit {p.returncode}, stderr {p.stderr[:100]!r}")
    jt.log(f"help checked for: {' '.join(commands)}")


def write_conf(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)


def part_bad_config(t, good):
    """Configs with one fault each: jzfpctl and jzfpd name file, line,
    section and key, in one line, and jzfpd does not start."""
    d = os.path.join(t.dir, "configs")
    os.mkdir(d)
    with open(good.conf, encoding="utf-8") as f:
        base = f.read().splitlines()

    def line_of(prefix):
        return next(i for i, ln in enumerate(base, 1) if ln.startswith(prefix))

    cases = []
    # missing required key: line 0 (config.h)
    lines = [ln for ln in base if not ln.startswith("area =")]
    cases.append(("missing_area", lines, 0, "node", "area"))
    lines = [("area = 63012110100" if ln.startswith("area =") else ln) for ln in base]
    cases.append(("bad_area", lines, line_of("area ="), "node", "area"))
    lines = [("level = township" if ln.startswith("level =") else ln) for ln in base]
    # the level and the area disagree: reported at one of the two lines
    cases.append(("level_mismatch", lines, (line_of("level ="), line_of("area =")), "node",
                  "(area|level)"))
    for name, lines, line, section, key in cases:
        path = os.path.join(d, f"{name}.ini")
        write_conf(path, lines)
        lines_rx = "|".join(str(x) for x in (line if isinstance(line, tuple) else (line,)))
        rx = rf"^{{prog}}: {re.escape(path)}:({lines_rx}): \[{section}\] {key}: \S.*$"
        p = ctl("-c", path, "status")
        one_line_error(t, p, f"jzfpctl -c {name}.ini status", rx.format(prog="jzfpctl"))
        p = jt.run([jt.JZFPD, "--config", path], timeout=30)
        one_line_error(t, p, f"jzfpd --config {name}.ini", rx.format(prog="jzfpd"))

    # tests/data/bad_config_*.ini: each says what its error must contain
    n = 0
    for fn in sorted(os.listdir(DATA)):
        if not (fn.startswith("bad_config_") and fn.endswith(".ini")):
            continue
        path = os.path.join(d, fn)
        shutil.copy(os.path.join(DATA, fn), path)
        with open(path, encoding="utf-8") as f:
            m = re.search(r"^; expect: (.*)$", f.read(), re.M)
        check(m is not None, f"{fn}: no '; expect:' line")
        want = re.escape(m.group(1).strip())
        for prog, argv in (("jzfpctl", [jt.JZFPCTL, "-c", path, "status"]),
                           ("jzfpd", [jt.JZFPD, "--config", path])):
            p = jt.run(argv, timeout=30)
            one_line_error(t, p, f"{prog} with {fn}",
                           rf"^(?=.*{want}){prog}: {re.escape(path)}:\d+: \S")
        check(not os.path.exists(os.path.join(d, "data", "control.sock")),
              f"jzfpd left a control socket behind after refusing {fn}")
        n += 1
    check(n >= 3, f"only {n} bad_config_*.ini files in {DATA}")


def part_not_running(t, village):
    # never started: no socket
    d = os.path.join(t.dir, "ghost")
    os.mkdir(d, 0o700)
    with open(village.conf, encoding="utf-8") as f:
        lines = [ln for ln in f.read().splitlines()]
    conf = os.path.join(d, "jzfpd.conf")
    write_conf(conf, lines)
    shutil.copy(village.key, os.path.join(d, "node.key"))
    p = ctl("-c", conf, "status")
    one_line_error(t, p, "status of a node never started", r"^jzfpctl: .*not running")
    p = ctl("--node", os.path.join(d, "data"), "status", "--json")
    one_line_error(t, p, "status --node DIR of a node never started", r"^jzfpctl: .*not running")
    # An import that reached no node: its reason alone, no note on what
    # the node kept.
    hh = jt.gen_households(os.path.join(d, "hh-{village}.csv"), [village.area], 3, seed=5)
    p = ctl("-c", conf, "import", "households", hh[village.area])
    one_line_error(t, p, "import at a node never started", r"^jzfpctl: .*not running")


def part_killed(t, village):
    """After kill -9 the control socket file stays; status must still fail
    with one line, within its --timeout."""
    t.kill9(village)
    start = time.monotonic()
    p = ctl("-c", village.conf, "--timeout", "2", "status", timeout=60)
    took = time.monotonic() - start
    one_line_error(t, p, "status of a killed node")
    check(took < 30, f"status of a killed node took {took:.0f} s despite --timeout 2")
    t.start(village)


def hh_rows(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def write_rows(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def error_lines(p, path):
    """{(line, column)} of the FILE:LINE: column: what lines on stderr; fails
    on a line of another shape (besides the one summary line)."""
    got, other = set(), []
    rx = re.compile(rf"^{re.escape(path)}:(\d+): (?:([^:]+): )?(.+)$")
    for ln in p.stderr.strip().splitlines():
        m = rx.match(ln)
        if m:
            got.add((int(m.group(1)), m.group(2) or ""))
        else:
            other.append(ln)
    return got, other


def bad_id_number(idn):
    """The same ID number with a wrong check character."""
    chars = "0123456789X"
    return idn[:17] + chars[(chars.index(idn[17].upper()) + 1) % 11]


class VillageState:
    def __init__(self, t, n):
        self.t, self.n = t, n

    def snapshot(self):
        return (self.t.status(self.n)["records"], self.t.rollup(self.n, "village"))


def part_bad_csv(t, village):
    d = os.path.join(t.dir, "csv")
    os.mkdir(d)
    vs = VillageState(t, village)
    files = jt.gen_households(os.path.join(d, "good_{village}.csv"), [VILLAGE], 20,
                              seed="cli", year=YEAR, new=True)
    rows = hh_rows(files[VILLAGE])
    header = rows[0]
    col = {h: i for i, h in enumerate(header)}
    # Two faults, on known lines (line 1 is the header): a wrong ID check
    # character on the first row of household 3, sex 3 on the first row of
    # household 7.
    first_row = {}
    for i, r in enumerate(rows[1:], start=2):
        first_row.setdefault(r[col["household_id"]], i)
    hids = list(first_row)
    l1, l2 = first_row[hids[2]], first_row[hids[6]]
    rows[l1 - 1][col["id_number"]] = bad_id_number(rows[l1 - 1][col["id_number"]])
    rows[l2 - 1][col["sex"]] = "3"
    bad = os.path.join(d, "bad.csv")
    write_rows(bad, rows)

    before = vs.snapshot()
    p = t.import_file(village, "households", bad)
    check_eq(p.returncode, 1, f"import of a file with bad rows: exit status ({p.stderr[-300:]})")
    got, other = error_lines(p, bad)
    check_eq(got, {(l1, "id_number"), (l2, "sex")}, "errors listed for bad.csv")
    check(len(other) == 1 and "nothing imported" in other[0],
          f"import bad.csv: besides the errors, expected one summary line: {other}")
    check_eq(vs.snapshot(), before, "records and rollup after a refused import")

    # tests/data/bad_rows.csv and the list of its broken households
    src = os.path.join(d, "bad_rows.csv")
    shutil.copy(os.path.join(DATA, "bad_rows.csv"), src)
    with open(os.path.join(DATA, "bad_rows.expect.csv"), encoding="utf-8", newline="") as f:
        broken = list(csv.DictReader(f))
    p = t.import_file(village, "households", src)
    check_eq(p.returncode, 1, "import of tests/data/bad_rows.csv: exit status")
    got, other = error_lines(p, src)
    for b in broken:
        if (int(b["line"]), b["column"]) not in got:
            t.soft_fail(f"bad_rows.csv: {b['kind']} not reported as {src}:{b['line']}: "
                        f"{b['column'] or '(no column)'}: ...; reported: {sorted(got)}")
    reported_lines = {ln for ln, _ in got}
    for ln in reported_lines:
        check(any(int(b["first_line"]) <= ln <= int(b["last_line"]) for b in broken),
              f"bad_rows.csv: error reported on line {ln}, which belongs to no broken household")
    check_eq(vs.snapshot(), before, "records and rollup after refusing bad_rows.csv")

    # --skip-bad: exactly the good households go in, but of those only the
    # ones a village may register: not poor or proposed for identification.
    # The others (already exited, ...) need a county's migration; the node
    # refuses them and says why (DESIGN §6).
    rows = hh_rows(src)
    col = {h: i for i, h in enumerate(rows[0])}
    bad_ids = {b["household_id"] for b in broken}
    good, status = {}, {}
    for r in rows[1:]:
        if r and r[0].strip():
            hid = r[col["household_id"]]
            if hid not in bad_ids:
                good[hid] = good.get(hid, 0) + 1
                if r[col["relation"]] in ("01", "1"):
                    status[hid] = int(r[col["status"]])
    new = {h: n for h, n in good.items() if status[h] in (0, 1)}
    check(0 < len(new) < len(good), "bad_rows.csv: good households of both kinds expected")
    p = t.import_file(village, "households", src, "--skip-bad")
    check_eq(p.returncode, 1, f"import --skip-bad with households a village may not register: "
             f"exit status ({p.stderr.strip()[-300:]})")
    check(re.search(r"refused by the node: household \d{16} is new: it can be registered",
                    p.stderr), f"import --skip-bad: the node's refusal not shown: {p.stderr!r}")
    m = re.search(r"(\d+) new versions? .*, (\d+) refused", p.stdout)
    check(m is not None, f"import --skip-bad: output {p.stdout!r}")
    check_eq((int(m.group(1)), int(m.group(2))), (len(new), len(good) - len(new)),
             "import --skip-bad: new versions and households refused by the node")
    good = new
    recs, roll = vs.snapshot()
    # one key record: the data key of the personal parts of this import
    check_eq(recs, before[0] + len(good) + 1, "records after import --skip-bad")
    row = next((r for r in roll if r["area"] == VILLAGE), None)
    check(row is not None, f"no rollup row for {VILLAGE} after import --skip-bad")
    check_eq((row["households"], row["persons"]), (str(len(good)), str(sum(good.values()))),
             "village households and persons after import --skip-bad")

    # my bad.csv with --skip-bad: all but the two broken households
    p = t.import_file(village, "households", bad, "--skip-bad")
    check_eq(p.returncode, 0, f"import bad.csv --skip-bad: exit ({p.stderr.strip()[-200:]})")
    check_eq(t.status(village)["records"], recs + len(hids) - 2 + 1,
             "records after import bad.csv --skip-bad")

    # --skip-bad with no good household: exit 1, said so, nothing stored.
    allbad = os.path.join(d, "allbad.csv")
    rows = hh_rows(files[VILLAGE])
    write_rows(allbad, [rows[0]] + [r[:col["id_number"]] + ["123"] + r[col["id_number"] + 1:]
                                    for r in rows[1:]])
    before = vs.snapshot()
    p = t.import_file(village, "households", allbad, "--skip-bad")
    check(p.returncode == 1 and "every household had errors; nothing imported" in p.stderr,
          f"--skip-bad with every household bad: exit {p.returncode}, {p.stderr[-300:]!r}")
    check_eq(vs.snapshot(), before, "records and rollup after --skip-bad with nothing good")

    # A row whose household id is unusable might be a member of any household:
    # --skip-bad cannot call any household good, so it imports nothing.
    rows = hh_rows(files[VILLAGE])
    rows[3][col["household_id"]] = rows[3][col["household_id"]][:15]
    orphan = os.path.join(d, "orphan.csv")
    write_rows(orphan, rows)
    before = vs.snapshot()
    p = t.import_file(village, "households", orphan, "--skip-bad")
    check(p.returncode == 1 and re.search(r"orphan\.csv:4: a row without a usable household id",
                                          p.stderr),
          f"--skip-bad with a row of no household: exit {p.returncode}, {p.stderr[-300:]!r}")
    check_eq(vs.snapshot(), before, "records and rollup after refusing --skip-bad")
    # A census file given as households: the header errors, then one summary line.
    p = t.import_file(village, "households", os.path.join(DATA, "census.csv"))
    check(p.returncode == 1 and p.stderr.strip().splitlines()[-1].startswith("jzfpctl: ") and
          "nothing imported" in p.stderr.strip().splitlines()[-1],
          f"a census file imported as households: {p.stderr[-300:]!r}")

    # a census with population 0: refused whole
    census = os.path.join(d, "census.csv")
    write_rows(census, [["village", "name", "year", "households", "population"],
                        [VILLAGE, "新庄村", str(YEAR), "10", "100"],
                        [VILLAGE, "新庄村", str(YEAR - 1), "10", "0"]])
    before = vs.snapshot()
    p = t.import_file(village, "census", census)
    check_eq(p.returncode, 1, "census import with population 0: exit status")
    got, _ = error_lines(p, census)
    check_eq({ln for ln, _ in got}, {3}, "census errors (line of population 0)")
    check_eq(vs.snapshot(), before, "records and rollup after a refused census import")

    # file not found, no such village, bad arguments: one line each
    p = t.import_file(village, "households", os.path.join(d, "missing.csv"))
    one_line_error(t, p, "import of a missing file", r"missing\.csv")
    # values jzfpctl can judge itself: exit 2, the value named, one usage line
    p = t.run_ctl(village, "rollup", "--level", "hamlet")
    usage_error(t, p, "rollup --level hamlet", "rollup", "--level", "'hamlet'")
    p = t.run_ctl(village, "household", "show", "12345")
    usage_error(t, p, "household show 12345", "household show", "'12345'")
    p = t.run_ctl(village, "household", "show", VILLAGE + "9999")
    one_line_error(t, p, "household show of a household not held")
    # A status by a name it does not have: the same list wherever one is asked.
    p = t.run_ctl(village, "export", "households", "--status", "poor",
                  os.path.join(d, "never.csv"))
    usage_error(t, p, "export --status poor", "export", "'poor'", "已脱贫（享受政策）")
    check(not os.path.exists(os.path.join(d, "never.csv")), "export --status poor wrote a file")
    p = t.run_ctl(village, "review", "reject", VILLAGE + "9999")
    usage_error(t, p, "review reject without --reason", "review reject", "--reason")
    check("--name" not in p.stderr, f"review reject's hint names --name: {p.stderr!r}")
    p = t.run_ctl(village, "household", "edit", VILLAGE + "9999", "--status", "已脱贫")
    usage_error(t, p, "household edit --status 已脱贫", "household", "'已脱贫'",
                "已脱贫（不再享受政策）")

    # A step this node may not take on any of the proposals now (their
    # notices closed before their window ends): nothing signed, said so.
    p = ctl("-c", village.conf, "notice", "open", "--all")
    check(p.returncode == 0 and re.search(r"[1-9]\d* signed event", p.stdout),
          f"notice open --all at the village: {p.returncode} {p.stdout!r} {p.stderr!r}")
    before = vs.snapshot()
    p = ctl("-c", village.conf, "notice", "close", "--all")
    check(p.returncode == 0 and re.search(r"0 signed event\(s\); [1-9]\d* left out", p.stdout)
          and "jzfpctl: nothing signed" in p.stderr,
          f"notice close --all before the window ends: {p.returncode} {p.stdout!r} {p.stderr!r}")
    check_eq(vs.snapshot(), before, "records and rollup after a step left out everywhere")


def part_keygen(t):
    path = os.path.join(t.dir, "keygen.key")
    t.keygen(path)
    with open(path, "rb") as f:
        before = f.read()
    check_eq(os.stat(path).st_mode & 0o777, 0o600, "keygen file mode")
    p = ctl("keygen", "--out", path)
    one_line_error(t, p, "keygen over an existing key", r"exists")
    with open(path, "rb") as f:
        check(f.read() == before, "keygen changed an existing key file")
    p = ctl("keygen")
    check(p.returncode == 2, f"keygen without --out: exit {p.returncode}")
    usage_error(t, p, "keygen without --out", "keygen", "--out")

    # --json and the option forms
    other = os.path.join(t.dir, "keygen2.key")
    p = ctl("keygen", "--json", f"--out={other}")
    check_eq(p.returncode, 0, f"keygen --json --out=FILE: exit ({p.stderr.strip()})")
    pub = json.loads(p.stdout)["public_key"]
    check(re.fullmatch(r"[0-9a-f]{64}", pub) is not None, f"keygen --json: {p.stdout!r}")
    p = ctl("pubkey", "--key", other, "--json")
    check_eq(json.loads(p.stdout), {"public_key": pub}, "pubkey --key FILE --json")
    p = ctl("pubkey", f"--key={other}")
    check_eq(p.stdout.strip(), pub, "pubkey --key=FILE")
    p = ctl("pubkey", "--key", os.path.join(t.dir, "missing.key"))
    one_line_error(t, p, "pubkey of a missing key file", r"missing\.key")
    p = ctl("pubkey", "--key", other, "extra")
    usage_error(t, p, "pubkey with an extra operand", "pubkey", "'extra'")


def part_version(t):
    versions = []
    for prog, path in (("jzfpd", jt.JZFPD), ("jzfpctl", jt.JZFPCTL)):
        p = jt.run([path, "--version"])
        # jzfpd names the store schema it reads (the one --upgrade-store
        # upgrades to): two builds of one version never differ in it.
        tail = r" \(store schema \d+\)" if prog == "jzfpd" else ""
        m = re.fullmatch(rf"{prog} (\d+\.\d+\.\d+){tail}\n", p.stdout)
        check(p.returncode == 0 and m is not None and p.stderr == "",
              f"{prog} --version: exit {p.returncode}, stdout {p.stdout!r}")
        versions.append(m.group(1))
    check_eq(versions[0], versions[1], "jzfpd and jzfpctl versions")


def part_usage_errors(t):
    """Offline: every command's unknown option, the global options' bad
    values, unknown commands and subcommands."""
    p = ctl("--help")
    commands = re.findall(r"^  ([a-z][a-z-]*)\s", p.stdout.split("Commands", 1)[1], re.M)
    for cmd in commands:
        for bogus, word in (("--bogus", "'--bogus'"), ("--bogus=1", "'--bogus'"),
                            ("-q", "'-q'")):
            usage_error(t, ctl(cmd, bogus), f"jzfpctl {cmd} {bogus}", cmd, word)
    # a subcommand's own usage line, not the whole help
    usage_error(t, ctl("rollup", "--bogus"), "rollup --bogus", "rollup", "unknown option")
    usage_error(t, ctl("notice", "open", "--all", "--bogus"), "notice open --bogus",
                "notice open", "'--bogus'")
    usage_error(t, ctl("notice", "frob"), "notice frob", "notice", "'frob'")
    usage_error(t, ctl("cert", "show", "--format", "x", "f"), "cert show --format",
                "cert show", "'--format'")
    usage_error(t, ctl("status", "--json=yes"), "status --json=yes", "status", "--json")
    usage_error(t, ctl("rollup", "--level"), "rollup --level (no value)", "rollup", "--level")
    # bad values jzfpctl can judge: the option and the value named
    usage_error(t, ctl("--timeout", "x", "status"), "--timeout x", "", "--timeout", "'x'")
    usage_error(t, ctl("status", "--timeout=0"), "status --timeout=0", "status", "--timeout",
                "'0'")
    usage_error(t, ctl("rollup", "--level=bogus"), "rollup --level=bogus", "rollup", "--level",
                "'bogus'")
    usage_error(t, ctl("rollup", "--format", "xml"), "rollup --format xml", "rollup",
                "--format", "'xml'")
    usage_error(t, ctl("notice", "open", "--days", "-3", "--all"), "notice open --days -3",
                "notice open", "--days", "'-3'")
    usage_error(t, ctl("notice", "open", "--all", "--days=x"), "notice open --days=x",
                "notice open", "--days", "'x'")
    usage_error(t, ctl("consent", "123"), "consent 123", "consent", "'123'")
    usage_error(t, ctl("revoke", "abc", "--reason", "r"), "revoke abc", "revoke", "'abc'")
    # unknown command: exit 2, named, no help dump
    p = ctl("frobnicate")
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 2 and len(lines) == 2 and "'frobnicate'" in lines[0] and
          lines[1].startswith("usage: jzfpctl"),
          f"jzfpctl frobnicate: exit {p.returncode}, stderr {p.stderr!r}")
    # jzfpd: its own options through getopt_long too
    for argv, word in ((["--bogus"], "'--bogus'"), (["-c"], "'-c'"),
                       (["--config=x", "extra"], "'extra'")):
        p = jt.run([jt.JZFPD, *argv])
        lines = p.stderr.strip().splitlines()
        check(p.returncode == 2 and len(lines) == 2 and word in lines[0] and
              lines[0].startswith("jzfpd: ") and lines[1].startswith("usage: jzfpd"),
              f"jzfpd {' '.join(argv)}: exit {p.returncode}, stderr {p.stderr!r}")
    # --help on a subcommand, after operands too
    for argv in (["notice", "open", "--help"], ["cert", "issue", "-h"],
                 ["household", "show", "1", "--help"], ["import", "households", "x", "-h"]):
        p = ctl(*argv)
        check(p.returncode == 0 and p.stdout.startswith(f"usage: jzfpctl {argv[0]}"),
              f"jzfpctl {' '.join(argv)}: exit {p.returncode}, stdout {p.stdout[:100]!r}")


def part_cert_json(t):
    """cert issue/show/verify/root with --json, options in any order and as
    --opt=value; cert issue's bad values exit 2."""
    d = os.path.join(t.dir, "certs")
    os.mkdir(d)
    prov_key, county_key = os.path.join(d, "province.key"), os.path.join(d, "county.key")
    prov, county = t.keygen(prov_key), t.keygen(county_key)
    p = ctl("cert", "root", "--json", "--key", prov_key)
    check_eq(json.loads(p.stdout) if p.returncode == 0 else p.stderr, {"public_key": prov},
             "cert root --json")
    chain = os.path.join(d, "county.cert")
    p = ctl("cert", "--out", chain, "issue", f"--issuer-key={prov_key}", "--root",
            "--level=county", "--area", "630121000000", "--days=30", "--pub", county, "--json")
    check_eq(p.returncode, 0, f"cert issue with permuted options: exit ({p.stderr.strip()})")
    got = json.loads(p.stdout)
    check_eq((got["level"], got["area"], got["chain_length"], got["out"]),
             ("county", "630121000000", 1, chain), "cert issue --json")
    for argv in (["cert", "show", chain, "--json"], ["cert", "show", "--json", chain],
                 ["cert", "--json", "show", chain]):
        p = ctl(*argv)
        check_eq(p.returncode, 0, f"{' '.join(argv[:2])} --json: exit ({p.stderr.strip()})")
        certs = json.loads(p.stdout)["certificates"]
        check_eq(len(certs), 1, "cert show --json: certificates")
        c = certs[0]
        check_eq((c["key"], c["level"], c["area"], c["issuer"]),
                 (county, "county", "630121000000", prov), "cert show --json: fields")
        # offline, no config: the default zone's time, with its offset
        check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", c["not_after"]) is not None
              and c["not_before"] < c["not_after"], f"cert show --json: times {c}")
    # With -c CONFIG, that node's zone (an offset no default has).
    conf = os.path.join(d, "kolkata.conf")
    with open(conf, "w", encoding="utf-8") as f:
        f.write(f"[node]\nlevel = province\narea = 630000000000\ndata_dir = {d}\n"
                "timezone = Asia/Kolkata\n[link]\nlisten = tcp://127.0.0.1:7100\n")
    p = ctl("cert", "show", chain, "-c", conf)
    check(p.returncode == 0 and re.search(r"valid +\d{4}-\d\d-\d\d \d\d:\d\d \+05:30 to "
                                          r"\d{4}-\d\d-\d\d \d\d:\d\d \+05:30", p.stdout),
          f"cert show -c CONFIG: times in its zone: exit {p.returncode}, {p.stdout!r} "
          f"{p.stderr!r}")
    p = ctl("cert", "verify", chain, f"--root={prov}", "--json")
    check(p.returncode == 0 and json.loads(p.stdout)["leaf"]["key"] == county,
          f"cert verify FILE --root=HEX --json: exit {p.returncode}, {p.stdout!r} {p.stderr!r}")
    # Certificates that outlive the chain above them: the note names the
    # certificate that expires first, the county's for the village too.
    town_key, vill_key = os.path.join(d, "town.key"), os.path.join(d, "village.key")
    town, vill = t.keygen(town_key), t.keygen(vill_key)
    town_chain, vill_chain = os.path.join(d, "town.cert"), os.path.join(d, "village.cert")
    for key, cert, issuer, level, area, days, pub in (
            (county_key, chain, town_chain, "township", "630121101000", "60", town),
            (town_key, town_chain, vill_chain, "village", "630121101001", "90", vill)):
        p = ctl("cert", "issue", "--issuer-key", key, "--issuer-cert", cert, "--level", level,
                "--area", area, "--days", days, "--pub", pub, "--out", issuer)
        check(p.returncode == 0 and re.search(
                  r"note: the chain expires first, at .*: the certificate of the county "
                  r"630121000000( \(the issuer\))?$", p.stdout.strip(), re.M)
              and ("(the issuer)" in p.stdout) == (level == "township"),
              f"cert issue {level} for {days} days under a 30-day county: {p.stdout!r} "
              f"{p.stderr!r}")
    # a chain that does not verify: exit 1, one line
    one_line_error(t, ctl("cert", "verify", "--root", county, chain), "cert verify, wrong root",
                   r"wrong root")
    bad = os.path.join(d, "bad.cert")
    base = ["cert", "issue", "--issuer-key", prov_key, "--root", "--pub", county, "--out", bad]
    for opt, val, more in (("--days", "-3", ["--level", "county", "--area", "630121000000"]),
                           ("--level", "hamlet", ["--days", "3", "--area", "630121000000"]),
                           ("--area", "6301", ["--days", "3", "--level", "county"]),
                           ("--pub", "xyz", ["--days", "3", "--level", "county",
                                             "--area", "630121000000"])):
        argv = [a for a in base if a not in ("--pub", county)] if opt == "--pub" else base
        usage_error(t, ctl(*argv, *more, opt, val), f"cert issue {opt} {val}", "cert issue",
                    opt, f"'{val}'")
    check(not os.path.exists(bad), "a certificate was written despite a bad value")


def part_conventions(t, village):
    """Against a running node: permutation, --opt=value, -cFILE, the global
    options after the command, import --json, notice print --json."""
    conf = village.conf
    want = t.status(village)
    for argv in ([f"-c{conf}", "status", "--json"], ["status", "-c", conf, "--json"],
                 ["status", "--json", f"--config={conf}"],
                 ["status", f"-c{conf}", "--timeout=20", "--json"],
                 ["--timeout", "20", "status", "--json", "--config", conf]):
        p = ctl(*argv)
        check(p.returncode == 0, f"jzfpctl {' '.join(argv)}: exit {p.returncode}, "
              f"{p.stderr.strip()!r}")
        got = json.loads(p.stdout)
        check_eq(sorted(got), sorted(want), f"jzfpctl {' '.join(argv)}: keys")
    p = ctl("--json", "status", "-c", conf)
    usage_error(t, p, "--json before the command (not a global option)", "", "'--json'")

    # the same rollup, asked in five ways
    base = ctl("-c", conf, "rollup", "--level", "village", "--format", "csv")
    check(base.returncode == 0 and base.stdout.count("\n") >= 2,
          f"rollup --format csv: exit {base.returncode}, {base.stdout!r} {base.stderr!r}")
    for argv in (["rollup", "--format=csv", "-c", conf, "--level=village"],
                 ["rollup", "--level", "village", f"-c{conf}", "--format", "csv"],
                 [f"--config={conf}", "rollup", "--format=csv", "--level", "village"]):
        p = ctl(*argv)
        check_eq((p.returncode, p.stdout), (0, base.stdout), f"jzfpctl {' '.join(argv)}")
    a, b = ctl("-c", conf, "rollup", "--json", "--level=village"), \
        ctl("rollup", "--level", "village", "--format", "json", "-c", conf)
    check(a.returncode == 0 and a.stdout == b.stdout and json.loads(a.stdout) is not None,
          f"rollup --json vs --format json: {a.stdout[:200]!r} {b.stdout[:200]!r}")
    usage_error(t, ctl("-c", conf, "rollup", "--json", "--format", "csv"),
                "rollup --json --format csv", "rollup", "--format")

    # import: options before the file, --json summary
    d = os.path.join(t.dir, "conv")
    os.mkdir(d)
    n = 4
    files = jt.gen_households(os.path.join(d, "hh_{village}.csv"), [VILLAGE], n, seed="conv",
                              year=YEAR, new=True, first_serial=900)
    path = files[VILLAGE]
    rows = len([r for r in hh_rows(path)[1:] if r and r[0].strip()])
    p = ctl("import", "--json", "households", "-c", conf, path)
    check_eq(p.returncode, 0, f"import --json households -c CONF FILE: exit ({p.stderr[-300:]})")
    got = json.loads(p.stdout)
    check_eq(sorted(got), sorted(["file", "kind", "households", "rows", "created", "proposals",
                                  "unchanged", "refused", "rejected_bad",
                                  "shared_persons", "kept_proposals", "why"]),
             "import --json: keys")
    check_eq((got["file"], got["kind"], got["households"], got["rows"], got["created"],
              got["unchanged"], got["refused"], got["rejected_bad"],
              got["shared_persons"], got["kept_proposals"]),
             (path, "households", n, rows, n, 0, 0, 0, 0, 0), "import --json: counts")
    check(0 <= got["proposals"] <= n, f"import --json: proposals {got}")
    p = ctl(f"-c{conf}", "import", "households", path, "--json")
    check(p.returncode == 0 and json.loads(p.stdout)["unchanged"] == n and
          json.loads(p.stdout)["created"] == 0, f"import again, --json last: {p.stdout!r}")
    # --recorded before or after the file: the same answer (a village may not)
    a = ctl("-c", conf, "import", "households", "--recorded", path)
    b = ctl("-c", conf, "import", "households", path, "--recorded")
    check(a.returncode == b.returncode != 2 and a.stderr == b.stderr and a.stdout == b.stdout,
          f"import --recorded before/after FILE: exit {a.returncode}/{b.returncode}, "
          f"{a.stderr.strip()!r} / {b.stderr.strip()!r}")
    usage_error(t, ctl("-c", conf, "import", "census", path, "--recorded"),
                "import census --recorded", "import", "--recorded")
    usage_error(t, ctl("-c", conf, "import", "people", path), "import people", "import",
                "'people'")
    # notice print --json is the node's to judge: never a usage error
    p = ctl("-c", conf, "notice", "print", "--json", "--all")
    check(p.returncode in (0, 1) and "usage:" not in p.stderr,
          f"notice print --json: exit {p.returncode}, {p.stderr.strip()!r}")
    if p.returncode == 1:
        one_line_error(t, p, "notice print --json refused by the node")
    # the node's own judgement stays exit 1 with one line
    one_line_error(t, ctl("-c", conf, "household", "show", VILLAGE + "9999", "--json"),
                   "household show of a household not held (--json)")


def test(t):
    part_help(t)
    part_version(t)
    part_usage_errors(t)
    part_keygen(t)
    part_cert_json(t)
    t.receipt_ms = 3600000  # record counts are checked exactly: no receipts meanwhile
    t.add("630000000000", "province", "青海省")
    village = t.add(VILLAGE, "village", "新庄村")
    t.start_all()
    for part in (part_bad_config, part_not_running, part_killed, part_bad_csv, part_conventions):
        jt.log(part.__name__)
        part(t, village)


if __name__ == "__main__":
    jt.main(test)
