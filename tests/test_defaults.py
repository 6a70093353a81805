"""One source of defaults: the config schema. Oracle: the schema file itself, read with PyYAML,
against the CLI's parsed defaults, the rules' text and config.yaml."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from vcf2embed.cli import build_parser
from vcf2embed.defaults import SCHEMA_PATH, default

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text())["properties"]
# config.yaml runs the bundled example: these keys name its files and choices on purpose
EXAMPLE_SETTINGS = {"vcf", "tiles", "layers", "sample_metadata", "color_by", "train"}


def cli_defaults(command: str, argv: list[str]) -> dict:
    return vars(build_parser(command).parse_args([command, *argv]))


def test_workflow_schema_is_the_package_schema() -> None:
    assert (ROOT / "workflow" / "schemas" / "config.schema.yaml").resolve() == SCHEMA_PATH


def test_cli_flags_take_the_schema_defaults() -> None:
    genotypes = cli_defaults(
        "genotypes", ["--vcf", "v.vcf.gz", "--tiles", "t.tsv", "--tile", "a", "--out", "o"]
    )
    for key in ("genotype_field", "min_variant_match", "reader"):
        assert genotypes[key] == SCHEMA[key]["default"], key
    embed = cli_defaults("embed", ["--genotypes", "g", "--tiles", "t", "--tile", "a"])
    for key in ("layers", "device", "dtype", "batch_size", "outdir"):
        assert embed[key] == SCHEMA[key]["default"], key


def test_config_yaml_agrees_with_the_schema() -> None:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert set(config) <= set(SCHEMA), set(config) - set(SCHEMA)
    for key, value in config.items():
        if key not in EXAMPLE_SETTINGS:
            assert value == default(key), f"config.yaml {key}: {value} != schema {default(key)}"


def test_rules_hold_no_default_of_their_own() -> None:
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        for key, fallback in re.findall(r'config\.get\("([a-z_]+)", ([^)]+)\)', smk.read_text()):
            raise AssertionError(f"{smk.name}: config.get({key!r}, {fallback}) repeats a default")
