"""The lab's `NAME_param.py`, read as data and never executed."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from .errors import ModelError


def read_param_file(path: Path) -> dict[str, Any]:
    """Return the literal assignments of a `_param.py`; anything else is refused."""
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except SyntaxError as exc:
        raise ModelError(
            f"{path}, line {exc.lineno}: not valid Python syntax ({exc.msg})"
        ) from None
    params: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring or bare string
        if not (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            raise ModelError(
                f"{path}, line {node.lineno}: only assignments like `n_layers = 4` are allowed; "
                "this file is read as data and never run"
            )
        name = node.targets[0].id
        try:
            params[name] = ast.literal_eval(node.value)
        except ValueError:
            raise ModelError(
                f"{path}, line {node.lineno}: the value of {name} is not a literal "
                "(number, string, list, dict); this file is read as data and never run"
            ) from None
    return params
