"""Load and faults, measured: a multi-worker Odoo under simulated users, PostgreSQL restarted
and a worker killed mid-request, then the invariants, then ``-u`` twice; one table printed.

    tools/load_check.py --addons-path=... [--users 8] [--workers 4] [--duration 60]
                        [--opportunities 3000] [--pg-dir /tmp/crm_om_load_pg] [--pg-port 5450]

Everything runs on the loopback, against a PostgreSQL cluster of its own (``--pg-dir``,
created with ``initdb`` when missing, run as the ``postgres`` user when started by root)
so that restarting it disturbs nobody:

1. a template database with the module, its demo data, ``--users`` salespeople and
   ``--opportunities`` opportunities with detail lines created through the ORM, built once
   and kept while the module's code is unchanged (``bench_common.code_key``); each run works
   on a fresh copy;
2. ``odoo-bin --workers=N``; each simulated user logs in (``/web/session/authenticate``)
   and calls ``/web/dataset/call_kw`` for ``--duration`` seconds: the progress and stages
   boards, the map, the forecast, an opportunity's form, moving its own opportunities
   to another stage (as a salesperson on the stages board), adding detail lines to any
   opportunity (a third of them to the same 10, so that writes collide) and editing the
   lines it added; the clock starts once all users are logged in; a user pauses
   ``--think`` seconds on average between calls, half a second more after an error;
3. at a third of the run PostgreSQL is restarted, at two thirds the worker serving a
   write of a few hundred opportunities (stage and a new line each) is killed with SIGKILL
   mid-request; for each, the time until the server answers again;
4. the server's log gives the serialization failures Odoo retried (counted apart from the
   errors the users saw), by call kind;
5. invariants, in SQL on the database: each opportunity's workflow log is a chain (each row
   leaves the stage the previous one entered, the last one enters the current stage) with
   one row per stage change the users were told was done (and at most one per change whose
   answer was lost); amounts equal the sums of their lines; every line a user was told was
   created exists with the last amount acknowledged; the killed write is all or nothing;
   the last row of each opportunity's pipeline history holds its stage and amounts;
6. an administrator changes settings and edits an automated action over HTTP, then
   ``-u crm_opportunity_management`` runs twice: data, settings and the edited rule are kept.

The exit code is 1 when an invariant or a check fails.
"""

import argparse
import getpass
import http.client
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from bench_common import code_key, free_port, start_server, stop_server  # bench/ is put on the path above

MODULE = "crm_opportunity_management"
HOT = 10  # opportunities that a third of the new lines go to (so that writes collide)
HOT_SHARE = 1 / 3
KILL_BATCH = 300  # opportunities of the write whose worker is killed
# Call kinds of a simulated user, with their weights in the mix (a stage change reads the form first).
MIX = {
    "progress board": 10,
    "stages board": 10,
    "map": 8,
    "forecast": 4,
    "stage change": 20,
    "line create": 15,
    "line write": 12,
}
KINDS = ("progress board", "stages board", "map", "forecast", "form", "stage change", "line create", "line write")
# Retried requests in the server's log: the (model, method) of a call_kw to its kind.
WRITE_KINDS = {
    ("crm.lead", "write"): "stage change",
    ("crm.lead.line", "create"): "line create",
    ("crm.lead.line", "write"): "line write",
}
BUSINESS_ERRORS = ("odoo.exceptions.UserError", "odoo.exceptions.ValidationError", "odoo.exceptions.AccessError")

# Run by ``odoo-bin shell`` on the template: salespeople and opportunities through the ORM
# (their workflow log, lines, history and numbers written by the module's own paths).
FILL_SCRIPT = """
import random
from datetime import timedelta
from odoo import fields
rng = random.Random(13)
USERS, OPPORTUNITIES, RESERVED = {users}, {opportunities}, {reserved}
group = env.ref("sales_team.group_sale_salesman_all_leads")
users = env["res.users"].with_context(no_reset_password=True).create([
    {{"name": "Load user %d" % k, "login": "load_user_%d" % k, "password": "load_user_%d" % k,
      "groups_id": [(6, 0, [group.id])]}} for k in range(USERS)
])
# stages of their own, which an opportunity of a type without workflow may enter from any other
# (the demo company's stages all belong to its types' workflows)
stages = env["crm.stage"].create([{{"name": "Load %s" % name, "sequence": 900 + k}}
                                   for k, name in enumerate(("open", "proposal", "negotiation"))]).ids
kind = env["crm.opportunity.type"].create({{"name": "Load check", "code": "LOAD"}})
partners = env["res.partner"].search([("is_company", "=", True), ("partner_latitude", "!=", 0)]).ids
categories = env["product.category"].search([]).ids
today = fields.Date.today()
Lead = env["crm.lead"].with_context(tracking_disable=True, mail_create_nolog=True, mail_notrack=True)
for start in range(0, OPPORTUNITIES + RESERVED, 250):
    values = []
    for n in range(start, min(start + 250, OPPORTUNITIES + RESERVED)):
        lines = []
        for _line in range(rng.randint(1, 3)):
            gross = rng.randint(10, 500) * 100
            lines.append((0, 0, {{"product_categ_id": rng.choice(categories), "amount_gross": gross,
                                  "amount_discount": rng.choice([0, 0, gross // 10]),
                                  "date_expected_invoice": today + timedelta(days=rng.randint(0, 360))}}))
        values.append({{"name": ("LOAD %d" if n < OPPORTUNITIES else "LOAD KILL %d") % n, "type": "opportunity",
                       "opportunity_type_id": kind.id, "partner_id": rng.choice(partners),
                       "user_id": users[n % USERS].id if n < OPPORTUNITIES else env.uid,
                       "stage_id": rng.choice(stages), "line_ids": lines,
                       "date_deadline": today + timedelta(days=rng.randint(-30, 300))}})
    Lead.create(values)
    env.cr.commit()
print("filled")
"""


