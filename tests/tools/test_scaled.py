"""The scaled-out profile's wiring (tools/scaled.py), without starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.scaled import ScaledPorts, ScaledStack
from tools.services import Ports, Stack


def test_each_rasa_gets_both_action_servers_its_own_first(tmp_path: Path) -> None:
    ports = ScaledPorts(gateways=(18080, 18081), rasa=(15005, 15006), actions=(15055, 15056), cases=18001)
    stack = ScaledStack(model=tmp_path / "model.tar.gz", scaled_ports=ports, var_dir=tmp_path)
    services = {service.name: service for service in stack.build()}
    one, two = "http://127.0.0.1:15055/webhook", "http://127.0.0.1:15056/webhook"
    assert services["rasa-1"].env["ACTION_SERVER_URLS"] == f"{one},{two}"
    assert services["rasa-2"].env["ACTION_SERVER_URLS"] == f"{two},{one}"
    assert [services[f"rasa-{n}"].env["ACTION_SERVER_URL"] for n in (1, 2)] == [one, two]


def test_the_single_stack_keeps_its_one_action_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTION_SERVER_URLS", "http://elsewhere:5055/webhook,http://other:5055/webhook")
    stack = Stack(model=tmp_path / "model.tar.gz", ports=Ports(actions=15055), var_dir=tmp_path)
    rasa = next(service for service in stack.build() if service.name == "rasa")
    assert rasa.env["ACTION_SERVER_URLS"] == ""
    assert rasa.env["ACTION_SERVER_URL"] == "http://127.0.0.1:15055/webhook"
