"""Evaluation: paired image quality, no-reference quality, and FER accuracy in the dark.

The functions take an enhancement *method*: any callable from a (B, 3, H, W)
float image in [0, 1] to one of the same shape (an `LLENet`, a baseline from
`llenhance.baselines`, a lambda), or ``None`` for no enhancement. Their
results are plain dicts, written by `write_results` as JSON and Markdown;
``llenhance evaluate`` is the command-line form.

Examples:
    >>> import torch
    >>> from llenhance.baselines import global_gamma
    >>> high = torch.rand(2, 3, 16, 16)
    >>> pairs = [(0.3 * h ** 2, h) for h in high]
    >>> scores = evaluate_pairs(global_gamma, pairs, progress=False)
    >>> sorted(scores)
    ['ciede2000', 'grey_shift', 'images', 'per_image', 'psnr', 'ssim']
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from llenhance._atomic import atomic_path
from llenhance._batching import ShapeBatcher
from llenhance._checks import check_image, check_same_shape, unchecked
from llenhance._color import mean_grey
from llenhance.transforms import DARKENINGS

__all__ = [
    "DARKENING",
    "PHOTO_DARKENING",
    "Method",
    "ciede2000",
    "darkened_pairs",
    "evaluate_fer",
    "evaluate_niqe",
    "evaluate_pairs",
    "markdown_table",
    "predict",
    "write_results",
]

Method = Callable[[torch.Tensor], torch.Tensor]
#: The darkening protocols of the FER evaluation (arguments of `LowLightSynth`).
DARKENING: dict[str, dict[str, Any]] = {name: DARKENINGS[name] for name in ("paper", "realistic")}
#: The darkenings of `darkened_pairs`: the FER protocols, and the realistic one stored as a JPEG of quality 75.
PHOTO_DARKENING: dict[str, dict[str, Any]] = {**DARKENING,
                                              "realistic-jpeg75": {**DARKENINGS["realistic"], "jpeg": (75, 75)}}
#: Seed of the darkening of test images: every method sees the same dark images.
TEST_SEED = 2025


def ciede2000(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean CIEDE2000 colour difference per image (sRGB in [0, 1], D65; lower is better).

    The images go to CIE L*a*b* with kornia; ΔE00 follows Sharma, Wu and
    Dalal (2005) with kL = kC = kH = 1, pixel by pixel, then the mean per image.

    Returns:
        Tensor: (B,) values.

    Examples:
        >>> x = torch.rand(2, 3, 8, 8)
        >>> ciede2000(x, x).tolist()
        [0.0, 0.0]
    """
    from kornia.color import rgb_to_lab

    check_image(pred, "pred")
    check_image(target, "target")
    check_same_shape(pred, target, "pred", "target")
    lab1, lab2 = rgb_to_lab(pred.double()), rgb_to_lab(target.double())
    L1, a1, b1 = lab1.unbind(1)
    L2, a2, b2 = lab2.unbind(1)
    c_mean = (torch.hypot(a1, b1) + torch.hypot(a2, b2)) / 2
    g = 0.5 * (1 - torch.sqrt(c_mean**7 / (c_mean**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = torch.hypot(a1p, b1), torch.hypot(a2p, b2)
    h1p = torch.rad2deg(torch.atan2(b1, a1p)) % 360
    h2p = torch.rad2deg(torch.atan2(b2, a2p)) % 360
    chroma = c1p * c2p
    dh = h2p - h1p
    dh = torch.where(dh > 180, dh - 360, torch.where(dh < -180, dh + 360, dh))
    dh = torch.where(chroma == 0, torch.zeros_like(dh), dh)
    d_l, d_c = L2 - L1, c2p - c1p
    d_h = 2 * torch.sqrt(chroma) * torch.sin(torch.deg2rad(dh) / 2)
    l_mean, cp_mean = (L1 + L2) / 2, (c1p + c2p) / 2
    h_sum, h_diff = h1p + h2p, (h1p - h2p).abs()
    h_mean = torch.where(h_diff <= 180, h_sum / 2, torch.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2))
    h_mean = torch.where(chroma == 0, h_sum, h_mean)
    rad = torch.deg2rad
    t = (1 - 0.17 * torch.cos(rad(h_mean - 30)) + 0.24 * torch.cos(rad(2 * h_mean))
         + 0.32 * torch.cos(rad(3 * h_mean + 6)) - 0.20 * torch.cos(rad(4 * h_mean - 63)))
    d_theta = 30 * torch.exp(-(((h_mean - 275) / 25) ** 2))
    r_c = 2 * torch.sqrt(cp_mean**7 / (cp_mean**7 + 25.0**7))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / torch.sqrt(20 + (l_mean - 50) ** 2)
    s_c, s_h = 1 + 0.045 * cp_mean, 1 + 0.015 * cp_mean * t
    r_t = -torch.sin(rad(2 * d_theta)) * r_c
    terms = (d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2 + r_t * (d_c / s_c) * (d_h / s_h)
    return terms.clamp_min(0).sqrt().flatten(1).mean(1).to(pred.dtype)


def _run(method: Method | None, image: torch.Tensor) -> torch.Tensor:
    if method is None:
        return image
    from llenhance.inference import check_enhancer_output

    with torch.inference_mode():
        out = method(image)
    return check_enhancer_output(out, image, "method").float().clamp(0, 1)


def _progress(items: Iterable[Any], total: int, desc: str, progress: bool | str) -> Iterable[Any]:
    """A tqdm bar over ``items`` (none when ``progress`` is false; a string is the bar's label)."""
    from tqdm.auto import tqdm

    label = progress if isinstance(progress, str) else desc
    return tqdm(items, total=total, desc=label, disable=not progress, leave=False, dynamic_ncols=True)


def evaluate_pairs(
    method: Method | None,
    pairs: Sequence[tuple[torch.Tensor, ...]],
    *,
    classifier: nn.Module | None = None,
    batch_size: int = 1,
    device: str | torch.device = "cpu",
    progress: bool | str = True,
    name: str = "pairs",
) -> dict[str, Any]:
    """PSNR, SSIM and CIEDE2000 of ``method(low)`` against ``high``, pair by pair.

    Args:
        method: the enhancement (see the module docstring); ``None``: the
            input itself.
        pairs: items ``(low, high)`` or ``(low, high, label)``, float
            (3, H, W) in [0, 1], e.g. a `llenhance.data.PairedImageFolder`
            (any size per pair).
        classifier: with labelled items, also the ``accuracy`` of this
            classifier (RGB in [0, 1] in, logits out) on the enhanced images.
        batch_size: consecutive pairs of one size go through ``method`` (and
            the classifier) this many at a time; the scores are the same.
        device: where ``method`` runs.
        progress: a tqdm bar (a string: the bar's label, e.g. the method's name).
        name: what error messages call the pairs (e.g. ``"val"`` when a trainer scores its val set).

    Returns:
        dict: Means over the pairs (``psnr`` in dB, ``ssim``, ``ciede2000``,
            and ``grey_shift``: the output's mean grey level (BT.601 luma, in
            [0, 1]) minus the reference's, signed: an exposure bias, and with
            ``(x, x)`` pairs what the method does to well-lit input), the
            number of ``images``, ``per_image`` rows, and with a classifier
            and labels, ``accuracy`` over the ``labelled`` items.
    """
    from llenhance._checks import check_positive_int
    from llenhance.metrics import psnr, ssim

    check_positive_int(batch_size, "batch_size")
    device = torch.device(device)
    rows: list[dict[str, float]] = []
    correct = labelled = 0

    def score(batch: list[tuple[torch.Tensor, torch.Tensor, int | None]]) -> None:
        nonlocal correct, labelled
        low = torch.cat([item[0] for item in batch]).to(device)
        high = torch.cat([item[1] for item in batch]).to(device)
        out = _run(method, low)
        shift = mean_grey(out) - mean_grey(high)
        with unchecked():
            rows.extend({"psnr": float(p), "ssim": float(q), "ciede2000": float(c), "grey_shift": float(g)}
                        for p, q, c, g in zip(psnr(out, high).tolist(), ssim(out, high).tolist(),
                                              ciede2000(out, high).tolist(), shift.tolist()))
        labels = [item[2] for item in batch if item[2] is not None]
        if classifier is not None and len(labels) == len(batch):
            predicted = predict(classifier, out, batch_size=len(batch), device=device)
            correct += int((predicted == torch.tensor(labels)).sum())
            labelled += len(labels)

    batcher = ShapeBatcher(score, batch_size)

    for i, item in enumerate(_progress(pairs, len(pairs), name, progress)):
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise ValueError(f"`{name}[{i}]` expected (low, high) or (low, high, label), got {type(item).__name__}")
        low, high = item[0], item[1]
        check_image(low, f"{name}[{i}] low", allow_unbatched=True)
        check_image(high, f"{name}[{i}] high", allow_unbatched=True)
        check_same_shape(low, high, f"{name}[{i}] low", f"{name}[{i}] high")
        label = int(item[2]) if len(item) == 3 else None
        low, high = low.reshape(1, *low.shape[-3:]), high.reshape(1, *high.shape[-3:])
        batcher.add((low, high, label), tuple(low.shape))
    batcher.flush()
    if not rows:
        raise ValueError(f"`{name}` expected at least one (low, high) pair, got none")
    means = {k: sum(r[k] for r in rows) / len(rows) for k in ("psnr", "ssim", "ciede2000", "grey_shift")}
    result: dict[str, Any] = {**means, "images": len(rows), "per_image": rows}
    if labelled:
        result.update(accuracy=correct / labelled, labelled=labelled)
    return result


def evaluate_niqe(
    method: Method | None,
    images: Sequence[torch.Tensor],
    *,
    device: str | torch.device = "cpu",
    progress: bool | str = True,
) -> dict[str, Any]:
    """Mean NIQE (no reference; lower is better) of ``method(image)`` over ``images``.

    Args:
        method: the enhancement (see the module docstring); ``None``: the
            images themselves.
        images: float (3, H, W) images in [0, 1], each at least 96 x 96
            (NIQE's 96-pixel blocks); any size per image.
        device: where ``method`` runs (NIQE itself runs on the CPU).
        progress: a tqdm bar (a string: the bar's label, e.g. the method's name).

    Returns:
        dict: ``niqe`` (the mean), the number of ``images``, and the
            ``per_image`` scores.
    """
    from llenhance.niqe import niqe

    device = torch.device(device)
    scores = []
    for i, image in enumerate(_progress(images, len(images), "niqe", progress)):
        check_image(image, f"images[{i}]", allow_unbatched=True)
        out = _run(method, image.reshape(1, *image.shape[-3:]).to(device))
        scores.append(niqe(out[0].cpu()))
    if not scores:
        raise ValueError("`images` expected at least one image, got none")
    return {"niqe": sum(scores) / len(scores), "images": len(scores), "per_image": scores}


def _faces(faces: Sequence[Any], size: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """All faces as one (N, 3, S, S) batch in [0, 1] (grey faces repeated to RGB) and their labels."""
    import torch.nn.functional as F

    images, labels = [], []
    for i, item in enumerate(faces):
        image, label = item[0], item[1]
        check_image(image, f"faces[{i}] image", allow_unbatched=True, channels=None)
        image = image.reshape(-1, *image.shape[-2:])
        if image.shape[0] == 1:
            image = image.expand(3, -1, -1)
        if image.shape[0] != 3:
            raise ValueError(f"`faces[{i}]` expected a grey or RGB image, got {image.shape[0]} channels")
        if size is not None and image.shape[-2:] != (size, size):
            image = F.interpolate(image[None], size=(size, size), mode="bilinear", antialias=True,
                                  align_corners=False)[0].clamp(0, 1)
        images.append(image)
        labels.append(int(label))
    if not images:
        raise ValueError("`faces` expected at least one (image, label) item, got none")
    shapes = {tuple(x.shape) for x in images}
    if len(shapes) > 1:
        raise ValueError(f"`faces` hold images of several sizes {sorted(shapes)[:3]}; pass `size` to resize them")
    return torch.stack(images), torch.tensor(labels)


def predict(
    classifier: nn.Module,
    images: torch.Tensor,
    method: Method | None = None,
    *,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """The classes a classifier gives images after an enhancement, ``batch_size`` at a time.

    Args:
        classifier: RGB images in [0, 1] in, logits out.
        images: (N, 3, H, W) float in [0, 1].
        method: the enhancement run first (``None``: none).
        batch_size: images per forward pass.
        device: where the method and the classifier run.

    Returns:
        torch.Tensor: (N,) class indices, on the CPU.
    """
    from llenhance._checks import check_positive_int

    check_image(images, "images")
    check_positive_int(batch_size, "batch_size")
    device = torch.device(device)
    out = []
    for start in range(0, len(images), batch_size):
        x = _run(method, images[start : start + batch_size].to(device))
        with torch.inference_mode():
            out.append(classifier(x).argmax(1).cpu())
    return torch.cat(out)


def evaluate_fer(
    classifier: nn.Module,
    faces: Sequence[Any],
    methods: dict[str, Method | None],
    *,
    darkening: str = "paper",
    size: int | None = None,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """Accuracy of a frozen FER classifier on faces darkened, then enhanced by each method; and on well-lit faces.

    The faces are darkened once with `LowLightSynth` (``darkening``:
    ``"paper"``, Eq. 14 of the paper, or ``"realistic"``, with sensor noise
    and 8 bits) and a fixed seed, so every method sees the same dark faces.
    Each method is also run on the *well-lit* faces: a plug-in sits in front
    of every image, and its cost on good input matters as much.

    Args:
        classifier: takes RGB images in [0, 1] (wrap yours in
            `llenhance.FrozenClassifier` with its preprocessing) and returns
            logits.
        faces: items ``(image, label)``, e.g. `llenhance.data.FERFolder`.
        methods: name -> enhancement (``None``: no enhancement).
        darkening: ``"paper"`` or ``"realistic"``.
        size: resize the faces to ``size`` x ``size`` first (needed when
            they differ in size).
        batch_size: faces per forward pass.
        device: where the methods and the classifier run.
        progress: a tqdm bar.

    Returns:
        dict: ``normal_accuracy`` and ``dark_accuracy`` (no enhancement),
            and per method its ``accuracy`` on the dark faces,
            ``recovered_fraction`` (share of the accuracy lost to the dark
            that comes back; ``None`` when the dark costs nothing) and
            ``well_lit_change`` (accuracy on the well-lit faces through the
            method minus without it).
    """
    from llenhance.data import SyntheticLowLight
    from llenhance.metrics import accuracy, recovered_fraction
    from llenhance.transforms import LowLightSynth

    if darkening not in DARKENING:
        raise ValueError(f"`darkening` expected one of {sorted(DARKENING)}, got {darkening!r}")
    if not methods:
        raise ValueError("`methods` expected at least one name -> method, got none")
    device = torch.device(device)
    classifier = classifier.to(device).eval()
    normal, labels = _faces(faces, size)
    dark_set = SyntheticLowLight(list(zip(normal, labels.tolist())), LowLightSynth(**DARKENING[darkening]),
                                 seed=TEST_SEED)
    dark = torch.stack([dark_set[i][0] for i in range(len(dark_set))])
    acc_normal = accuracy(predict(classifier, normal, None, batch_size=batch_size, device=device), labels)
    acc_dark = accuracy(predict(classifier, dark, None, batch_size=batch_size, device=device), labels)
    rows = {}
    for name, method in _progress(methods.items(), len(methods), "methods", progress):
        acc = accuracy(predict(classifier, dark, method, batch_size=batch_size, device=device), labels)
        lit = accuracy(predict(classifier, normal, method, batch_size=batch_size, device=device), labels)
        rows[name] = {
            "accuracy": acc,
            "recovered_fraction": None if acc_normal == acc_dark else recovered_fraction(acc, acc_dark, acc_normal),
            "well_lit_accuracy": lit,
            "well_lit_change": lit - acc_normal,
        }
    return {"darkening": darkening, "faces": len(labels), "seed": TEST_SEED, "normal_accuracy": acc_normal,
            "dark_accuracy": acc_dark, "methods": rows}


def darkened_pairs(images: Iterable[torch.Tensor], darkening: str = "paper", *,
                   seed: int = TEST_SEED) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(dark, image)`` pairs made from well-lit images, the same in every run.

    Each image is darkened with `LowLightSynth` set up as ``PHOTO_DARKENING[darkening]``
    (``"paper"``: Eq. 14; ``"realistic"``: plus sensor noise and 8 bits;
    ``"realistic-jpeg75"``: then stored as a JPEG of quality 75), with the
    darkening of image ``i`` drawn from ``(seed, i)``: every method scored on
    the pairs with `evaluate_pairs` sees the same dark images.

    Args:
        images: (3, H, W) float images in [0, 1] (any size each).
        darkening: a name from `PHOTO_DARKENING`.
        seed: the darkening's seed.

    Returns:
        list of ``(dark, image)`` float (3, H, W) tensors.

    Examples:
        >>> pairs = darkened_pairs([torch.full((3, 8, 8), 0.5)], "realistic")
        >>> dark, clean = pairs[0]
        >>> bool(dark.mean() < clean.mean()), bool(torch.equal(dark, darkened_pairs([clean], "realistic")[0][0]))
        (True, True)
    """
    from llenhance.data import SyntheticLowLight
    from llenhance.transforms import LowLightSynth

    if darkening not in PHOTO_DARKENING:
        raise ValueError(f"`darkening` expected one of {sorted(PHOTO_DARKENING)}, got {darkening!r}")
    images = list(images)
    for i, image in enumerate(images):
        check_image(image, f"images[{i}]", allow_unbatched=True)
        if image.ndim != 3:
            raise ValueError(f"`images[{i}]` expected a single (3, H, W) image, got {tuple(image.shape)}")
    dark = SyntheticLowLight(images, LowLightSynth(**PHOTO_DARKENING[darkening]), seed=seed)
    return [(dark[i][0], image) for i, image in enumerate(images)]


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table; floats with 4 significant decimals, ``None`` as a dash."""
    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_results(stem: str | Path, results: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    """Write ``stem.json`` (``results``) and ``stem.md`` (``markdown``), each atomically.

    Returns:
        tuple: The two paths.
    """
    stem = Path(stem)
    paths = stem.with_name(stem.name + ".json"), stem.with_name(stem.name + ".md")
    with atomic_path(paths[0]) as tmp:
        tmp.write_text(json.dumps(results, indent=2) + "\n")
    with atomic_path(paths[1]) as tmp:
        tmp.write_text(markdown if markdown.endswith("\n") else markdown + "\n")
    return paths
