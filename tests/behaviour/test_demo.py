"""test_demo.py - `make demo` works: tests/demo/demo.py, run as a user runs
it, switches there and back, prints both timelines, loses nothing, and
leaves nothing running, also when it is stopped halfway by SIGTERM.

The demo starts and stops its own nodes and server (random free ports on
loopback), so these tests need no fixture. If it overruns, it gets SIGTERM
first, so that it stops what it started, and SIGKILL only after that.
"""

import re
import signal
import socket
import subprocess
import time
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "demo" / "demo.py"


def start_demo():
    return subprocess.Popen(["/usr/bin/python3", str(DEMO)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)


def finish(proc, timeout):
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        raise AssertionError("demo.py ran over %d s:\n%s" % (timeout, out)) from None
    return proc.returncode, out


def started(out):
    """(folder, [(host, port)] of every node and the DNS server) as printed."""
    folder = re.search(r"^  folder\s+(\S+)$", out, re.M).group(1)
    addrs = [(h, int(p)) for h, p in re.findall(r"^  redis r\d\s+([\d.]+):(\d+),", out, re.M)]
    m = re.search(r"^  redisfo-dns\s+serve on ([\d.]+) port (\d+):", out, re.M)
    if m:
        addrs.append((m.group(1), int(m.group(2))))
    return folder, addrs


def assert_stopped(out):
    """Nothing listens any more where the demo said it started something,
    and its folder is gone."""
    folder, addrs = started(out)
    assert not Path(folder).exists(), out
    for host, port in addrs:
        with socket.socket() as s:
            s.settimeout(1)
            assert s.connect_ex((host, port)) != 0, "%s:%d still answers\n%s" % (host, port, out)


def test_demo_switches_there_and_back_and_loses_nothing():
    rc, out = finish(start_demo(), 120)
    assert rc == 0, out
    m = re.search(r"^acked (\d+), lost (\d+)$", out, re.M)
    assert m, out
    assert int(m.group(1)) > 0 and int(m.group(2)) == 0, out
    # both switches ran and printed their timelines, in order
    to_r2 = out.find("switch --to r2 -y")
    to_r1 = out.find("switch --to r1 -y")
    assert 0 <= to_r2 < to_r1, out
    for part in (out[to_r2:to_r1], out[to_r1:]):
        assert "timeline:" in part, out
        assert re.search(r"^\s+swap\s+[\d.]+ ms\s+ok\b", part, re.M), out
        assert "write pause window:" in part, out
    assert "r2 now serves redis.svc.test." in out, out
    assert "r1 now serves redis.svc.test." in out, out
    assert "FAILED" not in out, out
    assert_stopped(out)


def test_demo_stopped_by_sigterm_stops_everything():
    proc = start_demo()
    lines = []
    deadline = time.monotonic() + 60
    try:
        # once the writer runs, everything has been started
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("  writer ") or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGTERM)
    finally:
        rc, rest = finish(proc, 60)
    out = "".join(lines) + rest
    assert rc == 128 + signal.SIGTERM, out
    assert "SIGTERM: stopping everything" in out, out
    assert_stopped(out)
