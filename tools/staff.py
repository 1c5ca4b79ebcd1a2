"""Staff accounts of the console: `python -m tools.staff add|list|disable`.

    .venv/bin/python -m tools.staff add alice [--role supervisor] < password-file
    .venv/bin/python -m tools.staff list
    .venv/bin/python -m tools.staff disable alice

`add` creates the account or resets its password (and role), reading the password from the
first line of standard input; on a terminal it is read without echo, so it never appears on
screen or in the shell history. Accounts live in the gateway database (`DATABASE_URL`);
passwords are hashed with argon2id (`bot/staff/auth.py`).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import List, Optional

from bot.staff import auth
from bot.staff.models import ROLES
from common import migrate
from common.db import make_engine, make_session_factory, session_scope
from common.settings import Settings


def read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("password: ")
    return sys.stdin.readline().rstrip("\r\n")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.staff", description="Staff accounts of the console.")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create an account or reset its password (password on stdin)")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, default="agent")
    commands.add_parser("list", help="list the accounts")
    disable = commands.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("username")
    args = parser.parse_args(argv)

    url = Settings.from_env().database_url
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    try:
        if args.command == "add":
            password = read_password()
            try:
                with session_scope(sessions) as session:
                    account = auth.set_account(args.username, password, args.role, session=session)
                    name, role = account.username, account.role
            except auth.AccountError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            print(f"account {name} ({role}) saved")
        elif args.command == "list":
            with session_scope(sessions) as session:
                for account in auth.list_accounts(session=session):
                    state = "disabled" if account.disabled else "enabled"
                    print(f"{account.username}\t{account.role}\t{state}")
        else:
            with session_scope(sessions) as session:
                found = auth.disable_account(args.username, session=session)
            if not found:
                print(f"error: no account {args.username}", file=sys.stderr)
                return 1
            print(f"account {args.username.strip().lower()} disabled")
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
