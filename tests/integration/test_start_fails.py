#!/usr/bin/env python3
"""A start that cannot listen leaves the store as it was.

The province's endpoint is taken by another socket (this test's), as a
second copy of a service or another program would take it. jzfpd must exit
non-zero naming the endpoint, and write nothing to its store: every table,
meta included, the same entry for entry (no record signed, and the log's
epoch not ended: a start ends the stored epoch only once its sockets are
open, node.c turn_epoch). Under systemd's Restart= such a start repeats every
few seconds; were each to end an epoch, the 512 kept (apply.h) would run out
within the hour, and a peer whose cursor names a forgotten one is sent
everything again. With the endpoint free, the next start ends the log's and
the downlog's epochs, as every start does: two entries put first in meta
`epochs_past`.
"""

import socket

import jzfptest as jt
from jzfptest import check
from test_schema import TOOL, digests

P = "630000000000"
START_S = 10.0 * jt.SLOW  # a refused start is a store open and a bind


def meta(n, key):
    """The hex of meta KEY in n's stopped store."""
    p = jt.run([TOOL, n.data, "--get", "meta", key.encode().hex()])
    jt.check(p.returncode == 0, f"jzfp_schema --get meta {key}: exit {p.returncode}: {p.stderr}")
    return p.stdout.strip()


def test(t):
    prov = t.add(P, "province", "青海省")
    # Two starts: each ends the epochs before it (24 bytes an entry).
    t.start(prov)
    t.stop(prov)
    t.start(prov)
    t.stop(prov)
    past, epoch = meta(prov, "epochs_past"), meta(prov, "epoch")
    check(past and len(past) % (2 * 24) == 0, f"epochs_past after two starts: {past}")
    before = digests(prov)

    port = int(prov.endpoint.rsplit(":", 1)[1])
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        try:
            taken.bind(("127.0.0.1", port))
        except OSError as e:
            raise jt.Failure(f"cannot take the province's port {port} for the test: {e}") from None
        taken.listen(1)
        p = jt.run([jt.JZFPD, "--config", prov.conf], timeout=START_S, cwd=prov.dir)
    jt.log(f"start on a taken endpoint: exit {p.returncode}: {p.stderr.strip()[-300:]}")
    check(p.returncode != 0, f"jzfpd started on a taken endpoint: {p.stderr}")
    check(f"cannot listen on {prov.endpoint}" in p.stderr,
          f"the refusal does not name the endpoint {prov.endpoint}: {p.stderr}")
    after = digests(prov)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    check(not changed, f"tables the start that could not listen changed: {changed}")
    jt.check_eq(meta(prov, "epoch"), epoch, "the log's epoch after the start that could not listen")

    # The endpoint free again: a start like any other ends two epochs.
    t.start(prov)
    t.stop(prov)
    now = meta(prov, "epochs_past")
    check(len(now) == len(past) + 2 * 2 * 24 and now.endswith(past),
          f"epochs_past after the next start: {past} -> {now}")
    check(meta(prov, "epoch") != epoch, "the log's epoch did not change at the next start")


if __name__ == "__main__":
    jt.main(test)
