"""Classical and peer baselines for the quality and speed benchmarks.

Not part of the public API. Each baseline maps a (B, 3, H, W) float image in
[0, 1] to an enhanced one in [0, 1].

- identity;
- global gamma (auto-exposure): one gamma per image so that the mean
  luminance becomes 0.5 (``gamma = log 0.5 / log mean(Y)``);
- histogram equalisation and CLAHE from kornia, per RGB channel;
- Zero-DCE (Guo et al., CVPR 2020) and SCI (Ma et al., CVPR 2022), written
  here from the published architectures and loading the authors' released
  weights from ``../shared/data/weights`` with ``weights_only=True``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from llenhance.baselines import clahe, global_gamma, histogram_equalization  # noqa: F401 (re-exported)
from llenhance.models.hub import flush_subnormals

from _paths import DATA as SHARED  # noqa: E402  (one data root for all benchmarks)

WEIGHTS = SHARED / "weights"


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


class ZeroDCE(nn.Module):
    """DCE-Net: seven 3x3 convs of 32 channels with symmetric concatenations,
    tanh output of 24 channels = 8 curve maps applied as x <- x + r (x^2 - x)."""

    def __init__(self) -> None:
        super().__init__()
        self.e_conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.e_conv2 = nn.Conv2d(32, 32, 3, padding=1)
        self.e_conv3 = nn.Conv2d(32, 32, 3, padding=1)
        self.e_conv4 = nn.Conv2d(32, 32, 3, padding=1)
        self.e_conv5 = nn.Conv2d(64, 32, 3, padding=1)
        self.e_conv6 = nn.Conv2d(64, 32, 3, padding=1)
        self.e_conv7 = nn.Conv2d(64, 24, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = F.relu(self.e_conv1(x))
        x2 = F.relu(self.e_conv2(x1))
        x3 = F.relu(self.e_conv3(x2))
        x4 = F.relu(self.e_conv4(x3))
        x5 = F.relu(self.e_conv5(torch.cat((x3, x4), 1)))
        x6 = F.relu(self.e_conv6(torch.cat((x2, x5), 1)))
        curves = torch.tanh(self.e_conv7(torch.cat((x1, x6), 1)))
        for r in curves.split(3, dim=1):
            x = x + r * (x * x - x)
        return x.clamp(0, 1)


class _ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())


class _SCIEnhance(nn.Module):
    """SCI's illumination estimation module (the part used at inference)."""

    def __init__(self, layers: int = 1, channels: int = 3) -> None:
        super().__init__()
        self.in_conv = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), nn.ReLU())
        self.conv = _ConvBNReLU(channels, channels)
        self.blocks = nn.ModuleList(_ConvBNReLU(channels, channels) for _ in range(layers))
        self.out_conv = nn.Sequential(nn.Conv2d(channels, 3, 3, padding=1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fea = self.in_conv(x)
        for block in self.blocks:
            fea = fea + block(fea)
        return (self.out_conv(fea) + x).clamp(1e-4, 1.0)


class SCI(nn.Module):
    """SCI at inference: illumination i = module(x); output x / i, clamped to [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.enhance = _SCIEnhance()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x / self.enhance(x)).clamp(0, 1)


def load_zero_dce(path: Path = WEIGHTS / "zero-dce" / "Epoch99.pth") -> ZeroDCE:
    model = ZeroDCE()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    # The released weights hold subnormals that slow CPU convolutions ~70x.
    flush_subnormals(model)
    return model.eval()


def load_sci(name: str = "medium", root: Path = WEIGHTS / "sci") -> SCI:
    state = torch.load(root / f"{name}.pt", map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if k.startswith("enhance.")}  # calibrate is training-only
    model = SCI()
    model.load_state_dict(state)
    return model.eval()


def all_baselines() -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """Name -> callable; the peer baselines only where their weights exist."""
    methods: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "identity (input)": identity,
        "global gamma (auto-exposure)": global_gamma,
        "histogram equalisation": histogram_equalization,
        "CLAHE": clahe,
    }
    if (WEIGHTS / "zero-dce" / "Epoch99.pth").is_file():
        methods["Zero-DCE"] = load_zero_dce()
    for name in ("easy", "medium", "difficult"):
        if (WEIGHTS / "sci" / f"{name}.pt").is_file():
            methods[f"SCI ({name})"] = load_sci(name)
    return methods


def llenet_methods(weights: list[str], *, ungated: bool = False) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """``"LLENet (<name>)"`` -> `llenhance.enhance` with those weights (names or folders), one per entry; with
    ``ungated``, each exposure-gated model also without its gate (``"LLENet (<name>, no gate)"``)."""
    from llenhance import Enhancer, enhance

    methods: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {}
    for name in weights:
        model = Enhancer.from_pretrained(name).eval()
        methods[f"LLENet ({Path(name).name})"] = lambda x, m=model: enhance(x, m)
        if ungated and model.exposure_gate is not None:
            bare = Enhancer.from_pretrained(name, exposure_gate=None).eval()
            methods[f"LLENet ({Path(name).name}, no gate)"] = lambda x, m=bare: enhance(x, m)
    return methods
