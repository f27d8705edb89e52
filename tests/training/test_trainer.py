from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from llenhance import FERGuidedTrainer, FrozenClassifier, ClassifierPreprocess
from llenhance.losses import ReconstructionLoss
from tests.training.helpers import StopAfter, TinyClassifier, TinyPairs, tiny_enhancer


def _rec() -> ReconstructionLoss:
    return ReconstructionLoss(perceptual=0)


def _trainer(enhancer: torch.nn.Module, classifier: torch.nn.Module | None = None, **kwargs: object) -> FERGuidedTrainer:
    options = {"reconstruction": _rec(), "batch_size": 4, "progress": False} | kwargs
    return FERGuidedTrainer(enhancer, classifier, **options)  # type: ignore[arg-type]


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(x, y, rtol=0, atol=0, msg=name)


class TestReconstructionMode:
    def test_learns(self) -> None:
        data = TinyPairs(labels=False)
        net = tiny_enhancer()
        trainer = _trainer(net, lr=3e-3)
        before = trainer.evaluate(data)["val_psnr"]
        metrics = trainer.fit(data, data, iterations=30)
        assert metrics["iteration"] == 30
        assert metrics["val_psnr"] > before + 1.0

    def test_config_records_losses(self) -> None:
        trainer = _trainer(tiny_enhancer())
        assert trainer.config["perceptual_feature_net"] == "off (weight 0)"
        assert trainer.config["reconstruction_weights"]["perceptual"] == 0
        assert trainer.config["loss_weights"] == {"rec": 1.0, "ferp": 0.0, "cls": 0.0, "label": 0.0}
        assert trainer.config["lr"] == 3e-4 and trainer.config["batch_size"] == 4

    def test_logs_reconstruction_terms(self) -> None:
        metrics = _trainer(tiny_enhancer()).fit(TinyPairs(labels=False), iterations=1)
        assert set(metrics) == {"iteration", "loss", "rec", "l1", "mse", "color", "frequency", "structure"}
        assert metrics["loss"] == pytest.approx(metrics["rec"])  # rec weight 1, nothing else

    def test_target_exposure_scores_the_output_at_the_references_level(self) -> None:
        from llenhance.models.exposure import gamma_to_exposure  # the unchecked kernel: train-mode outputs leave [0, 1]

        data = TinyPairs(labels=False)
        low, normal = (torch.stack([data[i][k] for i in range(4)]) for k in (0, 1))
        net = tiny_enhancer()
        trainer = _trainer(net, target_exposure=True)
        assert trainer.config["target_exposure"] is True
        assert "target_exposure" not in _trainer(tiny_enhancer()).config  # old runs resume as they were
        luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        with torch.no_grad():
            terms = trainer._terms(low, normal, None)
            matched = gamma_to_exposure(net(low), (normal * luma).sum(1).mean((1, 2)))
            expected = _rec()(matched, normal)
        torch.testing.assert_close(terms["rec"], expected)
        with torch.no_grad():  # and not what the raw output scores
            assert not torch.allclose(_trainer(net)._terms(low, normal, None)["rec"], expected)
        with pytest.raises(TypeError, match="`target_exposure` expected a bool"):
            _trainer(tiny_enhancer(), target_exposure=1)

    def test_nothing_to_train(self) -> None:
        with pytest.raises(ValueError, match="`rec` expected a positive weight without a classifier"):
            _trainer(tiny_enhancer(), rec=0.0)

    def test_labels_are_ignored_without_classifier(self) -> None:
        _trainer(tiny_enhancer()).fit(TinyPairs(labels=True), iterations=2)


