"""test_interop.py - the DNS servers people already run, around redisfo-dns.

BIND 9 as a secondary of `serve`: the server listens on 127.0.0.3 (BIND,
which listens only on addresses assigned to an interface, runs on
127.0.0.1) and BIND lists `primaries { 127.0.0.3 port P; }`, so it takes a
NOTIFY only when it leaves from 127.0.0.3. After an UPDATE BIND serves the
new address within 3 seconds (its SOA refresh is an hour: only the NOTIFY
explains it), fed by IXFR. NOTIFY sent from elsewhere (dns.notify_source)
is refused: the server's log names the rcode and `check` warns that the
secondary stays behind.

BIND and PowerDNS as the external primary (failover.server): status,
switch --dry-run, a planned switch, a failover with the primary killed, a
_redisfo TXT rewritten by nsupdate as two strings, rejoin (which clears
that fence) and check. The zone parts of every config here are the
README's snippets, word for word.

Figures (run with -s -k figures): switch total and write pause against
BIND and PowerDNS, and the time from a switch's start until a BIND and an
NSD secondary serve the new address.
"""

import json
import re
import subprocess
import time

import pytest

import confgen
from confgen import TEST_ZONE_LOW_SOA_TTL
from failover_env import Cluster, external_cluster, median
from servers import (REPO, BindPrimary, BindSecondary, NsdSecondary, PdnsPrimary,
                     free_port, have_named, have_pdns, wait_until)

needs_named = pytest.mark.skipif(not have_named(), reason="named (bind9) not installed")
needs_pdns = pytest.mark.skipif(not have_pdns(), reason="pdns_server, pdnsutil or "
                                "the gsqlite3 schema not installed")

# serial 7, refresh 3600, redis A 127.0.0.2, and a few records more so one
# change is less than the zone (a secondary gets it by IXFR)
ZONE = TEST_ZONE_LOW_SOA_TTL + "".join(
    'txt%d IN TXT "enough records that one change is less than the zone"\n' % i
    for i in range(8))


def test_readme_shows_the_configs_the_tests_run():
    readme = (REPO / "README.md").read_text()
    for what, text in confgen.readme_snippets().items():
        assert text in readme, "README lacks the %s snippet:\n%s" % (what, text)


def rehome(rf, host, port, notify=(), notify_source=None):
    """Make rf (not started) listen on host:port only and notify the given
    secondaries, allowing transfers to 127.0.0.1 (where they run)."""
    rf.dns_cfg["listen"] = ["%s:%d" % (host, port)]
    rf.dns_cfg["notify"] = list(notify)
    rf.dns_cfg["allow_transfer"] = ["127.0.0.1"]
    if notify_source is not None:
        rf.dns_cfg["notify_source"] = notify_source
    rf.host, rf.port, rf.v6, rf.start_v6 = host, port, False, False
    rf.write_conf()


def update_a(srv, addr):
    import dns.query
    u = srv.update_message()
    u.replace("redis", 5, "A", addr)
    assert dns.query.tcp(u, srv.host, port=srv.port, timeout=3).rcode() == 0


def sec_a(sec):
    try:
        return sec.a()
    except Exception:  # noqa: BLE001 - not up, or no zone yet
        return None


@needs_named
def test_bind_secondary_takes_notify_from_the_listen_address(tmp_path, procs):
    from servers import Redisfo
    port = free_port("127.0.0.3")
    bind = procs(BindSecondary(tmp_path))
    bind.configure(port, primary="127.0.0.3")
    srv = procs(Redisfo(tmp_path, zone_text=ZONE))
    rehome(srv, "127.0.0.3", port, notify=["127.0.0.1:%d" % bind.port])
    srv.start()
    bind.start()
    wait_until(lambda: sec_a(bind) == ["127.0.0.2"], timeout=20,
               what="BIND's first transfer")
    for addr in ("127.0.0.9", "127.0.0.10"):
        t0 = time.monotonic()
        update_a(srv, addr)
        wait_until(lambda: sec_a(bind) == [addr], timeout=3,
                   what="BIND serving %s after NOTIFY" % addr)
        assert time.monotonic() - t0 < 3
    assert "refused notify" not in bind.log(), bind.log()
    assert "notify: sending from 127.0.0.3" in srv.log()
    for serial in (8, 9):       # each change alone, by IXFR
        assert re.search(r"IXFR to 127\.0\.0\.1:\d+: 1 change up to serial %d$" % serial,
                         srv.log(), re.M), srv.log()
    assert not re.search(r"notify 127\.0\.0\.1:\d+: answered", srv.log()), srv.log()


