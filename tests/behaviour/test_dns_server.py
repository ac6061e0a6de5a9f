"""The `serve` process and `checkconf`: zone creation, zone errors, reloads,
signals and the command-line contract.

A missing zone file is created from the config; a broken zone names its
file and line and the server does not start; SIGHUP serves a changed zone,
or keeps the old one and logs why; SIGTERM/SIGINT exit 0; checkconf says
"configuration OK" (exit 0) or exits 2 with the reason; -q/-v work.
"""

import re
import signal
import socket
import subprocess

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from confgen import TEST_ZONE_LOW_SOA_TTL, txt_rrset
from dnstools import DNS_TOOLS, HAVE_IPV6, tool_query
from servers import Redisfo, free_port, wait_until

GOOD_ZONE = TEST_ZONE_LOW_SOA_TTL  # serial 7, redis A 127.0.0.2


def a_of(srv, name):
    r = srv.query(name, "A")
    return sorted(rd.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A
                  for rd in rrset), r.rcode()


# ------------------------------------------------------- zone from config

def test_zone_created_from_config(tmp_path, procs):
    srv = procs.add(Redisfo(tmp_path, dns={"ttl": 17}))
    assert not srv.zone_path.exists()
    srv.start()
    assert srv.zone_path.exists(), "serve did not write the zone file"
    r = srv.query("svc.test.", "SOA")
    assert r.rcode() == dns.rcode.NOERROR and r.answer[0].rdtype == dns.rdatatype.SOA
    r = srv.query("svc.test.", "NS")
    assert r.rcode() == dns.rcode.NOERROR and len(r.answer) == 1 and len(r.answer[0]) >= 1
    r = srv.query("redis.svc.test.", "A")
    assert [rd.address for rd in r.answer[0]] == ["127.0.0.2"], "not the first node r1"
    assert r.answer[0].ttl == 17, "service TTL is not dns.ttl"
    r = srv.query("_redisfo.redis.svc.test.", "TXT")
    txt = b"".join(r.answer[0][0].strings).decode()
    assert re.search(r"\bprimary=r1\b", txt) and re.search(r"\bepoch=\d+", txt), txt
    assert re.search(r"\bat=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", txt), txt
    assert r.answer[0].ttl == 17
    for tool in DNS_TOOLS:
        t = tool_query(tool, srv.port, "redis.svc.test", "A")
        assert t.rcode == "NOERROR" and t.answer[0][4] == "127.0.0.2", repr(t)
    # the file is now the state: a restart serves the same and keeps it
    text = srv.zone_path.read_text()
    assert "redis" in text
    assert srv.stop() == 0
    srv.start()
    assert a_of(srv, "redis.svc.test.")[0] == ["127.0.0.2"]


def test_zone_created_several_services(tmp_path, procs):
    services = [
        {"name": "redis", "nodes": [{"name": "r1", "host": "127.0.0.2", "port": 6379},
                                    {"name": "r2", "host": "127.0.0.3", "port": 6379}]},
        {"name": "cache", "nodes": [{"name": "c1", "host": "127.0.0.5", "port": 6380,
                                     "address": "fd00::7"},
                                    {"name": "c2", "host": "127.0.0.6", "port": 6380}]},
    ]
    srv = procs.add(Redisfo(tmp_path, services=services)).start()
    assert a_of(srv, "redis.svc.test.")[0] == ["127.0.0.2"]
    r = srv.query("cache.svc.test.", "AAAA")
    assert [rd.address for rd in r.answer[0]] == ["fd00::7"], r
    r = srv.query("cache.svc.test.", "A")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer, "served host, not address:\n%s" % r
    r = srv.query("_redisfo.cache.svc.test.", "TXT")
    assert b"primary=c1" in b"".join(r.answer[0][0].strings)


# ------------------------------------------------------------ zone errors

