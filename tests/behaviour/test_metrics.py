"""test_metrics.py - the Prometheus endpoint (dns.metrics_listen) and `stats`.

A server with metrics_listen set answers GET /metrics with the text
exposition format and 404 for any other path. After a known mix of traffic
(answers, NXDOMAIN, NODATA, out-of-zone, TCP, BADVERS, FORMERR, a truncated
reply, a signed UPDATE that succeeds and one whose prerequisite fails, an
allowed and a refused AXFR, a good and a broken SIGHUP reload) every counter
has exactly the value the mix explains, and zone_serial follows the served
SOA. `promtool check metrics` accepts the scrape without a word; `stats`
prints the same numbers. With metrics off no port is opened and `stats`
says which key to set; a bad value or a port in use stops checkconf/serve
with exit 2 naming the key; idle connections to the endpoint never hold up
answers. Beyond the mix: rate-limited drops are not replies (slips are),
a NOTIMP reply is counted, and each answered NOTIFY round is counted once.

Counters are compared as differences from a scrape taken right after start
(whose only queries are the harness's SOA polls), and every read polls
until the figure settles: the contract allows a scrape to be one query
behind the reply the client already has.
"""

import http.client
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time

import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update
import pytest

from dnstools import recv_exact
from servers import Redisfo, free_port, wait_until

SERIAL0 = 4000000000        # above 2**31: the gauge must not wrap or go negative
RELOAD_SERIAL = SERIAL0 + 100

ZONE = """$ORIGIN svc.test.
$TTL 300
@        30 IN SOA ns1.svc.test. hostmaster.svc.test. {serial} 3600 600 86400 600
@        30 IN NS  ns1.svc.test.
ns1         IN A   127.0.0.1
redis     5 IN A   {redis}
_redisfo.redis 5 IN TXT "primary=r1 epoch=1"
""" + "".join('big IN TXT "%02d-%s"\n' % (i, "x" * 197) for i in range(16))


def zone(serial=SERIAL0, redis="127.0.0.2", extra=""):
    return ZONE.format(serial=serial, redis=redis) + extra


QTYPES = {"A", "NS", "CNAME", "SOA", "PTR", "MX", "TXT", "AAAA", "SRV", "ANY",
          "AXFR", "IXFR", "other"}
RCODES = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
          "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "BADVERS", "other"}

# Every family the contract names, with its Prometheus type.
FAMILIES = {
    "redisfo_dns_queries_total": "counter",
    "redisfo_dns_truncated_total": "counter",
    "redisfo_dns_rrl_total": "counter",
    "redisfo_dns_updates_total": "counter",
    "redisfo_dns_transfers_total": "counter",
    "redisfo_dns_transfers_refused_total": "counter",
    "redisfo_dns_notifies_total": "counter",
    "redisfo_dns_reloads_total": "counter",
    "redisfo_dns_zone_serial": "gauge",
    "redisfo_dns_publish_seconds": "histogram",
    "redisfo_dns_start_time_seconds": "gauge",
    "redisfo_dns_build_info": "gauge",
}


# ------------------------------------------------------------ scraping

