"""Exit 0 when the test PostgreSQL server answers, else say why on stderr and exit 1."""

import os
import sys

URL = os.environ.get("ISSUER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

try:
    import psycopg

    psycopg.connect(URL, connect_timeout=3).close()
except Exception as exc:  # any failure means "not usable for tests"; say which
    print(f"PostgreSQL at {URL.rsplit('@', 1)[-1]}: {type(exc).__name__}: {exc}".strip(),
          file=sys.stderr)
    sys.exit(1)
