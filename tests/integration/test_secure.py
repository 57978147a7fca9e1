#!/usr/bin/env python3
"""Secure unless told otherwise (issue 11, items 1 and 2), with real daemons.

- The example configs (configs/*.ini) do not parse as they are: the first
  placeholder is named (its line and key); none holds a usable key, none
  listens beyond 127.0.0.1, the province's holds no tag_key.
- jzfpd refuses to start: without [trust] root_key (unless insecure = yes), a
  province holding tag_key, a config holding tag_key that group or others can
  read (jzfpctl too), a data directory that group or others can enter; each
  with the fix named, and without leaving a control socket behind.
- jzfpctl refuses to import households without tag_key (at the province,
  which holds none, saying where households are imported).
- insecure = yes starts, warns in the log and shows in status (text and
  JSON); a data directory jzfpd makes is 0700 whatever the umask.
- A province with root_key (its own key) runs certified: status says so.
"""

import glob
import json
import os
import re
import stat

import jzfptest as jt
from jzfptest import check, check_eq

P, C = "630000000000", "630121000000"


def write(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(fd, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def refused(argv, want, what):
    """Run argv (jzfpd or jzfpctl, which must exit at once): exit 1 and one
    stderr line matching the regex want."""
    p = jt.run(argv, timeout=30 * jt.SLOW)
    err = p.stderr.strip()
    check(p.returncode == 1, f"{what}: exit {p.returncode}, expected 1; stderr {err!r}")
    check(re.search(want, err) is not None, f"{what}: stderr {err!r} does not match {want!r}")
    return err


def part_examples(t):
    d = os.path.join(t.dir, "examples")
    os.mkdir(d, 0o700)
    files = sorted(glob.glob(os.path.join(jt.SRC, "configs", "*.ini")))
    check(len(files) == 4, f"expected 4 example configs, found {files}")
    for src in files:
        name = os.path.basename(src)
        with open(src, encoding="utf-8") as f:
            text = f.read()
        lines = text.splitlines()
        check(not re.search(r"^\s*[a-z_]+\s*=\s*[0-9a-fA-F]{64}\s*$", text, re.M),
              f"{name}: holds a usable 64-hex key")
        check(not re.search(r"0\.0\.0\.0|tcp://\*", text), f"{name}: listens beyond 127.0.0.1")
        for ln in lines:
            if ln.startswith("listen"):
                check(ln.startswith("listen = tcp://127.0.0.1:"), f"{name}: {ln!r}")
        if name == "province.ini":
            check(not re.search(r"^tag_key", text, re.M), "province.ini holds a tag_key")
        first = next((i for i, ln in enumerate(lines, 1)
                      if not ln.startswith((";", "#")) and "REPLACE_WITH_" in ln), None)
        check(first is not None, f"{name}: no REPLACE_WITH_ placeholder")
        m = re.match(r"([a-z_]+) = REPLACE_WITH_", lines[first - 1])
        check(m is not None, f"{name}:{first}: placeholder line {lines[first - 1]!r}")
        key = m.group(1)
        section = next(ln.strip("[]") for ln in reversed(lines[:first]) if ln.startswith("["))
        path = os.path.join(d, name)
        write(path, text)  # mode 0600: the placeholder, not the mode, is what fails
        want = rf"^{{prog}}: {re.escape(path)}:{first}: \[{section}\] {key}: "
        refused([jt.JZFPCTL, "-c", path, "status"], want.format(prog="jzfpctl"),
                f"jzfpctl -c {name}")
        refused([jt.JZFPD, "--config", path], want.format(prog="jzfpd"), f"jzfpd {name}")
    jt.log(f"example configs refused at their first placeholder: {len(files)}")


def province_conf(prov, trust):
    return ("[node]\nlevel = province\narea = " + P + "\nname = P\ndata_dir = data\n"
            "key = node.key\n[link]\nlisten = tcp://127.0.0.1:*\n[trust]\n" + trust)


def county_conf(prov, trust=""):
    """A county config below PROV, with TRUST after its [link] section."""
    return (f"[node]\nlevel = county\narea = {C}\ndata_dir = data\nkey = node.key\n"
            f"[link]\nparent = tcp://127.0.0.1:1\nparent_key = {prov.pub}\n" + trust)


def part_refusals(t, prov, county):
    # Without root_key and without insecure = yes: refused, nothing made.
    conf = os.path.join(prov.dir, "secure.conf")
    write(conf, province_conf(prov, ""))
    err = refused([jt.JZFPD, "--config", conf],
                  r"cannot start: no \[trust\] root_key: .*jzfpctl cert root.*"
                  r"\[trust\] insecure = yes", "province without root_key")
    check(not os.path.exists(prov.data), f"a refused province left {prov.data}: {err}")
    cconf = os.path.join(county.dir, "secure.conf")
    write(cconf, county_conf(prov))
    refused([jt.JZFPD, "--config", cconf], r"no \[trust\] root_key and cert: ",
            "county without root_key and cert")

    # A province holding the tag key: refused, even certified.
    write(conf, province_conf(prov, f"root_key = {prov.pub}\ntag_key = {t.tag_key}\n"))
    refused([jt.JZFPD, "--config", conf],
            rf"^jzfpd: {re.escape(conf)}:11: \[trust\] tag_key: a province node must not hold "
            r"the tag key: tags plus the key reveal ID numbers", "province with tag_key")

    # A county config holding the tag key, readable by group or others.
    write(cconf, county_conf(prov, f"[trust]\ninsecure = yes\ntag_key = {t.tag_key}\n"),
          mode=0o644)
    want = (rf"{re.escape(cconf)}:11: \[trust\] tag_key: mode 644 lets group or others read "
            rf"this key; chmod 600 {re.escape(cconf)}$")
    refused([jt.JZFPD, "--config", cconf], "^jzfpd: " + want, "county config 0644 with tag_key")
    refused([jt.JZFPCTL, "-c", cconf, "status"], "^jzfpctl: " + want,
            "jzfpctl, county config 0644 with tag_key")
    os.chmod(cconf, 0o640)
    refused([jt.JZFPD, "--config", cconf], "mode 640 lets group", "county config 0640")

    # A data directory open to others: refused with the fix.
    os.chmod(cconf, 0o600)
    cdata = os.path.join(county.dir, "data")
    os.mkdir(cdata)
    os.chmod(cdata, 0o755)
    refused([jt.JZFPD, "--config", cconf],
            rf"data directory {re.escape(cdata)}: mode 755 is open to group or others; "
            rf"chmod 700 {re.escape(cdata)}$", "data directory 0755")
    check(not os.path.exists(os.path.join(cdata, "control.sock")),
          "a refused county left a control socket")
    os.chmod(cdata, 0o700)

    # Households imported without the tag key: refused before the file is
    # read or the node asked (tags under another key would match no other
    # node's). At the province, which holds none, it says where they go.
    hh = os.path.join(county.dir, "hh.csv")
    write(hh, "户编号\n")
    write(cconf, county_conf(prov, "[trust]\ninsecure = yes\n"))
    refused([jt.JZFPCTL, "-c", cconf, "import", "households", hh],
            rf"^jzfpctl: no \[trust\] tag_key in {re.escape(cconf)}: person tags are keyed "
            r"with the province's tag key", "import households without tag_key")
    write(conf, province_conf(prov, f"root_key = {prov.pub}\n"))
    refused([jt.JZFPCTL, "-c", conf, "import", "households", hh],
            r"^jzfpctl: households are imported at the counties, townships and villages",
            "import households at the province")
    jt.log("refused: no root_key, province tag_key, config 0644/0640, data dir 0755, "
           "import without tag_key")


def part_insecure(t, prov):
    # The harness's config says insecure = yes (no certificates); a umask
    # that would leave the directory and its files open to the group does
    # not: jzfpd runs with 077 whatever it was given (the control socket
    # was the group's between its bind and its chmod).
    old = os.umask(0o002)
    try:
        t.start(prov)
    finally:
        os.umask(old)
    mode = stat.S_IMODE(os.stat(prov.data).st_mode)
    check_eq(oct(mode), oct(0o700), "mode of the data directory jzfpd made")
    with open(f"/proc/{prov.proc.pid}/status") as f:
        umask = re.search(r"^Umask:\s+(\d+)$", f.read(), re.M)
    check(umask and umask.group(1) == "0077", f"jzfpd's umask: {umask and umask.group(1)}")
    opened = [(name, oct(stat.S_IMODE(os.stat(os.path.join(prov.data, name)).st_mode)))
              for name in sorted(os.listdir(prov.data))]
    check(opened and all(int(m, 8) & 0o077 == 0 for _, m in opened),
          f"files of the data directory open to others: {opened}")
    st = t.status(prov)
    check(st.get("insecure") is True, f"status --json insecure: {st.get('insecure')!r}")
    text = t.ctl_text(prov, "status")
    check(re.search(r"^trust +INSECURE: ", text, re.M), f"text status: {text!r}")
    check(t.grep_log(prov, r"INSECURE: no \[trust\] root_key"), "no INSECURE warning logged")

    # The same province certified (root_key: its own key): not insecure.
    ep = prov.endpoint
    t.stop(prov)
    t.write_conf = lambda n: None  # run the config written here
    write(prov.conf, province_conf(prov, f"root_key = {prov.pub}\n").replace(
        "tcp://127.0.0.1:*", ep))
    t.start(prov)
    st = t.status(prov)
    check(st.get("insecure") is False, f"certified: status --json insecure: {st.get('insecure')!r}")
    text = t.ctl_text(prov, "status")
    check(re.search(r"^trust +certified", text, re.M), f"certified: text status: {text!r}")
    t.stop(prov)
    check_eq(len(t.grep_log(prov, r"INSECURE")), 1, "INSECURE warnings (one, before the restart)")
    jt.log("insecure = yes shown in status and log; certified province not insecure")


def test(t):
    prov = t.add(P, "province", "P")
    county = t.add(C, "county", "C")
    part_examples(t)
    part_refusals(t, prov, county)
    part_insecure(t, prov)


if __name__ == "__main__":
    jt.main(test)