def http_get(port, path="/metrics", timeout=3.0):
    """GET path from 127.0.0.1:port: (status, content type, body text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type") or "", \
            resp.read().decode("utf-8")
    finally:
        conn.close()


LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$')


def labels_of(text):
    """'a="x",b="y"' -> frozenset {("a","x"), ("b","y")}; the whole text must parse."""
    if not text:
        return frozenset()
    pairs = LABEL_RE.findall(text)
    rebuilt = ",".join('%s="%s"' % p for p in pairs)
    assert rebuilt == text.rstrip(","), "labels do not parse: {%s}" % text
    return frozenset(pairs)


class Exposition:
    """A parsed scrape: samples {(name, labels): float}, types, helps, text."""

    def __init__(self, text):
        self.text = text
        self.samples = {}
        self.raw = {}           # (name, labels) -> the value as written
        self.types = {}
        self.helps = {}
        for line in text.splitlines():
            if not line.strip():
                continue
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(None, 3)
                self.types[name] = kind.strip()
                continue
            if line.startswith("# HELP "):
                parts = line.split(None, 3)
                self.helps[parts[2]] = parts[3] if len(parts) > 3 else ""
                continue
            if line.startswith("#"):
                continue
            m = SAMPLE_RE.match(line)
            assert m, "not a sample line: %r" % line
            key = (m.group(1), labels_of(m.group(2)))
            assert key not in self.samples, "sample twice: %r" % line
            self.samples[key] = float(m.group(3))
            self.raw[key] = m.group(3)

    def get(self, name, **labels):
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def family(self, name):
        """{labels dict as a sorted tuple: value} of one sample name."""
        return {k[1]: v for k, v in self.samples.items() if k[0] == name}

    def counters(self):
        """Every sample of a counter family (the ones a mix changes)."""
        return {k: v for k, v in self.samples.items()
                if self.types.get(k[0]) == "counter"}


def scrape(srv):
    status, ctype, body = http_get(srv.metrics_port)
    assert status == 200, "GET /metrics: HTTP %d\n%s" % (status, body)
    return Exposition(body)


def qkey(transport, qtype, rcode):
    return ("redisfo_dns_queries_total",
            frozenset({("transport", transport), ("qtype", qtype), ("rcode", rcode)}))


def key(name, **labels):
    return (name, frozenset(labels.items()))


def delta(after, before):
    """Counter differences, zero ones left out."""
    a, b = after.counters(), before.counters()
    out = {}
    for k in set(a) | set(b):
        d = a.get(k, 0.0) - b.get(k, 0.0)
        if d:
            out[k] = d
    return out


def mix_delta(after, before):
    """delta() plus the publish histogram's count, which moves like a counter."""
    d = delta(after, before)
    name = "redisfo_dns_publish_seconds_count"
    pub = after.get(name) - before.get(name)
    if pub:
        d[key(name)] = pub
    return d


def show(keyed):
    def one(k):
        return "%s{%s}" % (k[0], ",".join('%s="%s"' % p for p in sorted(k[1])))
    return "\n".join("  %s = %g" % (one(k), v) for k, v in sorted(keyed.items(), key=lambda kv: one(kv[0])))


def settle(srv, pred, what, timeout=5.0):
    """Scrape until pred(exposition) holds (or the deadline); the last scrape.

    The caller asserts on what it returns, so a figure that never comes
    right fails with the real numbers rather than with a timeout.
    """
    last = {}

    def ok():
        last["e"] = scrape(srv)
        return pred(last["e"])
    try:
        wait_until(ok, timeout=timeout, interval=0.05, what=what)
    except AssertionError:
        assert_alive(srv)
        if "e" not in last:
            raise
    return last["e"]


def assert_alive(srv):
    """Fail with the log when the server is gone (say, a signal meant for
    the control loop reached a thread that does not block it)."""
    if srv.proc is not None and srv.proc.poll() is not None:
        raise AssertionError("the server exited with %s:\n%s" % (srv.proc.returncode, srv.log()))


def quiet_scrape(srv):
    """A scrape once the counters stand still (two in a row agree) and the
    harness's answered SOA poll shows: the baseline a test measures from,
    so a start poll counted late is not taken for the test's traffic."""
    last = {}

    def still():
        e = scrape(srv)
        prev, last["e"] = last.get("e"), e
        return prev is not None and prev.counters() == e.counters() and \
            e.get("redisfo_dns_queries_total", transport="udp", qtype="SOA",
                  rcode="NOERROR") >= 1
    try:
        wait_until(still, timeout=5, interval=0.05,
                   what="the counters to stand still after start")
    except AssertionError:
        assert_alive(srv)
        raise
    return last["e"]


# ------------------------------------------------------------ servers

def metrics_server(tmp_path, dns=None, zone_text=None, **kw):
    """A Redisfo (not started) with metrics on a free port of its own."""
    mport = free_port("127.0.0.1")
    cfg = {"metrics_listen": "127.0.0.1:%d" % mport, "allow_transfer": ["127.0.0.1"]}
    cfg.update(dns or {})
    srv = Redisfo(tmp_path, dns=cfg, zone_text=zone() if zone_text is None else zone_text, **kw)
    srv.metrics_port = mport
    return srv


