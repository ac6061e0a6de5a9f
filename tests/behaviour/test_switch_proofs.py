"""What the switch proves before it changes anything, and what it finds
out instead of guessing.

Before the first pause (and in --dry-run): the DNS server takes an UPDATE
signed with our key that holds only the swap's prerequisite (it changes
nothing), and every command the switch will send a node is there and
allowed. After an UPDATE whose reply cannot be trusted, the record is
read back over TCP before deciding. UPDATEs go over UDP when TCP is
refused or closed. Every TSIG algorithm checkconf accepts signs a whole
switch. A demote that fails after the swap leaves the old primary paused
with its clients killed.
"""

import json
import re
import signal
import socket

import dns.message
import dns.query
import dns.rcode
import dns.update
import pytest

from failover_env import LEASE_MOVES, Cluster, DnsFaultProxy, knot_cluster
from servers import have_knotd, wait_until


def pause_calls(c, name):
    """How many CLIENT PAUSE the node has run (INFO commandstats)."""
    stats = c.nodes[name].client().info("commandstats")
    return stats.get("cmdstat_client|pause", {}).get("calls", 0)


def audit_steps(c):
    path = c.rf.dir / "redisfo-audit.log"
    if not path.exists():
        return []
    return [json.loads(line)["step"] for line in path.read_text().splitlines() if line]


def proxied(c, proxy):
    """The switch's DNS traffic through proxy; the tests ask the server."""
    c.rf.failover_cfg["server"] = "127.0.0.1:%d" % proxy.port
    c.rf.write_conf()


def at_step(step, cmd):
    return 'test "$REDISFO_STEP" = %s || exit 0; %s' % (step, cmd)


# ---------------------------------------------------------------- the key

def test_check_update_changes_nothing_on_our_server(tmp_path, procs):
    """The preflight's UPDATE (prerequisites, no update section) is
    answered NOERROR when they hold, NXRRSET when not, and neither moves
    the serial nor rewrites the zone file."""
    c = Cluster(tmp_path, procs)
    zone_before = c.rf.zone_path.read_bytes()
    mtime = c.rf.zone_path.stat().st_mtime_ns
    serial = c.serial()
    for addr, want in (("127.0.0.2", dns.rcode.NOERROR), ("127.0.0.9", dns.rcode.NXRRSET)):
        u = c.rf.update_message()
        u.present("redis", dns.rdataset.from_text("IN", "A", 0, addr))
        r = dns.query.tcp(u, "127.0.0.1", port=c.rf.port, timeout=3)
        assert r.rcode() == want, r
    assert c.serial() == serial
    assert c.rf.zone_path.read_bytes() == zone_before
    assert c.rf.zone_path.stat().st_mtime_ns == mtime


