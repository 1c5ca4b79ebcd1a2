"""`rasa data validate` passes on the assembled training data (nlu/ plus generated FAQ)."""

import subprocess

from common.settings import ROOT
from tools.train import BUILD, assemble, rasa_bin, rasa_env


def test_rasa_data_validate() -> None:
    data_dir, domain_dir = assemble(BUILD.parent / "validate")
    result = subprocess.run(
        [rasa_bin(), "data", "validate", "--domain", str(domain_dir), "--data", str(data_dir),
         "--config", str(ROOT / "config.yml"), "--fail-on-warnings"],
        cwd=ROOT, env=rasa_env(), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
