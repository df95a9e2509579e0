"""Hybrid 1-D CNN plugin: architecture, loss, training, NaN masking, safe persistence."""

from __future__ import annotations

import io
import pickle
import subprocess
import sys

import numpy as np
import pytest
from test_learn_synthetic import synthetic_spectra

from ts_toolkit.errors import InputFileError, TsToolkitError
from ts_toolkit.learn import evaluate_model, train_model
from ts_toolkit.modelfile import load_model

torch = pytest.importorskip("torch")

# Small and fast (≈5 s on one thread); measured with seed 1 on 600 × 64 synthetic spectra:
# accuracy 1.00, R² θ .72, a .80, b .91.
FAST = dict(
    width=8,
    epochs=30,
    batch_size=32,
    lr=3e-3,
    input_noise=0.0,
    w_ce=1.0,
    t0_epochs=30,
    patience=100,
    threads=1,
    progress=False,
)

TRIGGERED: list[str] = []


class Evil:
    def __reduce__(self):
        return (TRIGGERED.append, ("pwned",))


def test_plugin_import_does_not_import_torch():
    code = (
        "import sys, ts_toolkit_plugins.cnn as c; assert c.CNNLearner.name == 'cnn';"
        "print('torch' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


@pytest.mark.parametrize("length", [501, 37, 8])
def test_network_shapes_for_any_grid_length(length):
    from ts_toolkit_plugins.cnn.network import HybridCNN

    net = HybridCNN(width=8).eval()
    logits, theta, size = net(torch.zeros(3, 2, length))
    assert logits.shape == (3, 2) and theta.shape == (3, 1) and size.shape == (3, 2)


def test_default_architecture_follows_the_published_numbers():
    from ts_toolkit_plugins.cnn.learner import CNNLearner
    from ts_toolkit_plugins.cnn.network import ResidualBlock

    net = CNNLearner()._network()
    assert net.stem[0].kernel_size == (15,) and net.stem[0].out_channels == 64
    blocks = [m for m in net.blocks if isinstance(m, ResidualBlock)]
    convs = [b.body[0] for b in blocks]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0], c.dilation[0]) for c in convs] == [
        (64, 128, 7, 1),
        (128, 128, 5, 2),
        (128, 256, 5, 4),
        (256, 256, 3, 8),
    ]
    assert not isinstance(blocks[0].shortcut, torch.nn.Identity)  # 1×1 projection
    assert isinstance(blocks[1].shortcut, torch.nn.Identity)
    assert blocks[0].se.gate[0].out_features == 128 // 16
    assert net.neck[1].out_channels == 512
    assert net.kind_head[0].out_features == 256 and net.kind_head[-1].out_features == 2
    assert net.size_head[-1].out_features == 2 and net.theta_head[-1].out_features == 1


def test_squeeze_excitation_gates_channels():
    from ts_toolkit_plugins.cnn.network import SqueezeExcitation

    se = SqueezeExcitation(32, 16)
    x = torch.randn(2, 32, 10)
    y = se(x)
    ratio = (y / x).detach()
    # one gate per (sample, channel), constant along the sequence, in (0, 1)
    assert torch.allclose(ratio, ratio[:, :, :1].expand_as(ratio), atol=1e-5)
    assert (ratio > 0).all() and (ratio < 1).all()


def test_hybrid_loss_weights():
    from ts_toolkit_plugins.cnn.training import TrainConfig, hybrid_loss

    g = torch.Generator().manual_seed(0)
    logits, theta, size = (
        torch.randn(8, 2, generator=g),
        torch.randn(8, 1, generator=g),
        torch.randn(8, 2, generator=g),
    )
    kind = torch.tensor([0, 1] * 4)
    y = torch.randn(8, 3, generator=g)
    scale = {
        "mean": torch.tensor([45.0, 0.01, 0.003]),
        "std": torch.tensor([25.0, 0.003, 0.001]),
        "b_floor": torch.tensor(0.0005),
    }
    ce_only = hybrid_loss(
        logits, theta, size, kind, y, scale, TrainConfig(w_ce=1.0, w_reg=0.0, w_alpha=0.0)
    )
    assert ce_only == pytest.approx(float(torch.nn.functional.cross_entropy(logits, kind)))
    reg_only = hybrid_loss(
        logits, theta, size, kind, y, scale, TrainConfig(w_ce=0.0, w_reg=1.0, w_alpha=0.0)
    )
    expected = torch.nn.functional.huber_loss(theta[:, 0], y[:, 0]) + torch.nn.functional.mse_loss(
        size, y[:, 1:]
    )
    assert reg_only == pytest.approx(float(expected))
    perfect = hybrid_loss(
        logits, y[:, :1], y[:, 1:], kind, y, scale, TrainConfig(w_ce=0.0, w_reg=1.0, w_alpha=1.0)
    )
    assert float(perfect) == pytest.approx(0.0, abs=1e-6)
    full = hybrid_loss(logits, theta, size, kind, y, scale, TrainConfig())
    alpha_only = hybrid_loss(
        logits, theta, size, kind, y, scale, TrainConfig(w_ce=0.0, w_reg=0.0, w_alpha=1.0)
    )
    assert float(full) == pytest.approx(
        0.1 * float(ce_only) + 2.0 * float(reg_only) + 0.5 * float(alpha_only), rel=1e-5
    )


