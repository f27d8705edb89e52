"""What the ``llenhance`` subcommands share: errors, devices, threads, the user's classifier and enhancer."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch loads only when a command runs, so --help and --version answer at once
    import torch


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


def load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    import torch

    if not path.is_file():
        raise CLIError(f"--classifier-weights: {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except (SafetensorError, OSError) as err:
            raise CLIError(f"--classifier-weights: cannot read {path} as safetensors ({err})") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CLIError(f"--classifier-weights: cannot load {path} as a state dict ({err})") from err
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CLIError(f"--classifier-weights: {path} holds a {type(state).__name__}, expected a state dict")
    return state


def import_file(path_text: str) -> Any:
    """A Python file imported as a module, as ``python FILE`` would run it: its folder first on the import path
    (so it can import the files beside it)."""
    import importlib.util

    path = Path(path_text).expanduser()
    if not path.is_file():
        raise CLIError(f"--classifier: there is no file {path} (expected 'path/to/file.py:factory')")
    name = f"_llenhance_classifier_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CLIError(f"--classifier: cannot import {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        del sys.modules[name]
        raise CLIError(f"--classifier: importing {path} failed: {type(err).__name__}: {err}") from err
    finally:
        sys.path.remove(str(path.resolve().parent))
    return module


def build_classifier(spec: str, weights: Path | None, num_classes: int) -> torch.nn.Module:
    import torch

    module_name, _, attr = spec.rpartition(":")
    if not module_name or not attr:
        raise CLIError(f"--classifier expected 'module:factory' or 'path/to/file.py:factory', got {spec!r}")
    try:
        module = import_file(module_name) if module_name.endswith(".py") else importlib.import_module(module_name)
        factory = getattr(module, attr)
    except ModuleNotFoundError as err:
        hint = ""
        local = Path.cwd() / f"{err.name}.py", Path.cwd() / str(err.name)
        if err.name == module_name.split(".")[0] and (local[0].is_file() or local[1].is_dir()):
            hint = ("; it is in the current folder, which is not on Python's import path: pass the file, "
                    f"--classifier {module_name.replace('.', '/')}.py:{attr}, run with PYTHONPATH=. or install it")
        raise CLIError(f"--classifier: cannot import {spec!r} ({err}){hint}") from None
    except (ImportError, AttributeError) as err:
        raise CLIError(f"--classifier: cannot import {spec!r} ({err})") from err
    if not callable(factory):
        raise CLIError(f"--classifier: {spec} is a {type(factory).__name__}, expected a callable returning an "
                       "nn.Module (a class or a factory function)")
    try:
        try:
            model = factory(num_classes=num_classes)
        except TypeError:
            print(f"llenhance: note: --classifier {spec} takes no num_classes=; built with its own defaults",
                  file=sys.stderr)
            model = factory()
    except Exception as err:  # the user's factory failed: say so, naming the option (C04)
        raise CLIError(f"--classifier: {spec} failed: {type(err).__name__}: {err}") from err
    if not isinstance(model, torch.nn.Module):
        raise CLIError(f"--classifier: {spec} returned {type(model).__name__}, expected an nn.Module")
    if weights is not None:
        try:
            model.load_state_dict(load_state_dict_file(weights))
        except RuntimeError as err:
            raise CLIError(f"--classifier-weights: {weights} does not fit {spec}: {err}") from err
    return model


def frozen_classifier(args: argparse.Namespace, classes: Sequence[str], stages: Any = None) -> Any:
    """``--classifier`` built, loaded and frozen behind its preprocessing; refused when its number of outputs
    is not the number of class names (labels would be drawn from the wrong list, in silence)."""
    import torch

    from llenhance.classifier import FrozenClassifier

    net = build_classifier(args.classifier, args.classifier_weights, len(classes))
    try:
        frozen = FrozenClassifier(net, preprocess=preprocess_from(args), stages=stages)
    except ValueError as err:
        raise CLIError(f"--classifier: {err}") from None
    with torch.no_grad():
        try:
            outputs = frozen(torch.rand(1, 3, 64, 64)).shape[-1]
        except RuntimeError as err:
            raise CLIError(f"--classifier {args.classifier} failed on a 64x64 RGB image through its preprocessing "
                           f"(--classifier-size/--classifier-grayscale/--classifier-mean): {err}") from None
    if outputs != len(classes):
        raise CLIError(f"--classifier {args.classifier} gives {outputs} outputs, but there are {len(classes)} class "
                       f"names ({', '.join(classes)}); pass --classes with {outputs} names in its output order")
    return frozen


def enhancer_from_args(args: argparse.Namespace) -> torch.nn.Module:
    from llenhance import Enhancer, llenet_b, llenet_s

    if args.arch_old is not None:
        if args.arch is not None and args.arch != args.arch_old:
            raise CLIError(f"--arch {args.arch} and --model {args.arch_old} disagree; pass --arch only")
        print("llenhance: note: `train --model` is now `train --arch` (--weights names weights elsewhere)",
              file=sys.stderr)
    arch = args.arch or args.arch_old or "llenet_s"
    if args.init is not None:
        if args.stem_stride is not None:
            raise CLIError("--stem-stride and --init: the weights of --init fix the stem stride; pass one of them")
        if args.exposure_input:
            raise CLIError("--exposure-input and --init: the weights of --init fix the network's inputs; "
                           "pass one of them")
        if args.curve_target is not None:
            raise CLIError("--curve-target and --init: the weights of --init were trained on their own curve; "
                           "pass one of them")
        override = {} if args.output_target is None else {"output_target": args.output_target}
        return Enhancer.from_pretrained(args.init, **override)
    extra = {} if args.stem_stride is None else {"stem_stride": args.stem_stride}
    if args.exposure_input:
        extra["exposure_input"] = True
    if args.output_target is not None:
        extra["output_target"] = args.output_target
    return {"llenet_s": llenet_s, "llenet_b": llenet_b}[arch](curve_target=args.curve_target, **extra)


def device_from(spec: str) -> str:
    """``auto`` (CUDA when available, else CPU) or a device that exists on this machine."""
    import torch

    if spec == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(spec)
    except (RuntimeError, ValueError) as err:
        raise CLIError(f"--device expected auto, cpu, cuda or cuda:N, got {spec!r} ({err})") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise CLIError(f"--device {spec}: CUDA is not available on this machine; use --device cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise CLIError(f"--device {spec}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif device.type != "cpu":
        raise CLIError(f"--device expected auto, cpu, cuda or cuda:N, got {spec!r}")
    return str(device)


def set_threads(count: int | None) -> None:
    """``--threads``: CPU threads of torch's intra-op pool (default: torch's own choice)."""
    if count is None:
        return
    if count < 1:
        raise CLIError(f"--threads expected an int >= 1, got {count}")
    import torch

    torch.set_num_threads(count)


def add_classifier_args(p: argparse.ArgumentParser, *, required: bool) -> None:
    """The classifier options, one meaning in every subcommand."""
    p.add_argument("--classifier", required=required, help="'module:factory' or 'path/to/file.py:factory' returning the classifier nn.Module")
    p.add_argument("--classifier-weights", type=Path,
                   help="classifier weights: .safetensors, or a state dict (loaded with weights_only=True)")
    p.add_argument("--classifier-size", type=int, help="resize to this square size before the classifier")
    p.add_argument("--classifier-grayscale", action="store_true", help="the classifier takes 1-channel images")
    p.add_argument("--classifier-mean", type=float, nargs="+", help="normalisation mean (default ImageNet)")
    p.add_argument("--classifier-std", type=float, nargs="+", help="normalisation std (default ImageNet)")


def preprocess_from(args: argparse.Namespace) -> Any:
    from llenhance.classifier import ClassifierPreprocess

    mean = tuple(args.classifier_mean) if args.classifier_mean else None
    std = tuple(args.classifier_std) if args.classifier_std else None
    return ClassifierPreprocess(
        size=args.classifier_size,
        grayscale=args.classifier_grayscale,
        **({} if mean is None and std is None else {"mean": mean, "std": std}),
    )


def remove_stale(output: Path) -> None:
    """Half-written files that a killed run (SIGKILL, power loss) left in ``output``: removed, and said so."""
    from llenhance._atomic import remove_stale_temporaries

    for path in remove_stale_temporaries(output):
        print(f"llenhance: removed {path}, a half-written file of a run that was killed", file=sys.stderr)
