"""The configuration: a YAML file (docs/configuration.md) loaded into one frozen, checked `Config`.

`load_config(path)` reads, substitutes `${ENV}`, validates and checks a file, raising one
`ConfigError` that lists every `Problem`; `load_demo_config()` is the embedded demo that
`pager serve` runs without a file; `check_config(config)` lists the semantic problems of a
loaded configuration, warnings included (`config_warnings(config)` the warnings alone; `load_config_warned` loads a file and
returns its warnings with it, for `pager serve` and a reload to log). Model classes live in `pager.config.models`.
"""

from pager.config.check import check_config, config_warnings
from pager.config.demo import load_demo_config
from pager.config.load import load_config, load_config_text
from pager.config.models import Config
from pager.config.problems import ConfigError, Problem

__all__ = [
    "Config",
    "ConfigError",
    "Problem",
    "check_config",
    "config_warnings",
    "load_config",
    "load_config_text",
    "load_demo_config",
]
