"""test_negative_ttl.py - how long a "no such record" answer lives.

Resolvers cache NODATA and NXDOMAIN for min(SOA TTL, SOA minimum)
(RFC 2308). The zone serve creates takes dns.negative_ttl (default
dns.ttl) for both; checkconf and serve warn about a zone file above it;
with dns.negative_ttl_strict an UPDATE raising it is refused. Through a
real unbound, set up with README.md's snippet, a switch from an IPv4-only
primary to a dual-stack one brings the AAAA to clients within the TTL
plus a second, after unbound had cached "no AAAA"; with the old SOA
minimum of 60 it would not.
"""

import random
import re
import signal
import subprocess
import time
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from confgen import service_zone
from dnstools import need_tool
from failover_env import Cluster
from servers import Redisfo, free_port, stop_popen, wait_until

TOP = Path(__file__).resolve().parents[2]
TTL = 5



def old_style_zone():
    """service_zone() with SOA TTL 3600 and the minimum the server used to
    create, 60: a negative TTL of 60."""
    z = service_zone("svc.test.", "r1", "127.0.0.2")
    assert "3600 600 86400 5\n" in z
    return z.replace("3600 600 86400 5\n", "3600 600 86400 60\n", 1)


# ------------------------------------------------------------ the SOA

def soa_of(srv):
    r = srv.query(srv.zone, "SOA")
    rrset = r.answer[0]
    return rrset.ttl, rrset[0].minimum


def negative_soa_ttl(srv):
    """The TTL of the SOA in a NODATA answer: what a resolver caches it for."""
    r = srv.query("redis.svc.test.", "AAAA")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer, r
    return r.authority[0].ttl


@pytest.mark.parametrize("extra, want", [({}, TTL), ({"negative_ttl": 30}, 30)])
def test_created_zone_soa_follows_negative_ttl(tmp_path, procs, extra, want):
    srv = procs.add(Redisfo(tmp_path, dns=extra))
    srv.start()
    assert soa_of(srv) == (want, want)
    assert negative_soa_ttl(srv) == want
    r = srv.run("checkconf")
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr


def test_sample_zone_soa_is_the_shipped_ttl():
    text = (TOP / "zones/svc.test.zone").read_text()
    soa = re.search(r"^@\s+(\d+)\s+IN\s+SOA\s+\S+\s+\S+\s+\d+\s+\d+\s+\d+\s+\d+\s+(\d+)\s*$",
                    text, re.M)
    assert soa, "no one-line SOA with its own TTL in zones/svc.test.zone"
    conf = (TOP / "redisfo.conf").read_text()
    ttl = int(re.search(r"^\s*ttl = (\d+);", conf, re.M).group(1))
    assert (int(soa.group(1)), int(soa.group(2))) == (ttl, ttl)


def test_checkconf_and_serve_warn_above_negative_ttl(tmp_path, procs):
    srv = procs.add(Redisfo(tmp_path, zone_text=old_style_zone()))
    r = srv.run("checkconf")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "configuration OK", r.stdout
    warn = r.stderr
    assert "warning" in warn and str(srv.zone_path) in warn, warn
    assert "min(TTL 3600, minimum 60) = 60" in warn and "dns.negative_ttl 5" in warn, warn
    assert "AAAA" in warn, warn
    # within the limit: no warning
    srv.dns_cfg["negative_ttl"] = 60
    srv.write_conf()
    r = srv.run("checkconf")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    # serve: the same warning, in the log, and it serves
    srv.dns_cfg["negative_ttl"] = 30
    srv.write_conf()
    srv.start()
    assert "dns.negative_ttl 30" in srv.log() and "warning" in srv.log(), srv.log()
    assert negative_soa_ttl(srv) == 60
    # and a reload (SIGHUP) of a zone still above it
    srv.signal(signal.SIGHUP)
    wait_until(lambda: srv.log().count("dns.negative_ttl 30") == 2, timeout=10,
               what="the warning again after the reload")


def update_soa(srv, soa_ttl, minimum, serial):
    m = srv.update_message()
    m.replace("svc.test.", soa_ttl, "SOA",
              "ns1.svc.test. hostmaster.svc.test. %d 3600 600 86400 %d" % (serial, minimum))
    return dns.query.tcp(m, "127.0.0.1", port=srv.port, timeout=3)


