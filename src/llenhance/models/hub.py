"""Hub plumbing for `Enhancer`: where weights come from, what their ``config.json`` may hold, model cards.

``config.json`` (written by ``save_pretrained`` since 0.4) nests the network's
architecture under ``"network"`` beside the exposure settings::

    {"network": {"width": 16, ..., "exposure_input": true},
     "curve_target": 0.35, "exposure_gate": [0.2, 0.35], "output_target": 0.38, "luma_only": false}

Configs of earlier versions are flat (every key at the top, ``log_curve``
false); `nested_config` maps them. A config file is untrusted input: unknown
keys and out-of-range sizes are refused, and the weights' tensor shapes are
checked against the configured network before anything is allocated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from llenhance.models.llenet import ARCHITECTURE_KEYS, PIPELINE_KEYS, LLENet

__all__ = ["CARD_TEMPLATE", "check_shapes", "derived_card", "fetch", "flush_subnormals", "nested_config",
           "read_config"]

#: Keys of configs written by earlier versions, accepted with the one value that means "off".
LEGACY_KEYS = {"log_curve": False}
BOUNDS = {"width": (2, 512), "mlp_ratio": (1, 16)}
#: Keys the Hub tooling may add to config.json besides the model's own.
METADATA_KEYS = ("_name_or_path", "architectures", "model_type", "library_name", "llenhance_version")
HUB_DOWNLOAD_ARGS = ("revision", "cache_dir", "force_download", "token", "local_files_only")

CARD_TEMPLATE = """
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




def derived_card(card: Any, source: str) -> Any:
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


def fetch(source: str, filename: str, kwargs: dict[str, Any]) -> Path | None:
    """``filename`` of a folder, or of a Hub repo (downloaded as ``from_pretrained`` would); None if it has none."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    if Path(source).is_dir():
        path = Path(source) / filename
        return path if path.is_file() else None
    try:
        return Path(hf_hub_download(source, filename, **{k: kwargs[k] for k in HUB_DOWNLOAD_ARGS if k in kwargs}))
    except EntryNotFoundError:
        return None


def read_config(source: str, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """config.json of a folder or Hub repo, or None if it has none."""
    path = fetch(source, "config.json", kwargs)
    if path is None:
        return None
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"config.json of {source!r} is not valid JSON: {err}") from None
    if not isinstance(config, dict):
        raise ValueError(f"config.json of {source!r} expected a JSON object, got {type(config).__name__}")
    return config


def nested_config(config: dict[str, Any] | None, source: str) -> dict[str, Any]:
    """``config.json``'s content (nested, or flat as before 0.4) as ``{"network": {...}, <exposure settings>}``.

    Unknown keys, a removed option switched on and sizes out of bounds are refused, naming ``source``.

    Examples:
        >>> nested_config({"width": 16, "curve_target": 0.45, "log_curve": False}, "old")
        {'network': {'width': 16}, 'curve_target': 0.45}
    """
    config = dict(config or {})
    for key, off in LEGACY_KEYS.items():
        value = config.pop(key, off)
        if value != off:
            raise ValueError(f"config.json of {source!r} sets `{key}` to {value!r}: that option was removed "
                             f"in llenhance 0.4 (it never shipped in built-in weights); load these weights with "
                             f"llenhance 0.3, or save them again without it")
    for key in METADATA_KEYS:
        config.pop(key, None)
    if "network" in config:
        network = config.pop("network")
        if not isinstance(network, dict):
            raise ValueError(f"config.json of {source!r}: `network` expected an object, got {type(network).__name__}")
        unknown = sorted(set(config) - set(PIPELINE_KEYS)) + sorted(f"network.{k}" for k in
                                                                     set(network) - set(ARCHITECTURE_KEYS))
    else:
        network = {k: config.pop(k) for k in ARCHITECTURE_KEYS if k in config}
        unknown = sorted(set(config) - set(PIPELINE_KEYS))
    if unknown:
        raise ValueError(f"config.json of {source!r} has unknown keys {unknown}; an Enhancer takes `network` "
                         f"({list(ARCHITECTURE_KEYS)}) and {list(PIPELINE_KEYS)}")
    for key, (lo, hi) in BOUNDS.items():
        value = network.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi):
            raise ValueError(f"config.json of {source!r}: `{key}` expected an int in [{lo}, {hi}], got {value!r}")
    return {"network": network, **config}


def check_shapes(network: dict[str, Any], weights: Path) -> None:
    """Refuse a weights file whose tensor shapes (read from its header) do not fit ``LLENet(**network)``."""
    from safetensors import SafetensorError, safe_open

    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in LLENet(**network).state_dict().items()}
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


def flush_subnormals(module: nn.Module) -> None:
    """Set subnormal weights to zero, in place: they make CPU convolutions many times slower and carry no signal."""
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            if t.is_floating_point():
                tiny = torch.finfo(t.dtype).tiny
                t.masked_fill_(t.abs() < tiny, 0.0)
