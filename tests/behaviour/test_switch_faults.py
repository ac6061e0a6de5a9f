"""Faults in the middle of a switch.

REDISFO_STEP_HOOK runs a command after each step of the switch, so a test
can kill a node or the DNS server at a precise moment. Each fault must end
with the primary writable, the record naming a master, and a message that
says what happened.
"""

import re
import signal
import subprocess

import pytest

from failover_env import LEASE_MOVES, Cluster
from servers import BINARY, wait_until


@pytest.fixture
def cluster(tmp_path, procs):
    return Cluster(tmp_path, procs)


def at_step(step, cmd):
    return 'test "$REDISFO_STEP" = %s || exit 0; %s' % (step, cmd)


def assert_primary_ok(c, name):
    assert c.served() == name
    assert c.role(name) == "master"
    assert c.nodes[name].client(socket_timeout=0.5).set("still-writable", "1")


def switch_under_writes(c):
    """Switch r1 -> r2 while redis-cli writes to r1 every 10 ms."""
    writer = subprocess.Popen(
        ["redis-cli", "-h", c.nodes["r1"].host, "-p", str(c.port), "-r", "-1",
         "-i", "0.01", "incr", "counter"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return c.switch("-y", "--to", "r2")
    finally:
        writer.terminate()
        writer.wait(timeout=5)


def assert_switched_within_the_pause(c, r):
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "ran out" not in out, out
    assert_primary_ok(c, "r2")
    wait_until(lambda: c.role("r1") == "replica of r2", what="r1 follows r2")


def test_target_killed_after_the_pause(cluster):
    c = cluster
    c.rf.env["REDISFO_STEP_HOOK"] = at_step("pause", "kill -9 %d" % c.nodes["r2"].proc.pid)
    serial = c.serial()
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "switch failed at catchup" in r.stderr
    # a drill hook never runs unnoticed
    assert "REDISFO_STEP_HOOK is set: it runs after each step" in r.stderr
    assert "rolled back" in r.stderr and "nothing changed" in r.stderr
    assert re.search(r"pause +[0-9.]+ ms  rolled back", r.stdout)
    assert_primary_ok(c, "r1")
    assert c.serial() == serial + LEASE_MOVES     # the lease taken and given back
    assert c.lease() == ""
    assert c.role("r3") == "replica of r1"


def test_dns_server_down_at_the_swap(cluster):
    c = cluster
    pid = c.rf.proc.pid
    # SIGKILL, then wait until it is gone (a zombie holds no socket)
    c.rf.env["REDISFO_STEP_HOOK"] = at_step(
        "promote", "kill -9 %d; while grep -qv '^State:.*Z' /proc/%d/status 2>/dev/null "
        "&& ! grep -q '^State:.*Z' /proc/%d/status; do sleep 0.01; done" % (pid, pid, pid))
    serial = c.serial()
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "switch failed at swap" in r.stderr
    assert "(not sent)" in r.stderr
    assert "nothing changed" in r.stderr
    # r2 went back to following r1; r1 takes writes at once
    wait_until(lambda: c.role("r2") == "replica of r1", what="r2 back as replica")
    assert c.role("r1") == "master"
    assert c.nodes["r1"].client(socket_timeout=0.5).set("k", "1")
    c.rf.proc.wait(timeout=5)
    c.rf.start()
    assert_primary_ok(c, "r1")
    # the lease was taken; with the server down it could not be given back,
    # and stays until it expires (check says so)
    assert c.serial() == serial + 1
    assert "cannot release the lease _lock._redisfo.redis.svc.test." in r.stderr
    assert c.lease().startswith("holder=switch ")
    c.wait_links("r1")


def test_concurrent_second_switch_is_refused(cluster, tmp_path):
    c = cluster
    out = tmp_path / "second.out"
    second = "%s -c %s switch -y --to r3 > %s 2>&1 < /dev/null; echo rc=$? >> %s" % (
        BINARY, c.rf.conf_path, out, out)
    c.rf.env["REDISFO_STEP_HOOK"] = at_step("pause", second)
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    text = out.read_text()
    assert re.search(r"another switch is running \(pid \d+\)", text), text
    assert "rc=1" in text
    assert_primary_ok(c, "r2")
    assert c.role("r3") == "replica of r2"
    assert c.role("r1") == "replica of r2"


def test_pause_running_out_with_writes_rolls_back(tmp_path, procs):
    """A step slower than the pause, while a client writes: the switch sees
    the primary's offset moved and rolls back instead of losing writes."""
    c = Cluster(tmp_path, procs, failover={"pause_timeout_ms": 300})
    c.rf.env["REDISFO_STEP_HOOK"] = at_step("promote", "sleep 0.6")
    r = switch_under_writes(c)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "ran out" in r.stderr and "took writes" in r.stderr
    wait_until(lambda: c.role("r2") == "replica of r1", what="r2 back as replica")
    assert_primary_ok(c, "r1")


def test_old_primary_dies_after_the_swap(cluster):
    """Past the record swap there is no way back: exit 3, and the message
    says where each node and the record are."""
    c = cluster
    c.rf.env["REDISFO_STEP_HOOK"] = at_step("swap", "kill -9 %d" % c.nodes["r1"].proc.pid)
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "switch failed at demote" in r.stderr
    assert "failed part-way: the record names r2, which is master" in r.stderr
    assert re.search(r"r1 \(127.0.0.2:\d+\): unreachable", r.stderr)
    assert "record redis.svc.test. -> 127.0.0.3 (r2)" in r.stderr
    assert_primary_ok(c, "r2")


def test_dns_server_hung_at_the_swap(cluster):
    """The UPDATE gets no answer: its outcome is unknown. The switch puts
    the nodes back (r1 primary), exits 3 and says the record may move late."""
    c = cluster
    c.rf.env["REDISFO_STEP_HOOK"] = at_step("promote", "kill -STOP %d" % c.rf.proc.pid)
    try:
        r = c.switch("-y", "--to", "r2")
    finally:
        c.rf.proc.send_signal(signal.SIGCONT)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "did not answer the UPDATE" in r.stderr
    assert "the UPDATE's outcome is unknown: if 127.0.0.1:%d applies it late, " \
        "the record names r2" % c.rf.port in r.stderr
    assert c.role("r1") == "master"
    assert c.nodes["r1"].client(socket_timeout=0.5).set("k", "1")
    wait_until(lambda: c.role("r2") == "replica of r1", what="r2 back as replica")
    # whichever way the late UPDATE went, check tells the truth about it,
    # and `switch --to r1` puts a record that names the replica back
    try:        # the queued UPDATE lands right after SIGCONT, if it does
        wait_until(lambda: c.served() == "r2", timeout=3, what="late UPDATE")
    except AssertionError:
        pass
    served = c.served()
    code = c.rf.run("check").returncode
    assert (served, code) in (("r1", 0), ("r2", 2)), (served, code)
    if served == "r2":
        r = c.switch("-y", "--to", "r1")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "record repair" in r.stdout
    assert_primary_ok(c, "r1")
    assert c.rf.run("check").returncode == 0


def proxied(c, proxy):
    """Send the switch's DNS traffic through proxy; the tests keep asking
    the server itself."""
    c.rf.failover_cfg["server"] = "127.0.0.1:%d" % proxy.port
    c.rf.write_conf()


def test_lost_update_reply_keeps_the_old_primary_paused(tmp_path, procs):
    """The UPDATE is applied but its reply is lost, and the server drops the
    next looks at the record: the look-ups run past the pause. The pause
    must be renewed before each look, so the old primary never takes a
    write while the record already names the new one."""
    from failover_env import DnsFaultProxy
    c = Cluster(tmp_path, procs, failover={"probe_timeout_ms": 250,
                                           "pause_timeout_ms": 800})
    proxy = procs(DnsFaultProxy(c.rf.port, "lose_reply", drop_after=2))
    proxied(c, proxy)
    r = switch_under_writes(c)
    assert proxy.dropped == 2, r.stdout + r.stderr
    assert "the UPDATE's reply was lost" in r.stdout + r.stderr
    assert_switched_within_the_pause(c, r)


def test_update_applied_after_the_switch_gave_up(tmp_path, procs):
    """The UPDATE gets no answer and the record still names r1 when the
    switch looks: it rolls back, but it cannot know the UPDATE will not
    land later, so it must not say "nothing changed". It lands: check is
    CRITICAL, and switch --to r1 repairs the record. Or, when the lease's
    release was signed in a later second, our server refuses the late
    copy as older than that (BADTIME, RFC 8945's replay rule) and the
    record stays."""
    from failover_env import DnsFaultProxy
    c = Cluster(tmp_path, procs, failover={"probe_timeout_ms": 300,
                                           "pause_timeout_ms": 800})
    proxy = procs(DnsFaultProxy(c.rf.port, "hold"))
    proxied(c, proxy)
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "the record still names r1, but the UPDATE may yet be applied" in r.stderr
    assert "nothing changed" not in r.stderr
    assert "the UPDATE's outcome is unknown" in r.stderr
    wait_until(lambda: c.role("r2") == "replica of r1", what="r2 back as replica")
    assert c.lease() == ""
    if not proxy.release():
        assert c.served() == "r1"
        wait_until(lambda: c.rf.run("check").returncode == 0, what="check OK")
        return
    assert c.served() == "r2"
    assert c.rf.run("check").returncode == 2
    r = c.switch("-y", "--to", "r1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "record repair" in r.stdout
    assert_primary_ok(c, "r1")


def test_stop_signals_are_held_and_a_closed_stdout_ignored(cluster):
    """SIGTERM (or ^C, ^Z, a closed ssh session) after the promote would
    leave two masters: the switch finishes first, then says it was asked
    to stop. An operator's `| head` that exits early: writes to stdout
    fail (SIGPIPE ignored) and the switch goes on to the end."""
    c = cluster
    c.rf.env["REDISFO_STEP_HOOK"] = at_step(
        "promote", "kill -TERM $PPID; kill -INT $PPID; kill -TSTP $PPID")
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "switch done" in r.stdout
    assert re.search(r"Terminated arrived during the switch", r.stderr), r.stderr
    assert_primary_ok(c, "r2")
    assert c.role("r1") == "replica of r2"

    del c.rf.env["REDISFO_STEP_HOOK"]
    c.wait_links("r2")
    p = subprocess.Popen([BINARY, "-c", str(c.rf.conf_path), "switch", "-y", "--to", "r1"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, cwd=str(c.rf.dir), env=c.rf.env)
    p.stdout.close()
    assert p.wait(timeout=30) == 0
    assert_primary_ok(c, "r1")
    assert c.role("r2") == "replica of r1"


def test_target_detached_during_the_pause(cluster):
    """Someone makes the target a master of its own while r1 is paused and
    writes to it: its offset passes r1's without r1's bytes behind it. The
    catch-up must not take that for caught up."""
    c = cluster
    cli = "redis-cli -h %s -p %d" % (c.nodes["r2"].host, c.port)
    c.rf.env["REDISFO_STEP_HOOK"] = at_step(
        "pause", "%s replicaof no one >/dev/null; for i in 1 2 3 4 5; do "
        "%s set stray$i %0200d >/dev/null; done" % (cli, cli, 0))
    before = c.snapshot_dns()
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "the target r2 is no longer a replica of r1 (it is a master)" in r.stderr
    # it says what it undid, and claims nothing about r2 it did not do
    assert "r1 is the primary again (unpaused), r2 was not promoted" in r.stderr
    assert "r2 its replica" not in r.stderr
    assert c.snapshot_dns() == before
    assert_primary_ok(c, "r1")
    assert c.role("r3") == "replica of r1"


def test_update_wait_never_outlasts_the_pause(tmp_path, procs):
    """probe_timeout_ms larger than the pause is a valid config: the wait
    for the UPDATE's reply must still end inside the pause, or the old
    primary takes writes while the record moves."""
    from failover_env import DnsFaultProxy
    c = Cluster(tmp_path, procs, failover={"probe_timeout_ms": 1000,
                                           "pause_timeout_ms": 600})
    proxy = procs(DnsFaultProxy(c.rf.port, "slow_reply", delay=0.75))
    proxied(c, proxy)
    assert_switched_within_the_pause(c, switch_under_writes(c))


def test_dns_hung_and_target_killed_at_the_swap(tmp_path, procs):
    """Two faults at once: the UPDATE's outcome is unknown and the target
    cannot be put back as a replica. The message says both."""
    c = Cluster(tmp_path, procs, failover={"pause_timeout_ms": 600})
    c.rf.env["REDISFO_STEP_HOOK"] = at_step(
        "promote", "kill -STOP %d; kill -9 %d" % (c.rf.proc.pid, c.nodes["r2"].proc.pid))
    try:
        r = c.switch("-y", "--to", "r2")
    finally:
        c.rf.proc.send_signal(signal.SIGCONT)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "r1 is the primary again (and a rollback failed: see the state above), " \
        "but the UPDATE's outcome is unknown" in r.stderr
    assert "the record names r2, not put back as a replica" in r.stderr
    assert "promote" in r.stdout and "ROLLBACK FAILED" in r.stdout
    assert c.role("r1") == "master"
    assert c.nodes["r1"].client(socket_timeout=0.5).set("k", "1")