def listening_tcp_ports(pid):
    """The TCP ports process pid listens on (from /proc, v4 and v6)."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", target)
        if m:
            inodes.add(m.group(1))
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            f = row.split()
            if f[3] == "0A" and f[9] in inodes:        # TCP_LISTEN
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


def binary_version(srv):
    res = subprocess.run([str(srv.binary), "--version"], capture_output=True,
                         text=True, timeout=10)
    assert res.returncode == 0, res.stdout + res.stderr
    return (res.stdout + res.stderr).split()[-1]


# ------------------------------------------------------------ the traffic

def opt_rr():
    """An OPT pseudo-RR: root owner, type 41, size 1232, version 0, no options."""
    return b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)


def two_opt_query(name):
    """A query with two OPT records: FORMERR (RFC 6891 6.1.1)."""
    wire = bytearray(dns.message.make_query(name, "A", use_edns=False).to_wire())
    wire[10:12] = struct.pack("!H", 2)
    return bytes(wire) + opt_rr() + opt_rr()


def signed_update(srv):
    return dns.update.UpdateMessage("svc.test.", keyring=dns.tsig.Key(
        srv.key_name, srv.key_secret, srv.key_algorithm))


def axfr(srv, source):
    """AXFR over TCP from source: (rcode of the first message, records)."""
    q = dns.message.make_query("svc.test.", "AXFR")
    wire = q.to_wire()
    records, soas, rcode = 0, 0, None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as c:
        c.settimeout(5)
        c.bind((source, 0))
        c.connect(("127.0.0.1", srv.port))
        c.sendall(struct.pack("!H", len(wire)) + wire)
        while soas < 2:
            head = recv_exact(c, 2)
            if head is None:
                break
            m = dns.message.from_wire(recv_exact(c, struct.unpack("!H", head)[0]),
                                      one_rr_per_rrset=True)
            if rcode is None:
                rcode = m.rcode()
            if m.rcode() != dns.rcode.NOERROR:
                break
            for rrset in m.answer:
                records += 1
                soas += rrset.rdtype == dns.rdatatype.SOA
    return rcode, records


def a_answer(reply):
    return sorted(rd.address for rrset in reply.answer
                  if rrset.rdtype == dns.rdatatype.A for rd in rrset)


# The counters the mix below must move, and by how much (everything else: 0).
MIX = {
    qkey("udp", "A", "NOERROR"): 5,
    qkey("udp", "A", "NXDOMAIN"): 3,
    qkey("udp", "AAAA", "NOERROR"): 2,      # NODATA
    qkey("udp", "A", "REFUSED"): 1,         # out of zone
    qkey("tcp", "A", "NOERROR"): 2,
    qkey("udp", "A", "BADVERS"): 1,
    qkey("udp", "A", "FORMERR"): 1,         # two OPT records
    qkey("udp", "TXT", "NOERROR"): 1,       # big, truncated
    key("redisfo_dns_truncated_total"): 1,
    key("redisfo_dns_updates_total", rcode="NOERROR"): 1,
    key("redisfo_dns_updates_total", rcode="NXRRSET"): 1,
    key("redisfo_dns_transfers_total", kind="axfr"): 1,
    key("redisfo_dns_transfers_refused_total"): 1,
    key("redisfo_dns_reloads_total", result="ok"): 1,
    key("redisfo_dns_reloads_total", result="failed"): 1,
    # one publish for the UPDATE and one for the good reload; none for the
    # failed UPDATE or the broken reload
    key("redisfo_dns_publish_seconds_count"): 2,
}


def run_mix(srv, stages):
    """The known traffic; stages collects a scrape after some steps."""
    for _ in range(5):
        r = srv.query("redis.svc.test.", "A")
        assert r.rcode() == dns.rcode.NOERROR and a_answer(r) == ["127.0.0.2"], r
    for i in range(3):
        r = srv.query("nx%d.svc.test." % i, "A")
        assert r.rcode() == dns.rcode.NXDOMAIN, r
    for _ in range(2):
        r = srv.query("redis.svc.test.", "AAAA")
        assert r.rcode() == dns.rcode.NOERROR and not r.answer, r
    r = srv.query("www.example.org.", "A")
    assert r.rcode() == dns.rcode.REFUSED, r
    for _ in range(2):
        r = srv.query("redis.svc.test.", "A", tcp=True)
        assert r.rcode() == dns.rcode.NOERROR and a_answer(r) == ["127.0.0.2"], r
    q = dns.message.make_query("redis.svc.test.", "A")
    q.use_edns(edns=1, payload=1232)                        # EDNS version 1
    r = srv.send(q)
    assert r.rcode() == dns.rcode.BADVERS, r
    raw = srv.raw(two_opt_query("redis.svc.test."), timeout=2)
    assert raw is not None and raw[3] & 0x0f == dns.rcode.FORMERR, raw
    r = srv.query("big.svc.test.", "TXT")                  # no EDNS: 512 bytes
    assert r.flags & dns.flags.TC, "the big TXT reply was not truncated:\n%s" % r

    # A signed UPDATE that swaps the record, then the same swap again:
    # its prerequisite no longer holds. One over UDP, one over TCP.
    u = signed_update(srv)
    u.present("redis", "A", "127.0.0.2")
    u.replace("redis", 5, "A", "127.0.0.3")
    r = dns.query.udp(u, "127.0.0.1", port=srv.port, timeout=3)
    assert r.rcode() == dns.rcode.NOERROR, r
    stages["after_update"] = settle(
        srv, lambda e: e.get("redisfo_dns_updates_total", rcode="NOERROR") == 1,
        "the UPDATE to be counted")
    u = signed_update(srv)
    u.present("redis", "A", "127.0.0.2")
    u.replace("redis", 5, "A", "127.0.0.4")
    r = dns.query.tcp(u, "127.0.0.1", port=srv.port, timeout=3)
    assert r.rcode() == dns.rcode.NXRRSET, r

    rcode, n = axfr(srv, "127.0.0.1")
    assert rcode == dns.rcode.NOERROR and n > 4, (rcode, n)
    rcode, n = axfr(srv, "127.0.0.9")                       # not in allow_transfer
    assert rcode == dns.rcode.REFUSED and n == 0, (rcode, n)

    # A good reload, then one of a broken file (the good zone stays).
    srv.write_zone(zone(RELOAD_SERIAL, "127.0.0.4", "reloaded IN A 192.0.2.1\n"))
    srv.signal(signal.SIGHUP)
    stages["after_reload"] = settle(
        srv, lambda e: e.get("redisfo_dns_reloads_total", result="ok") == 1,
        "the reload to be counted", timeout=10)
    srv.write_zone(zone(RELOAD_SERIAL + 1, "127.0.0.5", "broken IN A not-an-address\n"))
    srv.signal(signal.SIGHUP)
    settle(srv, lambda e: e.get("redisfo_dns_reloads_total", result="failed") == 1,
           "the broken reload to be counted", timeout=10)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, request):
    """One server through run_mix(), with the scrapes taken along the way."""
    srv = metrics_server(tmp_path_factory.mktemp("metrics"))
    request.addfinalizer(srv.stop)
    t0 = time.time()
    srv.start()
    t1 = time.time()
    stages = {"t0": t0, "t1": t1}
    stages["baseline"] = quiet_scrape(srv)
    run_mix(srv, stages)
    expected = dict(MIX)

    def done(e):
        d = mix_delta(e, stages["baseline"])
        return all(d.get(k, 0) == v for k, v in expected.items())
    stages["final"] = settle(srv, done, "every counter of the mix", timeout=5)
    stages["srv"] = srv
    return stages


# ------------------------------------------------------------ (a) exact values

def test_mix_counted_exactly(mixed):
    base, final = mixed["baseline"], mixed["final"]
    d = mix_delta(final, base)
    missing = {k: v for k, v in MIX.items() if d.get(k, 0) != v}
    extra = {k: v for k, v in d.items() if k not in MIX}
    assert not missing and not extra, (
        "counters off after the mix.\nexpected but different (want):\n%s\n"
        "got:\n%s\nmoved but should not:\n%s\n--- scrape ---\n%s"
        % (show(missing), show({k: d.get(k, 0) for k in missing}), show(extra), final.text))


def test_baseline_holds_only_the_start_polls(mixed):
    """Before the mix the only queries are the harness's SOA polls, so the
    absolute values of every other label combination equal the mix's."""
    base = mixed["baseline"]
    q = base.family("redisfo_dns_queries_total")
    soa = frozenset({("transport", "udp"), ("qtype", "SOA"), ("rcode", "NOERROR")})
    assert set(q) == {soa} and q[soa] >= 1, base.text
    assert base.get("redisfo_dns_zone_serial") == SERIAL0, base.text
    assert not base.family("redisfo_dns_updates_total"), base.text
    for name in ("redisfo_dns_truncated_total", "redisfo_dns_transfers_refused_total"):
        assert (name, frozenset()) in base.samples and base.get(name) == 0, name


