"""Assembles the Rasa training data and trains the model only when its inputs changed.

The training inputs are `config.yml`, `nlu/` (domain, examples, rules) and the FAQ data
generated from the knowledge files' ids and questions. Their content hash names the model
(`models/<hash>.tar.gz`), so an unchanged repository reuses the model and an answer-text
edit (which the model never sees) needs no retraining.

Usage: python -m tools.train [--config config.yml] [--out models] [--force]
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from common.scripts import normalize_for_nlu
from common.settings import DEV_SECRETS, ROOT
from knowledge.loader import load_entries
from knowledge.nlu_export import LiteralText, write_training_files

BUILD = ROOT / "build" / "training"


def assemble(build_dir: Path = BUILD) -> tuple[Path, Path]:
    """Copies nlu/ into the build directory and adds the generated FAQ files."""
    if build_dir.exists():
        shutil.rmtree(build_dir)
    data_dir, domain_dir = build_dir / "data", build_dir / "domain"
    shutil.copytree(ROOT / "nlu" / "data", data_dir)
    shutil.copytree(ROOT / "nlu" / "domain", domain_dir)
    for path in sorted(data_dir.glob("*.yml")):
        normalize_examples(path)
    entries = load_entries(ROOT / "knowledge")
    write_training_files(entries, data_dir, domain_dir)
    return data_dir, domain_dir


def normalize_examples(path: Path) -> None:
    """Rewrites NLU examples in the form live messages reach the model (Simplified script,
    Cantonese words in Mandarin), dropping examples that become duplicates."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "nlu" not in data:
        return
    seen: set[str] = set()
    for block in data["nlu"]:
        if "examples" not in block:
            continue
        lines = []
        for line in block["examples"].splitlines():
            text = normalize_for_nlu(line.strip().removeprefix("- ").strip())
            if text and text.lower() not in seen:
                seen.add(text.lower())
                lines.append(f"- {text}")
        block["examples"] = LiteralText("\n".join(lines) + "\n")
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000), encoding="utf-8")


def training_hash(config: Path, build_dir: Path = BUILD) -> str:
    """Hash of the config and every assembled training file."""
    digest = hashlib.sha256(config.read_bytes())
    for path in sorted(build_dir.rglob("*.yml")):
        digest.update(str(path.relative_to(build_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def rasa_env() -> dict[str, str]:
    """Environment for Rasa subprocesses: the repository importable, telemetry off."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    # endpoints.yml reads these; without them a bare `rasa` command would create a file
    # literally named "${RASA_TRACKER_DB}" in the working directory.
    env.setdefault("RASA_TRACKER_DB", str(ROOT / "var" / "rasa_tracker.db"))
    env.setdefault("RASA_TRACKER_URL", "")
    env.setdefault("ACTION_SERVER_URL", "http://127.0.0.1:5055/webhook")
    env.setdefault("SERVICE_CALL_SECRET", DEV_SECRETS["SERVICE_CALL_SECRET"])  # endpoints.yml's header
    return env


def rasa_bin() -> str:
    return str(Path(sys.executable).parent / "rasa")


def ensure_model(config: Path = ROOT / "config.yml", out: Path = ROOT / "models", force: bool = False,
                 name_prefix: str = "") -> Path:
    """Returns the model for the current inputs, training it first if it does not exist.

    A file lock makes concurrent callers (a test run and a `make run`, say) wait for one
    training instead of each training the same model into the same file.
    """
    out.mkdir(parents=True, exist_ok=True)
    with (out / ".train.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data_dir, domain_dir = assemble()
        fixed_name = f"{name_prefix}{training_hash(config)}"
        model = out / f"{fixed_name}.tar.gz"
        if model.exists() and not force:
            print(f"model up to date: {model.relative_to(ROOT)}", flush=True)
            return model
        print(f"training {model.relative_to(ROOT)} (inputs changed) ...", flush=True)
        cmd = [
            rasa_bin(), "train", "--config", str(config), "--domain", str(domain_dir),
            "--data", str(data_dir), "--out", str(out), "--fixed-model-name", fixed_name,
        ]
        subprocess.run(cmd, check=True, cwd=ROOT, env=rasa_env())
        return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml")
    parser.add_argument("--out", type=Path, default=ROOT / "models")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    model = ensure_model(args.config, args.out, args.force)
    latest = args.out / "latest"
    latest.write_text(model.name + "\n")


if __name__ == "__main__":
    main()
