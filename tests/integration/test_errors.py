"""Every mount-time error of docs CLI.md: one line on stderr, the right words, non-zero exit,
nothing left mounted or running; plus clean shutdown on SIGTERM/SIGINT (issue 2)."""

import os
import signal
import subprocess
import time
import unittest

from harness import (Config, StrataTestCase, free_port, is_mounted, run_strata,
                     strata_daemon_pids)

BUCKET = "errors"
LIFECYCLE_BUCKET = "lifecycle"


class MountErrorsTest(StrataTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv.create_bucket(BUCKET)
        cls.srv.put_objects(BUCKET, {"hello.txt": b"hello\n"})

    def expect_failure(self, args, want, code=1, env=None, mp=None):
        """Runs strata; checks exit code, exactly one stderr line starting 'strata: error: '
        that contains `want`, and that no mount or daemon was left behind."""
        t0 = time.monotonic()
        res = run_strata(args, env=env or self.env())
        elapsed = time.monotonic() - t0
        lines = [l for l in res.stderr.splitlines() if l.strip()]
        print(f"  exit {res.returncode} in {elapsed:.1f}s: {res.stderr.strip()!r}")
        if mp is not None and is_mounted(mp) and str(mp) not in self.mounter.mounted:
            self.mounter.mounted.append(str(mp))  # a wrongly successful mount: undo it
            self.addCleanup(self._unmount_checked, mp)
        self.assertEqual(res.returncode, code, res.stderr)
        self.assertEqual(len(lines), 1, f"want exactly one stderr line, got {lines!r}")
        self.assertTrue(lines[0].startswith("strata: error: "), lines[0])
        self.assertIn(want, lines[0])
        if mp is not None:
            self.assertFalse(is_mounted(mp), f"{mp} is mounted after a failed mount")
            self.assertEqual(strata_daemon_pids(mp), [], "a daemon survived the failed mount")
        return lines[0]

    def mount_args(self, source, mp, endpoint=None):
        return ["mount", source, str(mp), "--endpoint", endpoint or self.srv.endpoint]

    def test_bucket_does_not_exist(self):
        mp = self.mounter.mountpoint()
        self.expect_failure(self.mount_args("s3://no-such-bucket", mp),
                            "bucket 'no-such-bucket' does not exist", mp=mp)

    def test_wrong_secret(self):
        mp = self.mounter.mountpoint()
        self.expect_failure(self.mount_args(f"s3://{BUCKET}", mp),
                            f"access denied to bucket '{BUCKET}'", mp=mp,
                            env=self.env(AWS_SECRET_ACCESS_KEY="not-the-secret"))

    def test_unknown_access_key(self):
        mp = self.mounter.mountpoint()
        self.expect_failure(self.mount_args(f"s3://{BUCKET}", mp),
                            f"access denied to bucket '{BUCKET}'", mp=mp,
                            env=self.env(AWS_ACCESS_KEY_ID="NOSUCHKEY"))

    def test_endpoint_unreachable(self):
        mp = self.mounter.mountpoint()
        url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        line = self.expect_failure(self.mount_args(f"s3://{BUCKET}", mp, endpoint=url),
                                   "cannot reach endpoint", mp=mp)
        self.assertIn(url, line)

    def test_mountpoint_missing(self):
        mp = Config.state / "mnt" / "does-not-exist"
        self.expect_failure(self.mount_args(f"s3://{BUCKET}", mp),
                            f"mountpoint '{mp}' does not exist")

    def test_mountpoint_not_a_directory(self):
        mp = Config.state / "mnt" / "a-regular-file"
        mp.write_text("x")
        self.expect_failure(self.mount_args(f"s3://{BUCKET}", mp),
                            f"mountpoint '{mp}' is not a directory")

    def test_mountpoint_not_empty(self):
        mp = self.mounter.mountpoint()
        (mp / "something").write_text("x")
        self.expect_failure(self.mount_args(f"s3://{BUCKET}", mp),
                            f"mountpoint '{mp}' is not empty", mp=mp)

    def test_already_a_mount_point(self):
        mp = self.mount(f"s3://{BUCKET}")
        res_line = self.expect_failure(self.mount_args(f"s3://{BUCKET}", mp),
                                       f"mountpoint '{mp}' is already a mount point")
        self.assertTrue(res_line)
        # The first mount is untouched.
        self.assertEqual(os.listdir(mp), ["hello.txt"])
        self.assertEqual(len(strata_daemon_pids(mp)), 1)

    def test_unknown_flag(self):
        mp = self.mounter.mountpoint()
        self.expect_failure(self.mount_args(f"s3://{BUCKET}", mp) + ["--no-such-flag"],
                            "--no-such-flag", code=2, mp=mp)

    def test_unmount_not_mounted(self):
        mp = self.mounter.mountpoint()
        res = run_strata(["unmount", str(mp)])
        lines = [l for l in res.stderr.splitlines() if l.strip()]
        self.assertNotEqual(res.returncode, 0)
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith("strata: error: "), lines[0])


