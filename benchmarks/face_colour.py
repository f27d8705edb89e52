"""Colour faces through the face enhancers: is the colour kept, the noise removed, the expression read?

Data: ``faces-colour/`` of the shared data: GENKI-4K crops (64 px), the London
studio portraits (resized to 128 px) and the film crops (``muxspace``, resized
to 112 px). Every 5th face of each class folder (by file name) is ``val`` (on
which ``carry_chroma``'s constants were chosen), the others ``test``.

Darkenings (``llenhance.evaluation.DARKENING``, fixed seed): the paper's
(Eq. 14), the realistic one (sensor noise, 8 bits) and the realistic one
followed by JPEG at quality 75; and the well-lit faces as they are.

Per set, darkening and method: ``chroma kept`` (mean CIELAB chroma of the
output over that of the normal-light faces; for well-lit input, over the
input's), CIEDE2000 and PSNR to the normal-light face. Grey FER2013 val faces
check that grey stays grey (largest channel difference of the output).

With ``--readers`` (folders of ``train_fer_classifier.py --dataset genki``
runs, named by architecture): accuracy of each colour smile/non-smile reader
on the GENKI-4K ``val`` faces (the readers trained on the others; always val,
whatever ``--split``) darkened and enhanced (``llenhance.evaluation.evaluate_fer``),
the share of the lost accuracy each method recovers, and the change on well-lit faces.
No reader guided any enhancer here, so every one is held out.

Run:
    python benchmarks/face_colour.py --split test \\
        --readers resnet18=~/.cache/llenhance/genki-resnet18 vgg=~/.cache/llenhance/genki-vgg

Writes ``face_colour.{json,md}`` under ``--results`` (``face_colour_val`` for ``--split val``);
``--figure PATH`` also writes before/after pictures of colour test faces (realistic darkening).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

import torch
from torchvision.transforms.v2 import functional as TF
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _command import command_line  # noqa: E402
from _fer_data import every_nth_of_each_class, fer_split  # noqa: E402
from _fer_eval import frozen_classifier_from  # noqa: E402
from _paths import DATA  # noqa: E402

from llenhance import Enhancer  # noqa: E402
from llenhance.baselines import clahe, global_gamma  # noqa: E402
from llenhance.data import FERFolder, SyntheticLowLight  # noqa: E402
from llenhance.evaluation import DARKENING, TEST_SEED, ciede2000, evaluate_fer, markdown_table, write_results  # noqa: E402
from llenhance.metrics import chroma, psnr  # noqa: E402
from llenhance.transforms import LowLightSynth, jpeg_round_trip  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
COLOUR = DATA / "faces-colour"
#: Set -> (folder under faces-colour, side the faces are resized to).
SETS = {"GENKI-4K": ("genki4k", 64), "London": ("london", 128), "film crops": ("muxspace", 112)}
#: The face enhancer's exposure curve target: the gamma baseline lifts to the same mean grey.
GAMMA_TARGET = 0.45
JPEG_QUALITY = 75
#: The face enhancer of llenhance 0.3: its network's own output, nearly grey.
GREY_OUTPUT = "llenet-faces-0.3 (grey output)"
CONDITIONS = ("paper", "realistic", f"realistic + JPEG {JPEG_QUALITY}", "well-lit")

Method = Callable[[torch.Tensor], torch.Tensor]


def methods(candidates: list[Path] = ()) -> dict[str, Method]:
    """The rows: the input, two classical baselines, the face enhancer of 0.3 (grey output, and with the colour
    carried), the current one, the photo one, and each candidate enhancer (a saved model folder)."""
    grey_out = Enhancer.from_pretrained("llenet-faces-0.3").eval()
    carried = Enhancer.from_pretrained("llenet-faces-0.3", luma_only=True).eval()
    extra = {f"LLENet ({folder.parent.name}/{folder.name})": Enhancer.from_pretrained(folder).eval()
             for folder in candidates}
    return {
        "identity (input)": lambda x: x,
        f"global gamma (mean grey -> {GAMMA_TARGET})": lambda x: global_gamma(x, target=GAMMA_TARGET),
        "CLAHE": clahe,
        GREY_OUTPUT: grey_out,
        "llenet-faces-0.3, colour carried": carried,
        "llenet-faces": Enhancer.from_pretrained("llenet-faces").eval(),
        "llenet-photo": Enhancer.from_pretrained("llenet-photo").eval(),
        **extra,
    }


def split_of(faces: FERFolder, split: str) -> torch.Tensor:
    """The ``split`` faces of a class-folder set as one (N, 3, S, S) batch (every `VAL_EVERY`-th of a class: val)."""
    keep = every_nth_of_each_class(faces.targets, split)
    return torch.stack([faces[i][0] for i in tqdm(keep, desc="loading", leave=False)])


def darken(normal: torch.Tensor, condition: str) -> torch.Tensor:
    """``normal`` darkened under ``condition`` with the evaluation's fixed seed (the input itself for well-lit)."""
    if condition == "well-lit":
        return normal
    protocol = "paper" if condition == "paper" else "realistic"
    data = SyntheticLowLight([(x, 0) for x in normal], LowLightSynth(**DARKENING[protocol]), seed=TEST_SEED)
    dark = torch.stack([data[i][0] for i in range(len(data))])
    if condition.endswith(f"JPEG {JPEG_QUALITY}"):
        dark = jpeg_round_trip(dark, JPEG_QUALITY)
    return dark


