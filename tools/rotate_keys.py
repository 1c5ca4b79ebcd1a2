"""`python -m tools.rotate_keys`: re-encrypt everything sealed under the current first keys.

Rotation, for the assistant (`DATA_ENCRYPTION_KEYS`) and the case API
(`CASE_DATA_ENCRYPTION_KEYS`, `CASE_FINGERPRINT_KEYS`) alike: put a new key first in the list,
keep the old one after it, restart the services (they read both), run this command, then
drop the old key. It rewrites, each database in one transaction:

- the application database: queued applications (`pending_applications.sealed_body`);
- Rasa's tracker store: every event (`events.data`), and inside it the form's sealed slot
  values (ID number, phone); events written before encryption was switched on get sealed;
- the case API's database: the applicant's name, ID number and phone of every case, with the
  ID fingerprint recomputed under the first fingerprint key, and the local e-licence
  registry (its fingerprints cannot be recomputed, having no plain ID: it is re-seeded from
  `cases/registry_seed.yml`).

A value no listed key can read is counted and left as it is (the command exits 1 and says
where): add the key it was written with and run again. `--legacy-key PASSPHRASE` prints the
Fernet key the code before key lists derived from a passphrase, to list it for a rotation.
Settings come from the environment, with `.env` filling what it does not set.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from common.crypto import DecryptionError, FieldCipher, assistant_cipher, case_cipher, legacy_key
from common.db import make_engine, make_session_factory, session_scope
from common.settings import ROOT, Settings
from tools import secrets_env

# A Fernet token: version byte 0x80 in URL-safe base64, as the form's sealed slots are.
FERNET_TOKEN = re.compile(r"gAAAAA[A-Za-z0-9_\-]{60,}={0,2}")


@dataclass
class Report:
    """Counts per `database.table.column`; unreadable values are what still needs a key."""

    rotated: Dict[str, int] = field(default_factory=dict)
    unreadable: Dict[str, int] = field(default_factory=dict)

    def count(self, where: str, ok: bool) -> None:
        target = self.rotated if ok else self.unreadable
        target[where] = target.get(where, 0) + 1

    def lines(self) -> List[str]:
        rows = [f"{where}: {n} re-encrypted" for where, n in sorted(self.rotated.items())]
        rows += [
            f"{where}: {n} UNREADABLE with the listed keys (left as is)" for where, n in sorted(self.unreadable.items())
        ]
        return rows or ["nothing sealed found"]


def _table(engine: Engine, name: str) -> Optional[sa.Table]:
    if not sa.inspect(engine).has_table(name):
        return None
    return sa.Table(name, sa.MetaData(), autoload_with=engine)


def _rewrite(
    engine: Engine, table_name: str, column: str, change: Callable[[str], str], report: Report, label: str
) -> None:
    """Applies `change` to every non-null value of `table.column`, one transaction."""
    table = _table(engine, table_name)
    if table is None:
        return
    pk, col = table.c.id, table.c[column]
    with engine.begin() as conn:
        for row_id, value in conn.execute(sa.select(pk, col).where(col.is_not(None))).all():
            try:
                new = change(value)
            except DecryptionError:
                report.count(f"{label}.{table_name}.{column}", False)
                continue
            conn.execute(sa.update(table).where(pk == row_id).values({column: new}))
            report.count(f"{label}.{table_name}.{column}", True)


def rotate_nested(text: str, cipher: FieldCipher) -> str:
    """`text` with every Fernet token inside it re-encrypted (the form's sealed slots)."""
    return FERNET_TOKEN.sub(lambda match: cipher.rotate(match.group(0)), text)


def rotate_app_db(url: str, cipher: FieldCipher, report: Report) -> None:
    engine = make_engine(url)
    try:
        _rewrite(engine, "pending_applications", "sealed_body", cipher.rotate, report, "app")
    finally:
        engine.dispose()


def rotate_tracker_store(url: str, cipher: FieldCipher, report: Report) -> None:
    def change(value: str) -> str:
        plain = value if value.lstrip().startswith("{") else cipher.decrypt(value)
        return cipher.encrypt(rotate_nested(plain, cipher))

    engine = make_engine(url)
    try:
        _rewrite(engine, "events", "data", change, report, "tracker")
    finally:
        engine.dispose()


def rotate_case_db(url: str, cipher: FieldCipher, report: Report) -> None:
    from cases.models import Case, RegistryPerson, RegistryProperty, create_tables  # noqa: PLC0415
    from cases.registry import seed_local_registry  # noqa: PLC0415

    engine = make_engine(url)
    try:
        create_tables(engine)
        sessions = make_session_factory(engine)
        with session_scope(sessions) as session:
            for case in session.execute(sa.select(Case)).scalars():
                try:
                    id_number = cipher.decrypt(case.id_number_enc)
                    case.name_enc, case.phone_enc = cipher.rotate(case.name_enc), cipher.rotate(case.phone_enc)
                    case.id_number_enc = cipher.rotate(case.id_number_enc)
                except DecryptionError:
                    report.count("cases.cases.applicant", False)
                    continue
                case.id_fingerprint = cipher.fingerprint(id_number)
                report.count("cases.cases.applicant", True)
            seeded = session.execute(sa.select(sa.func.count(RegistryPerson.id))).scalar_one()
            if seeded:
                session.execute(sa.delete(RegistryProperty))
                session.execute(sa.delete(RegistryPerson))
                session.flush()
                seed_local_registry(session=session, cipher=cipher)
                report.rotated["cases.registry (re-seeded)"] = seeded
    finally:
        engine.dispose()


def tracker_url(settings: Settings) -> str:
    path = os.environ.get("RASA_TRACKER_DB") or str(settings.var_dir / "rasa_tracker.db")
    return path if "://" in path else f"sqlite:///{path}"


def rotate_all(settings: Settings, *, tracker_db_url: Optional[str] = None) -> Report:
    report = Report()
    assistant = assistant_cipher(settings)
    rotate_app_db(settings.database_url, assistant, report)
    rotate_tracker_store(tracker_db_url or tracker_url(settings), assistant, report)
    rotate_case_db(settings.case_database_url, case_cipher(settings), report)
    return report


def _load_env_file(path: Path = secrets_env.ENV_FILE) -> None:
    """`.env`'s values where the environment has none (never generates: keys must be the old ones)."""
    for name, value in secrets_env.read(path).items():
        if not os.environ.get(name):
            os.environ[name] = value


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--legacy-key", metavar="PASSPHRASE", help="print the Fernet key derived from an old passphrase"
    )
    parser.add_argument("--tracker-db", help="Rasa's tracker store URL (default: RASA_TRACKER_DB)")
    args = parser.parse_args(argv)
    if args.legacy_key:
        print(legacy_key(args.legacy_key))
        return 0
    _load_env_file()
    os.chdir(ROOT)  # relative SQLite paths in .env.example are relative to the repository
    report = rotate_all(Settings.from_env(), tracker_db_url=args.tracker_db)
    print("\n".join(report.lines()))
    return 1 if report.unreadable else 0


if __name__ == "__main__":
    sys.exit(main())
