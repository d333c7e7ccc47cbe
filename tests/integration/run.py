#!/usr/bin/python3
"""Runs strata's integration tests (tests/integration/test_*.py) against a local s3rver.

    run.py --strata BIN --state DIR setup         start the shared s3rver (CTest fixture setup)
    run.py --strata BIN --state DIR test NAME...  run test_NAME.py against it
    run.py --strata BIN --state DIR cleanup       unmount leftovers, stop daemons and s3rver
    run.py --strata BIN --state DIR all [NAME...] setup + tests + cleanup, cleanup always runs

CTest registers setup/cleanup as a fixture and one test per module (tests/integration/
CMakeLists.txt). Exit status: 0 pass, 1 failure, 77 everything skipped (SKIP_RETURN_CODE).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "scripts" / "lib"))
sys.dont_write_bytecode = True  # keep the source tree clean

import harness  # noqa: E402


def all_names() -> list[str]:
    return sorted(p.stem.removeprefix("test_") for p in HERE.glob("test_*.py"))


def run_module(name: str) -> int:
    module = importlib.import_module(f"test_{name}")
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    t0 = time.monotonic()
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    elapsed = time.monotonic() - t0
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = max(0, result.testsRun - failed - skipped)
    if failed:
        verdict, code = "FAIL", 1
    elif result.testsRun and skipped == result.testsRun:
        verdict, code = "SKIPPED", harness.SKIP_EXIT
    elif result.testsRun == 0:
        verdict, code = "FAIL (no tests ran)", 1
    else:
        verdict, code = "PASS", 0
    for test, reason in result.skipped:
        print(f"  skipped {test.id()}: {reason}")
    print(f"integration/{name}: {verdict} - {passed} passed, {failed} failed, {skipped} skipped "
          f"in {elapsed:.1f}s", flush=True)
    return code


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--strata", required=True, help="path to the strata binary")
    ap.add_argument("--state", required=True, help="state dir (s3rver, mountpoints, logs)")
    ap.add_argument("cmd", choices=["setup", "cleanup", "test", "all"])
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    harness.Config.strata = Path(args.strata).resolve()
    harness.Config.state = Path(args.state).resolve()
    # CTest and Ctrl-C: unwind through finally/atexit so mounts are undone.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    if args.cmd == "setup":
        return harness.setup_fixture()
    if args.cmd == "cleanup":
        return harness.cleanup_fixture()
    names = args.names or all_names()
    unknown = set(names) - set(all_names())
    if unknown:
        print(f"unknown test module(s): {sorted(unknown)}; have {all_names()}", file=sys.stderr)
        return 2
    if not harness.Config.strata.exists():
        print(f"strata binary not found: {harness.Config.strata}", file=sys.stderr)
        return 1
    if args.cmd == "test":
        codes = [run_module(n) for n in names]
        return max(codes) if 1 not in codes else 1
    # all: self-contained run.
    codes = {}
    try:
        harness.setup_fixture()
        for n in names:
            codes[n] = run_module(n)
    finally:
        cleanup_code = harness.cleanup_fixture()
    print("integration summary: " + ", ".join(
        f"{n}={'PASS' if c == 0 else 'SKIP' if c == harness.SKIP_EXIT else 'FAIL'}"
        for n, c in codes.items()))
    return 1 if cleanup_code or any(c not in (0, harness.SKIP_EXIT) for c in codes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
