#!/usr/bin/env python3
"""jzfpctl export households and the rollup's Excel outputs (issue 10 item 2).

Tree: province 630000000000, county 630121000000, township 630121101000,
village node 630121101001; village 630121101002 has no node. The county
migrates the register of both villages (import --recorded) and their census
(village 630121101001's census name is =HYPERLINK("x"), and one member's
name begins with '='); the village then edits one household's income (a new
effective head, official status kept) and proposes a status change for
another (an open proposal: not exported as the status).

  - `export households` at the county (CSV): UTF-8 BOM, CRLF, the import's
    Chinese headers, one row per person, nothing sealed; the member name
    beginning with '=' is written as text ("'=...").
  - A fresh province + county (same codes, another directory) imports the
    census and the exported CSV with --recorded: its `rollup --format csv`
    equals the original county's at the village, township and county levels
    (without the pending column).
  - `--english` gives the English header; `--under` the village only.
  - xlsx: a zip whose first worksheet holds the Chinese headers
    and a household id as a string cell (not a number).
  - At the province: every member sealed (name and ID number empty) and
    counted in the summary.
  - `rollup --format csv` writes the census name as "'=HYPERLINK(""x"")";
    `rollup --excel FILE` is BOM + Chinese headers + CRLF; `rollup --format
    xlsx FILE` has the area code as a string and the population as a number.
"""

import csv
import io
import json
import os
import posixpath
import re
import shutil
import subprocess
import zipfile

import jzfptest as jt
from jzfptest import check, check_eq

YEAR = 2020
# Members of the xlsx package, named by the format (OOXML), not files here.
WORKBOOK = posixpath.join("xl", "workbook.xml")
SHEET1 = posixpath.join("xl", "worksheets", "sheet1.xml")
SHARED_STRINGS = posixpath.join("xl", "sharedStrings.xml")
STYLES = posixpath.join("xl", "styles.xml")
P, C, T = "630000000000", "630121000000", "630121101000"
V1, V2 = "630121101001", "630121101002"
HOUSEHOLDS = 12
EVIL = '=HYPERLINK("x")'


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def csv_rows(path):
    data = read_bytes(path)
    check(data.startswith(b"\xef\xbb\xbf"), f"{path}: no UTF-8 BOM")
    text = data[3:].decode("utf-8")
    check("\r\n" in text and "\n" not in text.replace("\r\n", ""),
          f"{path}: lines are not CRLF")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    # Numbers of 12 digits or more (area codes, household ids, ID numbers)
    # begin with a tab, which keeps them text in Excel; every one does.
    long = re.compile(r"\t?[0-9]{12,}")
    cells = [c for r in rows for c in r if long.fullmatch(c)]
    check(cells and all(c.startswith("\t") for c in cells),
          f"{path}: long numbers without the tab: {[c for c in cells if c[0] != chr(9)][:5]}")
    return [[c[1:] if long.fullmatch(c) else c for c in r] for r in rows]


def rollups(t, n):
    """rollup --format csv under C at each level, without the pending column
    and, above the villages, without the name: a township's name comes from
    its node's record, not from the register (the fresh tree has no
    township node)."""
    out = {}
    for level in ("village", "township", "county"):
        rows = t.rollup(n, level, under=C)
        for r in rows:
            r.pop("pending", None)
            if level != "village":
                r.pop("name", None)
        out[level] = rows
    return out