class TestJointMode:
    def test_classifier_is_unchanged(self) -> None:
        classifier = TinyClassifier().train()
        before = {k: v.clone() for k, v in classifier.state_dict().items()}
        trainer = _trainer(tiny_enhancer(), FrozenClassifier(classifier, preprocess=ClassifierPreprocess()))
        trainer.fit(TinyPairs(), iterations=3)
        assert not classifier.training
        for k, v in classifier.state_dict().items():
            torch.testing.assert_close(v, before[k], rtol=0, atol=0, msg=k)

    def test_fer_terms_alone_train_the_enhancer(self) -> None:
        # With L_rec off, every gradient the enhancer gets came through the classifier.
        net = tiny_enhancer()
        start = {k: v.clone() for k, v in net.state_dict().items()}
        trainer = _trainer(net, TinyClassifier(), rec=0.0)
        metrics = trainer.fit(TinyPairs(), iterations=2)
        assert set(metrics) == {"iteration", "loss", "ferp", "cls", "label"}
        assert any(not torch.equal(v, start[k]) for k, v in net.state_dict().items())

    def test_labels_out_of_range_in_a_later_batch_are_refused_without_device_syncs(self) -> None:
        """The range of each batch's labels is read on the host (no device sync inside a step), every step."""
        data = TinyPairs()
        data.labels[:] = 7  # seven classes: 7 is out of range (the door check of the first batch is on images)
        trainer = _trainer(tiny_enhancer(), TinyClassifier(), log_every=1)
        with pytest.raises(ValueError, match=r"`labels` expected class indices in \[0, 6\], got range \[7, 7\]"):
            trainer.fit(data, iterations=3)

    def test_evaluate_reports_accuracy(self) -> None:
        trainer = _trainer(tiny_enhancer(), TinyClassifier())
        data = TinyPairs()
        metrics = trainer.evaluate(data, batch_size=4)
        assert set(metrics) == {"val_psnr", "val_ssim", "val_ciede2000", "val_accuracy"}
        # against a hand count: the classifier's argmax on the enhanced images, item by item
        with torch.no_grad():
            hits = [int(trainer.classifier(trainer.enhancer(low[None])).argmax(1)) == int(label)
                    for low, _, label in (data[i] for i in range(len(data)))]
        assert metrics["val_accuracy"] == pytest.approx(sum(hits) / len(hits))
        assert trainer.evaluate(data, batch_size=1) == pytest.approx(metrics)  # batching changes nothing

    def test_unlabelled_needs_cls_off(self) -> None:
        with pytest.raises(ValueError, match="`labels` expected class indices"):
            _trainer(tiny_enhancer(), TinyClassifier()).fit(TinyPairs(labels=False), iterations=1)
        _trainer(tiny_enhancer(), TinyClassifier(), cls=0.0).fit(TinyPairs(labels=False), iterations=1)


class NaNAfter(torch.utils.data.Dataset):
    """Items whose normal-light image is NaN once ``n`` items were served."""

    def __init__(self, base: TinyPairs, n: int) -> None:
        self.base, self.n, self.served = base, n, 0

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple:
        low, normal, label = self.base[i]
        self.served += 1
        return low, normal if self.served <= self.n else torch.full_like(normal, float("nan")), label


class TestHostSyncs:
    def _reads(self, monkeypatch: pytest.MonkeyPatch, iterations: int, classifier: torch.nn.Module | None) -> int:
        """Tensor reads to the host (tolist, item, bool) made by llenhance's code during one fit.

        (torch's Adam reads its step counters, which live on the CPU even when training on a GPU.)
        """
        calls = []

        def counted(original):  # type: ignore[no-untyped-def]
            def read(self):  # type: ignore[no-untyped-def]
                caller = sys._getframe(1).f_code.co_filename
                if "llenhance" in Path(caller).parts:
                    calls.append(caller)
                return original(self)
            return read

        for name in ("tolist", "item", "__bool__"):
            monkeypatch.setattr(torch.Tensor, name, counted(getattr(torch.Tensor, name)))
        trainer = _trainer(tiny_enhancer(), classifier, log_every=4)
        trainer.fit(TinyPairs(size=48), iterations=iterations)  # one epoch: one batch order drawn
        monkeypatch.undo()
        return len(calls)

    @pytest.mark.parametrize("classifier", [None, TinyClassifier], ids=["reconstruction", "joint"])
    def test_no_host_read_inside_a_step(self, monkeypatch: pytest.MonkeyPatch, classifier: type | None) -> None:
        make = (lambda: classifier()) if classifier else (lambda: None)
        four, twelve = self._reads(monkeypatch, 4, make()), self._reads(monkeypatch, 12, make())
        assert twelve - four == 2  # 8 more steps cost only the two more logs

    def test_logged_loss_is_the_window_mean(self) -> None:
        trainer = _trainer(tiny_enhancer(), log_every=3)
        trainer.fit(TinyPairs(), iterations=6)
        assert [h["iteration"] for h in trainer.history] == [3, 6]
        # a run stepping one iteration at a time logs each step's loss: the window mean is theirs
        single = _trainer(tiny_enhancer(), log_every=1)
        single.fit(TinyPairs(), iterations=6)
        losses = [h["loss"] for h in single.history]
        assert trainer.history[0]["loss"] == pytest.approx(sum(losses[:3]) / 3)
        assert trainer.history[1]["loss"] == pytest.approx(sum(losses[3:]) / 3)

    def test_nan_loss_is_reported_with_its_iterations(self) -> None:
        data = NaNAfter(TinyPairs(), 4)  # after the first batch, which is checked at the door
        with pytest.raises(FloatingPointError, match=r"NaN or infinite in iterations 1-3"):
            _trainer(tiny_enhancer(), log_every=3).fit(data, iterations=3)

    def test_items_of_different_sizes_are_named(self) -> None:
        """T06: items of two sizes in one batch: a clear error naming the sizes, not default_collate's."""
        items = [(torch.rand(3, 16, 16) * 0.2, torch.rand(3, 16, 16)), (torch.rand(3, 24, 24) * 0.2, torch.rand(3, 24, 24))]
        with pytest.raises(ValueError, match=r"`train` holds images of different sizes \(16x16, 24x24\), which cannot "
                                             r"share a batch; crop them"):
            _trainer(tiny_enhancer(), batch_size=2).fit(items, iterations=1)

    def test_first_batch_is_checked(self) -> None:
        data = TinyPairs()
        data.normal *= 255
        with pytest.raises(ValueError, match=r"`train \(low-light images\)` expected values in \[0, 1\]"):
            _trainer(tiny_enhancer()).fit(data, iterations=1)


