"""What the benchmarks share: filling a database by copying rows in SQL, timing, a served
copy of Odoo, the key of the code a filled database depends on, and the figures' line."""

import argparse
import contextlib
import hashlib
import inspect
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What a database with the module holds depends on these (views and data included); the
# engine, the front end's assets, the tests and the translations are read from the files.
DATABASE_CODE = ("__manifest__.py", "__init__.py", "hooks.py", "models", "data", "demo", "security", "reports",
                 "views", "wizards")
RESULT_PREFIX = "bench-result: "


def copy_rows(cr, table, template_where, count, overrides):
    """Insert ``count`` copies of the first row matching ``template_where``, with
    ``overrides`` ({column: SQL expression of n, the row number}) applied."""
    cr.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name != 'id'",
               [table])
    columns = [row[0] for row in cr.fetchall()]
    select = ", ".join(overrides.get(column, f"t.{column}") for column in columns).replace("%", "%%")
    cr.execute(f"""
        INSERT INTO {table} ({", ".join(columns)})
        SELECT {select} FROM (SELECT * FROM {table} WHERE {template_where} ORDER BY id LIMIT 1) t,
               generate_series(1, %s) n
    """, [count])


def measure(env, function, runs=5):
    """``(best time in s, SQL queries of a run, the last result)`` over ``runs`` cold-cache runs."""
    best, queries, result = None, 0, None
    for _run in range(runs):
        env.invalidate_all()
        before = env.cr.sql_log_count
        start = time.perf_counter()
        result = function()
        elapsed = time.perf_counter() - start
        queries = env.cr.sql_log_count - before
        best = elapsed if best is None else min(best, elapsed)
    return best, queries, result


@contextlib.contextmanager
def bench_env(description, default_db, fill):
    """An environment (superuser) on a copy of a database with the module: ``--db`` is
    created from ``--template`` when missing, filled once by ``fill(env)`` and committed;
    other arguments go to Odoo (``--addons-path``, …)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=default_db)
    parser.add_argument("--template", default="crm_opportunity_management_test")
    parser.add_argument("--fill-only", action="store_true", help="fill the database (when needed) and stop")
    args, odoo_args = parser.parse_known_args()
    if subprocess.run(["psql", "-lqt"], capture_output=True, text=True).stdout.find(f" {args.db} ") < 0:
        subprocess.run(["createdb", "-T", args.template, args.db], check=True)

    import odoo  # on the path only once the script put ODOO_SRC there

    odoo.tools.config.parse_config(["-d", args.db, *odoo_args])
    registry = odoo.modules.registry.Registry(args.db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        fill(env)
        cr.commit()
        if args.fill_only:
            sys.exit(0)
        yield env


def code_key(*generators):
    """A short hash of the module's code that a database depends on (``DATABASE_CODE``) and
    of the source of ``generators`` (functions or text that fill it): the same key, the
    same database."""
    digest = hashlib.sha256()
    for name in DATABASE_CODE:
        path = ROOT / name
        for file in sorted(path.rglob("*") if path.is_dir() else [path]):
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    for generator in generators:
        digest.update((generator if isinstance(generator, str) else inspect.getsource(generator)).encode())
    return digest.hexdigest()[:12]


def emit(bench, figures):
    """Print the figures of a bench as one line that ``bench/run_all.py`` collects:
    ``figures`` is a list of ``(label, value, unit, target)`` (target: text or None)."""
    rows = [{"label": label, "value": value, "unit": unit, "target": target} for label, value, unit, target in figures]
    print(RESULT_PREFIX + json.dumps({"bench": bench, "figures": rows}), flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(db, odoo_args, port, logfile, workers=0, extra_args=()):
    """An Odoo server on ``db`` on the loopback ``port`` (``workers`` > 0: multi-process,
    with its websocket port on a free port too), once it answers ``/web/health``."""
    odoo_bin = os.path.join(os.environ.get("ODOO_SRC", "/opt/odoo"), "odoo-bin")
    command = [sys.executable, odoo_bin, *odoo_args, "--http-port", str(port), "--http-interface", "127.0.0.1",
               "-d", db, "--db-filter", f"^{re.escape(db)}$", f"--workers={workers}", "--max-cron-threads=0",
               "--logfile", logfile, *extra_args]
    if workers:
        command += ["--gevent-port", str(free_port())]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the Odoo server stopped (code {server.returncode}), see {logfile}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/web/health", timeout=2) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the Odoo server did not answer /web/health in 120 s, see {logfile}")


def stop_server(server):
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
