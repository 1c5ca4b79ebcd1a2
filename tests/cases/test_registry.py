"""Zero documents: the e-licence registry's identity and property answers on creation."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from cases.app import build_app
from cases.registry import PropertyCertificate, RegistryUnavailable
from common.address import Address
from tests.cases.conftest import CHEN, HUANG, STAFF, WANG, Clock, application, make_settings, new_key, staff_client


def test_identity_and_property_found(create: Callable[..., Dict[str, Any]]) -> None:
    for person in (CHEN, WANG):
        case = create(person)
        assert case["documents"] == {"identity": "verified", "property": "verified"}
        assert case["pending_items"] == []


def test_missing_property_adds_online_approval_without_blocking(create: Callable[..., Dict[str, Any]]) -> None:
    case = create(HUANG)  # in the registry, owns no property there
    assert case["status"] == "open"
    assert case["documents"] == {"identity": "verified", "property": "pending_online_approval"}
    assert [(i["kind"], i["status"]) for i in case["pending_items"]] == [("property_online_approval", "pending")]
    assert "4.5" in case["pending_items"][0]["note"]


def test_property_of_someone_else_is_not_theirs(create: Callable[..., Dict[str, Any]]) -> None:
    case = create(HUANG, address=CHEN["address"])
    assert case["documents"]["property"] == "pending_online_approval"


def test_unknown_identity_adds_identity_review(create: Callable[..., Dict[str, Any]]) -> None:
    case = create(CHEN, name="陈海")  # right ID, wrong name
    assert case["documents"] == {"identity": "not_found", "property": "verified"}
    assert [i["kind"] for i in case["pending_items"]] == ["identity_review"]
    unknown = create({"name": "赵六", "id_number": "110101199003070070", "address": CHEN["address"]})
    assert unknown["documents"] == {"identity": "not_found", "property": "pending_online_approval"}
    assert [i["kind"] for i in unknown["pending_items"]] == ["identity_review", "property_online_approval"]


class _DownRegistry:
    def identity_matches(self, name: str, id_number: str) -> bool:
        raise RegistryUnavailable("down")

    def property_certificate(self, id_number: str, address: Address) -> Optional[PropertyCertificate]:
        raise RegistryUnavailable("down")


def test_an_unavailable_registry_does_not_block(tmp_path: Path, clock: Clock) -> None:
    with staff_client(build_app(make_settings(tmp_path), registry=_DownRegistry(), clock=clock)) as client:
        response = client.post("/cases", json=application(CHEN), headers={**new_key(), **STAFF})
    assert response.status_code == 201
    case = response.json()
    assert case["documents"] == {"identity": "not_found", "property": "pending_online_approval"}
    assert {i["kind"] for i in case["pending_items"]} == {"identity_review", "property_online_approval"}


def test_http_registry_contract(tmp_path: Path, clock: Clock, json_server: Callable[..., str]) -> None:
    """HttpRegistry speaks the small JSON contract of cases/README.md."""
    seen: Dict[str, Any] = {}

    def answer(path: str, body: Dict[str, Any]) -> Dict[str, Any]:
        seen[path] = body
        if path == "/identity/match":
            return {"match": body == {"name": "测试", "id_number": CHEN["id_number"]}}
        return {"certificate": {"number": "X-1", "address": body["address"]["text"]}}

    settings = dataclasses.replace(make_settings(tmp_path), registry_url=json_server(answer))
    with staff_client(build_app(settings, clock=clock)) as client:
        case = client.post("/cases", json=application(CHEN, name="测试"), headers=new_key()).json()
    assert case["documents"] == {"identity": "verified", "property": "verified"}
    assert seen["/property/lookup"]["address"]["district"] == "赤坎区"


def test_the_seed_residents_are_valid_adults_listed_in_the_readme() -> None:
    import yaml

    from cases.registry import SEED_FILE
    from common.identity import parse_id_number
    from common.settings import ROOT

    seed = yaml.safe_load(SEED_FILE.read_text(encoding="utf-8"))
    readme = (ROOT / "cases" / "README.md").read_text(encoding="utf-8")
    for person in seed["people"]:
        assert parse_id_number(person["id_number"]).value == person["id_number"]
        assert f"| {person['name']} | {person['id_number']} |" in readme
    for item in seed["properties"]:
        assert item["address"] in readme
