"""Scale-out check: Odoo with workers on a PostgreSQL primary and its hot standby.

    make replica-check        (tools/harness.sh replica-check: the virtualenv, then this script)

Builds under ``--dir`` (default /tmp/crm_replica_check) a primary cluster on loopback
(``--pg-port``, default 5440) and a hot standby streaming from it through a replication
slot (port + 1; ``hot_standby_feedback`` on, every statement logged), installs the module
with its demo data on the primary, starts ``odoo-bin --workers=2 --db_replica_host
--db_replica_port`` and, logged in over HTTP as the demo salesperson, calls every screen's
read method through ``/web/dataset/call_kw`` and through the module's JSON endpoint (an
API key of the same user), then writes (an opportunity created, then moved to another
stage). Each call is framed in both servers' statement logs by marker statements; the
check reads in each frame which server ran the request's queries (a read's queries carry a
marker of their own in their domain), and fails (exit 1) unless every read ran on the
standby and none on the primary, the writes ran on the primary only, the standby replayed
them, and Odoo's log shows no retry (serialization failures, read-only requests retried
on the primary, read-only cursors that fell back to the primary).

Needs PostgreSQL's server binaries (initdb, pg_ctl, pg_basebackup); as root, the clusters
run as the user ``postgres``. Not part of ``make test`` (it takes minutes and ports).
"""

import argparse
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import requests

ROOT = Path(__file__).resolve().parent.parent
MODULE = "crm_opportunity_management"
DB = "crm_replica_check"
SLOT = "crm_standby"
REPLICATOR = "crm_replicator"
APP_NAME = "replica_check"  # the checker's own connections, told apart from Odoo's ("odoo-<pid>")
ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[(\d+)\] (\S*) (\w+):  (.*)$")
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|TRUNCATE)\b", re.IGNORECASE)
RELOAD = re.compile(r"^\S+ \S+ (\d+) INFO \S+ odoo\.modules\.registry: Reloading the model registry", re.MULTILINE)
RETRIES = {
    "serialization retries": re.compile(r"tries left, try again in|maximum number of tries reached"),
    "read-only requests retried on the primary": re.compile(r"retrying with a read/write cursor"),
    "read-only cursors fallen back to the primary": re.compile(r"Failed to open a readonly cursor"),
}


def log(message):
    print(f"[replica-check] {message}", flush=True)


