"""Every benchmark, one table (``make bench``).

    bench/run_all.py --addons-path=... [--prefix crm_om_bench] [--only boards map ...] [--timeout 900]

1. The benchmark databases are built once and kept while the module's code and the
   generators are unchanged (``bench_common.code_key`` of ``DATABASE_CODE`` and of the
   ``fill`` functions): a base with the module and its demo data (``PREFIX_KEY``), then one
   copy per generator filled in SQL by its bench (``PREFIX_KEY_boards``, ``_map``,
   ``_history``). When the key changes, the databases of older keys are dropped.
2. Each bench runs in its own process with a time limit (``--timeout`` seconds); its
   output goes to ``--log`` and its ``bench-result:`` line (``bench_common.emit``) to the table.
   A bench whose writes would stay (``WRITES``: Odoo's scoring cron commits) runs on a copy.
3. The table (Markdown) is printed with the machine it ran on and the time each step took.

Other arguments (``--addons-path``, ``--data-dir``, ...) go to Odoo. Nothing is asserted.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench_boards import fill as fill_boards
from bench_common import RESULT_PREFIX, code_key, copy_rows
from bench_history import fill as fill_history
from bench_map import fill as fill_map

BENCH = Path(__file__).resolve().parent
MODULE = "crm_opportunity_management"
GENERATORS = {"boards": fill_boards, "map": fill_map, "history": fill_history}
# name, script, database (a generator's, or None), arguments
BENCHES = [
    ("boards", "bench_boards.py", "boards", []),
    ("map", "bench_map.py", "map", []),
    ("map-browser", "bench_map_browser.py", "map", ["--runs", "3"]),
    ("history", "bench_history.py", "history", []),
    ("forecast", "bench_forecast.py", "history", []),
    ("forecast-engine", "bench_forecast_engine.py", None, ["--reference-trials", "50000"]),
    (
        "forecast-methods",
        "bench_forecast_methods.py",
        None,
        ["--sizes", "500", "5000", "100000", "--reference-work", "3e8"],
    ),
]
SERVE_ONLY = {"map-browser"}  # benches that serve a filled database as it is (no --template, no filling)
# benches whose writes last (Odoo's scoring cron commits): they run on a copy, dropped after
WRITES = {"history"}


def psql(sql):
    return subprocess.run(
        ["psql", "-d", "postgres", "-tAc", sql], check=True, capture_output=True, text=True
    ).stdout.split()


def run(command, log, timeout):
    """``(seconds, exit code or None when timed out, output)`` of ``command``, its output appended to ``log``.
    The command runs in a session of its own, so that a timeout ends its worker processes too."""
    started = time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=BENCH, start_new_session=True
    )
    try:
        output, _err = process.communicate(timeout=timeout)
        code = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _err = process.communicate()
        code = None
    with open(log, "a", encoding="utf-8") as file:
        file.write(f"\n$ {' '.join(command)}\n{output}")
    return time.monotonic() - started, code, output


def build_base(base, prefix, odoo_args, log, timeout):
    """The module with its demo data in ``base`` (built under another name, renamed when complete);
    the databases of older keys dropped first."""
    for old in psql("SELECT datname FROM pg_database"):
        if re.fullmatch(rf"{re.escape(prefix)}_[0-9a-f]{{12}}(_\w+)?", old) and not old.startswith(base):
            psql(f'DROP DATABASE "{old}"')
    building = f"{base}_building"
    psql(f'DROP DATABASE IF EXISTS "{building}"')
    odoo_bin = os.path.join(os.environ.get("ODOO_SRC", "/opt/odoo"), "odoo-bin")
    seconds, code, _output = run(
        [
            sys.executable,
            odoo_bin,
            *odoo_args,
            "-d",
            building,
            "-i",
            MODULE,
            "--without-demo=",
            "--stop-after-init",
            "--log-level=warn",
        ],
        log,
        timeout,
    )
    if code != 0:
        raise SystemExit(f"installing {MODULE} into {building} failed (see {log})")
    psql(f'ALTER DATABASE "{building}" RENAME TO "{base}"')
    return seconds


def figure(value, unit):
    if not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,} {unit}".strip()
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f} {unit}".strip()


def machine():
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    memory = re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text())
    postgres = psql("SHOW server_version")[0]
    return (
        f"{cpu.group(1).strip() if cpu else 'unknown CPU'}, {os.cpu_count()} CPUs, "
        f"{int(memory.group(1)) / 2**20:.0f} GB RAM, PostgreSQL {postgres}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefix", default="crm_om_bench", help="prefix of the benchmark databases' names")
    parser.add_argument("--only", nargs="+", choices=[name for name, *_rest in BENCHES], help="these benches only")
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed to each step")
    parser.add_argument("--log", default="/tmp/crm_om_bench.log", help="where the benches' output goes")
    parser.add_argument("--build-only", action="store_true", help="build the databases, run no bench")
    args, odoo_args = parser.parse_known_args()
    began = time.monotonic()
    Path(args.log).write_text("")
    key = code_key(copy_rows, *GENERATORS.values())
    base = f"{args.prefix}_{key}"
    steps = []  # (step, seconds, note)
    existing = set(psql("SELECT datname FROM pg_database"))
    benches = [bench for bench in BENCHES if not args.only or bench[0] in args.only]
    if base not in existing:
        print(f"building {base} (the module's code or a generator changed) ...", flush=True)
        steps.append(
            (
                f"install of the module with demo data ({base})",
                build_base(base, args.prefix, odoo_args, args.log, args.timeout),
                "built",
            )
        )
        existing = set(psql("SELECT datname FROM pg_database"))
    for generator in dict.fromkeys(database for _name, _script, database, _args in benches if database):
        db = f"{base}_{generator}"
        if db in existing:
            steps.append((f"{generator} database ({db})", 0.0, "reused"))
            continue
        print(f"filling {db} ...", flush=True)
        script = next(script for _name, script, database, _args in BENCHES if database == generator)
        seconds, code, _output = run(
            [sys.executable, script, "--db", db, "--template", base, "--fill-only", *odoo_args], args.log, args.timeout
        )
        steps.append((f"{generator} database ({db})", seconds, "filled" if code == 0 else f"FAILED (see {args.log})"))

    rows = []
    for name, script, database, extra in [] if args.build_only else benches:
        print(f"running {name} ...", flush=True)
        command = [sys.executable, script, *extra]
        db = f"{base}_{database}"
        if database and name in WRITES:
            psql(f'CREATE DATABASE "{db}_scratch" TEMPLATE "{db}"')
            db += "_scratch"
        if database:
            template = [] if name in SERVE_ONLY else ["--template", base]
            command += ["--db", db, *template, *odoo_args]
        seconds, code, output = run(command, args.log, args.timeout)
        if db.endswith("_scratch"):
            psql(f'DROP DATABASE "{db}"')
        results = [
            json.loads(line[len(RESULT_PREFIX) :]) for line in output.splitlines() if line.startswith(RESULT_PREFIX)
        ]
        note = "" if code == 0 else f"timed out after {args.timeout:.0f} s" if code is None else f"failed ({code})"
        steps.append((f"bench {name}", seconds, note or "ok"))
        if not results:
            rows.append((name, note or "no figures printed", "", ""))
        for result in results:
            for row in result["figures"]:
                rows.append((result["bench"], row["label"], figure(row["value"], row["unit"]), row["target"] or ""))

    print(f"\nBenchmarks, {time.strftime('%Y-%m-%d')}, on {machine()}\n")
    print("| bench | figure | value | target |\n|---|---|---|---|")
    previous = None
    for bench, label, value, target in rows:
        print(f"| {bench if bench != previous else ''} | {label} | {value} | {target} |")
        previous = bench
    print("\n| step | time | |\n|---|---|---|")
    for step, seconds, note in steps:
        print(f"| {step} | {seconds:,.0f} s | {note} |")
    print(f"\nwhole run {time.monotonic() - began:,.0f} s; the benches' output: {args.log}")


if __name__ == "__main__":
    main()