class TestSpeedOptions:
    def test_compiled_and_channels_last_train_the_same(self) -> None:
        """torch.compile (the eager backend here: the graph capture without a C++ build) and
        channels-last memory train as a plain run does.

        Channels-last sums in another order, and Adam turns a near-zero gradient into a step of
        about the learning rate whatever its size, so a few weights may move by a rounding
        error's sign: the runs are compared by their weight updates as a whole and by outputs."""
        start = tiny_enhancer().state_dict()
        reference = tiny_enhancer()
        _trainer(reference, TinyClassifier()).fit(TinyPairs(), iterations=3)
        fast = tiny_enhancer()
        trainer = _trainer(fast, TinyClassifier(), compile="eager", channels_last=True)
        trainer.fit(TinyPairs(), iterations=3)
        assert trainer.config["compile"] == "eager" and trainer.config["channels_last"]
        ref_state, fast_state = reference.state_dict(), fast.state_dict()
        gap = sum(float(((ref_state[k] - fast_state[k]).double() ** 2).sum()) for k in start) ** 0.5
        update = sum(float(((ref_state[k] - start[k]).double() ** 2).sum()) for k in start) ** 0.5
        assert update > 0 and gap / update < 1e-2, (gap, update)
        x = torch.stack([TinyPairs()[i][0] for i in range(8)])
        with torch.no_grad():
            torch.testing.assert_close(fast.eval()(x), reference.eval()(x), rtol=1e-4, atol=1e-5)


def test_workers_see_every_epoch_as_the_main_process_does() -> None:
    """One DataLoader serves the whole run; its worker processes get the epoch with each item, so a run with
    workers draws the same epoch-seeded darkening as a run without (exact weights)."""
    from llenhance import LowLightSynth
    from llenhance.data import SyntheticLowLight

    faces = [(torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(i)), 0) for i in range(12)]
    data = SyntheticLowLight(faces, LowLightSynth(), seed=5)
    nets = []
    for workers in (0, 2):
        net = tiny_enhancer()
        _trainer(net, num_workers=workers).fit(data, iterations=7)  # 3 batches an epoch: crosses two epoch ends
        nets.append(net)
    _same_weights(*nets)


class _EpochEcho(torch.utils.data.Dataset):
    """Items say which epoch the data set was set to, and which index was asked for."""

    def __init__(self) -> None:
        self.epoch = -1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return 10

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.tensor([self.epoch, i])


@pytest.mark.parametrize("workers", [0, 2])
def test_run_batches_carry_their_epoch(workers: int) -> None:
    from llenhance.training.trainer import _EpochItems, _RunBatches

    sampler = _RunBatches(10, 4, seed=3, epoch=1, start=1, rank=0, world=1)  # resume at epoch 1, batch 1
    loader = torch.utils.data.DataLoader(_EpochItems(_EpochEcho()), batch_sampler=sampler, num_workers=workers)
    got = [batch.tolist() for batch, _ in zip(loader, range(5))]
    expected = []
    for epoch in (1, 2, 3):  # 2 batches an epoch (10 // 4), the first batch of epoch 1 skipped
        order = torch.randperm(10, generator=torch.Generator().manual_seed(3 * 100_003 + epoch)).tolist()
        expected += [[[epoch, i] for i in order[b * 4 : b * 4 + 4]] for b in range(2)]
    assert got == expected[1:6]