def test_wrong_secret_is_refused_before_any_pause(tmp_path, procs):
    c = Cluster(tmp_path, procs)
    r = c.switch("--dry-run", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[ ok ] DNS server 127.0.0.1:%d takes an UPDATE signed with redisfo-key. " \
        "(hmac-sha256) whose prerequisite (the record names r1) holds" % c.rf.port in r.stdout
    assert "[ ok ] r1 lets the switch run CLIENT PAUSE, CLIENT UNPAUSE, REPLICAOF, " \
        "CLIENT KILL, CONFIG REWRITE" in r.stdout
    assert "[ ok ] r2 lets the switch run REPLICAOF, CONFIG REWRITE" in r.stdout
    # the switch's config now has another secret than the server's
    c.rf.dns_cfg["update_key"] = dict(c.rf.dns_cfg["update_key"],
                                      secret="d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC0xMjM0NTY=")
    c.rf.write_conf()
    before = c.snapshot()
    pauses = pause_calls(c, "r1")
    r = c.switch("--dry-run", "--to", "r2")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "every check passed" not in r.stdout
    assert "[FAIL] DNS server" in r.stdout
    assert "switch would be refused: the DNS server does not take the swap's UPDATE" \
        in r.stderr
    assert "NOTAUTH (TSIG error BADSIG)" in r.stderr
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 1, r.stdout + r.stderr
    # the lease's UPDATE, at the lock step, is the first to meet the key
    assert "switch refused: cannot take the lease _lock._redisfo.redis.svc.test.: " \
        "DNS server 127.0.0.1:%d answered the UPDATE of svc.test. with NOTAUTH" \
        % c.rf.port in r.stderr
    assert "BADSIG" in r.stderr
    assert pause_calls(c, "r1") == pauses
    assert "pause" not in audit_steps(c) and "promote" not in audit_steps(c)
    assert c.snapshot() == before


# -------------------------------------------------------------- commands

def test_replicaof_renamed_on_the_primary_is_refused_at_preflight(tmp_path, procs):
    c = Cluster(tmp_path, procs)
    r1 = c.nodes["r1"]
    r1.extra.append('rename-command REPLICAOF ""')
    r1._write_conf()
    r1.stop()
    r1.start()
    c.wait_links("r1")
    before = c.snapshot()
    pauses = pause_calls(c, "r1")
    r = c.switch("--dry-run", "--to", "r2")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "[FAIL] r1 (127.0.0.2:%d) lets the switch run REPLICAOF: REPLICAOF is " \
        "renamed or disabled" % c.port in r.stdout
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "switch refused: REPLICAOF is not available on r1 (127.0.0.2:%d): REPLICAOF " \
        "is renamed or disabled (COMMAND INFO does not know it); the switch needs it to " \
        "demote it" % c.port in r.stderr
    assert pause_calls(c, "r1") == pauses
    assert c.snapshot() == before


def test_failed_demote_keeps_the_old_primary_paused_and_kills_its_clients(tmp_path, procs):
    """The preflight saw REPLICAOF allowed; someone takes it away after the
    swap. The record names r2, r1 cannot be demoted: it stays paused for
    writes and its clients are killed, so nothing acknowledged lands on it."""
    c = Cluster(tmp_path, procs, password="default-pass",
                extra=["user failover on >fo-pass ~* &* +@all"],
                service_auth={"user": "failover", "password": "fo-pass"})
    r1 = c.nodes["r1"]
    c.rf.env["REDISFO_STEP_HOOK"] = at_step(
        "swap", "redis-cli -h %s -p %d -a default-pass --no-auth-warning ACL SETUSER "
        "failover -replicaof -slaveof >/dev/null" % (r1.host, r1.port))
    held = socket.create_connection((r1.host, r1.port), timeout=2)
    try:
        held.sendall(b"AUTH default-pass\r\n")
        assert held.recv(64).startswith(b"+OK")
        r = c.switch("-y", "--to", "r2")
        assert r.returncode == 3, r.stdout + r.stderr
        assert "could not make r1 a replica of r2" in r.stderr
        assert "r1 stays paused for writes (CLIENT PAUSE WRITE for 24 hours, until " \
            "CLIENT UNPAUSE) and its" in r.stderr
        assert "clients were killed, so nothing acknowledged can land there" in r.stderr
        assert "failed part-way: the record names r2, which is master; r1 could not be " \
            "demoted, but it stays paused for writes" in r.stderr
        assert "held on r1" in r.stdout
        assert c.served() == "r2" and c.role("r2") == "master"
        # the connection it had was killed ...
        held.settimeout(2)
        try:
            gone = held.recv(64) == b""
        except ConnectionResetError:
            gone = True
        assert gone
    finally:
        held.close()
    # ... and a new one cannot write
    import redis
    w = r1.client(socket_timeout=0.5)
    with pytest.raises(redis.exceptions.TimeoutError):
        w.set("lost?", "1")
    assert r1.client().get("lost?") is None


# ------------------------------------------------------- DNS it cannot trust

def test_unsigned_refused_reply_is_read_back_and_rolled_back(tmp_path, procs):
    """PowerDNS answers a key it does not like with an unsigned REFUSED:
    the switch cannot trust it, reads the record back over TCP, finds it
    unchanged and rolls back cleanly (exit 1), naming the rcode."""
    c = Cluster(tmp_path, procs)
    proxy = procs(DnsFaultProxy(c.rf.port, "unsigned_refused"))
    proxied(c, proxy)
    before = c.snapshot()
    serial = c.serial()
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 1, r.stdout + r.stderr
    assert proxy.updates == 1
    assert "answered the UPDATE of svc.test. with REFUSED, unsigned: the reply cannot " \
        "be trusted" in r.stderr
    assert "read back over TCP: the record names r1, serial %d (unchanged): the " \
        "UPDATE was not applied" % (serial + 1) in r.stderr   # + the lease
    assert re.search(r"rolled back: r1 is the primary again \(unpaused\), r2 is a replica "
                     r"of r1 again( \(its link not up yet\))?, the record still names r1; "
                     r"nothing changed", r.stderr), r.stderr
    assert "may yet be applied" not in r.stderr
    wait_until(lambda: c.roles() == before["roles"], what="roles restored")
    assert c.snapshot() == before
    assert c.nodes["r1"].client(socket_timeout=0.5).set("k", "1")


def test_rollback_with_the_primary_down_says_only_what_was_seen(tmp_path, procs):
    """A failover (r1 killed) whose swap is refused: the rollback must not
    say r1 is the primary again, since r1 did not answer."""
    c = Cluster(tmp_path, procs, failover={"probe_timeout_ms": 250, "probes": 2})
    proxy = procs(DnsFaultProxy(c.rf.port, "unsigned_refused"))
    proxied(c, proxy)
    c.nodes["r1"].kill(signal.SIGKILL)
    before = c.snapshot_dns()
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "UNPLANNED FAILOVER" in r.stdout
    assert "rolled back: r1 did not answer: the record still names it; r2 is a " \
        "replica of r1 again (link down); nothing changed" in r.stderr
    assert "r1 is the primary again" not in r.stderr
    assert c.snapshot_dns() == before
    assert c.role("r2") == "replica of r1"


# ------------------------------------------------------------ UDP fallback

@pytest.mark.parametrize("tcp", ["refuse", "close"])
def test_update_over_udp_when_tcp_is_refused_or_closed(tmp_path, procs, tcp):
    c = Cluster(tmp_path, procs)
    proxy = procs(DnsFaultProxy(c.rf.port, "pass", tcp=tcp))
    proxied(c, proxy)
    serial = c.serial()
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert proxy.udp_updates >= 2          # the preflight's check and the swap
    assert "(over UDP: TCP refused)" in r.stdout
    assert "(over UDP: TCP refused or closed)" in r.stdout
    assert c.served() == "r2" and c.serial() == serial + 1 + LEASE_MOVES
    assert c.role("r2") == "master"
    wait_until(lambda: c.role("r1") == "replica of r2", what="r1 follows r2")


@pytest.mark.parametrize("server", ["redisfo", "knot"])
def test_update_applied_then_tcp_lost_is_retried_over_udp(tmp_path, procs, server):
    """The UPDATE reaches the server over TCP and is applied, then the
    connection drops: the same message goes again over UDP. Our server
    answers a signed message it has seen as the first time; knotd fails
    the retry's prerequisite, and the switch reads the record back to
    tell "already applied" from "someone else changed it"."""
    if server == "knot":
        if not have_knotd():
            pytest.skip("knotd not installed")
        c, knot = knot_cluster(tmp_path, procs)
        upstream, serial_of = knot.port, knot.serial
    else:
        c = Cluster(tmp_path, procs)
        upstream, serial_of = c.rf.port, c.serial
    proxy = procs(DnsFaultProxy(upstream, "pass", tcp="apply_close"))
    proxied(c, proxy)
    serial = serial_of()
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert proxy.udp_updates == 1
    if server == "knot":
        assert "an earlier copy of the UPDATE was applied" in r.stdout
        assert "prerequisite failed (NXRRSET)" in r.stdout
        assert "read back over TCP: the record names r2" in r.stdout
        assert "and the TXT is this switch's" in r.stdout
    assert serial_of() == serial + 1 + LEASE_MOVES
    assert c.role("r2") == "master"
    wait_until(lambda: c.role("r1") == "replica of r2", what="r1 follows r2")


# ------------------------------------------------------------ algorithms

@pytest.mark.parametrize("alg", ["hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256",
                                 "hmac-sha384", "hmac-sha512"])
def test_every_algorithm_checkconf_accepts_switches(tmp_path, procs, alg):
    c = Cluster(tmp_path, procs, start_server=False)
    c.rf.key_algorithm = alg
    c.rf.dns_cfg["update_key"] = dict(c.rf.dns_cfg["update_key"], algorithm=alg)
    c.rf.write_conf()
    r = c.rf.run("checkconf")
    assert r.returncode == 0, r.stdout + r.stderr
    c.rf.start()
    serial = c.serial()
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "(%s)" % alg in r.stdout
    assert c.served() == "r2" and c.serial() == serial + 1 + LEASE_MOVES
    assert c.txt().startswith("primary=r2 epoch=2 ")