def test_strict_refuses_an_update_raising_it(tmp_path, procs):
    srv = procs.add(Redisfo(tmp_path, dns={"negative_ttl": 10, "negative_ttl_strict": True},
                            zone_text=service_zone("svc.test.", "r1", "127.0.0.2")))
    srv.start()
    before = srv.zone_path.read_bytes()
    r = update_soa(srv, 3600, 60, 50)
    assert r.rcode() == dns.rcode.REFUSED, r
    assert srv.zone_path.read_bytes() == before
    wait_until(lambda: "dns.negative_ttl_strict" in srv.log(), timeout=5,
               what="the refusal logged")
    assert "min(TTL 3600, minimum 60) = 60" in srv.log(), srv.log()
    assert negative_soa_ttl(srv) == 5
    # up to the limit is fine
    r = update_soa(srv, 3600, 10, 51)
    assert r.rcode() == dns.rcode.NOERROR, r
    assert negative_soa_ttl(srv) == 10


def test_not_strict_takes_it(tmp_path, procs):
    srv = procs.add(Redisfo(tmp_path, zone_text=service_zone("svc.test.", "r1", "127.0.0.2")))
    srv.start()
    r = update_soa(srv, 3600, 60, 50)
    assert r.rcode() == dns.rcode.NOERROR, r
    assert negative_soa_ttl(srv) == 60


# ------------------------------------------------------------ unbound

def readme_unbound_snippet():
    """The unbound snippet of README.md's "Resolvers" section."""
    text = (TOP / "README.md").read_text()
    section = text.split("### Resolvers", 1)[1].split("\n#", 1)[0]
    blocks = re.findall(r"```\n(.*?)```", section, re.S)
    snippet = [b for b in blocks if "stub-zone:" in b or "forward-zone:" in b]
    assert len(snippet) == 1, "README.md: one unbound snippet under Resolvers"
    lines = [line.strip() for line in snippet[0].splitlines() if line.strip()]
    assert 'local-zone: "test." nodefault' in lines and "serve-expired: no" in lines
    return lines


