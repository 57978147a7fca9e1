#!/usr/bin/env python3
"""The scripts an operator runs (scripts/*.sh, *.py): --help, and nothing else.

For each script: `--help` exits 0 with its usage on stdout and nothing on
stderr, and a word it does not know exits 2 with a message on stderr. Neither
may do any of the script's work: every program a script could start for it
(apt-get, dpkg, cmake, make, ctest, clang-format, jzfpd, ...) is, for these
runs, a stand-in that notes its name and fails, and none may have been
started. (Before, `format.sh --help` formatted the tree, `test.sh --help` ran
the whole suite and an earlier `deps.sh --help` installed packages.)
"""

import os
import stat

import jzfptest as jt
from jzfptest import check, check_eq

# What the scripts start to do their work; none may run for --help or for a
# word they refuse.
STANDINS = ("apt-get", "apt", "dpkg", "dpkg-query", "sudo", "cmake", "make", "ctest",
            "clang", "clang-format", "git", "jzfpd", "jzfpctl", "jzfp_bench", "nats-server",
            "chromium", "protoc-c", "perf")


def standins(d):
    """A directory of stand-ins: each appends its name to d/ran and exits 1."""
    bindir = os.path.join(d, "bin")
    os.makedirs(bindir)
    ran = os.path.join(d, "ran")
    for name in STANDINS:
        path = os.path.join(bindir, name)
        with open(path, "w") as f:
            f.write(f"#!/bin/sh\necho {name} >>'{ran}'\nexit 1\n")
        os.chmod(path, stat.S_IRWXU)
    return bindir, ran


def scripts():
    d = os.path.join(jt.SRC, "scripts")
    return sorted(n for n in os.listdir(d) if n.endswith((".sh", ".py")))


def test(t):
    bindir, ran = standins(t.dir)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ["PATH"])
    names = scripts()
    check(len(names) >= 10 and "test.sh" in names and "deps.sh" in names,
          f"the scripts found: {names}")
    for name in names:
        path = os.path.join(jt.SRC, "scripts", name)
        argv = ["python3", path] if name.endswith(".py") else ["bash", path]
        p = jt.run([*argv, "--help"], timeout=30, env=env, cwd=t.dir)
        check(p.returncode == 0 and "usage" in p.stdout.lower() and not p.stderr,
              f"{name} --help: exit {p.returncode}, stdout {p.stdout[:200]!r}, "
              f"stderr {p.stderr[:200]!r}")
        p = jt.run([*argv, "--no-such-option"], timeout=30, env=env, cwd=t.dir)
        check(p.returncode == 2 and p.stderr.strip(),
              f"{name} --no-such-option: exit {p.returncode}, stderr {p.stderr[:200]!r}")
        started = open(ran).read().split() if os.path.exists(ran) else []
        check_eq(started, [], f"programs {name} started for --help or a refused word")
    jt.log(f"{len(names)} scripts: --help and a refused word start nothing")


if __name__ == "__main__":
    jt.main(test)
