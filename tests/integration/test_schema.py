"""test_schema - jzfpd refuses a store of another schema, says what to do,
and leaves the store as it was (README, Upgrade).

A province node is started once on an empty store and stopped. Its store's
schema number (meta "schema", rewritten with tests/tools/jzfp_schema) is
then set to one this build does not read:
  - 4 (a newer version's store): refused;
  - back to 3: the node starts (the rewrite itself is sound) and stops;
  - 2 with the table `person_new` dropped, as a schema-2 store is (schema 3
    added it): refused, and the missing table is not created.
Each refusal: jzfpd exits non-zero within START_S, its stderr names both
schema numbers, the data directory and what to do, and data.mdb has the same
bytes as before.
"""

import hashlib
import os
import subprocess
import time

import jzfptest as jt

SCHEMA = 3  # node/daemon/tables.h STORE_SCHEMA
START_S = 5.0 * jt.SLOW  # a refused start is one store open, well under a second
TOOL = os.path.join(jt.BIN, "jzfp_schema")


def schema_of(n):
    p = jt.run([TOOL, n.data])
    jt.check(p.returncode == 0, f"jzfp_schema {n.data}: exit {p.returncode}: {p.stderr}")
    return int(p.stdout.strip())


def set_schema(n, number, *drop):
    argv = [TOOL, n.data, str(number)]
    for table in drop:
        argv += ["--drop", table]
    p = jt.run(argv)
    jt.check(p.returncode == 0, f"{' '.join(argv)}: exit {p.returncode}: {p.stderr}")
    jt.check_eq(schema_of(n), number, "schema after the rewrite")


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def refused(n, held):
    """Start jzfpd on n's store of schema HELD: it must refuse, say why and
    what to do, and write nothing to the store."""
    mdb = os.path.join(n.data, "data.mdb")
    before = digest(mdb)
    size = os.path.getsize(mdb)
    t0 = time.monotonic()
    try:
        p = subprocess.run([jt.JZFPD, "--config", n.conf], cwd=n.dir,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=START_S)
    except subprocess.TimeoutExpired as e:
        # subprocess.run killed and reaped the child it started
        raise jt.Failure(f"jzfpd on a schema-{held} store still running after "
                         f"{START_S:.0f} s (killed): {e.stderr!r}") from None
    took = time.monotonic() - t0
    err = p.stderr
    jt.log(f"schema {held}: exit {p.returncode} in {took * 1000:.0f} ms")
    jt.check(p.returncode != 0, f"jzfpd started on a schema-{held} store: {err}")
    for want in (f"holds store schema {held}", f"reads store schema {SCHEMA}",
                 "written by another version of jzfpd", "move the directory aside",
                 "start with an empty one", "README, Upgrade", n.data):
        jt.check(want in err, f"schema {held}: stderr lacks {want!r}:\n{err}")
    jt.check_eq(os.path.getsize(mdb), size, f"schema {held}: data.mdb size after the refusal")
    jt.check_eq(digest(mdb), before, f"schema {held}: data.mdb sha256 after the refusal")
    jt.check_eq(schema_of(n), held, "schema after the refusal")


def test(t):
    prov = t.add("630000000000", "province", "青海省")
    t.start(prov)
    t.stop(prov)
    prov.data = os.path.realpath(prov.data)
    jt.check_eq(schema_of(prov), SCHEMA, "schema of a new store")

    set_schema(prov, SCHEMA + 1)
    refused(prov, SCHEMA + 1)

    set_schema(prov, SCHEMA)
    t.start(prov)
    t.stop(prov)

    set_schema(prov, 2, "person_new")
    refused(prov, 2)


if __name__ == "__main__":
    jt.main(test)
