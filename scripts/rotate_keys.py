#!/usr/bin/env python3
"""Advance the signing-key lifecycle: the cron entry point for operators.

Runs exactly the code of ``issuer keys rotate`` (same options: ``--dry-run``, ``--now``,
``--force``; same output and exit status), from any working directory:

    */5 * * * *  /srv/issuer/.venv/bin/python /srv/issuer/scripts/rotate_keys.py

It works from the repository root, like ``scripts/serve``, so relative defaults such as
``sqlite:///var/issuer.db`` name the same files the server uses.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(argv: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    from issuer.cli import main

    main(["keys", "rotate", *argv], prog_name="rotate_keys.py")


if __name__ == "__main__":
    run(sys.argv[1:])
