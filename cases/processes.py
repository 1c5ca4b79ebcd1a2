"""Which connection process a case follows, from `cases/processes.yml`.

The business rules (stages, time limits, voltage thresholds, and the seed each figure comes
from) are data so that a regional figure changes with one edit. This module loads and checks
that file into typed objects and chooses the process for an address, customer type and
capacity. It is pure: the caller computes the deadline with `cases.workdays`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import yaml

from common.address import Address

PROCESSES_FILE = Path(__file__).with_name("processes.yml")
LOCALES = ("zh_Hans", "zh_Hant", "en")
CUSTOMER_TYPES = ("resident", "lv_business", "hv")
VOLTAGES = ("low", "high")
WAITS_ON = ("utility", "customer")


class ProcessFileError(ValueError):
    """processes.yml is malformed (the message names the file and the field)."""


class NoProcess(LookupError):
    """No process is defined for the address's region (outside every listed province)."""


@dataclass(frozen=True)
class Stage:
    key: str
    names: Mapping[str, str]
    waits_on: str

    def as_dict(self) -> Dict[str, Any]:
        return {"key": self.key, "names": dict(self.names), "waits_on": self.waits_on}


@dataclass(frozen=True)
class Process:
    key: str
    voltage: str
    time_limit_working_days: int
    stages: Tuple[Stage, ...]
    source: str
    verified: bool
    customer_types: Tuple[str, ...] = CUSTOMER_TYPES
    zero_investment: Optional[bool] = None
    # Working days a case may stay at each stage but the last (reaching the last completes it).
    stage_limits: Tuple[int, ...] = ()

    def stage_dicts(self) -> List[Dict[str, Any]]:
        """The stages as the Case JSON snapshots them, each with its time limit (None for the last)."""
        limits = list(self.stage_limits or split_limit(self.time_limit_working_days, len(self.stages) - 1))
        return [
            {**stage.as_dict(), "time_limit_working_days": limits[index] if index < len(limits) else None}
            for index, stage in enumerate(self.stages)
        ]

    def matches(self, voltage: str, customer_type: str, zero_investment: bool) -> bool:
        return (
            self.voltage == voltage
            and customer_type in self.customer_types
            and (self.zero_investment is None or self.zero_investment == zero_investment)
        )


@dataclass(frozen=True)
class Region:
    key: str
    name: str
    province: str
    city: Optional[str]
    processes: Tuple[Process, ...]
    low_voltage_max_kw: Optional[float] = None
    zero_investment_max_kw: Optional[float] = None
    central_districts: Tuple[str, ...] = ()
    central_low_voltage_max_kw: Optional[float] = None


@dataclass(frozen=True)
class Choice:
    """The process chosen for an application, with the facts that decided it."""

    region: Region
    process: Process
    voltage: str
    customer_type: str
    zero_investment: bool
    low_voltage_max_kw: float

    def process_dict(self) -> Dict[str, Any]:
        """The `process` object of the Case JSON."""
        return {
            "key": self.process.key,
            "region": self.region.name,
            "voltage": self.voltage,
            "time_limit_working_days": self.process.time_limit_working_days,
            "source": self.process.source,
            "verified": self.process.verified,
        }


@dataclass(frozen=True)
class Catalog:
    """Every region and stage of processes.yml."""

    stages: Mapping[str, Stage]
    regions: Tuple[Region, ...]
    default_low_voltage_max_kw: float

    def choose(self, address: Address, customer_type: str, capacity_kw: float) -> Choice:
        """The process for an application at `address` (raises `NoProcess` outside the regions)."""
        candidates = self._regions_for(address)
        if not candidates:
            raise NoProcess(address.province)
        threshold = self._low_voltage_max(candidates, address)
        high = customer_type == "hv" or capacity_kw > threshold
        voltage = "high" if high else "low"
        effective_type = "hv" if high else customer_type
        zero_max = next((r.zero_investment_max_kw for r in candidates if r.zero_investment_max_kw), threshold)
        zero_investment = not high and capacity_kw <= zero_max
        for region in candidates:
            for process in region.processes:
                if process.matches(voltage, effective_type, zero_investment):
                    return Choice(region, process, voltage, effective_type, zero_investment, threshold)
        raise NoProcess(f"{address.province} {voltage} {effective_type}")

    def process(self, key: str) -> Optional[Process]:
        """The process with this key (None when processes.yml no longer has it)."""
        return next((p for r in self.regions for p in r.processes if p.key == key), None)

    def _regions_for(self, address: Address) -> List[Region]:
        """The city's region first (when listed), then its province's default."""
        city = [r for r in self.regions if r.city and r.city == address.city and r.province == address.province]
        province = [r for r in self.regions if not r.city and r.province == address.province]
        return city + province

    def _low_voltage_max(self, candidates: List[Region], address: Address) -> float:
        for region in candidates:
            if region.central_low_voltage_max_kw and address.district in region.central_districts:
                return region.central_low_voltage_max_kw
            if region.low_voltage_max_kw:
                return region.low_voltage_max_kw
        return self.default_low_voltage_max_kw


def split_limit(total: int, count: int) -> Tuple[int, ...]:
    """An even split of `total` working days over `count` stages (the remainder to the last)."""
    if count <= 0:
        return ()
    share = total // count
    return tuple([share] * (count - 1) + [total - share * (count - 1)])


