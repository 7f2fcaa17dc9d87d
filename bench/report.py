"""The one table: medians of the clean runs, scgate against SocketCluster 14 (or --workers 2
against --workers 1), the ratio, the performance target and whether it is met."""
import os
import platform
import statistics
import subprocess
import time

from scenarios import p99_ms, per_op_us, usage

SG, SG2 = "scgate-w1", "scgate-w2"
SC, SC_NOPUB = "sc14-w1b1", "sc14-w1b1-nopub"
HELD = 19000


def machine_info():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    return (f"machine: nproc={os.cpu_count()}, CPU {model}, {platform.system()} {platform.release()}, "
            f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}")


def git_revision(repo):
    try:
        r = subprocess.run(["git", "-C", repo, "describe", "--always", "--dirty"], capture_output=True,
                           text=True, timeout=10)
        return r.stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


class Table:
    def __init__(self, results):
        self.results = results
        self.rows = []

    def med(self, config, point, figure):
        return median([figure(d) for d in self.results.get((config, point), [])])

    def runs(self, config, point):
        """Clean runs of a point, or None when it was not run at all."""
        kept = self.results.get((config, point))
        return None if kept is None else len(kept)

    def cpu(self, config, point, key):
        return self.med(config, point, lambda d: usage(d).get(key))

    def row(self, scenario, metric, a, b, point, fmt, target=None, note="", tags=("", ""), held=(None, None)):
        """One row: `a` and `b` are (config, figure) pairs, ratio = a / b; `tags` prefix the cells;
        `held` says, for the idle-hold scenario, whether each side held every connection."""
        if (a[0], point) not in self.results and (b[0], point) not in self.results:
            return  # neither side was run (--only, or no --sc)
        va, vb = self.med(a[0], point, a[1]), self.med(b[0], point, b[1])
        ratio = va / vb if va is not None and vb else None
        met = ratio <= target if target is not None and ratio is not None else None
        if held[0] is False:
            met = False
        cells = [tags[i] + cell(v, fmt, self.runs(side[0], point)) + held_note(held[i])
                 for i, (v, side) in enumerate(((va, a), (vb, b)))]
        self.rows.append([
            scenario, metric, *cells, ratio_cell(ratio, target), f"≤ 1/{round(1 / target)}" if target else note,
            "—" if met is None else ("yes" if met else "**no**"),
            pair(self.cpu(a[0], point, "client_cpu_pct"), self.cpu(b[0], point, "client_cpu_pct")),
            pair(self.cpu(a[0], point, "other_cpu_pct"), self.cpu(b[0], point, "other_cpu_pct")),
        ])

    def held(self, config):
        runs = self.results.get((config, "conns-19000"), [])
        if not runs:
            return None
        return all(d.get("succeeded") == HELD and d.get("dropped_during_hold") == 0 for d in runs)

    def print(self):
        head = ["scenario", "metric", "scgate (a)", "SocketCluster 14 (b)", "ratio a/b", "target", "met?",
                "client % (a / b)", "other % (a / b)"]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in self.rows:
            print("| " + " | ".join(r) + " |")


def cell(value, fmt, runs):
    """A median, with the number of runs behind it when under 2; `runs` is None if not run."""
    if runs is None:
        return "not run"
    if value is None:
        return "no clean run" if runs == 0 else "—"
    return fmt(value) + ("" if runs >= 2 else f" ({runs} run)")


def held_note(held):
    return "" if held is None else ("; all held" if held else "; **not all held**")


def pair(a, b):
    show = lambda v: "—" if v is None else f"{v:.0f}"
    return f"{show(a)} / {show(b)}"


def ratio_cell(ratio, target):
    if ratio is None:
        return "—"
    if target is None:
        return f"{ratio:.2f}×"
    return f"{ratio:.3f} ({1 / ratio:.1f}× less)" if ratio > 0 else f"{ratio:.3f}"


def us(v):
    return f"{v:.1f} µs"


def rate(v):
    return f"{v:,.0f}/s"


def ms(v):
    return f"{v:.1f} ms"


def octets(v):
    return f"{v:,.0f} B"


def build(results):
    """The table's rows, scenario by scenario."""
    t = Table(results)
    req = lambda d: per_op_us(d, "rps")
    dlv = lambda d: per_op_us(d, "deliveries_per_s")
    t.row("`rpc --conns 100` (SC publishes, like ping)", "server CPU per request", (SG, req), (SC, req),
          "rpc", us, 1 / 3)
    t.row("`rpc --conns 100` (SC without publish)", "server CPU per request", (SG, req), (SC_NOPUB, req),
          "rpc", us, 1 / 3)
    t.row("`fanout --subs 1000 --rate 0`", "server CPU per delivery", (SG, dlv), (SC, dlv), "fanout-1000", us, 1 / 6)
    t.row("`fanout --subs 5000 --rate 10`", "server CPU per delivery", (SG, dlv), (SC, dlv), "fanout-5000", us, 1 / 3)
    t.row("`channels --conns 1000 --channels 100 --subs-per-conn 3 --rate 1000`", "p99 latency",
          (SG, p99_ms), (SC, p99_ms), "channels", ms, 1 / 5)
    bytes_per_conn = lambda d: d.get("server_bytes_per_conn")
    t.row("`conns --count 10000 --hold 22`", "server bytes per connection", (SG, bytes_per_conn),
          (SC, bytes_per_conn), "conns-10000", octets, 1 / 3)
    t.row("`conns --count 19000` (2 source IPs)", "all held; server bytes per connection",
          (SG, bytes_per_conn), (SC, bytes_per_conn), "conns-19000", octets, 1 / 3, held=(t.held(SG), t.held(SC)))
    for point, op, figure, rate_key in (("rpc", "request", req, "rps"), ("fanout-1000", "delivery", dlv,
                                                                          "deliveries_per_s")):
        scenario = f"`{point}`: scgate `--workers 2` vs 1"
        throughput = lambda d, k=rate_key: d.get(k)
        tags = ("w2: ", "w1: ")
        t.row(scenario, "throughput", (SG2, throughput), (SG, throughput), point, rate, note="w2/w1 scaling",
              tags=tags)
        t.row(scenario, f"server CPU per {op}", (SG2, figure), (SG, figure), point, us, note="w2/w1", tags=tags)
    return t
