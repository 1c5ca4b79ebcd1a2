"""POST (and GET) /processes/preview and the choice of process, voltage and zero investment."""

from __future__ import annotations

from typing import Any, Dict

import pytest
from fastapi.testclient import TestClient

from cases.processes import ProcessFileError, load_catalog, parse_catalog

CHIKAN = "广东省湛江市赤坎区人民大道中28号"
WUCHENG = "浙江省金华市婺城区八一南街120号"


def _preview(client: TestClient, address: str, customer_type: str, capacity_kw: float) -> Dict[str, Any]:
    response = client.post(
        "/processes/preview", json={"address": address, "customer_type": customer_type, "capacity_kw": capacity_kw}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_get_and_post_previews_agree(client: TestClient) -> None:
    query = {"address": CHIKAN, "customer_type": "resident", "capacity_kw": 8}
    by_get = client.get("/processes/preview", params=query)
    assert by_get.status_code == 200 and by_get.json() == _preview(client, CHIKAN, "resident", 8)
    assert client.post("/processes/preview", json={**query, "capacity_kw": 0}).status_code == 422


@pytest.mark.parametrize(
    ("address", "customer_type", "capacity", "key", "voltage", "effective", "days", "verified", "zero", "lv_max"),
    [
        # 湛江 central district: low voltage up to 160 (kVA as kW).
        (CHIKAN, "lv_business", 150, "zhanjiang-low", "low", "lv_business", 8, True, True, 160),
        (CHIKAN, "lv_business", 161, "zhanjiang-high", "high", "hv", 40, True, False, 160),
        # 湛江 county: up to 100.
        ("湛江市遂溪县遂城镇中山路5号", "lv_business", 150, "zhanjiang-high", "high", "hv", 40, True, False, 100),
        ("湛江市遂溪县遂城镇中山路5号", "resident", 10, "zhanjiang-low", "low", "resident", 8, True, True, 100),
        ("浙江省金华市婺城区八一南街120号", "resident", 8, "jinhua-resident", "low", "resident", 5, True, True, 160),
        (WUCHENG, "lv_business", 100, "jinhua-low-zero", "low", "lv_business", 15, True, True, 160),
        ("浙江省金华市婺城区八一南街120号", "hv", 50, "jinhua-high", "high", "hv", 22, True, False, 160),
        ("广州市天河区天河北路233号", "hv", 800, "guangzhou-high", "high", "hv", 25, True, False, 100),
        ("广州市天河区天河北路233号", "resident", 8, "guangdong-low", "low", "resident", 8, False, True, 100),
        ("佛山市禅城区季华五路10号", "lv_business", 30, "foshan-low", "low", "lv_business", 1, True, True, 100),
        ("佛山市禅城区季华五路10号", "hv", 800, "guangdong-high", "high", "hv", 40, False, False, 100),
        ("杭州市西湖区文三路90号", "resident", 8, "zhejiang-resident", "low", "resident", 5, False, True, 100),
        ("杭州市西湖区文三路90号", "lv_business", 120, "zhejiang-high", "high", "hv", 22, False, False, 100),
    ],
)
def test_process_by_region_type_and_capacity(
    client: TestClient, address: str, customer_type: str, capacity: float, key: str, voltage: str,
    effective: str, days: int, verified: bool, zero: bool, lv_max: float,
) -> None:
    preview = _preview(client, address, customer_type, capacity)
    assert preview["process"]["key"] == key
    assert preview["process"]["voltage"] == preview["voltage"] == voltage
    assert preview["customer_type"] == effective
    assert preview["process"]["time_limit_working_days"] == days
    assert preview["process"]["verified"] is verified
    assert preview["zero_investment"] is zero
    assert preview["low_voltage_max_kw"] == lv_max
    assert preview["process"]["source"]
    if not verified:
        assert "borrows" in preview["process"]["source"]


def test_preview_lists_stages_and_deadline(client: TestClient) -> None:
    preview = _preview(client, "浙江省金华市婺城区八一南街120号", "hv", 500)
    assert [s["key"] for s in preview["stages"]] == ["acceptance", "supply_plan", "completion_inspection", "connection"]
    assert [s["waits_on"] for s in preview["stages"]] == ["utility", "utility", "customer", "utility"]
    assert [s["names"]["zh_Hans"] for s in preview["stages"]] == ["申请受理", "供电方案答复", "竣工检验", "装表接电"]
    # 22 working days after 2026-11-24 (no holiday on the way).
    assert (preview["deadline"], preview["deadline_basis"]) == ("2026-12-24", "statutory_calendar")


@pytest.mark.parametrize(("address", "reason"), [("湛江市", "vague"), ("北京市海淀区中关村大街1号", "outside_area")])
def test_a_bad_address_is_422(client: TestClient, address: str, reason: str) -> None:
    response = client.get(
        "/processes/preview", params={"address": address, "customer_type": "resident", "capacity_kw": 8}
    )
    assert response.status_code == 422
    assert response.json()["problems"] == [{"field": "address", "reason": reason}]


@pytest.mark.parametrize(
    "params",
    [{"customer_type": "resident", "capacity_kw": 8}, {"address": "湛江市赤坎区人民大道中28号", "capacity_kw": 8},
     {"address": "湛江市赤坎区人民大道中28号", "customer_type": "x", "capacity_kw": 8},
     {"address": "湛江市赤坎区人民大道中28号", "customer_type": "resident", "capacity_kw": -1}],
)
def test_missing_or_bad_parameters_are_422(client: TestClient, params: Dict[str, Any]) -> None:
    response = client.get("/processes/preview", params=params)
    assert response.status_code == 422
    assert response.json()["problems"]


def test_every_stage_has_three_names_and_every_process_a_source() -> None:
    catalog = load_catalog()
    for region in catalog.regions:
        for process in region.processes:
            assert process.source and process.stages
            assert process.verified or "borrows" in process.source
            for stage in process.stages:
                assert set(stage.names) == {"zh_Hans", "zh_Hant", "en"}


def test_a_process_naming_an_unknown_stage_is_refused() -> None:
    data = {
        "stages": {"a": {"names": {"zh_Hans": "甲", "zh_Hant": "甲", "en": "A"}}},
        "regions": [{"key": "r", "name": "R", "province": "广东省", "processes": [
            {"key": "p", "voltage": "low", "time_limit_working_days": 1, "stages": ["a", "b"], "source": "s"}]}],
    }
    with pytest.raises(ProcessFileError, match=r"regions\[0\].processes\[0\].stages: unknown stage b"):
        parse_catalog(data, "test.yml")
