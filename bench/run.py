#!/usr/bin/env python3
"""Runs the load scenarios against scgate and, with --sc, against the real SocketCluster 14 app
on the same machine, and prints one table of ratios. Not part of the test command.

  bench/run.sh                     # build, then every scenario against scgate, 3 runs of 10 s
  bench/run.sh --sc                # the same against SocketCluster 14 too, with ratios
  bench/run.sh --sc --only rpc     # only the runs whose CONFIG/SCENARIO name matches

Runs are named CONFIG/SCENARIO: configs scgate-w1, scgate-w2, sc14-w1b1 (SC_PUBLISH=1),
sc14-w1b1-nopub (SC_PUBLISH=0); scenarios rpc, fanout-1000, fanout-5000, channels, conns-10000,
conns-19000. Environment overrides: SCLOAD, SCGATE (binaries), BENCH_READY_TIMEOUT (seconds).
"""
import argparse
import os
import re
import resource
import signal
import subprocess
import sys

import report
import scenarios
import servers

# Seconds one build step may take: a cold release build of scgate (wasmtime) on two cores.
BUILD_TIMEOUT = 3600
# Open files a server and scload each need for the 19,000-connection scenario: the sockets
# plus their runtime's own (epoll, eventfds, the listener, logs).
BIG_FILES = 19500


def options():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sc", action="store_true", help="also measure SocketCluster 14 (npm ci on first use)")
    ap.add_argument("--reps", type=int, default=3, help="clean runs per point; the table shows medians (3)")
    ap.add_argument("--duration", type=float, default=10, help="seconds measured per timed run (10)")
    ap.add_argument("--warmup", type=float, default=2, help="seconds of load before each window (2)")
    ap.add_argument("--only", help="regex searched in CONFIG/SCENARIO; other runs are skipped")
    ap.add_argument("--out", help="append one JSON line per run (command, scload output) to this file")
    ap.add_argument("--skip-build", action="store_true", help="use the binaries as they are")
    ap.add_argument("--nice", type=int, default=-10,
                    help="niceness of servers and scload (-10: ahead of builds; needs root, else ignored)")
    ap.add_argument("--quiet-wait", type=float, default=15,
                    help="seconds to wait before each run for the machine to be quiet (15)")
    return ap.parse_args()


def build():
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(servers.REPO, "target"))
    steps = [
        (["cargo", "build", "--release", "--bin", "scgate"], env),
        ([os.path.join(servers.REPO, "plugins", "build.sh")], dict(os.environ)),
        (["cargo", "build", "--release", "--manifest-path", os.path.join(servers.BENCH, "scload", "Cargo.toml")],
         dict(os.environ, CARGO_TARGET_DIR=os.path.join(servers.BENCH, "scload", "target"))),
    ]
    for cmd, step_env in steps:
        print("+ " + " ".join(os.path.relpath(c, servers.REPO) if c.startswith("/") else c for c in cmd),
              flush=True)
        subprocess.run(cmd, cwd=servers.REPO, env=step_env, check=True, timeout=BUILD_TIMEOUT)


def raise_file_limit():
    """Soft open-file limit up to the hard one; children (servers, scload) inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def scgate_ping_timeout_s():
    """scgate's default ping_timeout_ms, from `scgate gen-config`, in seconds."""
    out = subprocess.run([servers.SCGATE, "gen-config"], capture_output=True, text=True, timeout=30).stdout
    found = re.search(r"^ping_timeout_ms = (\d+)", out, re.M)
    if not found:
        raise SystemExit("scgate gen-config shows no ping_timeout_ms")
    return int(found.group(1)) / 1000


def plan(sc):
    """(config, server factory, shared scenarios, fresh-server scenarios), in run order."""
    configs = [
        ("scgate-w1", lambda nice: servers.scgate(1, nice), ["rpc", "fanout-1000", "fanout-5000", "channels"],
         ["conns-10000", "conns-19000"]),
        ("scgate-w2", lambda nice: servers.scgate(2, nice), ["rpc", "fanout-1000"], []),
    ]
    if sc:
        configs += [
            ("sc14-w1b1", lambda nice: servers.sc14(True, nice), ["rpc", "fanout-1000", "fanout-5000", "channels"],
             ["conns-10000", "conns-19000"]),
            ("sc14-w1b1-nopub", lambda nice: servers.sc14(False, nice), ["rpc"], []),
        ]
    return configs


def measure(a, runner, table_scenarios, files):
    only = re.compile(a.only) if a.only else None
    wanted = lambda config, point: only is None or only.search(f"{config}/{point}")
    for config, factory, shared, fresh in plan(a.sc):
        shared = [p for p in shared if wanted(config, p)]
        fresh = [p for p in fresh if wanted(config, p)]
        if "conns-19000" in fresh and files < BIG_FILES:
            print(f"skipping {config}/conns-19000: the open-file limit is {files}, it needs {BIG_FILES}")
            fresh.remove("conns-19000")
        for point in shared + fresh:
            # Selected: the table shows the point even if its server never comes up.
            runner.results.setdefault((config, point), [])
        try:
            if shared:
                with factory(a.nice) as server:
                    print(f"{config}: pid {server.pid}, {server.url}", flush=True)
                    for point in shared:
                        runner.run(config, point, table_scenarios[point], server=server)
            for point in fresh:
                runner.run(config, point, table_scenarios[point], fresh=lambda: factory(a.nice))
        except RuntimeError as err:
            # A server that does not start or crashes: say why, go on with the next config.
            print(f"{config}: {err}", flush=True)

def main():
    a = options()
    # SIGTERM unwinds like Ctrl-C: every started server tree is stopped on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    files = raise_file_limit()
    if not a.skip_build:
        build()
    for path in (servers.SCGATE, servers.PING_WASM, scenarios.SCLOAD):
        if not os.path.exists(path):
            raise SystemExit(f"missing {path}: run without --skip-build (or bench/run.sh)")
    if a.sc:
        servers.ensure_sc14_installed()
    hold = scenarios.big_hold(scgate_ping_timeout_s())
    print(report.machine_info())
    print(f"scgate {report.git_revision(servers.REPO)}; {a.reps} run(s) of {a.duration:g} s after "
          f"{a.warmup:g} s warm-up per point; open files {files}; 19,000-connection hold {hold:g} s", flush=True)
    runner = scenarios.Runner(a.reps, a.nice, a.quiet_wait, a.out)
    interrupted = False
    try:
        measure(a, runner, scenarios.scenarios(a.duration, a.warmup, hold), files)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: the table holds the runs finished so far")
    print()
    print(report.machine_info())
    report.build(runner.results).print()
    if interrupted:
        sys.exit(130)


if __name__ == "__main__":
    main()
