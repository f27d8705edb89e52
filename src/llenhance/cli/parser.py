"""The ``llenhance`` command's argument parser."""

from __future__ import annotations

import argparse
from pathlib import Path

from llenhance.cli.common import add_classifier_args
from llenhance.cli.train import parse_stage, add_common_train_args


def build_parser() -> argparse.ArgumentParser:
    from llenhance import __version__

    parser = argparse.ArgumentParser(prog="llenhance", description="Low-light enhancement for FER (LL-FER).")
    parser.add_argument("--version", action="version", version=f"llenhance {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train",
        help="train an enhancer",
        description=(
            "Train LLENet. Two modes: 'reconstruction' trains on real low/normal pairs "
            "(folder with low/ and high/) with the reconstruction loss (paper Eq. 11); "
            "'joint' trains on a FER class-folder data set darkened with LowLightSynth, in front "
            "of a frozen classifier, with the joint loss (paper Eq. 13). Both run under "
            "torchrun --nproc_per_node=N. 'faces' trains a face enhancer like the built-in llenet-faces "
            "from a folder of normal-light faces (its recipe: darkening mix, stages, seeds)."
        ),
    )
    modes = train.add_subparsers(dest="mode", required=True)
    rec = modes.add_parser("reconstruction", help="paired low/high folders, reconstruction loss",
                           description="Paper defaults for LOL: 48x48 crops, batch 80, 5000 iterations.")
    rec.add_argument("--data", type=Path, required=True, help="folder with low/ and high/")
    rec.add_argument("--preload", action="store_true", help="decode all images once and keep them in memory")
    rec.add_argument("--normal-fraction", type=float, default=0.0,
                     help="share of the pairs given as (normal, normal): well-lit input whose target is itself")
    rec.add_argument("--inputs", nargs="+", default=["real"], metavar="KIND",
                     choices=("real", "real-degraded", "paper", "realistic", "realistic-jpeg"),
                     help="what the network sees, mixed in equal shares: real (the pair's low frame), "
                          "real-degraded (that frame with sensor noise, 8 bits and JPEG 60-95), or the normal "
                          "frame darkened: paper, realistic (noise, 8 bits), realistic-jpeg (and JPEG 60-95); "
                          "default real")
    add_common_train_args(rec, batch=80, iterations=5000, crop=48)

    joint = modes.add_parser("joint", help="FER folders + frozen classifier, joint loss",
                             description="Paper defaults: batch 32, 2000 iterations.")
    joint.add_argument("--data", type=Path, required=True, help="class-folder FER data set (normal light)")
    joint.add_argument("--classes", nargs="+", help="class folder names in label order (default: FER2013 order)")
    add_classifier_args(joint, required=True)
    joint.add_argument("--stages", nargs="*", help="classifier stage module names (default: found automatically)")
    add_common_train_args(joint, batch=32, iterations=2000, crop=48)
    joint.set_defaults(preload=False)

    faces = modes.add_parser(
        "faces", help="normal-light faces, the llenet-faces recipe",
        description=("Train a face enhancer from normal-light faces (any folder of images, searched "
                     "recursively), darkened on the fly, reconstruction loss only, in stages: by default the "
                     "recipe of the built-in llenet-faces. The run folder gets recipe.json; the same command "
                     "resumes an interrupted run; --recipe FILE reruns a recipe (options given here change it)."))
    faces.add_argument("--data", type=Path, required=True, help="folder of normal-light face images")
    faces.add_argument("--output", type=Path, required=True, help="run folder (new, empty, or of this recipe)")
    faces.add_argument("--recipe", type=Path, default=None,
                       help="recipe.json of a run, or a face model's training.json, to rerun")
    faces.add_argument("--stages", type=parse_stage, nargs="+", default=None, metavar="ITERATIONS:LR",
                       help="training stages, each from the weights of the one before (default 3000:5e-4 "
                            "3000:2.5e-4)")
    faces.add_argument("--darkenings", nargs="+", choices=("paper", "realistic", "realistic-jpeg"), default=None,
                       help="darkenings mixed in equal shares (default: paper realistic)")
    faces.add_argument("--normal-fraction", type=float, default=None, help="share of well-lit pairs (default 0.25)")
    faces.add_argument("--luma-only", action=argparse.BooleanOptionalAction, default=None,
                       help="train the network on the faces' luma, colour carried (Enhancer(luma_only=True))")
    faces.add_argument("--init", default=None,
                       help="start from these weights (a built-in name such as llenet-faces, or a folder)")
    faces.add_argument("--seed", type=int, default=None)
    faces.add_argument("--size", type=int, default=None, help="faces resized to SIZE x SIZE (default 48)")
    faces.add_argument("--batch-size", type=int, default=None, help="faces per step (default 32)")
    faces.add_argument("--width", type=int, default=None, help="LLENet width (default 16)")
    faces.add_argument("--stem-stride", type=int, choices=(1, 2), default=None,
                       help="1: full resolution (default); 2: 2x2 pixel folding, a quarter of the compute")
    faces.add_argument("--curve-target", type=float, default=None, help="exposure curve target (default 0.45)")
    faces.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    faces.add_argument("--threads", type=int, default=None, help="CPU threads")
    faces.add_argument("--no-record-command", dest="record_command", action="store_false",
                       help="leave the command line out of training.json")

    enh = commands.add_parser(
        "enhance",
        help="enhance images, folders, videos and webcams (--faces: only the faces, and their expressions)",
        description=(
            "Enhance low-light images (png, jpg, bmp, tiff, webp; folders recursively), videos and webcams into "
            "--output, keeping relative names and formats (videos: same frame rate and size, no audio track). "
            "Never writes into an input folder or over an input "
            "file; refuses to replace existing output files unless --overwrite (or --skip-existing) is "
            "given; unreadable files are skipped with a message and a non-zero exit code."
        ),
    )
    enh.add_argument("inputs", nargs="*", help="image files, folders (images) and video files (mp4, avi, mkv, mov)")
    enh.add_argument("--webcam", type=int, default=None, metavar="INDEX",
                     help="read this webcam (0 = the first) into OUTPUT/webcamINDEX.mp4 until Ctrl-C or --max-frames")
    enh.add_argument("--max-frames", type=int, default=None, help="stop each video or webcam after this many frames")
    enh.add_argument("--faces", action="store_true",
                     help="find faces (OpenCV's bundled detector), enhance only them, box them and write their "
                          "boxes to NAME.faces.csv (videos) or faces.csv (images); with --classifier also label "
                          "their expressions")
    enh.add_argument("--detect-every", type=int, default=2,
                     help="search for faces in every N-th video frame, keep the boxes between (default %(default)s)")
    enh.add_argument("--face-size", type=int, default=None,
                     help="largest side a face crop is enhanced at (default: its own size; smaller: faster, "
                          "blurrier)")
    add_classifier_args(enh, required=False)
    enh.add_argument("--classes", nargs="+", help="names of the classifier's outputs in order (default: FER2013's 7)")
    enh.add_argument("--output", type=Path, required=True, help="output folder (outside the inputs)")
    enh.add_argument("--weights", default=None,
                     help="built-in weights name, folder, or Hub repo id (default: the built-in default)")
    enh.add_argument("--model", dest="weights_old", default=None, help=argparse.SUPPRESS)  # before 0.4
    enh.add_argument("--tile", type=int, default=None,
                     help="process in tiles of this size (bounded memory); without it, images over 8 megapixels "
                          "are processed in 1024-px tiles anyway")
    enh.add_argument("--overlap", type=int, default=128, help="tile overlap in pixels (default %(default)s)")
    enh.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1")
    enh.add_argument("--strength", type=float, default=1.0,
                     help="how much of the enhancement to apply, 0 (input) to 1 (full; default)")
    enh.add_argument("--amp", action="store_true",
                     help="bfloat16 autocast on CUDA, as train --amp (faster; output stays 8/16-bit as usual)")
    enh.add_argument("--half", dest="amp_old", action="store_true", default=None, help=argparse.SUPPRESS)  # before 0.4
    enh.add_argument("--batch-size", type=int, default=1,
                     help="images (of one size, in order) or video frames per forward pass (default %(default)s; "
                          "more pays on a GPU)")
    enh.add_argument("--threads", type=int, default=None,
                     help="CPU threads (default: torch's choice; 1 for videos with --faces, where the other core "
                          "decodes and finds faces)")
    enh.add_argument("--side-by-side", action="store_true",
                     help="also write input|output comparisons to OUTPUT/side_by_side/")
    enh.add_argument("--overwrite", action="store_true", help="replace output files that exist already")
    enh.add_argument("--skip-existing", action="store_true",
                     help="skip the inputs whose outputs all exist already (one missing its side-by-side "
                          "picture or faces CSV runs again)")

    ev = commands.add_parser(
        "evaluate",
        help="score enhancers: paired PSNR/SSIM/CIEDE2000, NIQE, FER accuracy in the dark",
        description=("Score one or more enhancers (--weights, repeatable; the input itself is always the first row) "
                     "and, with --baselines, the classical baselines. Prints a Markdown table; --output STEM also "
                     "writes STEM.json and STEM.md."),
    )
    kinds = ev.add_subparsers(dest="kind", required=True)
    pairs = kinds.add_parser("pairs", help="low/high pairs (folder with low/ and high/): PSNR, SSIM, CIEDE2000")
    pairs.add_argument("--data", type=Path, required=True, help="folder with low/ and high/ (same file names)")
    nq = kinds.add_parser("niqe", help="NIQE (no reference) over a folder of low-light images")
    nq.add_argument("--data", type=Path, required=True, help="folder of low-light images")
    nq.add_argument("--limit", type=int, default=None, help="only the first N images (sorted by name)")
    fer = kinds.add_parser("fer", help="FER accuracy on darkened faces, enhanced, and on well-lit faces")
    fer.add_argument("--data", type=Path, required=True, help="class-folder FER data set (normal light)")
    fer.add_argument("--classes", nargs="+", help="class folder names in label order (default: FER2013 order)")
    add_classifier_args(fer, required=True)
    fer.add_argument("--darkening", choices=("paper", "realistic"), default="paper",
                     help="paper: Eq. 14; realistic: plus sensor noise and 8 bits (default %(default)s)")
    fer.add_argument("--size", type=int, default=None, help="resize the faces to SIZE x SIZE first")
    for sub in (pairs, nq, fer):
        sub.add_argument("--weights", action="append", default=None,
                         help="enhancer weights: built-in name, folder or Hub repo id (repeatable; default: "
                              "llenet-faces for fer, llenet-photo otherwise)")
        sub.add_argument("--model", dest="weights_old", action="append", default=None, help=argparse.SUPPRESS)
        sub.add_argument("--baselines", action="store_true", help="also score global gamma and CLAHE")
        sub.add_argument("--output", type=Path, default=None, help="write OUTPUT.json and OUTPUT.md")
        sub.add_argument("--overwrite", action="store_true", help="replace OUTPUT.json/.md if they exist")
        sub.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1")
        sub.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")

    exp = commands.add_parser("export", help="export an enhancer to ONNX or TorchScript",
                              description="ONNX graphs have dynamic batch, height and width.")
    exp.add_argument("--format", choices=("onnx", "torchscript"), required=True)
    exp.add_argument("--weights", default=None, help="weights name, folder or Hub repo id (default: built-in default)")
    exp.add_argument("--model", dest="weights_old", default=None, help=argparse.SUPPRESS)  # before 0.4
    exp.add_argument("--output", type=Path, required=True, help="file to write (.onnx or .pt)")
    exp.add_argument("--opset", type=int, default=17, help="ONNX opset (default %(default)s)")
    return parser
