"""LLENet: the low-light enhancement network of LL-FER.

Paper: Xie, Ou, Wen, Yu, Tian, "A joint learning method for low-light facial
expression recognition", Complex & Intelligent Systems, 2025 (Fig. 2,
Eqs. 1-5). A three-scale encoder-decoder built from ConvNeXt-Residual (CR)
blocks, with high/low feature fusion (skip connections) and feature
enhancement (FE) blocks in the decoder.

Reading of the paper (see the docs page "The paper and how we read it"):

* The FE block adds ``PA(CA(concat(C1, C2, C3)))`` to its input ``F``; the
  concatenation has three times the width of ``F``, so a 1x1 convolution
  brings it back to the width of ``F`` before the sum.
* The reconstruction module's "two 1x1 convolutions" have a GELU between them;
  two linear maps in a row would collapse into one.
* Any H, W is accepted: the input is reflect-padded (replicate-padded where
  reflection is impossible, below 8 pixels) to a multiple of 8 and the output
  cropped back.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from llenhance._checks import check_image, check_positive_int, value_checks_enabled
from llenhance._color import grey, mean_grey
from llenhance._digest import state_digest
from llenhance.models.chroma import carry_chroma

__all__ = ["CRBlock", "FEBlock", "LLENet", "exposure_curve", "llenet_b", "llenet_s"]

_SCALES = 3
_MULTIPLE = 2**_SCALES


class _ConvNeXtBlock(nn.Module):
    """ConvNeXt block: 7x7 depthwise conv, LayerNorm, 1x1 to 4x, GELU, 1x1 back, + x."""

    def __init__(self, channels: int, *, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(channels, channels, 7, padding=3, groups=channels)
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.pwconv1 = nn.Linear(channels, mlp_ratio * channels)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(mlp_ratio * channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)  # LayerNorm and Linear act on the last dim
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + y.permute(0, 3, 1, 2)


class _ResidualBlock(nn.Module):
    """Residual block: 3x3 conv, ReLU, 3x3 conv, + x."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


class CRBlock(nn.Module):
    """ConvNeXt-Residual block (paper Eqs. 1-3).

    The input M is split into halves M1, M2 along channels; Z1 = ConvNeXt(M1),
    Z2 = ResBlock(M2); the output is Conv1x1(Concat(Z1, Z2)) + M.

    Args:
        channels: width of input and output; must be even.
        mlp_ratio: expansion of the ConvNeXt block's 1x1 layers.
    """

    def __init__(self, channels: int, *, mlp_ratio: int = 4) -> None:
        super().__init__()
        if channels % 2:
            raise ValueError(f"`channels` expected an even number, got {channels}")
        half = channels // 2
        self.convnext = _ConvNeXtBlock(half, mlp_ratio=mlp_ratio)
        self.residual = _ResidualBlock(half)
        self.fuse = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m1, m2 = x.chunk(2, dim=1)
        return self.fuse(torch.cat((self.convnext(m1), self.residual(m2)), dim=1)) + x


class _ChannelAttention(nn.Module):
    """Squeeze-and-excitation (Hu et al., CVPR 2018).

    ``pooled``, when given, replaces the global average of the input: tiled
    inference passes the average over the whole image, so that tiles see the
    same channel weights as the untiled forward pass.
    """

    def __init__(self, channels: int, *, reduction: int = 8) -> None:
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor, pooled: torch.Tensor | None = None) -> torch.Tensor:
        w = pooled.to(x) if pooled is not None else F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(w))))


class _PixelAttention(nn.Module):
    """Pixel attention (Zhao et al., PAN, ECCV-W 2020): x * sigmoid(conv1x1(x))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.conv(x))


class FEBlock(nn.Module):
    """Feature enhancement block (paper Eqs. 4-5).

    C_i = Conv_{(2i+1)x(2i+1)}(F) for i = 1, 2, 3; the output is
    F + Conv1x1(PA(CA(Concat(C1, C2, C3)))).

    Args:
        channels: width of F.
        depthwise: make the three multi-scale convolutions depthwise
            (``groups=channels``): about 1/channels of their cost, at the
            price of no channel mixing inside them (CA, PA and the final 1x1
            still mix channels).
    """

    def __init__(self, channels: int, *, depthwise: bool = False) -> None:
        super().__init__()
        groups = channels if depthwise else 1
        self.branches = nn.ModuleList(
            nn.Conv2d(channels, channels, k, padding=k // 2, groups=groups) for k in (3, 5, 7)
        )
        self.ca = _ChannelAttention(3 * channels)
        self.pa = _PixelAttention(3 * channels)
        self.project = nn.Conv2d(3 * channels, channels, 1)

    def attention_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the channel attention averages: the three branches' outputs, concatenated."""
        return torch.cat([branch(x) for branch in self.branches], dim=1)

    def forward(self, x: torch.Tensor, pooled: torch.Tensor | None = None) -> torch.Tensor:
        """``pooled``: the channel attention's average, if not this input's own (see `LLENet.forward_tiled`)."""
        return x + self.project(self.pa(self.ca(self.attention_input(x), pooled)))