def test_cnn_learns_synthetic_spectra_and_round_trips(tmp_path):
    ds = synthetic_spectra(600, 64)
    model = train_model(ds, "cnn", seed=1, **FAST)
    m = evaluate_model(model, ds).metrics
    assert m["accuracy"] >= 0.9, m
    assert m["r2_theta"] >= 0.5 and m["r2_a"] >= 0.6 and m["r2_b"] >= 0.7, m
    history = model.training["history"]
    assert history[-1]["loss"] < history[0]["loss"]
    assert model.training["best_validation_composite"] == max(h["val_composite"] for h in history)
    path = tmp_path / "cnn.tsm"
    model.save(path)
    loaded = load_model(path)
    assert loaded.settings["width"] == 8 and loaded.settings["threads"] is None
    test = ds.isel(target=model.split.test)
    p1, p2 = model.predict(test), loaded.predict(test)
    for var in ("theta", "a", "b", "probability"):
        np.testing.assert_array_equal(p1[var].values, p2[var].values)

    # a pickle in place of the state dict is refused without being executed
    from test_learn_modelfile import _rewrite

    TRIGGERED.clear()
    payload = pickle.dumps(Evil(), protocol=2)
    evil = _rewrite(path, tmp_path / "evil.tsm", {"weights/network.pt": payload})
    with pytest.raises(InputFileError, match="cannot be loaded safely"):
        load_model(evil)
    buf = io.BytesIO()
    torch.save({"stem.0.weight": torch.zeros(1)}, buf)
    wrong = _rewrite(path, tmp_path / "wrong.tsm", {"weights/network.pt": buf.getvalue()})
    with pytest.raises(InputFileError, match="do not fit the saved architecture"):
        load_model(wrong)
    assert TRIGGERED == []


def test_training_is_seeded():
    ds = synthetic_spectra(120, 16)
    opts = {**FAST, "epochs": 2}
    a = train_model(ds, "cnn", seed=4, **opts).predict(ds)["theta"].values
    b = train_model(ds, "cnn", seed=4, **opts).predict(ds)["theta"].values
    c = train_model(ds, "cnn", seed=5, **opts).predict(ds)["theta"].values
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_history_logs_the_rate_each_epoch_starts_with():
    ds = synthetic_spectra(120, 16)
    opts = {**FAST, "epochs": 4, "t0_epochs": 2, "t_mult": 1, "lr": 1e-3}
    lrs = [h["lr"] for h in train_model(ds, "cnn", seed=4, **opts).training["history"]]
    # one cosine cycle per two epochs: each cycle starts at the full rate, its second epoch at
    # about half of it (mid-cycle), never at the rate left after the last step of the cycle
    assert lrs[0] == pytest.approx(1e-3) and lrs[2] == pytest.approx(1e-3)
    assert 0.3e-3 < lrs[1] < 0.7e-3 and 0.3e-3 < lrs[3] < 0.7e-3


def test_nan_frequencies_are_masked():
    from ts_toolkit_plugins.cnn.training import stack_inputs

    ds = synthetic_spectra(200, 32).copy(deep=True)
    f = ds["frequency"].values
    band = (f > 120e3) & (f < 180e3)
    ds["TS"].values[:, band] = np.nan
    ds["TS"].values[::3, :5] = np.nan
    model = train_model(ds, "cnn", seed=0, **{**FAST, "epochs": 3})
    x, mask = model.features.transform(ds["TS"].values)
    inputs = stack_inputs(x, mask)
    assert (inputs[:, 1, band] == 0).all() and (inputs[:, 0, band] == 0).all()
    assert (inputs[0, 1, :5] == 0).all() and (inputs[1, 1, :5] == 1).all()
    out = model.predict(ds)
    assert np.isfinite(out["theta"].values).all() and np.isfinite(out["probability"]).all()