BAD_ZONES = {
    # name: (zone text, line of the error, text the message must hold)
    "bad_address": (GOOD_ZONE.replace("redis     5 IN A   127.0.0.2",
                                      "redis     5 IN A   999.0.0.2"), 6, None),
    "bad_type": (GOOD_ZONE + "oops IN NOTATYPE 1\n", 7, None),
    "bad_syntax": (GOOD_ZONE + 'txt IN TXT "unterminated\n', 7, None),
    "outside_zone": (GOOD_ZONE + "www.example.org. IN A 192.0.2.1\n", 7, None),
    # checks of the whole zone: the message names the record instead
    "cname_and_data": (GOOD_ZONE + "redis IN CNAME ns1\n", None, "redis"),
    "no_soa": ("$ORIGIN svc.test.\n$TTL 300\n@ IN NS ns1\nns1 IN A 127.0.0.1\n", None, "SOA"),
    "no_ns": ("$ORIGIN svc.test.\n$TTL 300\n@ IN SOA ns1 h 1 2 3 4 5\nns1 IN A 127.0.0.1\n",
              None, "NS"),
    "two_soa": (GOOD_ZONE + "@ IN SOA ns2 h 2 3600 600 86400 60\n", None, "SOA"),
    "cname_at_apex": (GOOD_ZONE.replace("@        30 IN NS  ns1.svc.test.\n", "")
                      + "@ IN CNAME ns1\n", None, "CNAME"),
    "wildcard": (GOOD_ZONE + "*.wild IN A 192.0.2.1\n", None, "wild"),
    "delegation": (GOOD_ZONE + "sub IN NS ns.example.org.\n", None, "sub"),
    "class_ch": (GOOD_ZONE + "chaos CH TXT \"x\"\n", None, "chaos"),
    # an RRset whose answer cannot fit a DNS message (~78 KB)
    "giant_rrset": (GOOD_ZONE + txt_rrset("giant", 300, 250) + "\n", None, None),
}


def assert_names_zone(text, srv, line, needle=None):
    assert srv.zone_path.name in text, "the error does not name the zone file:\n%s" % text
    if line is not None:
        assert re.search(r"(line\s*%d\b|:%d\b)" % (line, line), text), (
            "the error does not name line %d:\n%s" % (line, text))
    if needle is not None:
        assert needle in text, "the error does not say %r:\n%s" % (needle, text)


@pytest.mark.parametrize("case", sorted(BAD_ZONES))
def test_zone_error_serve_exits(tmp_path, procs, case):
    text, line, needle = BAD_ZONES[case]
    srv = procs.add(Redisfo(tmp_path, zone_text=text))
    try:
        srv.start(timeout=5)
    except AssertionError:
        pass
    else:
        pytest.fail("serve started and answers with a broken zone (%s):\n%s" % (case, srv.log()))
    assert srv.proc.poll() is not None, "serve neither exits nor answers:\n" + srv.log()
    assert srv.proc.returncode != 0
    assert_names_zone(srv.log(), srv, line, needle)


@pytest.mark.parametrize("case", sorted(BAD_ZONES))
def test_zone_error_checkconf(tmp_path, case):
    text, line, needle = BAD_ZONES[case]
    srv = Redisfo(tmp_path, zone_text=text)
    res = srv.run("checkconf", timeout=15)
    out = res.stdout + res.stderr
    assert res.returncode == 2, "checkconf exit %d on a broken zone:\n%s" % (res.returncode, out)
    assert "configuration OK" not in out
    assert_names_zone(out, srv, line, needle)


# ---------------------------------------------------------------- SIGHUP

def test_sighup_serves_changed_zone(tmp_path, procs):
    srv = procs.add(Redisfo(tmp_path, zone_text=GOOD_ZONE)).start()
    assert a_of(srv, "new.svc.test.")[1] == dns.rcode.NXDOMAIN
    srv.write_zone(GOOD_ZONE.replace(" 7 3600", " 8 3600")
                   .replace("127.0.0.2", "127.0.0.3") + "new IN A 192.0.2.77\n")
    srv.signal(signal.SIGHUP)
    wait_until(lambda: a_of(srv, "new.svc.test.")[0] == ["192.0.2.77"], timeout=10,
               what="the reloaded zone to be served")
    assert a_of(srv, "redis.svc.test.")[0] == ["127.0.0.3"]
    assert srv.query("svc.test.", "SOA").answer[0][0].serial == 8
    assert srv.query("new.svc.test.", "A", tcp=True, v6=srv.v6).answer
    assert srv.running()


def test_sighup_broken_zone_keeps_old(tmp_path, procs):
    srv = procs.add(Redisfo(tmp_path, zone_text=GOOD_ZONE)).start()
    log_before = len(srv.log())
    srv.write_zone(GOOD_ZONE.replace(" 7 3600", " 9 3600")
                   + "new IN A 192.0.2.77\nbroken IN A not-an-address\n")
    srv.signal(signal.SIGHUP)
    wait_until(lambda: re.search(r"(?i)(error|refused|fail)", srv.log()[log_before:]),
               timeout=10, what="the reload error in the log")
    new_log = srv.log()[log_before:]
    assert srv.zone_path.name in new_log, "the reload error does not name the zone:\n" + new_log
    assert srv.running(), "server died on a broken reload:\n" + srv.log()
    for _ in range(3):
        assert a_of(srv, "redis.svc.test.")[0] == ["127.0.0.2"]
        assert a_of(srv, "new.svc.test.")[1] == dns.rcode.NXDOMAIN, "half of a broken zone served"
        assert srv.query("svc.test.", "SOA").answer[0][0].serial == 7
    # fixing the file and reloading again works
    srv.write_zone(GOOD_ZONE.replace(" 7 3600", " 10 3600") + "new IN A 192.0.2.78\n")
    srv.signal(signal.SIGHUP)
    wait_until(lambda: a_of(srv, "new.svc.test.")[0] == ["192.0.2.78"], timeout=10,
               what="the fixed zone to be served")


