"""The switch lease: a TXT at _lock._redisfo.<service> that switch and
rejoin hold in the zone itself, so that `check` and `status` on any host
know a switch is at work, and a switch on another host is refused.

Each test runs a real 3-node Redis service behind our own server; the
second "host" is a second config that differs only in its lock file.
"""

import re
import subprocess
import threading
import time

import dns.query
import dns.rcode
import dns.rdata
import dns.update

from failover_env import Cluster
from servers import BINARY, wait_until


def at_step(step, cmd):
    return 'test "$REDISFO_STEP" = %s || exit 0; %s' % (step, cmd)


def lease_txt(c):
    r = c.rf.query("_lock._redisfo.redis.svc.test.", "TXT")
    return " ".join(b"".join(rr.strings).decode() for rrset in r.answer for rr in rrset)


class CheckPoller:
    """Runs `check` every interval seconds in a thread until stopped (or
    until deadline seconds have passed), keeping every first line."""

    def __init__(self, conf_path, interval=0.01, deadline=600):
        self.conf_path = conf_path
        self.interval = interval
        self.deadline = deadline
        self.lines = []
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        end = time.monotonic() + self.deadline
        while not self.stop_ev.is_set() and time.monotonic() < end:
            t0 = time.monotonic()
            r = subprocess.run([str(BINARY), "-c", str(self.conf_path), "check", "-t", "10"],
                               capture_output=True, text=True, timeout=20)
            self.lines.append(r.stdout.splitlines()[0] if r.stdout else "rc=%d %s"
                              % (r.returncode, r.stderr.strip()))
            left = self.interval - (time.monotonic() - t0)
            if left > 0:
                self.stop_ev.wait(left)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_ev.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the check loop did not stop"


def test_check_stays_calm_through_planned_switches(tmp_path, procs):
    c = Cluster(tmp_path, procs)
    order = ["r2", "r1"] * 10
    with CheckPoller(c.rf.conf_path) as poll:
        wait_until(lambda: len(poll.lines) >= 3, what="the first checks")
        for target in order:
            r = c.switch("-y", "--to", target)
            assert r.returncode == 0, r.stdout + r.stderr
            assert c.served() == target
            # the next switch needs a target in sync: wait for it here,
            # the checks run on meanwhile
            c.wait_links(master=target)
        n_before = len(poll.lines)
        wait_until(lambda: len(poll.lines) >= n_before + 3, what="checks after the last switch")
    print("checks: %d, inside a switch: %d, resyncing: %d" % (
        len(poll.lines), sum("switch in progress" in ln for ln in poll.lines),
        sum("resyncing" in ln for ln in poll.lines)))
    bad = [ln for ln in poll.lines if not ln.startswith("REDISFO OK - ")]
    assert not bad, "%d of %d checks were not OK: %s" % (len(bad), len(poll.lines), bad[:10])
    # the checks did look inside the switches, and saw the lease there
    assert any("switch in progress (switch on host " in ln for ln in poll.lines), poll.lines[-5:]
    assert len(poll.lines) >= len(order), len(poll.lines)
    assert lease_txt(c) == "", "the lease was left behind"


def test_second_switch_on_another_host_is_refused_naming_the_holder(tmp_path, procs):
    c = Cluster(tmp_path, procs)
    other = tmp_path / "other-host.conf"
    text = c.rf.conf_path.read_text()
    mine = str(c.rf.dir / "redisfo.lock")
    assert mine in text
    other.write_text(text.replace(mine, str(tmp_path / "other-host.lock")))
    seen, second = tmp_path / "check.out", tmp_path / "second.out"
    cmd = ("{b} -c {o} check > {seen} 2>&1; "
           "{b} -c {o} switch -y --to r3 > {second} 2>&1 < /dev/null; echo rc=$? >> {second}"
           ).format(b=BINARY, o=other, seen=seen, second=second)
    c.rf.env["REDISFO_STEP_HOOK"] = at_step("pause", cmd)
    r = c.switch("-y", "--to", "r2")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    text2 = second.read_text()
    assert re.search(r"another switch on host \S+ pid \d+ since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "
                     r"holds the lease _lock\._redisfo\.redis\.svc\.test\. \(until \S+\)",
                     text2), text2
    assert "rc=1" in text2
    # the check from the other host, mid-switch, saw the lease: OK
    assert re.match(r"REDISFO OK - redis: switch in progress \(switch on host \S+ pid \d+ "
                    r"since \S+\)", seen.read_text()), seen.read_text()
    assert c.served() == "r2"
    wait_until(lambda: c.role("r3") == "replica of r2", what="r3 follows r2")
    assert lease_txt(c) == ""


