from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from llenhance import DEFAULT_WEIGHTS, Enhancer, LLENet, list_pretrained, llenet_s


class TestBuiltins:
    def test_default_is_listed_and_loads_offline(self) -> None:
        info = list_pretrained()
        assert DEFAULT_WEIGHTS in info
        net = Enhancer.from_pretrained(DEFAULT_WEIGHTS)
        assert isinstance(net, Enhancer) and isinstance(net.network, LLENet)
        out = net.eval()(torch.rand(1, 3, 33, 41) * 0.2)
        assert out.shape == (1, 3, 33, 41)

    @pytest.mark.parametrize("name", sorted(list_pretrained()))
    def test_every_builtin_is_complete_and_brightens(self, name: str) -> None:
        folder = Path(__import__("llenhance").__file__).parent / "weights" / name
        card = (folder / "README.md").read_text()
        assert card.startswith("---\n") and "license:" in card.split("---")[1]  # Hub metadata
        assert (folder / "config.json").is_file() and (folder / "summary.json").is_file()
        assert list_pretrained()[name]["command"]  # the record says how to reproduce it
        net = Enhancer.from_pretrained(name).eval()
        dark = torch.linspace(0.02, 0.15, 3 * 40 * 40).reshape(1, 3, 40, 40)
        with torch.no_grad():
            assert float(net(dark).mean()) > 2 * float(dark.mean())

    def test_unknown_name(self) -> None:
        with pytest.raises(FileNotFoundError, match="not a folder, a built-in .*llenet-sice"):
            Enhancer.from_pretrained("no-such-weights")

    def test_saved_weights_have_the_usual_mode_and_no_temporaries(self, tmp_path: Path) -> None:
        import os

        umask = os.umask(0)
        os.umask(umask)
        net = llenet_s()
        net.save_pretrained(tmp_path)
        for name in ("model.safetensors", "config.json"):  # both written by the library, atomically
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name  # not private 0600
        assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "config.json", "model.safetensors"]
        assert json.loads((tmp_path / "config.json").read_text()) == net.config
        loaded = Enhancer.from_pretrained(tmp_path)
        assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), loaded.state_dict().values()))

    def test_local_folder_wins(self, tmp_path: Path) -> None:
        net = llenet_s(use_fe=False)
        net.save_pretrained(tmp_path)
        assert Enhancer.from_pretrained(tmp_path).network.use_fe is False


def _populate_hub_cache(cache: Path, repo: str, commit: str, model: LLENet) -> None:
    """Lay out a Hugging Face cache entry as huggingface_hub writes it."""
    entry = cache / ("models--" + repo.replace("/", "--"))
    snapshot = entry / "snapshots" / commit
    model.save_pretrained(snapshot)
    (entry / "refs").mkdir(parents=True)
    (entry / "refs" / "main").write_text(commit)