def test_sighup_zone_file_gone_keeps_state(tmp_path, procs):
    """The zone file is the state: once serving, a reload
    that finds the file gone must not fall back to the config's first node
    nor move the serial backwards (secondaries would ignore it)."""
    zone = GOOD_ZONE.replace("127.0.0.2", "127.0.0.3")     # a switch moved it to r2
    srv = procs.add(Redisfo(tmp_path, zone_text=zone)).start()
    assert a_of(srv, "redis.svc.test.")[0] == ["127.0.0.3"]
    srv.zone_path.unlink()
    log_before = len(srv.log())
    srv.signal(signal.SIGHUP)
    wait_until(lambda: "reload" in srv.log()[log_before:], timeout=10, what="the reload")
    wait_until(lambda: srv.zone_path.exists() or re.search(
        r"(?i)(error|refused|cannot)", srv.log()[log_before:]), timeout=10,
        what="the reload to finish")
    assert srv.running()
    for _ in range(3):
        assert srv.query("svc.test.", "SOA").answer[0][0].serial >= 7, "serial went backwards"
        assert a_of(srv, "redis.svc.test.")[0] == ["127.0.0.3"], (
            "the served primary changed to the config's first node:\n" + srv.log()[log_before:])


def test_sighup_bad_config_keeps_serving(tmp_path, procs):
    srv = procs.add(Redisfo(tmp_path, zone_text=GOOD_ZONE)).start()
    good_conf = srv.conf_path.read_text()
    srv.write_conf(good_conf + "\nnot_a_key = 1;\n")
    log_before = len(srv.log())
    srv.signal(signal.SIGHUP)
    wait_until(lambda: "not_a_key" in srv.log()[log_before:], timeout=10,
               what="the config error in the log")
    assert srv.running()
    assert a_of(srv, "redis.svc.test.")[0] == ["127.0.0.2"]


def test_many_sighups_while_querying(tmp_path, procs):
    srv = procs.add(Redisfo(tmp_path, zone_text=GOOD_ZONE)).start()
    for serial in range(11, 31):
        srv.write_zone(GOOD_ZONE.replace(" 7 3600", " %d 3600" % serial)
                       + "s%d IN A 192.0.2.%d\n" % (serial, serial))
        srv.signal(signal.SIGHUP)
        assert a_of(srv, "redis.svc.test.")[0] == ["127.0.0.2"]
    wait_until(lambda: srv.query("svc.test.", "SOA").answer[0][0].serial == 30, timeout=10,
               what="the last reload")
    assert a_of(srv, "s30.svc.test.")[0] == ["192.0.2.30"]
    assert srv.running()


# --------------------------------------------------------------- signals

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_signal_stops_cleanly(tmp_path, procs, sig):
    srv = procs.add(Redisfo(tmp_path, zone_text=GOOD_ZONE)).start()
    srv.query("redis.svc.test.", "A", tcp=True)
    srv.signal(sig)
    rc = srv.proc.wait(timeout=5)
    assert rc == 0, "exit %d on %s:\n%s" % (rc, sig, srv.log())


def test_stop_with_open_tcp_connection(tmp_path, procs):
    srv = procs.add(Redisfo(tmp_path, zone_text=GOOD_ZONE)).start()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=2)
    try:
        s.sendall(b"\x00\x40")     # half a message
        assert srv.stop() == 0
    finally:
        s.close()


# ------------------------------------------------------------- checkconf

def test_checkconf_ok(tmp_path):
    srv = Redisfo(tmp_path, zone_text=GOOD_ZONE)
    res = srv.run("checkconf")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "configuration OK" in res.stdout + res.stderr


def test_checkconf_ok_without_zone_file(tmp_path):
    srv = Redisfo(tmp_path)
    res = srv.run("checkconf")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "configuration OK" in res.stdout + res.stderr
    assert not srv.zone_path.exists(), "checkconf wrote the zone file; only serve creates it"


