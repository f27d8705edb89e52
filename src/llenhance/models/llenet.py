"""LLENet: the low-light enhancement network of LL-FER, architecture only.

Paper: Xie, Ou, Wen, Yu, Tian, "A joint learning method for low-light facial
expression recognition", Complex & Intelligent Systems, 2025 (Fig. 2,
Eqs. 1-5). A three-scale encoder-decoder built from ConvNeXt-Residual (CR)
blocks, with high/low feature fusion (skip connections) and feature
enhancement (FE) blocks in the decoder (`llenhance.models.blocks`).

The reconstruction module's "two 1x1 convolutions" have a GELU between them;
two linear maps in a row would collapse into one.

What surrounds the network in the shipped weights (the exposure curve before
it, the output exposure, the colour carry and the exposure gate after it) is
`llenhance.Enhancer`; `llenet_s` and `llenet_b` build one.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from llenhance._checks import check_image, check_positive_int
from llenhance.models.blocks import CRBlock, DecoderStage, pad_to_multiple
from llenhance.models.exposure import log_exposure

__all__ = ["LLENet", "llenet_b", "llenet_s"]

_SCALES = 3
_MULTIPLE = 2**_SCALES
#: The constructor arguments of `LLENet`: its architecture.
ARCHITECTURE_KEYS = ("width", "use_fe", "use_skip", "fe_depthwise", "mlp_ratio", "stem_stride", "exposure_input")
#: Arguments that `LLENet` took before 0.4 and `Enhancer` takes now.
PIPELINE_KEYS = ("curve_target", "exposure_gate", "output_target", "luma_only")


class LLENet(nn.Module):
    """Low-light enhancement network (LL-FER, paper Fig. 2).

    Input and output are RGB float images in [0, 1] of shape (B, 3, H, W) or
    (3, H, W), any H and W; the output has the input's shape. In eval mode the
    output is clamped to [0, 1]; in train mode it is not, so gradients are not
    cut at the bounds.

    This is the network alone, as in the paper. The built-in weights wrap it in
    an `Enhancer` (exposure curve, output exposure, colour carry, exposure
    gate); `llenet_s` / `llenet_b` build an `Enhancer` around a new network.

    Args:
        width: channels C at full resolution (C, 2C, 4C, 8C at the scales);
            even, >= 2.
        use_fe: FE blocks in the decoder (paper Table 1 ablation switch).
        use_skip: high/low feature fusion, i.e. skip connections (paper
            Table 1 "HL" switch).
        fe_depthwise: depthwise multi-scale convolutions in the FE blocks.
        mlp_ratio: expansion of the ConvNeXt blocks' 1x1 layers.
        stem_stride: 1 (the paper), or 2 to fold 2x2 pixel blocks into
            channels (pixel unshuffle) before the stem and unfold them after
            the reconstruction module: a quarter of the pixels at every stage.
        exposure_input: tell the network how bright its input was: the log of
            a mean grey level (`log_exposure`) is turned into one learned bias
            per stem channel. Starts at zero, so an untrained network ignores it.

    Examples:
        >>> import torch
        >>> from llenhance import LLENet
        >>> net = LLENet(width=8).eval()
        >>> net(torch.rand(1, 3, 37, 50)).shape
        torch.Size([1, 3, 37, 50])
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        pipeline = {k: kwargs.pop(k) for k in PIPELINE_KEYS if k in kwargs}
        if not pipeline:
            return super().__new__(cls)
        from llenhance.models.enhancer import Enhancer

        warnings.warn(f"LLENet({', '.join(f'{k}=...' for k in pipeline)}) is deprecated since llenhance 0.4: "
                      f"the network takes its architecture only; use Enhancer(LLENet(...), "
                      f"{', '.join(f'{k}=...' for k in pipeline)}) or llenet_s(...) / llenet_b(...)",
                      DeprecationWarning, stacklevel=2)
        return Enhancer(dict(kwargs), **pipeline)

    def __init__(
        self,
        *,
        width: int = 32,
        use_fe: bool = True,
        use_skip: bool = True,
        fe_depthwise: bool = False,
        mlp_ratio: int = 4,
        stem_stride: int = 1,
        exposure_input: bool = False,
    ) -> None:
        super().__init__()
        check_positive_int(width, "width")
        if width % 2:
            raise ValueError(f"`width` expected an even number (CR blocks split channels in halves), got {width}")
        check_positive_int(mlp_ratio, "mlp_ratio")
        if stem_stride not in (1, 2):
            raise ValueError(f"`stem_stride` expected 1 or 2, got {stem_stride!r}")
        flags = (("use_fe", use_fe), ("use_skip", use_skip), ("fe_depthwise", fe_depthwise),
                 ("exposure_input", exposure_input))
        for name, flag in flags:
            if not isinstance(flag, bool):
                raise TypeError(f"`{name}` expected a bool, got {type(flag).__name__}")
        self.width = width
        self.use_fe = use_fe
        self.use_skip = use_skip
        self.fe_depthwise = fe_depthwise
        self.mlp_ratio = mlp_ratio
        self.stem_stride = stem_stride
        self.exposure_input = exposure_input
        #: Input sides are padded to a multiple of this.
        self.pad_multiple = _MULTIPLE * stem_stride
        widths = tuple(width * 2**i for i in range(_SCALES + 1))

        # stem_stride 2 folds each 2x2 pixel block into 12 channels (and unfolds
        # at the end), so every stage runs on a quarter of the pixels.
        pixels = 3 * stem_stride**2
        self.stem = nn.Sequential(nn.PixelUnshuffle(stem_stride), nn.Conv2d(pixels, width, 1))
        #: log mean grey of the input -> a bias per stem channel; zero at the start.
        self.exposure = nn.Linear(1, width) if exposure_input else None
        if self.exposure is not None:
            nn.init.zeros_(self.exposure.weight)
            nn.init.zeros_(self.exposure.bias)
        self.encoder = nn.ModuleList(CRBlock(c, mlp_ratio=mlp_ratio) for c in widths[:-1])
        self.down = nn.ModuleList(
            nn.Conv2d(c, 2 * c, 2, stride=2) for c in widths[:-1]
        )
        self.bottleneck = CRBlock(widths[-1], mlp_ratio=mlp_ratio)
        # Decoder stages, ordered from the lowest scale up.
        self.decoder = nn.ModuleList(
            DecoderStage(c, use_skip=use_skip, use_fe=use_fe, fe_depthwise=fe_depthwise, mlp_ratio=mlp_ratio)
            for c in reversed(widths[:-1])
        )
        self.reconstruct = nn.Sequential(
            CRBlock(width, mlp_ratio=mlp_ratio),
            nn.Conv2d(width, width, 1),
            nn.GELU(),
            nn.Conv2d(width, pixels, 1),
            nn.PixelShuffle(stem_stride),
        )

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments of this network (a new dict each time).

        Examples:
            >>> LLENet(width=8).config["width"]
            8
        """
        return {key: getattr(self, key) for key in ARCHITECTURE_KEYS}

    def zero_output_(self) -> LLENet:
        """Set the last layer to zero, in place, so that the network's output starts at zero (an `Enhancer`
        with an exposure curve adds it to the curve); returns the network."""
        with torch.no_grad():
            nn.init.zeros_(self.reconstruct[-2].weight)
            nn.init.zeros_(self.reconstruct[-2].bias)
        return self

    def forward(self, x: torch.Tensor, exposure: torch.Tensor | None = None) -> torch.Tensor:
        """The network's output for ``x``; ``exposure``: `log_exposure` of the image to tell an
        ``exposure_input`` network (by default that of ``x``)."""
        check_image(x, "x", allow_unbatched=True)
        if x.ndim == 3:
            return self.forward(x.unsqueeze(0), exposure).squeeze(0)
        if self.exposure_input and exposure is None:
            exposure = log_exposure(x)
        y = self.run(x, exposure)
        return y if self.training else y.clamp(0.0, 1.0)

    def run(self, x: torch.Tensor, exposure: torch.Tensor | None = None, *,
            pooled: dict[int, torch.Tensor] | None = None, attention_of: int | None = None) -> torch.Tensor:
        """The network on a (B, 3, H, W) batch, unchecked and unclamped.

        ``exposure``: (B,) `log_exposure` values for an ``exposure_input`` network (required there).
        ``pooled``: decoder stage -> the channel attention's average to use instead of the input's own.
        ``attention_of``: stop at that decoder stage and return what its channel attention averages.
        """
        h, w = x.shape[-2:]
        # Channels-last runs the thin, full-resolution convolutions about 2x
        # faster on CPU; the output is made contiguous again below.
        x = pad_to_multiple(x, self.pad_multiple)
        y = self.stem(x.contiguous(memory_format=torch.channels_last))
        if self.exposure is not None:
            if exposure is None:
                raise ValueError("`exposure` expected the log_exposure of the input for a network with "
                                 "exposure_input, got None")
            y = y + self.exposure(exposure.reshape(-1, 1).to(y.dtype))[:, :, None, None]
        skips = []
        for block, down in zip(self.encoder, self.down):
            y = block(y)
            skips.append(y)
            y = down(y)
        y = self.bottleneck(y)
        for i, (stage, skip) in enumerate(zip(self.decoder, reversed(skips))):
            if i == attention_of:
                return stage.fe.attention_input(stage.trunk(y, skip))
            y = stage(y, skip, pooled.get(i) if pooled is not None else None)
        return self.reconstruct(y)[..., :h, :w].contiguous()

    @torch.no_grad()
    def tile_statistics(self, padded: torch.Tensor, exposure: torch.Tensor | None, *, tile: int,
                        overlap: int) -> dict[int, torch.Tensor]:
        """What every FE block's channel attention averages over the whole of ``padded`` (one image, sides a
        multiple of `pad_multiple`), gathered tile by tile (one partial pass per block): the ``pooled``
        argument of `run` that makes tiles see the whole image's statistics."""
        from llenhance.models.tiling import tile_grid

        hp, wp = padded.shape[-2:]
        grid, _ = tile_grid(hp, wp, tile, overlap, self.pad_multiple)
        pooled: dict[int, torch.Tensor] = {}
        for i, stage in enumerate(self.decoder):
            if stage.fe is None:
                continue
            total, scale = torch.zeros((), dtype=torch.float64), 1.0
            for (ty0, ty1, cy0, cy1), (tx0, tx1, cx0, cx1) in grid:
                feat = self.run(padded[..., ty0:ty1, tx0:tx1], exposure, pooled=pooled, attention_of=i)
                scale = feat.shape[-1] / (tx1 - tx0)  # feature pixels per image pixel
                core = feat[..., round((cy0 - ty0) * scale) : round((cy1 - ty0) * scale),
                            round((cx0 - tx0) * scale) : round((cx1 - tx0) * scale)]
                total = total + core.double().sum(dim=(0, 2, 3))
            pooled[i] = (total / (hp * scale * wp * scale)).float().view(1, -1, 1, 1)
        return pooled

    @torch.no_grad()
    def forward_tiled(self, image: torch.Tensor, *, tile: int, overlap: int) -> torch.Tensor:
        """The eval-mode output for one (1, 3, H, W) image, computed in overlapping tiles of ``tile`` pixels.

        Equal to `forward` up to the receptive field cut at tile borders: the exposure input and the channel
        attention's averages are taken from the whole image (`tile_statistics`). Nothing is stored on the
        model: several threads may tile with one model at once.
        """
        from llenhance.models.tiling import blend_tiles

        check_image(image, "image")
        if image.shape[0] != 1:
            raise ValueError(f"`image` expected one image (1, 3, H, W), got a batch of {image.shape[0]}")
        h, w = image.shape[-2:]
        exposure = log_exposure(image) if self.exposure_input else None
        padded = pad_to_multiple(image, self.pad_multiple)
        pooled = self.tile_statistics(padded, exposure, tile=tile, overlap=overlap)
        out = blend_tiles(lambda t: self.run(t, exposure, pooled=pooled).clamp(0.0, 1.0), padded, tile, overlap,
                          self.pad_multiple)
        return out[..., :h, :w]

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, **kwargs: Any) -> Any:
        """Deprecated since 0.4: weights load as an `Enhancer` (the network and its exposure settings);
        use ``Enhancer.from_pretrained``, which this calls."""
        from llenhance.models.enhancer import Enhancer

        warnings.warn("LLENet.from_pretrained is deprecated since llenhance 0.4: weights are an Enhancer (the "
                      "network with its exposure settings); use llenhance.Enhancer.from_pretrained",
                      DeprecationWarning, stacklevel=2)
        return Enhancer.from_pretrained(pretrained_model_name_or_path, **kwargs)


