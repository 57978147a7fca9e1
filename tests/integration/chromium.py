"""chromium - headless Chromium for the integration tests that render pages.

Python 3, standard library only (beside jzfptest.py). The Debian package is
`chromium`; `chromium-browser` and `google-chrome` are taken too. A test
that needs a browser asks for one with start(); when Chromium is missing or
cannot run here (a container without its libraries, say) start() logs
"SKIP <what>: <why>" and returns None, and only that part of the test is
skipped. Each call of the browser is its own bounded process (a timeout,
stdin closed) sharing one profile directory in the test's temporary
directory.

    browser = chromium.start(t, "the dashboard in Chromium")
    if browser is None:
        return
    p = browser("--dump-dom", url)          # a subprocess.CompletedProcess
    shutil.copyfile(png, os.path.join(chromium.artifacts(), "x.png"))
"""

import os
import shutil
import subprocess

import jzfptest as jt


def chromium_cmd():
    """The path of a Chromium on PATH, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium(path, profile, *args, timeout=90):
    """Run Chromium at PATH headless with PROFILE and ARGS; its output as text."""
    argv = [path, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def start(t, what):
    """A browser for tree T (profile in T's directory): a function of
    Chromium's arguments (and timeout=) returning its CompletedProcess; or
    None, after logging "SKIP WHAT: why", when Chromium cannot run."""
    exe = chromium_cmd()
    profile = os.path.join(t.dir, "chromium-profile")
    why = None
    if exe is None:
        why = "no chromium on PATH (Debian package chromium)"
    else:
        p = chromium(exe, profile, "--dump-dom", "about:blank", timeout=60)
        if p.returncode != 0 or "<html" not in p.stdout:
            why = f"chromium cannot run here: exit {p.returncode}: {p.stderr.strip()[-300:]}"
    if why:
        jt.log(f"SKIP {what}: {why}")
        return None

    def browser(*args, timeout=90):
        return chromium(exe, profile, *args, timeout=timeout)
    return browser


def artifacts():
    """The directory (made if missing) where tests keep what a reader may
    want to look at after the run: build/test-artifacts, beside bin/."""
    kept = os.path.join(os.path.dirname(os.path.abspath(jt.BIN)), "test-artifacts")
    os.makedirs(kept, exist_ok=True)
    return kept
