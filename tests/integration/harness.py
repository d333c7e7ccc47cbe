"""Integration-test harness: one s3rver per CTest fixture, strata mounts that are always undone.

Layout of the state dir (CTest passes it; one per build dir):
    STATE/s3/            s3rver state (pid, port, log, data) managed by scripts/lib/s3server.py
    STATE/mnt/NAME-N/    mountpoints; STATE/logs/ strata daemon logs; STATE/work/ local copies

Every mount made through Mounter is unmounted in cleanup() (tests call it from tearDown and
atexit), and the fixture's cleanup step unmounts anything still mounted below STATE and stops
the strata daemons and the s3rver that this harness started, by PID, even after a crash.
"""

from __future__ import annotations

import atexit
import errno
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
sys.path.insert(0, str(REPO_ROOT / "scripts" / "lib"))

from s3server import S3Server, free_port  # noqa: E402

SKIP_EXIT = 77  # CTest SKIP_RETURN_CODE


class Config:
    """Where the binary and the state live; set once by run.py from its arguments."""
    strata: Path = REPO_ROOT / "build" / "src" / "cli" / "strata"
    state: Path = REPO_ROOT / "build" / "tests" / "integration" / "state"

    @classmethod
    def s3_dir(cls) -> Path:
        return cls.state / "s3"


