"""What the benchmarks share: filling a database by copying rows in SQL, and timing."""

import argparse
import contextlib
import subprocess
import time


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
        yield env
