"""test_demo.py - `make demo` works: tests/demo/demo.py, run as a user runs
it, switches there and back, prints both timelines and loses nothing.

The demo starts and stops its own nodes and server (random free ports on
loopback), so this test needs no fixture. If it overruns, it gets SIGTERM
first, so that it stops what it started, and SIGKILL only after that.
"""

import re
import signal
import subprocess
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "demo" / "demo.py"


def run_demo(timeout=120):
    proc = subprocess.Popen(["/usr/bin/python3", str(DEMO)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
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


def test_demo_switches_there_and_back_and_loses_nothing():
    rc, out = run_demo()
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