def _stage_limits(raw: Any, keys: List[str], total: int, where: str) -> Tuple[int, ...]:
    """Working days of every stage but the last (which completes the case)."""
    timed = keys[:-1]
    if raw is None:
        return split_limit(total, len(timed))
    if not isinstance(raw, dict) or sorted(raw) != sorted(timed):
        raise ProcessFileError(f"{where}.stage_limits: must give every stage but the last, and only those")
    values = [raw[key] for key in timed]
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in values):
        raise ProcessFileError(f"{where}.stage_limits: must be whole numbers of days")
    if sum(values) != total:
        raise ProcessFileError(f"{where}.stage_limits: sum {sum(values)} differs from time_limit_working_days {total}")
    return tuple(values)


def _require(mapping: Mapping[str, Any], name: str, where: str) -> Any:
    if name not in mapping or mapping[name] in (None, ""):
        raise ProcessFileError(f"{where}: `{name}` is required")
    return mapping[name]


def _stage(key: str, raw: Any, where: str) -> Stage:
    if not isinstance(raw, dict):
        raise ProcessFileError(f"{where}: expected a mapping")
    names = _require(raw, "names", where)
    missing = [locale for locale in LOCALES if not isinstance(names, dict) or not names.get(locale)]
    if missing:
        raise ProcessFileError(f"{where}.names: missing {', '.join(missing)}")
    waits_on = raw.get("waits_on", "utility")
    if waits_on not in WAITS_ON:
        raise ProcessFileError(f"{where}.waits_on: must be one of {', '.join(WAITS_ON)}")
    return Stage(key=key, names={locale: str(names[locale]) for locale in LOCALES}, waits_on=waits_on)


def _process(raw: Any, stages: Mapping[str, Stage], where: str) -> Process:
    if not isinstance(raw, dict):
        raise ProcessFileError(f"{where}: expected a mapping")
    voltage = _require(raw, "voltage", where)
    if voltage not in VOLTAGES:
        raise ProcessFileError(f"{where}.voltage: must be low or high")
    keys = _require(raw, "stages", where)
    unknown = [key for key in keys if key not in stages]
    if unknown:
        raise ProcessFileError(f"{where}.stages: unknown stage {', '.join(map(str, unknown))}")
    limit = _require(raw, "time_limit_working_days", where)
    if not isinstance(limit, int) or limit < 0:
        raise ProcessFileError(f"{where}.time_limit_working_days: must be a whole number of days")
    types = tuple(raw.get("customer_types") or CUSTOMER_TYPES)
    if any(t not in CUSTOMER_TYPES for t in types):
        raise ProcessFileError(f"{where}.customer_types: must be among {', '.join(CUSTOMER_TYPES)}")
    return Process(
        key=str(_require(raw, "key", where)),
        voltage=voltage,
        time_limit_working_days=limit,
        stages=tuple(stages[key] for key in keys),
        source=str(_require(raw, "source", where)),
        verified=bool(raw.get("verified", False)),
        customer_types=types,
        zero_investment=raw.get("zero_investment"),
        stage_limits=_stage_limits(raw.get("stage_limits"), list(keys), limit, where),
    )


def _region(raw: Any, stages: Mapping[str, Stage], where: str) -> Region:
    if not isinstance(raw, dict):
        raise ProcessFileError(f"{where}: expected a mapping")
    central = raw.get("central_urban") or {}
    processes = tuple(
        _process(item, stages, f"{where}.processes[{index}]") for index, item in enumerate(raw.get("processes") or [])
    )
    return Region(
        key=str(_require(raw, "key", where)),
        name=str(_require(raw, "name", where)),
        province=str(_require(raw, "province", where)),
        city=raw.get("city"),
        processes=processes,
        low_voltage_max_kw=raw.get("low_voltage_max_kw"),
        zero_investment_max_kw=raw.get("zero_investment_max_kw"),
        central_districts=tuple(central.get("districts") or ()),
        central_low_voltage_max_kw=central.get("low_voltage_max_kw"),
    )


def parse_catalog(data: Any, source: str = "<data>") -> Catalog:
    """Checks the processes.yml structure and builds the catalog."""
    if not isinstance(data, dict):
        raise ProcessFileError(f"{source}: expected a mapping")
    raw_stages = _require(data, "stages", source)
    stages = {key: _stage(key, value, f"{source}: stages.{key}") for key, value in raw_stages.items()}
    raw_regions = _require(data, "regions", source)
    regions = tuple(_region(item, stages, f"{source}: regions[{index}]") for index, item in enumerate(raw_regions))
    keys = [p.key for r in regions for p in r.processes]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ProcessFileError(f"{source}: duplicate process key {', '.join(duplicates)}")
    return Catalog(
        stages=stages,
        regions=regions,
        default_low_voltage_max_kw=float(data.get("default_low_voltage_max_kw", 100)),
    )


def load_catalog(path: Path = PROCESSES_FILE) -> Catalog:
    """Reads processes.yml (at start-up, never on import)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ProcessFileError(f"{path}: cannot read: {exc}") from exc
    return parse_catalog(data, str(path))
