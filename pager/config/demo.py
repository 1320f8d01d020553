"""The embedded demo configuration that `pager serve` runs when given none.

A newcomer should see pager work before writing any YAML: `demo.yaml`, shipped inside the
package, has one service with a key for each integration type, one user paged on the
console, and one escalation policy. It is an ordinary configuration file, loaded and
checked like any other, so it can never drift out of what the loader accepts.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

from pager.config.load import load_config_text
from pager.config.models import Config

__all__ = ["demo_config_text", "load_demo_config"]


def demo_config_text() -> str:
    """The YAML of the demo configuration, as shipped."""
    return importlib.resources.files("pager.config").joinpath("demo.yaml").read_text("utf-8")


def load_demo_config(data_dir: str | os.PathLike[str] | None = None) -> Config:
    """The demo configuration; `data_dir` replaces its `./pager-data` when given."""
    config = load_config_text(demo_config_text(), source="<demo>", env={})
    if data_dir is not None:
        config = config.model_copy(update={"data_dir": Path(data_dir)})
    return config