class LifecycleTest(StrataTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv.create_bucket(LIFECYCLE_BUCKET)
        cls.srv.put_objects(LIFECYCLE_BUCKET, {"hello.txt": b"hello\n"})

    def test_daemon_mount_is_live_when_parent_exits(self):
        mp = self.mount(f"s3://{LIFECYCLE_BUCKET}")
        # No sleep: CLI.md promises the mount is usable on the next line of a script.
        with open(mp / "hello.txt", "rb") as f:
            self.assertEqual(f.read(), b"hello\n")
        self.assertEqual(len(strata_daemon_pids(mp)), 1)

    def test_daemon_does_not_hold_callers_pipes(self):
        # out=$(strata mount ...) and subprocess.run(capture_output=True) wait for EOF on the
        # pipes: the detached daemon must not keep the caller's stdout/stderr open.
        mp = self.mounter.mountpoint()
        args = [str(Config.strata), "mount", f"s3://{LIFECYCLE_BUCKET}", str(mp), "--endpoint",
                self.srv.endpoint, "--log-file", str(self.mounter.log_path(mp))]
        try:
            res = subprocess.run(args, env=self.env(), stdin=subprocess.DEVNULL,
                                 capture_output=True, timeout=30)
            hung = False
        except subprocess.TimeoutExpired:
            hung = True
        if is_mounted(mp):
            self.mounter.mounted.append(str(mp))
            self.addCleanup(self._unmount_checked, mp)
        self.assertFalse(hung, "strata mount's pipes stayed open after the parent exited")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(is_mounted(mp))

    def test_sigterm_unmounts(self):
        mp = self.mount(f"s3://{LIFECYCLE_BUCKET}")
        pids = strata_daemon_pids(mp)
        self.assertEqual(len(pids), 1, pids)
        os.kill(pids[0], signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (is_mounted(mp) or strata_daemon_pids(mp)):
            time.sleep(0.05)
        self.assertFalse(is_mounted(mp), "still mounted 10 s after SIGTERM")
        self.assertEqual(strata_daemon_pids(mp), [], "daemon alive 10 s after SIGTERM")
        self.mounter.mounted.remove(str(mp))

    def test_foreground_sigint(self):
        mp = self.mounter.mountpoint()
        log = self.mounter.log_path(mp)
        proc = subprocess.Popen(
            [str(Config.strata), "mount", f"s3://{LIFECYCLE_BUCKET}", str(mp), "--endpoint",
             self.srv.endpoint, "--foreground", "--log-file", str(log)],
            env=self.env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not is_mounted(mp) and proc.poll() is None:
                time.sleep(0.05)
            self.assertTrue(is_mounted(mp), f"foreground mount not live; exit {proc.poll()}")
            self.mounter.mounted.append(str(mp))
            self.assertEqual(os.listdir(mp), ["hello.txt"])
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=15)
            self.assertEqual(proc.returncode, 0, err)
            self.assertFalse(is_mounted(mp))
            self.mounter.mounted.remove(str(mp))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    unittest.main()
