"""The command line: help, version, usage errors and config errors, with the
exit codes of the CLI contract (2 usage or config; check speaks Nagios)."""
import subprocess

import pytest

from servers import BINARY, Redisfo

COMMANDS = ["serve", "switch", "rejoin", "status", "check", "readers", "checkconf"]


def run(*args, cwd=None):
    return subprocess.run([str(BINARY), *args], capture_output=True, text=True,
                          timeout=20, cwd=cwd)


def test_help_and_version():
    r = run("--help")
    assert r.returncode == 0
    for c in COMMANDS:
        assert c in r.stdout
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("redisfo-dns ")


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_needs_no_config(command, tmp_path):
    r = run("-c", str(tmp_path / "missing.conf"), command, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: redisfo-dns [-c FILE] %s" % command)


def test_usage_errors_exit_2(tmp_path):
    r = run("frobnicate")
    assert r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr
    r = run("--bogus", "status")
    assert r.returncode == 2 and "unknown option --bogus" in r.stderr
    r = run()
    assert r.returncode == 2 and "usage:" in r.stderr
    r = run("-c")
    assert r.returncode == 2 and "-c needs a file" in r.stderr


def test_config_errors_exit_2_and_check_unknown(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text('dns = { zone = "svc.test"; ttl = 0; };\n'
                    'services = ( { name = "redis"; nodes = ( { name = "r1"; '
                    'host = "127.0.0.2"; } ); } );\n')
    for c in ("checkconf", "status", "switch", "serve"):
        r = run("-c", str(conf), c)
        assert r.returncode == 2, (c, r.stdout, r.stderr)
        assert "bad.conf:1: dns.ttl: must be between 1 and 86400 (got 0)" in r.stderr
    r = run("-c", str(conf), "check")
    assert r.returncode == 3
    assert r.stdout.startswith("REDISFO UNKNOWN - ") and "dns.ttl" in r.stdout
    r = run("-c", str(tmp_path / "missing.conf"), "checkconf")
    assert r.returncode == 2 and "missing.conf: cannot read" in r.stderr


def test_default_config_is_the_one_in_the_current_folder(tmp_path):
    srv = Redisfo(tmp_path)
    r = run("checkconf", cwd=str(srv.dir))
    assert r.returncode == 0 and r.stdout.startswith("configuration OK"), r.stderr
