"""The switch's timeline adds up: its total counts every millisecond the
write-pause window counts, REDISFO_STEP_HOOK's time included (shown on its
own line), so a drill's figures are never read as the switch's own.
"""

import re

from failover_env import Cluster


def timeline(out):
    steps = {m.group(1): float(m.group(2)) for m in
             re.finditer(r"^  (\w+(?: \w+)?) +([0-9.]+) ms", out, re.M)}
    total = float(re.search(r"^total: ([0-9.]+) ms", out, re.M).group(1))
    pause = float(re.search(r"^write pause window: ([0-9.]+) ms", out, re.M).group(1))
    return steps, total, pause


def test_total_counts_the_step_hook_inside_the_pause(tmp_path, procs):
    c = Cluster(tmp_path, procs)
    # 60 ms after the promote step, which runs inside the write pause
    c.rf.env["REDISFO_STEP_HOOK"] = 'test "$REDISFO_STEP" = promote || exit 0; sleep 0.06'
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    steps, total, pause = timeline(r.stdout)
    assert steps["step hooks"] >= 60, r.stdout
    assert pause >= 60, r.stdout
    # The total holds the window it contains, hook included ...
    assert total >= pause, r.stdout
    # ... and is the sum of the lines above it (the confirmation aside).
    shown = sum(v for k, v in steps.items() if k != "confirm")
    assert abs(shown - total) < 0.01 * len(steps), r.stdout


def test_no_hook_line_without_the_hook(tmp_path, procs):
    c = Cluster(tmp_path, procs)
    r = c.switch("-y", "--to", "r2")
    assert r.returncode == 0, r.stdout + r.stderr
    steps, total, pause = timeline(r.stdout)
    assert "step hooks" not in steps
    assert total >= pause, r.stdout