@pytest.mark.parametrize("mutate,needle", [
    (lambda t: t + "\nbogus_key = 3;\n", "bogus_key"),
    (lambda t: t.replace("ttl = 5;", "ttl = 0;"), "ttl"),
    (lambda t: t.replace("ttl = 5;", 'ttl = "five";'), "ttl"),
    (lambda t: t.replace('host = "127.0.0.3";', 'host = "not_an_ip";'), "host"),
    (lambda t: t.replace('name = "r2";', 'name = "r1";'), "r1"),
    (lambda t: t.replace("dns = {", "dns = {{"), r"(:1\b|line 1\b)"),
], ids=["unknown_key", "ttl_range", "ttl_type", "bad_host", "duplicate_node", "syntax"])
def test_checkconf_bad_config(tmp_path, mutate, needle):
    srv = Redisfo(tmp_path, zone_text=GOOD_ZONE)
    srv.write_conf(mutate(srv.conf_text()))
    res = srv.run("checkconf")
    out = res.stdout + res.stderr
    assert res.returncode == 2, "exit %d:\n%s" % (res.returncode, out)
    assert "configuration OK" not in out
    assert re.search(needle, out), "the reason (%s) is not given:\n%s" % (needle, out)
    assert srv.conf_path.name in out, "the config file is not named:\n%s" % out
    # serve refuses the same config
    res = srv.run("serve", timeout=15)
    assert res.returncode == 2, res.stdout + res.stderr


def test_checkconf_missing_file(tmp_path):
    srv = Redisfo(tmp_path)
    srv.conf_path.unlink()
    res = srv.run("checkconf")
    assert res.returncode == 2
    assert srv.conf_path.name in res.stdout + res.stderr


# --------------------------------------------------------------- -q / -v

def test_quiet_and_verbose(tmp_path, procs):
    srv = Redisfo(tmp_path, zone_text=GOOD_ZONE)
    for opt in ("-q", "-v"):
        res = srv.run(opt, "checkconf")
        assert res.returncode == 0, (opt, res.stdout + res.stderr)
        assert "configuration OK" in res.stdout + res.stderr
    procs.add(srv)
    srv.start("-q")
    assert srv.query("redis.svc.test.", "A").answer
    assert srv.stop() == 0
    quiet_log = srv.log()
    assert not re.search(r"\binfo\b", quiet_log), "-q still logs info lines:\n" + quiet_log
    srv.log_path.unlink()
    srv.start("-v")
    assert srv.query("redis.svc.test.", "A").answer
    assert srv.stop() == 0
    assert len(srv.log().splitlines()) >= 1, "-v logs nothing"
    srv.log_path.unlink()
    srv.start()
    assert srv.stop() == 0
    assert re.search(r"\binfo\b", srv.log()), "default level logs no info line"


# ------------------------------------------------------- listen addresses