class TestCheckpoints:
    @pytest.mark.parametrize("classifier", [None, TinyClassifier], ids=["reconstruction", "joint"])
    def test_resume_is_exact(self, tmp_path: Path, classifier: type | None) -> None:
        data = TinyPairs()
        make = (lambda: classifier()) if classifier else (lambda: None)
        # 12 items / batch 4 = 3 batches per epoch; 7 iterations cross two epoch ends.
        reference = tiny_enhancer()
        _trainer(reference, make(), schedule="cosine", clip_grad_norm=1.0).fit(data, iterations=7)

        stopped = tiny_enhancer()
        with pytest.raises(KeyboardInterrupt):
            _trainer(stopped, make(), schedule="cosine", clip_grad_norm=1.0, checkpoint_dir=tmp_path,
                     checkpoint_every=2).fit(StopAfter(data, 4 * 5 + 2), iterations=7)
        state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
        assert state["iteration"] == 4 and (state["epoch"], state["position"]) == (1, 1)

        resumed = tiny_enhancer(seed=99)  # different start: everything must come from the checkpoint
        metrics = _trainer(resumed, make(), schedule="cosine", clip_grad_norm=1.0, checkpoint_dir=tmp_path,
                           checkpoint_every=2).fit(data, iterations=7, resume=True)
        assert metrics["iteration"] == 7
        _same_weights(resumed, reference)

    def test_resume_with_other_iterations(self, tmp_path: Path) -> None:
        _trainer(tiny_enhancer(), checkpoint_dir=tmp_path, checkpoint_every=1).fit(TinyPairs(), iterations=2)
        with pytest.raises(ValueError, match="`iterations` expected 2 to resume"):
            _trainer(tiny_enhancer(), checkpoint_dir=tmp_path).fit(TinyPairs(), iterations=5, resume=True)

    def test_resume_with_other_settings_is_refused(self, tmp_path: Path) -> None:
        _trainer(tiny_enhancer(), checkpoint_dir=tmp_path, lr=1e-3).fit(TinyPairs(), iterations=2)
        with pytest.raises(ValueError, match=r"these differ: lr: checkpoint 0.001, now 0.002"):
            _trainer(tiny_enhancer(), checkpoint_dir=tmp_path, lr=2e-3).fit(TinyPairs(), iterations=2, resume=True)
        with pytest.raises(ValueError, match=r"batch_size: checkpoint 4, now 2.*seed: checkpoint 0, now 1"):
            _trainer(tiny_enhancer(), checkpoint_dir=tmp_path, lr=1e-3, batch_size=2, seed=1).fit(
                TinyPairs(), iterations=2, resume=True)

    def test_resume_of_a_finished_run_keeps_its_metrics(self, tmp_path: Path) -> None:
        first = _trainer(tiny_enhancer(), checkpoint_dir=tmp_path).fit(TinyPairs(), iterations=2)
        again = _trainer(tiny_enhancer(), checkpoint_dir=tmp_path)
        assert again.fit(TinyPairs(), iterations=2, resume=True) == first and again.trained_steps == 0

    def test_missing_resume_file(self, tmp_path: Path) -> None:
        with pytest.raises(FileNotFoundError, match="`resume` expected a checkpoint file"):
            _trainer(tiny_enhancer()).fit(TinyPairs(), iterations=1, resume=tmp_path / "x.pt")

    def test_checkpoint_is_plain_data(self, tmp_path: Path) -> None:
        _trainer(tiny_enhancer(), checkpoint_dir=tmp_path).fit(TinyPairs(), iterations=1)
        state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
        json.dumps(state["config"])
        assert not (tmp_path / "checkpoint.pt.tmp").exists()


