#!/usr/bin/env python3
"""Provision a tree of jzfp nodes on one machine (loopback TCP).

usage: provision.py [--bin DIR] [--log-level LEVEL] NODES.csv OUTDIR

NODES.csv has the header area,level,name: one line per node, levels village,
township, county or province, exactly one province. Each node's parent is the
nearest ancestor node by area prefix; villages without a node of their own are
served by their township (or whatever node is above them).

For every node this writes OUTDIR/AREA/jzfpd.conf and OUTDIR/AREA/node.key
(made by `jzfpctl keygen --out`, public key also in OUTDIR/AREA/node.pub),
with data_dir = data. Every node that has children gets a free loopback TCP
port to listen on; its children get that endpoint as parent and its public key
as parent_key. One random tag_key is shared by every node of OUTDIR but the
province (tags plus the key reveal ID numbers; the province holds every tag);
configs are mode 0600. Each node below the province gets a certificate chain
from the province's key (the root) down to its own, OUTDIR/AREA/node.cert,
and every node [trust] root_key (and cert below the province), so parents
admit only certified children; a tree where a node's parent is not one level
up cannot be certified and is provisioned with [trust] insecure = yes.
OUTDIR/nodes.csv (area,level,name,parent,conf; conf relative to OUTDIR, top
down) lists the nodes for scripts/localtree.sh.

The province's audit key (DESIGN §4: a reader of every personal part, kept off
the province node) is made in OUTDIR/audit/audit.key, apart from every node;
its public key is [trust] audit_key in every config, so that every record's
personal part is sealed to it. `jzfpctl household show ID --audit-key
OUTDIR/audit/audit.key` at the province opens one.

OUTDIR must not exist or be empty. On any error nothing is left behind.
"""

import argparse
import csv
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys

LEVELS = ["province", "county", "township", "village"]  # node levels, top down
DIGITS = {"province": 2, "prefecture": 4, "county": 6, "township": 9, "village": 12}
NAME_MAX = 127  # bytes, the config's limit


class Fail(Exception):
    """An error reported as one line."""


def level_of(code):
    """Level of a 12-digit code, or None when it is not a valid code: no
    non-zero group may follow a zero group, and the province is not 00."""
    if len(code) != 12 or not code.isdigit():
        return None
    groups = [code[0:2], code[2:4], code[4:6], code[6:9], code[9:12]]
    names = ["province", "prefecture", "county", "township", "village"]
    if int(groups[0]) == 0:
        return None
    level, zero = None, False
    for g, n in zip(groups, names):
        if int(g) == 0:
            zero = True
        elif zero:
            return None
        else:
            level = n
    return level


def is_under(area, ancestor):
    n = DIGITS[level_of(ancestor)]
    return area != ancestor and area[:n] == ancestor[:n]


def read_nodes(path):
    """[(area, level, name)] in file order, checked."""
    try:
        f = open(path, encoding="utf-8-sig", newline="")
    except OSError as e:
        raise Fail(f"{path}: {e.strerror}")
    with f:
        rows = list(csv.reader(f))
    # Drop blank lines and comment lines.
    numbered = [(i, r) for i, r in enumerate(rows, start=1)
                if r and any(x.strip() for x in r) and not r[0].lstrip().startswith("#")]
    if not numbered:
        raise Fail(f"{path}: empty; expected the header area,level,name")
    hline, header = numbered[0]
    if [h.strip() for h in header] != ["area", "level", "name"]:
        raise Fail(f"{path}:{hline}: header must be area,level,name, not {','.join(header)}")
    nodes, seen = [], {}
    for line, r in numbered[1:]:
        where = f"{path}:{line}"
        if len(r) != 3:
            raise Fail(f"{where}: expected 3 fields (area,level,name), found {len(r)}")
        area, level, name = (x.strip() for x in r)
        if level not in LEVELS:
            raise Fail(f"{where}: level '{level}' is not one of village, township, county, province")
        real = level_of(area)
        if real is None:
            raise Fail(f"{where}: '{area}' is not a valid 12-digit area code")
        if real != level:
            raise Fail(f"{where}: {area} is a {real} code but the level says {level}")
        if len(name.encode()) > NAME_MAX:
            raise Fail(f"{where}: name longer than {NAME_MAX} bytes")
        if any(c in name for c in ";#[]=") or any(ord(c) < 32 for c in name):
            raise Fail(f"{where}: name must not contain ; # [ ] = or control characters")
        if area in seen:
            raise Fail(f"{where}: {area} already listed on line {seen[area]}")
        seen[area] = line
        nodes.append((area, level, name))
    provinces = [n for n in nodes if n[1] == "province"]
    if len(provinces) != 1:
        raise Fail(f"{path}: the tree needs exactly one province node, found {len(provinces)}"
                   + (": " + ", ".join(p[0] for p in provinces) if provinces else ""))
    return nodes