def test_noise_augmentation_changes_training():
    ds = synthetic_spectra(120, 16)
    opts = {**FAST, "epochs": 2}
    quiet = train_model(ds, "cnn", seed=4, **opts).predict(ds)["theta"].values
    noisy = train_model(ds, "cnn", seed=4, noise_db=1.0, **opts).predict(ds)["theta"].values
    assert not np.array_equal(quiet, noisy)


def test_bad_options_are_user_errors():
    from ts_toolkit_plugins.cnn.learner import CNNLearner, resolve_device

    with pytest.raises(TsToolkitError, match="width must be"):
        CNNLearner(width=2)
    if not torch.cuda.is_available():
        with pytest.raises(TsToolkitError, match="CUDA is not available"):
            resolve_device("cuda")
    assert resolve_device("cpu").type == "cpu"
    ds = synthetic_spectra(60, 6)
    with pytest.raises(TsToolkitError, match="at least 8 frequencies"):
        train_model(ds, "cnn", **FAST)


def test_warm_start_continues_from_a_saved_model(tmp_path):
    ds = synthetic_spectra(600, 64)
    first = train_model(ds, "cnn", seed=1, **FAST)
    path = tmp_path / "first.tsm"
    first.save(path)
    one = {**FAST, "epochs": 1, "lr": 1e-5}
    fresh = train_model(ds, "cnn", seed=1, **one)
    warm = train_model(ds, "cnn", seed=1, init=str(path), **one)
    best = first.training["best_validation_composite"]
    assert warm.training["init"] == {
        "path": str(path),
        "best_validation_composite": best,
        "epochs_run": first.training["epochs_run"],
        "same_scaling": True,
    }
    # one epoch at a tiny learning rate keeps what the first run learnt; from scratch it has not
    assert warm.training["history"][0]["val_composite"] > best - 0.05
    assert fresh.training["history"][0]["val_composite"] < best - 0.2
    assert load_model(tmp_path / "first.tsm").settings["init"] is None


def test_warm_start_refuses_an_unfit_model(tmp_path):
    from ts_toolkit.errors import ModelMismatchError

    ds = synthetic_spectra(120, 16)
    opts = {**FAST, "epochs": 1}
    path = tmp_path / "w8.tsm"
    train_model(ds, "cnn", seed=0, **opts).save(path)
    with pytest.raises(ModelMismatchError, match="has width=8, this run width=16"):
        train_model(ds, "cnn", seed=0, init=str(path), **{**opts, "width": 16})
    with pytest.raises(ModelMismatchError, match="frequency grid of initial model"):
        train_model(synthetic_spectra(120, 20), "cnn", seed=0, init=str(path), **opts)
    knn = tmp_path / "knn.tsm"
    train_model(ds, "knn", seed=0).save(knn)
    with pytest.raises(ModelMismatchError, match="holds a 'knn' model, not 'cnn'"):
        train_model(ds, "cnn", seed=0, init=str(knn), **opts)
    with pytest.raises(InputFileError):
        train_model(ds, "cnn", seed=0, init=str(tmp_path / "missing.tsm"), **opts)


def test_time_budget_arithmetic():
    from ts_toolkit_plugins.cnn.training import out_of_time

    # 50 s per epoch so far: a second epoch would end at 100 s
    assert out_of_time(50.0, 1, max_minutes=1.5)
    assert not out_of_time(40.0, 1, max_minutes=1.5)
    assert not out_of_time(1e6, 10, max_minutes=0.0)


def test_training_stops_at_its_time_budget_and_keeps_the_model(tmp_path):
    ds = synthetic_spectra(120, 16)
    opts = {**FAST, "epochs": 4}
    budget = train_model(ds, "cnn", seed=0, max_minutes=1e-6, **opts)
    assert budget.training["epochs_run"] == 1
    assert budget.training["stopped"] == "time limit (1e-06 min)"
    budget.save(tmp_path / "budget.tsm")
    out = load_model(tmp_path / "budget.tsm").predict(ds)
    assert np.isfinite(out["theta"].values).all()
    full = train_model(ds, "cnn", seed=0, **opts)
    assert full.training["epochs_run"] == 4 and full.training["stopped"] == "all 4 epochs"
    with pytest.raises(TsToolkitError, match="max_minutes must be"):
        train_model(ds, "cnn", seed=0, max_minutes=-1, **opts)


