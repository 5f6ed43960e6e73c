#!/usr/bin/env bash
# Development and test harness of crm_opportunity_management (see README "Development").
#
#   tools/harness.sh run    -> Odoo at http://localhost:8069 with the module and its demo data
#   tools/harness.sh test   -> static checks, engine tests, Odoo tests; last line "N passed, N failed, N skipped"
#   tools/harness.sh host   -> only prepare the host (Odoo source, packages, virtualenv, PostgreSQL)
#   tools/harness.sh odoo-suites -> Odoo's own crm + sale_crm suites with this module installed
#   tools/harness.sh replica-check [options] -> tools/replica_check.py: reads on a hot standby (README "Scaling out")
#   tools/harness.sh bench       -> every benchmark of bench/, one table (bench/run_all.py; BENCH_ARGS)
#   tools/harness.sh load-check  -> load and faults, measured (tools/load_check.py; LOAD_ARGS)
#
# Everything it needs is installed on demand, so that a clean machine (CI) gets the same run.
set -euo pipefail

MODULE=crm_opportunity_management
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ODOO_SRC=${ODOO_SRC:-/opt/odoo}
ODOO_ARCHIVE=${ODOO_ARCHIVE:-$ROOT/../shared/odoo/odoo-18.0.tar.xz}
ODOO_GIT=${ODOO_GIT:-https://github.com/odoo/odoo.git}
CACHE_DIR=${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/$MODULE}
PYTHON=${PYTHON:-python3}
DB_NAME=${DB_NAME:-$MODULE}
HTTP_PORT=${HTTP_PORT:-8069}
# The addons path holds the module through a folder named after it: the repository root
# is the add-on, whatever the clone's folder is called.
ADDONS_LINK_DIR=$CACHE_DIR/addons-$(printf '%s' "$ROOT" | sha256sum | cut -c1-8)  # one per clone

log() { printf '\033[1m[harness]\033[0m %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# --------------------------------------------------------------------------- Odoo source
odoo_available() { [ -f "$ODOO_SRC/odoo-bin" ]; }

ensure_odoo_src() {
    odoo_available && return 0
    if [ -f "$ODOO_ARCHIVE" ]; then
        log "unpacking $ODOO_ARCHIVE into $ODOO_SRC"
        mkdir -p "$ODOO_SRC"
        tar -xJf "$ODOO_ARCHIVE" -C "$ODOO_SRC" --strip-components=1
    elif [ "${1:-}" = clone ] && command -v git >/dev/null; then
        log "no Odoo source nor archive: cloning Odoo 18.0 (shallow) into $ODOO_SRC"
        git clone --depth 1 --branch 18.0 "$ODOO_GIT" "$ODOO_SRC" || true
    fi
    odoo_available
}

# --------------------------------------------------------------------------- Debian packages
ensure_debian_packages() {
    local wanted=(libpq-dev libldap2-dev libsasl2-dev gcc python3-dev postgresql chromium wkhtmltopdf)
    local missing=()
    for pkg in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if is_root && command -v apt-get >/dev/null; then
        log "installing Debian packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        log "missing Debian packages (install them as root): ${missing[*]}"
    fi
}

# --------------------------------------------------------------------------- virtualenv
# Odoo pins old source packages (cbor2 5.4.2 imports pkg_resources while building): setuptools<70.
# Its pkg_resources then cannot find zope.interface 8 nor zope.event 5.1 (wheels named
# zope_interface, zope_event), which gevent requires: Odoo's websocket worker (--workers)
# would not start, hence the two caps.
BUILD_CONSTRAINTS='setuptools<70
zope.interface<8
zope.event<5.1'

venv_key() {
    local file
    {
        echo "$BUILD_CONSTRAINTS"
        for file in "$ODOO_SRC/requirements.txt" "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt"; do
            if [ -f "$file" ]; then cat "$file"; fi
        done
    } | sha256sum | cut -c1-12
}

ensure_venv() {
    local key; key=$(venv_key)
    VENV=$CACHE_DIR/venv-$key
    if [ ! -f "$VENV/.complete" ]; then
        log "creating virtualenv $VENV"
        rm -rf "$VENV"
        mkdir -p "$CACHE_DIR"
        "$PYTHON" -m venv "$VENV"
        "$VENV/bin/pip" install -q --upgrade pip wheel
        # pip 26 applies PIP_CONSTRAINT no more to build environments, hence both variables.
        local constraints=$CACHE_DIR/build-constraints.txt
        echo "$BUILD_CONSTRAINTS" > "$constraints"
        if odoo_available; then
            PIP_CONSTRAINT=$constraints PIP_BUILD_CONSTRAINT=$constraints \
                "$VENV/bin/pip" install -q -r "$ODOO_SRC/requirements.txt"
        fi
        PIP_CONSTRAINT=$constraints PIP_BUILD_CONSTRAINT=$constraints \
            "$VENV/bin/pip" install -q -r "$ROOT/requirements.txt" -r "$ROOT/requirements-dev.txt"
        touch "$VENV/.complete"
    fi
    export PATH=$VENV/bin:$PATH
}

# --------------------------------------------------------------------------- PostgreSQL
pg_ready() { pg_isready -q 2>/dev/null; }

ensure_postgres() {
    if ! pg_ready; then
        if is_root && command -v pg_lsclusters >/dev/null; then
            # The packaged cluster runs as its owner (postgres), which pg_ctlcluster switches to.
            local cluster
            cluster=$(pg_lsclusters -h | awk 'NR==1 {print $1" "$2}')
            if [ -z "$cluster" ]; then
                local version; version=$(ls /usr/lib/postgresql | sort -n | tail -1)
                log "creating PostgreSQL cluster $version main"
                pg_createcluster "$version" main >/dev/null
                cluster="$version main"
            fi
            log "starting PostgreSQL cluster $cluster"
            # shellcheck disable=SC2086
            pg_ctlcluster $cluster start
        else
            start_private_cluster
        fi
        for _ in $(seq 30); do pg_ready && break; sleep 1; done
        pg_ready || die "PostgreSQL did not start"
    fi
    if is_root && [ -z "${PGHOST:-}" ]; then
        # Odoo refuses to connect as "postgres": give the calling user its own role.
        su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='$(whoami)'\"" | grep -q 1 \
            || su postgres -c "createuser -s $(whoami)"
    fi
}

start_private_cluster() {
    # Unprivileged user without a reachable server: a cluster of our own under the cache.
    local bindir; bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -n "$bindir" ] || die "PostgreSQL is not installed (apt-get install postgresql)"
    local data=$CACHE_DIR/pgdata
    export PGHOST=$CACHE_DIR/pgsocket PGPORT=${PGPORT:-5432}
    mkdir -p "$PGHOST"
    [ -f "$data/PG_VERSION" ] || "$bindir/initdb" -D "$data" -A trust -U "$(whoami)" >/dev/null
    log "starting a private PostgreSQL cluster in $data"
    "$bindir/pg_ctl" -D "$data" -l "$CACHE_DIR/postgres.log" -o "-k $PGHOST -c listen_addresses=''" start >/dev/null
}

# --------------------------------------------------------------------------- Odoo
ensure_addons_link() {
    mkdir -p "$ADDONS_LINK_DIR"
    ln -sfn "$ROOT" "$ADDONS_LINK_DIR/$MODULE"
}

odoo_bin() {
    local command=()
    case "${1:-}" in shell|server|db|neutralize) command=("$1"); shift ;; esac
    local args=(--addons-path="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$ADDONS_LINK_DIR"
                --data-dir="$CACHE_DIR/filestore")
    [ -n "${PGHOST:-}" ] && args+=(--db_host="$PGHOST")
    [ -n "${PGPORT:-}" ] && args+=(--db_port="$PGPORT")
    python "$ODOO_SRC/odoo-bin" "${command[@]}" "${args[@]}" "$@"
}

