"""test_schema - jzfpd refuses a store of another schema, says what to do,
and leaves the store as it was; `jzfpd --upgrade-store` rewrites a store of
schema 2 to 6 in place: a schema-2 one rekeyed, and every one's envelopes
moved from `env` into the log (README, Upgrade; node/daemon/upgrade.h).

A tree (province, county, township, village, test clocks) runs the procedure
up to the township's review: the village's new register opens identification
proposals, the village posts its notice, one objection is raised, the window
closes, the township approves. The province is stopped, and its store's
schema number (meta "schema", rewritten with tests/tools/jzfp_schema) set to:
  - 8 (a newer version's store): refused; --upgrade-store refuses it too;
  - back to 7: the node starts (the rewrite itself is sound) and stops, its
    registry caught up with the log (no meta registry_at);
  - 6, the store rewritten as schema 6 held the same content (jzfp_schema
    --as-6: each envelope back in `env`, each log entry naming it, 40
    bytes): refused; --upgrade-store moves every envelope back into the log
    (its progress says how many), every table, meta too, as before, and the
    node starts on it and answers as before;
  - 6 again, the envelope of the twelfth log entry taken out of `env`:
    --upgrade-store stops naming that log position, after moving the
    transactions (of five) before it, and the store is refused as an
    unfinished upgrade; with the envelope put back and an `env` entry no
    log entry names put in, a run again goes on (moves the rest, passes
    over what was moved, says both counts) and stops saying one envelope
    is not in the log; with that entry gone, a run again ends the upgrade
    with nothing left to move: every table, meta too, as before;
  - 5, the store rewritten as schema 5 held the same content (jzfp_schema
    --as-5: as --as-6, but for the schema number, the registry caught up):
    refused; --upgrade-store upgrades it, every table, meta too, as
    before, and the node starts on it;
  - 4, the store rewritten as schema 4 held the same content (jzfp_schema
    --as-4: as --as-5, the household states without their effective head's
    tag digest): refused; --upgrade-store upgrades it, writing nothing but
    the envelopes' move and the schema number, and the node starts on it;
  - 3, the store rewritten as schema 3 held the same content (jzfp_schema
    --as-3: as --as-4, and the versions kept apart folded into the version
    index, their tables dropped): refused; --upgrade-store upgrades it,
    writing nothing but the envelopes' move and the schema number, and the
    node starts on it;
  - 2, the store rewritten as schema 2 held the same content (jzfp_schema
    --as-2: as --as-3, the workflow tables keyed by proposal hash, hhprop,
    the person index's changes merged and person_new dropped): refused, and
    the missing table is not created.
Each refusal: jzfpd exits non-zero within START_S, its stderr names both
schema numbers, the data directory and what to do, and data.mdb has the same
bytes as before. Then:
  - with a stray old-format step (its event not held) put in, --upgrade-store
    exits 1 naming it, after rekeying the history (kept: wfhist is already
    as it will be), and the store is refused, by every build, saying the
    upgrade did not finish; marked as a build of schema 6, 5, 4 or 3 marks one,
    it goes on, stops at the stray again and leaves its own mark (an older
    build would take its own for a store it may finish); with the stray gone and the store
    compacted (no free page) and a map of 1 MiB:
  - (a copy of a held step's key is put in `parked` before, so that the
    parked steps are rekeyed too, and taken out before the node starts)
  - --upgrade-store exits 0, says it goes on with the unfinished upgrade
    (marked as this build marks one),
    grows the map, its progress names the tables rekeyed and the envelopes
    moved, and the
    store holds schema 7, every table (but the person index and meta) equal,
    entry for entry, to what the schema-7 node had written (its versions
    folded into the index, its household states as schema 4 held them),
    hhprop gone;
    run again, it says there is nothing to do;
  - started, the province answers its status, proposals, three households'
    steps and the village rollup as before, byte for byte, and rollup
    --verify agrees;
  - --upgrade-store beside the running province is refused (the lock);
  - the procedure goes on: the township's notice, opened after the upgrade,
    reaches the province and moves the same proposals;
  - an entry whose key is of neither length is left as it was and said;
    an empty data.mdb is no store to upgrade.
"""