class _UpStage(nn.Module):
    """2x2 transposed conv (halves width), optional skip fusion, CR block, optional FE."""

    def __init__(
        self, channels: int, *, use_skip: bool, use_fe: bool, fe_depthwise: bool, mlp_ratio: int
    ) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(2 * channels, channels, 2, stride=2)
        self.fuse = nn.Conv2d(2 * channels, channels, 1) if use_skip else None
        self.cr = CRBlock(channels, mlp_ratio=mlp_ratio)
        self.fe = FEBlock(channels, depthwise=fe_depthwise) if use_fe else None

    def trunk(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Everything before the FE block."""
        x = self.up(x)
        if self.fuse is not None:
            x = self.fuse(torch.cat((x, skip), dim=1))
        return self.cr(x)

    def forward(self, x: torch.Tensor, skip: torch.Tensor, pooled: torch.Tensor | None = None) -> torch.Tensor:
        x = self.trunk(x, skip)
        return self.fe(x, pooled) if self.fe is not None else x


def _pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0 and not torch.jit.is_tracing():
        return x  # (a traced graph keeps the pad, whose size depends on the input)
    # Reflection needs the pad to be smaller than the side it reflects.
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


#: Rec. 601 luma weights: the grey level the exposure curve normalises.
#: Mean grey levels are clamped to this range before the exponent is taken.
_MEAN_RANGE = (1e-3, 0.999)


def _log_mean_grey(x: torch.Tensor) -> torch.Tensor:
    """(B,) log of each image's mean Rec. 601 grey level, the mean clamped to `_MEAN_RANGE`."""
    return mean_grey(x).clamp(*_MEAN_RANGE).log().view(-1)


def exposure_curve(x: torch.Tensor, target: float) -> torch.Tensor:
    """Per-image brightening curve ``x ** g`` that lifts the mean grey level to ``target``.

    ``g = log(target) / log(mean grey)``, at most 1: an image whose mean grey
    level (Rec. 601 luma, averaged over the image) is already ``target`` or
    more is returned unchanged, never darkened. ``x``: (B, 3, H, W) in [0, 1].
    The mean is clamped to [0.001, 0.999] (a black image gets g = log(target) / log(0.001)).

    Examples:
        >>> x = torch.full((1, 3, 2, 2), 0.25)
        >>> exposure_curve(x, 0.5)[0, 0, 0, 0].item()  # 0.25 ** 0.5
        0.5
        >>> bool((exposure_curve(x, 0.2) == x).all())  # already bright enough: unchanged
        True
    """
    gamma = (math.log(target) / _log_mean_grey(x)).clamp(max=1.0).view(-1, 1, 1, 1)
    # x ** 1 is x; the clamp keeps the gradient of x ** g finite at black pixels.
    return torch.where(gamma < 1, x.clamp_min(1e-6).pow(gamma), x)


def match_exposure(x: torch.Tensor, target: float | torch.Tensor) -> torch.Tensor:
    """Per-image gamma ``x ** g`` that brings the mean grey level to about ``target``, up or down.

    ``g = log(target) / log(mean grey)`` (Rec. 601 luma averaged over the
    image, clamped to [0.001, 0.999]); unlike `exposure_curve` it also darkens
    an image brighter than ``target``. The mean of ``x ** g`` is
    ``mean(x) ** g`` only for a flat image; elsewhere it lands near
    ``target``. ``x``: (B, 3, H, W) in [0, 1]; ``target``: a level in
    (0, 1), or one per image, (B,) (e.g. the references' levels in training).

    Examples:
        >>> x = torch.full((1, 3, 2, 2), 0.25)
        >>> match_exposure(x, 0.5)[0, 0, 0, 0].item()  # 0.25 ** 0.5
        0.5
        >>> round(match_exposure(torch.full((1, 3, 2, 2), 0.81), 0.9)[0, 0, 0, 0].item(), 4)  # 0.81 ** 0.5
        0.9
        >>> round(match_exposure(x, 0.0625)[0, 0, 0, 0].item(), 4)  # darkened: 0.25 ** 2
        0.0625
    """
    check_image(x, "x")
    if isinstance(target, torch.Tensor):
        if target.shape != (x.shape[0],):
            raise ValueError(f"`target` expected one level per image, shape ({x.shape[0]},), got {tuple(target.shape)}")
        if value_checks_enabled() and not bool(((target > 0) & (target < 1)).all()):
            raise ValueError("`target` expected mean grey levels in (0, 1)")
    elif _grey_level_or_none(target, "target") is None:
        raise TypeError("`target` expected a number in (0, 1) or a tensor of levels, got None")
    return _match_exposure(x, target)


def _match_exposure(x: torch.Tensor, target: float | torch.Tensor) -> torch.Tensor:
    """`match_exposure` without checks (the model's own output, the trainer's batches); any x >= 0 or
    not, levels clamped to [0.001, 0.999]."""
    log_target = torch.as_tensor(target, dtype=torch.float32, device=x.device).clamp(*_MEAN_RANGE).log()
    gamma = (log_target / _log_mean_grey(x)).view(-1, 1, 1, 1)
    # The clamp keeps the gradient of x ** g finite at black pixels, and x ** g finite where a network in
    # training mode (unclamped) gives values above 1 with a mean near 1: there g is in the hundreds and
    # 1.2 ** 916 is inf in float32 (an exposure gate then blended inf with a share of 0: NaN).
    return x.clamp(1e-6, 1.0).pow(gamma.to(x.dtype))


def _grey_level_or_none(value: Any, name: str) -> float | None:
    """``value`` as a float mean grey level in (0, 1), or None; a clear error naming ``name`` otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` expected None or a number in (0, 1), got {type(value).__name__}")
    if not 0 < value < 1:
        raise ValueError(f"`{name}` expected a mean grey level in (0, 1), got {value}")
    return float(value)


def _flush_subnormals(module: nn.Module) -> None:
    # Subnormal weights make CPU convolutions many times slower and carry no signal.
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            if t.is_floating_point():
                tiny = torch.finfo(t.dtype).tiny
                t.masked_fill_(t.abs() < tiny, 0.0)


_CARD_TEMPLATE = """
---
{{ card_data }}
---

LLENet low-light enhancement weights for [llenhance]({{ repo_url }}), an implementation of
LL-FER (Xie et al., "A joint learning method for low-light facial expression recognition",
Complex & Intelligent Systems, 2025).

**Licence: set it before publishing.** Weights inherit the terms of the data they were
trained on (for example SICE: CC BY-NC 4.0; FER2013: research use only); the Apache-2.0
licence of the llenhance code does not cover them. Say here what the weights were trained
on, how, and how well they do.
"""


class LLENet(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="llenhance",
    tags=["low-light-image-enhancement", "facial-expression-recognition"],
    repo_url="https://github.com/llenhance/llenhance",
    pipeline_tag="image-to-image",
    # No licence here: weights carry the terms of their training data (SICE: CC BY-NC 4.0,
    # FER2013: research only), which the code's Apache-2.0 does not cover. Pass it with
    # save_pretrained(..., model_card_kwargs={"license": ...}) (see generate_model_card).
    model_card_template=_CARD_TEMPLATE,
):
    """Low-light enhancement network (LL-FER, paper Fig. 2).

    Input and output are RGB float images in [0, 1] of shape (B, 3, H, W) or
    (3, H, W), any H and W; the output has the input's shape. In eval mode the
    output is clamped to [0, 1]; in train mode it is not, so gradients are not
    cut at the bounds.

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
        curve_target: ``None`` (the paper): the network maps the input to
            the output. A mean grey level in (0, 1): the input first goes
            through `exposure_curve` (a per-image gamma that lifts a
            darker image's mean grey level to ``curve_target`` and leaves a
            brighter one unchanged), and the network adds a correction to the
            curve's output. Its last layer starts at zero, so an untrained
            network *is* the curve; training only has to learn what the curve
            gets wrong (noise, contrast, what a classifier needs).
        exposure_input: tell the network how bright the *input* was: the log
            of its mean grey level (before any curve) is turned into one
            learned bias per stem channel. After the exposure curve a lifted
            dark image and a well-lit one can look alike while their targets
            differ (a well-lit image should pass unchanged); this input lets
            the network tell them apart. Starts at zero, so an untrained
            network ignores it.
        exposure_gate: ``None`` (the paper): every image is enhanced. A pair
            ``(low, high)`` of mean grey levels, ``0 < low < high < 1``: how
            much of the network's change an image gets depends on its own
            mean grey level (Rec. 601 luma, the whole image): all of it at
            ``low`` or darker, none at ``high`` or brighter (the image passes
            unchanged), and in between a share falling linearly in stops
            (``log(high / mean) / log(high / low)``). Well-lit images then
            pass through untouched; see `exposure_share`.
        output_target: ``None`` (the paper): the network sets the output's
            brightness. A mean grey level in (0, 1): the network's output
            goes through `match_exposure` (a per-image gamma that brings its
            mean grey level to about ``output_target``, brightening or
            darkening), so the network shapes local contrast, colour and
            noise while the global exposure is fixed. Applied before the
            exposure gate, so an image the gate passes stays unchanged.
        luma_only: the network sees the input's BT.601 luma (R = G = B) and the
            input's colour is carried onto its output by `carry_chroma` (the
            hue kept, the saturation of the dark input brought back towards
            the scene's). For networks trained on grey faces, whose own output
            turns colour grey. A grey input gives an exactly grey output.

    Examples:
        >>> import torch
        >>> from llenhance import LLENet
        >>> net = LLENet(width=8).eval()
        >>> net(torch.rand(1, 3, 37, 50)).shape
        torch.Size([1, 3, 37, 50])
    """

    def __init__(
        self,
        *,
        width: int = 32,
        use_fe: bool = True,
        use_skip: bool = True,
        fe_depthwise: bool = False,
        mlp_ratio: int = 4,
        stem_stride: int = 1,
        curve_target: float | None = None,
        exposure_input: bool = False,
        exposure_gate: tuple[float, float] | list[float] | None = None,
        output_target: float | None = None,
        luma_only: bool = False,
    ) -> None:
        super().__init__()
        check_positive_int(width, "width")
        if width % 2:
            raise ValueError(f"`width` expected an even number (CR blocks split channels in halves), got {width}")
        check_positive_int(mlp_ratio, "mlp_ratio")
        if stem_stride not in (1, 2):
            raise ValueError(f"`stem_stride` expected 1 or 2, got {stem_stride!r}")
        flags = (("use_fe", use_fe), ("use_skip", use_skip), ("fe_depthwise", fe_depthwise),
                 ("exposure_input", exposure_input), ("luma_only", luma_only))
        for name, flag in flags:
            if not isinstance(flag, bool):
                raise TypeError(f"`{name}` expected a bool, got {type(flag).__name__}")
        self.curve_target = _grey_level_or_none(curve_target, "curve_target")
        self.output_target = _grey_level_or_none(output_target, "output_target")
        if exposure_gate is not None:
            if not isinstance(exposure_gate, (tuple, list)) or len(exposure_gate) != 2 or any(
                isinstance(v, bool) or not isinstance(v, (int, float)) for v in exposure_gate
            ):
                raise TypeError(f"`exposure_gate` expected None or two mean grey levels (low, high), "
                                f"got {exposure_gate!r}")
            low, high = (float(v) for v in exposure_gate)
            if not 0 < low < high < 1:
                raise ValueError(f"`exposure_gate` expected 0 < low < high < 1, got {exposure_gate!r}")
            exposure_gate = (low, high)
        self.exposure_gate = exposure_gate
        self.luma_only = luma_only
        self.width = width
        self.use_fe = use_fe
        self.use_skip = use_skip
        self.fe_depthwise = fe_depthwise
        self.mlp_ratio = mlp_ratio
        self.stem_stride = stem_stride
        #: Input sides are padded to a multiple of this.
        self.pad_multiple = _MULTIPLE * stem_stride
        widths = tuple(width * 2**i for i in range(_SCALES + 1))

        # stem_stride 2 folds each 2x2 pixel block into 12 channels (and unfolds
        # at the end), so every stage runs on a quarter of the pixels.
        pixels = 3 * stem_stride**2
        self.stem = nn.Sequential(nn.PixelUnshuffle(stem_stride), nn.Conv2d(pixels, width, 1))
        self.exposure_input = exposure_input
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
            _UpStage(c, use_skip=use_skip, use_fe=use_fe, fe_depthwise=fe_depthwise, mlp_ratio=mlp_ratio)
            for c in reversed(widths[:-1])
        )
        self.reconstruct = nn.Sequential(
            CRBlock(width, mlp_ratio=mlp_ratio),
            nn.Conv2d(width, width, 1),
            nn.GELU(),
            nn.Conv2d(width, pixels, 1),
            nn.PixelShuffle(stem_stride),
        )
        if self.has_curve:  # start as the curve: a zero correction
            nn.init.zeros_(self.reconstruct[-2].weight)
            nn.init.zeros_(self.reconstruct[-2].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.finish(x, self.enhance_curved(x, apply_curve=True))

    def finish(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """What follows the network and depends on the whole image: ``output_target``'s
        `match_exposure` of the network's output ``y``, then the exposure `gate` with the uncurved
        input ``x``. ``y`` itself for a model with neither. Tiled inference calls it on the
        assembled output."""
        if self.output_target is not None:
            y = _match_exposure(y if y.ndim == 4 else y.unsqueeze(0), self.output_target).view_as(y)
        if self.luma_only:
            y = carry_chroma(x, y)
        return self.gate(x, y)

    def exposure_share(self, x: torch.Tensor) -> torch.Tensor:
        """How much of the network's change each image of ``x`` (uncurved input) gets, (B,), in [0, 1].

        All ones without ``exposure_gate``. With ``(low, high)``: 1 at a mean grey
        level of ``low`` or less, 0 at ``high`` or more, linear in log(mean) between.
        """
        if x.ndim == 3:
            x = x.unsqueeze(0)
        if self.exposure_gate is None:
            return x.new_ones(x.shape[0])
        low, high = self.exposure_gate
        log_mean = self.input_exposure(x)
        return ((math.log(high) - log_mean) / (math.log(high) - math.log(low))).clamp(0.0, 1.0)

    def gate(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``x + share * (y - x)`` per image: the network's output ``y`` for input ``x`` after the
        exposure gate (``y`` itself without one). ``x`` is the uncurved input, (B, 3, H, W) or (3, H, W)."""
        if self.exposure_gate is None:
            return y
        share = self.exposure_share(x).to(y.dtype)
        share = share.view(-1, 1, 1, 1) if y.ndim == 4 else share.view(1, 1, 1)
        return torch.lerp(x.to(y.dtype), y, share)

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments of this network, as ``config.json`` holds them (a new dict each time).

        Examples:
            >>> LLENet(width=8).config["width"]
            8
        """
        return {"width": self.width, "use_fe": self.use_fe, "use_skip": self.use_skip,
                "fe_depthwise": self.fe_depthwise, "mlp_ratio": self.mlp_ratio, "stem_stride": self.stem_stride,
                "curve_target": self.curve_target, "exposure_input": self.exposure_input,
                "exposure_gate": list(self.exposure_gate) if self.exposure_gate is not None else None,
                "output_target": self.output_target, "luma_only": self.luma_only}

    def passes_unchanged(self, x: torch.Tensor) -> bool:
        """Whether the exposure gate returns every image of ``x`` unchanged (all too bright for the network)."""
        return self.exposure_gate is not None and not bool(self.exposure_share(x).any())

    @property
    def has_curve(self) -> bool:
        """Whether a global curve (``curve_target``) comes before the network, which then adds a correction to
        the curve's output."""
        return self.curve_target is not None

    def curve(self, x: torch.Tensor) -> torch.Tensor:
        """What the network is given for ``x``, (B, 3, H, W): its luma as a grey image for ``luma_only``, then
        `exposure_curve` to ``curve_target``; ``x`` itself for a model with neither. Tiled inference applies it to the whole image."""
        if self.luma_only:
            x = grey(x).unsqueeze(1).expand(-1, 3, -1, -1)
        if self.curve_target is not None:
            x = exposure_curve(x, self.curve_target)
        return x

    @staticmethod
    def input_exposure(x: torch.Tensor) -> torch.Tensor:
        """What ``exposure_input`` gives the network: log of each image's mean grey level, (B,).

        The mean (Rec. 601 luma) is clamped to [0.001, 0.999] as in `exposure_curve`.
        """
        return _log_mean_grey(x)

    def enhance_curved(
        self, x: torch.Tensor, *, apply_curve: bool = False, exposure: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The forward pass; ``apply_curve=False`` skips the exposure curve of a curve model (the
        input is taken as already curved: tiled inference curves the whole image once).
        ``exposure``: `input_exposure` of the whole uncurved image, for a model with
        ``exposure_input`` run on tiles or on curved input; by default it is read off ``x``."""
        check_image(x, "x", allow_unbatched=True)
        unbatched = x.ndim == 3
        if unbatched:
            x = x.unsqueeze(0)
        if self.exposure is not None and exposure is None:
            if not apply_curve and self.has_curve:
                raise ValueError("`exposure` expected the input_exposure of the uncurved image when "
                                 "apply_curve=False on a model with exposure_input")
            exposure = self.input_exposure(x)
        if apply_curve:
            x = self.curve(x)
        y = self._network(x, exposure)
        if not self.training:
            y = y.clamp(0.0, 1.0)
        return y.squeeze(0) if unbatched else y

    def _network(self, x: torch.Tensor, exposure: torch.Tensor | None, pooled: dict[int, torch.Tensor] | None = None,
                 attention_of: int | None = None) -> torch.Tensor:
        """The network on (curved) ``x``, plus the curve's output for a curve model; unclamped.

        ``pooled``: decoder stage -> the channel attention's average to use instead of the input's own.
        ``attention_of``: stop at that decoder stage and return what its channel attention averages.
        """
        h, w = x.shape[-2:]
        base = x if self.has_curve else None
        # Channels-last runs the thin, full-resolution convolutions about 2x
        # faster on CPU; the output is made contiguous again below.
        x = _pad_to_multiple(x, self.pad_multiple)
        y = self.stem(x.contiguous(memory_format=torch.channels_last))
        if self.exposure is not None:
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
        y = self.reconstruct(y)[..., :h, :w].contiguous()
        return base + y if base is not None else y

    @torch.no_grad()
    def forward_tiled(self, image: torch.Tensor, *, tile: int, overlap: int) -> torch.Tensor:
        """The eval-mode output for one (1, 3, H, W) image, computed in overlapping tiles of ``tile`` pixels.

        Equal to `forward` up to the receptive field cut at tile borders: everything that depends on the
        whole image is computed on the whole image. The exposure curve and the exposure input are taken
        from the whole image, tiles are aligned to the padding multiple, the channel attention of each
        FE block gets the whole image's average (gathered tile by tile, one partial pass per block), and
        the output exposure, colour carry and gate are applied to the assembled output. Nothing is stored
        on the model: several threads may tile with one model at once.
        """
        from llenhance.models.tiling import blend_tiles, tile_grid

        check_image(image, "image")
        if image.shape[0] != 1:
            raise ValueError(f"`image` expected one image (1, 3, H, W), got a batch of {image.shape[0]}")
        if self.passes_unchanged(image):
            return image.clone()  # the gate passes it unchanged: no network to run
        h, w = image.shape[-2:]
        exposure = self.input_exposure(image) if self.exposure_input else None
        padded = _pad_to_multiple(self.curve(image), self.pad_multiple)
        hp, wp = padded.shape[-2:]
        grid, _ = tile_grid(hp, wp, tile, overlap, self.pad_multiple)
        pooled: dict[int, torch.Tensor] = {}
        for i, stage in enumerate(self.decoder):
            if stage.fe is None:
                continue
            total, scale = torch.zeros((), dtype=torch.float64), 1.0
            for (ty0, ty1, cy0, cy1), (tx0, tx1, cx0, cx1) in grid:
                feat = self._network(padded[..., ty0:ty1, tx0:tx1], exposure, pooled, attention_of=i)
                scale = feat.shape[-1] / (tx1 - tx0)  # feature pixels per image pixel
                core = feat[..., round((cy0 - ty0) * scale) : round((cy1 - ty0) * scale),
                            round((cx0 - tx0) * scale) : round((cx1 - tx0) * scale)]
                total = total + core.double().sum(dim=(0, 2, 3))
            pooled[i] = (total / (hp * scale * wp * scale)).float().view(1, -1, 1, 1)
        out = blend_tiles(lambda t: self._network(t, exposure, pooled).clamp(0.0, 1.0), padded, tile, overlap,
                          self.pad_multiple)
        return self.finish(image, out[..., :h, :w])

    @classmethod
    def from_pretrained(  # type: ignore[override]
        cls,
        pretrained_model_name_or_path: str | Path,
        *,
        strict: bool = True,
        **kwargs: Any,
    ) -> LLENet:
        """Load weights: a local folder, a built-in name, or a Hugging Face Hub repo id.

        Resolution order: an existing folder (``config.json`` +
        ``model.safetensors``, as ``save_pretrained`` writes); a built-in
        name from `llenhance.list_pretrained` (shipped in the package,
        no network); otherwise a Hub repo id ``owner/name``, downloaded and
        cached by ``huggingface_hub`` (``revision=``, ``cache_dir=``,
        ``HF_HUB_OFFLINE=1`` work as there).

        Loading is strict by default: a missing or unexpected key raises.
        Subnormal weights are flushed to zero (they slow CPU convolutions
        down many times and carry no signal).

        Raises:
            FileNotFoundError: not a folder nor a built-in, and the Hub repo
                cannot be fetched (offline and not cached, or unknown); the
                message names the repo.
        """
        from huggingface_hub.errors import (
            EntryNotFoundError,
            HfHubHTTPError,
            HFValidationError,
            LocalEntryNotFoundError,
            OfflineModeIsEnabled,
        )

        from llenhance.pretrained import builtin_path, list_pretrained, looks_like_repo_id

        source = str(pretrained_model_name_or_path)
        if not Path(source).is_dir():
            builtin = builtin_path(source)
            if builtin is not None:
                source = str(builtin)
            elif not looks_like_repo_id(source):
                raise FileNotFoundError(
                    f"`pretrained_model_name_or_path` {source!r} is not a folder, a built-in "
                    f"({sorted(list_pretrained())}) or a Hub repo id 'owner/name'"
                )
        try:
            _check_config(_read_config(source, kwargs), source)
            # huggingface_hub prints "Loading weights from local directory" for folders.
            with contextlib.redirect_stdout(io.StringIO()):
                model = super().from_pretrained(source, strict=strict, **kwargs)
        except (LocalEntryNotFoundError, OfflineModeIsEnabled, EntryNotFoundError, HFValidationError,
                HfHubHTTPError) as err:
            raise FileNotFoundError(
                f"could not load Hub repo {source!r}: {type(err).__name__}: {err}. It is not a local "
                "folder or a built-in; with HF_HUB_OFFLINE=1 it must be in the Hugging Face cache."
            ) from err
        _flush_subnormals(model)
        try:
            card = _fetch(source, "README.md", kwargs)
        except (LocalEntryNotFoundError, OfflineModeIsEnabled, HfHubHTTPError):
            card = None  # the weights loaded; a card that cannot be fetched is no reason to fail
        if card is not None:
            model._source_card = {"name": str(pretrained_model_name_or_path), "text": card.read_text(),
                                  "fingerprint": state_digest(model)}
        return model

    def generate_model_card(self, *args: Any, **kwargs: Any) -> Any:
        """The model card that ``save_pretrained`` and ``push_to_hub`` write.

        Weights loaded with `from_pretrained` keep their own card (licence,
        data, metrics, ``model-index``) as long as they are unchanged. Once
        trained further, the card keeps the licence and the data (the terms
        of the data still apply), drops the measurements (they were of other
        weights) and names the weights it started from. A new network gets a
        card that says to set the licence. Keyword arguments that are card
        metadata fields (``license``, ``license_name``, ``license_link``,
        ``datasets``, ``metrics``, ``base_model``, ``tags``, ...) are written
        into the metadata.

        Examples:
            >>> from llenhance import LLENet
            >>> card = LLENet.from_pretrained("llenet-faces").generate_model_card()
            >>> card.data.license, card.data.pipeline_tag
            ('other', 'image-to-image')
        """
        from huggingface_hub import ModelCard, ModelCardData

        fields = set(inspect.signature(ModelCardData.__init__).parameters) - {"self", "kwargs"}
        metadata = {k: kwargs.pop(k) for k in list(kwargs) if k in fields}
        source = getattr(self, "_source_card", None)
        if source is None:
            card = super().generate_model_card(*args, **kwargs)
        elif state_digest(self) == source["fingerprint"]:
            card = ModelCard(source["text"])
        else:
            card = _derived_card(ModelCard(source["text"]), source["name"])
        for key, value in metadata.items():
            setattr(card.data, key, value)
        return card

    def _save_pretrained(self, save_directory: Path) -> None:
        """Write ``model.safetensors`` atomically, with the mode ``open()`` would give a new file.

        safetensors alone leaves the file private (0600) and, if interrupted, half-written.
        """
        from safetensors.torch import save_model

        from llenhance._atomic import atomic_path

        with atomic_path(Path(save_directory) / "model.safetensors") as tmp:
            save_model(self, str(tmp))

    @classmethod
    def _from_pretrained(cls, *, model_id: str, **kwargs: Any) -> LLENet:  # type: ignore[override]
        # Check the weights file's tensor shapes (from its header, nothing loaded) against the
        # configured network before building it, so a wrong or hostile file cannot make us allocate.
        config = {k: kwargs[k] for k in _CONFIG_KEYS if k in kwargs}
        weights = _fetch(model_id, "model.safetensors", kwargs)
        if weights is not None:
            _check_shapes(cls, config, weights)
        model = super()._from_pretrained(model_id=model_id, **kwargs)
        bad = [name for name, t in model.state_dict().items() if t.is_floating_point() and not torch.isfinite(t).all()]
        if bad:
            raise ValueError(f"weights of {model_id!r} hold NaN or infinite values in {bad[:5]}"
                             + (f" and {len(bad) - 5} more tensors" if len(bad) > 5 else "")
                             + "; they would give black or NaN images")
        return model

    @classmethod
    def _load_as_pickle(cls, model: LLENet, model_file: str, map_location: str, strict: bool) -> LLENet:
        # Repos with only pytorch_model.bin: never unpickle arbitrary objects.
        state = torch.load(model_file, map_location=map_location, weights_only=True)
        model.load_state_dict(state, strict=strict)
        return model.eval()


#: config.json keys and the bounds a loaded configuration must keep (a config file is untrusted input).
_CONFIG_KEYS = ("width", "use_fe", "use_skip", "fe_depthwise", "mlp_ratio", "stem_stride", "curve_target",
                "exposure_input", "exposure_gate", "output_target", "luma_only")
#: Keys of configs written by earlier versions, accepted with the one value that means "off".
_LEGACY_KEYS = {"log_curve": False}
_CONFIG_BOUNDS = {"width": (2, 512), "mlp_ratio": (1, 16)}
#: Keys the Hub tooling may add to config.json besides the model's own.
_CONFIG_METADATA = ("_name_or_path", "architectures", "model_type", "library_name", "llenhance_version")
_HUB_DOWNLOAD_ARGS = ("revision", "cache_dir", "force_download", "token", "local_files_only")


def _derived_card(card: Any, source: str) -> Any:
    """The card of weights trained further from ``source``: its licence and data, not its measurements."""
    from huggingface_hub import ModelCard

    from llenhance.pretrained import looks_like_repo_id

    data = card.data
    for key in ("eval_results", "model_name"):
        setattr(data, key, None)
    if looks_like_repo_id(source):
        data.base_model = source
    body = (
        f"\nLLENet low-light enhancement weights for [llenhance](https://github.com/llenhance/llenhance), "
        f"trained further from `{source}`.\n\n"
        "The licence and data above are those of the starting weights, whose terms still apply; add the data "
        "you trained on and its terms. The measurements of the starting weights do not describe these weights "
        "and were removed: say here how these were trained and how well they do.\n"
    )
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")


def _fetch(source: str, filename: str, kwargs: dict[str, Any]) -> Path | None:
    """``filename`` of a folder, or of a Hub repo (downloaded as ``from_pretrained`` would); None if it has none."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    if Path(source).is_dir():
        path = Path(source) / filename
        return path if path.is_file() else None
    try:
        return Path(hf_hub_download(source, filename, **{k: kwargs[k] for k in _HUB_DOWNLOAD_ARGS if k in kwargs}))
    except EntryNotFoundError:
        return None


def _read_config(source: str, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """config.json of a folder or Hub repo, or None if it has none."""
    path = _fetch(source, "config.json", kwargs)
    if path is None:
        return None
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"config.json of {source!r} is not valid JSON: {err}") from None
    if not isinstance(config, dict):
        raise ValueError(f"config.json of {source!r} expected a JSON object, got {type(config).__name__}")
    return config


def _check_config(config: dict[str, Any] | None, source: str) -> None:
    """Refuse unknown keys and values outside the bounds before anything is built."""
    if config is None:
        return
    for key, off in _LEGACY_KEYS.items():
        if key in config and config[key] != off:
            raise ValueError(f"config.json of {source!r} sets `{key}` to {config[key]!r}: that option was removed "
                             f"in llenhance 0.4 (it never shipped in built-in weights); load these weights with "
                             f"llenhance 0.3, or save them again without it")
    unknown = sorted(set(config) - set(_CONFIG_KEYS) - set(_CONFIG_METADATA) - set(_LEGACY_KEYS))
    if unknown:
        raise ValueError(f"config.json of {source!r} has unknown keys {unknown}; LLENet takes {list(_CONFIG_KEYS)}")
    for key, (lo, hi) in _CONFIG_BOUNDS.items():
        value = config.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi):
            raise ValueError(f"config.json of {source!r}: `{key}` expected an int in [{lo}, {hi}], got {value!r}")


def _check_shapes(cls: type[LLENet], config: dict[str, Any], weights: Path) -> None:
    from safetensors import SafetensorError, safe_open

    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in cls(**config).state_dict().items()}
    try:
        with safe_open(str(weights), framework="pt") as f:
            found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{weights} is not a readable safetensors file: {err}") from None
    wrong = [f"{k}: file {found[k]}, config {expected[k]}" for k in expected if k in found and found[k] != expected[k]]
    if wrong and not (weights.parent / "config.json").is_file() and weights.parent.is_dir():
        raise ValueError(f"{weights.parent} has model.safetensors but no config.json, and the weights do not fit "
                         f"the default LLENet() ({len(wrong)} tensors differ); copy the config.json that was saved "
                         "with them (save_pretrained writes both), or pass the architecture as keyword arguments")
    if wrong:
        raise ValueError(f"{weights} does not fit its config.json ({len(wrong)} tensors differ, e.g. {wrong[:3]})")


def llenet_s(**kwargs: Any) -> LLENet:
    """Small LLENet, a cheap preprocessing step in front of a classifier.

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

    Keyword arguments override these settings.
    """
    return LLENet(**{"width": 16, "stem_stride": 2, "fe_depthwise": True, "mlp_ratio": 2, **kwargs})


def llenet_b(**kwargs: Any) -> LLENet:
    """Base LLENet: width 32, full-resolution stem and full FE blocks, as in the paper.

    Keyword arguments override these settings.
    """
    return LLENet(**{"width": 32, **kwargs})