def llenet_s(**kwargs: Any) -> Any:
    """Small LLENet in an `Enhancer`, a cheap preprocessing step in front of a classifier.

    How it gets cheap: it folds 2x2 pixel blocks into channels before the stem
    (``stem_stride=2``), so every stage runs on a quarter of the pixels; width
    16; depthwise 3x3/5x5/7x7 branches in the FE blocks; ConvNeXt expansion 2.
    At 112x112 that is about a fifth of a ResNet-18's FLOPs at 112x112 and
    less CPU latency (``benchmarks/model_cost.py``, table in
    ``benchmarks/results/model_cost.md``).

    What it gives up: no stage sees single pixels (fine detail travels through
    the 12-channel block representation and the final pixel shuffle), there
    is no channel mixing inside the FE blocks' multi-scale convolutions, and
    it has half of the base size's width.

    Keyword arguments override these settings: `LLENet`'s architecture and `Enhancer`'s exposure settings.
    """
    return _build({"width": 16, "stem_stride": 2, "fe_depthwise": True, "mlp_ratio": 2, **kwargs})


def llenet_b(**kwargs: Any) -> Any:
    """Base LLENet in an `Enhancer`: width 32, full-resolution stem and full FE blocks, as in the paper.

    Keyword arguments override these settings: `LLENet`'s architecture and `Enhancer`'s exposure settings.
    """
    return _build({"width": 32, **kwargs})


def _build(settings: dict[str, Any]) -> Any:
    from llenhance.models.enhancer import Enhancer

    pipeline = {k: settings.pop(k) for k in PIPELINE_KEYS if k in settings}
    return Enhancer(settings, **pipeline)