# --------------------------------------------------------------------------- PostgreSQL of its own


class Cluster:
    """A PostgreSQL cluster in ``directory`` on the loopback ``port``: created, started and
    restarted here (as the ``postgres`` user when running as root: PostgreSQL refuses root)."""

    def __init__(self, directory, port):
        self.directory, self.port = Path(directory), port
        self.data = self.directory / "data"
        self.bindir = Path(sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))[-1])
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.user = getpass.getuser()

    def _pg_ctl(self, *arguments):
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        subprocess.run(
            [
                *self.as_owner,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.directory / "postgres.log"),
                "-o",
                options,
                "-w",
                *arguments,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def ensure(self):
        if not (self.data / "PG_VERSION").exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            if self.as_owner:
                shutil.chown(self.directory, "postgres", "postgres")
            owner = "postgres" if self.as_owner else self.user
            subprocess.run(
                [*self.as_owner, str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", owner],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        status = subprocess.run(
            [*self.as_owner, str(self.bindir / "pg_ctl"), "-D", str(self.data), "status"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if status.returncode:
            self._pg_ctl("start")
        if self.as_owner:  # Odoo refuses to connect as postgres: the calling user gets a role
            connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
            connection.autocommit = True
            with connection.cursor() as cr:
                cr.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [self.user])
                if not cr.fetchone():
                    cr.execute(f'CREATE ROLE "{self.user}" SUPERUSER LOGIN')
            connection.close()

    def restart(self):
        self._pg_ctl("restart", "-m", "fast")

    def stop(self):
        self._pg_ctl("stop", "-m", "fast")

    def connect(self, db="postgres"):
        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname=db)
        connection.autocommit = True
        return connection

    def databases(self):
        with self.connect() as connection, connection.cursor() as cr:
            cr.execute("SELECT datname FROM pg_database")
            return {row[0] for row in cr.fetchall()}

    def execute(self, sql):
        connection = self.connect()
        with connection.cursor() as cr:
            cr.execute(sql)
        connection.close()

    def version(self):
        with self.connect() as connection, connection.cursor() as cr:
            cr.execute("SHOW server_version")
            return cr.fetchone()[0]


# --------------------------------------------------------------------------- Odoo over HTTP


class Failed(Exception):
    """A request that got no answer, or an answer that is not Odoo's (the user saw an error)."""


class Refused(Exception):
    """Odoo's answer was a business error (UserError, ValidationError, AccessError)."""


class Client:
    """A web client's session: ``/web/session/authenticate``, then ``/web/dataset/call_kw``."""

    def __init__(self, port, db, timeout=60):
        self.port, self.db, self.timeout = port, db, timeout
        self.cookie = None
        self.uid = None

    def post(self, path, params):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params})
        headers = {"Content-Type": "application/json"}
        if self.cookie:
            headers["Cookie"] = f"session_id={self.cookie}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            connection.request("POST", path, body, headers)
            answer = connection.getresponse()
            data = answer.read()
            cookie = re.search(r"session_id=([^;]+)", answer.getheader("Set-Cookie") or "")
        except (OSError, http.client.HTTPException) as error:
            raise Failed(f"{type(error).__name__}: {error}") from error
        finally:
            connection.close()
        if answer.status != 200:
            raise Failed(f"HTTP {answer.status}")
        try:
            reply = json.loads(data)
        except ValueError as error:
            raise Failed("not JSON") from error
        if cookie:
            self.cookie = cookie.group(1)
        if "error" in reply:
            name = reply["error"].get("data", {}).get("name", "")
            if name in BUSINESS_ERRORS:
                raise Refused(reply["error"]["data"].get("message", name))
            raise Failed(name or reply["error"].get("message", "error"))
        return reply["result"]

    def login(self, login, password):
        result = self.post("/web/session/authenticate", {"db": self.db, "login": login, "password": password})
        self.uid = result["uid"]
        return self

    def call(self, model, method, args, kwargs=None):
        return self.post(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        )


