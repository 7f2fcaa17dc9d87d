"""The load scenarios: the scload command line of each, the figure read from its JSON line, and
running one scenario on a server with a bounded number of attempts."""
import json
import os
import subprocess
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
SCLOAD = os.environ.get("SCLOAD", os.path.join(BENCH, "scload", "target", "release", "scload"))

# SocketCluster 14's pingTimeout (seconds; its default, which the app keeps).
SC14_PING_TIMEOUT_S = 20
# Seconds added to two ping timeouts in the big idle hold: long enough that every socket has
# had to answer at least two pings for the hold to pass.
HOLD_MARGIN_S = 5
# Seconds scload may take to open the 19,000 connections before it gives up.
BIG_RAMP_TIMEOUT_S = 240
# Seconds allowed on top of a timed run (warmup + duration): scload's ramp (1,000-5,000
# handshakes), its 10 s drain and its close.
TIMED_SLACK_S = 150
# Seconds allowed on top of an idle hold (settle + hold): the ramp, sampling and close.
HOLD_SLACK_S = BIG_RAMP_TIMEOUT_S + 60
# A machine busier than this (% of one core, outside the runs) is not quiet yet; scload reports
# the interference of each run anyway (other_cpu_pct).
QUIET_PCT = 25.0


def big_hold(scgate_ping_timeout_s):
    """The 19,000-connection hold: two of the larger ping timeout, plus a margin."""
    return 2 * max(SC14_PING_TIMEOUT_S, scgate_ping_timeout_s) + HOLD_MARGIN_S


def scenarios(duration, warmup, hold):
    """name → (scload arguments, timeout in seconds, needs a fresh server per run)."""
    def timed(*args):
        return ["--warmup", str(warmup)] + list(args) + ["--duration", str(duration)]
    timed_limit = warmup + duration + TIMED_SLACK_S
    return {
        "rpc": (timed("rpc", "--conns", "100"), timed_limit, False),
        "fanout-1000": (timed("fanout", "--subs", "1000", "--rate", "0"), timed_limit, False),
        "fanout-5000": (timed("fanout", "--subs", "5000", "--rate", "10"), timed_limit, False),
        "channels": (timed("channels", "--conns", "1000", "--channels", "100", "--subs-per-conn", "3",
                           "--rate", "1000"), timed_limit, False),
        "conns-10000": (["conns", "--count", "10000", "--hold", "22", "--settle", "5"], 27 + HOLD_SLACK_S, True),
        "conns-19000": (["--src-ips", "127.0.0.2,127.0.0.3", "--ramp-timeout", str(BIG_RAMP_TIMEOUT_S),
                         "conns", "--count", "19000", "--hold", str(hold), "--settle", "5"],
                        hold + 5 + HOLD_SLACK_S, True),
    }


def usage(d):
    return d.get("usage") or d.get("hold_usage") or {}


def per_op_us(d, rate_key):
    """Server CPU per operation in µs: (server_cpu_pct / 100) / rate × 1e6."""
    rate, cpu = d.get(rate_key), usage(d).get("server_cpu_pct")
    if not rate or cpu is None:
        return None
    return cpu / 100 / rate * 1e6


def p99_ms(d):
    p99 = (d.get("latency") or {}).get("p99_us")
    return None if p99 is None else p99 / 1000


def machine_busy(interval=1.0):
    """CPU used by the whole machine over `interval`, in % of one core (from /proc/stat)."""
    def ticks():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return sum(v) - v[3] - v[4]
    before = ticks()
    time.sleep(interval)
    return (ticks() - before) / interval  # USER_HZ is 100: ticks per second = % of one core


def wait_quiet(max_wait):
    """Waits (at most `max_wait` seconds) for the machine to be quiet; returns its busy %."""
    deadline = time.time() + max_wait
    busy = machine_busy()
    while busy > QUIET_PCT and time.time() < deadline:
        busy = machine_busy()
    return busy


def scload(server, args, timeout, nice, label):
    """Runs scload against `server`; returns (command, its JSON line plus `_rc`)."""
    cmd = ["nice", "-n", str(nice), SCLOAD, "--url", server.url, "--server-pid", str(server.pid),
           "--label", label] + args
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return cmd, {"error": f"scload ran past {timeout:.0f} s", "_rc": None}
    lines = r.stdout.strip().splitlines()
    try:
        d = json.loads(lines[-1]) if lines else {"error": "no output"}
    except json.JSONDecodeError:
        d = {"error": "bad output", "stdout": r.stdout[-2000:]}
    d["_rc"] = r.returncode
    if r.returncode != 0:
        d["_stderr"] = r.stderr[-2000:]
    return cmd, d


def clean(d):
    """A run that completed; interference and losses are reported, not filtered."""
    return d.get("_rc") == 0 and "error" not in d


def progress(config, point, rep, d):
    u = usage(d)
    keys = ("rps", "deliveries_per_s", "lost", "errors", "dropped", "succeeded", "dropped_during_hold",
            "server_bytes_per_conn", "error")
    shown = {k: d[k] for k in keys if k in d}
    lat = d.get("latency") or {}
    print(f"[{time.strftime('%H:%M:%S')}] {config} {point} rep{rep} clean={clean(d)} {shown} "
          f"p99_us={lat.get('p99_us')} srv={u.get('server_cpu_pct')}% cli={u.get('client_cpu_pct')}% "
          f"other={u.get('other_cpu_pct')}%", flush=True)


class Runner:
    """Runs scenarios and keeps every clean result: results[(config, point)] is a list of dicts."""

    def __init__(self, reps, nice, quiet_wait, out):
        self.reps, self.nice, self.quiet_wait, self.out = reps, nice, quiet_wait, out
        self.results = {}

    def run(self, config, point, scenario, server=None, fresh=None):
        """`reps` clean runs (at most reps + 2 attempts), on `server` or on a fresh server from
        the factory `fresh` for each run."""
        args, timeout, _ = scenario
        kept = self.results.setdefault((config, point), [])
        for attempt in range(1, self.reps + 3):
            if len(kept) >= self.reps:
                return
            wait_quiet(self.quiet_wait)
            if fresh is not None:
                with fresh() as s:
                    cmd, d = scload(s, args, timeout, self.nice, f"{config}/{point}")
            else:
                cmd, d = scload(server, args, timeout, self.nice, f"{config}/{point}")
            progress(config, point, len(kept) + 1, d)
            if server is not None:
                server.check_running()
            self.record(config, point, attempt, cmd, d)
            if clean(d):
                kept.append(d)

    def record(self, config, point, attempt, cmd, d):
        if not self.out:
            return
        row = dict(config=config, point=point, attempt=attempt, ts=time.time(), cmd=" ".join(cmd),
                   clean=clean(d), result=d)
        with open(self.out, "a") as f:
            f.write(json.dumps(row) + "\n")
