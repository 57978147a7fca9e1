#!/usr/bin/env python3
"""Certificates made offline with jzfpctl cert (issue 4, first part).

The province key is the root; it certifies a county, the county a township,
the township a village. Then each refusal the CLI must give, with its
reason: a skipped level, an area outside the issuer's, a tampered chain, a
wrong root. No daemon is involved: certificates are not yet checked on links.
"""

import os
import subprocess

import jzfptest as jt
from jzfptest import check, check_eq


def ctl(*args):
    return subprocess.run([jt.JZFPCTL, *args], capture_output=True, text=True, timeout=30)


def test(t):
    d = t.dir
    keys = {}
    for name in ("province", "county", "township", "village"):
        p = ctl("keygen", "--out", os.path.join(d, name + ".key"))
        check_eq(p.returncode, 0, f"keygen {name}")
        keys[name] = p.stdout.strip()
    root = ctl("cert", "root", "--key", os.path.join(d, "province.key"))
    check_eq(root.stdout.strip(), keys["province"], "cert root prints the province key")

    def path(name, ext):
        return os.path.join(d, f"{name}.{ext}")

    def issue(issuer, subject, level, area, out, root_issuer=False):
        args = ["cert", "issue", "--issuer-key", path(issuer, "key")]
        args += ["--root"] if root_issuer else ["--issuer-cert", path(issuer, "cert")]
        args += ["--pub", keys[subject], "--level", level, "--area", area, "--days", "30",
                 "--out", out]
        return ctl(*args)

    p = issue("province", "county", "county", "630121000000", path("county", "cert"), True)
    check_eq(p.returncode, 0, f"county cert: {p.stderr}")
    p = issue("county", "township", "township", "630121101000", path("township", "cert"))
    check_eq(p.returncode, 0, f"township cert: {p.stderr}")
    p = issue("township", "village", "village", "630121101001", path("village", "cert"))
    check_eq(p.returncode, 0, f"village cert: {p.stderr}")

    p = ctl("cert", "verify", "--root", keys["province"], path("village", "cert"))
    check_eq(p.returncode, 0, f"verify the village's chain: {p.stdout} {p.stderr}")
    check(keys["village"] in p.stdout, f"verify does not name the leaf key: {p.stdout!r}")
    check("revocations not checked" in p.stdout, f"verify claims more than it checks: {p.stdout!r}")
    p = ctl("cert", "show", path("village", "cert"))
    check_eq(p.returncode, 0, "cert show")
    for want in ("certificate 2", "630121000000", "630121101000", "630121101001"):
        check(want in p.stdout, f"cert show lacks {want!r}: {p.stdout!r}")

    # Refusals, each with its reason and exit 1, and no file written.
    bad = path("bad", "cert")
    p = issue("county", "village", "village", "630121101001", bad)
    check(p.returncode == 1 and "skips a level" in p.stderr, f"skipped level: {p.stderr!r}")
    p = issue("county", "township", "township", "632221101000", bad)
    check(p.returncode == 1 and "outside the issuer's area" in p.stderr,
          f"area outside the issuer's: {p.stderr!r}")
    check(not os.path.exists(bad), "a refused certificate was written")

    with open(path("village", "cert"), "rb") as f:
        chain = bytearray(f.read())
    refused = 0
    for i in range(0, len(chain), 7):  # every 7th byte, each flipped in a copy
        c = bytearray(chain)
        c[i] ^= 0xFF
        with open(bad, "wb") as f:
            f.write(c)
        p = ctl("cert", "verify", "--root", keys["province"], bad)
        refused += p.returncode == 1
    check_eq(refused, len(range(0, len(chain), 7)), "tampered chains refused")

    p = ctl("cert", "verify", "--root", keys["county"], path("village", "cert"))
    check(p.returncode == 1 and "wrong root" in p.stderr, f"wrong root: {p.stderr!r}")


if __name__ == "__main__":
    jt.main(test)
