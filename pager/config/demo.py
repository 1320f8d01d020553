"""The embedded demo configuration that `pager serve` runs when given none.

A newcomer should see pager work before writing any YAML: `demo.yaml`, shipped inside the
package, has one service with a key for each integration type, one user paged on the
console who signs in to the dashboard (`demo` / `DEMO_PASSWORD`, printed at start-up), and
one escalation policy. It is an ordinary configuration file, loaded and
checked like any other, so it can never drift out of what the loader accepts.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

from pager.config.load import load_config_text
from pager.config.models import Config

__all__ = ["DEMO_PASSWORD", "demo_config_text", "load_demo_config"]

# The password of the demo user's `password_hash` in demo.yaml (a test checks they agree):
# as public as the demo's API token, for a demo that listens on 127.0.0.1.
DEMO_PASSWORD = "demo-password"  # noqa: S105 -- public on purpose, like demo-token


def demo_config_text() -> str:
    """The YAML of the demo configuration, as shipped."""
    return importlib.resources.files("pager.config").joinpath("demo.yaml").read_text("utf-8")


def load_demo_config(data_dir: str | os.PathLike[str] | None = None) -> Config:
    """The demo configuration; `data_dir` replaces its `./pager-data` when given."""
    config = load_config_text(demo_config_text(), source="<demo>", env={})
    if data_dir is not None:
        config = config.model_copy(update={"data_dir": Path(data_dir)})
    return config