def test_lease_of_a_killed_switch_warns_then_is_critical_then_is_broken(tmp_path, procs):
    fo = {"probe_timeout_ms": 50, "probes": 1, "pause_timeout_ms": 100}
    c = Cluster(tmp_path, procs, failover=fo)
    # budget 100 + 50 * (1 + 2 * 3) = 450 ms; the lease lasts 2 * 450 + 1000
    c.rf.env["REDISFO_STEP_HOOK"] = at_step("lock", "kill -9 $PPID")
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == -9, r.stdout + r.stderr
    del c.rf.env["REDISFO_STEP_HOOK"]
    left = lease_txt(c)
    m = re.fullmatch(r"holder=switch host=(\S+) pid=(\d+) since=(\S+) expires=(\S+)", left)
    assert m, left
    host, pid, since = m.group(1), m.group(2), m.group(3)
    states = []

    def critical():
        r = c.rf.run("check")
        states.append((r.returncode, r.stdout.splitlines()[0]))
        return r.returncode == 2
    wait_until(critical, timeout=15, interval=0.02, what="check CRITICAL")
    codes = [s for s, _ in states]
    # OK (live) first perhaps, then WARNING (overdue), then CRITICAL (expired)
    assert 1 in codes, states
    assert codes.index(1) < codes.index(2), states
    assert all(s in (0, 1) for s in codes[:-1]), states
    warn = [t for s, t in states if s == 1][0]
    assert "switch on host %s pid %s since %s still holds the lease" % (host, pid, since) in warn
    assert "expired at" in states[-1][1] and "switch on host %s pid %s" % (host, pid) in \
        states[-1][1], states[-1]
    st = c.rf.run("status")
    assert "lease   switch on host %s pid %s since %s" % (host, pid, since) in st.stdout
    assert "(expired)" in st.stdout, st.stdout
    # the next switch breaks it and says so
    r = c.switch("-y", "--to", "r2")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "breaking an expired lease of switch on host %s pid %s since %s" % (
        host, pid, since) in out, out
    assert c.served() == "r2"
    assert lease_txt(c) == ""
    wait_until(lambda: c.rf.run("check").returncode == 0, timeout=10, what="check OK again")


def test_dry_run_names_the_holder(tmp_path, procs):
    fo = {"probe_timeout_ms": 50, "probes": 1, "pause_timeout_ms": 100}
    c = Cluster(tmp_path, procs, failover=fo)
    c.rf.env["REDISFO_STEP_HOOK"] = at_step("lock", "kill -9 $PPID")
    c.switch("-y", "--to", "r2")
    del c.rf.env["REDISFO_STEP_HOOK"]
    r = c.switch("--dry-run", "--to", "r2")
    assert re.search(r"lease _lock\._redisfo\.redis\.svc\.test\.: (held by switch on host \S+ "
                     r"pid \d+|expired)", r.stdout), r.stdout



def send_update(c, build):
    msg = c.rf.update_message()
    build(msg)
    return dns.query.tcp(msg, c.rf.addr(), port=c.rf.port, timeout=3).rcode()


def test_server_takes_the_lease_updates_and_sentinel_reconfig_waits(tmp_path, procs):
    """What the lease's UPDATEs rely on, sent by dnspython to our server:
    "name not in use" (class NONE, type ANY) and a TXT RRset that must
    equal a value; and sentinel-reconfig asking to be retried while a
    lease that has not expired is held."""
    c = Cluster(tmp_path, procs, service_auth={"sentinel_name": "mymaster"})
    name = "_lock._redisfo.redis"
    now = time.time()
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 600))
    value = '"holder=switch host=elsewhere pid=99 since=%s expires=%s"' % (since, until)

    def take(m):
        m.absent(name)
        m.add(name, 0, "TXT", value)
    assert send_update(c, take) == dns.rcode.NOERROR
    assert send_update(c, take) == dns.rcode.YXDOMAIN     # the name is in use now
    before = c.snapshot_dns()
    r = c.rf.run("sentinel-reconfig", "mymaster", "leader", "start",
                 c.nodes["r1"].host, str(c.nodes["r1"].port),
                 c.nodes["r2"].host, str(c.nodes["r2"].port))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "a switch on host elsewhere pid 99 since %s holds the lease until %s " \
        "(Sentinel retries)" % (since, until) in r.stderr, r.stderr
    assert c.snapshot_dns() == before

    def release_wrong(m):
        m.present(name, dns.rdata.from_text("IN", "TXT", value.replace("pid=99", "pid=98")))
        m.delete(name, "TXT")
    assert send_update(c, release_wrong) == dns.rcode.NXRRSET

    def release(m):
        m.present(name, dns.rdata.from_text("IN", "TXT", value))
        m.delete(name, "TXT")
    assert send_update(c, release) == dns.rcode.NOERROR
    assert lease_txt(c) == ""
    r = c.rf.run("sentinel-reconfig", "mymaster", "leader", "start",
                 c.nodes["r1"].host, str(c.nodes["r1"].port),
                 c.nodes["r2"].host, str(c.nodes["r2"].port))
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.served() == "r2"
