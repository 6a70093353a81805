"""The software deployment matches the package: conda env, lint, formatting."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from helpers import venv_env

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}
PIP_ONLY = {
    "pgenlib",
    "bgen",
    "deflate",
}  # installed from PyPI with the package (envs/vcf2embed.yaml says so)


def requirement(spec: str) -> tuple[str, str]:
    name = re.match(r"[A-Za-z0-9_.-]+", spec).group(0).lower()
    return name, spec[len(name) :].strip()


def test_conda_env_matches_package_dependencies() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "envs" / "vcf2embed.yaml").read_text())
    conda = dict(requirement(d) for d in env["dependencies"] if isinstance(d, str))
    for dep in deps:
        name, bound = requirement(dep)
        if name in PIP_ONLY:
            continue
        conda_name = CONDA_NAMES.get(name, name)
        assert conda_name in conda, f"{conda_name} missing from envs/vcf2embed.yaml"
        assert conda[conda_name] == bound, (
            f"{conda_name}: pyproject says {bound}, env says {conda[conda_name]}"
        )
    # beyond the Python packages: the interpreter, pip and the htslib tools the readers call
    assert set(conda) - {CONDA_NAMES.get(requirement(d)[0], requirement(d)[0]) for d in deps} == {
        "python",
        "pip",
        "bcftools",
        "htslib",
    }


def test_every_rule_declares_conda_and_log() -> None:
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        text = smk.read_text()
        rules = len(re.findall(r"^rule ", text, re.M))
        in_process = text.count("    run:")  # run directives execute in Snakemake's own process
        assert text.count("conda:") == rules - in_process, smk
        assert text.count("log:") == rules, smk


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=venv_env())


def test_snakemake_lint_is_clean() -> None:
    proc = run(sys.executable, "-m", "snakemake", "--lint")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr


def test_snakefmt_leaves_rules_unchanged() -> None:
    files = [
        "Snakefile",
        *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "workflow" / "rules").glob("*.smk")),
    ]
    proc = run(str(Path(sys.executable).parent / "snakefmt"), "--check", *files)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_built_wheel_runs_outside_the_repository(tmp_path: Path, example: Path) -> None:
    """The wheel carries what the commands read (the config schema), and its commands run from
    a folder outside the repository with only the wheel's copy of the package importable."""
    dist, site, elsewhere = tmp_path / "dist", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = [sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", dist, ROOT],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("vcf2embed-*.whl"))
    assert "vcf2embed/config.schema.yaml" in zipfile.ZipFile(wheel).namelist()
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "--target", site, wheel],
        check=True,
        capture_output=True,
    )
    env = {**venv_env(), "PYTHONPATH": str(site)}

    def run_here(*cmd: str | Path) -> str:
        done = subprocess.run(cmd, cwd=elsewhere, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    where = run_here(sys.executable, "-c", "import vcf2embed; print(vcf2embed.__file__)")
    assert where.startswith(str(site)), where
    version = run_here(sys.executable, "-c", "import vcf2embed; print(vcf2embed.__version__)")
    assert run_here(site / "bin" / "vcf2embed", "--version").split() == [
        "vcf2embed",
        version.strip(),
    ]
    assert run_here(sys.executable, "-m", "vcf2embed", "--version").split()[1] == version.strip()
    (elsewhere / "cfg.yaml").write_text(
        f"vcf: {example / 'cohort.vcf.gz'}\ntiles: {example / 'tiles.tsv'}\n"
    )
    assert "readers: text x5" in run_here(
        sys.executable, "-m", "vcf2embed", "check", "--configfile", "cfg.yaml"
    )
