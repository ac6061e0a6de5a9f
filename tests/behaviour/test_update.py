"""test_update.py - RFC 2136 UPDATE with TSIG against a running server.

Real clients (nsupdate -y, knsupdate -y, ldns-update) change the record;
compare-and-swap with prerequisites succeeds once and then fails with the
RFC's rcode, leaving everything as it was; unsigned and wrongly signed
updates are refused with nothing changed; the serial increases; the new
answer is served by the time the reply arrives; queries keep being answered
during a stream of updates. The figures test prints the median times from
sending an UPDATE to its reply and to the new answer being served:

    cd tests/behaviour && /usr/bin/python3 -m pytest -q -s -k figures test_update.py
"""

import base64
import os
import shutil
import signal
import struct
import statistics
import subprocess
import threading
import time
from unittest import mock

import dns.message
import dns.query
import dns.rcode
import dns.tsig
import dns.update
import pytest

import latency
from confgen import TEST_ZONE_LOW_SOA_TTL
from dnstools import need_tool
from servers import Redisfo, wait_until

# The small zone (serial 7, redis A 127.0.0.2) and the record's TXT.
ZONE = TEST_ZONE_LOW_SOA_TTL + '_redisfo.redis 5 IN TXT "primary=r1 epoch=1"\n'


def update(srv, zone="svc.test.", key=True):
    k = srv.tsig_key() if key is True else key
    return dns.update.UpdateMessage(zone, keyring=k)


def send(srv, msg, tcp=False):
    if tcp:
        return dns.query.tcp(msg, "127.0.0.1", port=srv.port, timeout=3)
    return dns.query.udp(msg, "127.0.0.1", port=srv.port, timeout=3)


def served(srv, name="redis.svc.test.", rdtype="A"):
    r = srv.query(name, rdtype)
    return sorted(rd.to_text() for rrset in r.answer for rd in rrset)


def state(srv):
    """What a failed update must leave alone: served record, serial, file."""
    return served(srv), served(srv, "_redisfo.redis.svc.test.", "TXT"), srv.serial(), \
        srv.zone_path.read_bytes()


@pytest.fixture
def srv(tmp_path, procs):
    s = procs.add(Redisfo(tmp_path, zone_text=ZONE))
    s.start()
    return s


# ------------------------------------------------------------ real clients

def nsupdate_key(srv, secret=None):
    """nsupdate's -y, the key name written without its final dot."""
    return srv.tsig_arg(name=srv.key_name.rstrip("."), secret=secret)