@needs_named
def test_notify_from_an_unlisted_address_is_named_and_check_warns(tmp_path, procs):
    """dns.notify_source = 127.0.0.1 while BIND knows the server as
    127.0.0.3: BIND refuses the NOTIFY, the server logs it by name, status
    says behind and check warns (not fails) once the bound passed."""
    c = Cluster(tmp_path, procs, start_server=False)
    port = free_port("127.0.0.3")
    bind = procs(BindSecondary(tmp_path))
    bind.configure(port, primary="127.0.0.3")
    rehome(c.rf, "127.0.0.3", port, notify=["127.0.0.1:%d" % bind.port],
           notify_source=["127.0.0.1"])
    c.rf.start()
    bind.start()
    wait_until(lambda: sec_a(bind) == ["127.0.0.2"], timeout=20,
               what="BIND's first transfer")
    code = c.rf.run("check")
    assert code.returncode == 0, code.stdout
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    wait_until(lambda: "answered REFUSED" in c.rf.log(), timeout=5,
               what="the refusal in the server's log")
    assert "refused notify from non-primary" in bind.log()
    assert sec_a(bind) == ["127.0.0.2"]
    st = json.loads(c.rf.run("status", "--json").stdout)
    assert st["secondaries"][0]["sync"] == "behind"
    t0 = time.monotonic()
    r = c.rf.run("check")
    assert r.returncode == 1, r.stdout
    assert "secondary 127.0.0.1:%d behind" % bind.port in r.stdout
    assert time.monotonic() - t0 >= 2.5          # it gave the secondary its time


# ------------------------------------------------- external primaries

PRIMARIES = [pytest.param(BindPrimary, marks=needs_named, id="bind"),
             pytest.param(PdnsPrimary, marks=needs_pdns, id="pdns")]


def nsupdate(primary, c, script):
    r = subprocess.run(["nsupdate", "-y", c.rf.tsig_arg()], input=(
        "server 127.0.0.1 %d\nzone svc.test.\n%s\nsend\n" % (primary.port, script)),
        capture_output=True, text=True, timeout=15)
    assert r.returncode == 0, r.stdout + r.stderr


def txt_strings(primary):
    r = primary.query("_redisfo.redis.svc.test.", "TXT")
    return [[s.decode() for s in rd.strings] for rrset in r.answer for rd in rrset]


