"""The e-licence registry (电子证照库): identity and property certificates for 零证办电.

With the resident's consent, staff fetch the identity and the property certificate of the
supply address from the government's e-licence library instead of asking for paper (seed
002: "name and ID number are enough"). The case API asks through the small `Registry`
interface:

- `LocalRegistry`: tables in the cases database seeded from `registry_seed.yml` (fictional
  residents); the default, for development, tests and demos. It stands for an outside
  system, so it opens its own short sessions rather than joining the caller's transaction.
- `HttpRegistry`: a real registry (or an adapter in front of one) at `REGISTRY_URL`, with
  the JSON contract documented in cases/README.md.

A registry that does not answer never blocks an application: the case gets pending items
for staff to check by hand.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Protocol

import httpx
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cases.models import RegistryPerson, RegistryProperty
from common.address import Address, parse_address
from common.crypto import FieldCipher
from common.db import session_scope
from common.identity import normalize_id

logger = logging.getLogger(__name__)
SEED_FILE = Path(__file__).with_name("registry_seed.yml")


class RegistryUnavailable(RuntimeError):
    """The registry did not answer; the case records items for staff instead."""


@dataclass(frozen=True)
class PropertyCertificate:
    number: str
    address: str


class Registry(Protocol):
    """What the case API asks the e-licence registry."""

    def identity_matches(self, name: str, id_number: str) -> bool:
        """Whether the registry holds an identity with this ID number and this name."""
        ...

    def property_certificate(self, id_number: str, address: Address) -> Optional[PropertyCertificate]:
        """The property certificate of `address` held by the owner with this ID number, if any."""
        ...


def address_key(address: Address) -> str:
    """The comparable form of an address: province, city, district and detail, no spaces."""
    return address.display().replace(" ", "")


class LocalRegistry:
    """The registry of fictional residents in the cases database."""

    def __init__(self, sessions: sessionmaker, cipher: FieldCipher):
        self._sessions = sessions
        self._cipher = cipher

    def identity_matches(self, name: str, id_number: str) -> bool:
        with session_scope(self._sessions) as session:
            person = session.execute(
                select(RegistryPerson).where(RegistryPerson.id_fingerprint == self._cipher.fingerprint(id_number))
            ).scalar_one_or_none()
            return person is not None and self._cipher.decrypt(person.name_enc) == name.strip()

    def property_certificate(self, id_number: str, address: Address) -> Optional[PropertyCertificate]:
        with session_scope(self._sessions) as session:
            row = session.execute(
                select(RegistryProperty).where(
                    RegistryProperty.owner_fingerprint == self._cipher.fingerprint(id_number),
                    RegistryProperty.address_key == address_key(address),
                )
            ).scalar_one_or_none()
            return PropertyCertificate(row.certificate_no, row.address_key) if row else None


class HttpRegistry:
    """A registry over HTTP: `POST {url}/identity/match` and `POST {url}/property/lookup`."""

    def __init__(self, base_url: str, timeout_s: float = 5.0, client: Optional[httpx.Client] = None):
        self._base = base_url.rstrip("/")
        self._http = client or httpx.Client(timeout=timeout_s)

    def _post(self, path: str, body: Dict[str, Any]) -> Dict[str, Any]:
        try:
            response = self._http.post(f"{self._base}{path}", json=body)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("registry %s failed: %s", path, type(exc).__name__)
            raise RegistryUnavailable(path) from exc
        if not isinstance(data, dict):
            raise RegistryUnavailable(f"{path}: unexpected answer")
        return data

    def identity_matches(self, name: str, id_number: str) -> bool:
        return bool(self._post("/identity/match", {"name": name, "id_number": id_number}).get("match"))

    def property_certificate(self, id_number: str, address: Address) -> Optional[PropertyCertificate]:
        data = self._post("/property/lookup", {"id_number": id_number, "address": address.as_dict()})
        certificate = data.get("certificate")
        if not isinstance(certificate, dict) or not certificate.get("number"):
            return None
        return PropertyCertificate(str(certificate["number"]), str(certificate.get("address") or ""))

    def close(self) -> None:
        self._http.close()


def _seed_entries(path: Path) -> Dict[str, List[Dict[str, Any]]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {"people": list(data.get("people") or []), "properties": list(data.get("properties") or [])}


def seed_local_registry(*, session: Session, cipher: FieldCipher, path: Path = SEED_FILE) -> int:
    """Loads the seed file's people and properties (idempotent); returns the rows added."""
    entries = _seed_entries(path)
    added = 0
    for index, person in enumerate(entries["people"]):
        try:
            fingerprint = cipher.fingerprint(normalize_id(str(person["id_number"])))
            name = str(person["name"]).strip()
        except KeyError as exc:
            raise ValueError(f"{path}: people[{index}] needs {exc.args[0]}") from exc
        exists = session.execute(
            select(RegistryPerson.id).where(RegistryPerson.id_fingerprint == fingerprint)
        ).first()
        if not exists:
            session.add(RegistryPerson(id_fingerprint=fingerprint, name_enc=cipher.encrypt(name)))
            added += 1
    for index, item in enumerate(entries["properties"]):
        try:
            owner = cipher.fingerprint(normalize_id(str(item["owner_id_number"])))
            parsed = parse_address(str(item["address"]))
            number = str(item["certificate_no"])
        except KeyError as exc:
            raise ValueError(f"{path}: properties[{index}] needs {exc.args[0]}") from exc
        if parsed is None:
            raise ValueError(f"{path}: properties[{index}].address cannot be parsed")
        key = address_key(parsed)
        exists = session.execute(
            select(RegistryProperty.id).where(
                RegistryProperty.owner_fingerprint == owner, RegistryProperty.address_key == key
            )
        ).first()
        if not exists:
            session.add(RegistryProperty(owner_fingerprint=owner, address_key=key, certificate_no=number))
            added += 1
    return added
