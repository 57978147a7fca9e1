#!/usr/bin/env python3
"""The village notice as a page to post (issue 10, item 5).

Tree: the province, county 大通县, township 桥头镇 with villages 新庄村 and
a village whose name holds HTML (黄家<b>村&). Both villages import new
registers (identification proposals) and open their first notice
(第一次公示). Then `notice print --all --format html`:

  - at 新庄村: one whole page (doctype, charset, title, A4 print CSS), the
    village's and the township's names, 第一次公示, the window's local dates,
    where to object (桥头镇人民政府, not an area code), 共N户N人 equal to the
    proposals and their members, the seal line; no full name or ID number of
    the input CSV;
  - at 桥头镇: both notices, the odd village name escaped;
  - printed by headless Chromium to PDF: A4 (595x842 points), one page per
    notice; the first page is kept as a PNG under build/test-artifacts/
    (path in the log). Only the Chromium part is skipped, with a message,
    when Chromium cannot run at all.
"""

import csv
import html
import os
import re
import shutil
import subprocess

import chromium
import jzfptest as jt
from jzfptest import check, check_eq

YEAR = 2020
N = 7  # households per village: a notice fits on one A4 page
P, C, T1 = "630000000000", "630121000000", "630121101000"
V1, V2 = "630121101001", "630121101002"
V2_NAME = "黄家<b>村&"


def rows_of(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def check_page(page, what):
    check(page.startswith("<!doctype html>"), f"{what}: no doctype: {page[:80]!r}")
    check('<meta charset="utf-8">' in page, f"{what}: no charset")
    check(re.search(r"<title>[^<]+</title>", page), f"{what}: no title")
    check("@page { size: A4; margin: 15mm }" in page, f"{what}: no A4 print CSS")
    check("break-inside: avoid" in page, f"{what}: household rows may break across pages")
    check(page.rstrip().endswith("</html>"), f"{what}: not a whole page")
    check("<b>" not in page, f"{what}: the name {V2_NAME!r} is not escaped")


def pdf_pages(pdf):
    """The MediaBoxes of the PDF's pages, as [(w, h)] in points."""
    with open(pdf, "rb") as f:
        data = f.read()
    # Chromium (Skia) writes uncompressed page objects: /Type /Page ... /MediaBox [..]
    boxes = []
    for m in re.finditer(rb"/Type\s*/Page(?!s)(.*?)endobj", data, re.S):
        b = re.search(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]",
                      m.group(1))
        check(b is not None, f"{pdf}: a page without a MediaBox")
        x0, y0, x1, y1 = (float(v) for v in b.groups())
        boxes.append((x1 - x0, y1 - y0))
    return boxes