def find_parents(nodes, warn):
    """{area: parent area or None}. The parent is the nearest ancestor node."""
    areas = {a: lvl for a, lvl, _ in nodes}
    parents = {}
    for area, level, name in nodes:
        if level == "province":
            parents[area] = None
            continue
        parent = None
        for up in LEVELS[LEVELS.index(level) - 1::-1]:  # nearest first
            cand = area[:DIGITS[up]] + "0" * (12 - DIGITS[up])
            if areas.get(cand) == up:
                parent = cand
                break
        if parent is None:
            prov = next(a for a, lvl, _ in nodes if lvl == "province")
            raise Fail(f"node {area} ({level} {name}) has no parent: it is not under "
                       f"the province {prov} nor under any other node of the tree")
        want = LEVELS[LEVELS.index(level) - 1]
        if areas[parent] != want:
            warn(f"note: {level} {area} has no {want} node above it; "
                 f"its parent is the {areas[parent]} {parent}")
        parents[area] = parent
    return parents


CERT_DAYS = 3650


def depth(level):
    return LEVELS.index(level)


def free_ports(n):
    """n distinct free loopback TCP ports: all are bound together, then released."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def keygen(jzfpctl, keyfile):
    try:
        p = subprocess.run([jzfpctl, "keygen", "--out", keyfile], capture_output=True,
                           text=True, timeout=30)
    except OSError as e:
        raise Fail(f"{jzfpctl}: {e.strerror}")
    except subprocess.TimeoutExpired:
        raise Fail(f"{jzfpctl} keygen --out {keyfile}: no answer in 30 s")
    if p.returncode != 0:
        why = (p.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise Fail(f"jzfpctl keygen --out {keyfile} failed (exit {p.returncode}): {why}")
    pub = p.stdout.strip()
    if not re.fullmatch(r"[0-9a-fA-F]{64}", pub):
        raise Fail(f"jzfpctl keygen printed {pub[:80]!r}, expected 64 hex characters")
    if not os.path.isfile(keyfile):
        raise Fail(f"jzfpctl keygen did not write {keyfile}")
    return pub.lower()


def issue_cert(jzfpctl, outdir, area, level, parent, parent_level, pub):
    """Have the parent node (the province's key: the root) certify AREA."""
    d = os.path.join(outdir, area)
    args = [jzfpctl, "cert", "issue", "--issuer-key", os.path.join(outdir, parent, "node.key")]
    if parent_level == "province":
        args += ["--root"]
    else:
        args += ["--issuer-cert", os.path.join(outdir, parent, "node.cert")]
    args += ["--pub", pub, "--level", level, "--area", area, "--days", str(CERT_DAYS),
             "--out", os.path.join(d, "node.cert")]
    p = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        why = (p.stderr.strip().splitlines() or ["?"])[-1]
        raise Fail(f"cannot certify {level} {area}: {why}")


def config_text(area, level, name, parent, listen, parent_ep, parent_key, tag_key,
                log_level, root_key=None, cert=False, audit_key=None, receipt_ms=None):
    lines = [
        f"; jzfpd configuration: {level} {area} {name}".rstrip(),
        "; written by scripts/provision.sh; relative paths are relative to this file",
        "",
        "[node]",
        f"level = {level}",
        f"area = {area}",
    ]
    if name:
        lines.append(f"name = {name}")
    lines += [
        "data_dir = data",
        "key = node.key",
        f"log_level = {log_level}",
        "",
        "[link]",
    ]
    if listen:
        lines.append(f"listen = {listen}")
    if parent:
        lines.append(f"; parent: {parent}")
        lines.append(f"parent = {parent_ep}")
        lines.append(f"parent_key = {parent_key}")
    if receipt_ms and level == "province":
        lines.append(f"receipt_ms = {receipt_ms}")
    lines += ["", "[trust]"]
    if level != "province":  # tags plus the key reveal ID numbers: importing nodes only
        lines.append(f"tag_key = {tag_key}")
    if root_key:
        lines.append(f"root_key = {root_key}")
    else:  # jzfpd runs without root_key only when told so
        lines.append("insecure = yes")
    if cert:
        lines.append("cert = node.cert")
    if audit_key:
        lines.append(f"audit_key = {audit_key}")
    lines.append("")
    return "\n".join(lines)


def provision(nodes_csv, outdir, jzfpctl, log_level, warn, receipt_ms=None):
    nodes = read_nodes(nodes_csv)
    parents = find_parents(nodes, warn)
    has_children = {p for p in parents.values() if p}
    if os.path.exists(outdir):
        if not os.path.isdir(outdir):
            raise Fail(f"{outdir}: exists and is not a directory")
        if os.listdir(outdir):
            raise Fail(f"{outdir}: exists and is not empty; choose a new directory")
    if not (os.path.isfile(jzfpctl) and os.access(jzfpctl, os.X_OK)):
        raise Fail(f"{jzfpctl}: no such program; build first (scripts/build.sh) "
                   "or pass --bin DIR")

    order = sorted(nodes, key=lambda n: (depth(n[1]), n[0]))
    created_outdir = not os.path.exists(outdir)
    made = []
    try:
        os.makedirs(outdir, exist_ok=True)
        pubs = {}
        for area, level, name in order:
            d = os.path.join(outdir, area)
            os.mkdir(d, 0o700)
            made.append(d)
            pubs[area] = keygen(jzfpctl, os.path.join(d, "node.key"))
            with open(os.path.join(d, "node.pub"), "w") as f:
                f.write(pubs[area] + "\n")
        audit_dir = os.path.join(outdir, "audit")
        os.mkdir(audit_dir, 0o700)
        made.append(audit_dir)
        audit_pub = keygen(jzfpctl, os.path.join(audit_dir, "audit.key"))
        with open(os.path.join(audit_dir, "audit.pub"), "w") as f:
            f.write(audit_pub + "\n")
        listeners = sorted(has_children)
        ports = dict(zip(listeners, free_ports(len(listeners))))
        endpoint = {a: f"tcp://127.0.0.1:{p}" for a, p in ports.items()}
        tag_key = secrets.token_hex(32)
        # Certificates follow node levels (province > county > township >
        # village): a tree where some node's parent is not one level up
        # cannot be certified, and then runs without [trust].
        lvl = {area: level for area, level, _ in nodes}
        gaps = [a for a, p in parents.items() if p and depth(lvl[a]) != depth(lvl[p]) + 1]
        root = next(pubs[a] for a, level, _ in order if level == "province")
        if gaps:
            warn(f"no certificates: {gaps[0]} has no parent node one level up, and "
                 "certificates follow node levels; the tree runs without [trust]")
        else:
            for area, level, name in order:
                if parents[area]:
                    issue_cert(jzfpctl, outdir, area, level, parents[area],
                               lvl[parents[area]], pubs[area])
        for area, level, name in order:
            parent = parents[area]
            text = config_text(area, level, name, parent, endpoint.get(area, ""),
                               endpoint.get(parent, ""), pubs.get(parent, ""), tag_key,
                               log_level, None if gaps else root, bool(parent) and not gaps,
                               audit_pub, receipt_ms)
            conf = os.path.join(outdir, area, "jzfpd.conf")
            # Holds the tag key: the owner's only from the start.
            fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
        listing = os.path.join(outdir, "nodes.csv")
        made.append(listing)
        with open(listing, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["area", "level", "name", "parent", "conf"])
            for area, level, name in order:
                w.writerow([area, level, name, parents[area] or "",
                            f"{area}/jzfpd.conf"])
    except BaseException:
        for m in reversed(made):
            if os.path.isdir(m):
                shutil.rmtree(m, ignore_errors=True)
            elif os.path.exists(m):
                os.unlink(m)
        if created_outdir:
            shutil.rmtree(outdir, ignore_errors=True)
        raise
    return order, parents, endpoint


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    default_bin = os.environ.get("JZFP_BIN") or os.path.join(here, "..", "build", "bin")
    p = argparse.ArgumentParser(prog="provision.sh", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("nodes", metavar="NODES.csv")
    p.add_argument("outdir", metavar="OUTDIR")
    p.add_argument("--bin", default=default_bin, metavar="DIR",
                   help="directory holding jzfpctl (default: $JZFP_BIN or build/bin)")
    p.add_argument("--log-level", default="info",
                   choices=["error", "warning", "info", "debug"],
                   help="log_level written into every config (default info)")
    p.add_argument("--receipt-ms", type=int, metavar="MS",
                   help="how often the province signs receipts (default: jzfpd's, 30000)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    a = p.parse_args(argv)
    if a.receipt_ms is not None and not 100 <= a.receipt_ms <= 3600000:
        print("provision: --receipt-ms must be 100..3600000", file=sys.stderr)
        return 2

    def warn(msg):
        print(f"provision: {msg}", file=sys.stderr)

    jzfpctl = os.path.normpath(os.path.join(a.bin, "jzfpctl"))
    try:
        order, parents, endpoint = provision(a.nodes, a.outdir, jzfpctl, a.log_level, warn,
                                             a.receipt_ms)
    except Fail as e:
        print(f"provision: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"provision: {e}", file=sys.stderr)
        return 1
    if not a.quiet:
        for area, level, name in order:
            ep = endpoint.get(area, "")
            print(f"{area}  {level:<8}  {ep or '-':<22}  parent {parents[area] or '-':<12}  {name}")
        print(f"provision: {len(order)} nodes in {a.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