def test_every_family_present_and_typed(mixed):
    final = mixed["final"]
    for name, kind in FAMILIES.items():
        assert final.types.get(name) == kind, "%s: TYPE %r, want %r\n%s" % (
            name, final.types.get(name), kind, final.text)
        assert final.helps.get(name), "%s has no HELP" % name
    names = {k[0] for k in final.samples}
    for name in FAMILIES:
        if name != "redisfo_dns_publish_seconds":
            assert name in names, "no sample of %s" % name
    for n in names:
        assert n.startswith("redisfo_dns_"), n
    # fixed label sets are printed even at zero
    for action in ("drop", "slip"):
        assert key("redisfo_dns_rrl_total", action=action) in final.samples
    for kind in ("axfr", "ixfr", "ixfr_full"):
        assert key("redisfo_dns_transfers_total", kind=kind) in final.samples
    for result in ("answered", "timeout", "error"):
        assert key("redisfo_dns_notifies_total", result=result) in final.samples
    for result in ("ok", "failed"):
        assert key("redisfo_dns_reloads_total", result=result) in final.samples


def test_label_values_and_no_zero_combinations(mixed):
    final = mixed["final"]
    for labels, v in final.family("redisfo_dns_queries_total").items():
        lab = dict(labels)
        assert set(lab) == {"transport", "qtype", "rcode"}, lab
        assert lab["transport"] in ("udp", "tcp") and lab["qtype"] in QTYPES \
            and lab["rcode"] in RCODES, lab
        assert v > 0, "zero-valued queries_total printed: %s" % lab
    for labels, v in final.family("redisfo_dns_updates_total").items():
        lab = dict(labels)
        assert set(lab) == {"rcode"} and lab["rcode"] in RCODES, lab
        assert v > 0, "zero-valued updates_total printed: %s" % lab


