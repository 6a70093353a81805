"""What a workflow run will write, decided before any job runs: each tile's captured layers.

Resolving the layer selectors against every model at plan time both names each layer file as a
declared output (so deleting one reruns just its publish) and finds a selector that matches
nothing before the first genotypes job, with the modules the model does have.
"""

from __future__ import annotations

from pathlib import Path

from .errors import SelectorError


def tile_layers(
    model_path: str | Path, chrom: str, selectors: list[str], allow_user_code: bool = False
) -> list[str]:
    """The `layer=` folder names a tile's embed writes besides `latent`."""
    from .embed import layer_dir_name
    from .hooks import resolve_selectors
    from .models import load_model

    model = load_model(model_path, chrom=chrom, allow_user_code=allow_user_code)
    try:
        chosen = resolve_selectors(model.module, ["latent", *selectors], latent=model.latent)
    except SelectorError as exc:
        raise SelectorError(f"model {model_path}: {exc}") from None
    names = [layer_dir_name(name, model.latent) for name in chosen]
    return [name for name in names if name != "latent"]
