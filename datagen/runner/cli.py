"""The ``main()`` every generator script calls, so that ``python datagen/<name>.py key=value ...`` and
``ray submit ray_cluster.yaml datagen/<name>.py -- key=value ...`` behave the same: parse Hydra
overrides, run, validate every sample, exit non-zero on failures (1) or a bad configuration (2)."""
from __future__ import annotations

import sys

from omegaconf import DictConfig

from datagen.core.cli import report_error
from datagen.runner.config import CONFIG_DIR, ConfigError
from datagen.runner.driver import report, run
from datagen.runner.validate import validate


def main(config_name: str) -> None:
    """Entry point of ``datagen/<name>.py``: parse Hydra overrides from argv, run, exit non-zero on
    failures (1) or a bad configuration (2)."""
    import hydra

    code = 0

    @hydra.main(version_base=None, config_path=str(CONFIG_DIR), config_name=config_name)
    def _main(cfg: DictConfig) -> None:
        nonlocal code
        try:
            result = run(cfg)
        except ConfigError as e:
            code = report_error(e)
            return
        code = report(result)
        if code == 0 and cfg.runner.get("validate", True):
            passed, failed = validate(str(cfg.out), emit=lambda line: print(line, file=sys.stderr))
            print(f"validated: {passed} passed, {failed} failed")
            code = 1 if failed else 0

    _main()
    sys.exit(code)
