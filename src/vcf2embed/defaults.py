"""The one home of defaults: the config schema, which the CLI, the rules and config.yaml share."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")
DEFAULT_THREADS = 1  # a genotypes job's threads when the workflow does not give it more


@cache
def schema() -> dict[str, Any]:
    """The configuration's JSON schema (YAML)."""
    import yaml

    with open(SCHEMA_PATH) as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def default(key: str, section: str | None = None) -> Any:
    """The schema's default of `key` (of `section`'s object, e.g. `train`)."""
    properties = schema()["properties"]
    if section is not None:
        properties = properties[section]["properties"]
    try:
        return properties[key]["default"]
    except KeyError:
        raise KeyError(f"the config schema has no default for {key!r}") from None


# the settings that shape a tile's embeddings: recorded in each output's metadata, and the only
# ones an embed job's params carry (report settings never rerun it)
GENOTYPES_KEYS = (
    "vcf",
    "samples",
    "genotype_field",
    "min_variant_match",
    "reader",
    "min_info_r2",
    "info_table",
)
EMBED_KEYS = ("layers", "device", "dtype", "batch_size", "allow_unphased", "allow_user_code")


def recorded_config(config: dict[str, Any]) -> dict[str, Any]:
    """The part of a run's config that shapes its embeddings."""
    return {key: config.get(key) for key in (*GENOTYPES_KEYS, *EMBED_KEYS)}