class TestExceptions:
    def test_bad_arguments(self) -> None:
        with pytest.raises(ValueError, match="`amp` expected a CUDA `device`, got cpu"):
            _trainer(tiny_enhancer(), amp=True)
        with pytest.raises(ValueError, match="`schedule` expected one of"):
            _trainer(tiny_enhancer(), schedule="step")
        with pytest.raises(ValueError, match="`batch_size` expected an int >= 1"):
            _trainer(tiny_enhancer(), batch_size=0)
        with pytest.raises(TypeError, match="`enhancer` expected an nn.Module"):
            FERGuidedTrainer("llenet")  # type: ignore[arg-type]

    def test_small_dataset(self) -> None:
        with pytest.raises(ValueError, match="`train` expected at least batch_size=4 items, got 2"):
            _trainer(tiny_enhancer()).fit(TinyPairs(size=2), iterations=1)

    def test_bad_items(self) -> None:
        with pytest.raises(ValueError, match=r"`train` items expected \(low, normal\)"):
            _trainer(tiny_enhancer()).fit([torch.rand(3, 8, 8)] * 4, iterations=1)


class TestCheckpointsStayFinite:
    def test_a_nan_batch_between_logs_never_reaches_a_checkpoint(self, tmp_path: Path) -> None:
        """T05: a NaN batch at iteration 7 (checkpoints every 5, logs every 20): the run stops at the next
        checkpoint, naming the iterations, and the checkpoint of iteration 5 stays as it was."""
        data = NaNAfter(TinyPairs(size=48), 4 * 6)  # batches 1-6 finite (batch size 4), then NaN
        trainer = _trainer(tiny_enhancer(), log_every=20, checkpoint_dir=tmp_path, checkpoint_every=5)
        with pytest.raises(FloatingPointError, match=r"iterations 6-10; .*checkpoint.pt \(iteration 5\) is kept"):
            trainer.fit(data, iterations=20)
        state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
        assert state["iteration"] == 5
        assert all(torch.isfinite(t).all() for t in state["enhancer"].values() if t.is_floating_point())


def test_a_checkpoint_that_cannot_be_written_is_an_os_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TR01: torch.save's failure on a full disk (a RuntimeError from its zip writer) becomes an OSError that
    says so; the previous checkpoint stays, no temporary file is left."""
    from llenhance.training import state as state_module

    path = tmp_path / "checkpoint.pt"
    state_module.save_checkpoint(path, {"iteration": 1})
    before = path.read_bytes()

    def full_disk(obj: object, f: object) -> None:
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 2586880 vs 2586768")

    monkeypatch.setattr(state_module.torch, "save", full_disk)
    with pytest.raises(OSError, match=r"could not write the checkpoint .*checkpoint.pt \([\d.]+ MiB free on its "
                                      r"disk; the previous checkpoint is kept\): \[enforce fail"):
        state_module.save_checkpoint(path, {"iteration": 2})
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


def test_settings_object_and_keyword_options_are_one_thing(tmp_path) -> None:
    """FERGuidedTrainer(net, lr=...) and FERGuidedTrainer(net, settings=TrainerSettings(lr=...)) run alike;
    keywords override the settings; unknown options and bad values are named."""
    from llenhance import llenet_s
    from llenhance.losses import ReconstructionLoss
    from llenhance.training import FERGuidedTrainer, TrainerSettings

    def trained(**kwargs):
        torch.manual_seed(0)
        net = llenet_s()
        data = [(torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(i)) * 0.2,
                 torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(100 + i))) for i in range(4)]
        trainer = FERGuidedTrainer(net, reconstruction=ReconstructionLoss(perceptual=0), progress=False, **kwargs)
        trainer.fit(data, iterations=2)
        return trainer, net

    a, net_a = trained(lr=1e-3, batch_size=2, schedule="cosine")
    b, net_b = trained(settings=TrainerSettings(lr=1e-3, batch_size=2, schedule="cosine"))
    c, _ = trained(settings=TrainerSettings(lr=5e-3, batch_size=4), lr=1e-3, batch_size=2, schedule="cosine")
    assert a.config == b.config == c.config and a.settings == b.settings == c.settings
    for x, y in zip(net_a.state_dict().values(), net_b.state_dict().values()):
        assert torch.equal(x, y)
    record = {"folder": "faces", "crop": 48}
    recorder = FERGuidedTrainer(llenet_s(), reconstruction=ReconstructionLoss(perceptual=0), data=record)
    assert recorder.config["data"] == record  # part of what a resume must match
    with pytest.raises(TypeError, match=r"unknown options \['learning_rate'\]"):
        FERGuidedTrainer(llenet_s(), learning_rate=1e-3)
    with pytest.raises(ValueError, match="`schedule` expected one of"):
        TrainerSettings(schedule="step")
