"""``enhance``: run an enhancer on tensors, PIL images or uint8 arrays, optionally in tiles."""

from __future__ import annotations

import contextlib
import copy
import functools
import itertools
import math
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import PIL.Image
import torch
from torch import nn

from llenhance._batching import ShapeBatcher
from llenhance._checks import (
    PRED_RANGE_SLACK,
    check_finite_number,
    check_image,
    check_positive_int,
    deprecated_alias,
    unchecked,
)
from llenhance._color import LUMA
from llenhance.pretrained import DEFAULT_WEIGHTS

__all__ = ["check_enhancer_output", "check_tile", "enhance", "load_enhancer"]


@functools.lru_cache(maxsize=4)
def _cached_pretrained(name: str, device: str = "cpu") -> nn.Module:
    from llenhance.models import Enhancer

    return Enhancer.from_pretrained(name).eval().to(device)


def load_enhancer(enhancer: nn.Module | str | None = None) -> nn.Module:
    """An enhancer: a module as given (not modified), or weights by name/folder/repo id.

    ``None`` gives the built-in default weights (``llenhance.pretrained.DEFAULT_WEIGHTS``).
    Loaded weights are cached per name and shared: ``enhance`` only reads them;
    ``wrap`` takes its own copy, so fine-tuning or casting a wrapped enhancer
    never changes what ``enhance`` does.
    """
    if enhancer is None:
        enhancer = DEFAULT_WEIGHTS
    if isinstance(enhancer, str):
        return _cached_pretrained(enhancer)
    if not isinstance(enhancer, nn.Module):
        raise TypeError(f"`enhancer` expected an nn.Module, a weights name or None, got {type(enhancer).__name__}")
    return enhancer


def _module_device(module: nn.Module) -> torch.device:
    tensor = next(itertools.chain(module.parameters(), module.buffers()), None)
    return tensor.device if tensor is not None else torch.device("cpu")


_BORROW_LOCK = threading.Lock()
#: id(module) -> (calls in flight, the mode it had before the first of them)
_BORROWED: dict[int, tuple[int, bool]] = {}


@contextlib.contextmanager
def borrowed(model: nn.Module | str | None, device: torch.device) -> Iterator[nn.Module]:
    """The enhancer on ``device`` in eval mode, leaving the caller's module as it was.

    Built-in and named weights come from a per-device cache. A user's module
    already on ``device`` is switched to eval mode for the call and back
    afterwards; one elsewhere is copied to ``device`` (the original stays put).
    """
    if model is None or isinstance(model, str):
        load_enhancer(model)  # errors name the weights, whatever the device
        yield _cached_pretrained(model if model is not None else DEFAULT_WEIGHTS, str(device))
        return
    net = load_enhancer(model)
    if _module_device(net) != device:
        yield copy.deepcopy(net).to(device).eval()
        return
    # calls from several threads share the module: the first records its mode, the last puts it back
    with _BORROW_LOCK:
        count, training = _BORROWED.get(id(net), (0, net.training))
        _BORROWED[id(net)] = (count + 1, training)
        net.eval()
    try:
        yield net
    finally:
        with _BORROW_LOCK:
            count, training = _BORROWED.pop(id(net))
            if count > 1:
                _BORROWED[id(net)] = (count - 1, training)
            else:
                net.train(training)


def check_enhancer_output(out: object, x: torch.Tensor, name: str = "enhancer") -> torch.Tensor:
    """Check once what an enhancer returned for ``x``: an image tensor of ``x``'s shape, values in [0, 1].

    A network that returns one channel, another size, or 0-255 values would
    otherwise flow on into a classifier or a file and give a wrong answer in
    silence. Unclamped outputs may overshoot [0, 1] a little.
    """
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"`{name}` expected to return an image tensor, returned {type(out).__name__}")
    if out.shape != x.shape:
        raise ValueError(f"`{name}` returned shape {tuple(out.shape)} for an input of shape {tuple(x.shape)}; "
                         "an enhancer must return an RGB image of its input's shape")
    lo, hi = (float(v) for v in torch.aminmax(out.detach().float()))
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo < -PRED_RANGE_SLACK or hi > 1 + PRED_RANGE_SLACK:
        raise ValueError(f"`{name}` returned values in [{lo:.4g}, {hi:.4g}]; an enhancer must return images in [0, 1]")
    return out