def test_zone_serial_follows_what_is_served(mixed):
    srv = mixed["srv"]
    assert mixed["baseline"].get("redisfo_dns_zone_serial") == SERIAL0
    assert mixed["after_update"].get("redisfo_dns_zone_serial") == SERIAL0 + 1
    assert mixed["after_reload"].get("redisfo_dns_zone_serial") == RELOAD_SERIAL
    # the broken reload changed nothing
    assert mixed["final"].get("redisfo_dns_zone_serial") == RELOAD_SERIAL
    assert mixed["final"].raw[key("redisfo_dns_zone_serial")] == str(RELOAD_SERIAL), \
        "the serial is not written as a plain integer"
    r = srv.query("svc.test.", "SOA")
    assert r.answer[0][0].serial == RELOAD_SERIAL
    assert a_answer(srv.query("redis.svc.test.", "A")) == ["127.0.0.4"]


def test_publish_histogram_consistent(mixed):
    final = mixed["final"]
    buckets = []
    for labels, v in final.family("redisfo_dns_publish_seconds_bucket").items():
        le = dict(labels)["le"]
        buckets.append((float("inf") if le == "+Inf" else float(le), v))
    buckets.sort()
    assert buckets and buckets[-1][0] == float("inf"), final.text
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), "buckets are not cumulative: %s" % buckets
    count = final.get("redisfo_dns_publish_seconds_count")
    assert buckets[-1][1] == count >= 2, (buckets, count)
    total = final.get("redisfo_dns_publish_seconds_sum")
    assert 0 < total < 60 * count, total


def test_start_time_and_build_info(mixed):
    final = mixed["final"]
    start = final.get("redisfo_dns_start_time_seconds")
    assert mixed["t0"] - 1 <= start <= mixed["t1"] + 1, (mixed["t0"], start, mixed["t1"])
    info = final.family("redisfo_dns_build_info")
    assert info == {frozenset({("version", binary_version(mixed["srv"]))}): 1.0}, info


def test_only_the_metrics_port_is_added(mixed):
    srv = mixed["srv"]
    assert listening_tcp_ports(srv.proc.pid) == {srv.port, srv.metrics_port}


# ------------------------------------------------------------ (b) promtool

def promtool():
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    return path


@pytest.mark.parametrize("stage", ["baseline", "final"])
def test_promtool_accepts_scrape(mixed, stage):
    """promtool lints as well as parses: any line it prints is a finding."""
    text = mixed[stage].text
    res = subprocess.run([promtool(), "check", "metrics"], input=text,
                         capture_output=True, text=True, timeout=30)
    out = res.stdout + res.stderr
    assert res.returncode == 0 and not out.strip(), (
        "promtool check metrics exit %d:\n%s\n--- scrape ---\n%s" % (res.returncode, out, text))