@pytest.mark.parametrize("primary_class", PRIMARIES)
def test_switch_failover_rejoin_with_an_external_primary(tmp_path, procs, primary_class):
    c, primary = external_cluster(tmp_path, procs, primary_class)
    c.rf.failover_cfg.update({"probe_timeout_ms": 250, "probes": 2})
    c.rf.write_conf()
    # status and check read the zone from it
    st = json.loads(c.rf.run("status", "--json").stdout)
    assert st["verdict"] == "consistent" and st["record"]["node"] == "r1"
    assert st["record"]["serial"] == primary.serial()
    assert c.rf.run("check").returncode == 0
    # --dry-run changes nothing
    before = c.snapshot()
    r = c.switch("--dry-run", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.snapshot() == before
    # a planned switch
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert c.record() == ["127.0.0.3"] and c.serial() > before["serial"]
    assert c.txt().startswith("primary=r2 epoch=2 ")
    wait_until(lambda: c.role("r1") == "replica of r2", what="r1 follows r2")
    assert c.rf.run("check").returncode == 0
    # a failover with the primary killed
    c.nodes["r2"].client().set("before", "1")
    wait_until(lambda: c.nodes["r3"].client().get("before") == "1", what="replicated")
    c.nodes["r2"].kill()
    r = c.switch("-y", "--to", "r3")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "UNPLANNED FAILOVER" in r.stdout
    assert c.record() == ["127.0.0.4"]
    assert "fenced=r2" in c.txt()
    wait_until(lambda: c.role("r1") == "replica of r3", what="r1 follows r3")
    # the TXT rewritten by another tool, as two strings
    nsupdate(primary, c, "update delete _redisfo.redis.svc.test. TXT\n"
             'update add _redisfo.redis.svc.test. 5 TXT "primary=r3 epoch=3" "fenced=r2"')
    assert txt_strings(primary) == [["primary=r3 epoch=3", "fenced=r2"]]
    c.nodes["r2"].start()
    wait_until(lambda: c.role("r2") == "master", what="r2 back as a master")
    code = c.rf.run("check")
    assert code.returncode == 2 and "fenced" in code.stdout, code.stdout
    r = c.rf.run("rejoin", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fenced=r2 cleared" in r.stdout
    assert txt_strings(primary) == [["primary=r3 epoch=3"]]
    assert c.role("r2") == "replica of r3"
    wait_until(lambda: c.rf.run("check").returncode == 0, timeout=10, what="check OK")


# ------------------------------------------------------------ figures

FIGURE_ROUNDS = 10


def timed_switch(c, to):
    """One planned switch: (total ms, write-pause ms) from its timeline."""
    r = c.switch("-y", "--to", to)
    assert r.returncode == 0, r.stdout + r.stderr
    total = float(re.search(r"^total: ([0-9.]+) ms", r.stdout, re.M).group(1))
    pause = float(re.search(r"^write pause window: ([0-9.]+) ms", r.stdout, re.M).group(1))
    return total, pause


def print_figure(title, name, vals, unit="ms"):
    print("  %-44s %8.1f %s   (min %.1f, max %.1f)   %s" % (
        name, median(vals), unit, min(vals), max(vals), title))


@pytest.mark.parametrize("primary_class", [pytest.param(None, id="serve")] + PRIMARIES)
def test_figures_switch_with_an_external_primary(tmp_path, procs, primary_class):
    """The same rounds against `serve` itself too, for a baseline measured
    on the same machine at the same time."""
    if primary_class is None:
        c = Cluster(tmp_path, procs)
        name = "redisfo-dns serve"
    else:
        c, primary = external_cluster(tmp_path, procs, primary_class)
        name = primary.name
    rows, cur = [], "r1"
    for _ in range(FIGURE_ROUNDS):
        to = "r2" if cur == "r1" else "r1"
        rows.append(timed_switch(c, to))
        assert c.record() == [c.nodes[to].host]
        cur = to
    title = "%s as the DNS server, median of %d" % (name, FIGURE_ROUNDS)
    print()
    print_figure(title, "planned switch total (timeline)", [r[0] for r in rows])
    print_figure(title, "write-pause window", [r[1] for r in rows])
    assert median([r[1] for r in rows]) < 1000


@needs_named
def test_figures_switch_to_secondaries_serving(tmp_path, procs):
    """From a switch's start until a BIND and an NSD secondary of the server
    (on 127.0.0.3) serve the new address, median of 10 switches."""
    c = Cluster(tmp_path, procs, start_server=False)
    port = free_port("127.0.0.3")
    bind = procs(BindSecondary(tmp_path))
    nsd = procs(NsdSecondary(tmp_path))
    for sec in (bind, nsd):
        sec.configure(port, primary="127.0.0.3")
    rehome(c.rf, "127.0.0.3", port,
           notify=["127.0.0.1:%d" % bind.port, "127.0.0.1:%d" % nsd.port])
    c.rf.start()
    bind.start()
    nsd.start()
    for sec in (bind, nsd):
        wait_until(lambda: sec_a(sec) == ["127.0.0.2"], timeout=20,
                   what="%s's first transfer" % sec.name)
    times = {"named": [], "nsd": []}
    cur = "r1"
    for _ in range(FIGURE_ROUNDS):
        to = "r2" if cur == "r1" else "r1"
        want = [c.nodes[to].host]
        t0 = time.monotonic()
        proc = subprocess.Popen([str(c.rf.binary), "-c", str(c.rf.conf_path), "switch",
                                 "-y", "--to", to], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                text=True, cwd=str(c.rf.dir), env=c.rf.env)
        try:
            seen = {}
            deadline = t0 + 10
            while len(seen) < 2 and time.monotonic() < deadline:
                for sec in (bind, nsd):
                    if sec.name not in seen and sec_a(sec) == want:
                        seen[sec.name] = (time.monotonic() - t0) * 1000
                time.sleep(0.002)
            out = proc.communicate(timeout=30)[0]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, out
        assert set(seen) == {"named", "nsd"}, (seen, bind.log()[-2000:])
        for k, v in seen.items():
            times[k].append(v)
        cur = to
    title = "switch start -> secondary serving, median of %d" % FIGURE_ROUNDS
    print()
    print_figure(title, "BIND 9 secondary (NOTIFY + IXFR)", times["named"])
    print_figure(title, "NSD secondary (NOTIFY + IXFR)", times["nsd"])
    assert "refused notify" not in bind.log()
