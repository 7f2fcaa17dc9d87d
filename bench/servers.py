"""The servers under test: scgate and the SocketCluster 14 app, started on a free loopback port,
waited for, and stopped as a whole process tree (by PID) however the run ends."""
import os
import signal
import socket
import subprocess
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
SCGATE = os.environ.get("SCGATE", os.path.join(REPO, "target", "release", "scgate"))
PING_WASM = os.path.join(REPO, "plugins", "dist", "ping.wasm")
SC14 = os.path.join(BENCH, "sc14")

# Seconds a server may take to print its ready line: SocketCluster forks a broker, a worker
# cluster and its workers, which takes a few seconds on a busy machine.
READY_TIMEOUT = float(os.environ.get("BENCH_READY_TIMEOUT", "60"))
# Seconds after the ready line before the first run: lets start-up work (JIT warm-up, the
# workers' first allocations) finish outside the measurement.
SETTLE = 1.0
# Seconds between SIGTERM and SIGKILL when stopping a tree: scgate drains for up to its
# shutdown_grace_ms (5 s by default), SocketCluster exits at once.
STOP_GRACE = 10.0
# Seconds to wait for the port to close after the tree is gone.
PORT_CLOSE_WAIT = 15.0
# Seconds `npm ci` may take: a cold npm cache downloads about 80 packages.
NPM_TIMEOUT = 600


def free_port():
    """A port nobody listens on now; each server gets a new one, so TIME_WAIT sockets left by
    the previous run's clients never collide with the next run's."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def children(pid):
    """Direct children of `pid` (forked by any of its threads), from /proc."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(p) for p in f.read().split())
        except OSError:
            pass
    return found


def tree(root):
    """`root` and all its descendants, parents first."""
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack.extend(children(pid))
    return pids


def alive(pid):
    """Whether `pid` still runs: a zombie (exited, not yet reaped by its parent) does not."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The state follows the command name, which is in parentheses and may hold spaces.
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def kill_tree(root):
    """SIGTERM `root` and every descendant by PID, then SIGKILL what is left after STOP_GRACE."""
    pids = tree(root)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.time() + STOP_GRACE
    while time.time() < deadline and any(alive(p) for p in pids):
        time.sleep(0.2)
    for pid in [p for p in pids if alive(p)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class Server:
    """A server process tree: `with Server(...) as s:` starts it and waits until it is ready;
    leaving the block (normally, on an error or on Ctrl-C) stops the whole tree."""

    def __init__(self, name, cmd, cwd, env, ready, workers, nice):
        self.name, self.cmd, self.cwd, self.env = name, cmd, cwd, env
        self.ready, self.workers, self.nice = ready, workers, nice
        self.port = free_port()
        self.proc = None
        self.tmp = tempfile.TemporaryDirectory(prefix="scgate-bench-")
        self.log = os.path.join(self.tmp.name, "server.log")

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.port}/socketcluster/"

    @property
    def pid(self):
        return self.proc.pid

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self):
        env = dict(os.environ, PORT=str(self.port), **self.env)
        cmd = [c.replace("{port}", str(self.port)).replace("{tmp}", self.tmp.name) for c in self.cmd]
        with open(self.log, "w") as log:
            # Its own session: a Ctrl-C in the terminal reaches this script, which stops the
            # tree in order, instead of racing it.
            self.proc = subprocess.Popen(["nice", "-n", str(self.nice)] + cmd, cwd=self.cwd, env=env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + READY_TIMEOUT
        while time.time() < deadline:
            text = self.log_text()
            if self.ready in text and text.count("Worker PID") >= self.workers and port_open(self.port):
                time.sleep(SETTLE)
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{text[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {READY_TIMEOUT:.0f} s:\n{self.log_text()[-3000:]}")

    def check_running(self):
        """Raises if the server has exited (crashed) since it started."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def __exit__(self, *exc):
        # A second Ctrl-C (or SIGTERM) must not cut the stop short and leave the tree running.
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop(self):
        if self.proc is not None:
            kill_tree(self.proc.pid)
            try:
                self.proc.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                pass
            deadline = time.time() + PORT_CLOSE_WAIT
            while port_open(self.port) and time.time() < deadline:
                time.sleep(0.2)
        self.tmp.cleanup()


def scgate(workers, nice):
    """scgate serving the `ping` plugin alone (plugins_dir holds only ping.wasm), like
    SocketCluster's boilerplate with SC_PUBLISH=1: count, publish the count on `pong`, ack."""
    server = Server(f"scgate-w{workers}", [
        SCGATE, "serve", "--config", "{tmp}/scgate.toml", "--host", "127.0.0.1", "--port", "{port}",
        "--public-dir", "", "--workers", str(workers), "--admin-port", "0",
    ], cwd=REPO, env={}, ready="scgate READY", workers=0, nice=nice)
    plugins = os.path.join(server.tmp.name, "plugins")
    os.mkdir(plugins)
    os.symlink(PING_WASM, os.path.join(plugins, "ping.wasm"))
    with open(os.path.join(server.tmp.name, "scgate.toml"), "w") as f:
        f.write(f'plugins_dir = "{plugins}"\n'
                "# Nothing changes during a run: no watcher thread.\n"
                "plugins_watch = false\n\n"
                "[plugins.ping]\n"
                "# The Rust ping component imports WASI (its standard library).\n"
                "wasi = true\n")
    return server


def sc14(publish, nice):
    """The SocketCluster 14 framework app: master, one broker, one worker."""
    env = {"WORKERS": "1", "BROKERS": "1", "SC_PUBLISH": "1" if publish else "0"}
    name = "sc14-w1b1" + ("" if publish else "-nopub")
    return Server(name, ["node", "server.js"], cwd=SC14, env=env, ready="READY", workers=1, nice=nice)


def ensure_sc14_installed():
    """`npm ci` in bench/sc14 when its node_modules is missing."""
    if not os.path.isdir(os.path.join(SC14, "node_modules")):
        print("npm ci in bench/sc14", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=SC14, check=True, timeout=NPM_TIMEOUT)