prepare_host() {
    ensure_odoo_src "${1:-}" || return 1
    ensure_debian_packages
    ensure_venv
    ensure_postgres
    ensure_addons_link
}

# --------------------------------------------------------------------------- results
PASSED=0 FAILED=0 SKIPPED=0
record() {  # record <passed> <failed> <skipped> <label>
    PASSED=$((PASSED + $1)) FAILED=$((FAILED + $2)) SKIPPED=$((SKIPPED + $3))
    log "$4: $1 passed, $2 failed, $3 skipped"
}
record_check() {  # record_check <label> <command...>: one check, passed when the command succeeds
    local label=$1; shift
    if "$@"; then record 1 0 0 "$label"; else record 0 1 0 "$label"; fi
}
record_junit() {  # record_junit <label> <junit.xml>
    local counts
    counts=$(python3 - "$2" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print("0 1 0"); sys.exit()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
total = sum(int(s.get("tests", 0)) for s in suites)
failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(total - failed - skipped, failed, skipped)
PY
)
    # shellcheck disable=SC2086
    record $counts "$1"
}

# --------------------------------------------------------------------------- static checks
static_checks() {
    cd "$ROOT"
    record_check "ruff" ruff check --quiet .
    # On the add-on as a package (through its link), so the manifest and XML checks apply.
    ensure_addons_link
    record_check "pylint-odoo (mandatory checks)" \
        pylint --rcfile=.pylintrc-mandatory --output-format=parseable "$ADDONS_LINK_DIR/$MODULE"
    record_check "XML well-formed" python3 tools/check_module.py xml
    record_check "manifest" python3 tools/check_module.py manifest
}