def _mountinfo_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            points.append(mp.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\"))
    return points


def is_mounted(path: os.PathLike | str) -> bool:
    """From mountinfo, not os.path.ismount: a dead FUSE daemon makes lstat fail (ENOTCONN)."""
    return os.path.abspath(path) in _mountinfo_points()


def strata_daemon_pids(mountpoint: os.PathLike | str) -> list[int]:
    """PIDs of strata processes whose command line names this mountpoint."""
    target = os.path.abspath(mountpoint).encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"strata" and b"mount" in argv and any(
                os.path.abspath(a) == target for a in argv if a.startswith(b"/")):
            pids.append(int(entry))
    return pids


def _wait(pred, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def force_unmount(mp: str) -> None:
    for args in (["fusermount3", "-u", mp], ["fusermount3", "-u", "-z", mp], ["umount", "-l", mp]):
        if not is_mounted(mp):
            return
        subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)


def stop_daemons(mp: str, timeout: float = 10.0) -> list[int]:
    """Waits for strata daemons of mp to exit; SIGTERM/SIGKILL stragglers. Returns those killed."""
    if _wait(lambda: not strata_daemon_pids(mp), timeout):
        return []
    stragglers = strata_daemon_pids(mp)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in strata_daemon_pids(mp):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if _wait(lambda: not strata_daemon_pids(mp), 5.0):
            break
    return stragglers


def run_strata(args: list[str], env: dict | None = None, timeout: float = 90.0):
    """Runs the strata binary; returns CompletedProcess with text stdout/stderr.

    Output goes to files, not pipes, and only the strata process itself is waited for: like a
    shell script's next line, this does not depend on the daemon closing inherited stdio.
    """
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([str(Config.strata), *args], env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(proc.args, proc.returncode,
                                           out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))


class MountFailed(AssertionError):
    pass


class Mounter:
    """Makes mountpoints and mounts below STATE/mnt and guarantees they are undone."""

    def __init__(self, name: str):
        self.name = name
        self.mounted: list[str] = []
        (Config.state / "mnt").mkdir(parents=True, exist_ok=True)
        (Config.state / "logs").mkdir(parents=True, exist_ok=True)
        atexit.register(self.cleanup)

    def mountpoint(self) -> Path:
        n = 0
        while True:
            mp = Config.state / "mnt" / f"{self.name}-{n}"
            if not mp.exists():
                mp.mkdir()
                return mp
            n += 1

    def log_path(self, mp: Path) -> Path:
        return Config.state / "logs" / f"{mp.name}.log"

    def mount(self, source: str, endpoint: str, mp: Path | None = None, extra=(),
              env: dict | None = None) -> Path:
        mp = mp or self.mountpoint()
        log = self.log_path(mp)
        args = ["mount", source, str(mp), "--endpoint", endpoint, "--log-file", str(log), *extra]
        t0 = time.monotonic()
        res = run_strata(args, env=env)
        if is_mounted(mp):
            self.mounted.append(str(mp))
        if res.returncode != 0 or not is_mounted(mp):
            raise MountFailed(
                f"strata {' '.join(args)} -> exit {res.returncode}, mounted={is_mounted(mp)}\n"
                f"stderr: {res.stderr.strip()}\nlog tail: {self.log_tail(mp)}")
        print(f"  mounted {source} at {mp} in {time.monotonic() - t0:.2f}s", flush=True)
        return mp

    def log_tail(self, mp: Path, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path(mp).read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def unmount(self, mp: Path | str) -> list[str]:
        """strata unmount; the daemon must then exit by itself. Returns the problems seen."""
        mp = str(mp)
        problems = []
        try:
            res = run_strata(["unmount", mp], timeout=60)
            if res.returncode != 0 or is_mounted(mp):
                problems.append(f"strata unmount {mp} -> exit {res.returncode}: "
                                f"{res.stderr.strip()}")
        except Exception as e:  # keep going: every mount must be undone
            problems.append(f"strata unmount {mp}: {e}")
        force_unmount(mp)
        killed = stop_daemons(mp)
        if killed:
            problems.append(f"strata daemon(s) {killed} of {mp} did not exit after unmount")
        if is_mounted(mp):
            problems.append(f"{mp} is still mounted")
        if mp in self.mounted:
            self.mounted.remove(mp)
        return problems

    def cleanup(self) -> list[str]:
        """Unmounts everything still mounted through this Mounter; returns the problems seen."""
        problems = []
        for mp in list(self.mounted):
            problems += self.unmount(mp)
        return problems


def server() -> S3Server:
    srv = S3Server.from_state(Config.s3_dir())
    if srv is None:
        raise RuntimeError(f"no s3rver running from {Config.s3_dir()}; run the setup step "
                           "(ctest runs it as the integration/setup fixture)")
    return srv


class StrataTestCase(unittest.TestCase):
    """Base class: self.srv (the fixture's s3rver), self.mounter, self.work (scratch dir)."""

    mounter: Mounter
    srv: S3Server
    work: Path

    @classmethod
    def setUpClass(cls):
        cls.srv = server()
        cls.mounter = Mounter(cls.__name__.lower())
        cls.work = Config.state / "work" / cls.__name__.lower()
        cls.work.mkdir(parents=True, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        problems = cls.mounter.cleanup()
        shutil.rmtree(cls.work, ignore_errors=True)
        if problems:
            raise AssertionError("cleanup problems: " + "; ".join(problems))

    def env(self, **overrides) -> dict:
        env = self.srv.env()
        env.update(overrides)
        return env

    def mount(self, source: str, **kw) -> Path:
        kw.setdefault("env", self.env())
        mp = self.mounter.mount(source, self.srv.endpoint, **kw)
        self.addCleanup(self._unmount_checked, mp)
        return mp

    def _unmount_checked(self, mp: Path):
        if str(mp) in self.mounter.mounted:
            problems = self.mounter.unmount(mp)
            if problems:
                self.fail("; ".join(problems))

    @classmethod
    def mount_for_class(cls, source: str, **kw) -> Path:
        """A mount shared by the tests of a class; tearDownClass undoes it."""
        kw.setdefault("env", cls.srv.env())
        return cls.mounter.mount(source, cls.srv.endpoint, **kw)

    def create_bucket(self, name: str) -> None:
        try:
            self.srv.create_bucket(name)
        except Exception as e:  # a rerun against the same fixture finds it already there
            if "BucketAlreadyOwnedByYou" not in str(e) and "BucketAlreadyExists" not in str(e):
                raise


def setup_fixture() -> int:
    """Starts the shared s3rver (after undoing anything a crashed earlier run left behind)."""
    cleanup_fixture(quiet=True)
    shutil.rmtree(Config.state, ignore_errors=True)
    Config.state.mkdir(parents=True)
    srv = S3Server(Config.s3_dir()).start()
    print(f"integration setup: s3rver pid {srv.pid} on {srv.endpoint} (state {Config.state})")
    return 0


def _stop_proxies(root: Path) -> None:
    """Stops counting proxies (proxied.py) a crashed test left behind: by the PID each recorded in
    ROOT/NAME/pid, and only if that PID still runs scripts/bench/proxy.py."""
    for pid_file in root.glob("*/pid") if root.is_dir() else []:
        try:
            pid = int(pid_file.read_text())
            alive = b"proxy.py" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            alive = False
        if alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        pid_file.unlink(missing_ok=True)


def cleanup_fixture(quiet: bool = False) -> int:
    """Unmounts every mount below STATE, stops its strata daemons and the s3rver, by PID."""
    state = str(Config.state.resolve()) if Config.state.exists() else str(Config.state)
    leftovers = [mp for mp in _mountinfo_points() if mp.startswith(state + os.sep)]
    for mp in leftovers:
        force_unmount(mp)
    mnt_root = Config.state / "mnt"
    if mnt_root.is_dir():
        for mp in mnt_root.iterdir():
            stop_daemons(str(mp), timeout=0.5)
    _stop_proxies(Config.state / "proxy")
    was_running = S3Server.stop_from_state(Config.s3_dir()) if Config.state.exists() else False
    still = [mp for mp in _mountinfo_points() if mp.startswith(state + os.sep)]
    if not quiet:
        print(f"integration cleanup: unmounted {len(leftovers)} leftover mount(s); "
              f"s3rver {'stopped' if was_running else 'was not running'}")
    if still:
        print(f"integration cleanup: still mounted: {still}", file=sys.stderr)
        return 1
    return 0


def read_file(path: os.PathLike | str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def assert_errno(testcase: unittest.TestCase, errnos, fn, *args):
    with testcase.assertRaises(OSError) as cm:
        fn(*args)
    testcase.assertIn(cm.exception.errno, errnos,
                      f"{fn.__name__}{args}: errno {errno.errorcode.get(cm.exception.errno)}")


__all__ = ["Config", "Mounter", "StrataTestCase", "run_strata", "is_mounted", "free_port",
           "setup_fixture", "cleanup_fixture", "read_file", "assert_errno", "SKIP_EXIT",
           "strata_daemon_pids", "stop_daemons", "force_unmount", "MountFailed"]
