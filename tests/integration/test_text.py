#!/usr/bin/env python3
"""Text from anywhere (DESIGN §4, §8; the trust issue's item 4).

A province, a county, a township and a village.

  - From the control socket: a reason holding a terminal escape or a
    reordering mark is refused, naming the character; a reason that looks
    like a phone or ID number is refused (free text is not sealed); nothing
    is signed either way.
  - From a CSV file: a name with an escape sequence is refused with its line
    and column, and nothing is imported.
  - Into a spreadsheet: a census name that Excel would run as a formula,
    =HYPERLINK(...), comes out of `rollup --format csv` as text.
  - The daemon's log never holds a raw control character.
"""

import csv
import io
import os

import jzfptest as jt
from jzfptest import check, check_eq

YEAR = 2020
VILLAGE = "630121101001"
HID = "6301211010010001"


def refused(t, n, args, what):
    before = t.status(n)["own_records"]
    p = t.run_ctl(n, *args)
    check(p.returncode == 1 and what in p.stderr,
          f"{' '.join(args)!r}: exit {p.returncode}, stderr {p.stderr!r} (want {what!r})")
    check(len(p.stderr.strip().splitlines()) == 1, f"one line for {args!r}: {p.stderr!r}")
    check_eq(t.status(n)["own_records"], before, f"{n}: records signed by a refused request")
    return p.stderr


def test(t):
    t.add("630000000000", "province", "青海省")
    t.add("630121000000", "county", "大通县")
    t.add("630121101000", "township", "桥头镇")
    village = t.add(VILLAGE, "village", "新庄村")
    t.start_all()
    t.wait_synced(receipts=False)

    # ---- a census name that is a formula to Excel
    census = os.path.join(t.dir, "census.csv")
    with open(census, "w", encoding="utf-8", newline="") as f:
        f.write("village,name,year,households,population\n")
        f.write(f'{VILLAGE},"=HYPERLINK(""http://x"",""村"")",{YEAR},100,400\n')
    t.import_ok(village, "census", census)
    t.wait_synced(receipts=False)
    prov = t.province()
    out = t.ctl_text(prov, "rollup", "--level", "village", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    row = next((r for r in rows[1:] if r[0] == VILLAGE), None)
    check(row is not None, f"no rollup row for {VILLAGE}: {out!r}")
    check_eq(row[2], "'=HYPERLINK(\"http://x\",\"村\")", "the formula name as a CSV cell")
    check(not any(c.startswith(("=", "+", "@")) for r in rows for c in r),
          f"a cell a spreadsheet would run: {rows}")

    # ---- households with a hostile name: refused with line and column
    bad = os.path.join(t.dir, "bad.csv")
    with open(bad, "w", encoding="utf-8", newline="") as f:
        f.write("household_id,village,name,id_number,relation,sex,birth_date,health,labour,"
                "attribute,main_cause,income,status,year\n")
        f.write(f"{HID},{VILLAGE},张\x1b]0;pwned\x07三,630121197001010013,01,1,1970-01-01,"
                f"1,1,1,1,3512.5,1,{YEAR}\n")
    p = t.import_file(village, "households", bad)
    check(p.returncode == 1, f"import of a file with an escape: exit {p.returncode}")
    check(f"{bad}:2: name: control character U+001B" in p.stderr,
          f"the import names line and column: {p.stderr!r}")
    check("\x1b" not in p.stderr, "jzfpctl echoed the escape")

    # ---- reasons from the control socket
    refused(t, village, ["object", HID, "--reason", "看\x1b[2J这里"], "U+001B")
    refused(t, village, ["object", HID, "--reason", "名单\u202e有误"], "U+202E")
    refused(t, village, ["object", HID, "--reason", "请联系 138-1234-5678"], "phone number")
    refused(t, village, ["object", HID, "--reason", "身份证 630121197001010013 重复"],
            "ID number")
    refused(t, village, ["object", HID, "--reason", "名单有误", "--name", "张\x07三"], "U+0007")

    # ---- the daemon's logs
    for n in t.nodes.values():
        with open(n.logfile, encoding="utf-8", errors="replace") as f:
            text = f.read()
        check(not any(ch in text for ch in ("\x1b", "\x07", "\u202e")),
              f"{n}: a raw control character in the log")


if __name__ == "__main__":
    jt.main(test)
