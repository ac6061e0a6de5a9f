"""confgen.py - the config files and zone files behaviour tests write.

It renders Python values as libconfig text (redisfo.conf), writes the
redis.conf of a throwaway node, the nsd.conf and knot.conf of a secondary
and of an external Knot primary, and holds the zones the tests serve.
servers.py writes these into a test's temporary folder and starts the
process that reads them.

It only returns text: it never writes a file, starts a process or opens
a socket, so every port, folder and key comes in as an argument.
"""

DEFAULT_ZONE = "svc.test."


# ------------------------------------------------------------ libconfig out

def _cfg_scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if -2**31 <= value < 2**31:
            return str(value)
        return "%dL" % value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError("cannot write %r to libconfig" % (value,))


def cfg_value(value, indent=0):
    """Render a Python value as libconfig text.

    dict -> group { }, list of scalars -> array [ ], list holding dicts or
    lists -> list ( ), str/int/bool/float -> scalars. Keys whose value is
    None are left out (so an override can remove a default).
    """
    pad = "  " * (indent + 1)
    if isinstance(value, dict):
        lines = ["{"]
        for k, v in value.items():
            if v is None:
                continue
            lines.append("%s%s = %s;" % (pad, k, cfg_value(v, indent + 1)))
        lines.append("  " * indent + "}")
        return "\n".join(lines)
    if isinstance(value, (list, tuple)):
        if any(isinstance(v, (dict, list, tuple)) for v in value):
            inner = (",\n" + pad).join(cfg_value(v, indent + 1) for v in value)
            return "(\n" + pad + inner + "\n" + "  " * indent + ")"
        return "[ " + ", ".join(_cfg_scalar(v) for v in value) + " ]"
    return _cfg_scalar(value)


def cfg_document(groups):
    """A whole libconfig file from {setting: value}."""
    out = []
    for k, v in groups.items():
        if v is None:
            continue
        out.append("%s = %s;\n" % (k, cfg_value(v)))
    return "\n".join(out)


def default_services():
    """The `services` of a redisfo.conf whose nodes nobody starts."""
    return [{
        "name": "redis",
        "nodes": [
            {"name": "r1", "host": "127.0.0.2", "port": 6379},
            {"name": "r2", "host": "127.0.0.3", "port": 6379},
            {"name": "r3", "host": "127.0.0.4", "port": 6379},
        ],
    }]


# ---------------------------------------------------------------- redis.conf

def redis_conf(host, port, folder, password=None, replicaof=None, extra=()):
    """A redis.conf for a node that keeps nothing on disk; replicaof is
    None or (host, port) of its master; extra lines go last."""
    lines = [
        "port %d" % port,
        "bind %s" % host,
        'dir "%s"' % folder,
        'save ""',
        "appendonly no",
        "protected-mode no",
        "daemonize no",
        'logfile ""',
        "enable-debug-command yes",
    ]
    if password:
        lines.append('requirepass "%s"' % password)
        lines.append('masterauth "%s"' % password)
    if replicaof:
        lines.append("replicaof %s %s" % replicaof)
    lines.extend(extra)
    return "\n".join(lines) + "\n"


# ------------------------------------------------- NSD and Knot configs

_NSD_SECONDARY = """server:
    ip-address: 127.0.0.1@{port}
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "{dir}"
    pidfile: "{dir}/nsd.pid"
    database: ""
    xfrdfile: "{dir}/xfrd.state"
    xfrdir: "{dir}"
    zonelistfile: "{dir}/zone.list"
    logfile: "{dir}/nsd.log"
    server-count: 1
    verbosity: 2
    xfrd-reload-timeout: 0
    hide-version: yes
remote-control:
    control-enable: no
zone:
    name: "svc.test."
    zonefile: "svc.test.zone"
    request-xfr: 127.0.0.1@{primary} NOKEY
    allow-notify: 127.0.0.1 NOKEY
"""

_KNOT_SECONDARY = """server:
    rundir: "{dir}"
    listen: 127.0.0.1@{port}
log:
  - target: "{dir}/knot.log"
    any: info
database:
    storage: "{dir}"
remote:
  - id: primary
    address: 127.0.0.1@{primary}
acl:
  - id: notify_from_primary
    address: 127.0.0.1
    action: notify
zone:
  - domain: svc.test.
    master: primary
    acl: notify_from_primary
    storage: "{dir}"
    zonefile-sync: -1
    journal-content: none
"""


def nsd_secondary_conf(folder, port, primary_port):
    """nsd.conf: svc.test. on 127.0.0.1@port, transferred from the primary
    at 127.0.0.1@primary_port without a key, NOTIFY from it accepted."""
    return _NSD_SECONDARY.format(port=port, dir=folder, primary=primary_port)


def knot_secondary_conf(folder, port, primary_port):
    """knot.conf: the same secondary as nsd_secondary_conf, for knotd."""
    return _KNOT_SECONDARY.format(port=port, dir=folder, primary=primary_port)


