"""Plan-time checks of a workflow config: one clear message, before any job runs.

The schema's own error is reduced to the one that matters (with the key's path), an unknown key
gets a "did you mean", and the report's settings are held against the tables they name.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from .defaults import schema
from .errors import InputError


def check_config(config: dict[str, Any]) -> None:
    """Raise InputError with the first problem of `config` against the schema."""
    import jsonschema

    properties = schema()["properties"]
    for key in config:
        if key not in properties:
            near = difflib.get_close_matches(key, list(properties), n=1, cutoff=0.6)
            hint = (
                f"; did you mean `{near[0]}`?" if near else f"; known keys: {', '.join(properties)}"
            )
            raise InputError(f"config: unknown key `{key}`{hint}")
    validator = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise InputError(f"config `{where}`: {error.message}")


def check_report_settings(config: dict[str, Any], samples: list[str]) -> None:
    """Raise when `color_by` is not a column of `sample_metadata` or a `report_samples` entry
    is not among the run's samples."""
    metadata = config.get("sample_metadata")
    if config.get("color_by"):
        if not metadata:
            raise InputError("config: `color_by` is set but `sample_metadata` is not")
        path = Path(metadata)
        if not path.is_file():
            raise InputError(f"config `sample_metadata`: {path} does not exist")
        header = path.read_text().split("\n", 1)[0].split("\t")
        if config["color_by"] not in header or "sample_id" not in header:
            raise InputError(
                f"config `color_by`: {path} needs columns sample_id and {config['color_by']}; "
                f"it has {', '.join(header)}"
            )
    known = set(samples)
    missing = [s for s in config.get("report_samples") or [] if s not in known]
    if missing:
        raise InputError(
            f"config `report_samples`: not among the run's samples: {', '.join(missing[:5])}"
        )
