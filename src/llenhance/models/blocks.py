"""The building blocks of LLENet (paper Fig. 2): CR blocks, FE blocks, decoder stages, input padding.

Reading of the paper (see the docs page "The paper and how we read it"):

* The FE block adds ``PA(CA(concat(C1, C2, C3)))`` to its input ``F``; the
  concatenation has three times the width of ``F``, so a 1x1 convolution
  brings it back to the width of ``F`` before the sum.
* Any H, W is accepted: the input is reflect-padded (replicate-padded where
  reflection is impossible, below 8 pixels) to a multiple of 8 and the output
  cropped back (`pad_to_multiple`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CRBlock", "DecoderStage", "FEBlock", "pad_to_multiple"]

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


class DecoderStage(nn.Module):
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


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """``x`` (..., H, W) padded at the bottom and right to sides that are multiples of ``multiple``.

    Examples:
        >>> pad_to_multiple(torch.zeros(1, 3, 37, 50), 8).shape
        torch.Size([1, 3, 40, 56])
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0 and not torch.jit.is_tracing():
        return x  # (a traced graph keeps the pad, whose size depends on the input)
    # Reflection needs the pad to be smaller than the side it reflects.
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)