def _interrupt_at_loss_call(monkeypatch, call: int, interrupt) -> None:
    """Make the ``call``-th evaluation of the training loss run ``interrupt()`` first."""
    from ts_toolkit_plugins.cnn import training

    real, calls = training.hybrid_loss, [0]

    def loss(*args, **kwargs):
        calls[0] += 1
        if calls[0] == call:
            interrupt()
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "hybrid_loss", loss)


def _ctrl_c() -> None:
    raise KeyboardInterrupt


def _sigterm() -> None:
    import os
    import signal

    os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.parametrize("interrupt", [_ctrl_c, _sigterm], ids=["ctrl-c", "sigterm"])
def test_an_interrupt_keeps_the_best_epoch_so_far(monkeypatch, tmp_path, interrupt):
    import signal

    from ts_toolkit_plugins.cnn import training

    ds = synthetic_spectra(120, 16)  # 96 training spectra: 3 batches of 32 per epoch
    opts = {**FAST, "epochs": 6}  # the schedule depends on t0_epochs, not on epochs
    one = train_model(ds, "cnn", seed=0, **{**opts, "epochs": 1})
    # validation scores that fall epoch after epoch: the best epoch is the first, not the last
    real, scores = training.metrics_from_arrays, iter([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    monkeypatch.setattr(
        training, "metrics_from_arrays", lambda *a: {**real(*a), "composite": next(scores)}
    )
    handler = signal.getsignal(signal.SIGTERM)
    _interrupt_at_loss_call(monkeypatch, 8, interrupt)  # the second batch of epoch 3
    cut = train_model(ds, "cnn", seed=0, **opts)
    assert signal.getsignal(signal.SIGTERM) == handler  # restored after training
    assert cut.training["stopped"] == "interrupted in epoch 3"
    assert cut.training["epochs_run"] == 2 and cut.training["best_epoch"] == 1
    assert [r["val_composite"] for r in cut.training["history"]] == [0.9, 0.8]
    # the weights kept are those of epoch 1, not of the last finished epoch
    expected = one.predict(ds)["a"].values
    np.testing.assert_array_equal(cut.predict(ds)["a"].values, expected)
    cut.save(tmp_path / "cut.tsm")
    np.testing.assert_array_equal(
        load_model(tmp_path / "cut.tsm").predict(ds)["a"].values, expected
    )


def test_an_interrupt_in_the_first_epoch_goes_through(monkeypatch):
    _interrupt_at_loss_call(monkeypatch, 2, _ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        train_model(synthetic_spectra(120, 16), "cnn", seed=0, **{**FAST, "epochs": 3})


def test_a_network_started_from_one_without_a_position_channel_computes_the_same():
    from ts_toolkit_plugins.cnn.network import HybridCNN, add_position_input

    torch.manual_seed(0)
    plain = HybridCNN(width=8, dropout=0.0).eval()
    placed = HybridCNN(width=8, dropout=0.0, position_channel=True).eval()
    assert placed.stem[0].in_channels == 3
    placed.load_state_dict(add_position_input(plain.state_dict()))
    x = torch.randn(5, 2, 40)
    with torch.no_grad():
        for p, q in zip(plain(x), placed(x), strict=True):
            assert torch.equal(p, q)
        # once its weights for the position are not zero, the same spectra give other outputs
        placed.stem[0].weight[:, 2:] = 0.1
        assert not torch.allclose(plain(x)[2], placed(x)[2])


def test_position_channel_warm_start_and_round_trip(tmp_path):
    from ts_toolkit.errors import ModelMismatchError

    ds = synthetic_spectra(600, 64)
    first = train_model(ds, "cnn", seed=1, **FAST)
    plain_path = tmp_path / "plain.tsm"
    first.save(plain_path)
    one = {**FAST, "epochs": 1, "lr": 1e-5}
    warm = train_model(ds, "cnn", seed=1, init=str(plain_path), position_channel=True, **one)
    # the new input starts at zero weight, so the warm start keeps what the first run learnt
    best = first.training["best_validation_composite"]
    assert warm.training["history"][0]["val_composite"] > best - 0.05
    placed_path = tmp_path / "placed.tsm"
    warm.save(placed_path)
    again = load_model(placed_path)
    assert again.settings["position_channel"] is True
    assert again.net.stem[0].in_channels == 3
    a, b = warm.predict(ds), again.predict(ds)
    np.testing.assert_array_equal(a["a"].values, b["a"].values)
    with pytest.raises(ModelMismatchError, match="has a position channel"):
        train_model(ds, "cnn", seed=1, init=str(placed_path), **one)
    with pytest.raises(TsToolkitError, match="position_channel must be true or false"):
        train_model(ds, "cnn", seed=1, position_channel="maybe", **one)