def test_nsupdate_changes_record_and_serial(srv):
    before = srv.serial()
    script = ("server 127.0.0.1 %d\nzone svc.test.\n"
              "prereq yxrrset redis.svc.test. A 127.0.0.2\n"
              "update delete redis.svc.test. A\n"
              "update add redis.svc.test. 5 A 127.0.0.9\nsend\n") % srv.port
    r = subprocess.run([need_tool("nsupdate"), "-y", nsupdate_key(srv)],
                       input=script, capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr + r.stdout
    assert served(srv) == ["127.0.0.9"]
    assert srv.serial() == before + 1
    assert "127.0.0.9" in srv.zone_file_text("127.0.0.9")
    # The same prerequisite no longer holds: nsupdate reports NXRRSET.
    r = subprocess.run([need_tool("nsupdate"), "-y", nsupdate_key(srv)],
                       input=script, capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "NXRRSET" in r.stderr + r.stdout
    assert srv.serial() == before + 1


def test_nsupdate_wrong_secret_refused(srv):
    before = state(srv)
    script = ("server 127.0.0.1 %d\nzone svc.test.\n"
              "update delete redis.svc.test. A\nupdate add redis.svc.test. 5 A 127.0.0.9\nsend\n") % srv.port
    bad = base64.b64encode(os.urandom(32)).decode()
    r = subprocess.run([need_tool("nsupdate"), "-y", nsupdate_key(srv, bad)],
                       input=script, capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert state(srv) == before


def test_knsupdate_changes_record(srv):
    before = srv.serial()
    script = ("server 127.0.0.1 %d\nzone svc.test.\n"
              "update delete redis.svc.test. A\n"
              "update add redis.svc.test. 5 A 127.0.0.10\nsend\nquit\n") % srv.port
    r = subprocess.run([need_tool("knsupdate"), "-y", srv.tsig_arg()],
                       input=script, capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr + r.stdout
    assert served(srv) == ["127.0.0.10"]
    assert srv.serial() == before + 1


LDNS_UPDATE_SCRIPT = r"""
set -e
ip link set lo up
mount --bind "$RESOLV" /etc/resolv.conf
"$BIN" -c "$CONF" serve >>"$LOG" 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true' EXIT
i=0
until dig +time=1 +tries=1 +short @127.0.0.1 svc.test. SOA | grep -q hostmaster; do
    i=$((i+1)); [ $i -lt 100 ] || { echo "server did not answer"; exit 3; }
    sleep 0.05
done
ldns-update redis.svc.test. svc.test. 127.0.0.11 "$KEYNAME" hmac-sha1 "$SECRET" || echo "ldns-update exit $?"
echo "SERVED $(dig +short @127.0.0.1 redis.svc.test. A | sort | tr '\n' ' ')"
echo "SERIAL $(dig +short @127.0.0.1 svc.test. SOA | cut -d' ' -f3)"
"""


def test_ldns_update_adds_record(tmp_path):
    """ldns-update finds the primary through /etc/resolv.conf and port 53,
    so it runs with the server in a private network and mount namespace."""
    need_tool("ldns-update")
    if shutil.which("unshare") is None:
        pytest.skip("unshare not installed")
    probe = subprocess.run(["unshare", "-n", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot make namespaces here: %s" % probe.stderr.decode().strip())
    s = Redisfo(tmp_path, zone_text=ZONE,
                dns={"listen": ["127.0.0.1:53"]})
    s.dns_cfg["update_key"]["algorithm"] = "hmac-sha1"
    s.key_algorithm = "hmac-sha1"
    s.write_conf()
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\n")
    env = dict(os.environ, RESOLV=str(resolv), BIN=str(s.binary), CONF=str(s.conf_path),
               LOG=str(s.log_path), KEYNAME=s.key_name, SECRET=s.key_secret)
    r = subprocess.run(["unshare", "-n", "-m", "sh", "-c", LDNS_UPDATE_SCRIPT],
                       capture_output=True, text=True, timeout=60, env=env)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out + s.log()
    assert "SERVED 127.0.0.11 127.0.0.2" in out, out + s.log()
    assert "SERIAL 8" in out, out
    assert "ldns-update exit" not in out, out


# ----------------------------------------------- compare-and-swap, policy

def test_compare_and_swap(srv):
    u = update(srv)
    u.present("redis", "A", "127.0.0.2")
    u.replace("redis", 5, "A", "127.0.0.3")
    assert send(srv, u).rcode() == dns.rcode.NOERROR
    assert served(srv) == ["127.0.0.3"]
    after = state(srv)

    # The same swap again: the prerequisite fails, nothing changes.
    u = update(srv)
    u.present("redis", "A", "127.0.0.2")
    u.replace("redis", 5, "A", "127.0.0.4")
    assert send(srv, u).rcode() == dns.rcode.NXRRSET
    assert state(srv) == after


@pytest.mark.parametrize("prereq,rcode", [
    (lambda u: u.absent("redis", "A"), dns.rcode.YXRRSET),          # RRset does not exist
    (lambda u: u.present("redis", "AAAA"), dns.rcode.NXRRSET),      # RRset exists
    (lambda u: u.present("nothere"), dns.rcode.NXDOMAIN),           # name in use
    (lambda u: u.absent("redis"), dns.rcode.YXDOMAIN),              # name not in use
    (lambda u: u.present("redis", "A", "127.0.0.7"), dns.rcode.NXRRSET),
])
def test_failed_prerequisite_changes_nothing(srv, prereq, rcode):
    before = state(srv)
    u = update(srv)
    prereq(u)
    u.replace("redis", 5, "A", "127.0.0.5")
    assert send(srv, u).rcode() == rcode
    assert state(srv) == before


def test_prerequisites_that_hold(srv):
    u = update(srv)
    u.present("redis", "A")
    u.present("redis")
    u.absent("redis", "AAAA")
    u.absent("nothere")
    u.replace("redis", 5, "A", "127.0.0.6")
    assert send(srv, u, tcp=True).rcode() == dns.rcode.NOERROR
    assert served(srv) == ["127.0.0.6"]


def test_unsigned_update_refused(srv):
    before = state(srv)
    u = update(srv, key=None)
    u.replace("redis", 5, "A", "127.0.0.5")
    assert send(srv, u).rcode() == dns.rcode.REFUSED
    assert state(srv) == before


def _signed_wire(u, skew=0):
    class Clock:
        @staticmethod
        def time():
            return time.time() + skew
    with mock.patch("dns.renderer.time", Clock), mock.patch("dns.message.time", Clock):
        return u.to_wire()


@pytest.mark.parametrize("what,exc", [
    ("badkey", dns.tsig.PeerBadKey),
    ("badsig", dns.tsig.PeerBadSignature),
    ("badtime", dns.tsig.PeerBadTime),
])
def test_wrongly_signed_update_notauth(srv, what, exc):
    before = state(srv)
    if what == "badkey":
        k = srv.tsig_key(name="nobody.")
    elif what == "badsig":
        k = srv.tsig_key(secret=base64.b64encode(os.urandom(32)).decode())
    else:
        k = srv.tsig_key()
    u = update(srv, key=k)
    u.replace("redis", 5, "A", "127.0.0.5")
    wire = _signed_wire(u, skew=-1000 if what == "badtime" else 0)
    reply = srv.raw(wire, timeout=2)
    assert reply is not None
    assert reply[3] & 0x0f == dns.rcode.NOTAUTH
    # dnspython reads the TSIG error of the reply (and for BADTIME checks
    # that the reply is signed with our key over the request MAC).
    with pytest.raises(exc):
        dns.message.from_wire(reply, keyring=u.keyring, request_mac=u.mac)
    assert state(srv) == before


def replay_path(srv):
    return srv.zone_path.with_name(srv.zone_path.name + ".replay")


def tsig_time_error(reply):
    """(TSIG error, server time in Other Data) of a BADTIME reply, read from
    its last bytes: error, other length 6, then the 48-bit time."""
    assert struct.unpack("!H", reply[-8:-6])[0] == 6, reply
    return struct.unpack("!H", reply[-10:-8])[0], int.from_bytes(reply[-6:], "big")


def assert_badtime(reply, u):
    """NOTAUTH, TSIG error BADTIME, our time, signed with the key over the
    request's MAC (dnspython checks that before it reports BADTIME)."""
    assert reply is not None
    assert reply[3] & 0x0f == dns.rcode.NOTAUTH
    error, server_time = tsig_time_error(reply)
    assert error == 18                                  # BADTIME
    assert abs(server_time - time.time()) < 10
    with pytest.raises(dns.tsig.PeerBadTime):
        dns.message.from_wire(reply, keyring=u.keyring, request_mac=u.mac)


def next_second(t):
    """Wait until the clock has left second t (a bounded poll)."""
    wait_until(lambda: time.time() >= t + 1, timeout=3, interval=0.01,
               what="the next second")


def test_replayed_update_refused_after_restart(srv):
    """A captured switch, sent again after a switch back and a restart of
    the server, is refused with BADTIME and changes nothing."""
    u = update(srv)
    u.present("redis", "A", "127.0.0.2")
    u.replace("redis", 5, "A", "127.0.0.3")
    wire = u.to_wire()
    signed_at = time.time()
    reply = srv.raw(wire, timeout=2)
    assert reply is not None and reply[3] & 0x0f == dns.rcode.NOERROR
    assert served(srv) == ["127.0.0.3"]
    next_second(signed_at)
    back = update(srv)
    back.present("redis", "A", "127.0.0.3")
    back.replace("redis", 5, "A", "127.0.0.2")
    assert send(srv, back).rcode() == dns.rcode.NOERROR
    assert served(srv) == ["127.0.0.2"]
    # Killed before the zone file is written: the journal alone remembers both.
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(timeout=5)
    srv.start()
    before = state(srv)
    # Byte for byte, over UDP and TCP: refused, the record stays .2.
    assert_badtime(srv.raw(wire, timeout=2), u)
    assert_badtime(srv.raw(wire, tcp=True, timeout=2), u)
    assert state(srv) == before
    assert "a replay" in srv.log()
    # Once the zone file is written again, the replay cache is saved beside it.
    wait_until(lambda: replay_path(srv).exists() and
               len(replay_path(srv).read_text().splitlines()) == 3 + 2,
               timeout=5, what="the replay cache saved with the zone file")


def test_same_update_again_gets_first_answer(srv):
    """The same signed bytes again while no later UPDATE has run (a
    retransmission, or two requests made byte-identical in the same second)
    get the first answer, and the change is applied once, even across a
    restart."""
    u = update(srv)
    u.present("redis", "A", "127.0.0.2")
    u.replace("redis", 5, "A", "127.0.0.3")
    wire = u.to_wire()
    serial = srv.serial()
    reply = srv.raw(wire, timeout=2)
    assert reply is not None and reply[3] & 0x0f == dns.rcode.NOERROR
    assert srv.serial() == serial + 1
    # The record moves back outside UPDATE: the prerequisite holds again.
    srv.write_zone(ZONE.replace(" 7 ", " %d " % (serial + 5), 1))
    srv.signal(signal.SIGHUP)
    wait_until(lambda: srv.serial() == serial + 5, timeout=5, what="the reload")
    assert served(srv) == ["127.0.0.2"]
    for restart in (False, True):
        if restart:
            assert srv.stop() == 0
            srv.start()
        reply = srv.raw(wire, tcp=restart, timeout=2)
        assert reply is not None and reply[3] & 0x0f == dns.rcode.NOERROR
        dns.message.from_wire(reply, keyring=u.keyring, request_mac=u.mac)
        assert served(srv) == ["127.0.0.2"]
        assert srv.serial() == serial + 5


def test_update_signed_long_ago_with_large_fudge_badtime(srv):
    """The client's fudge counts up to dns.tsig_fudge_max (300 s): signed
    3000 s ago with fudge 3600 is refused BADTIME."""
    before = state(srv)
    u = update(srv)
    u.use_tsig(u.keyring, fudge=3600)
    u.replace("redis", 5, "A", "127.0.0.5")
    reply = srv.raw(_signed_wire(u, skew=-3000), timeout=2)
    assert_badtime(reply, u)
    assert state(srv) == before
    assert "BADTIME" in srv.log()


def test_tsig_fudge_max_is_configurable(tmp_path, procs):
    """dns.tsig_fudge_max = 3600 lets the same request through."""
    s = procs.add(Redisfo(tmp_path, zone_text=ZONE, dns={"tsig_fudge_max": 3600}))
    s.start()
    u = update(s)
    u.use_tsig(u.keyring, fudge=3600)
    u.replace("redis", 5, "A", "127.0.0.5")
    reply = s.raw(_signed_wire(u, skew=-3000), timeout=2)
    assert reply is not None and reply[3] & 0x0f == dns.rcode.NOERROR
    assert served(s) == ["127.0.0.5"]


@pytest.mark.parametrize("content,why", [
    (b"garbage\n", "not a replay cache written by redisfo-dns"),
    (b"redisfo-dns-replay 1 zone other.test. latest 5 forgotten 0 entries 0\n",
     "written for zone other.test., not svc.test."),
    (b"redisfo-dns-replay 1 zone svc.test. latest 5 forgotten 0 entries 2\n"
     b"5 0 00112233445566778899aabbccddeeff\n", "1 entries where 2 were announced"),
])
def test_bad_replay_file_serve_and_checkconf_exit_2(srv, content, why):
    """A damaged or foreign replay cache stops serve and checkconf (exit 2,
    naming the file and the problem); it is left as it was."""
    assert srv.stop() == 0
    path = replay_path(srv)
    path.write_bytes(content)
    r = srv.run("serve", timeout=20)
    assert r.returncode == 2, r.stdout + r.stderr
    assert str(path) in r.stderr and why in r.stderr, r.stderr
    r = srv.run("checkconf", timeout=20)
    assert r.returncode == 2, r.stdout + r.stderr
    assert str(path) in r.stderr and why in r.stderr, r.stderr
    assert path.read_bytes() == content
    path.unlink()
    assert srv.run("checkconf", timeout=20).returncode == 0
    srv.start()


def test_update_with_too_many_records_refused(srv):
    before = state(srv)
    u = update(srv)
    for i in range(1001):
        u.add("n%d" % i, 5, "A", "10.9.%d.%d" % (i // 250, i % 250 + 1))
    t0 = time.monotonic()
    assert send(srv, u, tcp=True).rcode() == dns.rcode.REFUSED
    assert time.monotonic() - t0 < 2
    assert state(srv) == before


def test_update_making_rrset_over_64k_servfail_nothing_changed(srv):
    """Answers are built from the new zone; one that cannot be: SERVFAIL."""
    def add_txt(first):
        u = update(srv)
        for i in range(first, first + 40):
            u.add("big", 5, "TXT", " ".join(['"%03d%s"' % (i, c * 250) for c in "abcd"]))
        return send(srv, u, tcp=True).rcode()
    assert add_txt(0) == dns.rcode.NOERROR         # 40 records of 1 KB
    before = state(srv)
    assert add_txt(40) == dns.rcode.SERVFAIL       # 80 KB: no answer can hold it
    assert state(srv) == before
    assert len(srv.query("big.svc.test.", "TXT", tcp=True).answer[0]) == 40
    assert "update not applied" in srv.log()


def test_notzone_and_notauth(srv):
    before = state(srv)
    u = update(srv)
    u.add("redis.other.test.", 5, "A", "127.0.0.5")
    assert send(srv, u).rcode() == dns.rcode.NOTZONE
    u = update(srv, zone="other.test.")
    u.add("redis.other.test.", 5, "A", "127.0.0.5")
    assert send(srv, u).rcode() == dns.rcode.NOTAUTH
    assert state(srv) == before


def test_update_that_changes_nothing_keeps_serial(srv):
    before = state(srv)
    u = update(srv)
    u.add("redis", 5, "A", "127.0.0.2")
    assert send(srv, u).rcode() == dns.rcode.NOERROR
    assert state(srv) == before


# ------------------------------------------------- visibility, streaming

def test_new_answer_served_when_reply_arrives(srv):
    """No retry: the first query after each reply sees the new address."""
    s0 = srv.serial()
    for i in range(30):
        addr = "10.1.0.%d" % (i + 1)
        u = update(srv)
        u.replace("redis", 5, "A", addr)
        assert send(srv, u).rcode() == dns.rcode.NOERROR
        assert served(srv) == [addr]
        assert srv.query("redis.svc.test.", "A", tcp=True).answer[0][0].to_text() == addr
    assert srv.serial() == s0 + 30


def test_queries_answered_during_update_stream(srv):
    stop = threading.Event()
    stats = {"ok": 0, "fail": 0, "bad": []}
    valid = {"127.0.0.2"} | {"10.2.%d.%d" % (i // 250, i % 250 + 1) for i in range(200)}

    def querier():
        while not stop.is_set():
            try:
                r = srv.query("redis.svc.test.", "A", timeout=1)
                got = {rd.to_text() for rrset in r.answer for rd in rrset}
                if r.rcode() != 0 or len(got) != 1 or not got <= valid:
                    stats["bad"].append((r.rcode(), got))
                stats["ok"] += 1
            except Exception as exc:  # noqa: BLE001 - every failure counts
                stats["fail"] += 1
                stats["bad"].append(repr(exc))
    threads = [threading.Thread(target=querier) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(200):
            u = update(srv)
            u.replace("redis", 5, "A", "10.2.%d.%d" % (i // 250, i % 250 + 1))
            assert send(srv, u).rcode() == dns.rcode.NOERROR
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5)
    assert stats["fail"] == 0, stats["bad"][:5]
    assert stats["bad"] == []
    assert stats["ok"] > 100


# ------------------------------------------------------------------ figures

def test_figures_update_latency(srv):
    """Median send->reply and send->served times on loopback (printed)."""
    def make(i):
        addr = "10.3.%d.%d" % (i // 250, i % 250 + 1)
        u = update(srv)
        u.replace("redis", 5, "A", addr)
        return u.to_wire(), addr
    reply_ms, served_ms = latency.update_latency(srv.port, make)
    latency.print_figures("update", reply_ms, served_ms)
    assert statistics.median(reply_ms) < 1000 and statistics.median(served_ms) < 1000


# ------------------------------------------------------ TSIG-signed queries

def test_signed_query_gets_signed_answer(srv):
    q = dns.message.make_query("redis.svc.test.", "A")
    q.use_tsig(srv.tsig_key())
    r = dns.query.udp(q, "127.0.0.1", port=srv.port, timeout=3)   # checks the reply MAC
    assert r.had_tsig
    assert [rd.to_text() for rrset in r.answer for rd in rrset] == ["127.0.0.2"]
    r = subprocess.run([need_tool("dig"), "-y", srv.tsig_arg(),
                        "-p", str(srv.port), "@127.0.0.1", "redis.svc.test.", "A"],
                       capture_output=True, text=True, timeout=10)
    assert "status: NOERROR" in r.stdout and "TSIG" in r.stdout
    assert "failure" not in r.stdout.lower() and "Couldn't verify" not in r.stdout
    q = dns.message.make_query("redis.svc.test.", "A")
    q.use_tsig(srv.tsig_key(secret=base64.b64encode(os.urandom(32)).decode()))
    with pytest.raises(dns.tsig.PeerBadSignature):
        dns.query.udp(q, "127.0.0.1", port=srv.port, timeout=3)
