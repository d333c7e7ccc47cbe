"""The filesystems under test: strata, s3fs-fuse, rclone mount, and 'local' (the local copy).

Every FUSE daemon runs in the foreground as our child in its own session, so the bench owns
its PID; `Reaper` records every process and mount it starts (also in files under the run's
work dir, for run.sh's exit trap) and tears them all down, whatever happened.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "S3RVER"
SECRET_KEY = "S3RVER"


class MountError(RuntimeError):
    pass


def is_mounted(path: Path) -> bool:
    target = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == target:
                return True
    return False


def fusermount_u(path: Path, lazy: bool = False) -> bool:
    for tool in ("fusermount3", "fusermount"):
        if shutil.which(tool):
            args = [tool, "-u"] + (["-z"] if lazy else []) + [str(path)]
            return subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  timeout=30).returncode == 0
    return subprocess.run(["umount"] + (["-l"] if lazy else []) + [str(path)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


class Reaper:
    """Tracks child processes and mountpoints; cleanup() ends them. Not thread-safe."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.procs: list[subprocess.Popen] = []
        self.mounts: list[Path] = []
        state_dir.mkdir(parents=True, exist_ok=True)

    def _save(self):
        (self.state_dir / "pids").write_text(
            "".join("%d\n" % p.pid for p in self.procs if p.poll() is None))
        (self.state_dir / "mounts").write_text("".join("%s\n" % m for m in self.mounts))

    def popen(self, args, **kw) -> subprocess.Popen:
        kw.setdefault("start_new_session", True)
        kw.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.Popen(args, **kw)
        self.procs.append(proc)
        self._save()
        return proc

    def add_mount(self, path: Path):
        self.mounts.append(path)
        self._save()

    def unmount(self, path: Path):
        if is_mounted(path) and not fusermount_u(path):
            time.sleep(0.5)
            if not fusermount_u(path):
                fusermount_u(path, lazy=True)
        if path in self.mounts:
            self.mounts.remove(path)
        self._save()

    def stop(self, proc: subprocess.Popen, grace: float = 10.0):
        """SIGTERM to the child's process group (it leads its own session), then SIGKILL."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            if proc.poll() is not None:
                break
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass
        if proc in self.procs:
            self.procs.remove(proc)
        self._save()

    def cleanup(self):
        for m in list(self.mounts):
            self.unmount(m)
        for p in list(reversed(self.procs)):
            self.stop(p, grace=5.0)


@dataclass
class Remote:
    endpoint: str  # what the filesystems connect to (the proxy, or the real endpoint)
    bucket: str
    prefix: str  # "" or "some/prefix/"
    region: str
    access_key: str
    secret_key: str


class System:
    """One filesystem under test. mount_fresh() gives an empty cache and a new mount."""

    name = "?"
    remote_backed = True  # reads go through the proxy

    def __init__(self, reaper: Reaper, work: Path, remote: Remote | None, log):
        self.reaper = reaper
        self.work = work
        self.remote = remote
        self.log = log
        self.mnt = work / "mnt" / self.name
        self.cache = work / "cache" / self.name
        self.proc: subprocess.Popen | None = None
        self.mounts = 0
        self.log_dir = work  # the daemons' output, one file per mount

    @staticmethod
    def available() -> bool:
        return True

    def version(self) -> str:
        return ""

    @property
    def root(self) -> Path:
        return self.mnt

    def command(self) -> tuple[list[str], dict]:
        raise NotImplementedError

    def mount_fresh(self, timeout: float = 60.0):
        self.unmount()
        shutil.rmtree(self.cache, ignore_errors=True)
        self.cache.mkdir(parents=True)
        self.mnt.mkdir(parents=True, exist_ok=True)
        args, env = self.command()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / ("%s.%d.log" % (self.name, self.mounts))
        self.mounts += 1
        with log_path.open("wb") as logf:
            self.proc = self.reaper.popen(args, env=env, stdout=logf, stderr=subprocess.STDOUT)
        self.reaper.add_mount(self.mnt)
        deadline = time.monotonic() + timeout
        while not is_mounted(self.mnt):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-1500:]
                self.unmount()
                raise MountError("%s did not mount: %s" % (self.name, tail.strip()))
            time.sleep(0.05)
        # A first listing proves the mount answers (and is not timed in any workload).
        deadline = time.monotonic() + timeout
        while True:
            try:
                os.listdir(self.mnt)
                break
            except OSError as e:
                if time.monotonic() > deadline:
                    raise MountError("%s mounted but unreadable: %s" % (self.name, e)) from e
                time.sleep(0.2)

    def unmount(self):
        if self.proc is None:
            return
        self.reaper.unmount(self.mnt)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
        self.reaper.stop(self.proc)
        self.proc = None

    def clean(self):
        self.unmount()
        shutil.rmtree(self.cache, ignore_errors=True)


class Local(System):
    """The local copy of the datasets: the 'limit' every filesystem is compared against."""

    name = "local"
    remote_backed = False

    def __init__(self, reaper, work, remote, log, local_root: Path):
        super().__init__(reaper, work, remote, log)
        self.local_root = local_root

    @property
    def root(self) -> Path:
        return self.local_root

    def mount_fresh(self, timeout: float = 60.0):
        pass

    def unmount(self):
        pass

    def clean(self):
        pass


def _tool_version(args) -> str:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "?"


class Strata(System):
    name = "strata"

    def __init__(self, reaper, work, remote, log, binary: Path, extra: list[str]):
        super().__init__(reaper, work, remote, log)
        self.binary = binary
        self.extra = extra

    def available(self) -> bool:
        return self.binary.exists() and os.access(self.binary, os.X_OK)

    def version(self) -> str:
        rev = subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "--short",
                              "HEAD"], capture_output=True, text=True).stdout.strip()
        return "strata %s (%s)" % (rev or "?", self.binary)

    def command(self):
        r = self.remote
        src = "s3://%s/%s" % (r.bucket, r.prefix) if r.prefix else "s3://%s" % r.bucket
        args = [str(self.binary), "mount", src, str(self.mnt), "--foreground",
                "--endpoint", r.endpoint, "--region", r.region, "--addressing", "path",
                "--cache-dir", str(self.cache), "--log-level", "warn",
                "--metrics-file", str(self.work / "strata.metrics")] + self.extra
        env = dict(os.environ, AWS_ACCESS_KEY_ID=r.access_key, AWS_SECRET_ACCESS_KEY=r.secret_key,
                   AWS_REGION=r.region)
        for var in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
            env.pop(var, None)
        return args, env


class S3fs(System):
    name = "s3fs"

    @staticmethod
    def available() -> bool:
        return shutil.which("s3fs") is not None

    def version(self) -> str:
        return _tool_version(["s3fs", "--version"])

    def command(self):
        r = self.remote
        passwd = self.work / "s3fs.passwd"
        passwd.write_text("%s:%s\n" % (r.access_key, r.secret_key))
        passwd.chmod(0o600)
        bucket = "%s:/%s" % (r.bucket, r.prefix.rstrip("/")) if r.prefix else r.bucket
        args = ["s3fs", bucket, str(self.mnt), "-f", "-o", "ro",
                "-o", "url=%s" % r.endpoint, "-o", "use_path_request_style",
                "-o", "endpoint=%s" % r.region, "-o", "passwd_file=%s" % passwd,
                "-o", "use_cache=%s" % self.cache]
        return args, dict(os.environ)


class Rclone(System):
    name = "rclone"

    @staticmethod
    def available() -> bool:
        return shutil.which("rclone") is not None

    def version(self) -> str:
        return _tool_version(["rclone", "version"])

    def command(self):
        r = self.remote
        env = dict(os.environ)
        env.pop("AWS_CA_BUNDLE", None)  # rclone fails with LoadCustomCABundleError otherwise
        env.update(RCLONE_CONFIG_BENCH_TYPE="s3", RCLONE_CONFIG_BENCH_PROVIDER="Other",
                   RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=r.access_key,
                   RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=r.secret_key,
                   RCLONE_CONFIG_BENCH_ENDPOINT=r.endpoint,
                   RCLONE_CONFIG_BENCH_REGION=r.region,
                   RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE="true")
        path = r.bucket + ("/" + r.prefix.rstrip("/") if r.prefix else "")
        args = ["rclone", "mount", "bench:" + path, str(self.mnt), "--read-only",
                "--vfs-cache-mode", "full",
                "--cache-dir", str(self.cache), "--use-server-modtime",
                "--vfs-fast-fingerprint", "--log-level", "NOTICE"]
        return args, env