import hashlib
import json
import os
import shutil
import time

import jzfptest as jt
from jzfptest import check

SCHEMA = 7  # node/daemon/tables.h STORE_SCHEMA
P, C, T, V = "630000000000", "630121000000", "630121101000", "630121101001"
YEAR = 2020
STORE_META = "meta"  # common/store.h STORE_META_NAME
REGISTRY_AT = "registry_at"  # node/replication/apply.h APPLY_META_REGISTRY_AT
UPGRADING = 1 << 63 | SCHEMA  # common/store.h STORE_SCHEMA_UPGRADING(7)
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


def refused(n, held, says=None):
    """Start jzfpd on n's store of schema HELD: it must refuse, say why and
    what to do (SAYS, when not the schema it holds), and write nothing to
    the store. A newer store's refusal names no upgrade (none goes down)."""
    mdb = os.path.join(n.data, "data.mdb")
    before = digest(mdb)
    size = os.path.getsize(mdb)
    t0 = time.monotonic()
    p = jt.run([jt.JZFPD, "--config", n.conf], timeout=START_S, cwd=n.dir)
    took = time.monotonic() - t0
    err = p.stderr
    jt.log(f"schema {held}: exit {p.returncode} in {took * 1000:.0f} ms")
    jt.check(p.returncode != 0, f"jzfpd started on a schema-{held} store: {err}")
    wants = [says or f"holds store schema {held}", f"reads store schema {SCHEMA}",
             "README, Upgrade", n.data]
    if held == SCHEMA + 1:
        wants += ["written by a newer version of jzfpd", "run that version",
                  "restore the backup taken before the upgrade"]
        check("--upgrade-store" not in err, f"a newer store's refusal names --upgrade-store: {err}")
    else:
        wants += ["written by another version of jzfpd", "move the directory aside",
                  "start with an empty one", "--upgrade-store", "a store of schema 2, 3, 4, 5 or 6"]
    for want in wants:
        jt.check(want in err, f"schema {held}: stderr lacks {want!r}:\n{err}")
    jt.check_eq(os.path.getsize(mdb), size, f"schema {held}: data.mdb size after the refusal")
    jt.check_eq(digest(mdb), before, f"schema {held}: data.mdb sha256 after the refusal")
    jt.check_eq(schema_of(n), held, "schema after the refusal")


def digests(n):
    """{table: (entries, digest)} of n's stopped store (jzfp_schema --digest)."""
    p = jt.run([TOOL, n.data, "--digest"])
    jt.check(p.returncode == 0, f"jzfp_schema --digest: exit {p.returncode}: {p.stderr}")
    return {name: (int(count), h) for name, count, h in
            (line.split() for line in p.stdout.splitlines())}


def digests_as(n, held):
    """digests() of n's stopped store as jzfp_schema --as-HELD rewrites it,
    in a copy (n's store left as it is)."""
    copy = os.path.join(n.dir, f"as-{held}")
    shutil.rmtree(copy, ignore_errors=True)
    os.mkdir(copy, 0o700)
    shutil.copyfile(os.path.join(n.data, "data.mdb"), os.path.join(copy, "data.mdb"))
    p = jt.run([TOOL, copy, f"--as-{held}"])
    check(p.returncode == 0, f"jzfp_schema --as-{held} (a copy): exit {p.returncode}: {p.stderr}")
    p = jt.run([TOOL, copy, "--digest"])
    jt.check(p.returncode == 0, f"jzfp_schema --digest: exit {p.returncode}: {p.stderr}")
    shutil.rmtree(copy)
    return {name: (int(count), h) for name, count, h in
            (line.split() for line in p.stdout.splitlines())}


def tool(n, *words):
    """jzfp_schema on n's stopped store with WORDS: its output, stripped."""
    p = jt.run([TOOL, n.data, *words])
    check(p.returncode == 0, f"jzfp_schema {' '.join(words)}: exit {p.returncode}: {p.stderr}")
    return p.stdout.strip()


