from __future__ import annotations

from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from llenhance.data import FER2013_CLASSES, FERPLUS_CLASSES, RAFDB, RAFDB_CLASSES, FERFolder, FERPlus
from tests.conftest import shared_data


def _gray(path: Path, value: int = 100) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL.Image.fromarray(np.full((6, 6), value, np.uint8)).save(path)


class TestFERFolder:
    def test_layout_and_grayscale(self, tmp_path: Path) -> None:
        _gray(tmp_path / "sad" / "1.png")
        _gray(tmp_path / "angry" / "2.png", 50)
        _gray(tmp_path / "angry" / "3.png")
        data = FERFolder(tmp_path)
        assert data.classes == ("angry", "sad") and data.targets == [0, 0, 1]
        image, label = data[0]
        assert image.shape == (3, 6, 6) and label == 0
        torch.testing.assert_close(image, torch.full((3, 6, 6), 50 / 255))

    def test_given_class_order(self, tmp_path: Path) -> None:
        _gray(tmp_path / "sad" / "1.png")
        _gray(tmp_path / "angry" / "2.png")
        data = FERFolder(tmp_path, classes=("sad", "angry"))
        assert data.classes == ("sad", "angry") and data.targets == [0, 1]
        assert data.samples[0][0].parent.name == "sad"

    def test_errors(self, tmp_path: Path) -> None:
        with pytest.raises(FileNotFoundError, match="does not exist"):
            FERFolder(tmp_path / "nope")
        (tmp_path / "sad").mkdir()
        with pytest.raises(ValueError, match="found none"):
            FERFolder(tmp_path)
        with pytest.raises(FileNotFoundError, match=r"missing \['happy'\]"):
            FERFolder(tmp_path, classes=("sad", "happy"))

    def test_shared_fer2013(self) -> None:
        data = FERFolder(shared_data("fer2013", "val"), classes=FER2013_CLASSES)
        assert len(data) == 3579  # FERPlus's PublicTest faces: 3,589 less 10 that are not faces
        counts = np.bincount(data.targets, minlength=7)
        assert (counts > 0).all()


class TestRAFDB:
    def test_parser(self, tmp_path: Path) -> None:
        (tmp_path / "EmoLabel").mkdir()
        (tmp_path / "EmoLabel" / "list_patition_label.txt").write_text(
            "train_00001.jpg 5\ntrain_00002.jpg 1\ntest_0001.jpg 7\n"
        )
        for name in ("train_00001", "train_00002", "test_0001"):
            _gray(tmp_path / "Image" / "aligned" / f"{name}_aligned.jpg")
        train = RAFDB(tmp_path, split="train")
        test = RAFDB(tmp_path, split="test")
        assert train.targets == [4, 0] and test.targets == [6]
        assert train.classes == RAFDB_CLASSES and RAFDB_CLASSES[4] == "sadness"
        assert train[0][0].shape == (3, 6, 6)

    def test_errors(self, tmp_path: Path) -> None:
        with pytest.raises(FileNotFoundError, match="list_patition_label.txt"):
            RAFDB(tmp_path)
        (tmp_path / "list_patition_label.txt").write_text("train_1.jpg 9\n")
        with pytest.raises(ValueError, match=r"list_patition_label.txt:1: expected '<name> <label 1..7>'"):
            RAFDB(tmp_path)
        (tmp_path / "list_patition_label.txt").write_text("train_1.jpg 2\n")
        with pytest.raises(FileNotFoundError, match="1 images listed .* are missing"):
            RAFDB(tmp_path)
        with pytest.raises(ValueError, match="`split` expected 'train' or 'test'"):
            RAFDB(tmp_path, split="val")


class TestFERPlus:
    def test_majority_vote(self, tmp_path: Path) -> None:
        header = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
        rows = [
            "Training,fer0000000.png,4,0,0,1,0,0,0,0,0,5\n",   # NF wins -> dropped
            "Training,fer0000001.png,0,6,2,0,0,0,0,2,0,0\n",   # happiness
            "Training,,10,0,0,0,0,0,0,0,0,0\n",                # no image -> dropped
            "Training,fer0000003.png,3,0,3,0,0,0,0,0,0,0\n",   # tie -> dropped
            "PublicTest,fer0000004.png,0,0,0,0,0,0,1,9,0,0\n",  # contempt
        ]
        (tmp_path / "fer2013new.csv").write_text(header + "".join(rows))
        for name in ("fer0000001", "fer0000003"):
            _gray(tmp_path / "FER2013Train" / f"{name}.png")
        _gray(tmp_path / "FER2013Valid" / "fer0000004.png")
        train = FERPlus(tmp_path, split="train")
        assert train.targets == [1] and train.dropped == 3
        assert FERPlus(tmp_path, split="val").targets == [FERPLUS_CLASSES.index("contempt")]

    def test_shared_layout(self, tmp_path: Path) -> None:
        votes = "ferplus_neutral,ferplus_happiness,ferplus_surprise,ferplus_sadness,ferplus_anger,ferplus_disgust," \
                "ferplus_fear,ferplus_contempt,ferplus_unknown,ferplus_NF"
        rows = [
            "fer0000000.png,train,sad,0,1,0,0,7,0,0,0,0,2,0\n",   # sadness
            "fer0000001.png,train,happy,0,0,4,4,0,0,0,0,0,2,0\n",  # tie -> dropped
            "fer0000002.png,train,angry,0,0,0,0,0,2,0,0,0,8,0\n",  # unknown wins -> dropped
            "fer0000003.png,val,angry,0,0,0,0,0,0,0,0,6,0,4\n",    # contempt
        ]
        (tmp_path / "labels.csv").write_text(f"image,split,fer2013_label,label_ambiguous,{votes}\n" + "".join(rows))
        _gray(tmp_path / "train" / "sad" / "fer0000000.png")
        _gray(tmp_path / "val" / "angry" / "fer0000003.png")
        train = FERPlus(tmp_path, split="train")
        assert train.targets == [FERPLUS_CLASSES.index("sadness")] and train.dropped == 2
        assert train.samples[0][0] == tmp_path / "train" / "sad" / "fer0000000.png"
        assert FERPlus(tmp_path, split="val").targets == [FERPLUS_CLASSES.index("contempt")]
        with pytest.raises(ValueError, match="'test' is not in"):
            FERPlus(tmp_path, split="test")
        (tmp_path / "labels.csv").write_text("image,split\nfer0000000.png,train\n")
        with pytest.raises(ValueError, match="expected columns"):
            FERPlus(tmp_path)

    def test_shared_ferplus(self) -> None:
        # independent count: a unique top vote among the ten columns that is one of the eight emotions
        import csv

        rows = list(csv.DictReader(shared_data("fer2013", "labels.csv").open()))
        columns = [c for c in rows[0] if c.startswith("ferplus_")]
        expected = np.zeros(8, int)
        for row in rows:
            votes = np.array([int(row[c]) for c in columns])
            if row["split"] == "val" and (votes == votes.max()).sum() == 1 and votes.argmax() < 8:
                expected[votes.argmax()] += 1
        data = FERPlus(shared_data("fer2013"), split="val")
        assert len(data) == expected.sum() == 3396
        np.testing.assert_array_equal(np.bincount(data.targets, minlength=8), expected)

    def test_errors(self, tmp_path: Path) -> None:
        with pytest.raises(FileNotFoundError, match="fer2013new.csv"):
            FERPlus(tmp_path)
        with pytest.raises(ValueError, match="`split` expected one of"):
            FERPlus(tmp_path, split="dev")
