"""
Run Carl Gold's ChurnSim (github.com/carl24k/fight-churn, fightchurn/churnsim, commit 1310fc7)
WITHOUT PostgreSQL (written by a helper for churnrisk's benchmarks).  The book's code is imported
unmodified from $FIGHT_CHURN_SRC (a checkout of the repository); the only changes are
made here, at runtime:

  * `psycopg2` and `postgres` are replaced (sys.modules) by tiny stand-ins.  The simulator's own code path is
    unchanged: it still writes each customer's rows to its temp CSV and calls `cursor.copy_expert("COPY
    <schema>.subscription|event FROM STDIN ...", file)`; the stand-in appends that file's content to
    <out>/raw/subscription.csv | event.csv instead of loading it into Postgres.  `INSERT INTO <schema>.account`
    and `INSERT into <schema>.event_type` statements are parsed into raw/account.csv and raw/event_type.csv.
    Schema create/drop statements are no-ops; `db.one()` returns None ("schema / event type not present"),
    `db.all()` (only used by the end-of-run churn_by_plan debug query) returns [].
  * `boto3` / `botocore` (imported by churncloud.py, used only for S3 uploads in live mode) are stubbed.
  * tempfile.tempdir is set to <out>/tmp so the customer-id counter file and per-customer temp CSVs of
    concurrently running seeds do not collide (the simulator keeps them in the system temp dir).
  * CHURN_OUT_DIR is set to <out>/churn_out (the simulator copies its config/plan files there).

Configuration (socialnet7, the repository default) is passed as Hydra overrides on the command line, exactly as
`python -m fightchurn.churnsim.churnsim key=value ...` would take them.
"""
import argparse
import os
import re
import sys
import tempfile
import types

SRC = os.environ.get('FIGHT_CHURN_SRC', 'fight-churn')

ap = argparse.ArgumentParser()
ap.add_argument('--out', required=True)
ap.add_argument('overrides', nargs='*', help='Hydra overrides, e.g. random_seed=1 init_customers=5000')
a = ap.parse_args()

OUT = os.path.abspath(a.out)
RAW = os.path.join(OUT, 'raw')
TMP = os.path.join(OUT, 'tmp')
for d in (OUT, RAW, TMP):
    os.makedirs(d, exist_ok=True)
for f in ('event.csv', 'subscription.csv', 'account.csv', 'event_type.csv'):
    p = os.path.join(RAW, f)
    if os.path.exists(p):
        os.remove(p)
for f in os.listdir(TMP):
    os.remove(os.path.join(TMP, f))
os.environ['TMPDIR'] = TMP
tempfile.tempdir = TMP
os.environ['CHURN_OUT_DIR'] = os.path.join(OUT, 'churn_out')
# the simulator reads these in its (stubbed) connection code; values are irrelevant
os.environ.setdefault('CHURN_DB', 'none')
os.environ.setdefault('CHURN_DB_USER', 'none')
os.environ.setdefault('CHURN_DB_PASS', 'none')


# ---------------------------------------------------------------- database stand-ins
def _append(name, text):
    with open(os.path.join(RAW, name), 'a') as fh:
        fh.write(text)


class _FakeCursor:
    def copy_expert(self, sql, f):
        m = re.search(r'COPY\s+\w+\.(\w+)\s+FROM', sql, re.I)
        table = m.group(1)
        if table not in ('event', 'subscription'):
            raise ValueError(f'unexpected COPY target {table}')
        _append(f'{table}.csv', f.read())


class _FakeConn:
    def cursor(self):
        return _FakeCursor()

    def commit(self):
        pass

    def close(self):
        pass


psycopg2 = types.ModuleType('psycopg2')
psycopg2.connect = lambda *args, **kw: _FakeConn()
sys.modules['psycopg2'] = psycopg2

_ACCOUNT_RE = re.compile(r"INSERT INTO \w+\.account VALUES\((\d+),'([^']*)','([^']*)',(NULL|'[^']*')\)")
_ETYPE_RE = re.compile(r"INSERT into \w+\.event_type VALUES \((\d+),'([^']*)'\);")


class Postgres:
    def __init__(self, *args, **kw):
        pass

    def run(self, sql, *args, **kw):
        m = _ACCOUNT_RE.match(sql)
        if m:
            country = m.group(4)
            country = '' if country == 'NULL' else country.strip("'")
            _append('account.csv', f'{m.group(1)},{m.group(2)},{m.group(3)},{country}\n')
            return
        m = _ETYPE_RE.match(sql)
        if m:
            _append('event_type.csv', f'{m.group(1)},{m.group(2)}\n')
            return
        # CREATE/DROP SCHEMA, CREATE TABLE ...: nothing to do without a database

    def one(self, sql, *args, **kw):
        return None

    def all(self, sql, *args, **kw):
        return []


postgres = types.ModuleType('postgres')
postgres.Postgres = Postgres
sys.modules['postgres'] = postgres

boto3 = types.ModuleType('boto3')
botocore = types.ModuleType('botocore')
botocore_exc = types.ModuleType('botocore.exceptions')
botocore_exc.ClientError = type('ClientError', (Exception,), {})
botocore.exceptions = botocore_exc
sys.modules.update({'boto3': boto3, 'botocore': botocore, 'botocore.exceptions': botocore_exc})

# ---------------------------------------------------------------- run the book's simulator
sys.path.insert(0, SRC)
os.chdir(OUT)
from fightchurn.churnsim import churnsim  # noqa: E402

sys.argv = ['churnsim'] + a.overrides
churnsim.run_churn_simulation()
