"""Training time of the project's Rasa model on the full knowledge base, for `make bench`.

Trains `config.yml` on the assembled training data into a temporary directory (the shared
`models/` is left alone, so the run measures a cold training whatever is cached) and reports
the wall time with the settings that drive it: DIET's epochs and transformer layers, and the
number of training examples. The accuracy of the same model is the accuracy part of the bench.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Dict

import yaml

from common.settings import ROOT
from tools.train import BUILD, ensure_model

# The target for a cold training on 2 cores.
TARGET_S = 180.0


def diet_settings(config: Path) -> Dict[str, Any]:
    """DIET's epochs and transformer layers as `config` sets them (Rasa's defaults otherwise)."""
    pipeline = yaml.safe_load(config.read_text(encoding="utf-8")).get("pipeline") or []
    diet = next((c for c in pipeline if c.get("name") == "DIETClassifier"), {})
    return {"epochs": diet.get("epochs", 300), "transformer_layers": diet.get("number_of_transformer_layers", 2)}


def count_examples(build_dir: Path = BUILD) -> int:
    """NLU examples in the assembled training data (after `ensure_model` assembled it)."""
    total = 0
    for path in (build_dir / "data").glob("*.yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            total += sum(1 for line in str(block.get("examples", "")).splitlines() if line.strip().startswith("- "))
    return total


def measure(config: Path = ROOT / "config.yml") -> Dict[str, Any]:
    """Trains once from scratch and returns the wall time with the settings behind it."""
    with tempfile.TemporaryDirectory(prefix="bench-train-") as out:
        started = time.monotonic()
        ensure_model(config=config, out=Path(out), force=True)
        seconds = time.monotonic() - started
    return {"seconds": seconds, "examples": count_examples(), "target_s": TARGET_S, **diet_settings(config)}


def print_figures(figures: Dict[str, Any]) -> None:
    print(
        f"\ntraining the full model (cold, {figures['examples']} NLU examples, DIET {figures['epochs']} epochs, "
        f"{figures['transformer_layers']} transformer layers): {figures['seconds']:.0f} s "
        f"(target <= {figures['target_s']:.0f} s)"
    )
