"""conftest.py - fixtures shared by every behaviour test.

`procs` is a registry of what a test started (Popen objects, RedisNode,
Redisfo, or anything with .stop()): at teardown, whatever happened, every
entry is resumed (SIGCONT, in case a test froze it) and stopped, newest
first. `server` is a started Redisfo with the default config in tmp_path.
"""

import os
import signal
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from confgen import TEST_ZONE, TEST_ZONE_LOW_SOA_TTL  # noqa: E402
from servers import Redisfo, stop_popen  # noqa: E402


class ProcRegistry:
    """What a test started; everything here is stopped at teardown."""

    def __init__(self):
        self.items = []

    def add(self, obj):
        self.items.append(obj)
        return obj

    __call__ = add

    def __iter__(self):
        return iter(self.items)

    @staticmethod
    def _resume(obj):
        proc = obj if isinstance(obj, subprocess.Popen) else getattr(obj, "proc", None)
        if isinstance(proc, subprocess.Popen) and proc.poll() is None:
            try:
                proc.send_signal(signal.SIGCONT)
            except ProcessLookupError:
                pass

    def stop_all(self):
        errors = []
        for obj in reversed(self.items):
            try:
                self._resume(obj)
                if isinstance(obj, subprocess.Popen):
                    stop_popen(obj)
                else:
                    obj.stop()
            except Exception as exc:  # noqa: BLE001 - stop the rest anyway
                errors.append("%r: %r" % (obj, exc))
        self.items = []
        return errors


@pytest.fixture
def procs():
    reg = ProcRegistry()
    yield reg
    errors = reg.stop_all()
    assert not errors, "teardown could not stop: %s" % "; ".join(errors)


@pytest.fixture
def server(tmp_path, procs):
    """A started redisfo-dns with the default config (zone made by serve)."""
    srv = procs.add(Redisfo(tmp_path))
    srv.start()
    return srv


def _module_server(tmp_path_factory, request, zone_text, name):
    srv = Redisfo(tmp_path_factory.mktemp(name), zone_text=zone_text)
    request.addfinalizer(srv.stop)
    srv.start()
    return srv


@pytest.fixture(scope="module")
def zserver(tmp_path_factory, request):
    """One redisfo-dns per test module serving confgen.TEST_ZONE.

    Read-only tests share it; a test that changes or signals the server
    must start its own.
    """
    return _module_server(tmp_path_factory, request, TEST_ZONE, "zserver")


@pytest.fixture(scope="module")
def lowttl_server(tmp_path_factory, request):
    """redisfo-dns serving a zone whose SOA TTL (30) is below MINIMUM (600)."""
    return _module_server(tmp_path_factory, request, TEST_ZONE_LOW_SOA_TTL, "lowttl")
