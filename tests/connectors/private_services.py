"""Private PostgreSQL and Mosquitto on free loopback ports, for tests that stop and restart them.

The shared services (5432, 1883) are used by other test sessions at the same time, so a test that
restarts a service starts its own instance and never touches the shared one.
"""

from __future__ import annotations

import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"
# below Linux's ephemeral range (32768-60999), so that no outgoing connection takes the port
# while a service is down between its stop and its restart
PORTS = range(21000, 30000)


def free_port() -> int:
    """A loopback TCP port nobody listens on, outside the ephemeral range."""
    start = random.randrange(PORTS.start, PORTS.stop)
    for offset in range(len(PORTS)):
        port = PORTS.start + (start - PORTS.start + offset) % len(PORTS)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port")


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class PrivatePostgres:
    """A throw-away PostgreSQL 15 cluster: trust auth, 127.0.0.1 only, plain (no TimescaleDB)."""

    def __init__(self, port: int, user: str = "dusttwin") -> None:
        self.port = port
        self.user = user
        # initdb refuses to run as root: then the server runs as ``postgres``, in a directory of
        # its own (pytest's tmp_path is private to root)
        self.os_user = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="dusttwin-pg-"))
        if self.os_user is not None:
            entry = pwd.getpwnam(self.os_user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "server.log"

    @property
    def dsn(self) -> str:
        """The libpq URI of its ``postgres`` database."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        run = subprocess.run(
            args, user=self.os_user, capture_output=True, text=True, timeout=timeout, check=False
        )
        if run.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{run.stdout}{run.stderr}")

    def init(self) -> None:
        """Create the cluster (fsync off: a test cluster, and the OS never crashes under it)."""
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c fsync=off -c full_page_writes=off"
        )
        pg_ctl = str(PG_BIN / "pg_ctl")
        self._run(pg_ctl, "start", "-w", "-D", str(self.data), "-l", str(self.log), "-o", options)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: clients are disconnected; ``immediate``: a crash)."""
        self._run(str(PG_BIN / "pg_ctl"), "stop", "-w", "-m", mode, "-D", str(self.data))

    def destroy(self, keep_log_in: Path | None = None) -> None:
        """Stop it whatever its state and remove the cluster (keeping the server log)."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [str(PG_BIN / "pg_ctl"), "stop", "-w", "-m", "immediate", "-D", str(self.data)],
                user=self.os_user,
                capture_output=True,
                timeout=60,
                check=False,
            )
        if keep_log_in is not None and self.log.exists():
            shutil.copy(self.log, keep_log_in / "postgres.log")
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateMosquitto:
    """A Mosquitto of its own: 127.0.0.1 only, one password-file account, persistence on."""

    def __init__(self, root: Path, port: int, username: str, password: str) -> None:
        self.root = root
        self.port = port
        self.username = username
        self.password = password
        self.conf = root / "mosquitto.conf"
        self.log = root / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def configure(self) -> None:
        """Write the password file and the configuration."""
        self.root.mkdir(parents=True, exist_ok=True)
        passwords = self.root / "passwords"
        subprocess.run(
            [MOSQUITTO_PASSWD, "-b", "-c", str(passwords), self.username, self.password],
            check=True,
            capture_output=True,
            timeout=30,
        )
        os.chmod(passwords, 0o600)
        lines = [
            # as root it would switch to ``mosquitto``, which cannot write into pytest's tmp_path
            "user root" if os.geteuid() == 0 else "",
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous false",
            f"password_file {passwords}",
            # keeps the connector's session and its QoS-1 messages over a restart (written when
            # the broker exits on SIGTERM)
            "persistence true",
            f"persistence_location {self.root}/",
            "persistence_file mosquitto.db",
            f"log_dest file {self.log}",
            "log_type all",
            # as the shared broker (deploy/local/services.sh): many in flight, keep what is queued
            "max_inflight_messages 1000",
            "max_queued_messages 1000000",
        ]
        self.conf.write_text("\n".join(line for line in lines if line) + "\n")

    def start(self) -> None:
        """Start the broker (in the foreground of a child process) and wait for its listener."""
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while not _accepts(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"mosquitto is not listening on 127.0.0.1:{self.port}; its log:\n"
                    + self.log_text()[-2000:]
                )
            time.sleep(0.05)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop the broker with ``sig`` and wait for it to exit."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)

    def log_text(self) -> str:
        """What the broker logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


DYNSEC_PLUGINS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib")
PLATFORM_ROLE_ACLS = (
    ("subscribePattern", "dust/#"),
    ("publishClientSend", "dust/#"),
    ("publishClientReceive", "dust/#"),
    ("subscribePattern", "$share/+/dust/#"),
)


class PrivateDynsecMosquitto(PrivateMosquitto):
    """A Mosquitto of its own set up as deploy/local/services.sh sets up the shared one: the
    dynamic-security plugin, its admin with the platform's role, so that the platform issues and
    revokes gateway accounts on it exactly as in production — without touching the shared
    broker's accounts, which other test sessions (and a running demo) use."""

    def configure(self) -> None:
        """Create the plugin's configuration with the admin, and the broker's configuration."""
        self.root.mkdir(parents=True, exist_ok=True)
        dynsec = self.root / "dynsec.json"
        dynsec.unlink(missing_ok=True)
        subprocess.run(
            ["mosquitto_ctrl", "dynsec", "init", str(dynsec), self.username, self.password],
            check=True,
            capture_output=True,
            timeout=30,
        )
        plugin = next(
            str(Path(d) / "mosquitto_dynamic_security.so")
            for d in DYNSEC_PLUGINS
            if (Path(d) / "mosquitto_dynamic_security.so").exists()
        )
        lines = [
            "user root" if os.geteuid() == 0 else "",
            "per_listener_settings false",
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous false",
            f"plugin {plugin}",
            f"plugin_opt_config_file {dynsec}",
            "persistence false",
            f"log_dest file {self.log}",
            "max_inflight_messages 1000",
            "max_queued_messages 1000000",
        ]
        self.conf.write_text("\n".join(line for line in lines if line) + "\n")

    def start(self) -> None:
        """Start the broker, then give its admin the platform's role (dust/# and shares)."""
        super().start()
        role = "dusttwin-platform"
        self._ctrl("createRole", role)
        for acl_type, topic in PLATFORM_ROLE_ACLS:
            self._ctrl("addRoleACL", role, acl_type, topic, "allow")
        self._ctrl("addClientRole", self.username, role)

    def _ctrl(self, *args: str) -> None:
        run = subprocess.run(
            [
                "mosquitto_ctrl",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-u",
                self.username,
                "-P",
                self.password,
                "dynsec",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        reply = "\n".join(  # without the warning about the plaintext loopback connection
            line
            for line in (run.stdout + run.stderr).splitlines()
            if "without encryption" not in line and "visible on the network" not in line
        )
        if run.returncode != 0 or (reply.strip() and "already exists" not in reply):
            raise RuntimeError(f"mosquitto_ctrl dynsec {' '.join(args)}: {reply.strip()}")