def evil_census(path, villages):
    jt.gen_census(path, villages, YEAR, seed=7)
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    col = jt._columns(rows[0], jt.CENSUS_COLS)
    for r in rows[1:]:
        if r and r[col["village"]].strip() == V1:
            r[col["name"]] = EVIL
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def evil_member(path):
    """Give the first non-head member of the file a name beginning with '='."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    head = [h.strip() for h in rows[0]]
    cn = next(i for i, h in enumerate(head) if h in ("name", "姓名"))
    cr = next(i for i, h in enumerate(head) if h in ("relation", "与户主关系"))
    for r in rows[1:]:
        if r and int(r[cr]) != 1:
            r[cn] = "=1+2"
            break
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def test(t):
    prov = t.add(P, "province", "青海省")
    county = t.add(C, "county", "湟中区")
    town = t.add(T, "township", "鲁沙尔镇")
    v1 = t.add(V1, "village", "一村")
    t.start_all()
    t.wait_synced()

    files = jt.gen_households(os.path.join(t.dir, "hh-{village}.csv"), [V1, V2], HOUSEHOLDS,
                              seed=11, year=YEAR)
    evil_member(files[V1])
    census = os.path.join(t.dir, "census.csv")
    evil_census(census, [V1, V2])
    t.import_ok(county, "census", census)
    for v in (V1, V2):
        p = t.import_file(county, "households", files[v], "--recorded")
        check(p.returncode == 0, f"import {v} --recorded: {p.stderr}")
    t.wait_synced()

    hids = sorted({r[0] for r in csv.reader(open(files[V1], encoding="utf-8-sig"))
                   if r and r[0].isdigit()})
    check(len(hids) == HOUSEHOLDS, f"households of {V1}: {len(hids)}")
    # A new effective head (income) and an open proposal at the village.
    t.ctl_text(v1, "household", "edit", hids[0], "--income", "5100")
    shown = t.ctl(v1, "household", "show", hids[1], "--json")
    target = "2" if shown.get("official_status") in (1, 4) else "1"
    out = t.ctl_text(v1, "household", "edit", hids[1], "--status", target)
    check("a proposal" in out, f"edit --status of {hids[1]}: {out}")
    t.wait_synced()

    # ---------------------------------------------------------- CSV at the county
    exp = os.path.join(t.dir, "export.csv")
    p = t.run_ctl(county, "export", "households", exp)
    check(p.returncode == 0, f"export at the county: exit {p.returncode}: {p.stderr}")
    check("sealed" not in p.stdout, f"the county reads everything: {p.stdout}")
    check_eq(os.stat(exp).st_mode & 0o777, 0o600, "export file mode")
    rows = csv_rows(exp)
    check_eq(rows[0][:4], ["户编号", "村代码", "姓名", "身份证号"], "export header")
    check_eq(len(rows[0]), 19, "export columns")
    persons = sum(1 for f in files.values() for r in csv.reader(open(f, encoding="utf-8-sig"))
                  if r and r[0].isdigit())
    check_eq(len(rows) - 1, persons, "export rows (one per person)")
    m = re.search(r"exported (\d+) households, (\d+) persons", p.stdout)
    check(m and int(m.group(1)) == 2 * HOUSEHOLDS and int(m.group(2)) == persons,
          f"export summary: {p.stdout!r}")
    raw = read_bytes(exp).decode("utf-8-sig")
    check(any(c == "'=1+2" for r in rows for c in r) and ",=1+2" not in raw,
          "a name beginning with '=' is not neutralised in the export")
    by_id = {r[0]: r for r in rows[1:]}
    check_eq(by_id[hids[0]][11], "5100.00", "the edited income (effective head)")
    # The status column is the official status, not the open proposal's.
    off = t.ctl(county, "household", "show", hids[1], "--json")["official_status"]
    st = by_id[hids[1]][12]
    check_eq(jt.STATUS_NAMES.get(st), off, f"exported status of {hids[1]} ({st})")
    # Read back where it was written (an operator's Excel round trip): every
    # household unchanged, the open proposal of hids[1] standing, although
    # its row gives the official status and not the proposal's.
    p = t.import_file(county, "households", exp)
    check(p.returncode == 0, f"re-import at the county: exit {p.returncode}: {p.stderr}")
    check(re.search(rf"\b0 new .*\b{2 * HOUSEHOLDS} unchanged, 0 refused", p.stdout)
          and "1 household given its official status while a proposal to another is open"
          in p.stdout, f"the export read back where it was written: {p.stdout!r} {p.stderr!r}")
    # Not in a migration: an old register disagreeing with an open proposal
    # is refused there, as before.
    p = t.import_file(county, "households", exp, "--recorded")
    check(p.returncode == 1 and f"household {hids[1]} has an open proposal" in p.stderr
          and re.search(rf"\b{2 * HOUSEHOLDS - 1} unchanged, 1 refused", p.stdout),
          f"the export read back with --recorded: {p.returncode} {p.stdout!r} {p.stderr!r}")
    open_now = {x["household"]: x["state"] for x in t.ctl(county, "proposals", "--json")["proposals"]}
    check_eq(open_now.get(hids[1]), "PROPOSED", f"{hids[1]}'s proposal after the read back")

    # --english, --under
    exp_en = os.path.join(t.dir, "export-en.csv")
    p = t.run_ctl(county, "export", "households", "--english", "--under", V2, exp_en)
    check(p.returncode == 0, f"export --english --under: {p.stderr}")
    rows_en = csv_rows(exp_en)
    check_eq(rows_en[0][:3], ["household_id", "village", "name"], "English header")
    check(rows_en[1:] and all(r[1] == V2 for r in rows_en[1:]), "--under: other villages")

    # ---------------------------------------------------------- re-import elsewhere
    want = rollups(t, county)
    t2 = jt.Tree("export-fresh")
    t2.tag_key = t.tag_key
    try:
        t2.add(P, "province", "青海省")
        c2 = t2.add(C, "county", "湟中区")
        t2.start_all()
        t2.wait_synced()
        t2.import_ok(c2, "census", census)
        p = t2.import_file(c2, "households", exp, "--recorded")
        check(p.returncode == 0, f"re-import of the export: exit {p.returncode}: "
              f"{p.stderr.strip()[-400:]} {p.stdout.strip()[-400:]}")
        t2.wait_synced()
        got = rollups(t2, c2)
        for level in want:
            check_eq(got[level], want[level], f"rollup --level {level} after the re-import")
        t2.stop_all()
    finally:
        t2.cleanup_processes()
    shutil.rmtree(t2.dir, ignore_errors=True)

    # ---------------------------------------------------------- xlsx
    xl = os.path.join(t.dir, "export.xlsx")
    p = t.run_ctl(county, "export", "households", "--format", "xlsx", xl)
    check(p.returncode == 0, f"export --format xlsx: {p.stderr}")
    with zipfile.ZipFile(xl) as z:
        check(z.testzip() is None, "xlsx: a corrupt member")
        names = z.namelist()
        check(WORKBOOK in names and SHEET1 in names,
              f"xlsx members: {names}")
        sheet = z.read(SHEET1).decode("utf-8")
        book = z.read(WORKBOOK).decode("utf-8")
        shared = z.read(SHARED_STRINGS).decode("utf-8") \
            if SHARED_STRINGS in names else ""
        styles = z.read(STYLES).decode("utf-8")
    # The text columns have the text format (built-in number format 49,
    # "@"), so that an id typed into the sheet later stays text; income
    # (column 12) and the year (14) are numbers.
    xfs = re.search(r"<cellXfs[^>]*>(.*?)</cellXfs>", styles, re.S)
    xfs = re.findall(r"<xf [^>]*>", xfs.group(1)) if xfs else []
    text_xf = [str(i) for i, x in enumerate(xfs) if 'numFmtId="49"' in x]
    cols = {int(re.search(r'min="(\d+)"', c).group(1)):
            (re.search(r'style="(\d+)"', c) or re.search("()", "")).group(1)
            for c in re.findall(r"<col [^>]*/>", sheet)}
    check(len(text_xf) == 1 and len(cols) == 19, f"xlsx: styles {xfs}, columns {cols}")
    check_eq(sorted(c for c, s in cols.items() if s != text_xf[0]), [12, 14],
             "xlsx: the columns without the text format")
    # Income shows two decimals (a "0.00" number format of its own); the
    # header row is frozen and carries a filter over every row written.
    fmts = dict(re.findall(r'<numFmt numFmtId="(\d+)" formatCode="([^"]*)"', styles))
    income_xf = xfs[int(cols[12])] if cols.get(12) else ""
    m = re.search(r'numFmtId="(\d+)"', income_xf)
    check(m and fmts.get(m.group(1)) == "0.00", f"xlsx: income's format {income_xf} {fmts}")
    check(re.search(r'<pane [^>]*ySplit="1"[^>]*state="frozen"', sheet),
          "xlsx: the header row is not frozen")
    check(f'<autoFilter ref="A1:S{persons + 1}"/>' in sheet,
          f"xlsx: no filter over the {persons} rows: "
          f"{re.findall(r'<autoFilter[^>]*>', sheet)}")
    # The tab Excel shows is named in the headers' language.
    check_eq(re.findall(r'<sheet name="([^"]*)"', book), ["建档立卡户"], "xlsx: the sheet's name")
    for h in ("户编号", "身份证号", "主要致贫原因"):
        check(h in sheet or h in shared, f"xlsx: header {h} missing")
    check(re.search(r"<c [^>]*t=\"(inlineStr|s|str)\"[^>]*>(<is>)?<t[^>]*>" + hids[0], sheet)
          or (hids[0] in shared), f"xlsx: household id {hids[0]} not a string cell")
    check(f"<v>{hids[0]}</v>" not in sheet, "xlsx: a household id written as a number")
    xl_en = os.path.join(t.dir, "export-en.xlsx")
    p = t.run_ctl(county, "export", "households", "--english", "--format", "xlsx", xl_en)
    check(p.returncode == 0, f"export --english --format xlsx: {p.stderr}")
    with zipfile.ZipFile(xl_en) as z:
        book = z.read(WORKBOOK).decode("utf-8")
        sheet = z.read(SHEET1).decode("utf-8")
        shared = z.read(SHARED_STRINGS).decode("utf-8") if SHARED_STRINGS in z.namelist() else ""
    check_eq(re.findall(r'<sheet name="([^"]*)"', book), ["households"],
             "xlsx --english: the sheet's name")
    check("household_id" in sheet or "household_id" in shared, "xlsx --english: its header")

    # ---------------------------------------------------------- province
    exp_p = os.path.join(t.dir, "export-province.csv")
    p = t.run_ctl(prov, "export", "households", exp_p)
    check(p.returncode == 0, f"export at the province: {p.stderr}")
    rows_p = csv_rows(exp_p)
    check_eq(len(rows_p) - 1, persons, "rows at the province")
    check(all(r[2] == "" and r[3] == "" for r in rows_p[1:]),
          "the province wrote a name or an ID number")
    m = re.search(r"(\d+) members sealed", p.stdout)
    check(m and int(m.group(1)) == persons, f"province summary: {p.stdout!r}")
    check_eq([r[0] for r in rows_p[1:]], [r[0] for r in rows[1:]], "household ids at the province")

    # ---------------------------------------------------------- rollup outputs
    text = t.ctl_text(county, "rollup", "--level", "village", "--format", "csv")
    check('"\'=HYPERLINK(""x"")"' in text, f"rollup csv: census name not neutralised: {text}")
    ex = os.path.join(t.dir, "rollup.csv")
    t.ctl_text(county, "rollup", "--level", "village", "--excel", ex)
    rx = csv_rows(ex)
    check_eq(rx[0][:4], ["地区代码", "层级", "名称", "年度"], "rollup --excel header")
    check_eq(rx[0][-1], "待审提案", "rollup --excel last header")
    check(any(r[2] == "'" + EVIL for r in rx[1:]), f"rollup --excel: name cells {rx}")
    # The level and below-the-threshold in Chinese, as the header is; the
    # same rows as the CSV otherwise.
    plain = list(csv.reader(io.StringIO(text)))
    check_eq([r[1] for r in rx[1:]], ["村" for _ in rx[1:]], "rollup --excel: 层级 in Chinese")
    check_eq([{"yes": "是", "no": "否", "": ""}[r[9]] for r in plain[1:]],
             [r[9] for r in rx[1:]], "rollup --excel: 低于退出线 as 是/否")
    check_eq([r[3:9] + r[10:] for r in plain[1:]], [r[3:9] + r[10:] for r in rx[1:]],
             "rollup --excel: the figures as in the CSV")
    rxl = os.path.join(t.dir, "rollup.xlsx")
    said = t.ctl_text(county, "rollup", "--level", "village", "--format", "xlsx", rxl)
    check_eq(said.strip(), f"wrote {len(rx) - 1} rollup row(s) to {rxl}",
             "rollup --format xlsx FILE says what it wrote")
    with zipfile.ZipFile(rxl) as z:
        s = z.read(SHEET1).decode("utf-8")
        book = z.read(WORKBOOK).decode("utf-8")
    check("贫困发生率(%)" in s, "rollup xlsx: Chinese header missing")
    check_eq(re.findall(r'<sheet name="([^"]*)"', book), ["贫困发生率"], "rollup xlsx: the sheet's name")
    check(re.search(r't="inlineStr"[^>]*><is><t>' + V1, s), f"rollup xlsx: area as text: {s[:800]}")
    check(re.search(r"<c r=\"E2\"[^>]*><v>\d+</v>", s), "rollup xlsx: population not a number")
    # 贫困发生率(%) a number shown with two decimals, as rollup gives it.
    with zipfile.ZipFile(rxl) as z:
        rstyles = z.read(STYLES).decode("utf-8")
    rxfs = re.findall(r"<xf [^>]*>", re.search(r"<cellXfs[^>]*>(.*?)</cellXfs>", rstyles,
                                               re.S).group(1))
    rfmts = dict(re.findall(r'<numFmt numFmtId="(\d+)" formatCode="([^"]*)"', rstyles))
    h2 = re.search(r'<c r="H2" s="(\d+)"[^>]*><v>([0-9.]+)</v>', s)
    fmt = h2 and re.search(r'numFmtId="(\d+)"', rxfs[int(h2.group(1))])
    check(fmt and rfmts.get(fmt.group(1)) == "0.00" and h2.group(2) ==
          str(float(rx[1][7])).rstrip("0").rstrip("."),
          f"rollup xlsx: the incidence cell {h2 and h2.group(0)} against {rx[1][7]}")
    p = t.run_ctl(county, "rollup", "--format", "xlsx")
    check_eq(p.returncode, 2, "rollup --format xlsx without FILE")
    # jzfpctl opens libxlsxwriter only to write a workbook: on a machine
    # without it, a clear error, no file, and CSV still works.
    nolib = os.path.join(t.dir, "nolib.xlsx")
    p = subprocess.run([jt.JZFPCTL, "-c", county.conf, "rollup", "--format", "xlsx", nolib],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, JZFP_TEST_XLSXWRITER="libjzfp-absent.so.0"))
    check(p.returncode != 0 and "xlsx needs libxlsxwriter" in p.stderr
          and "libjzfp-absent.so.0" in p.stderr, f"xlsx without the library: {p.returncode} {p.stderr!r}")
    check(not os.path.exists(nolib), "xlsx without the library left a file")
    # A path there is never loaded: the library of the build is.
    p = subprocess.run([jt.JZFPCTL, "-c", county.conf, "rollup", "--format", "xlsx", nolib],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, JZFP_TEST_XLSXWRITER=os.path.join(t.dir, "x.so")))
    check(p.returncode == 0 and zipfile.is_zipfile(nolib),
          f"xlsx with a path named: {p.returncode} {p.stderr!r}")

    # ---------------------------------------------------------- a person twice
    # A new household whose head is a person already registered (the head
    # of hids[2]): imported, and the summary says so, as `conflicts` does.
    dup = os.path.join(t.dir, "dup.csv")
    head = next(r for r in rows[1:] if r[0] == hids[2] and r[4] == "01")
    new_id = V2 + "9901"
    with open(dup, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(rows[0])
        w.writerow([new_id, V2] + head[2:12] + ["非贫困户"] + head[13:])
    p = t.import_file(county, "households", dup)
    check(p.returncode == 0 and re.search(r"\b1 new version", p.stdout) and
          "1 member of the households imported is also in another household" in p.stdout,
          f"import of a person already registered: {p.returncode} {p.stdout!r} {p.stderr!r}")
    # (the new household's one member is all of it: "claimed by two villages")
    check(any(c["kind"] == "claimed_by_two_villages" and sorted(c["households"]) ==
              sorted([hids[2], new_id])
              for c in t.ctl(county, "conflicts", "--json")["conflicts"]),
          f"conflicts at the county after {new_id}")
    # Imported again: nothing new, nothing more said.
    p = t.import_file(county, "households", dup, "--json")
    check_eq((json.loads(p.stdout)["unchanged"], json.loads(p.stdout)["shared_persons"]),
             (1, 0), f"the same household again: {p.stdout!r}")

if __name__ == "__main__":
    jt.main(test)