def passes_unchanged(net: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``net`` would return every image of ``x`` unchanged, so running it can be skipped: an
    `Enhancer` whose exposure gate gives each image a share of 0 (``net.passes_unchanged``); False for others."""
    check = getattr(net, "passes_unchanged", None)
    return bool(check(x)) if check is not None else False


def _enhance_tiled(model: nn.Module, image: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
    """One (1, 3, H, W) image through ``model`` in overlapping tiles: the model's own ``forward_tiled`` when it
    has one (`LLENet`, `Enhancer`: whole-image statistics kept), else independent tiles blended across the overlaps."""
    forward_tiled = getattr(model, "forward_tiled", None)
    if forward_tiled is not None:
        return forward_tiled(image, tile=tile, overlap=overlap)
    from llenhance.models.tiling import blend_tiles

    with torch.no_grad():
        return blend_tiles(model, image, tile, overlap)


#: Untiled, an image of more pixels than this is processed in tiles anyway (``enhance(max_pixels=...)``).
MAX_UNTILED_PIXELS = 8_000_000
#: The tile size used then.
AUTO_TILE = 1024

#: PIL modes holding more than 8 bits per sample, and the value that maps to 1.0.
HIGH_DEPTH_MODES = {"I;16": 65535.0, "I;16L": 65535.0, "I;16B": 65535.0, "I;16N": 65535.0, "I": 65535.0, "F": 1.0}


def _pil_to_tensor(image: PIL.Image.Image, name: str) -> tuple[torch.Tensor, tuple[str, Any]]:
    """(1, 3, H, W) float RGB of a PIL image at its full bit depth, and what restoring it needs."""
    mode = image.mode
    if mode in HIGH_DEPTH_MODES:
        full = HIGH_DEPTH_MODES[mode]
        gray = np.asarray(image, dtype=np.float64)
        if not np.isfinite(gray).all():
            raise ValueError(f"`{name}` ({mode} image) holds NaN or infinite pixels ({int((~np.isfinite(gray)).sum())} "
                             "of them); replace them first")
        if gray.size and (gray.min() < 0 or gray.max() > full):
            raise ValueError(
                f"`{name}` ({mode} image) expected values in [0, {full:g}], got "
                f"[{gray.min():g}, {gray.max():g}]"
            )
        x = torch.from_numpy((gray / full).astype(np.float32))[None, None].expand(1, 3, -1, -1)
        return x.contiguous(), (mode, None)
    if mode == "La":  # premultiplied alpha: PIL converts it only to LA
        image, mode = image.convert("LA"), "LA"
    alpha = None
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        alpha = image.convert("RGBA").getchannel("A")
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(rgb).permute(2, 0, 1)[None], (mode, alpha)


def _tensor_to_pil(out: torch.Tensor, mode: str, alpha: PIL.Image.Image | None) -> PIL.Image.Image:
    rgb = out[0].clamp(0, 1).permute(1, 2, 0).cpu().double().numpy()
    if mode in HIGH_DEPTH_MODES:  # back to one channel at the input's depth (Rec. 601 luma, as PIL's "L")
        gray = rgb @ np.array(LUMA)
        if mode == "F":
            return PIL.Image.fromarray(gray.astype(np.float32), mode="F")
        values = np.round(gray * HIGH_DEPTH_MODES[mode])
        if mode == "I":
            return PIL.Image.fromarray(values.astype(np.int32), mode="I")
        result = PIL.Image.fromarray(values.astype(np.uint16))  # "I;16"
        return result if mode == "I;16" else result.convert(mode)
    result = PIL.Image.fromarray((rgb * 255.0).round().astype(np.uint8), mode="RGB")
    if alpha is not None:  # the input's alpha, untouched
        result = result.convert("LA") if mode == "LA" else result
        result.putalpha(alpha)
        return result
    if mode == "P":  # the old palette cannot hold the enhanced colours: a new one, fitted to them
        return result.quantize(colors=256, method=PIL.Image.Quantize.MEDIANCUT)
    return result.convert(mode) if mode != "RGB" else result


def _to_tensor(image: Any, name: str) -> tuple[torch.Tensor, str, Any]:
    """(1, 3, H, W) float tensor, the input kind, and what restoring it needs; ``name``: the argument, for errors."""
    if isinstance(image, PIL.Image.Image):
        x, restore = _pil_to_tensor(image, name)
        return x, "pil", restore
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise TypeError(
                f"`{name}` expected a uint8 (H, W, 3) RGB array, got dtype {image.dtype} shape {image.shape}"
            )
        return torch.from_numpy(image.astype(np.float32) / 255.0).permute(2, 0, 1)[None], "numpy", None
    if isinstance(image, torch.Tensor):
        check_image(image, name, allow_unbatched=True)
        return (image[None] if image.ndim == 3 else image), "tensor", image.ndim
    raise TypeError(
        f"`{name}` expected a torch.Tensor, a PIL image or a uint8 numpy array, got {type(image).__name__}"
    )


def _from_tensor(out: torch.Tensor, kind: str, extra: Any, like: Any) -> Any:
    if kind == "tensor":
        out = out.to(like.device, like.dtype)
        return out[0] if extra == 3 else out
    if kind == "pil":
        return _tensor_to_pil(out, *extra)
    return (out[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255.0).round().astype(np.uint8)


def enhance(
    images: Any,
    enhancer: nn.Module | str | None = None,
    *,
    tile: int | None = None,
    overlap: int = 128,
    batch_size: int = 8,
    device: str | torch.device | None = None,
    max_pixels: int | None = MAX_UNTILED_PIXELS,
    amp: bool = False,
    strength: float = 1.0,
    half: bool | None = None,
    model: nn.Module | str | None = None,
) -> Any:
    """Enhance low-light images; returns the same kind of object it was given.

    Conversions: a float tensor in [0, 1], (3, H, W) or (B, 3, H, W), comes
    back as a float tensor of the same shape, dtype and device. A PIL image
    comes back as a PIL image of the same size and mode (converted to RGB for
    the model, and back afterwards): 16-bit and 32-bit images ("I;16", "I",
    "F") keep their full range and depth, alpha ("RGBA", "LA") is kept as it
    was ("La", premultiplied, comes back as "LA"; a palette image with transparency comes back as "RGBA"; one without
    comes back as a palette image, "P", with a new 256-colour palette fitted
    to the enhanced picture). A
    uint8 numpy array (H, W, 3), RGB, comes back as such (values / 255 in,
    rounded * 255 out). A list or tuple of these gives a list. Output tensors
    are ordinary tensors without gradient history (run under ``no_grad``, not
    ``inference_mode``): you may change them in place or use them in a graph.

    The model is never modified: a module of yours is run in eval mode and put
    back in the mode it was in; if it lives on another device than ``device``,
    a copy runs there.

    Args:
        images: one image, a batch tensor, or a sequence of images (any sizes).
        enhancer: an enhancer module, a weights name / folder / Hub repo id, or
            ``None`` for the built-in default weights.
        tile: process each image in overlapping tiles of this size (bounded
            memory for large images); ``None`` processes whole images. At
            least the model's padding multiple plus the overlap (16 px for
            ``llenet_s`` without overlap).
        overlap: overlap between tiles in pixels, blended with linear ramps.
        batch_size: images per forward pass (untiled): the images of a batch
            tensor, and consecutive images of one size in a sequence, go
            through the network this many at a time (images of a sequence
            only while the batch stays within ``max_pixels`` in all).
        device: where the model runs; ``None``: where your module is, else
            where the first input tensor is (CPU for PIL and numpy input).
        max_pixels: with ``tile=None``, an image of more pixels than this is
            processed in tiles of ``AUTO_TILE`` (1024) px anyway, so memory
            stays bounded (untiled, ``llenet_s`` needs about 430 bytes per
            pixel on CPU: 8 MP is about 3.4 GB). ``None`` never tiles on its own.
        amp: run the model in bfloat16 autocast (CUDA only; the output is
            float32 as usual, and about 3 significant digits exact). The
            trainer's ``amp`` is the same autocast.
        strength: how much of the enhancement to apply, in [0, 1]: the
            output is ``input + strength * (model(input) - input)``; 0 returns
            the input, 1 (default) the model's output.
        half: the name of ``amp`` before 0.4 (deprecated).
        model: the name of ``enhancer`` before 0.4 (deprecated).

    Examples:
        >>> from llenhance import llenet_s
        >>> out = enhance(torch.rand(3, 40, 30) * 0.1, llenet_s())
        >>> out.shape, bool(out.min() >= 0 and out.max() <= 1)
        (torch.Size([3, 40, 30]), True)
    """
    check_positive_int(batch_size, "batch_size")
    if max_pixels is not None:
        check_positive_int(max_pixels, "max_pixels")
    many = isinstance(images, (list, tuple))
    items: Sequence[Any] = images if many else [images]
    if many and not items:
        raise ValueError("`images` expected at least one image, got an empty sequence")
    enhancer = deprecated_alias(model, "model", enhancer, "enhancer")
    if device is None:
        if isinstance(enhancer, nn.Module):
            device = _module_device(enhancer)
        else:
            device = items[0].device if isinstance(items[0], torch.Tensor) else torch.device("cpu")
    device = torch.device(device)
    amp = deprecated_alias(half, "half", amp, "amp")
    if not isinstance(amp, bool):
        raise TypeError(f"`amp` expected a bool, got {type(amp).__name__}")
    if amp and device.type != "cuda":
        raise ValueError(f"`amp` expected a CUDA `device` (bfloat16 autocast), got {device}")
    strength = check_finite_number(strength, "strength")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"`strength` expected a value in [0, 1], got {strength}")
    results: list[Any] = [None] * len(items)
    checked = False

    def forward(net: nn.Module, chunk: torch.Tensor) -> torch.Tensor:
        nonlocal checked
        if passes_unchanged(net, chunk):  # the gate would discard the network's output
            return chunk
        with unchecked():  # `chunk` was checked by _to_tensor
            out = net(chunk)
        if not checked:
            check_enhancer_output(out, chunk)
            checked = True
        return out.float()

    def finish(i: int, x: torch.Tensor, out: torch.Tensor, kind: str, extra: Any) -> None:
        out = out.clamp(0, 1)
        if strength < 1.0:
            out = torch.lerp(x.to(out.device, out.dtype), out, strength)
        results[i] = _from_tensor(out, kind, extra, items[i])

    with borrowed(enhancer, device) as net, torch.no_grad(), \
            torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):

        def run_batch(batch: list[tuple[int, torch.Tensor, str, Any]]) -> None:
            outs = forward(net, torch.cat([x.to(device, torch.float32) for _, x, _, _ in batch]))
            for (i, x, kind, extra), out in zip(batch, outs.split(1)):
                finish(i, x, out, kind, extra)

        # single untiled images of one size wait here and go through the network together
        batcher = ShapeBatcher(run_batch, batch_size, max_pixels)
        if tile is not None:
            check_tile(net, tile, overlap)
        for i, image in enumerate(items):
            x, kind, extra = _to_tensor(image, f"images[{i}]" if many else "images")
            image_tile, image_overlap = tile, overlap
            if tile is None and max_pixels is not None and x.shape[-2] * x.shape[-1] > max_pixels:
                image_tile, image_overlap = AUTO_TILE, min(overlap, AUTO_TILE // 2 - 1)
                check_tile(net, image_tile, image_overlap)
            if image_tile is None and x.shape[0] == 1:
                batcher.add((i, x, kind, extra), tuple(x.shape))
            else:
                outs = []
                for start in range(0, x.shape[0], batch_size):
                    chunk = x[start : start + batch_size].to(device, torch.float32)
                    if image_tile is None:
                        outs.append(forward(net, chunk))
                    else:
                        with unchecked():
                            outs.extend(_enhance_tiled(net, chunk[j : j + 1], image_tile, image_overlap)
                                        for j in range(chunk.shape[0]))
                finish(i, x, torch.cat(outs), kind, extra)
        batcher.flush()
    return results if many else results[0]


def check_tile(net: nn.Module, tile: int, overlap: int) -> None:
    """Refuse tile settings `enhance` cannot use with ``net`` (``ValueError`` naming ``tile`` or ``overlap``).

    Examples:
        >>> check_tile(nn.Identity(), 64, 8)
        >>> check_tile(nn.Identity(), 3, 128)
        Traceback (most recent call last):
        ...
        ValueError: `overlap` expected an int in [0, tile // 2), got 128 with tile 3
    """
    check_positive_int(tile, "tile")
    if not 0 <= overlap < tile // 2:
        raise ValueError(f"`overlap` expected an int in [0, tile // 2), got {overlap} with tile {tile}")
    from llenhance.models.tiling import tile_halo

    multiple = getattr(net, "pad_multiple", 1)  # LLENet and Enhancer pad their input to a multiple of this
    halo = tile_halo(overlap, multiple)
    smallest = 2 * halo + multiple
    if tile < smallest:
        raise ValueError(
            f"`tile` expected at least {smallest} for this model (its padding multiple {multiple} plus the "
            f"overlap {overlap} rounded to it), got {tile}"
        )