engine_tests() {
    cd "$ROOT"
    local report=$CACHE_DIR/junit-engine.xml
    rm -f "$report"
    PYTHONPATH=tests/engine python -m pytest -q -p no:cacheprovider -p no:odoo -p plain_dirs \
        tests/engine --junitxml="$report" || true
    record_junit "engine tests (tests/engine, no Odoo)" "$report"
}

# --------------------------------------------------------------------------- Odoo tests
TEST_DB=${TEST_DB:-${MODULE}_test}

install_test_database() {
    local logfile=$CACHE_DIR/install-$TEST_DB.log
    : > "$logfile"
    dropdb --if-exists "$TEST_DB" >/dev/null 2>&1 || true
    log "installing $MODULE (with demo data) into a fresh database $TEST_DB"
    odoo_bin -d "$TEST_DB" -i "$MODULE" --stop-after-init --without-demo= \
        --log-level=info --logfile="$logfile" --http-port="$HTTP_PORT" || true
    # Any ERROR, CRITICAL or WARNING of the install fails it (a few of Odoo's own notices excepted).
    local problems; problems=$(log_problems "$logfile")
    if [ -n "$problems" ] || ! grep -q "Modules loaded" "$logfile"; then
        log "install of $MODULE logged problems:"; echo "$problems" | head -40 >&2
        return 1
    fi
}

write_odoo_config() {
    ODOO_RC=$CACHE_DIR/$TEST_DB.conf
    {
        echo "[options]"
        echo "addons_path = $ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$ADDONS_LINK_DIR"
        echo "data_dir = $CACHE_DIR/filestore"
        echo "db_name = $TEST_DB"
        echo "dbfilter = ^$TEST_DB\$"
        [ -n "${PGHOST:-}" ] && echo "db_host = $PGHOST"
        [ -n "${PGPORT:-}" ] && echo "db_port = $PGPORT"
        echo "http_interface = 127.0.0.1"
    } > "$ODOO_RC"
}

module_tests() {
    write_odoo_config
    local report=$CACHE_DIR/junit-$TEST_DB.xml
    rm -f "$report"
    # Through the addons-path link, so that pytest-odoo names the test modules
    # odoo.addons.crm_opportunity_management.tests.*, whatever the clone's folder is called.
    # tools/pytest_odoo_test_mode.py imports Odoo's test framework in test mode before
    # pytest-odoo does (else Odoo logs an ERROR with a stack while nothing failed).
    local tests=$ADDONS_LINK_DIR/$MODULE/tests
    (cd "$CACHE_DIR" && PYTHONPATH=$ODOO_SRC:$ROOT/tools python -m pytest -q -p no:cacheprovider -p pytest_odoo_test_mode \
        --rootdir="$ADDONS_LINK_DIR/$MODULE" -c "$ADDONS_LINK_DIR/$MODULE/pyproject.toml" \
        --odoo-config="$ODOO_RC" --odoo-http --odoo-log-level=warn \
        --ignore="$tests/engine" --junitxml="$report" "$tests") || true
    record_junit "module tests (Odoo, pytest-odoo)" "$report"
}

