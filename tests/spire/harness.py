#!/usr/bin/env python3
"""A real SPIRE server and agent on loopback for the workload-identity tests.

`Spire(workdir).start()` writes the configs, starts spire-server (trust domain example.org,
in-memory keys, SQLite, join-token node attestation, bound to 127.0.0.1 on a free port), makes a
join token, starts spire-agent (keys on disk, so a restarted agent re-attests with its stored
SVID as the single-use join token cannot be reused; unix workload attestor, Workload API socket in `workdir`), and
registers the calling user's workloads with `spire-server entry create` (selector `unix:uid:<uid>`,
X.509-SVID TTL `x509_ttl` seconds, so rotation is seen within a test). `stop_agent()` and
`start_agent()` take the agent down and up again (agent down later); `stop()` ends both by PID.

The binaries come from tests/spire/build.sh (built once from the Go module proxy, cached under
target/spire/bin). Used by the Python binding's tests; also a CLI for the other bindings:

    python3 tests/spire/harness.py up DIR     # prints {"socket": ..., "spiffe_id": ..., ...}
    python3 tests/spire/harness.py down DIR   # stops what `up` started (PIDs in DIR)
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TRUST_DOMAIN = "example.org"
NODE_ID = "spiffe://example.org/host/test-node"
WORKLOAD_ID = "spiffe://example.org/ns/test/sa/mcp-server"


def build():
    """The directory holding spire-server and spire-agent (building them on first use)."""
    out = subprocess.run(["bash", os.path.join(HERE, "build.sh")], check=True,
                         stdout=subprocess.PIPE, text=True)
    return out.stdout.strip().splitlines()[-1]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Spire:
    def __init__(self, workdir, x509_ttl=30, jwt_ttl=300):
        self.dir = os.path.abspath(workdir)
        self.bin = build()
        self.port = free_port()
        self.x509_ttl = x509_ttl
        self.jwt_ttl = jwt_ttl
        self.server = None
        self.agent = None
        self.join_token = None
        self.server_socket = os.path.join(self.dir, "server.sock")
        self.socket = os.path.join(self.dir, "agent.sock")
        self.endpoint = "unix://" + self.socket
        self.spiffe_id = WORKLOAD_ID
        self.trust_domain = TRUST_DOMAIN

    # -- configuration ---------------------------------------------------------------------
    def _write_configs(self):
        os.makedirs(os.path.join(self.dir, "server-data"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "agent-data"), exist_ok=True)
        with open(os.path.join(self.dir, "server.conf"), "w") as f:
            f.write(f'''server {{
  bind_address = "127.0.0.1"
  bind_port = "{self.port}"
  socket_path = "{self.server_socket}"
  trust_domain = "{TRUST_DOMAIN}"
  data_dir = "{self.dir}/server-data"
  log_level = "WARN"
  ca_ttl = "2h"
  default_x509_svid_ttl = "1h"
  default_jwt_svid_ttl = "5m"
}}
plugins {{
  DataStore "sql" {{
    plugin_data {{
      database_type = "sqlite3"
      connection_string = "{self.dir}/server-data/datastore.sqlite3"
    }}
  }}
  NodeAttestor "join_token" {{
    plugin_data {{}}
  }}
  KeyManager "memory" {{
    plugin_data {{}}
  }}
}}
''')
        with open(os.path.join(self.dir, "agent.conf"), "w") as f:
            f.write(f'''agent {{
  data_dir = "{self.dir}/agent-data"
  log_level = "WARN"
  server_address = "127.0.0.1"
  server_port = "{self.port}"
  socket_path = "{self.socket}"
  trust_domain = "{TRUST_DOMAIN}"
  insecure_bootstrap = true
}}
plugins {{
  NodeAttestor "join_token" {{
    plugin_data {{}}
  }}
  KeyManager "disk" {{
    plugin_data {{
      directory = "{self.dir}/agent-data"
    }}
  }}
  WorkloadAttestor "unix" {{
    plugin_data {{}}
  }}
}}
''')

    def _run(self, *args):
        return subprocess.run([os.path.join(self.bin, "spire-server"), *args,
                               "-socketPath", self.server_socket],
                              check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=30).stdout

    def _log(self, name):
        return open(os.path.join(self.dir, name + ".log"), "a")

    def _wait(self, what, ok, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if ok():
                return
            time.sleep(0.2)
        raise RuntimeError(f"SPIRE: {what} not ready in {timeout} s (logs in {self.dir})")

    def _healthy(self, binary, sock):
        r = subprocess.run([os.path.join(self.bin, binary), "healthcheck", "-socketPath", sock],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        return r.returncode == 0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self):
        self._write_configs()
        self.server = subprocess.Popen(
            [os.path.join(self.bin, "spire-server"), "run", "-config",
             os.path.join(self.dir, "server.conf")],
            stdin=subprocess.DEVNULL, stdout=self._log("server"), stderr=subprocess.STDOUT)
        self._wait("spire-server", lambda: self._healthy("spire-server", self.server_socket))
        out = self._run("token", "generate", "-spiffeID", NODE_ID, "-ttl", "600")
        self.join_token = out.strip().split()[-1]
        self._run("entry", "create", "-parentID", NODE_ID, "-spiffeID", WORKLOAD_ID,
                  "-selector", f"unix:uid:{os.getuid()}",
                  "-x509SVIDTTL", str(self.x509_ttl), "-jwtSVIDTTL", str(self.jwt_ttl))
        self.start_agent(first=True)
        self._pids()
        return self

    def start_agent(self, first=False):
        args = [os.path.join(self.bin, "spire-agent"), "run", "-config",
                os.path.join(self.dir, "agent.conf")]
        if first:
            args += ["-joinToken", self.join_token]
        self.agent = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                      stdout=self._log("agent"), stderr=subprocess.STDOUT)
        self._wait("spire-agent", lambda: self._healthy("spire-agent", self.socket))
        # The entry reaches the agent on its next sync: wait until this uid gets an SVID.
        self._wait("the registration entry at the agent", self._fetches)
        self._pids()

    def _fetches(self):
        r = subprocess.run([os.path.join(self.bin, "spire-agent"), "api", "fetch", "x509",
                            "-socketPath", self.socket, "-timeout", "2s"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           timeout=10)
        return r.returncode == 0 and WORKLOAD_ID in r.stdout

    def stop_agent(self):
        if self.agent is not None:
            self.agent.send_signal(signal.SIGTERM)
            try:
                self.agent.wait(10)
            except subprocess.TimeoutExpired:
                self.agent.kill()
                self.agent.wait()
            self.agent = None
        self._pids()

    def stop(self):
        self.stop_agent()
        if self.server is not None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(10)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
            self.server = None
        self._pids()

    def _pids(self):
        pids = [p.pid for p in (self.server, self.agent) if p is not None]
        with open(os.path.join(self.dir, "pids"), "w") as f:
            f.write(" ".join(map(str, pids)))

    def info(self):
        return {"socket": self.socket, "endpoint": self.endpoint, "spiffe_id": self.spiffe_id,
                "trust_domain": TRUST_DOMAIN, "x509_ttl": self.x509_ttl, "dir": self.dir,
                "bin": self.bin}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("up", "down"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    workdir = sys.argv[2]
    if sys.argv[1] == "up":
        os.makedirs(workdir, exist_ok=True)
        s = Spire(workdir).start()
        # The processes outlive this CLI: `down` stops them by the PIDs recorded in DIR.
        s.server = s.agent = None
        print(json.dumps(s.info()))
    else:
        try:
            pids = open(os.path.join(workdir, "pids")).read().split()
        except FileNotFoundError:
            pids = []
        for p in pids:
            try:
                os.kill(int(p), signal.SIGTERM)
            except ProcessLookupError:
                pass


if __name__ == "__main__":
    main()
