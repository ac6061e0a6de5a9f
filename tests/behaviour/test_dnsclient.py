"""The failover's DNS client against the embedded server and against an
existing primary: Knot with dynamic updates allowed by the TSIG key (acl
action: update).

It proves `failover.server` can point at existing DNS: the client's own
tests (query, compare-and-swap UPDATE, stale prerequisite, wrong key) run
against knotd, and then a whole `switch`, `status` and `check` use knotd
as the only DNS server.
"""

import json
import os
import statistics
import subprocess

import dns.tsig
import dns.update
import pytest

from confgen import service_zone
from failover_env import knot_cluster
from servers import REPO, KnotPrimary, Redisfo, have_knotd, wait_until
import latency

needs_knotd = pytest.mark.skipif(not have_knotd(), reason="knotd not installed")

KEY = ("redisfo-key.", "hmac-sha256", "c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4OTA=")


def unit_binary():
    path = REPO / "build" / "tests" / "test_dnsclient"
    subprocess.run(["make", "-s", "-C", str(REPO), "build/tests/test_dnsclient"],
                   check=True, stdout=subprocess.DEVNULL)
    return path


@needs_knotd
def test_dnsclient_against_knot(tmp_path, procs):
    knot = procs(KnotPrimary(tmp_path / "knot", *KEY,
                             zone_body=service_zone("svc.test.", "r1", "127.0.0.2")))
    knot.start()
    env = dict(os.environ, DNSCLIENT_TEST_SERVER="127.0.0.1:%d" % knot.port,
               DNSCLIENT_TEST_KEY=":".join(KEY), DNSCLIENT_TEST_ZONE="svc.test.")
    r = subprocess.run([str(unit_binary())], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "[  PASSED  ] 7 test(s)" in out, out
    assert "[       OK ] test_live_swap" in out and "SKIPPED" not in out
    log = knot.logtext()
    assert "prerequisites not met" in log          # the stale swap reached knotd
    ans = knot.query("redis.svc.test.", "A")
    assert [rr.address for rrset in ans.answer for rr in rrset] == ["127.0.0.3"]


def test_dnsclient_against_the_embedded_server(tmp_path, procs):
    rf = procs(Redisfo(tmp_path / "rf", services=[{"name": "redis", "nodes": [
        {"name": "r1", "host": "127.0.0.2", "port": 6379}]}],
        zone_text=service_zone("svc.test.", "r1", "127.0.0.2")))
    rf.start()
    env = dict(os.environ, DNSCLIENT_TEST_SERVER="127.0.0.1:%d" % rf.port,
               DNSCLIENT_TEST_KEY="%s:%s:%s" % (rf.key_name, rf.key_algorithm,
                                                rf.key_secret),
               DNSCLIENT_TEST_ZONE="svc.test.")
    r = subprocess.run([str(unit_binary())], env=env, capture_output=True, text=True,
                       timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "[       OK ] test_live_swap" in out and "SKIPPED" not in out
    ans = rf.query("redis.svc.test.", "A")
    assert [rr.address for rrset in ans.answer for rr in rrset] == ["127.0.0.3"]


@needs_knotd
def test_switch_with_knot_as_the_dns_server(tmp_path, procs):
    c, knot = knot_cluster(tmp_path, procs)

    def served():
        ans = knot.query("redis.svc.test.", "A")
        return [rr.address for rrset in ans.answer for rr in rrset]

    s0 = knot.serial()
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert served() == ["127.0.0.3"]
    assert knot.serial() > s0
    txt = knot.query("_redisfo.redis.svc.test.", "TXT")
    assert b"".join(txt.answer[0][0].strings).decode().startswith("primary=r2 epoch=2 ")
    assert c.role("r2") == "master" and c.role("r1") == "replica of r2"

    st = json.loads(c.rf.run("status", "--json").stdout)
    assert st["record"]["node"] == "r2" and st["verdict"] == "consistent"
    assert st["record"]["serial"] == knot.serial()
    r = c.rf.run("check")
    assert r.returncode == 0, r.stdout
    c.wait_links("r2")

    # a wrong key: knotd answers the preflight's check UPDATE NOTAUTH, and
    # the switch is refused before anything changed
    c.rf.dns_cfg["update_key"] = dict(c.rf.dns_cfg["update_key"],
                                      secret="d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC0xMjM0NTY=")
    c.rf.write_conf()
    s1 = knot.serial()
    r = c.switch("-y", "--to", "r1")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "switch refused" in r.stderr and "NOTAUTH" in r.stderr, r.stderr
    assert served() == ["127.0.0.3"] and knot.serial() == s1
    assert c.role("r1") == "replica of r2"
    assert c.role("r2") == "master"


@needs_knotd
def test_figures_update_latency_knot(tmp_path, procs):
    """The same UPDATE latency figures with knotd as an external primary."""
    knot = procs(KnotPrimary(tmp_path / "knot", *KEY,
                             zone_body=service_zone("svc.test.", "r1", "127.0.0.2")))
    knot.start()
    key = dns.tsig.Key(KEY[0], KEY[2], KEY[1])

    def make(i):
        addr = "10.4.%d.%d" % (i // 250, i % 250 + 1)
        u = dns.update.UpdateMessage("svc.test.", keyring=key)
        u.replace("redis", 5, "A", addr)
        return u.to_wire(), addr
    reply_ms, served_ms = latency.update_latency(knot.port, make, n=50)
    latency.print_figures("knotd update", reply_ms, served_ms)
    assert statistics.median(reply_ms) < 2000