def knot_primary_conf(folder, port, key_name, key_algorithm, key_secret):
    """knot.conf: svc.test. from folder/svc.test.zone on 127.0.0.1@port,
    dynamic updates allowed when signed with the given TSIG key."""
    return (
        "server:\n"
        '    rundir: "%(d)s"\n'
        "    listen: 127.0.0.1@%(port)d\n"
        "log:\n"
        "  - target: stderr\n"
        "    any: info\n"
        "database:\n"
        '    storage: "%(d)s"\n'
        "control:\n"
        '    listen: "%(d)s/knot.sock"\n'
        "key:\n"
        "  - id: %(kn)s\n"
        "    algorithm: %(ka)s\n"
        "    secret: %(ks)s\n"
        "acl:\n"
        "  - id: update_acl\n"
        "    key: %(kn)s\n"
        "    action: update\n"
        "zone:\n"
        "  - domain: svc.test.\n"
        '    storage: "%(d)s"\n'
        '    file: "svc.test.zone"\n'
        "    acl: update_acl\n"
        % {"d": folder, "port": port, "kn": key_name,
           "ka": key_algorithm, "ks": key_secret})


# ------------------------------------------------------------------- zones

def txt_rrset(owner, count, size):
    """count TXT records at owner, each one distinct string of size bytes."""
    lines = []
    for i in range(count):
        body = ("%02d-" % i) + "x" * (size - 3)
        lines.append('%s 300 IN TXT "%s"' % (owner, body))
    return "\n".join(lines)


# A zone with the records the answer tests need: SOA TTL 3600 with
# MINIMUM 60 (negative TTL 60), CNAME chains in and out of the zone, an
# empty non-terminal (ent, a.ent), TXT RRsets below and above 512 and 1232
# bytes, and a CNAME chain longer than the server follows (a loop is
# refused at load, so the longest chain is what bounds an answer).
TEST_ZONE = """$ORIGIN svc.test.
$TTL 300
@        3600 IN SOA ns1.svc.test. hostmaster.svc.test. 2024010101 3600 600 86400 60
@        3600 IN NS  ns1.svc.test.
ns1           IN A   127.0.0.1
redis       5 IN A   127.0.0.2
redis       5 IN AAAA fd00::2
_redisfo.redis 5 IN TXT "primary=r1 epoch=1 at=2024-01-01T00:00:00Z"
multi         IN A   192.0.2.1
multi         IN A   192.0.2.2
multi         IN A   192.0.2.3
v6only        IN AAAA 2001:db8::1
mxhost        IN MX  10 redis.svc.test.
alias         IN CNAME redis.svc.test.
chain         IN CNAME alias.svc.test.
outside       IN CNAME www.example.org.
dangling      IN CNAME missing.svc.test.
long1        IN CNAME long2.svc.test.
long2        IN CNAME long3.svc.test.
long3        IN CNAME long4.svc.test.
long4        IN CNAME long5.svc.test.
long5        IN CNAME long6.svc.test.
long6        IN CNAME long7.svc.test.
long7        IN CNAME long8.svc.test.
long8        IN CNAME long9.svc.test.
long9        IN CNAME long10.svc.test.
long10        IN CNAME long11.svc.test.
long11        IN CNAME long12.svc.test.
long12        IN CNAME redis.svc.test.
deep.a.ent    IN A   192.0.2.9
MiXeD         IN A   192.0.2.5
esc\\.dot      IN A   192.0.2.6
unk           IN TYPE65000 \\# 4 0a0b0c0d
empty         IN TXT ""
dup           IN A   192.0.2.7
dup           IN A   192.0.2.7
ttls       60 IN A   192.0.2.10
ttls      120 IN A   192.0.2.11
""" + txt_rrset("medium", 4, 200) + "\n" + txt_rrset("big", 16, 200) + "\n" \
    + txt_rrset("huge", 60, 250) + "\n"

TEST_ZONE_SOA_TTL = 3600
TEST_ZONE_SOA_MINIMUM = 60

# The other way round: SOA TTL 30 below MINIMUM 600, negative TTL 30.
# Serial 7, redis A 127.0.0.2: the small zone the UPDATE and NOTIFY tests
# add their own records to.
TEST_ZONE_LOW_SOA_TTL = """$ORIGIN svc.test.
$TTL 300
@        30 IN SOA ns1.svc.test. hostmaster.svc.test. 7 3600 600 86400 600
@        30 IN NS  ns1.svc.test.
ns1         IN A   127.0.0.1
redis     5 IN A   127.0.0.2
"""


def service_zone(zone, primary_name, primary_addr, ttl=5, serial=1):
    """The zone of one managed service: redis A names the primary at
    primary_addr and its _redisfo TXT names it primary_name."""
    return (
        "$ORIGIN %s\n"
        "@ 3600 IN SOA ns1 hostmaster %d 3600 600 86400 5\n"
        "@ 3600 IN NS ns1\n"
        "ns1 3600 IN A 127.0.0.1\n"
        "redis %d IN A %s\n"
        '_redisfo.redis %d IN TXT "primary=%s epoch=1 at=2026-01-01T00:00:00Z"\n'
        % (zone, serial, ttl, primary_addr, ttl, primary_name))