def server_bindir():
    """PostgreSQL's server binaries: Debian's newest /usr/lib/postgresql/<version>/bin, else
    the folder of the ``initdb`` on the PATH."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: int(path.parent.name))
    if versions:
        return versions[-1]
    if shutil.which("initdb"):
        return Path(shutil.which("initdb")).parent
    raise RuntimeError("PostgreSQL's server binaries (initdb, pg_ctl, pg_basebackup) are not installed")


class Clusters:
    """The primary and the standby: initdb, configuration, base backup, start / stop."""

    def __init__(self, base, port):
        self.base, self.port = base, port
        self.bindir = server_bindir()
        self.owner = "postgres" if os.geteuid() == 0 else None  # postgres refuses to run as root
        self.superuser = pwd.getpwuid(os.geteuid()).pw_name  # Odoo connects as the caller (not "postgres")
        self.dirs = {"primary": base / "primary", "standby": base / "standby"}
        self.ports = {"primary": port, "standby": port + 1}
        self.logs = {name: base / f"{name}.log" for name in self.dirs}

    def run(self, *command, **kwargs):
        command = [str(self.bindir / command[0]), *map(str, command[1:])]
        if self.owner:
            command = ["runuser", "-u", self.owner, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)

    def connect(self, name, dbname="postgres"):
        connection = psycopg2.connect(
            host="127.0.0.1", port=self.ports[name], dbname=dbname, user=self.superuser, application_name=APP_NAME
        )
        connection.autocommit = True
        return connection

    def query(self, name, sql, params=None, dbname="postgres"):
        connection = self.connect(name, dbname)
        try:
            with connection.cursor() as cr:
                cr.execute(sql, params)
                return cr.fetchall() if cr.description else None
        finally:
            connection.close()

    def build(self):
        self.base.mkdir(parents=True)
        if self.owner:
            shutil.chown(self.base, self.owner)
        primary, standby = self.dirs["primary"], self.dirs["standby"]
        self.run("initdb", "-D", primary, "-A", "trust", "-U", self.superuser, "--no-sync")
        self.configure(
            "primary",
            {
                "wal_level": "replica",
                "max_wal_senders": 4,
                "max_replication_slots": 4,
                "max_connections": 100,
                "fsync": "off",  # a throwaway cluster: no waiting for the disk
            },
        )
        self.start("primary")
        self.query("primary", f"CREATE ROLE {REPLICATOR} WITH REPLICATION LOGIN")
        self.query("primary", "SELECT pg_create_physical_replication_slot(%s)", [SLOT])
        # -R: standby.signal, primary_conninfo and primary_slot_name written for the standby
        self.run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            self.ports["primary"],
            "-U",
            REPLICATOR,
            "-D",
            standby,
            "-R",
            "-S",
            SLOT,
            "-X",
            "stream",
            "--no-sync",
        )
        self.configure(
            "standby",
            {
                "hot_standby": "on",
                "hot_standby_feedback": "on",  # the primary keeps the rows the standby's reads still see
                "max_standby_streaming_delay": "30s",
                "max_connections": 100,  # at least the primary's
                "log_statement": "all",
            },
        )
        self.start("standby")

    def configure(self, name, settings):
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": self.ports[name],
            "unix_socket_directories": str(self.base),
            "log_line_prefix": "%m [%p] %a ",  # time, process, application: what StatementLog reads
            **settings,
        }
        lines = [
            f"{key} = {value}" if isinstance(value, int) else f"{key} = '{value}'" for key, value in settings.items()
        ]
        conf = self.dirs[name] / "postgresql.conf"
        conf.write_text(conf.read_text() + "\n# replica check\n" + "\n".join(lines) + "\n")

    def start(self, only=None):
        for name in [only] if only else ("primary", "standby"):
            self.run("pg_ctl", "-D", self.dirs[name], "-l", self.logs[name], "-w", "start")

    def stop(self):
        for name in ("standby", "primary"):
            if (self.dirs[name] / "postmaster.pid").exists():
                self.run("pg_ctl", "-D", self.dirs[name], "-m", "fast", "-w", "stop")

    def wait_replayed(self, timeout=120):
        """Until the standby has replayed what the primary has written so far."""
        [(lsn,)] = self.query("primary", "SELECT pg_current_wal_lsn()")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            [(behind,)] = self.query("standby", "SELECT pg_wal_lsn_diff(%s, pg_last_wal_replay_lsn()) > 0", [lsn])
            if not behind:
                return
            time.sleep(0.5)
        raise RuntimeError(f"the standby did not replay up to {lsn} in {timeout} s")

    def replication_state(self):
        [(recovery,)] = self.query("standby", "SELECT pg_is_in_recovery()")
        streaming = self.query("primary", "SELECT state FROM pg_stat_replication")
        slots = self.query("primary", "SELECT slot_name, active FROM pg_replication_slots")
        [(feedback,)] = self.query("standby", "SHOW hot_standby_feedback")
        return {
            "standby in recovery": recovery,
            "walsenders": streaming,
            "slots": slots,
            "hot_standby_feedback": feedback,
        }


class StatementLog:
    """A server's log from an offset: entries ``(pid, application, level, text)``, the
    continuation lines of a statement joined to it."""

    def __init__(self, path):
        self.path, self.offset = path, 0

    def mark(self):
        self.offset = self.path.stat().st_size

    def entries(self):
        with self.path.open(encoding="utf-8", errors="replace") as file:
            file.seek(self.offset)
            lines = file.read().splitlines()
        entries = []
        for line in lines:
            match = ENTRY.match(line)
            if match:
                entries.append(list(match.groups()))
            elif entries:
                entries[-1][3] += "\n" + line
        return entries


def frames(entries, labels):
    """``{label: [(application, text) of the statements between the label's begin and end
    markers]}``."""
    result, current = {label: [] for label in labels}, None
    for _pid, application, level, text in entries:
        if application == APP_NAME:
            found = re.search(r"replica-check (begin|end) ([^\s']+)", text)
            if found:
                current = found.group(2) if found.group(1) == "begin" else None
            continue
        if current and level == "LOG" and text.startswith("statement: "):
            result[current].append((application, text[len("statement: ") :]))
    return result


class Client:
    """The web client's calls (a session) and an integrator's (an API key) over HTTP."""

    def __init__(self, url):
        self.url, self.session = url, requests.Session()

    def login(self, login, password):
        response = self.session.post(
            f"{self.url}/web/session/authenticate",
            timeout=60,
            json={"jsonrpc": "2.0", "method": "call", "params": {"db": DB, "login": login, "password": password}},
        )
        response.raise_for_status()
        if not response.json().get("result", {}).get("uid"):
            raise RuntimeError(f"login as {login} failed: {response.text[:300]}")

    def call_kw(self, model, method, args, kwargs=None):
        response = self.session.post(
            f"{self.url}/web/dataset/call_kw/{model}/{method}",
            timeout=300,
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
            },
        )
        response.raise_for_status()
        answer = response.json()
        if "error" in answer:
            raise RuntimeError(f"{model}.{method}: {answer['error']['data']['message']}")
        return answer["result"]

    def api(self, key, method, body):
        response = requests.post(
            f"{self.url}/{MODULE}/api/{method}", json=body, timeout=300, headers={"Authorization": f"Bearer {key}"}
        )
        if response.status_code != 200:
            raise RuntimeError(f"JSON endpoint {method}: {response.status_code} {response.text[:300]}")
        return response.json()


def read_calls(nonce):
    """``[(label, method, kwargs, marker)]``: every screen's read, each domain holding a
    condition that names the call (no record has that name): the call's own queries carry
    it in the statement log."""
    calls = []
    for kind in ("progress", "stages", "invoicing"):
        calls.append((f"get_board:{kind}", "get_board", {"kind": kind}))
    calls += [
        (method, method, {}) for method in ("get_map_data", "get_forecast", "get_pipeline_flow", "get_pipeline_trend")
    ]
    result = []
    for label, method, kwargs in calls:
        marker = f"rc-{nonce}-{label.replace(':', '-').replace('_', '-')}"
        result.append((label, method, {**kwargs, "domain": [["name", "!=", marker]]}, re.escape(marker)))
    result.append(("get_map_settings", "get_map_settings", {}, None))  # no domain: its queries, if any
    return result


def odoo_command(args, *options, subcommand=()):
    """odoo-bin (``subcommand``: e.g. ``("shell",)``) on the primary, with ``options``."""
    return [
        sys.executable,
        str(Path(args.odoo_src) / "odoo-bin"),
        *subcommand,
        f"--addons-path={args.addons_path}",
        f"--data-dir={args.dir / 'data'}",
        "-d",
        DB,
        "--db_host=127.0.0.1",
        f"--db_port={args.pg_port}",
        *options,
    ]


def wait_http(url, process, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("Odoo stopped while starting")
        try:
            # the first answer takes long: the login page's assets are built then
            if requests.get(f"{url}/web/login", timeout=120).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise RuntimeError(f"Odoo did not answer on {url} in {timeout} s")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/crm_replica_check"))
    parser.add_argument("--pg-port", type=int, default=5440, help="the primary's; the standby's is the next one")
    parser.add_argument("--http-port", type=int, default=8640)
    parser.add_argument("--gevent-port", type=int, default=8641)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--odoo-src", default=os.environ.get("ODOO_SRC", "/opt/odoo"))
    parser.add_argument(
        "--addons-path",
        default=os.environ.get("ADDONS_PATH"),
        help="Odoo's addons and a folder holding the module (tools/harness.sh gives it)",
    )
    parser.add_argument("--keep", action="store_true", help="leave the clusters' folder (stopped) for a look")
    parser.add_argument(
        "--without-replica",
        action="store_true",
        help="a control run: Odoo without the replica options, which the check must fail",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="start the clusters and database a previous run left (--keep) instead of building them",
    )
    args = parser.parse_args()
    if not args.addons_path:
        parser.error("--addons-path (or ADDONS_PATH) is needed: Odoo's addons and a folder holding the module")
    return args


def main():
    args = parse_args()
    key_file = args.dir / "api_key"  # written once the database is ready: a run to --reuse
    reuse = args.reuse and key_file.exists()
    if args.dir.exists() and not reuse:
        log(f"removing the previous run's {args.dir}")
        shutil.rmtree(args.dir)
    clusters = Clusters(args.dir, args.pg_port)
    odoo = None
    started = time.monotonic()
    try:
        log(f"primary on 127.0.0.1:{args.pg_port}, hot standby on :{args.pg_port + 1} ({SLOT} slot), in {args.dir}")
        if reuse:
            clusters.start()
        else:
            clusters.build()
            log(f"installing {MODULE} with its demo data on the primary (a few minutes)")
            subprocess.run(
                odoo_command(
                    args,
                    "-i",
                    MODULE,
                    "--without-demo=",
                    "--stop-after-init",
                    "--log-level=warn",
                    f"--logfile={args.dir / 'install.log'}",
                ),
                check=True,
            )
            key_file.write_text(create_api_key(args))
        key = key_file.read_text()
        clusters.wait_replayed()
        state = clusters.replication_state()
        log(f"replication: {state}")
        # from here on, the primary logs every statement too
        clusters.query("primary", "ALTER SYSTEM SET log_statement = 'all'")
        clusters.query("primary", "SELECT pg_reload_conf()")
        url = f"http://127.0.0.1:{args.http_port}"
        odoo_log = args.dir / "odoo.log"
        odoo_offset = odoo_log.stat().st_size if odoo_log.exists() else 0  # --reuse: Odoo appends
        odoo_output = (args.dir / "odoo.stderr").open("w")  # what Odoo prints before its log is set up
        replica = (
            [] if args.without_replica else ["--db_replica_host=127.0.0.1", f"--db_replica_port={args.pg_port + 1}"]
        )
        # -d without --db-filter: the database of a request without a session (the JSON
        # endpoint's) is known without listing the databases on the primary
        odoo = subprocess.Popen(
            stdout=odoo_output,
            stderr=subprocess.STDOUT,
            args=odoo_command(
                args,
                f"--workers={args.workers}",
                "--max-cron-threads=0",
                *replica,  # no cron: nothing else logged
                f"--http-port={args.http_port}",
                f"--gevent-port={args.gevent_port}",
                "--http-interface=127.0.0.1",
                "--log-level=info",
                f"--logfile={odoo_log}",
            ),
        )
        log(f"Odoo: {args.workers} workers, " + (" ".join(replica) if replica else "no replica (control run)"))
        wait_http(url, odoo)
        client = Client(url)
        reloads = warm_up(client, odoo_log, odoo_offset, args.workers)
        log(f"registry reloads after the standby's signaling, one per worker at its first request: {reloads}")
        ok = exercise(clusters, client, key, odoo_log)
    finally:
        if odoo is not None and odoo.poll() is None:
            odoo.send_signal(signal.SIGTERM)
            try:
                odoo.wait(timeout=60)
            except subprocess.TimeoutExpired:
                odoo.kill()
        clusters.stop()
        if not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)
    log(f"{'PASSED' if ok else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return 0 if ok else 1


def create_api_key(args):
    """An API key of the demo salesperson, made as a user makes one (with an expiry)."""
    script = (
        "from datetime import timedelta\n"
        "from odoo import fields\n"
        "user = env.ref('base.user_demo')\n"
        "key = env['res.users.apikeys'].with_user(user)._generate(None, 'replica check', "
        "fields.Datetime.now() + timedelta(hours=12))\n"
        "env.cr.commit()\n"
        "print('API-KEY', key)\n"
    )
    output = subprocess.run(
        odoo_command(args, "--log-level=warn", "--no-http", subcommand=("shell",)),
        input=script,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return re.search(r"^API-KEY (\S+)$", output, re.MULTILINE).group(1)


def warm_up(client, odoo_log, offset, workers, rounds=20):
    """Requests until every worker has reloaded its registry: a worker checks Odoo's
    signaling sequences on the standby, where PostgreSQL shows them ahead of the primary's
    (it WAL-logs a sequence 32 values ahead), so at its first request it reloads its
    registry, on the primary (Odoo 18 without odoo/odoo#190407). Not a read of the screens,
    but it would land in the first frames. The number of reloads seen."""

    def ping(_index):
        requests.post(f"{client.url}/web/webclient/version_info", json={"params": {}}, timeout=120)

    pids = set()
    for _round in range(rounds):
        with ThreadPoolExecutor(workers * 2) as pool:
            list(pool.map(ping, range(workers * 2)))
        with odoo_log.open(encoding="utf-8", errors="replace") as file:
            file.seek(offset)
            pids = set(RELOAD.findall(file.read()))
        if len(pids) >= workers:
            break
    return len(pids)


def exercise(clusters, client, key, odoo_log):
    """The calls, each framed by markers in both statement logs, then the table and the
    verdict."""
    nonce = uuid.uuid4().hex[:8]
    logs = {name: StatementLog(path) for name, path in clusters.logs.items()}
    odoo_offset = odoo_log.stat().st_size if odoo_log.exists() else 0
    client.login("demo", "demo")
    [uid] = client.call_kw("res.users", "search", [[["login", "=", "demo"]]])
    for entry in logs.values():
        entry.mark()

    def framed(label, call):
        for name in logs:
            clusters.query(name, "SELECT %s", [f"replica-check begin {label}"])
        try:
            return call()
        finally:
            for name in logs:
                clusters.query(name, "SELECT %s", [f"replica-check end {label}"])

    rows = []  # (label, path, kind, marker)
    for route in ("call_kw", "json"):
        for label, method, kwargs, marker in read_calls(nonce):
            label = f"{route}:{label}"
            if route == "call_kw":
                framed(label, lambda m=method, k=kwargs: client.call_kw("crm.lead", m, [], k))
            else:
                framed(label, lambda m=method, k=kwargs: client.api(key, m, k))
            rows.append((label, route, "read", marker))
    # the writes: an opportunity created, then moved to a stage its workflow allows
    name = f"rc-{nonce}-write"
    lead_id = framed(
        "call_kw:create",
        lambda: client.call_kw("crm.lead", "create", [{"name": name, "type": "opportunity", "user_id": uid}]),
    )
    rows.append(("call_kw:create", "call_kw", "write", rf'INSERT INTO "crm_lead" .*{re.escape(name)}'))
    [lead] = client.call_kw("crm.lead", "read", [[lead_id], ["stage_id", "allowed_stage_ids"]])
    stages = client.call_kw(
        "crm.stage",
        "search_read",
        [[["id", "in", lead["allowed_stage_ids"]]]],
        {"fields": ["required_field_ids", "is_won"], "order": "sequence, id"},
    )
    target = next(
        stage["id"]
        for stage in stages
        if stage["id"] != lead["stage_id"][0] and not stage["required_field_ids"] and not stage["is_won"]
    )
    framed("call_kw:write-stage", lambda: client.call_kw("crm.lead", "write", [[lead_id], {"stage_id": target}]))
    rows.append(("call_kw:write-stage", "call_kw", "write", r'UPDATE "crm_lead"\s+SET [^;]*"stage_id"'))
    clusters.wait_replayed()
    [(replayed,)] = clusters.query("standby", "SELECT stage_id FROM crm_lead WHERE id = %s", [lead_id], dbname=DB)
    facts = {
        "lead_id": lead_id,
        "replayed": replayed == target,
        "connections": {
            name: clusters.query(name, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'odoo-%%'")[
                0
            ][0]
            for name in logs
        },
    }
    return verdict(rows, logs, odoo_log, odoo_offset, facts)


def verdict(rows, logs, odoo_log, odoo_offset, facts):
    """The table and the other figures printed; true when nothing failed."""
    entries = {name: entry.entries() for name, entry in logs.items()}
    labels = [row[0] for row in rows]
    framed = {name: frames(entries[name], labels) for name in entries}
    failures = []
    header = f"{'call':34} {'kind':5} {'standby':>8} {'primary':>8} {'marked on standby':>18} {'marked on primary':>18}"
    print(
        "\nOdoo's statements in each server's log during each call; marked: the call's own queries (its domain's"
        "\nmarker) for a read, the INSERT / UPDATE of crm_lead for a write\n"
    )
    print(header + "\n" + "-" * len(header))
    served = {"standby": 0, "primary": 0}
    for label, _route, kind, marker in rows:
        standby, primary = framed["standby"][label], framed["primary"][label]
        marked = {
            name: sum(1 for _app, text in framed[name][label] if marker and re.search(marker, text, re.S))
            for name in ("standby", "primary")
        }
        standby_writes = [text for _app, text in standby if WRITE.match(text)]
        print(
            f"{label:34} {kind:5} {len(standby):8} {len(primary):8} "
            f"{marked['standby'] if marker else '-':>18} {marked['primary'] if marker else '-':>18}"
        )
        if standby_writes:
            failures.append(f"{label}: the standby was sent a write: {standby_writes[0][:200]}")
        if kind == "read":
            if primary:
                failures.append(f"{label}: {len(primary)} statements on the primary, e.g. {primary[0][1][:200]}")
            if not standby:
                failures.append(f"{label}: no statement on the standby")
            if marker and not marked["standby"]:
                failures.append(f"{label}: its own queries (the marker of its domain) are not in the standby's log")
            served["standby" if standby and not primary else "primary"] += 1
        elif not marked["primary"]:
            failures.append(f"{label}: the write is not in the primary's log")
    standby_errors = [text for _pid, _app, level, text in entries["standby"] if level in ("ERROR", "FATAL")]
    with odoo_log.open(encoding="utf-8", errors="replace") as file:
        file.seek(odoo_offset)
        odoo_text = file.read()
    retries = {name: len(pattern.findall(odoo_text)) for name, pattern in RETRIES.items()}
    odoo_errors = [line for line in odoo_text.splitlines() if re.search(r" (ERROR|CRITICAL) ", line)]
    print("-" * len(header))
    reads = sum(1 for row in rows if row[2] == "read")
    print(f"read calls served by the standby: {served['standby']} of {reads}; by the primary: {served['primary']}")
    for name, count in retries.items():
        print(f"{name}: {count}")
        if count:
            failures.append(f"{name}: {count}")
    print(f"errors in the standby's log: {len(standby_errors)}; in Odoo's log: {len(odoo_errors)}")
    print(
        f"the standby replayed the stage change of opportunity {facts['lead_id']}: "
        f"{'yes' if facts['replayed'] else 'no'}"
    )
    print(
        "Odoo's connections open at the end: "
        + ", ".join(f"{n} on the {name}" for name, n in facts["connections"].items())
    )
    failures += [f"standby log: {text[:200]}" for text in standby_errors[:5]]
    failures += [f"Odoo log: {line[:200]}" for line in odoo_errors[:5]]
    if not facts["replayed"]:
        failures.append("the standby did not replay the stage change")
    for failure in failures:
        log(f"FAIL {failure}")
    return not failures


if __name__ == "__main__":
    sys.exit(main())