def upgrade(n, map_mb=None, data_dir=None):
    """jzfpd --upgrade-store on n's stopped store: (exit status, stderr).
    MAP_MB: with [node] map_size_mb so; DATA_DIR: on that directory instead
    (either: a config of its own beside n's)."""
    # Five entries a transaction: each table takes several (the resume).
    env = dict(os.environ, JZFP_TEST_UPGRADE_CHUNK="5")
    conf = n.conf
    if map_mb or data_dir:
        conf = os.path.join(n.dir, "upgrade.conf")
        with open(n.conf, encoding="utf-8") as f:
            text = f.read()
        if map_mb:
            text = text.replace("[node]\n", f"[node]\nmap_size_mb = {map_mb}\n", 1)
        if data_dir:
            text = text.replace("data_dir = data\n", f"data_dir = {data_dir}\n", 1)
        with open(conf, "w", encoding="utf-8") as f:
            f.write(text)
    p = jt.run([jt.JZFPD, "--config", conf, "--upgrade-store"], timeout=60 * jt.SLOW,
               cwd=n.dir, env=env)
    return p.returncode, p.stderr


def seen(t, n, hh):
    """What the province answers of the procedure, in a form to compare."""
    return {
        "proposals": t.ctl(n, "proposals", "--json"),
        "household": [t.ctl(n, "household", "show", h, "--json") for h in hh],
        "rollup": t.ctl_text(n, "rollup", "--level", "village", "--format", "csv"),
        "pending": t.ctl(n, "proposals", "--state", "TOWNSHIP_APPROVED", "--json"),
    }


def ids_of(t, village):
    return sorted(p["household"] for p in t.ctl(village, "proposals", "--json")["proposals"])


def procedure(t):
    """The tree, and the procedure up to the township's review: returns the
    province, the township and the village."""
    prov = t.add(P, "province", "青海省")
    t.add(C, "county", "大通县")
    town, village = t.add(T, "township", "桥头镇"), t.add(V, "village", "新庄村")
    t.start_all()
    t.ctl_text(prov, "policy", "set", "--notice-days", "7", "--threshold-pct", "3")
    hh = jt.gen_households(os.path.join(t.dir, "up-{village}.csv"), [V], 8, seed=31, new=True,
                           year=YEAR)[V]
    check(t.import_ok(village, "households", hh) >= 8, "the village's register imported")
    ids = ids_of(t, village)
    check(len(ids) >= 8, f"identification proposals at the village: {len(ids)}")
    t.ctl(village, "notice", "open", "--all", "--json")
    t.ctl(village, "object", ids[0], "--reason", "收入核实有误", "--name", "张三",
          "--contact", "13800000000", "--json")
    t.wait_synced()
    for n in t.nodes.values():
        t.ctl(n, "clock", "advance", "8d", "--json")
    t.wait_synced()
    t.ctl(village, "notice", "close", "--all", "--json")
    t.wait_synced()
    t.ctl(town, "review", "approve", "--all", "--json")
    t.wait_synced()
    return prov, town, village


def as_schema(n, held):
    """Rewrite N's stopped store as schema HELD held the same content."""
    p = jt.run([TOOL, n.data, f"--as-{held}"])
    check(p.returncode == 0, f"jzfp_schema --as-{held}: exit {p.returncode}: {p.stderr}")


def upgraded_from(n, held, envelopes):
    """N's stopped store of schema HELD: refused at start, then upgraded by
    --upgrade-store to this build's schema, its ENVELOPES moved into the
    log."""
    refused(n, held)
    rc, err = upgrade(n)
    check(rc == 0 and f"upgraded to store schema {SCHEMA} (from {held})" in err and
          f"upgrade: log: {envelopes} envelopes moved ({envelopes} held)" in err and
          "moved by a run before" not in err,
          f"--upgrade-store on a schema-{held} store: exit {rc}: {err}")
    jt.check_eq(schema_of(n), SCHEMA, f"schema after --upgrade-store from {held}")