odoo_suites() {  # Odoo's own crm and sale_crm suites, with this module installed
    local logfile=$CACHE_DIR/odoo-suites.log
    : > "$logfile"
    log "running Odoo's own crm and sale_crm suites with $MODULE installed"
    # the server computes its static paths at start: tools/test_addons/crm_om_test_statics says why
    odoo_bin -d "$TEST_DB" -u crm,sale_crm --test-enable --test-tags /crm,/sale_crm \
        --addons-path="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$ADDONS_LINK_DIR,$ROOT/tools/test_addons" \
        --load=base,web,crm_om_test_statics \
        --stop-after-init --log-level=test --logfile="$logfile" --http-port="$HTTP_PORT" || true
    local line
    line=$(grep -E "[0-9]+ failed, [0-9]+ error\(s\) of [0-9]+ tests" "$logfile" | tail -1)
    if [ -z "$line" ]; then
        log "Odoo's suites did not report a result (see $logfile)"; record 0 1 0 "Odoo crm + sale_crm suites"; return
    fi
    local failed errors total
    read -r failed errors total < <(echo "$line" | sed -E 's/.* ([0-9]+) failed, ([0-9]+) error\(s\) of ([0-9]+) tests.*/\1 \2 \3/')
    grep -E "^(FAIL|ERROR):|  FAIL: |ERROR: " "$logfile" | head -20 >&2 || true
    record $((total - failed - errors)) $((failed + errors)) 0 "Odoo crm + sale_crm suites"
}

log_problems() {  # log_problems <logfile>: the ERROR / CRITICAL / unexpected WARNING lines
    grep -E " (ERROR|CRITICAL|WARNING) " "$1" \
        | grep -vE "$(grep -v '^#' "$ROOT/tools/expected_warnings.txt" | paste -sd'|')" || true
}

install_uninstall_check() {
    # The module installs on a database where crm, sale_crm and account already hold
    # (demo) data, numbers the existing opportunities, and uninstalls cleanly.
    local db=${MODULE}_upgrade logfile=$CACHE_DIR/install-uninstall.log
    dropdb --if-exists "$db" >/dev/null 2>&1 || true
    : > "$logfile"
    odoo_bin -d "$db" -i crm,sale_crm,account --without-demo= --stop-after-init --log-level=warn \
        --logfile="$CACHE_DIR/install-base.log" || return 1
    odoo_bin -d "$db" -i "$MODULE" --without-demo= --stop-after-init --log-level=warn --logfile="$logfile" \
        || return 1
    odoo_bin shell -d "$db" --log-level=warn --logfile="$logfile" <<'PY' || return 1
leads = env["crm.lead"].with_context(active_test=False).search([])
assert leads and not leads.filtered(lambda lead: not lead.number), "every existing lead has a number"
assert not leads.filtered(lambda lead: lead.expected_revenue != lead.amount_net_company), "amounts consistent"
opportunities = leads.filtered(lambda lead: lead.type == "opportunity")
history = env["crm.lead.history"].search([("lead_id", "in", opportunities.ids)])
assert set(history.lead_id.ids) == set(opportunities.ids), "every existing opportunity has a history"
assert history.filtered("reconstructed"), "rebuilt from what Odoo kept"
env["ir.module.module"].search([("name", "=", "crm_opportunity_management")]).button_immediate_uninstall()
env.cr.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'crm_lead'"
               " AND column_name IN ('number', 'probability_level_id', 'amount_net_company')")
assert not env.cr.fetchall(), "columns dropped"
env.cr.execute("SELECT model FROM ir_model WHERE model LIKE 'crm.%%' AND model IN "
               "('crm.opportunity.type', 'crm.probability.level', 'crm.lead.line', 'crm.won.reason')")
assert not env.cr.fetchall(), "models removed"
env.cr.execute("SELECT name FROM ir_act_window WHERE view_mode LIKE '%%opportunity_map%%'")
assert not env.cr.fetchall(), "no action keeps the map view mode"
env.cr.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'crm_lead_board_%%'"
               " OR indexname = 'res_partner_crm_coordinates_index'")