def udp_ask(host, port, qname="redis.svc.test.", timeout=1.0):
    """Ask over UDP from a connected socket: a reply from any other source
    address than the one asked is not accepted (as resolvers do)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    q = dns.message.make_query(qname, "A")
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.connect((host, port))
        s.send(q.to_wire())
        try:
            return dns.message.from_wire(s.recv(65535))
        except socket.timeout:
            return None


def test_every_listen_address_answers(tmp_path, procs):
    p1 = free_port("127.0.0.1")
    p2 = free_port("127.0.0.9")
    srv = Redisfo(tmp_path, zone_text=GOOD_ZONE)
    listen = ["127.0.0.1:%d" % p1, "127.0.0.9:%d" % p2]
    if srv.v6:
        listen.append("[::1]:%d" % p1)
    srv.dns_cfg["listen"] = listen
    srv.port = p1
    srv.write_conf()
    procs.add(srv).start()
    for host, port in (("127.0.0.1", p1), ("127.0.0.9", p2)) + ((("::1", p1),) if srv.v6 else ()):
        r = udp_ask(host, port)
        assert r is not None, "no UDP answer on %s:%d" % (host, port)
        assert [rd.address for rd in r.answer[0]] == ["127.0.0.2"]
        t = tool_query("dig", port, "redis.svc.test", "A", tcp=True, v6=":" in host) \
            if host != "127.0.0.9" else None
        if t is not None:
            assert t.rcode == "NOERROR", repr(t)
    r = dns.query.tcp(dns.message.make_query("redis.svc.test.", "A"), "127.0.0.9", port=p2,
                      timeout=2)
    assert r.answer


def test_wildcard_listen_replies_from_the_address_asked(tmp_path, procs):
    """Bound to 0.0.0.0, a query to 127.0.0.5 is answered from 127.0.0.5
    (IP_PKTINFO), or resolvers drop the reply as spoofed."""
    port = free_port("0.0.0.0")
    srv = Redisfo(tmp_path, zone_text=GOOD_ZONE)
    srv.dns_cfg["listen"] = ["0.0.0.0:%d" % port]
    srv.port = port
    srv.write_conf()
    procs.add(srv).start()
    for host in ("127.0.0.1", "127.0.0.5", "127.1.2.3"):
        r = udp_ask(host, port)
        assert r is not None, "no reply from %s:%d (reply sent from another address?)" % (
            host, port)
        assert r.answer


@pytest.mark.skipif(not HAVE_IPV6, reason="no IPv6 loopback")
def test_wildcard_listen_both_families(tmp_path, procs):
    """0.0.0.0 and [::] on one port side by side: each family answers."""
    port = free_port("0.0.0.0", also=("::",))
    srv = Redisfo(tmp_path, zone_text=GOOD_ZONE,
                  dns={"listen": ["0.0.0.0:%d" % port, "[::]:%d" % port]})
    procs.add(srv).start()
    for host in ("127.0.0.1", "127.0.0.7", "::1"):
        r = udp_ask(host, port)
        assert r is not None and r.answer, "no reply from %s:%d" % (host, port)
    for host in ("127.0.0.7", "::1"):
        r = dns.query.tcp(dns.message.make_query("redis.svc.test.", "A"), host, port=port,
                          timeout=2)
        assert r.answer


# ------------------------------------------------------- config details

@pytest.mark.parametrize("zone", ["svc.test", "SVC.Test."])
def test_zone_name_forms(tmp_path, procs, zone):
    """The zone without its final dot, or in upper case, is the same zone."""
    srv = Redisfo(tmp_path, dns={"zone": zone})
    srv.zone = "svc.test."
    srv.zone_path = tmp_path / "svc.test.zone"
    srv.dns_cfg["zone_file"] = "svc.test.zone"
    srv.write_conf()
    procs.add(srv).start()
    assert a_of(srv, "redis.svc.test.")[0] == ["127.0.0.2"]
    r = srv.query("svc.test.", "SOA")
    assert r.answer[0].name.to_text() == "svc.test."
    assert srv.query("nope.SVC.test.", "A").rcode() == dns.rcode.NXDOMAIN


def test_relative_zone_file_is_beside_the_config(tmp_path, procs):
    """zone_file is relative to the config's folder, not to the cwd."""
    (tmp_path / "zones").mkdir()
    srv = Redisfo(tmp_path, dns={"zone_file": "zones/svc.test.zone"})
    assert srv.zone_path == tmp_path / "zones" / "svc.test.zone"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    logf = open(srv.log_path, "ab")
    srv.proc = subprocess.Popen([str(srv.binary), "-c", str(srv.conf_path), "serve"],
                                stdout=logf, stderr=subprocess.STDOUT, cwd=str(elsewhere))
    logf.close()
    procs.add(srv)
    wait_until(lambda: srv.query("svc.test.", "SOA", timeout=0.2).answer, timeout=10,
               what="serve to answer")
    assert srv.zone_path.exists(), "zone not created beside the config:\n" + srv.log()
    assert not (elsewhere / "zones").exists()
    res = subprocess.run([str(srv.binary), "-c", str(srv.conf_path), "checkconf"],
                         capture_output=True, text=True, cwd=str(elsewhere), timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("kind", ["udp", "tcp"])
def test_port_taken_fails_clearly(tmp_path, procs, kind):
    """A listen address already taken by another program: serve exits
    non-zero and says which address."""
    srv = procs.add(Redisfo(tmp_path, zone_text=GOOD_ZONE))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", srv.port))
        if kind == "tcp":
            s.listen(1)
        with pytest.raises(AssertionError):
            srv.start(timeout=5)
        assert srv.proc.poll() is not None and srv.proc.returncode != 0, srv.log()
        assert "127.0.0.1:%d" % srv.port in srv.log(), "address not named:\n" + srv.log()
    finally:
        s.close()


def test_zone_file_cannot_be_created(tmp_path, procs):
    """No zone file and its folder missing: serve fails and names the path."""
    srv = procs.add(Redisfo(tmp_path, dns={"zone_file": "missing-dir/svc.test.zone"}))
    with pytest.raises(AssertionError):
        srv.start(timeout=5)
    assert srv.proc.poll() is not None and srv.proc.returncode != 0
    assert "missing-dir/svc.test.zone" in srv.log(), srv.log()
