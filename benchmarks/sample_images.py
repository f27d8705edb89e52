"""The sample images before and after: colour against the originals, reds in particular, and a picture for the docs.

The dark samples in ``examples/images`` are scikit-image's ``astronaut``,
``coffee`` and ``chelsea`` darkened by ``examples/make_sample_images.py``
(`LowLightSynth` with noise and 8-bit quantisation), so the well-lit original
of each is known. Every method enhances the dark sample; the scores compare
its output with the original: PSNR, CIEDE2000 (both over the whole image) and,
on the *red* pixels of the original (CIE Lab chroma above 25, hue angle from
-10 to 50 degrees: reds and red-oranges), the mean hue shift in degrees (a
positive shift turns reds towards orange, ochre and khaki) and the ratio of
chroma (below 1: reds lose saturation). Well-lit: each method run on the
original itself, CIEDE2000 against it.

Run:
    python benchmarks/sample_images.py [--weights llenet-sice other-weights ...]

Writes ``benchmarks/results/sample_images.json`` and ``.md`` and the picture
``docs/assets/sample_before_after.jpg`` (rows: samples; columns: dark input,
global gamma, each set of weights, original).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import kornia
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from llenhance.baselines import global_gamma  # noqa: E402
from _command import command_line  # noqa: E402

from llenhance import Enhancer, enhance  # noqa: E402
from llenhance.data import read_image  # noqa: E402
from llenhance.evaluation import ciede2000, markdown_table, write_results  # noqa: E402
from llenhance.metrics import psnr  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PICTURE = ROOT / "docs" / "assets" / "sample_before_after.jpg"
SAMPLES = (("astronaut", ".png"), ("coffee", ".jpg"), ("chelsea", ".jpg"))
#: red pixels of the original: Lab chroma above this, hue angle (degrees) in this range
RED_CHROMA, RED_HUE = 25.0, (-10.0, 50.0)


def originals() -> dict[str, torch.Tensor]:
    """scikit-image's pictures, float (3, H, W) in [0, 1]."""
    from skimage import data

    return {name: torch.from_numpy(getattr(data, name)()).permute(2, 0, 1).float() / 255 for name, _ in SAMPLES}


def red_mask(lab: torch.Tensor) -> torch.Tensor:
    """(H, W) bool: pixels of a (3, H, W) Lab image that are red."""
    a, b = lab[1], lab[2]
    hue = torch.rad2deg(torch.atan2(b, a))
    return (torch.hypot(a, b) > RED_CHROMA) & (hue >= RED_HUE[0]) & (hue <= RED_HUE[1])


def red_shift(output: torch.Tensor, original: torch.Tensor) -> dict[str, float]:
    """Mean hue shift (degrees) and chroma ratio of ``output`` on the red pixels of ``original``."""
    lab_out = kornia.color.rgb_to_lab(output[None])[0]
    lab_ref = kornia.color.rgb_to_lab(original[None])[0]
    mask = red_mask(lab_ref)
    hue_out = torch.atan2(lab_out[2], lab_out[1])[mask]
    hue_ref = torch.atan2(lab_ref[2], lab_ref[1])[mask]
    # wrap the difference to (-180, 180] degrees
    shift = torch.rad2deg(torch.atan2(torch.sin(hue_out - hue_ref), torch.cos(hue_out - hue_ref)))
    chroma_out = torch.hypot(lab_out[1], lab_out[2])[mask]
    chroma_ref = torch.hypot(lab_ref[1], lab_ref[2])[mask]
    return {"red_pixels": int(mask.sum()), "red_hue_shift": float(shift.mean()),
            "red_chroma_ratio": float(chroma_out.sum() / chroma_ref.sum())}


def score(method: Callable[[torch.Tensor], torch.Tensor], dark: torch.Tensor, original: torch.Tensor) -> dict:
    with torch.inference_mode():
        out = method(dark[None])[0].clamp(0, 1)
        lit = method(original[None])[0].clamp(0, 1)
    return {"output": out, "psnr": float(psnr(out[None], original[None])),
            "ciede2000": float(ciede2000(out[None], original[None])),
            "well_lit_ciede2000": float(ciede2000(lit[None], original[None])), **red_shift(out, original)}