def test_hub_repo_from_offline_cache(tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    commit = "0123456789abcdef0123456789abcdef01234567"
    torch.manual_seed(3)
    model = llenet_s(use_skip=False)
    _populate_hub_cache(cache, "someone/llenet-test", commit, model)
    _populate_hub_cache(cache, "someone/huge", commit, model)
    huge = cache / "models--someone--huge" / "snapshots" / commit / "config.json"
    config = json.loads(huge.read_text())
    huge.write_text(json.dumps({**config, "network": {**config["network"], "width": 100000}}))
    expected = tmp_path / "expected.pt"
    torch.save(model.state_dict(), expected)
    script = textwrap.dedent(
        f"""
        import torch
        from llenhance import Enhancer
        ref = torch.load({str(expected)!r}, weights_only=True)
        for revision in (None, {commit!r}):
            net = Enhancer.from_pretrained("someone/llenet-test", revision=revision)
            assert net.network.use_skip is False
            for k, v in net.state_dict().items():
                assert torch.equal(v, ref[k]), k
        # a hostile config in a Hub repo is refused before anything is allocated
        try:
            Enhancer.from_pretrained("someone/huge")
        except ValueError as err:
            assert "`width` expected an int in [2, 512], got 100000" in str(err), err
        else:
            raise SystemExit("expected ValueError")
        try:
            Enhancer.from_pretrained("someone/not-cached")
        except FileNotFoundError as err:
            assert "someone/not-cached" in str(err) and "HF_HUB_OFFLINE" in str(err), err
        else:
            raise SystemExit("expected FileNotFoundError")
        print("ok")
        """
    )
    env = os.environ | {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("ok")


class TestUntrustedFolders:
    """A weights folder is user input: its config and tensors are checked before use."""

    def _folder(self, tmp_path: Path) -> Path:
        llenet_s().save_pretrained(tmp_path)
        return tmp_path

    def _edit_config(self, folder: Path, **changes: object) -> None:
        """Change the network's architecture in config.json (nested under "network")."""
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "network": {**config["network"], **changes}}))

    @pytest.mark.parametrize(
        ("changes", "match"),
        [
            ({"width": 100000}, r"`width` expected an int in \[2, 512\], got 100000"),
            ({"mlp_ratio": 1000}, r"`mlp_ratio` expected an int in \[1, 16\], got 1000"),
            ({"width": "16"}, r"`width` expected an int"),
            ({"widht": 16}, r"unknown keys \['network.widht'\]"),
            ({"width": 32}, r"does not fit its config.json .*stem.1.weight: file \(16, 12, 1, 1\), config \(32, 12, 1, 1\)"),
        ],
    )
    def test_bad_config(self, tmp_path: Path, changes: dict, match: str) -> None:
        folder = self._folder(tmp_path)
        self._edit_config(folder, **changes)
        with pytest.raises(ValueError, match=match):
            Enhancer.from_pretrained(folder)

    def test_bad_config_is_refused_before_building(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        folder = self._folder(tmp_path)
        self._edit_config(folder, width=100000)
        built = []
        monkeypatch.setattr(LLENet, "__init__", lambda self, **kw: built.append(kw))
        with pytest.raises(ValueError, match="width"):
            Enhancer.from_pretrained(folder)
        assert built == []

    def test_not_json(self, tmp_path: Path) -> None:
        folder = self._folder(tmp_path)
        (folder / "config.json").write_text("{width: 16")
        with pytest.raises(ValueError, match="config.json of .* is not valid JSON"):
            Enhancer.from_pretrained(folder)

    @pytest.mark.parametrize("value", [float("nan"), float("inf")])
    def test_non_finite_weights(self, tmp_path: Path, value: float) -> None:
        from safetensors.torch import load_file, save_file

        folder = self._folder(tmp_path)
        state = load_file(folder / "model.safetensors")
        state["stem.1.bias"][3] = value
        save_file(state, folder / "model.safetensors")
        with pytest.raises(ValueError, match=r"NaN or infinite values in \['stem.1.bias'\]"):
            Enhancer.from_pretrained(folder)


def test_saved_card_claims_no_licence(tmp_path: Path) -> None:
    # the code's Apache-2.0 does not cover weights trained on CC BY-NC or research-only data
    llenet_s().save_pretrained(tmp_path)
    card = (tmp_path / "README.md").read_text()
    metadata = card.split("---")[1]
    assert "license" not in metadata and "pipeline_tag: image-to-image" in metadata
    assert "set it before publishing" in card and "[More Information Needed]" not in card


class TestCards:
    """Cards parsed with huggingface_hub.ModelCard, as the Hub reads them."""

    @pytest.mark.parametrize("name", sorted(list_pretrained()))
    def test_builtin_card_fields(self, name: str) -> None:
        from huggingface_hub import ModelCard

        folder = Path(__import__("llenhance").__file__).parent / "weights" / name
        card = ModelCard.load(folder / "README.md")
        data = card.data
        assert data.library_name == "llenhance" and data.pipeline_tag == "image-to-image"
        assert data.license and data.datasets and data.metrics
        if data.license == "other":
            assert data.license_name and data.license_link.startswith("https://")
        results = data.eval_results
        assert results and all(r.metric_value is not None and r.dataset_name for r in results)
        assert {r.metric_type for r in results} <= set(data.metrics)
        # the model-index numbers are the ones in the card's own results table
        for r in results:  # as the table prints it: 2 to 4 decimals
            printed = {f"{r.metric_value:.{d}f}".rstrip("0").rstrip(".") for d in (2, 3, 4)}
            assert any(p in card.text for p in printed), (r.metric_type, r.metric_value)

    @pytest.mark.parametrize("name", sorted(list_pretrained()))
    def test_save_keeps_the_card_of_unchanged_weights(self, tmp_path: Path, name: str) -> None:
        from huggingface_hub import ModelCard

        Enhancer.from_pretrained(name).save_pretrained(tmp_path)
        folder = Path(__import__("llenhance").__file__).parent / "weights" / name
        saved, original = ModelCard.load(tmp_path / "README.md"), ModelCard.load(folder / "README.md")
        assert saved.data.to_dict() == original.data.to_dict()
        assert saved.text == original.text

    def test_trained_weights_keep_licence_not_measurements(self, tmp_path: Path) -> None:
        from huggingface_hub import ModelCard

        net = Enhancer.from_pretrained("llenet-faces")
        with torch.no_grad():
            net.network.stem[1].bias.add_(0.01)  # any change: these are other weights now
        net.save_pretrained(tmp_path)
        card = ModelCard.load(tmp_path / "README.md")
        assert card.data.license == "other" and card.data.license_link and card.data.datasets == ["FER2013"]
        assert not card.data.eval_results and "trained further from `llenet-faces`" in card.text
        assert "49.68" not in card.text

    def test_card_metadata_from_keywords(self, tmp_path: Path) -> None:
        from huggingface_hub import ModelCard

        llenet_s().save_pretrained(tmp_path, model_card_kwargs={"license": "cc-by-nc-4.0", "datasets": ["SICE"]})
        card = ModelCard.load(tmp_path / "README.md")
        assert card.data.license == "cc-by-nc-4.0" and card.data.datasets == ["SICE"]
        assert card.data.pipeline_tag == "image-to-image"


class TestTorchHub:
    ROOT = Path(__file__).resolve().parents[1]

    def test_entry_points_and_dependencies(self) -> None:
        """What torch.hub reads from hubconf.py: the entry points and the importable dependencies."""
        import importlib.util

        spec = importlib.util.spec_from_file_location("hubconf", self.ROOT / "hubconf.py")
        hubconf = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(hubconf)  # type: ignore[union-attr]
        assert callable(hubconf.llenet) and callable(hubconf.llenet_faces)
        assert all(importlib.util.find_spec(name) for name in hubconf.dependencies)

    @pytest.mark.parametrize(("args", "name"), [({"weights": "faces"}, "llenet-faces"), ({}, "llenet-photo"), ({"weights": "llenet-sice"}, "llenet-sice"),
                                                ({"weights": "llenet-faces"}, "llenet-faces")])
    def test_load_gives_the_builtin_weights(self, args: dict, name: str) -> None:
        net = torch.hub.load(str(self.ROOT), "llenet", source="local", **args)
        reference = Enhancer.from_pretrained(name)
        assert not net.training and net.exposure_gate == reference.exposure_gate
        for (key, a), b in zip(net.state_dict().items(), reference.state_dict().values()):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=key)

    def test_untrained_and_folder(self, tmp_path: Path) -> None:
        net = torch.hub.load(str(self.ROOT), "llenet", source="local", weights=None, width=8)
        assert net.network.width == 8 and not net.training
        net.save_pretrained(tmp_path)
        again = torch.hub.load(str(self.ROOT), "llenet", source="local", weights=str(tmp_path))
        assert again.network.width == 8
        with pytest.raises(TypeError, match="LLENet arguments only with weights=None"):
            torch.hub.load(str(self.ROOT), "llenet", source="local", weights="faces", width=8)


def test_H08_weights_without_config_are_named_so(tmp_path: Path) -> None:
    import shutil

    from llenhance.pretrained import builtin_path

    shutil.copy(builtin_path("llenet-photo") / "model.safetensors", tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match="has model.safetensors but no config.json"):
        Enhancer.from_pretrained(tmp_path)
