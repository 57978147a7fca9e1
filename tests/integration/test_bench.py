#!/usr/bin/env python3
"""The benchmarks run, small: `scripts/bench.sh` and `bench.sh --province`
with this build's binaries, end to end, so that a change to the commands
they drive (a flag refused, an answer reshaped) is found by the suite and not
by the next engineer who measures. Nothing about speed is asserted: the
figures are the benchmarks' to print. What is checked is that each ran to
its end and counted what it was given:

- the chain (village -> township -> county -> province, 3,000 records, no
  NATS): its JSON line names the records, a throughput, a CPU figure for
  each of the four nodes and the registry caught up;
- the province at a hundredth of Qinghai (40 villages, 33 nodes): every
  household generated reached the province, a rollup was timed at each
  level, over jzfpctl and over HTTP, and `rollup --verify` ran.
"""

import json
import os
import signal
import subprocess

import jzfptest as jt
from jzfptest import check, check_eq

LEVELS = ["province", "prefecture", "county", "township", "village"]


def last_json(text, what):
    """The last line of TEXT that is a JSON object."""
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                break
    check(False, f"{what}: no JSON line at the end of its output:\n{text[-3000:]}")
    return {}


def bench(t, what, argv, timeout):
    """Run a benchmark (its daemons are background jobs of its process
    group) within the test's budget: past it, SIGTERM (bench.sh's trap and
    province.py's cleanup stop their daemons), and what is left of the group
    is killed, so that no jzfpd outlives the test."""
    env = dict(os.environ, TMPDIR=t.dir)
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, cwd=jt.SRC, start_new_session=True)
    try:
        out, err = p.communicate(timeout=jt.left(timeout))
    except subprocess.TimeoutExpired:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                break  # the whole group has ended
            try:
                out, err = p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                out, err = "", ""
        check(False, f"{what}: still running after {timeout} s; stopped (its work directory "
              f"is kept under {t.dir})\n{err[-2000:]}")
        return {}
    check_eq(p.returncode, 0, f"{what}: exit status; stderr:\n{err[-3000:]}\n"
             f"stdout:\n{out[-3000:]}")
    return last_json(out, what)


def test(t):
    records = 3000
    bench_sh = os.path.join(jt.SRC, "scripts", "bench.sh")
    # --keep: a failure leaves the nodes' logs in the test's directory.
    chain = bench(t, "bench.sh", ["bash", bench_sh, "--no-build", "--bin", jt.BIN, "--keep",
                                  "--no-nats", "--records", str(records), "--count", "100"],
                  timeout=120)
    check_eq(chain.get("records"), records, "bench.sh: records")
    check(chain.get("records_per_s", 0) > 0 and chain.get("baseline_records_per_s", 0) > 0,
          f"bench.sh: throughputs {chain}")
    check(chain.get("registry_caught_up_records_per_s", 0) > 0,
          f"bench.sh: the registry caught up {chain}")
    check(len(chain.get("cpu_us_per_record", [])) == 4
          and len(chain.get("peak_anon_kib", [])) == 4, f"bench.sh: the four nodes {chain}")
    check(chain.get("latency_median_us", 0) > 0, f"bench.sh: latency {chain}")
    jt.log(f"bench.sh: {records} records through the chain, its JSON whole")

    work = os.path.join(t.dir, "province")
    prov = bench(t, "bench.sh --province",
                 ["bash", bench_sh, "--province", "--no-build", "--bin", jt.BIN,
                  "--scale", "0.01", "--calls", "2", "--work", work],
                 timeout=120)
    check_eq((prov.get("nodes"), prov.get("villages")), (33, 40), "province bench: its tree")
    check(prov.get("households", 0) == 40 * 40 and prov.get("persons", 0) > prov["households"],
          f"province bench: what it generated {prov}")
    check(prov.get("province_records", 0) >= prov.get("households", 0),
          f"province bench: records at the province {prov}")
    for key in ("rollup_median_ms", "rollup_http_median_ms", "rollup_http_read_median_ms"):
        check_eq(sorted(prov.get(key, {})), sorted(LEVELS), f"province bench: {key}'s levels")
    check("rollup_verify_s" in prov and prov.get("migration_s", 0) > 0,
          f"province bench: --verify and the migration {prov}")
    jt.log(f"bench.sh --province at 0.01: {prov['households']} households to the province, "
           "rollups timed at every level")


if __name__ == "__main__":
    jt.main(test)