@torch.no_grad()
def run(method: Method, images: torch.Tensor, batch: int = 64) -> torch.Tensor:
    return torch.cat([method(images[i : i + batch]).clamp(0, 1) for i in range(0, len(images), batch)])


def image_scores(rows: dict[str, Method], split: str, limit: int | None) -> dict[str, Any]:
    """{set: {condition: {method: {chroma_kept, ciede2000, psnr}}}}."""
    out: dict[str, Any] = {}
    for set_name, (folder, side) in SETS.items():
        normal = split_of(FERFolder(COLOUR / folder, transform=lambda x, s=side: TF.resize(x, [s, s], antialias=True).clamp(0, 1)),
                          split)
        if limit is not None:  # spread over the set (its class folders come one after another)
            normal = normal[:: max(1, len(normal) // limit)][:limit]
        out[set_name] = {"faces": len(normal), "side": side}
        for condition in CONDITIONS:
            dark = darken(normal, condition)
            reference = dark if condition == "well-lit" else normal
            scores = {}
            for name, method in tqdm(rows.items(), desc=f"{set_name}, {condition}", leave=False):
                enhanced = run(method, dark)
                scores[name] = {
                    "chroma_kept": float(chroma(enhanced).mean() / chroma(reference).mean()),
                    "ciede2000": float(ciede2000(enhanced, normal).mean()),
                    "psnr": float(psnr(enhanced, normal).mean()),
                }
            out[set_name][condition] = scores
    return out


def grey_check(rows: dict[str, Method], count: int) -> dict[str, float]:
    """Largest |R - G| or |G - B| of each method's output on ``count`` grey FER2013 val faces (darkened, paper)."""
    faces = FERFolder(DATA / "fer2013" / "val")
    normal = torch.stack([faces[i][0] for i in range(0, len(faces), max(1, len(faces) // count))][:count])
    dark = darken(normal, "paper")
    result = {}
    for name, method in rows.items():
        out = run(method, dark)
        result[name] = float(torch.maximum((out[:, 0] - out[:, 1]).abs(), (out[:, 1] - out[:, 2]).abs()).max())
    return result


def reader_scores(rows: dict[str, Method], readers: dict[str, Path], limit: int | None) -> dict[str, Any]:
    """{reader: {darkening: evaluate_fer's result}} on GENKI-4K ``val`` faces: the readers trained on the rest."""
    faces = fer_split("genki", COLOUR / "genki4k", "val", size=SETS["GENKI-4K"][1])
    if limit is not None:
        faces = torch.utils.data.Subset(faces, range(0, len(faces), max(1, len(faces) // limit)))
    out: dict[str, Any] = {}
    for arch, folder in readers.items():
        classifier = frozen_classifier_from(arch, folder, "genki", argument="--readers")
        out[arch] = {d: evaluate_fer(classifier, faces, dict(rows), darkening=d, progress=False) for d in DARKENING}
    return out


def grey_reader_scores(rows: dict[str, Method], readers: dict[str, Path], split: str,
                       limit: int | None) -> dict[str, Any]:
    """{reader: {darkening: evaluate_fer's result}} on grey FER2013 faces (``val``; every 2nd face of val for
    ``--split val``, the others for ``test``: FER2013 has no third split here)."""
    from llenhance.data import FER2013_CLASSES

    faces = FERFolder(DATA / "fer2013" / "val", classes=FER2013_CLASSES)
    keep = [i for i in range(len(faces)) if (i % 2 == 0) == (split == "val")]
    if limit is not None:
        keep = keep[:: max(1, len(keep) // limit)][:limit]
    subset = torch.utils.data.Subset(faces, keep)
    out: dict[str, Any] = {}
    for arch, folder in readers.items():
        classifier = frozen_classifier_from(arch, folder, argument="--grey-readers")
        out[arch] = {d: evaluate_fer(classifier, subset, dict(rows), darkening=d, progress=False) for d in DARKENING}
    return out


def _reader_tables(title: str, readers: dict[str, Any]) -> list[str]:
    lines = [title, "", "Accuracy in %; recovered: share of the accuracy lost to the dark that comes back; "
             "well-lit: change in points on the well-lit faces.", ""]
    for arch, by_darkening in readers.items():
        first = next(iter(by_darkening.values()))
        lines += [f"### {arch}: {100 * first['normal_accuracy']:.2f} % well lit, "
                  + ", ".join(f"{100 * r['dark_accuracy']:.2f} % dark ({d})" for d, r in by_darkening.items())
                  + f" ({first['faces']} faces)", ""]
        body = []
        for name in first["methods"]:
            cells = [name]
            for r in by_darkening.values():
                m = r["methods"][name]
                rec = "n/a" if m["recovered_fraction"] is None else f"{m['recovered_fraction']:.3f}"
                cells.append(f"{100 * m['accuracy']:.2f} ({rec})")
            cells.append(f"{100 * first['methods'][name]['well_lit_change']:+.2f}")
            body.append(cells)
        lines += [markdown_table(["method"] + [f"{d}: accuracy (recovered)" for d in by_darkening]
                                 + ["well-lit change (points)"], body), ""]
    return lines


def markdown(results: dict[str, Any]) -> str:
    lines = [f"# Colour faces through the enhancers ({results['split']} split)", "",
             f"`{results['command']}`", "",
             "chroma kept: mean CIELAB chroma of the output / of the normal-light faces (well-lit: / of the input); "
             "CIEDE2000 (lower is better) and PSNR (dB) to the normal-light face.", ""]
    for set_name, block in results["images"].items():
        lines += [f"## {set_name} ({block['faces']} faces, {block['side']} px)", ""]
        header = ["method"] + [f"{c}: chroma kept / CIEDE2000 / PSNR" for c in CONDITIONS]
        names = list(block[CONDITIONS[0]])
        body = [[name] + [f"{block[c][name]['chroma_kept']:.2f} / {block[c][name]['ciede2000']:.2f} / "
                          f"{block[c][name]['psnr']:.2f}" for c in CONDITIONS] for name in names]
        lines += [markdown_table(header, body), ""]
    lines += ["## Grey faces stay grey", "",
              f"Largest channel difference of the output on {results['grey_faces']} grey FER2013 val faces "
              "(paper darkening).", "",
              markdown_table(["method", "largest channel difference"], [[n, f"{v:.4f}"] for n, v in results["grey"].items()]), ""]
    if results.get("readers"):
        lines += _reader_tables("## Colour readers (GENKI-4K val, smile / non-smile; the readers trained on "
                                "GENKI-4K train, no enhancer saw them)", results["readers"])
    if results.get("grey_readers"):
        lines += _reader_tables(f"## Grey readers (FER2013 val, {results['split']} half, 7 expressions; no "
                                "enhancer saw them)", results["grey_readers"])
    return "\n".join(lines)


def figure(path: Path, rows: dict[str, Method], per_set: int = 3) -> None:
    """Columns: the dark face (realistic), the grey-output enhancer, ``llenet-faces``, the gamma curve, the original;
    ``per_set`` test faces of each set (spread over the set), each 128 px."""
    import PIL.Image

    names = [GREY_OUTPUT, "llenet-faces", f"global gamma (mean grey -> {GAMMA_TARGET})"]
    lines = []
    for folder, side in SETS.values():
        normal = split_of(FERFolder(COLOUR / folder, transform=lambda x, s=side: TF.resize(x, [s, s], antialias=True).clamp(0, 1)),
                          "test")
        normal = normal[torch.linspace(0, len(normal) - 1, per_set).round().long()]
        dark = darken(normal, "realistic")
        columns = [dark] + [run(rows[n], dark) for n in names] + [normal]
        lines.append(torch.cat([TF.resize(c, [128, 128], antialias=True) for c in columns], dim=-1))
    grid = torch.cat([line for block in lines for line in block], dim=-2)
    image = (grid.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL.Image.fromarray(image).save(path, quality=90)


def parse_readers(parser: argparse.ArgumentParser, values: list[str]) -> dict[str, Path]:
    readers = {}
    for value in values:
        arch, sep, folder = value.partition("=")
        if not sep or not arch or not folder:
            parser.error(f"`--readers` and `--grey-readers` expected ARCH=FOLDER, got {value!r}")
        readers[arch] = Path(folder).expanduser()
    return readers


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("val", "test"), default="test")
    parser.add_argument("--readers", nargs="*", default=[], metavar="ARCH=FOLDER",
                        help="colour GENKI-4K readers (train_fer_classifier.py --dataset genki outputs)")
    parser.add_argument("--grey-readers", nargs="*", default=[], metavar="ARCH=FOLDER",
                        help="grey FER2013 readers (train_fer_classifier.py outputs), scored on FER2013 val")
    parser.add_argument("--candidates", nargs="*", type=Path, default=[], metavar="FOLDER",
                        help="more enhancers to score (saved model folders, e.g. a train faces run's model/)")
    parser.add_argument("--limit", type=int, default=None,
                        help="at most N faces per set, spread over it (smoke runs, or a quicker test)")
    parser.add_argument("--grey-faces", type=int, default=500, help="grey FER2013 val faces for the grey check")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--figure", type=Path, default=None,
                        help="write before/after pictures (dark, grey output, llenet-faces, gamma, original) here "
                             "and stop")
    args = parser.parse_args(argv)
    readers = parse_readers(parser, args.readers)
    grey_readers = parse_readers(parser, args.grey_readers)
    torch.set_num_threads(args.threads)
    rows = methods([c.expanduser() for c in args.candidates])
    if args.figure is not None:
        figure(args.figure, rows)
        return {}
    results = {
        "command": command_line("face_colour.py", argv),
        "split": args.split,
        "images": image_scores(rows, args.split, args.limit),
        "grey_faces": args.grey_faces,
        "grey": grey_check(rows, args.grey_faces),
        "readers": reader_scores(rows, readers, args.limit),
        "grey_readers": grey_reader_scores(rows, grey_readers, args.split, args.limit),
    }
    stem = "face_colour" if args.split == "test" else "face_colour_val"
    write_results(args.results / stem, results, markdown(results))
    print((args.results / f"{stem}.md").read_text())
    return results


if __name__ == "__main__":
    main()