assert not env.cr.fetchall(), "the module's indexes dropped"
env.cr.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'res_partner'"
               " AND column_name LIKE 'geocode_%%'")
assert not env.cr.fetchall(), "geocoding columns dropped"
print("install-uninstall: OK")
PY
    local problems; problems=$(log_problems "$logfile")
    [ -z "$problems" ] || { log "install / uninstall logged problems:"; echo "$problems" | head -20 >&2; return 1; }
    dropdb --if-exists "$db" >/dev/null 2>&1 || true
}

run_tests() {
    ensure_venv_for_static
    static_checks
    engine_tests
    if prepare_host_for_tests; then
        if install_test_database; then
            record 1 0 0 "install of $MODULE on a fresh database"
            module_tests
            if [ "${ODOO_SUITES:-1}" = 1 ]; then
                odoo_suites
                record_check "install on a database with crm data, then uninstall" install_uninstall_check
            fi
        else
            record 0 1 0 "install of $MODULE on a fresh database"
        fi
    else
        log "SKIPPED: the Odoo suites (no Odoo source at $ODOO_SRC and no archive at $ODOO_ARCHIVE)"
        record 0 0 1 "Odoo suites (no Odoo 18.0 available)"
    fi
    echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
    [ "$FAILED" -eq 0 ]
}

ensure_venv_for_static() {
    # Without Odoo the virtualenv still serves the static checks and the engine tests.
    ensure_odoo_src || true
    ensure_debian_packages
    ensure_venv
}

prepare_host_for_tests() {
    odoo_available || return 1
    ensure_postgres
    ensure_addons_link
}

run_bench() {
    cd "$ROOT/bench"
    # shellcheck disable=SC2086
    python run_all.py "--addons-path=$ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$ADDONS_LINK_DIR" \
        "--data-dir=$CACHE_DIR/filestore" ${BENCH_ARGS:-}
}

run_load_check() {
    cd "$ROOT"
    # shellcheck disable=SC2086
    python tools/load_check.py "--addons-path=$ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$ADDONS_LINK_DIR" \
        "--data-dir=$CACHE_DIR/filestore-load" ${LOAD_ARGS:-}
}

run_server() {
    prepare_host clone || die "no Odoo 18.0 at $ODOO_SRC, no archive at $ODOO_ARCHIVE, and cloning failed"
    if ! psql -lqt | cut -d'|' -f1 | grep -qw "$DB_NAME"; then
        log "creating database $DB_NAME with $MODULE and its demo data (login admin / admin)"
        odoo_bin -d "$DB_NAME" -i "$MODULE" --without-demo= --stop-after-init --log-level=warn
    else
        log "updating $MODULE in database $DB_NAME"
        odoo_bin -d "$DB_NAME" -u "$MODULE" --stop-after-init --log-level=warn
    fi
    log "Odoo at http://localhost:$HTTP_PORT/odoo (login admin / admin)"
    exec_odoo_server
}

exec_odoo_server() {
    odoo_bin -d "$DB_NAME" --db-filter="^$DB_NAME\$" --http-port="$HTTP_PORT" "$@"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-}" in
        run) run_server ;;
        test) run_tests ;;
        host) prepare_host clone ;;
        odoo-suites) prepare_host && odoo_suites && echo "$PASSED passed, $FAILED failed, $SKIPPED skipped" ;;
        install-uninstall) prepare_host && install_uninstall_check ;;
        replica-check)
            shift
            ensure_odoo_src || die "no Odoo 18.0 at $ODOO_SRC nor archive at $ODOO_ARCHIVE"
            ensure_debian_packages && ensure_venv && ensure_addons_link
            ODOO_SRC=$ODOO_SRC ADDONS_PATH="$ODOO_SRC/addons,$ODOO_SRC/odoo/addons,$ADDONS_LINK_DIR" \
                python "$ROOT/tools/replica_check.py" "$@" ;;
        bench) prepare_host && run_bench ;;
        load-check) prepare_host && run_load_check ;;
        *) echo "usage: $0 run|test|host|odoo-suites|replica-check|bench|load-check" >&2; exit 2 ;;
    esac
fi