def test_content_type_is_text_format(mixed):
    status, ctype, body = http_get(mixed["srv"].metrics_port)
    assert status == 200
    assert ctype.startswith("text/plain"), ctype
    assert "version=0.0.4" in ctype, ctype
    assert body.endswith("\n"), "the exposition must end with a newline"


# ------------------------------------------------------------ (c) stats

def parse_stats(out):
    """`stats` table -> {(sample name, labels): value text}.

    Layout (dnsd/stats.c): a line naming the endpoint, then per family a
    line "FAMILY  (help)" and rows "  WHAT  VALUE", WHAT being the labels,
    "value", or the histogram part (bucket, sum, count) then its labels.
    """
    rows, family = {}, None
    for line in out.splitlines():
        if not line.strip() or line.startswith("redisfo-dns counters from"):
            continue
        m = re.match(r"^(redisfo_dns_\w+)\s+\(.*\)$", line)
        if m:
            family = m.group(1)
            continue
        m = re.match(r"^\s+(.*?)\s+(\S+)$", line)
        assert m and family, "unexpected stats line: %r" % line
        what, value = m.group(1), m.group(2)
        part, labels = "", what
        pm = re.match(r"^([a-z_]+)(?:\s+(.*))?$", what)
        if pm and "=" not in pm.group(1):
            part, labels = pm.group(1), pm.group(2) or ""
        if part == "value":
            part = ""
        name = family + ("_" + part if part else "")
        k = (name, labels_of(labels))
        assert k not in rows, "row twice: %r" % line
        rows[k] = value
    return rows


def test_stats_prints_the_same_numbers(mixed):
    srv = mixed["srv"]
    before = scrape(srv)
    res = srv.run("stats", timeout=15)
    after = scrape(srv)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "127.0.0.1:%d" % srv.metrics_port in res.stdout.splitlines()[0], res.stdout
    rows = parse_stats(res.stdout)
    assert before.samples == after.samples, "the counters moved while stats ran"
    missing = {k: v for k, v in after.raw.items() if k not in rows}
    assert not missing, "stats leaves out:\n%s\n--- stats ---\n%s" % (show(
        {k: after.samples[k] for k in missing}), res.stdout)
    assert set(rows) == set(after.raw), "stats shows rows the endpoint has not:\n%s" % (
        set(rows) - set(after.raw))
    for k, v in rows.items():
        assert float(v) == after.samples[k], (k, v, after.samples[k])
    # and the mix's own figures, read straight from the table
    assert float(rows[qkey("udp", "A", "NXDOMAIN")]) == 3
    assert float(rows[qkey("tcp", "A", "NOERROR")]) == 2
    assert float(rows[key("redisfo_dns_truncated_total")]) == 1
    assert float(rows[key("redisfo_dns_updates_total", rcode="NXRRSET")]) == 1
    assert float(rows[key("redisfo_dns_transfers_refused_total")]) == 1
    assert int(rows[key("redisfo_dns_zone_serial")]) == RELOAD_SERIAL


def test_stats_when_server_not_running(tmp_path):
    srv = metrics_server(tmp_path)
    res = srv.run("stats", timeout=15)
    out = res.stdout + res.stderr
    assert res.returncode == 1, "exit %d:\n%s" % (res.returncode, out)
    assert "127.0.0.1:%d" % srv.metrics_port in out, "the endpoint is not named:\n" + out


def test_stats_usage(tmp_path):
    srv = metrics_server(tmp_path)
    res = srv.run("stats", "extra", timeout=15)
    out = res.stdout + res.stderr
    assert res.returncode == 2, out
    assert re.search(r"(?i)usage.*\bstats\b", out), "no usage line for stats:\n" + out
    assert "unknown key" not in out, out


# ------------------------------------------------------------ (d) metrics off

