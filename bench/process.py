"""A contender's OS process, watched from outside: CPU seconds and RSS sampled from /proc
(psutil) every 100 ms, the kernel's peak RSS (VmHWM) read before it stops."""

from __future__ import annotations

import bisect
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import psutil

SAMPLE_S = 0.1
STOP_GRACE_S = 30.0


class WatchedProcess:
    """Start a command, sample its resource use, stop it with SIGTERM then SIGKILL."""

    def __init__(self, argv: tuple[str, ...], env: dict[str, str], log_path: Path) -> None:
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.times: list[float] = []
        self.cpu: list[float] = []
        self.peak_rss_bytes = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self._thread = threading.Thread(target=self._sample, name="bench-sampler", daemon=True)
        self._thread.start()

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _tree(self) -> list[psutil.Process]:
        root = psutil.Process(self.pid)
        return [root, *root.children(recursive=True)]

    def _sample(self) -> None:
        while not self._stop.is_set() and self.alive():
            try:
                root = psutil.Process(self.pid)
                t = root.cpu_times()
                # children that exited and were waited for are in children_user/system
                cpu = t.user + t.system + t.children_user + t.children_system
                rss = float(root.memory_info().rss)
                children = root.children(recursive=True)
            except psutil.Error:
                break  # the contender exited between poll() and the read
            for child in children:
                try:
                    ct = child.cpu_times()
                    cpu += ct.user + ct.system
                    rss += child.memory_info().rss
                except psutil.Error:
                    continue  # a child that exited meanwhile: the sample goes on without it
            self.times.append(time.time())
            self.cpu.append(cpu)
            self.peak_rss_bytes = max(self.peak_rss_bytes, int(rss))
            self._stop.wait(SAMPLE_S)

    def _read_hwm(self) -> None:
        # the kernel's high-water mark catches peaks between two samples
        try:
            for p in self._tree():
                status = Path(f"/proc/{p.pid}/status").read_text()
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_rss_bytes = max(self.peak_rss_bytes, int(line.split()[1]) * 1024)
        except (OSError, psutil.Error):
            pass

    def cpu_at(self, ts: float) -> float:
        """CPU seconds used by the process tree at wall time ``ts`` (linear between samples)."""
        if not self.times:
            return 0.0
        i = bisect.bisect_left(self.times, ts)
        if i <= 0:
            return self.cpu[0]
        if i >= len(self.times):
            return self.cpu[-1]
        t0, t1 = self.times[i - 1], self.times[i]
        c0, c1 = self.cpu[i - 1], self.cpu[i]
        return c0 + (c1 - c0) * (ts - t0) / max(t1 - t0, 1e-9)

    def stop(self) -> int | None:
        """SIGTERM, wait, SIGKILL if needed; returns the exit code."""
        if self._proc is None:
            return None
        if self.alive():
            self._read_hwm()
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(10)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        return self._proc.returncode

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