def picture(columns: dict[str, list[torch.Tensor]], height: int = 180, aspect: float = 1.5) -> Image.Image:
    """One row per sample, one column per entry, under a header of the column names: every cell
    ``height`` x ``aspect * height`` pixels, each image scaled to cover it and cropped to it (sides
    evenly, top kept: faces stay in), so rows and columns line up."""
    from PIL import ImageDraw

    cell_w, gap, header = round(aspect * height), 4, 22
    rows = []
    for i in range(len(next(iter(columns.values())))):
        cells = []
        for images in columns.values():
            x = images[i]
            scale = max(height / x.shape[-2], cell_w / x.shape[-1])
            size = (max(height, round(x.shape[-2] * scale)), max(cell_w, round(x.shape[-1] * scale)))
            x = F.interpolate(x[None], size=size, mode="area")[0]
            left = (size[1] - cell_w) // 2
            cells.append(torch.cat((x[:, :height, left:left + cell_w], torch.ones(3, height, gap)), dim=2))
        rows.append(torch.cat((torch.cat(cells, dim=2), torch.ones(3, gap, len(cells) * (cell_w + gap))), dim=1))
    grid = torch.cat(rows, dim=1)
    body = Image.fromarray((grid.permute(1, 2, 0).numpy() * 255).round().astype("uint8"))
    out = Image.new("RGB", (body.width, body.height + header), "white")
    out.paste(body, (0, header))
    draw = ImageDraw.Draw(out)
    for j, name in enumerate(columns):
        draw.text((j * (cell_w + gap) + 4, 5), name, fill="black")
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", nargs="+", default=["llenet-photo", "llenet-sice"],
                        help="LLENet weights (names or folders)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--picture", type=Path, default=PICTURE, help="where the before/after picture goes")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    reference = originals()
    dark = {name: read_image(ROOT / "examples" / "images" / f"{name}{suffix}").float() / 255
            for name, suffix in SAMPLES}

    methods: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"dark input": lambda x: x,
                                                                  "global gamma": global_gamma}
    for weights in args.weights:
        model = Enhancer.from_pretrained(weights).eval()
        methods[Path(weights).name] = lambda x, m=model: enhance(x, m)
    rows, columns = [], {}
    for method_name, method in methods.items():
        columns[method_name] = []
        for name, _ in SAMPLES:
            result = score(method, dark[name], reference[name])
            columns[method_name].append(result.pop("output"))
            rows.append({"method": method_name, "image": name, **result})
            print(rows[-1], flush=True)
    columns["original"] = [reference[name] for name, _ in SAMPLES]

    command = command_line("sample_images.py", argv)
    table = markdown_table(
        ["method", "image", "PSNR (dB) ↑", "CIEDE2000 ↓", "red hue shift (°)", "red chroma ratio",
         "well-lit CIEDE2000 ↓"],
        [(r["method"], r["image"], f"{r['psnr']:.2f}", f"{r['ciede2000']:.2f}", f"{r['red_hue_shift']:+.1f}",
          f"{r['red_chroma_ratio']:.2f}", f"{r['well_lit_ciede2000']:.2f}") for r in rows],
    )
    red = {name: rows[i]["red_pixels"] for i, (name, _) in enumerate(SAMPLES)}
    markdown = (
        "# The sample images\n\n"
        f"`{command}`. The dark samples of `examples/images` against their well-lit originals "
        "(scikit-image). PSNR and CIEDE2000 over the whole image; red hue shift and chroma ratio over the "
        f"original's red pixels (Lab chroma > {RED_CHROMA:g}, hue {RED_HUE[0]:g} to {RED_HUE[1]:g} degrees; "
        + ", ".join(f"{n}: {c:,}" for n, c in red.items())
        + "): a positive shift turns reds towards orange and khaki, a ratio below 1 desaturates them. "
        "Well-lit: the method run on the original, CIEDE2000 against it.\n\n" + table
    )
    args.results.mkdir(parents=True, exist_ok=True)
    write_results(args.results / "sample_images", {"meta": {"command": command, "red_pixels": red}, "rows": rows},
                  markdown)
    args.picture.parent.mkdir(parents=True, exist_ok=True)
    picture(columns).save(args.picture, quality=90)
    print(markdown)
    return {"rows": rows}


if __name__ == "__main__":
    main()