@pytest.mark.parametrize("value", [None, ""], ids=["absent", "empty"])
def test_metrics_off(tmp_path, procs, value):
    srv = procs.add(Redisfo(tmp_path, zone_text=zone(), dns={"metrics_listen": value}))
    assert ("metrics_listen" in srv.conf_text()) == (value is not None)
    srv.start()
    assert listening_tcp_ports(srv.proc.pid) == {srv.port}, \
        "a port is open besides DNS with metrics off"
    res = srv.run("stats", timeout=15)
    out = res.stdout + res.stderr
    assert res.returncode == 1, "exit %d:\n%s" % (res.returncode, out)
    assert "dns.metrics_listen" in out, "stats does not name the key to set:\n" + out
    assert srv.running()


# ------------------------------------------------------------ (e) bad input

def test_checkconf_accepts_metrics_listen(tmp_path):
    """The control for the next test: a good value passes, so a failure
    there is about the value, not an unknown key."""
    srv = metrics_server(tmp_path)
    res = srv.run("checkconf", timeout=15)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "configuration OK" in res.stdout + res.stderr


@pytest.mark.parametrize("value", ["nonsense", "127.0.0.1:99999", "300.0.0.1:9153", 9153],
                         ids=["nonsense", "port_range", "bad_ip", "integer"])
def test_bad_metrics_listen(tmp_path, value):
    srv = metrics_server(tmp_path, dns={"metrics_listen": value})
    res = srv.run("checkconf", timeout=15)
    out = res.stdout + res.stderr
    assert res.returncode == 2, "checkconf exit %d:\n%s" % (res.returncode, out)
    assert "configuration OK" not in out
    assert "dns.metrics_listen" in out, "the key is not named:\n" + out
    assert "unknown key" not in out, out
    res = srv.run("serve", timeout=15)
    assert res.returncode == 2, "serve exit %d:\n%s" % (res.returncode, res.stdout + res.stderr)


def test_metrics_port_in_use(tmp_path):
    srv = metrics_server(tmp_path)
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.bind(("127.0.0.1", srv.metrics_port))
        holder.listen(1)
        res = srv.run("serve", timeout=15)
    finally:
        holder.close()
    out = res.stdout + res.stderr
    assert res.returncode == 2, "serve exit %d:\n%s" % (res.returncode, out)
    assert "metrics_listen" in out, "the key is not named:\n" + out
    assert "Address already in use" in out, "the reason is not given:\n" + out
    assert "127.0.0.1:%d" % srv.metrics_port in out or str(srv.metrics_port) in out, out


def test_idle_scrapers_never_block_answers(tmp_path, procs):
    srv = procs.add(metrics_server(tmp_path))
    srv.start()
    idle = []
    try:
        for i in range(10):
            c = socket.create_connection(("127.0.0.1", srv.metrics_port), timeout=2)
            if i % 2:
                c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")   # never finished
            idle.append(c)
        for i in range(50):
            t = time.monotonic()
            r = srv.query("redis.svc.test.", "A", timeout=1)
            assert r.rcode() == dns.rcode.NOERROR and a_answer(r) == ["127.0.0.2"]
            assert time.monotonic() - t < 0.5, "query %d took %.3fs" % (i, time.monotonic() - t)
        r = srv.query("redis.svc.test.", "A", tcp=True, timeout=1)
        assert r.rcode() == dns.rcode.NOERROR
        e = settle(srv, lambda e: e.get("redisfo_dns_queries_total", transport="udp",
                                        qtype="A", rcode="NOERROR") == 50,
                   "a fresh scrape with idle connections open", timeout=3)
        assert e.get("redisfo_dns_queries_total", transport="udp", qtype="A",
                     rcode="NOERROR") == 50, e.text
        # it stops promptly too, with those connections still open
        assert srv.stop() == 0, srv.log()
    finally:
        for c in idle:
            c.close()


# ------------------------------------------------------------ (f) other paths

@pytest.mark.parametrize("path", ["/", "/other", "/metricsx", "/metrics/x", "/favicon.ico"])
def test_other_paths_404(mixed, path):
    status, _, _ = http_get(mixed["srv"].metrics_port, path)
    assert status == 404, "GET %s: HTTP %d" % (path, status)


# ------------------------------------------------------------ beyond the mix