class StartLine:
    """Releases the users together once all of them are logged in: the run's clock starts then."""

    def __init__(self, users, duration):
        self.duration = duration
        self.started = self.deadline = None
        self.barrier = threading.Barrier(users + 1, action=self._start)  # the main thread waits there too

    def _start(self):
        self.started = time.monotonic()
        self.deadline = self.started + self.duration

    def wait(self):
        self.barrier.wait(timeout=300)
        return self.deadline


class User(threading.Thread):
    """A simulated salesperson: the mix of ``MIX`` until ``deadline``, each call timed."""

    def __init__(self, index, port, db, plan, start, think, seed):
        super().__init__(daemon=True)
        self.index, self.plan, self.start_line, self.think = index, plan, start, think
        self.deadline = None
        self.client = Client(port, db)
        self.rng = random.Random(seed * 1000 + index)
        self.calls = []  # (kind, started at, seconds, outcome: ok / refused / error)
        self.stage_acks = Counter()  # opportunity: stage changes acknowledged
        self.stage_lost = Counter()  # opportunity: stage changes without an answer
        self.lines = {}  # line id: (gross, discount) last acknowledged
        self.lines_unsure = set()  # lines whose last write got no answer
        self.line_creates_lost = []  # names of lines whose creation got no answer
        self.errors = Counter()
        self.created = 0

    def timed(self, kind, function):
        started = time.monotonic()
        try:
            result = function()
            outcome = "ok"
        except Refused:
            result, outcome = Refused, "refused"
        except Failed as error:
            result, outcome = Failed, "error"
            self.errors[str(error)[:80]] += 1
        self.calls.append((kind, started, time.monotonic() - started, outcome))
        if outcome == "error":
            time.sleep(0.5)  # a person shown an error does not click again at once
        return result

    def run(self):
        """Log in, wait for all the users to be logged in (``start_line``, which sets the
        deadline), then call until the deadline."""
        try:
            self.client.login(f"load_user_{self.index}", f"load_user_{self.index}")
        except (Failed, Refused) as error:
            self.errors[f"login: {error}"] += 1
            self.start_line.wait()
            return
        self.deadline = self.start_line.wait()
        kinds, weights = zip(*MIX.items(), strict=True)
        while time.monotonic() < self.deadline:
            getattr(self, "do_" + self.rng.choices(kinds, weights)[0].replace(" ", "_"))()
            time.sleep(self.rng.uniform(0, 2 * self.think))

    def do_progress_board(self):
        self.timed(
            "progress board",
            lambda: self.client.call("crm.lead", "get_board", ["progress"], {"options": {"limit": 40}}),
        )

    def do_stages_board(self):
        domain = [["user_id", "=", self.client.uid]]
        self.timed(
            "stages board",
            lambda: self.client.call("crm.lead", "get_board", ["stages", domain], {"options": {"limit": 40}}),
        )

    def do_map(self):
        self.timed("map", lambda: self.client.call("crm.lead", "get_map_data", [[]]))

    def do_forecast(self):
        self.timed("forecast", lambda: self.client.call("crm.lead", "get_forecast", [[]]))

    def do_stage_change(self):
        lead = self.rng.choice(self.plan["own"][self.index])
        fields = ["name", "number", "stage_id", "amount_net", "expected_revenue", "probability_level_id", "line_ids"]
        record = self.timed("form", lambda: self.client.call("crm.lead", "read", [[lead], fields]))
        if record in (Failed, Refused):
            return
        stage = self.rng.choice([stage for stage in self.plan["stages"] if stage != record[0]["stage_id"][0]])
        result = self.timed(
            "stage change", lambda: self.client.call("crm.lead", "write", [[lead], {"stage_id": stage}])
        )
        if result is Failed:
            self.stage_lost[lead] += 1
        elif result is not Refused:
            self.stage_acks[lead] += 1

    def do_line_create(self):
        pool = self.plan["leads"]
        lead = self.rng.choice(pool[:HOT] if self.rng.random() < HOT_SHARE else pool)
        self.created += 1
        name = f"LOADLINE {self.index}-{self.created}"
        gross = self.rng.randint(1, 400) * 50
        discount = self.rng.choice([0, gross // 5])
        result = self.timed(
            "line create",
            lambda: self.client.call(
                "crm.lead.line",
                "create",
                [
                    {
                        "lead_id": lead,
                        "name": name,
                        "amount_gross": gross,
                        "amount_discount": discount,
                    }
                ],
            ),
        )
        if result is Failed:
            self.line_creates_lost.append(name)
        elif result is not Refused:
            self.lines[result[0] if isinstance(result, list) else result] = (gross, discount)

    def do_line_write(self):
        if not self.lines:
            return self.do_line_create()
        line = self.rng.choice(sorted(self.lines))
        gross = self.rng.randint(1, 400) * 50
        discount = self.rng.choice([0, gross // 4])
        result = self.timed(
            "line write",
            lambda: self.client.call(
                "crm.lead.line", "write", [[line], {"amount_gross": gross, "amount_discount": discount}]
            ),
        )
        if result is Failed:
            self.lines_unsure.add(line)
        elif result is not Refused:
            self.lines[line] = (gross, discount)
            self.lines_unsure.discard(line)


# --------------------------------------------------------------------------- faults


def probe_until_answered(client, since, timeout=60):
    """Seconds from ``since`` (monotonic) until the server answers a read again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            client.call("crm.lead", "search_count", [[]])
            return time.monotonic() - since
        except (Failed, Refused):
            time.sleep(0.1)
    return None


def restart_postgres(cluster, client):
    started = time.monotonic()
    cluster.restart()
    back = time.monotonic()
    answered = probe_until_answered(client, back)
    return {"started": started, "down": back - started, "answered": answered, "ended": time.monotonic()}


def children(pid):
    """Process ids of the children of ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def serving_process(candidates, server_port, client_port):
    """The process among ``candidates`` holding the server side of the loopback connection
    from ``client_port`` (its socket's inode in /proc/net/tcp, then the process's fds)."""
    wanted = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        columns = line.split()
        if (columns[1], columns[2]) == wanted:
            inode = columns[9]
    if inode is None:
        return None
    for pid in candidates:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
        except OSError:
            continue
    return None


def kill_worker_mid_write(server, port, admin, plan):
    """Send a write of ``KILL_BATCH`` opportunities (stage + a new line each) and SIGKILL the
    worker serving it while it works; the time until the server answers again."""
    stage = plan["stages"][0]
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {
                "model": "crm.lead",
                "method": "write",
                "kwargs": {},
                "args": [
                    plan["kill_leads"],
                    {
                        "stage_id": stage,
                        "line_ids": [[0, 0, {"name": "LOADKILL", "amount_gross": 1000, "amount_discount": 0}]],
                    },
                ],
            },
        }
    )
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    request = (
        f"POST /web/dataset/call_kw/crm.lead/write HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nCookie: session_id={admin.cookie}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
    )
    sent = time.monotonic()
    sock.sendall(request.encode())
    client_port = sock.getsockname()[1]
    victim, killed = None, None
    while time.monotonic() - sent < 30 and victim is None:
        victim = serving_process(children(server.pid), port, client_port)
        time.sleep(0.02)
    time.sleep(0.5)  # well into the write
    sock.settimeout(0)
    try:
        answered_first = bool(sock.recv(1, socket.MSG_PEEK))
    except BlockingIOError:
        answered_first = False
    if victim and not answered_first:
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
    sock.settimeout(30)
    try:
        reply = sock.recv(65536)
    except OSError:
        reply = b""
    sock.close()
    answered = probe_until_answered(admin, killed) if killed else None
    time.sleep(1)
    return {
        "victim": victim,
        "killed": killed,
        "after": killed and killed - sent,
        "answered": answered,
        "reply": reply.split(b"\r\n", 1)[0].decode(errors="replace"),
        "stage": stage,
        "workers_after": len(children(server.pid)),
    }


# --------------------------------------------------------------------------- the server's log


def retries_by_kind(logfile):
    """``({kind: serialization failures retried}, failures no retry saved)`` from the log:
    each retry line counted on the next request the same worker logged."""
    retries, given_up, pending = Counter(), 0, defaultdict(int)
    line_re = re.compile(r"^\S+ \S+ (\d+) \w+ \S+ ([\w.]+): (.*)$")
    for line in Path(logfile).read_text(errors="replace").splitlines():
        match = line_re.match(line)
        if not match:
            continue
        pid, logger, message = match.groups()
        if logger == "odoo.service.model" and "tries left, try again" in message:
            pending[pid] += 1
        elif logger == "odoo.service.model" and "maximum number of tries reached" in message:
            given_up += 1
        elif logger == "werkzeug" and pending[pid]:
            path = re.search(r'"POST /web/dataset/call_kw/([\w.]+)/(\w+)', message)
            kind = WRITE_KINDS.get(path.groups(), "other") if path else "other"
            retries[kind] += pending.pop(pid)
    return retries, given_up


# --------------------------------------------------------------------------- invariants (SQL)


def fetch(connection, sql, params=None):
    with connection.cursor() as cr:
        cr.execute(sql, params)
        return cr.fetchall()


def snapshot(connection):
    """Where the workflow logs stood before the run: the last row id, each lead's stage."""
    last_row = fetch(connection, "SELECT COALESCE(MAX(id), 0) FROM crm_lead_stage_history")[0][0]
    stages = dict(fetch(connection, "SELECT id, stage_id FROM crm_lead"))
    return {"last_row": last_row, "stages": stages}


def check_invariants(connection, before, users, kill):
    """``[(check, what is wrong (opportunity or line ids), what was checked)]``."""
    checks = []
    # workflow log: every opportunity's rows form a chain ending in its stage
    rows = fetch(
        connection,
        """
        SELECT lead.id, lead.stage_id, log.id, log.stage_from_id, log.stage_to_id
          FROM crm_lead lead JOIN crm_lead_stage_history log ON log.lead_id = lead.id
         WHERE lead.type = 'opportunity' ORDER BY lead.id, log.id""",
    )
    chains = defaultdict(list)
    current = {}
    for lead, stage, row, stage_from, stage_to in rows:
        chains[lead].append((row, stage_from, stage_to))
        current[lead] = stage
    broken = []
    for lead, chain in chains.items():
        links = [previous[2] == following[1] for previous, following in itertools.pairwise(chain)]
        if chain[0][1] is not None or not all(links) or chain[-1][2] != current[lead]:
            broken.append(lead)
    checks.append(
        (
            "workflow log: a chain from creation to the current stage",
            broken,
            f"{len(chains):,} opportunities, {len(rows):,} rows",
        )
    )
    # one row per acknowledged stage change, at most one more per change whose answer was lost
    new_rows = Counter(
        lead
        for lead, *_rest in fetch(
            connection, "SELECT lead_id FROM crm_lead_stage_history WHERE id > %s", [before["last_row"]]
        )
    )
    acked, lost = Counter(), Counter()
    for user in users:
        acked.update(user.stage_acks)
        lost.update(user.stage_lost)
    for lead in kill["leads"]:
        lost[lead] += 1
    mismatched = [
        lead for lead in set(new_rows) | set(acked) if not acked[lead] <= new_rows[lead] <= acked[lead] + lost[lead]
    ]
    checks.append(
        (
            "workflow log: one row per stage change acknowledged",
            mismatched,
            f"{sum(acked.values()):,} changes acknowledged, {sum(lost.values()):,} unanswered, "
            f"{sum(new_rows.values()):,} rows written",
        )
    )
    # amounts equal the sums of their lines
    wrong = fetch(
        connection,
        """
        SELECT lead.id FROM crm_lead lead
          JOIN (SELECT lead_id, SUM(amount_gross) gross, SUM(amount_discount) discount, SUM(amount_net) net,
                       BOOL_OR(amount_net != amount_gross - amount_discount) bad_line
                  FROM crm_lead_line GROUP BY lead_id) line ON line.lead_id = lead.id
          JOIN res_company company ON company.id = lead.company_id
         WHERE line.bad_line OR lead.amount_gross != line.gross OR lead.amount_discount != line.discount
            OR lead.amount_net != line.net
            OR (lead.currency_id = company.currency_id AND lead.expected_revenue != line.net)""",
    )
    with_lines = fetch(connection, "SELECT COUNT(DISTINCT lead_id), COUNT(*) FROM crm_lead_line")[0]
    checks.append(
        (
            "amounts = sums of their lines (net = gross - discount)",
            [lead for (lead,) in wrong],
            f"{with_lines[0]:,} opportunities, {with_lines[1]:,} lines",
        )
    )
    # nothing lost: acknowledged lines exist with their last acknowledged amounts
    found = {
        line: (gross, discount)
        for line, gross, discount in fetch(
            connection, "SELECT id, amount_gross, amount_discount FROM crm_lead_line WHERE name LIKE 'LOADLINE %%'"
        )
    }
    expected = {line: amounts for user in users for line, amounts in user.lines.items()}
    unsure = {line for user in users for line in user.lines_unsure}
    missing = [line for line in expected if line not in found]
    stale = [
        line
        for line, amounts in expected.items()
        if line in found and line not in unsure and tuple(map(float, found[line])) != tuple(map(float, amounts))
    ]
    extra = len(found) - len(expected)
    lost_creates = sum(len(user.line_creates_lost) for user in users)
    checks.append(
        (
            "lines: every acknowledged one kept, with its last acknowledged amounts",
            missing + stale + ([] if 0 <= extra <= lost_creates else ["unacknowledged lines"]),
            f"{len(expected):,} acknowledged, {len(found):,} in the database "
            f"({extra} of {lost_creates} unanswered creations committed)",
        )
    )
    # the killed write: all or nothing
    moved = fetch(
        connection,
        """
        SELECT COUNT(*) FILTER (WHERE lead.stage_id = %s),
               (SELECT COUNT(*) FROM crm_lead_line WHERE name = 'LOADKILL' AND lead_id = ANY(%s))
          FROM crm_lead lead WHERE lead.id = ANY(%s)""",
        [kill["stage"], kill["leads"], kill["leads"]],
    )[0]
    already = sum(1 for lead in kill["leads"] if before["stages"][lead] == kill["stage"])
    count = len(kill["leads"])
    done = moved == (count, count)
    undone = moved == (already, 0)
    checks.append(
        (
            "the write whose worker was killed: all or nothing",
            [] if done or undone else ["partial"],
            f"{count} opportunities: "
            + ("all written" if done else "none written" if undone else f"{moved[0]} moved, {moved[1]} lines"),
        )
    )
    # the pipeline history's last row is the opportunity as it stands
    stale_history = fetch(
        connection,
        """
        SELECT lead.id FROM crm_lead lead
          JOIN LATERAL (SELECT * FROM crm_lead_history history WHERE history.lead_id = lead.id
                         ORDER BY history.id DESC LIMIT 1) last ON TRUE
         WHERE lead.type = 'opportunity'
           AND (last.stage_id IS DISTINCT FROM lead.stage_id OR last.amount_net != lead.amount_net
                OR last.amount_company != lead.expected_revenue)""",
    )
    checks.append(
        (
            "pipeline history: the last row holds the stage and amounts",
            [lead for (lead,) in stale_history],
            "every opportunity",
        )
    )
    return checks


# --------------------------------------------------------------------------- -u twice

SETTINGS = {"crm_idle_reminder_days": 17, "crm_geocoder_timeout": 7.5, "crm_won_reason_dialog": True}
EDITED_RULE = "automation_notify_won"


def change_settings(admin):
    """Settings changed and an automated action edited as an administrator would, over HTTP."""
    settings = admin.call("res.config.settings", "create", [SETTINGS])
    admin.call("res.config.settings", "execute", [[settings]])
    rule = admin.call(
        "ir.model.data", "search_read", [[["module", "=", MODULE], ["name", "=", EDITED_RULE]]], {"fields": ["res_id"]}
    )[0]["res_id"]
    admin.call(
        "base.automation",
        "write",
        [[rule], {"name": "Won: tell the team leader (edited)", "filter_domain": "[('expected_revenue', '>=', 5000)]"}],
    )


def module_state(connection):
    """What ``-u`` must keep: data counts and sums, the settings, the edited rule."""
    state = dict(
        zip(
            ("opportunities", "lines", "workflow log", "history", "net total"),
            fetch(
                connection,
                """
        SELECT (SELECT COUNT(*) FROM crm_lead), (SELECT COUNT(*) FROM crm_lead_line),
               (SELECT COUNT(*) FROM crm_lead_stage_history), (SELECT COUNT(*) FROM crm_lead_history),
               (SELECT SUM(amount_net) FROM crm_lead)""",
            )[0],
            strict=True,
        )
    )
    state["settings"] = fetch(
        connection,
        f"""
        SELECT (SELECT trg_date_range FROM base_automation WHERE id = (SELECT res_id FROM ir_model_data
                 WHERE module = '{MODULE}' AND name = 'automation_idle_reminder')),
               (SELECT value FROM ir_config_parameter WHERE key = '{MODULE}.geocoder_timeout'),
               (SELECT crm_won_reason_dialog FROM res_company ORDER BY id LIMIT 1)""",
    )[0]
    state["edited rule"] = fetch(
        connection,
        f"""
        SELECT name->>'en_US', filter_domain FROM base_automation WHERE id = (SELECT res_id FROM ir_model_data
         WHERE module = '{MODULE}' AND name = '{EDITED_RULE}')""",
    )[0]
    return state


# --------------------------------------------------------------------------- the run


def odoo_command(args, db, *extra):
    return [
        sys.executable,
        os.path.join(os.environ.get("ODOO_SRC", "/opt/odoo"), "odoo-bin"),
        *extra,
        f"--addons-path={args.addons_path}",
        f"--data-dir={args.data_dir}",
        "--db_host=127.0.0.1",
        f"--db_port={args.pg_port}",
        "-d",
        db,
    ]


def build_template(args, cluster, name, log):
    """The module with demo data, ``--users`` salespeople and the opportunities, under a
    temporary name renamed when complete."""
    building = f"{name}_building"
    cluster.execute(f'DROP DATABASE IF EXISTS "{building}"')
    subprocess.run(
        [
            *odoo_command(args, building),
            "-i",
            MODULE,
            "--without-demo=",
            "--stop-after-init",
            "--log-level=warn",
            f"--logfile={log}",
        ],
        check=True,
    )
    script = FILL_SCRIPT.format(users=args.users, opportunities=args.opportunities, reserved=KILL_BATCH)
    subprocess.run(
        [*odoo_command(args, building, "shell"), "--log-level=warn", f"--logfile={log}"],
        input=script,
        text=True,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    cluster.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
    filestore = Path(args.data_dir) / "filestore"
    if (filestore / building).exists():
        (filestore / building).rename(filestore / name)


def copy_database(args, cluster, template, db):
    cluster.execute(f'DROP DATABASE IF EXISTS "{db}"')
    cluster.execute(f'CREATE DATABASE "{db}" TEMPLATE "{template}"')
    filestore = Path(args.data_dir) / "filestore"
    shutil.rmtree(filestore / db, ignore_errors=True)
    if (filestore / template).exists():
        shutil.copytree(filestore / template, filestore / db)


def plan_of(connection, users):
    """The opportunities each user moves, those lines go to, the killed write's, the stages."""
    leads = fetch(
        connection,
        """
        SELECT lead.id, lead.user_id, lead.name LIKE 'LOAD KILL %%' FROM crm_lead lead
         WHERE lead.name LIKE 'LOAD %%' ORDER BY lead.id""",
    )
    logins = dict(fetch(connection, "SELECT id, login FROM res_users WHERE login LIKE 'load_user_%%'"))
    own = defaultdict(list)
    for lead, user, _kill in leads:
        if user in logins:
            own[int(logins[user].rsplit("_", 1)[1])].append(lead)
    stages = sorted(
        {
            stage
            for (stage,) in fetch(
                connection,
                """
        SELECT DISTINCT stage_id FROM crm_lead WHERE name LIKE 'LOAD %%'""",
            )
        }
    )
    return {
        "leads": [lead for lead, _user, kill in leads if not kill],
        "own": own,
        "stages": stages,
        "kill_leads": [lead for lead, _user, kill in leads if kill],
    }


def percentile(values, share):
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--addons-path", required=True)
    parser.add_argument("--data-dir", default=os.path.expanduser(f"~/.cache/{MODULE}/filestore-load"))
    parser.add_argument("--pg-dir", default="/tmp/crm_om_load_pg")
    parser.add_argument("--pg-port", type=int, default=5450)
    parser.add_argument("--db-prefix", default="crm_om_load")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument("--think", type=float, default=0.25, help="mean pause of a user between calls (s)")
    parser.add_argument("--opportunities", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-upgrade", action="store_true", help="skip the two -u")
    args = parser.parse_args()
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="crm-load-"))
    cluster = Cluster(args.pg_dir, args.pg_port)
    cluster.ensure()
    key = code_key(FILL_SCRIPT, f"{args.users} {args.opportunities} {KILL_BATCH}")
    template, db = f"{args.db_prefix}_{key}", f"{args.db_prefix}_run"
    if template not in cluster.databases():
        for old in cluster.databases():
            if old.startswith(args.db_prefix + "_") and old != db:
                cluster.execute(f'DROP DATABASE "{old}"')
        started = time.monotonic()
        print(f"building the template database {template} (module code changed or first run) ...", flush=True)
        build_template(args, cluster, template, workdir / "build.log")
        print(f"  built in {time.monotonic() - started:.0f} s", flush=True)
    copy_database(args, cluster, template, db)
    connection = cluster.connect(db)
    plan = plan_of(connection, args.users)
    before = snapshot(connection)

    port, logfile = free_port(), workdir / "odoo.log"
    extra = [
        "--db_host=127.0.0.1",
        f"--db_port={args.pg_port}",
        f"--data-dir={args.data_dir}",
        "--log-level=info",
        "--limit-time-real=300",
        "--limit-time-cpu=300",
        "--limit-memory-soft=4294967296",
        "--limit-memory-hard=6442450944",
        "--db_maxconn=64",
    ]
    server = start_server(db, [f"--addons-path={args.addons_path}"], port, str(logfile), args.workers, extra)
    failures = 0
    try:
        admin = Client(port, db).login("admin", "admin")
        admin.call("crm.lead", "get_forecast", [[]])  # registry and caches warm in one worker at least
        start_line = StartLine(args.users, args.duration)
        users = [User(index, port, db, plan, start_line, args.think, args.seed) for index in range(args.users)]
        for user in users:
            user.start()
        start_line.wait()
        start = start_line.started
        time.sleep(max(0.0, start + args.duration / 3 - time.monotonic()))
        restart = restart_postgres(cluster, admin)
        time.sleep(max(0.0, start + 2 * args.duration / 3 - time.monotonic()))
        kill = kill_worker_mid_write(server, port, admin, plan)
        kill["leads"] = plan["kill_leads"]
        for user in users:
            user.join()
        elapsed = time.monotonic() - start
        change_settings(admin)
    finally:
        stop_server(server)

    calls = [call for user in users for call in user.calls]
    retries, given_up = retries_by_kind(logfile)
    print(
        f"\nLoad: {args.users} users, {args.workers} workers, {elapsed:.0f} s on the loopback, "
        f"{len(plan['leads']):,} opportunities of theirs; PostgreSQL restarted at "
        f"{restart['started'] - start:.0f} s, a worker killed at {(kill['killed'] or start) - start:.0f} s"
    )
    header = (
        f"{'call':<16}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}{'refused':>8}{'retried':>9}"
    )
    print(header)
    print("-" * len(header))
    for kind in (*KINDS, "total"):
        rows = [call for call in calls if kind in (call[0], "total")]
        if not rows:
            continue
        ok = sorted(seconds * 1000 for _kind, _start, seconds, outcome in rows if outcome == "ok")
        errors = sum(1 for row in rows if row[3] == "error")
        refused = sum(1 for row in rows if row[3] == "refused")
        retried = sum(retries.values()) if kind == "total" else retries.get(kind, 0)
        p50, p95 = percentile(ok, 0.5), percentile(ok, 0.95)
        print(
            f"{kind:<16}{len(rows):>9,}{len(rows) / elapsed:>8.1f}{p50 or 0:>9.0f}{p95 or 0:>9.0f}{errors:>8}"
            f"{refused:>8}{retried:>9}"
        )
    print(
        "(errors: no answer or not Odoo's; refused: a business error; retried: serialization failures Odoo "
        f"retried, the request then served; {given_up} gave up after the last try)"
    )

    windows = [(restart["started"], restart["ended"])]
    if kill["killed"]:
        windows.append((kill["killed"], kill["killed"] + (kill["answered"] or 60)))
    failed = [call for call in calls if call[3] == "error"]

    def during(call, window):  # the call was under way while the fault lasted
        return call[1] <= window[1] and call[1] + call[2] >= window[0]

    in_window = [call for call in failed if during(call, windows[0])]
    outside = [call for call in failed if not any(during(call, window) for window in windows)]
    print(f"{len(outside)} errors outside the fault windows (PostgreSQL down and back, a worker killed until answered)")
    print("\nFaults")
    answered = restart["answered"]
    print(
        f"PostgreSQL restarted: down {restart['down']:.1f} s; the server answered again "
        + (f"{answered:.1f} s after it was back" if answered is not None else "NOT within 60 s")
        + f"; {len(in_window)} user requests failed meanwhile"
    )
    failures += answered is None
    if kill["killed"]:
        print(
            f"worker {kill['victim']} killed (SIGKILL) {kill['after']:.1f} s into a write of {KILL_BATCH} "
            f"opportunities (client saw: {kill['reply'] or 'connection closed'}); the server answered again "
            + (f"after {kill['answered']:.1f} s" if kill["answered"] is not None else "NOT within 60 s")
            + f"; {kill['workers_after'] - 1} workers after (gevent process included in the count)"
        )
        failures += kill["answered"] is None
    else:
        print(
            f"worker kill: the write was answered before it could be killed (worker {kill['victim']}): "
            "no fault injected"
        )
        failures += 1
    connection = cluster.connect(db)
    print("\nInvariants")
    for label, problems, scope in check_invariants(connection, before, users, kill):
        wrong = f"; {len(problems)} wrong: {', '.join(map(str, problems[:8]))}" if problems else ""
        print(f"{'OK ' if not problems else 'FAIL'} {label}: {scope}{wrong}")
        failures += bool(problems)
    errors = Counter()
    for user in users:
        errors.update(user.errors)
    if errors:
        print("errors seen by the users: " + "; ".join(f"{count} x {text}" for text, count in errors.most_common(5)))

    if not args.no_upgrade:
        kept = module_state(connection)
        connection.close()
        timings = []
        for _run in range(2):
            started = time.monotonic()
            result = subprocess.run(
                [
                    *odoo_command(args, db),
                    "-u",
                    MODULE,
                    "--stop-after-init",
                    "--log-level=warn",
                    f"--logfile={workdir / 'upgrade.log'}",
                ],
                check=False,
                stderr=subprocess.DEVNULL,  # Odoo's warning about root; the log file has the rest
            )
            timings.append(time.monotonic() - started)
            failures += bool(result.returncode)
        connection = cluster.connect(db)
        after = module_state(connection)
        changed = [name for name in kept if kept[name] != after[name]]
        problems = [
            line
            for line in (workdir / "upgrade.log").read_text(errors="replace").splitlines()
            if re.search(r" (ERROR|CRITICAL) ", line)
        ]
        settings = ", ".join(f"{name}={value}" for name, value in SETTINGS.items())
        print(
            f"{'OK ' if not changed and not problems else 'FAIL'} -u {MODULE} twice "
            f"({timings[0]:.0f} s, {timings[1]:.0f} s): data, settings ({settings}) and the edited automated "
            f"action kept"
            + (f"; changed: {', '.join(changed)}" if changed else "")
            + (f"; {len(problems)} errors logged" if problems else "")
        )
        failures += bool(changed or problems)
    connection.close()
    print(f"\nmachine: {machine()}; PostgreSQL {cluster.version()}; whole check {time.monotonic() - began:.0f} s")
    cluster.stop()  # its databases stay in --pg-dir: the template is reused by the next run
    if failures:
        print(f"{failures} check(s) failed; the server's logs are kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0


def machine():
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    memory = re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text())
    return (
        f"{cpu.group(1).strip() if cpu else 'unknown CPU'}, {os.cpu_count()} CPUs, "
        f"{int(memory.group(1)) / 2**20:.0f} GB RAM"
    )


if __name__ == "__main__":
    sys.exit(main())