def started_as_before(t, n, held, records, before=None, village=None):
    """N, upgraded from schema HELD, started: it holds RECORDS, answers the
    procedure as BEFORE (when given) and passes --verify; stopped again."""
    t.start(n)
    jt.check_eq(t.status(n)["records"], records, f"records at the province upgraded from {held}")
    if before is not None:
        jt.check_eq(seen(t, n, ids_of(t, village)[:3]), before,
                    f"the province upgraded from {held}")
    t.verify(n, f"after the upgrade from schema {held}")
    t.stop(n)


def test(t):
    prov, town, village = procedure(t)
    before = seen(t, prov, ids_of(t, village)[:3])
    check(before["pending"]["proposals"], "the province holds proposals the township approved")
    records = t.status(prov)["records"]

    t.stop(prov)
    prov.data = os.path.realpath(prov.data)
    jt.check_eq(schema_of(prov), SCHEMA, "schema of the province's store")
    # A newer version's store: refused, and not upgraded.
    set_schema(prov, SCHEMA + 1)
    refused(prov, SCHEMA + 1)
    rc, err = upgrade(prov)
    check(rc != 0 and f"holds store schema {SCHEMA + 1}" in err and
          "upgrades only schemas 2, 3, 4, 5 and 6" in err,
          f"--upgrade-store on a schema-{SCHEMA + 1} store: exit {rc}: {err}")
    # Back to 7: the node starts (the rewrite itself is sound).
    set_schema(prov, SCHEMA)
    t.start(prov)
    t.stop(prov)
    # Stopped, its registry is caught up with the log: no meta registry_at,
    # as in every store schema 5 held.
    p = jt.run([TOOL, prov.data, "--get", STORE_META, REGISTRY_AT.encode().hex()])
    check(p.returncode == 1 and not p.stdout,
          f"meta {REGISTRY_AT} after the node stopped: exit {p.returncode}: {p.stdout}{p.stderr}")
    # As schema 6 held the same content (each envelope in env, its log
    # entry naming it): refused; upgraded, every envelope moved back into
    # the log, every table, meta too, as this build had written it.
    seven = digests(prov)
    envelopes = seven["log"][0]
    check(envelopes == seven["env"][0] > 15, f"envelopes at the province: {seven}")
    as_schema(prov, 6)
    six = digests(prov)
    check({k for k in seven if six.get(k) != seven[k]} == {"env", "log", "meta"} and
          six.keys() == seven.keys() and six["log"][0] == six["env"][0] == envelopes,
          f"--as-6 rewrote more than env, log and the schema number: {seven} -> {six}")
    upgraded_from(prov, 6, envelopes)
    jt.check_eq(digests(prov), seven, "tables after --upgrade-store from 6 (meta too)")
    started_as_before(t, prov, 6, records, before, village)

    # An upgrade from 6 stopped midway (the twelfth log entry's envelope
    # not in env), then run again: it goes on where it stood.
    seven = digests(prov)
    as_schema(prov, 6)
    positions = tool(prov, "--keys", "log").split()
    jt.check_eq(len(positions), envelopes, "log entries of the schema-6 store")
    at = positions[11]
    ref = tool(prov, "--get", "log", at)
    jt.check_eq(len(ref), 80, "a schema-6 log value's length (hex)")
    envelope = tool(prov, "--get", "env", ref)
    tool(prov, "--del", "env", ref)
    rc, err = upgrade(prov)
    jt.log(f"upgrade with an envelope missing: exit {rc}: {err.strip()}")
    check(rc == 1 and f"log position {int(at, 16)}: its envelope is not in env" in err and
          f"upgrade: log: 5 envelopes moved ({envelopes} held)" in err and
          f"upgrade: log: 10 envelopes moved ({envelopes} held) before it stopped" in err and
          "--upgrade-store run again goes on from there" in err,
          f"--upgrade-store with an envelope missing: exit {rc}: {err}")
    jt.check_eq(schema_of(prov), UPGRADING, "schema after an upgrade from 6 that stopped")
    refused(prov, UPGRADING, f"an upgrade in place to store schema {SCHEMA} did not finish")
    # Two transactions of five were moved before the one that stopped.
    moved = 10
    tool(prov, "--put", "env", ref, envelope)
    stray = "ee" * 40
    tool(prov, "--put", "env", stray, "00" * 50)
    rc, err = upgrade(prov)
    jt.log(f"upgrade again, an envelope in no log entry: exit {rc}: {err.strip()}")
    check(rc == 1 and
          f"going on with an upgrade to store schema {SCHEMA} that did not finish" in err and
          f"upgrade: log: {envelopes - moved} envelopes moved ({envelopes} held)" in err and
          f"upgrade: log: {moved} envelopes moved by a run before, left as they are" in err and
          "env: 1 entries are no log position of 8 bytes: envelopes not in the log "
          f"(the first of origin {'ee' * 4}... seq {int('ee' * 8, 16)})" in err,
          f"--upgrade-store again, with an envelope in no log entry: exit {rc}: {err}")
    jt.check_eq(schema_of(prov), UPGRADING, "schema after an upgrade from 6 that stopped again")
    tool(prov, "--del", "env", stray)
    rc, err = upgrade(prov)
    check(rc == 0 and
          f"upgraded to store schema {SCHEMA} (an upgrade that had not finished)" in err and
          f"upgrade: log: 0 envelopes moved ({envelopes} held)" in err and
          f"upgrade: log: {envelopes} envelopes moved by a run before" in err,
          f"--upgrade-store, the last run from 6: exit {rc}: {err}")
    jt.check_eq(digests(prov), seven, "tables after an upgrade from 6 run three times")

    # As schema 5 held the same content (as schema 6, the schema number
    # aside): refused; upgraded, every table, meta too, as before.
    six = digests_as(prov, 6)
    as_schema(prov, 5)
    five = digests(prov)
    check(five["meta"] != six["meta"] and dict(five, meta=six["meta"]) == six,
          f"--as-5 rewrote more than --as-6 and the schema number: {six} -> {five}")
    upgraded_from(prov, 5, envelopes)
    jt.check_eq(digests(prov), seven, "tables after --upgrade-store from 5 (meta too)")
    started_as_before(t, prov, 5, records, before, village)
    # As schema 4 held the same content (states without the tag digest):
    # refused; upgraded with nothing rewritten but the envelopes, moved
    # back into the log, and the schema number.
    seven = digests(prov)
    tagged = seven["household"]
    as_schema(prov, 4)
    four = digests(prov)
    check(four["household"][0] == tagged[0] > 0 and four["household"][1] != tagged[1],
          f"--as-4 rewrote the household states: {tagged} -> {four['household']}")
    upgraded_from(prov, 4, envelopes)
    jt.check_eq(digests(prov), dict(four, **{k: seven[k] for k in ("env", "log", STORE_META)}),
                "tables after --upgrade-store from 4 (all but env, log and the schema number)")
    started_as_before(t, prov, 4, records, before, village)
    # As schema 3 held the same content: refused; upgraded with nothing
    # rewritten but the envelopes and the schema number (the versions kept
    # apart start empty).
    seven = digests(prov)
    as_schema(prov, 3)
    three = digests(prov)
    check(three.get("version", (0,))[0] > 0 and "version_new" not in three,
          f"a schema-3 store holds its versions in the index alone: {three}")
    upgraded_from(prov, 3, envelopes)
    jt.check_eq(digests(prov), dict(three, **{k: seven[k] for k in ("env", "log", STORE_META)}),
                "tables after --upgrade-store from 3 (all but env, log and the schema number)")
    started_as_before(t, prov, 3, records)
    # A step parked, as one that waits for its version would be: a copy
    # of a held step's key (taken out again before the node starts).
    p = jt.run([TOOL, prov.data, "--keys", "wfstep"])
    check(p.returncode == 0 and p.stdout.strip(), f"jzfp_schema --keys: {p.returncode} {p.stderr}")
    parked = p.stdout.split()[0]
    p = jt.run([TOOL, prov.data, "--put", "parked", parked])
    check(p.returncode == 0, f"jzfp_schema --put parked: exit {p.returncode}: {p.stderr}")
    # As schema 2 held the same content: refused, person_new not created.
    # (The versions folded into the index first, as --as-2 folds them: the
    # tables to compare after the upgrade.)
    p = jt.run([TOOL, prov.data, "--fold-versions"])
    check(p.returncode == 0, f"jzfp_schema --fold-versions: exit {p.returncode}: {p.stderr}")
    tables = digests(prov)
    check(tables.get("wfstep", (0,))[0] > 0 and tables.get("wfhist", (0,))[0] > 0,
          f"the province holds steps and history to rekey: {tables}")
    as_schema(prov, 2)
    refused(prov, 2)

    # A step whose event is not held (keyed after every other) stops the
    # upgrade, named; what was rekeyed before it (the history, the steps of
    # the transactions before its own) stays so, the store stays refused;
    # with the entry gone, a run again goes on from there.
    stray = "ff" * 32 + "00" * 8 + "ee" * 32 + "00" * 7 + "01" + "0000"
    p = jt.run([TOOL, prov.data, "--put", "wfstep", stray])
    check(p.returncode == 0, f"jzfp_schema --put: exit {p.returncode}: {p.stderr}")
    rc, err = upgrade(prov)
    jt.log(f"upgrade with a stray step: exit {rc}: {err.strip()}")
    check(rc == 1 and "upgrade: wfhist: " in err and "upgrade: wfstep: 5 entries rekeyed" in err and
          f"wfstep entry {'ff' * 32}...: its event is not held" in err and
          "--upgrade-store run again goes on from there" in err,
          f"--upgrade-store with a stray step: exit {rc}: {err}")
    # Marked as being upgraded from the first transaction on: refused by
    # every build (the schema-2 one opens only 2), this one says why.
    jt.check_eq(schema_of(prov), UPGRADING, "schema after an upgrade that stopped")
    refused(prov, UPGRADING, f"an upgrade in place to store schema {SCHEMA} did not finish")
    jt.check_eq(digests(prov)["wfhist"], tables["wfhist"], "wfhist rekeyed before the stop")
    # As a build of schema 6, 5, 4 or 3 marks an upgrade it began: this one
    # goes on with it too (and stops at the same stray step), its own mark
    # in place of the older build's, which that build would end on
    # envelopes half moved.
    for marked in (6, 5, 4, 3):
        set_schema(prov, 1 << 63 | marked)
        rc, err = upgrade(prov)
        check(rc == 1 and
              f"going on with an upgrade to store schema {SCHEMA} that did not finish" in err and
              f"wfstep entry {'ff' * 32}...: its event is not held" in err,
              f"--upgrade-store on a schema-{marked} build's unfinished upgrade: exit {rc}: {err}")
        jt.check_eq(schema_of(prov), UPGRADING, f"schema after it stopped again (marked {marked})")
    p = jt.run([TOOL, prov.data, "--del", "wfstep", stray])
    check(p.returncode == 0, f"jzfp_schema --del: exit {p.returncode}: {p.stderr}")
    # An entry of neither length (corrupt) is left as it was, and said.
    odd = "ab" * 33
    p = jt.run([TOOL, prov.data, "--put", "wfhist", odd])
    check(p.returncode == 0, f"jzfp_schema --put wfhist: exit {p.returncode}: {p.stderr}")
    # Larger than 1 MiB (hhprop goes at the end), no free page left in the
    # file: a map of 1 MiB has no room to spare.
    p = jt.run([TOOL, prov.data, "--pad", "hhprop", "400"])
    check(p.returncode == 0, f"jzfp_schema --pad: exit {p.returncode}: {p.stderr}")
    p = jt.run([TOOL, prov.data, "--compact"])
    check(p.returncode == 0, f"jzfp_schema --compact: exit {p.returncode}: {p.stderr}")

    # Marked as this build marks an upgrade it began (an older build's mark
    # is replaced first, above, which would grow the map before the passes
    # need it): it goes on with it.
    set_schema(prov, UPGRADING)
    rc, err = upgrade(prov, map_mb=1)
    jt.log(f"upgrade: exit {rc}: {err.strip()}")
    check(rc == 0, f"jzfpd --upgrade-store: exit {rc}: {err}")
    check(f"going on with an upgrade to store schema {SCHEMA} that did not finish" in err,
          f"--upgrade-store does not say it goes on: {err}")
    # In a map of 1 MiB (map_size_mb = 1), smaller than the store, which
    # has no free page: grown, and the chunk that found it full done again.
    check("the map grown to" in err, f"--upgrade-store in a small map: {err}")
    check("upgrade: wfstep: " in err and "upgrade: proposal: 5 entries rekeyed" in err and
          f"upgrade: log: {envelopes} envelopes moved ({envelopes} held)" in err,
          f"--upgrade-store shows no progress for wfstep, proposal and log: {err}")
    check("upgrade: wfhist: 1 entries with a key of another length (not 36 or 44 bytes)" in err
          and "upgrade: wfhist: 1 entries rekeyed" not in err,
          f"--upgrade-store and wfhist's odd entry: {err}")
    p = jt.run([TOOL, prov.data, "--del", "wfhist", odd])
    check(p.returncode == 0, f"jzfp_schema --del wfhist: exit {p.returncode}: {p.stderr}")
    check(f"upgraded to store schema {SCHEMA} (an upgrade that had not finished)" in err and
          "upgrade: parked: 1 entries" in err,
          f"--upgrade-store says: {err}")
    jt.check_eq(schema_of(prov), SCHEMA, "schema after --upgrade-store")
    # Every table as the schema-7 node had written it (its versions folded),
    # but the person index (its changes merged by --as-2), the empty tables
    # of the versions kept apart (made when a node opens the store) and the
    # schema number.
    upgraded = digests(prov)
    check("hhprop" not in upgraded, "hhprop is left after the upgrade")
    for name in ("version_new", "version_pend"):
        jt.check_eq(tables[name][0], 0, f"{name} after --fold-versions")
    for name in sorted(set(tables) | set(upgraded)):
        if name not in ("person", "person_new", "version_new", "version_pend", STORE_META):
            jt.check_eq(upgraded.get(name), tables.get(name), f"table {name} after the upgrade")
    rc, err = upgrade(prov)
    check(rc == 0 and "nothing to upgrade" in err, f"a second --upgrade-store: exit {rc}: {err}")
    p = jt.run([TOOL, prov.data, "--del", "parked", parked])
    check(p.returncode == 0, f"jzfp_schema --del parked: exit {p.returncode}: {p.stderr}")

    t.start(prov)
    jt.check_eq(t.status(prov)["records"], records, "records at the province after the upgrade")
    after = seen(t, prov, ids_of(t, village)[:3])
    for k in before:
        check(after[k] == before[k],
              f"after the upgrade, {k} differs:\n{json.dumps(before[k], ensure_ascii=False)[:600]}"
              f"\n{json.dumps(after[k], ensure_ascii=False)[:600]}")
    t.verify(prov, "after the upgrade")
    # Never beside a running node: the data directory's lock.
    rc, err = upgrade(prov)
    check(rc != 0 and "another jzfpd" in err, f"--upgrade-store beside the node: exit {rc}: {err}")

    # The procedure goes on at the upgraded province.
    out = t.ctl(town, "notice", "open", "--all", "--json")
    check(out["proposals"] >= 1, f"township notice open --all: {out}")
    t.wait_synced()
    now = t.ctl(prov, "proposals", "--state", "TOWNSHIP_NOTICE", "--json")["proposals"]
    jt.check_eq(sorted(p["household"] for p in now),
                sorted(p["household"] for p in before["pending"]["proposals"]),
                "proposals in the township's notice at the upgraded province")
    t.verify(prov, "after the township's notice")

    # An empty data.mdb (no store LMDB ever wrote) is no store to upgrade.
    empty = os.path.join(prov.dir, "empty")
    os.mkdir(empty, 0o700)
    open(os.path.join(empty, "data.mdb"), "wb").close()
    rc, err = upgrade(prov, data_dir=empty)
    check(rc == 1 and f"no store to upgrade in {empty}" in err,
          f"--upgrade-store on an empty data.mdb: exit {rc}: {err}")


if __name__ == "__main__":
    jt.main(test, test_clock=True)