def test_rrl_drops_are_not_replies(tmp_path, procs):
    """With rate limiting, dropped answers count in rrl_total{drop} and not
    as replies; slipped ones (empty, TC=1) count in rrl_total{slip}, as
    replies and as truncated: queries_total is what the client received."""
    srv = procs.add(metrics_server(tmp_path, dns={"rrl": {"rate": 2, "slip": 2}}))
    srv.start()
    base = quiet_scrape(srv)
    n = 40
    got, tc = 0, 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("127.0.0.1", srv.port))
        for i in range(n):
            q = dns.message.make_query("redis.svc.test.", "A")
            q.id = i
            s.send(q.to_wire())
        seen = set()
        s.settimeout(1.0)                 # a bounded wait for the last reply
        while True:
            try:
                wire = s.recv(65535)
            except socket.timeout:
                break
            assert wire[:2] not in seen, "two replies to one query"
            seen.add(wire[:2])
            got += 1
            tc += bool(wire[2] & 0x02)
    assert 0 < got < n and tc > 0, (got, tc)

    def right(e):
        d = delta(e, base)
        return d.get(key("redisfo_dns_rrl_total", action="drop"), 0) == n - got
    e = settle(srv, right, "the RRL counters")
    d = delta(e, base)
    replies = sum(v for k, v in d.items() if k[0] == "redisfo_dns_queries_total")
    assert d.get(key("redisfo_dns_rrl_total", action="drop"), 0) == n - got, show(d)
    assert d.get(key("redisfo_dns_rrl_total", action="slip"), 0) == tc, show(d)
    assert replies == got, "queries_total moved by %d, the client got %d replies:\n%s" % (
        replies, got, show(d))
    assert d.get(key("redisfo_dns_truncated_total"), 0) == tc, show(d)


def test_notimp_reply_counted(tmp_path, procs):
    """An unknown opcode (STATUS) gets NOTIMP on the query path, and the
    contract lists NOTIMP among the error replies queries_total counts."""
    srv = procs.add(metrics_server(tmp_path))
    srv.start()
    base = quiet_scrape(srv)
    wire = bytearray(dns.message.make_query("redis.svc.test.", "A").to_wire())
    wire[2] = (wire[2] & 0x87) | (2 << 3)          # opcode STATUS
    raw = srv.raw(bytes(wire), timeout=2)
    assert raw is not None and raw[3] & 0x0f == dns.rcode.NOTIMP, raw
    e = settle(srv, lambda e: delta(e, base), "the NOTIMP reply to be counted")
    assert delta(e, base) == {qkey("udp", "A", "NOTIMP"): 1}, show(delta(e, base))


class StandInSecondary:
    """A UDP socket that answers every NOTIFY it gets and counts them."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.answered = []      # (id, serial)

    def pump(self, timeout):
        """Answer what arrives within timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.sock.settimeout(left)
            try:
                wire, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                return
            m = dns.message.from_wire(wire)
            if m.opcode() != dns.opcode.NOTIFY:
                continue
            self.sock.sendto(dns.message.make_response(m).to_wire(), peer)
            serial = m.answer[0][0].serial if m.answer else None
            self.answered.append((m.id, serial))

    def stop(self):
        self.sock.close()


def test_notify_answered_counted(tmp_path, procs):
    """One answered NOTIFY round per change: the one sent at start, then
    the one after an UPDATE. (Each waits for the last to be counted: a
    newer serial starts a new round, and an answer to the old one may
    then rightly count for nothing.)"""
    sec = procs.add(StandInSecondary())
    srv = procs.add(metrics_server(tmp_path, dns={"notify": ["127.0.0.1:%d" % sec.port]}))
    srv.start()
    for n, serial in enumerate((SERIAL0, SERIAL0 + 1), 1):
        if serial != SERIAL0:
            u = signed_update(srv)
            u.replace("redis", 5, "A", "127.0.0.3")
            r = dns.query.udp(u, "127.0.0.1", port=srv.port, timeout=3)
            assert r.rcode() == dns.rcode.NOERROR, r
        wait_until(lambda: sec.pump(0.1) or any(s == serial for _, s in sec.answered),
                   timeout=5, what="the NOTIFY for serial %d" % serial)
        e = settle(srv, lambda e: e.get("redisfo_dns_notifies_total", result="answered") == n,
                   "answered NOTIFY number %d to be counted" % n)
        assert e.get("redisfo_dns_notifies_total", result="answered") == n, (sec.answered, e.text)
    sec.pump(0.3)
    e = scrape(srv)
    assert e.get("redisfo_dns_notifies_total", result="answered") == 2, (sec.answered, e.text)
    assert e.get("redisfo_dns_notifies_total", result="timeout") == 0
    assert e.get("redisfo_dns_notifies_total", result="error") == 0