def print_pdf(t, page_path, notices, what, name):
    browser = chromium.start(t, "printing the notice in Chromium")
    if browser is None:
        return
    pdf = os.path.splitext(page_path)[0] + ".pdf"
    p = browser(f"--print-to-pdf={pdf}", "--no-pdf-header-footer",
                "file://" + os.path.abspath(page_path))
    check(p.returncode == 0 and os.path.isfile(pdf) and os.path.getsize(pdf) > 1000,
          f"{what}: chromium --print-to-pdf: exit {p.returncode}: {p.stderr[-500:]}")
    with open(pdf, "rb") as f:
        check(f.read(5) == b"%PDF-", f"{pdf} is not a PDF")
    boxes = pdf_pages(pdf)
    check_eq(len(boxes), notices, f"{what}: pages in the PDF (one per notice)")
    for w, h in boxes:
        check(abs(w - 595.28) < 2 and abs(h - 841.89) < 2,
              f"{what}: a page of {w}x{h} points, not A4 (595x842)")
    text = shutil.which("pdftotext")
    for k in range(1, len(boxes) + 1) if text else ():
        p = subprocess.run([text, "-f", str(k), "-l", str(k), "-enc", "UTF-8", pdf, "-"],
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        check(p.returncode == 0, f"pdftotext: exit {p.returncode}: {p.stderr[-300:]}")
        words = re.sub(r"\s+", "", p.stdout)
        check(words.count("（盖章）") == 1 and words.count("如有异议") == 1,
              f"{what}: page {k} does not hold exactly one notice: {words[:200]!r}")
        # The members column wide enough for several names a line (it was
        # one, a household of five five lines high).
        widest = max((ln.count("*") for ln in p.stdout.splitlines() if "、" in ln), default=0)
        check(widest >= 3, f"{what}: page {k}: at most {widest} member name(s) a line")
    jt.log(f"{what}: Chromium printed {len(boxes)} A4 page(s), one notice each")

    kept = chromium.artifacts()
    shutil.copyfile(pdf, os.path.join(kept, f"{name}.pdf"))
    ppm = shutil.which("pdftoppm")
    if ppm:
        stem = os.path.join(t.dir, f"{name}-page1")
        p = subprocess.run([ppm, "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", pdf,
                            stem], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        png = stem + ".png"
        check(p.returncode == 0 and os.path.isfile(png),
              f"pdftoppm: exit {p.returncode}: {p.stderr[-300:]}")
    else:
        jt.log("pdftoppm not found (Debian poppler-utils): taking a screenshot instead")
        png = os.path.join(t.dir, f"{name}-page1.png")
        p = browser(f"--screenshot={png}", "--window-size=794,1123",
                    "file://" + os.path.abspath(page_path))
        check(p.returncode == 0 and os.path.isfile(png),
              f"chromium --screenshot: exit {p.returncode}: {p.stderr[-500:]}")
    with open(png, "rb") as f:
        check(f.read(8) == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG")
    dst = os.path.join(kept, f"{name}-page1.png")
    shutil.copyfile(png, dst)
    jt.log(f"{what}: the notice's first page as printed: {dst} (PDF beside it)")


def test(t):
    t.add(P, "province", "青海省")
    t.add(C, "county", "大通县")
    t.add(T1, "township", "桥头镇")
    t.add(V1, "village", "新庄村", test_clock=True)  # to end its window
    t.add(V2, "village", V2_NAME)
    t.start_all()
    t1, v1, v2 = t.nodes[T1], t.nodes[V1], t.nodes[V2]

    data = os.path.join(t.dir, "input")
    os.mkdir(data)
    files = jt.gen_households(os.path.join(data, "hh_{village}.csv"), [V1, V2], N,
                              seed="notice", year=YEAR, new=True)
    expect = jt.Expect()
    for v in (V1, V2):
        expect.add_households(files[v])
    t.import_many([(t.nodes[v], "households", files[v]) for v in (V1, V2)])
    t.wait_synced()
    ids = {v: expect.pending_ids(v) for v in (V1, V2)}
    check(all(len(x) >= 3 for x in ids.values()), f"too few identifications: {ids}")
    jt.log(f"identifications: {len(ids[V1])} at {V1}, {len(ids[V2])} at {V2}")
    for v in (v1, v2):
        out = t.ctl(v, "notice", "open", "--all", "--json")
        check_eq(out["proposals"], len(ids[v.area]), f"{v}: notice open --all")
    t.wait_synced()

    rows = rows_of(files[V1])
    col = {h: i for i, h in enumerate(rows[0])}
    mine = [r for r in rows[1:] if r[col["household_id"]] in ids[V1]]
    persons = len(mine)  # one row per member

    # ------------------------------------------------------------ the village's page
    page = t.ctl_text(v1, "notice", "print", "--all", "--format", "html")
    path = os.path.join(t.dir, "notice-village.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    check_page(page, "village notice")
    j = t.ctl(v1, "notice", "print", "--all", "--json")
    check_eq(len(j["notices"]), 1, "notices at the village")
    n0 = j["notices"][0]
    check_eq((n0["count"], n0["persons"]), (len(ids[V1]), persons), "--json: 户 and 人")
    check("<title>新庄村扶贫对象第一次公示</title>" in page, f"the title:\n{page[:600]}")
    check("<h1>新庄村扶贫对象第一次公示</h1>" in page, "the heading: village and kind")
    check(f"共{len(ids[V1])}户{persons}人" in page,
          f"共{len(ids[V1])}户{persons}人 not on the page:\n"
          f"{re.findall(r'共[0-9]+户[0-9]+人', page)}")
    check("如有异议，请于公示期内向桥头镇人民政府（扶贫办）反映" in page,
          "where to object is not the township's name")
    check("新庄村村民委员会<br>（盖章）" in page and "年　　月　　日" in page,
          "no seal and date line for the village committee")
    check(T1 not in page and C not in page, "an office's area code on the page")

    def zh(iso):
        y, m, d = (int(x) for x in iso[:10].split("-"))
        return f"{y}年{m}月{d}日"
    period = f"公示期：{zh(n0['start'])}至{zh(n0['end'])}（{n0['days']}天）"
    check(period in page, f"{period} not on the page: {re.findall(r'公示期：[^<]*', page)}")

    # each member's masked name kept on one line (a span the page does not
    # break), the names of a household apart by 、
    cells = re.findall(r'<td class="m">((?:<span>[^<]+</span>(?:、<span>[^<]+</span>)*)?)</td>',
                       page)
    check_eq(len(cells), len(ids[V1]), "家庭成员 cells, one a household")
    check_eq(sum(c.count("<span>") for c in cells), persons, "member names, each in its span")
    check("td.c span, td.m span { white-space: nowrap }" in page, "member names may break")

    # households sorted by 户编号, one row each, masked
    listed = re.findall(r'<tr><td class="n">\d+</td><td class="id">(\d{16})</td>', page)
    check_eq(listed, sorted(ids[V1]), "households on the page, sorted by 户编号")
    check(re.search(r"630\d{3}\*{8}[0-9X]{4}", page), "no masked ID number on the page")
    for r in mine:
        check(r[col["id_number"]] not in page, "the page shows a full ID number")
        if len(r[col["name"]]) >= 2:
            check(r[col["name"]] not in page, "the page shows a full name")

    # ------------------------------------------------------------ the township's: two pages
    page2 = t.ctl_text(t1, "notice", "print", "--all", "--format", "html")
    path2 = os.path.join(t.dir, "notice-township.html")
    with open(path2, "w", encoding="utf-8") as f:
        f.write(page2)
    check_page(page2, "township notices")
    check_eq(page2.count('<section class="notice">'), 2, "notices on the township's page")
    check(html.escape(V2_NAME, quote=False) + "扶贫对象第一次公示" in page2,
          "the escaped village name is not on the township's page")
    total = len(ids[V1]) + len(ids[V2])
    check_eq(sum(int(x) for x in re.findall(r"共([0-9]+)户", page2)), total,
             "households on the township's page")

    # The text and --json outputs are unchanged by the page.
    text = t.ctl_text(v1, "notice", "print", "--all")
    check("<" not in text and "第一次公示" in text and "如有异议" in text,
          f"the text notice changed:\n{text[:300]}")

    print_pdf(t, path, 1, "village notice", "notice-village")
    print_pdf(t, path2, 2, "township notices", "notice-township")

    # ------------------------------------------------------------ a window that has ended
    # --all prints what is to be posted: once the village's window is over
    # (by its clock) it waits for `notice close` and is left out, counted;
    # a household named is printed anyway.
    days = n0["days"]
    check_eq(t.ctl(v1, "notice", "print", "--all", "--json").get("ended", 0), 0,
             "ended before the window ends")
    t.ctl_text(v1, "clock", "advance", f"{days}d")
    j = t.ctl(v1, "notice", "print", "--all", "--json")
    check_eq((len(j.get("notices", [])), int(j.get("ended", 0))), (0, len(ids[V1])),
             "notice print --all after the window: notices, ended")
    p = t.run_ctl(v1, "notice", "print", "--all")
    check(p.returncode == 0 and f"left out {len(ids[V1])} household(s) whose window has "
          "ended" in p.stderr and "left out" not in p.stdout,
          f"the ended window is not said on stderr: {p.returncode} {p.stderr!r}")
    one = sorted(ids[V1])[0]
    j = t.ctl(v1, "notice", "print", one, "--json")
    check_eq([h["household"] for n in j["notices"] for h in n["households"]], [one],
             "a named household of an ended window")
    # The township's clock has not moved: both villages' windows still print there.
    check_eq(t.ctl(t1, "notice", "print", "--all", "--json")["count"], total,
             "the township's notices")


if __name__ == "__main__":
    jt.main(test)
