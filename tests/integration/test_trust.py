#!/usr/bin/env python3
"""Certified links (issue 4, first part), with real daemons.

scripts/provision.sh certifies every node from the province's key down; the
parents then admit a child only with a chain for exactly its connection's
CURVE key, area and level (ZAP hands the key to the Hello check).

- The certified tree comes up and replicates.
- A node for a township's area with its own key and no certificate connects
  over CURVE but its Hello is refused, with the reason on both sides.
- The hostile test peer (no chain) gets Refuse code 1105 (the back-off after failed
  Hellos is test_hostile_certified's, on a test clock).
- A node given another node's certificate refuses to start.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import types

import jzfptest as jt
from jzfptest import check, check_eq

SRC = os.environ.get("JZFP_SRC") or os.path.normpath(os.path.join(os.path.dirname(__file__),
                                                                  "..", ".."))
PROVISION = os.path.join(SRC, "scripts", "provision.sh")
LOCALTREE = os.path.join(SRC, "scripts", "localtree.sh")
EVIL = os.path.join(jt.BIN, "jzfp_evil")
P, C, T = "630000000000", "630121000000", "630121101000"


def sh(*args, timeout=120):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, JZFP_BIN=jt.BIN))
    return p


def t_log_has(path, pattern):
    with open(path, encoding="utf-8", errors="replace") as f:
        return re.search(pattern, f.read()) is not None


def status(conf):
    p = sh(jt.JZFPCTL, "-c", conf, "status", "--json", timeout=30)
    check_eq(p.returncode, 0, f"status {conf}: {p.stderr}")
    return json.loads(p.stdout)


def main():
    work = tempfile.mkdtemp(prefix="jzfp-test_trust-")
    out = os.path.join(work, "tree")
    started = []
    ok = False
    try:
        with open(os.path.join(work, "nodes.csv"), "w") as f:
            f.write(f"area,level,name\n{P},province,P\n{C},county,C\n{T},township,T\n")
        p = sh("bash", PROVISION, "-q", "--bin", jt.BIN, os.path.join(work, "nodes.csv"), out)
        check_eq(p.returncode, 0, f"provision: {p.stderr}")
        for a in (C, T):
            check(os.path.exists(os.path.join(out, a, "node.cert")), f"{a}: no node.cert")
            with open(os.path.join(out, a, "jzfpd.conf")) as f:
                check(re.search(r"^root_key = [0-9a-f]{64}$", f.read(), re.M),
                      f"{a}: no root_key in its config")
        p = sh("bash", LOCALTREE, "start", out)
        check_eq(p.returncode, 0, f"localtree start: {p.stdout}{p.stderr}")
        started.append(out)
        p = sh("bash", LOCALTREE, "wait", out, "--timeout", "60")
        check_eq(p.returncode, 0, f"the certified tree did not come up: {p.stdout}{p.stderr}")

        # Records flow through certified links; every hop checks each
        # origin's chain in its NodeInfo (the township stands in for a village).
        gen = os.path.join(SRC, "scripts", "gen_data.py")
        hh = os.path.join(work, "hh.csv")
        p = sh("python3", gen, "households", "--village", "630121101001", "--households", "20",
               "--seed", "trust", "--year", "2020", "--new", "--out", hh)
        check_eq(p.returncode, 0, f"gen_data: {p.stderr}")
        tconf = os.path.join(out, T, "jzfpd.conf")
        p = sh(jt.JZFPCTL, "-c", tconf, "import", "households", hh)
        check_eq(p.returncode, 0, f"import at the township: {p.stdout}{p.stderr}")
        p = sh("bash", LOCALTREE, "wait", out, "--timeout", "60")
        check_eq(p.returncode, 0, f"sync after the import: {p.stdout}{p.stderr}")
        pconf = os.path.join(out, P, "jzfpd.conf")
        pst = status(pconf)
        check_eq(pst["refused"], 0, "records refused at the province of a certified tree")
        # 3 node records, 20 households, the key record of their personal
        # parts, and the province's own receipts
        check_eq(pst["records"], 3 + 20 + 1 + pst["own_records"] - 1,
                 "province records: node records, households, key record, receipts")
        p = sh(jt.JZFPCTL, "-c", pconf, "rollup", "--verify")
        check_eq(p.returncode, 0, f"rollup --verify at the province: {p.stdout}{p.stderr}")

        # An uncertified node for the township's area, with a key of its own.
        rogue = os.path.join(work, "rogue")
        os.mkdir(rogue)
        pk = sh(jt.JZFPCTL, "keygen", "--out", os.path.join(rogue, "node.key"))
        check_eq(pk.returncode, 0, "keygen")
        cst = status(os.path.join(out, C, "jzfpd.conf"))
        with open(os.path.join(out, C, "node.pub")) as f:
            county_pub = f.read().strip()
        conf = os.path.join(rogue, "jzfpd.conf")
        with open(conf, "w") as f:
            f.write(f"[node]\nlevel = township\narea = {T}\nname = rogue\ndata_dir = data\n"
                    f"key = node.key\nlog_level = info\n[link]\nparent = {cst['listen']}\n"
                    f"parent_key = {county_pub}\n[trust]\ninsecure = yes\n")
        log = open(os.path.join(rogue, "jzfpd.log"), "w")
        proc = subprocess.Popen([os.path.join(jt.BIN, "jzfpd"), "--config", conf], stderr=log)
        # what jt.poll waits on between two looks: its state, its log, its exit
        target = types.SimpleNamespace(conf=conf, logfile=log.name, proc=proc,
                                       changes_seen=None)
        try:
            def refusal():
                if not os.path.exists(os.path.join(rogue, "data", "control.sock")):
                    return None
                st = status(conf)
                target.changes_seen = st["changes"]
                why = st["parent"]["why"]
                return why if "certificate" in why else None

            why = jt.poll("the rogue township's refusal", refusal, [target], timeout=20)
            check("no certificate chain" in why, f"rogue township not refused: why={why!r}")
            with open(os.path.join(out, C, "jzfpd.log")) as f:
                check(re.search(r"refused hello for " + T + ": no certificate chain", f.read()),
                      "the county does not log the refusal")
        finally:
            jt.stop_long_polls()
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=15)
            log.close()
        check_eq(rc, 0, "rogue jzfpd exit status")

        # The hostile peer without a chain (a key of its own): Refuse 1105
        # with the reason. (What follows from failed Hellos, the back-off,
        # is test_hostile_certified's, on the county's test clock: here it
        # would be a race against a real 0.5 s.)
        if os.access(EVIL, os.X_OK):
            ek = os.path.join(work, "evil.key")
            check_eq(sh(jt.JZFPCTL, "keygen", "--out", ek).returncode, 0, "keygen evil")
            evil = [EVIL, "--endpoint", cst["listen"], "--server-key", county_pub, "--key", ek,
                    "--area", "630121101009", "--timeout-ms", "2000"]
            p = sh(*evil, "hello", timeout=30)
            replies = [ln for ln in p.stdout.splitlines() if ln.startswith(("REPLY", "NO"))]
            check(len(replies) == 1 and
                  re.match(r"REPLY REFUSE code=1105 why=no certificate chain", replies[0]),
                  f"jzfp_evil hello without a chain: {p.stdout!r} {p.stderr!r}")

        # Another node's certificate: the daemon does not start.
        shutil.copy(os.path.join(out, T, "node.cert"), os.path.join(rogue, "node.cert"))
        with open(os.path.join(out, P, "node.pub")) as f:
            root = f.read().strip()
        with open(conf, "a") as f:
            f.write(f"root_key = {root}\ncert = node.cert\n")
        p = sh(os.path.join(jt.BIN, "jzfpd"), "--config", conf, timeout=30)
        check(p.returncode == 1 and "certifies another key" in p.stderr,
              f"jzfpd with another node's certificate: exit {p.returncode}, {p.stderr!r}")

        # The certified tree is still in step.
        p = sh("bash", LOCALTREE, "wait", out, "--timeout", "30")
        check_eq(p.returncode, 0, f"certified tree after the attempts: {p.stdout}{p.stderr}")
        ok = True
    except jt.Failure as e:
        print(f"FAIL test_trust: {e}")
    finally:
        for o in started:
            p = sh("bash", LOCALTREE, "stop", o)
            if p.returncode != 0:
                print(f"localtree stop: {p.stdout}{p.stderr}")
                ok = False
    if ok:
        shutil.rmtree(work, ignore_errors=True)
        print("test_trust: passed")
        return 0
    print(f"test_trust: FAILED; kept {work}")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