class Unbound:
    """unbound in the foreground on a random loopback port, the README's
    snippet pointing at our server, nothing else reached."""

    def __init__(self, tmp_path, server_port, leave_out=None, change=None):
        self.dir = Path(tmp_path) / "unbound"
        self.dir.mkdir()
        self.port = free_port("127.0.0.1")
        self.snippet = [(change or {}).get(line, line).replace("@5353", "@%d" % server_port)
                        for line in readme_unbound_snippet() if line != leave_out]
        own = ["server:",
               'username: ""', 'chroot: ""', 'directory: "%s"' % self.dir,
               'pidfile: ""', "do-daemonize: no", "use-syslog: no",
               'logfile: ""', "verbosity: 1",
               "interface: 127.0.0.1@%d" % self.port, "port: %d" % self.port,
               "do-ip6: no", "access-control: 127.0.0.0/8 allow",
               'module-config: "iterator"',
               "remote-control:", "control-enable: no"]
        self.conf = self.dir / "unbound.conf"
        self.conf.write_text("\n".join(own + self.snippet) + "\n")
        self.log_path = self.dir / "unbound.log"
        self.proc = None

    def start(self, wait_for_answer=True):
        need_tool("unbound")
        check = subprocess.run(["unbound-checkconf", str(self.conf)], capture_output=True,
                               text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(["unbound", "-d", "-c", str(self.conf)],
                                         stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=str(self.dir))

        def up():
            if self.proc.poll() is not None:
                return "exited"
            try:
                r = self.query("redis.svc.test.", "A", timeout=0.3)
                return r.answer != [] or not wait_for_answer
            except (dns.exception.Timeout, OSError):
                return False
        wait_until(up, timeout=15, what="unbound to answer on port %d" % self.port)
        assert self.proc.poll() is None, self.log_path.read_text()
        return self

    def query(self, name, rdtype, timeout=2.0):
        q = dns.message.make_query(name, rdtype)
        q.flags |= dns.flags.RD
        return dns.query.udp(q, "127.0.0.1", port=self.port, timeout=timeout)

    def addresses(self, rdtype):
        r = self.query("redis.svc.test.", rdtype)
        assert r.rcode() == dns.rcode.NOERROR, r
        want = dns.rdatatype.from_text(rdtype)
        return sorted(rd.address for rrset in r.answer if rrset.rdtype == want
                      for rd in rrset)

    def stop(self):
        if self.proc is not None:
            stop_popen(self.proc)


def aaaa_reaches_clients(unbound, srv, want, update):
    """Cache "no AAAA" in unbound, run update(), and return the seconds
    from the server serving the AAAA to unbound handing it out (None if
    not within 15 s)."""
    assert unbound.addresses("AAAA") == []          # NODATA, now cached
    update()

    def served():
        r = srv.query("redis.svc.test.", "AAAA")
        return any(rd.address == want for rrset in r.answer for rd in rrset)
    wait_until(served, timeout=30, what="the server to serve the AAAA")
    t0 = time.monotonic()
    deadline = t0 + 15
    while time.monotonic() < deadline:
        if want in unbound.addresses("AAAA"):
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


def test_unbound_config_is_the_readme_snippet(tmp_path):
    u = Unbound(tmp_path, 5353)
    conf = [line.strip() for line in u.conf.read_text().splitlines()]
    for line in readme_unbound_snippet():
        assert line in conf, line


def test_stock_unbound_answers_nxdomain_for_test(tmp_path, procs):
    """Why the snippet has "nodefault": without it unbound answers the
    zone itself, NXDOMAIN, and never asks the server."""
    need_tool("unbound")
    srv = procs.add(Redisfo(tmp_path))
    srv.start()
    u = Unbound(tmp_path, srv.port, leave_out='local-zone: "test." nodefault')
    procs.add(u).start(wait_for_answer=False)
    r = u.query("redis.svc.test.", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN and not r.answer, r


def test_switch_to_dual_stack_reaches_unbound_clients(tmp_path, procs):
    need_tool("unbound")
    c = Cluster(tmp_path, procs, node_conf={"r2": {"address": ["127.0.0.3", "::3"]}})
    u = procs.add(Unbound(tmp_path, c.rf.port)).start()
    assert u.addresses("A") == ["127.0.0.2"]

    def switch():
        r = c.switch("-y", "--to", "r2")
        assert r.returncode == 0, r.stdout + r.stderr
    took = aaaa_reaches_clients(u, c.rf, "::3", switch)
    print("AAAA through unbound %.2f s after the server had it" % (took or -1))
    assert took is not None and took <= TTL + 1, took
    wait_until(lambda: u.addresses("A") == ["127.0.0.3"], timeout=TTL + 1,
               what="the new primary's A through unbound")


def test_old_soa_minimum_keeps_nodata_in_unbound(tmp_path, procs):
    """The contrast: a zone with minimum 60 keeps unbound's NODATA past
    the TTL + 1 s the switch test allows."""
    need_tool("unbound")
    srv = procs.add(Redisfo(tmp_path, zone_text=old_style_zone()))
    srv.start()
    u = procs.add(Unbound(tmp_path, srv.port)).start()

    def add_aaaa():
        m = srv.update_message()
        m.add("redis.svc.test.", TTL, "AAAA", "::3")
        assert dns.query.tcp(m, "127.0.0.1", port=srv.port, timeout=3).rcode() == 0
    # poll a little past TTL + 1: the AAAA must not show
    t0 = time.monotonic()
    assert unbound_nodata_for(u, srv, add_aaaa, TTL + 2) >= TTL + 2 - 0.01, \
        "unbound saw the AAAA within %.1f s" % (time.monotonic() - t0)


def unbound_nodata_for(unbound, srv, update, seconds):
    """Cache NODATA, update, then poll unbound for the AAAA for seconds:
    how long it kept answering NODATA."""
    assert unbound.addresses("AAAA") == []
    update()
    assert srv.query("redis.svc.test.", "AAAA").answer
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if unbound.addresses("AAAA"):
            return time.monotonic() - t0
        time.sleep(0.1)
    return time.monotonic() - t0


@pytest.mark.parametrize("prefetch", ["yes", "no"])
def test_figures_unbound_change_delay(tmp_path, procs, prefetch):
    """The time from an UPDATE of the A record to unbound handing out the
    new address, clients asking every 50 ms, over 8 changes at random
    moments; within the TTL plus a second either way."""
    need_tool("unbound")
    srv = procs.add(Redisfo(tmp_path))
    srv.start()
    u = procs.add(Unbound(tmp_path, srv.port,
                          change={"prefetch: yes": "prefetch: %s" % prefetch})).start()
    rng = random.Random(7)
    delays = []
    for i in range(8):
        until = time.monotonic() + rng.uniform(0.5, TTL)
        while time.monotonic() < until:
            u.addresses("A")
            time.sleep(0.05)
        new = "127.0.1.%d" % (i + 1)
        m = srv.update_message()
        m.replace("redis.svc.test.", TTL, "A", new)
        assert dns.query.tcp(m, "127.0.0.1", port=srv.port, timeout=3).rcode() == 0
        t0 = time.monotonic()
        wait_until(lambda: u.addresses("A") == [new], timeout=TTL + 5, interval=0.02,
                   what="the new A through unbound")
        delays.append(time.monotonic() - t0)
    print("prefetch %s: change seen through unbound after %s s, at most %.2f s"
          % (prefetch, " ".join("%.2f" % d for d in delays), max(delays)))
    assert max(delays) <= TTL + 1, delays
