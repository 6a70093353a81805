"""Training the lab architecture as a denoising autoencoder on allele-presence inputs."""

from __future__ import annotations

import io
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .architectures import LabAutoencoder
from .encodings import allele_presence
from .errors import InputError
from .files import atomic_path, write_text_atomic
from .models import save_bundle
from .reconstruction import concordance
from .tiles import Tile
from .train_settings import TrainSettings
from .variants import VariantList

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """A trained model with its history and held-out accuracy."""

    module: LabAutoencoder
    settings: TrainSettings
    best_epoch: int
    validation_concordance: float
    validation_masked_concordance: float
    history: list[dict[str, float]] = field(default_factory=list)

    def summary(self) -> dict:
        """Return what a model bundle records about its training."""
        return {
            "settings": asdict(self.settings),
            "best_epoch": self.best_epoch,
            "validation_concordance": self.validation_concordance,
            "validation_masked_concordance": self.validation_masked_concordance,
            "epochs_run": len(self.history),
        }


def _mask(x: torch.Tensor, rate: float, gen: torch.Generator) -> torch.Tensor:
    """Set a random fraction of variants to the missing encoding [0, 0]."""
    n, width = x.shape
    keep = torch.rand((n, width // 2), generator=gen) >= rate
    return x * keep.repeat_interleave(2, dim=1)


def train_autoencoder(
    alleles: np.ndarray, settings: TrainSettings, progress: bool = False
) -> TrainResult:
    """Train on (samples, variants, 2) allele codes; early-stop on a held-out split."""
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    gen = torch.Generator().manual_seed(settings.seed)
    x_all = allele_presence(alleles)
    observed_all = np.repeat(alleles[..., 0] >= 0, 2, axis=1).astype(np.float32)
    order = rng.permutation(len(x_all))
    n_val = max(1, int(round(len(x_all) * settings.validation_fraction)))
    val_idx, train_idx = order[:n_val], order[n_val:]
    x_train = torch.from_numpy(x_all[train_idx])
    w_train = torch.from_numpy(observed_all[train_idx])
    x_val = torch.from_numpy(x_all[val_idx])
    w_val = torch.from_numpy(observed_all[val_idx])
    width = x_all.shape[1]
    model = LabAutoencoder(
        width, width, settings.n_layers, settings.size_ratio, settings.activation
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    loss_fn = nn.BCELoss(reduction="none")
    best = (float("inf"), 0, {k: v.clone() for k, v in model.state_dict().items()})
    history: list[dict[str, float]] = []
    epochs = range(settings.epochs)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=settings.epochs, desc="train", unit="epoch")
    val_gen = torch.Generator().manual_seed(settings.seed + 1)
    x_val_masked = _mask(x_val, settings.mask_rate, val_gen)
    for epoch in epochs:
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for start in range(0, len(perm), settings.batch_size):
            idx = perm[start : start + settings.batch_size]
            xb, wb = x_train[idx], w_train[idx]
            out = model(_mask(xb, settings.mask_rate, gen))
            loss = (loss_fn(out, xb) * wb).sum() / wb.sum().clamp(min=1)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            val_out = model(x_val_masked)
            val_loss = float((loss_fn(val_out, x_val) * w_val).sum() / w_val.sum().clamp(min=1))
        history.append({"epoch": epoch, "train_loss": total / len(x_train), "val_loss": val_loss})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(val_loss=f"{val_loss:.4f}")
        if val_loss < best[0] - 1e-6:
            best = (val_loss, epoch, {k: v.clone() for k, v in model.state_dict().items()})
        elif epoch - best[1] >= settings.patience:
            log.info("early stop at epoch %d (best %d)", epoch, best[1])
            break
    if bar is not None:
        bar.close()
    model.load_state_dict(best[2])
    model.eval()
    with torch.no_grad():
        plain = model(x_val).numpy()
        masked = model(x_val_masked).numpy()
    val_alleles = alleles[val_idx]
    return TrainResult(
        module=model,
        settings=settings,
        best_epoch=best[1],
        validation_concordance=concordance(val_alleles, plain),
        validation_masked_concordance=concordance(val_alleles, masked),
        history=history,
    )


def region_variants(
    vcf_path: str | Path, chrom: str, start: int, end: int, min_maf: float = 0.0
) -> VariantList:
    """Biallelic records of a VCF region (first per position) with MAF >= `min_maf`, as a variant list."""
    from .genotypes.paths import check_indexed, pick_contig
    from .genotypes.sources.vcf_cyvcf2 import open_vcf

    path = Path(vcf_path)
    check_indexed(path)
    vcf = open_vcf(path)
    contig = pick_contig(list(vcf.seqnames), path, chrom)
    pos, ref, alt = [], [], []
    seen: set[int] = set()
    for rec in vcf(f"{contig}:{start}-{end}"):
        if len(rec.ALT) != 1 or rec.POS in seen or not (start <= rec.POS <= end):
            continue
        seen.add(rec.POS)
        g = rec.genotype.array()[:, :-1]
        called = g[g >= 0]
        if called.size == 0:
            continue
        freq = float((called == 1).mean())
        if min(freq, 1 - freq) < min_maf or min(freq, 1 - freq) == 0:
            continue
        pos.append(rec.POS)
        ref.append(rec.REF.upper())
        alt.append(rec.ALT[0].upper())
    if not pos:
        raise InputError(
            f"{path}: no polymorphic biallelic records with MAF >= {min_maf} in {contig}:{start}-{end}"
        )
    return VariantList(
        (chrom,) * len(pos), np.asarray(pos, dtype=np.int64), tuple(ref), tuple(alt), str(path)
    )


def train_from_vcf(
    vcf_path: str | Path,
    tile: Tile,
    settings: TrainSettings,
    min_maf: float = 0.0,
    samples: list[str] | None = None,
    progress: bool = False,
) -> tuple[TrainResult, VariantList]:
    """Train the lab architecture on a tile's region of a VCF; return the result and its variants."""
    from .genotypes import read_tile_genotypes

    variants = region_variants(vcf_path, tile.chrom, tile.start, tile.end, min_maf)
    genotypes = read_tile_genotypes(vcf_path, tile, variants, samples)
    log.info(
        "tile %s: training on %d samples x %d variants",
        tile.tile_id,
        len(genotypes.samples),
        len(variants),
    )
    return train_autoencoder(genotypes.alleles, settings, progress=progress), variants


def save_trained(
    result: TrainResult, variants: VariantList, out: str | Path, fmt: str = "bundle"
) -> Path:
    """Write a trained model as a native bundle folder, or in the lab's format (`out/NAME.pth`)."""
    out = Path(out)
    s = result.settings
    width = 2 * len(variants)
    if fmt == "bundle":
        arch = {
            "name": "lab_autoencoder",
            "ni": width,
            "no": width,
            "n_layers": s.n_layers,
            "size_ratio": s.size_ratio,
            "activation": s.activation,
        }
        return save_bundle(out, result.module, variants, arch, extra={"training": result.summary()})
    if fmt != "lab":
        raise InputError(f"format {fmt!r}: use bundle or lab")
    out.mkdir(parents=True, exist_ok=True)
    name = out.name
    buffer = io.BytesIO()  # a fixed archive name inside the zip: the same weights, the same bytes
    torch.save(result.module.state_dict(), buffer)
    with atomic_path(out / f"{name}.pth") as tmp:
        tmp.write_bytes(buffer.getvalue())
    write_text_atomic(
        out / f"{name}_param.py",
        f"n_layers = {s.n_layers}\nsize_ratio = {s.size_ratio}\nactivation = '{s.activation}'\n"
        f"last_epoch = {len(result.history) - 1}\nearly_stop = {s.patience}\n",
    )
    lines = ["#CHROM\tPOS\tID\tREF\tALT"] + [
        f"{c}\t{p}\t.\t{r}\t{a}"
        for c, p, r, a in zip(variants.chrom, variants.pos, variants.ref, variants.alt)
    ]
    write_text_atomic(out / f"{name}.pos", "\n".join(lines) + "\n")
    return out / f"{name}.pth"
