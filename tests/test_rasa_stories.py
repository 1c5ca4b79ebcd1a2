"""Rasa test stories of the application form: `rasa test core --fail-on-prediction-errors`
with the model trained from the repository (the same one the end-to-end tests use)."""

from __future__ import annotations

import subprocess

from common.settings import ROOT
from tools.train import ensure_model, rasa_bin, rasa_env


def test_application_stories_predict_without_errors(tmp_path) -> None:  # noqa: ANN001
    model = ensure_model()
    result = subprocess.run(
        [rasa_bin(), "test", "core", "--model", str(model), "--stories", str(ROOT / "tests" / "stories"),
         "--fail-on-prediction-errors", "--out", str(tmp_path / "results"), "--no-plot"],
        cwd=ROOT, env=rasa_env(), capture_output=True, text=True, timeout=900,
    )
    failed = tmp_path / "results" / "failed_test_stories.yml"
    detail = failed.read_text(encoding="utf-8")[-4000:] if failed.exists() else ""
    assert result.returncode == 0, detail + result.stdout[-3000:] + result.stderr[-3000:]
