"""Enhancer: `LLENet` with its exposure handling, the unit that weights are saved, shared and loaded as.

Data flow of ``Enhancer.forward(x)``::

    x ──(luma_only: BT.601 grey)──(curve_target: exposure_curve)──► curved
    curved ──LLENet (told log_exposure(x) if exposure_input)──► correction
    y = curved + correction (with a curve; the network's output alone without)
    y ──(output_target: match_exposure)──(luma_only: carry_chroma from x)──(exposure_gate: x + share·(y − x))──► out

Every step is optional; with none of them an Enhancer is the paper's network.
"""

from __future__ import annotations

import contextlib
import inspect
import io
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from llenhance._checks import check_image
from llenhance._color import grey
from llenhance._digest import state_digest
from llenhance.models import hub
from llenhance.models.blocks import pad_to_multiple
from llenhance.models.chroma import carry_chroma
from llenhance.models.exposure import (
    check_grey_level,
    exposure_curve,
    exposure_share,
    gamma_to_exposure,
    log_exposure,
)
from llenhance.models.llenet import ARCHITECTURE_KEYS, PIPELINE_KEYS, LLENet

__all__ = ["Enhancer"]


class Enhancer(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="llenhance",
    tags=["low-light-image-enhancement", "facial-expression-recognition"],
    repo_url="https://github.com/llenhance/llenhance",
    pipeline_tag="image-to-image",
    # No licence here: weights carry the terms of their training data (SICE: CC BY-NC 4.0,
    # FER2013: research only), which the code's Apache-2.0 does not cover. Pass it with
    # save_pretrained(..., model_card_kwargs={"license": ...}) (see generate_model_card).
    model_card_template=hub.CARD_TEMPLATE,
):
    """An `LLENet` with its exposure handling: what the built-in weights are (``Enhancer.from_pretrained``).

    Input and output are RGB float images in [0, 1] of shape (B, 3, H, W) or
    (3, H, W), any H and W; the output has the input's shape (clamped to
    [0, 1] in eval mode, as the network's).

    Args:
        network: the `LLENet` (kept as it is, trained or not), or its
            architecture as a dict (a new network is built; with
            ``curve_target`` its last layer starts at zero, so that the new
            enhancer *is* the curve). ``None``: ``LLENet()``.
        curve_target: ``None`` (the paper): the network maps the input to
            the output. A mean grey level in (0, 1): the input first goes
            through `exposure_curve` (a per-image gamma that lifts a darker
            image's mean grey level to ``curve_target`` and leaves a brighter
            one unchanged), and the network's output is added to the curve's:
            training only has to learn what the curve gets wrong.
        exposure_gate: ``None`` (the paper): every image is enhanced. A pair
            ``(low, high)`` of mean grey levels, ``0 < low < high < 1``: how
            much of the change an image gets depends on its own mean grey
            level: all of it at ``low`` or darker, none at ``high`` or
            brighter (the image passes unchanged), and in between a share
            falling linearly in stops (`exposure_share`).
        output_target: ``None`` (the paper): the network sets the output's
            brightness. A mean grey level in (0, 1): the output goes through
            `match_exposure` to about this level (brightening or darkening),
            so the network shapes local contrast, colour and noise while the
            global exposure is fixed. Applied before the gate.
        luma_only: the network sees the input's BT.601 luma (R = G = B) and
            the input's colour is carried onto its output by `carry_chroma`.
            For networks trained on grey faces. A grey input gives an exactly
            grey output.

    The network's ``exposure_input`` (an architecture switch) is told the
    log mean grey level of the input *before* the curve: after the curve a
    lifted dark image and a well-lit one can look alike.

    Examples:
        >>> import torch
        >>> from llenhance import Enhancer, LLENet
        >>> enhancer = Enhancer(LLENet(width=8), curve_target=0.45).eval()
        >>> enhancer(torch.rand(1, 3, 37, 50)).shape
        torch.Size([1, 3, 37, 50])
        >>> Enhancer({"width": 8}, curve_target=0.45).config["network"]["width"]
        8
    """

    def __init__(
        self,
        network: LLENet | dict[str, Any] | None = None,
        *,
        curve_target: float | None = None,
        exposure_gate: tuple[float, float] | list[float] | None = None,
        output_target: float | None = None,
        luma_only: bool = False,
    ) -> None:
        super().__init__()
        self.curve_target = check_grey_level(curve_target, "curve_target")
        self.output_target = check_grey_level(output_target, "output_target")
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
        if not isinstance(luma_only, bool):
            raise TypeError(f"`luma_only` expected a bool, got {type(luma_only).__name__}")
        self.luma_only = luma_only
        if network is None or isinstance(network, dict):
            network = LLENet(**(network or {}))
            if self.curve_target is not None:
                network.zero_output_()  # start as the curve: a zero correction
        elif not isinstance(network, LLENet):
            raise TypeError(f"`network` expected an LLENet or its architecture as a dict, "
                            f"got {type(network).__name__}")
        self.network = network
        self.register_load_state_dict_pre_hook(_accept_flat_keys)

    @property
    def config(self) -> dict[str, Any]:
        """The network's architecture (nested under ``"network"``) and the exposure settings, as
        ``config.json`` holds them (a new dict each time).

        Examples:
            >>> Enhancer({"width": 8}, luma_only=True).config["luma_only"]
            True
        """
        return {"network": self.network.config, "curve_target": self.curve_target,
                "exposure_gate": list(self.exposure_gate) if self.exposure_gate is not None else None,
                "output_target": self.output_target, "luma_only": self.luma_only}

    @property
    def pad_multiple(self) -> int:
        """Input sides are padded to a multiple of this (the network's)."""
        return self.network.pad_multiple

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image(x, "x", allow_unbatched=True)
        if x.ndim == 3:
            return self.forward(x.unsqueeze(0)).squeeze(0)
        exposure = log_exposure(x) if self.network.exposure_input else None
        y = self.corrected(self.curve(x), exposure)
        return self.finish(x, y if self.training else y.clamp(0.0, 1.0))

    def curve(self, x: torch.Tensor) -> torch.Tensor:
        """What the network is given for ``x``, (B, 3, H, W): its luma as a grey image for ``luma_only``, then
        `exposure_curve` to ``curve_target``; ``x`` itself for an enhancer with neither."""
        if self.luma_only:
            x = grey(x).unsqueeze(1).expand(-1, 3, -1, -1)
        if self.curve_target is not None:
            x = exposure_curve(x, self.curve_target)
        return x

    def corrected(self, curved: torch.Tensor, exposure: torch.Tensor | None,
                  pooled: dict[int, torch.Tensor] | None = None) -> torch.Tensor:
        """The network on ``curved`` (`curve`'s output), plus ``curved`` itself with an exposure curve;
        unclamped. ``exposure`` and ``pooled`` as `LLENet.run` takes them."""
        y = self.network.run(curved, exposure, pooled=pooled)
        return curved + y if self.curve_target is not None else y

    def finish(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """What follows the network and depends on the whole image, for (B, 3, H, W) ``x`` (the input) and
        ``y`` (the corrected output): ``output_target``'s exposure, the colour carry of ``luma_only``, the
        exposure gate. ``y`` itself for an enhancer with none of them."""
        if self.output_target is not None:
            y = gamma_to_exposure(y, self.output_target)
        if self.luma_only:
            y = carry_chroma(x, y)
        if self.exposure_gate is None:
            return y
        share = self.exposure_share(x).to(y.dtype).view(-1, 1, 1, 1)
        return torch.lerp(x.to(y.dtype), y, share)

    def exposure_share(self, x: torch.Tensor) -> torch.Tensor:
        """How much of the change each image of ``x`` (the input) gets, (B,), in [0, 1]: `exposure_share`
        under ``exposure_gate``, all ones without a gate."""
        if x.ndim == 3:
            x = x.unsqueeze(0)
        if self.exposure_gate is None:
            return x.new_ones(x.shape[0])
        return exposure_share(x, self.exposure_gate)

    def passes_unchanged(self, x: torch.Tensor) -> bool:
        """Whether the exposure gate returns every image of ``x`` unchanged (all too bright to enhance)."""
        return self.exposure_gate is not None and not bool(self.exposure_share(x).any())

    @torch.no_grad()
    def forward_tiled(self, image: torch.Tensor, *, tile: int, overlap: int) -> torch.Tensor:
        """The eval-mode output for one (1, 3, H, W) image, computed in overlapping tiles of ``tile`` pixels.

        Equal to `forward` up to the receptive field cut at tile borders: everything that depends on the
        whole image is computed on the whole image: the curve and the exposure input, the channel
        attention's averages (`LLENet.tile_statistics`), and `finish` on the assembled output. Nothing is
        stored on the model: several threads may tile with one model at once.
        """
        from llenhance.models.tiling import blend_tiles

        check_image(image, "image")
        if image.shape[0] != 1:
            raise ValueError(f"`image` expected one image (1, 3, H, W), got a batch of {image.shape[0]}")
        if self.passes_unchanged(image):
            return image.clone()  # the gate passes it unchanged: no network to run
        h, w = image.shape[-2:]
        exposure = log_exposure(image) if self.network.exposure_input else None
        padded = pad_to_multiple(self.curve(image), self.pad_multiple)
        pooled = self.network.tile_statistics(padded, exposure, tile=tile, overlap=overlap)
        out = blend_tiles(lambda t: self.corrected(t, exposure, pooled).clamp(0.0, 1.0), padded, tile, overlap,
                          self.pad_multiple)
        return self.finish(image, out[..., :h, :w])

    @classmethod
    def from_pretrained(  # type: ignore[override]
        cls,
        pretrained_model_name_or_path: str | Path,
        *,
        strict: bool = True,
        **kwargs: Any,
    ) -> Enhancer:
        """Load weights: a local folder, a built-in name, or a Hugging Face Hub repo id.

        Resolution order: an existing folder (``config.json`` +
        ``model.safetensors``, as ``save_pretrained`` writes); a built-in
        name from `llenhance.list_pretrained` (shipped in the package,
        no network); otherwise a Hub repo id ``owner/name``, downloaded and
        cached by ``huggingface_hub`` (``revision=``, ``cache_dir=``,
        ``HF_HUB_OFFLINE=1`` work as there).

        Keyword arguments named like the exposure settings (``curve_target``, ``exposure_gate``,
        ``output_target``, ``luma_only``) or the architecture (``width``, ...) replace the config's.
        Configs written before 0.4 (flat, every key at the top) load as they are.

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
        overrides = {k: kwargs.pop(k) for k in (*PIPELINE_KEYS, *ARCHITECTURE_KEYS, "network") if k in kwargs}
        try:
            config = hub.nested_config(hub.read_config(source, kwargs), source)
            config["network"].update(overrides.pop("network", {}))
            config["network"].update({k: overrides.pop(k) for k in ARCHITECTURE_KEYS if k in overrides})
            config.update(overrides)
            # huggingface_hub prints "Loading weights from local directory" for folders.
            with contextlib.redirect_stdout(io.StringIO()):
                model = super().from_pretrained(source, strict=strict, **config, **kwargs)
        except (LocalEntryNotFoundError, OfflineModeIsEnabled, EntryNotFoundError, HFValidationError,
                HfHubHTTPError) as err:
            raise FileNotFoundError(
                f"could not load Hub repo {source!r}: {type(err).__name__}: {err}. It is not a local "
                "folder or a built-in; with HF_HUB_OFFLINE=1 it must be in the Hugging Face cache."
            ) from err
        hub.flush_subnormals(model)
        try:
            card = hub.fetch(source, "README.md", kwargs)
        except (LocalEntryNotFoundError, OfflineModeIsEnabled, HfHubHTTPError):
            card = None  # the weights loaded; a card that cannot be fetched is no reason to fail
        if card is not None:
            model.source_card = {"name": str(pretrained_model_name_or_path), "text": card.read_text(),
                                 "fingerprint": state_digest(model)}
        return model

    @classmethod
    def _from_pretrained(  # type: ignore[override]
        cls, *, model_id: str, map_location: str = "cpu", strict: bool = True, proxies: Any = None,
        resume_download: Any = None, **kwargs: Any,
    ) -> Enhancer:
        # The weights file holds the network's tensors. Their shapes are checked (from the file's header,
        # nothing loaded) against the configured network before it is built, so that a wrong or hostile
        # file cannot make us allocate.
        from safetensors.torch import load_model

        download = {k: kwargs.pop(k) for k in hub.HUB_DOWNLOAD_ARGS if k in kwargs}
        network = kwargs.pop("network", None) or {}
        weights = hub.fetch(model_id, "model.safetensors", download)
        if weights is not None:
            hub.check_shapes(network, weights)
        model = cls(network, **kwargs)
        if weights is not None:
            load_model(model.network, str(weights), strict=strict, device=map_location)
        else:  # repos with only pytorch_model.bin: never unpickle arbitrary objects
            pickled = hub.fetch(model_id, "pytorch_model.bin", download)
            if pickled is None:
                raise FileNotFoundError(f"{model_id!r} has no model.safetensors (nor pytorch_model.bin)")
            state = torch.load(pickled, map_location=map_location, weights_only=True)
            model.network.load_state_dict(state, strict=strict)
        bad = [name for name, t in model.network.state_dict().items()
               if t.is_floating_point() and not torch.isfinite(t).all()]
        if bad:
            raise ValueError(f"weights of {model_id!r} hold NaN or infinite values in {bad[:5]}"
                             + (f" and {len(bad) - 5} more tensors" if len(bad) > 5 else "")
                             + "; they would give black or NaN images")
        return model.eval()

    def _save_pretrained(self, save_directory: Path) -> None:
        """Write ``model.safetensors`` (the network's tensors) and ``config.json`` (`config`), each atomically,
        with the mode ``open()`` would give a new file.

        safetensors alone leaves the file private (0600) and, if interrupted, half-written.
        """
        import json

        from safetensors.torch import save_model

        from llenhance._atomic import atomic_path

        with atomic_path(Path(save_directory) / "model.safetensors") as tmp:
            save_model(self.network, str(tmp))
        with atomic_path(Path(save_directory) / "config.json") as tmp:
            tmp.write_text(json.dumps(self.config, sort_keys=True, indent=2))

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
            >>> from llenhance import Enhancer
            >>> card = Enhancer.from_pretrained("llenet-faces").generate_model_card()
            >>> card.data.license, card.data.pipeline_tag
            ('other', 'image-to-image')
        """
        from huggingface_hub import ModelCard, ModelCardData

        fields = set(inspect.signature(ModelCardData.__init__).parameters) - {"self", "kwargs"}
        metadata = {k: kwargs.pop(k) for k in list(kwargs) if k in fields}
        source = getattr(self, "source_card", None)
        if source is None:
            card = super().generate_model_card(*args, **kwargs)
        elif state_digest(self) == source["fingerprint"]:
            card = ModelCard(source["text"])
        else:
            card = hub.derived_card(ModelCard(source["text"]), source["name"])
        for key, value in metadata.items():
            setattr(card.data, key, value)
        return card


def _accept_flat_keys(module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    """Checkpoints written before 0.4 hold the network's tensors without the ``network.`` prefix."""
    if not any(k.startswith(prefix + "network.") for k in state_dict):
        for key in [k for k in state_dict if k.startswith(prefix)]:
            state_dict[f"{prefix}network.{key[len(prefix):]}"] = state_dict.pop(key)
