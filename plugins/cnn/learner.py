"""The hybrid 1-D CNN as a ts-toolkit Classifier (torch imported only when used)."""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from ts_toolkit.errors import (
    InputFileError,
    InvalidParameterError,
    ModelMismatchError,
    TsToolkitError,
)
from ts_toolkit.learn.bands import band_masks, parse_band_sets
from ts_toolkit.learn.base import SpectraLearner
from ts_toolkit.learn.data import LearnArrays, check_grid
from ts_toolkit.options import option

WEIGHTS_NAME = "network.pt"


def resolve_device(device: str) -> Any:
    """``"auto"`` → CUDA when available, else CPU; an unavailable CUDA is a user error."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise TsToolkitError(f"unknown torch device {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise TsToolkitError(f"device {device!r} requested but CUDA is not available")
    return dev


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch CPU threads (None: leave torch's setting), then restore it."""
    import torch

    if not n:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class CnnOptions:
    """Options of the ``cnn`` learner (defaults follow the authors' settings, see
    docs/learning.md)."""

    width: int = option(64, "Channels of the stem (blocks use 2x/4x, the neck 8x); >= 4.")
    dropout: float = option(0.4, "Dropout rate of the heads.")
    se_reduction: int = option(16, "Squeeze-excitation reduction factor.")
    position_channel: bool = option(
        False, "Give the network each bin's position along the grid as an extra input channel."
    )
    epochs: int = option(100, "Maximum epochs; >= 1.")
    batch_size: int = option(128, "Batch size; >= 2.")
    lr: float = option(1e-3, "Peak learning rate (AdamW).")
    weight_decay: float = option(2e-4, "AdamW weight decay.")
    patience: int = option(30, "Epochs without a better validation composite before stopping.")
    t0_epochs: int = option(3, "Epochs of the first cosine-annealing cycle.")
    t_mult: int = option(2, "Growth factor of the cosine cycles (warm restarts).")
    eta_min: float = option(1e-8, "Learning rate at the end of a cycle.")
    grad_clip: float = option(1.0, "Gradient-norm clip.")
    w_ce: float = option(0.1, "Loss weight of the kind (cross-entropy).")
    w_reg: float = option(2.0, "Loss weight of the regression (Huber theta + MSE a, b).")
    w_alpha: float = option(0.5, "Loss weight of the aspect-ratio term Huber(a/b, alpha).")
    input_noise: float = option(
        0.0, "Sigma of Gaussian noise on the z-scored input (a regulariser; off by default)."
    )
    noise_db: float = option(0.0, "Sigma of Gaussian TS noise added while training.", unit="dB")
    band_sets: str = option(
        "",
        "Band sets to mask training spectra to, one drawn at random per spectrum and batch "
        "(kHz: bands LO-HI joined by '+', sets separated by ';', e.g. '10-260;34-45+90-170'); "
        "validation spectra are masked to the sets in turn. Empty: no masking.",
    )
    max_minutes: float = option(
        0.0, "Time budget of the training loop (0: none); keeps the best model.", unit="min"
    )
    time_schedule: bool = option(
        False,
        "With max_minutes: decay the learning rate in one cosine over the time budget "
        "instead of by epochs (t0_epochs and t_mult unused), so a run cut by the budget "
        "still ends annealed however fast the machine is.",
    )
    init: str | None = option(
        None, "A cnn model file to start from (warm start) instead of random weights."
    )
    seed: int = option(0, "Seed of the weights and the batch order.")
    device: str = option("auto", "'auto' (CUDA if available), 'cpu' or 'cuda[:n]'.")
    threads: int | None = option(None, "Torch CPU threads (none: torch's default).")
    progress: bool = option(True, "Show the progress bar.")

    def __post_init__(self) -> None:
        if self.width < 4 or self.epochs < 1 or self.batch_size < 2:
            raise InvalidParameterError("cnn: width must be ≥ 4, epochs ≥ 1 and batch_size ≥ 2")
        if self.band_sets:
            parse_band_sets(self.band_sets)  # a malformed set is a one-line error now
        if not self.max_minutes >= 0:
            raise InvalidParameterError(
                f"cnn: max_minutes must be ≥ 0 (0: no limit), got {self.max_minutes}"
            )


class CNNLearner(SpectraLearner):
    """Hybrid 1-D CNN (residual + squeeze-excitation; kind, theta and size heads).

    Architecture: :mod:`ts_toolkit_plugins.cnn.network`; loss, schedule and early stopping:
    :mod:`ts_toolkit_plugins.cnn.training`. Options: :class:`CnnOptions`
    (``ts-toolkit plugins --options cnn``); defaults follow the authors' settings
    (docs/learning.md). Notes on some of them:

    - ``position_channel`` is off by default: it is not in the authors' network.
    - ``input_noise``: the authors used 0.5 as a regulariser; off by default, since on the
      synthetic benchmark it cost 0.17 of composite score (docs/learning.md).
    - ``max_minutes``: training stops before an epoch that would end past the budget at
      the mean pace so far, keeping the best model.
    - ``init`` must have the same architecture (width, se_reduction) and frequency grid. A
      model without the position channel can start one with it (its new input weights
      start at zero, so the starting network computes what the old one did). The
      schedule, optimiser state and early stopping start afresh.
    """

    name: ClassVar[str] = "cnn"
    runtime_options: ClassVar[tuple[str, ...]] = ("device", "progress", "threads")
    Options: ClassVar[type] = CnnOptions

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.net: Any = None
        self._device: Any = None

    def _network(self) -> Any:
        from .network import HybridCNN

        s = self.settings
        return HybridCNN(
            in_channels=2,
            width=s["width"],
            dropout=s["dropout"],
            se_reduction=s["se_reduction"],
            position_channel=s["position_channel"],
        )

    @property
    def device(self) -> Any:
        if self._device is None:
            self._device = resolve_device(self.settings["device"])
        return self._device

    def _fit(self, train: LearnArrays, validation: LearnArrays | None) -> dict[str, Any]:
        import torch

        from .network import MIN_LENGTH
        from .training import TrainConfig, train_network

        if train.x.shape[1] < MIN_LENGTH:
            raise TsToolkitError(
                f"cnn needs at least {MIN_LENGTH} frequencies, got {train.x.shape[1]}"
            )
        assert self.targets is not None and self.features is not None
        torch.manual_seed(self.settings["seed"])
        self.net = self._network()
        start = self._warm_start(self.settings["init"]) if self.settings["init"] else {}
        names = {f.name for f in fields(TrainConfig)}
        cfg = TrainConfig(**{k: v for k, v in self.settings.items() if k in names})
        sets = parse_band_sets(self.settings["band_sets"])
        masks = band_masks(self.frequency, sets, "cnn option band_sets") if sets else None
        with torch_threads(self.settings["threads"]):
            details = train_network(
                self.net,
                train,
                validation,
                self.targets,
                self.features.std,
                cfg,
                self.device,
                progress=self.settings["progress"],
                band_masks=masks,
            )
        return {**start, **details}

    def _warm_start(self, path: str) -> dict[str, Any]:
        """Copy the weights of the cnn model file ``path`` into ``self.net``.

        Returns what the training record keeps about the starting model: its path, the
        validation composite it reached and whether its input/target scaling equals this
        run's (it does when the same data set and seed are used).
        """
        origin = f"initial model {path}"
        start = type(self).load(path)  # refuses another plugin's file, a missing one, a bad one
        assert self.frequency is not None and self.features is not None
        assert start.features is not None and start.targets is not None
        assert self.targets is not None
        check_grid(self.frequency, start.frequency, origin)
        for key in ("width", "se_reduction"):
            if start.settings[key] != self.settings[key]:
                raise ModelMismatchError(
                    f"{origin} has {key}={start.settings[key]}, this run {key}="
                    f"{self.settings[key]}; pass --set {key}={start.settings[key]}"
                )
        state = start.net.state_dict()
        had = start.settings["position_channel"]
        if had and not self.settings["position_channel"]:
            raise ModelMismatchError(
                f"{origin} has a position channel; pass --set position_channel=true"
            )
        if self.settings["position_channel"] and not had:
            from .network import add_position_input

            state = add_position_input(state)
        self.net.load_state_dict(state, strict=True)
        same = bool(
            np.allclose(start.features.mean, self.features.mean, equal_nan=True)
            and np.allclose(start.features.std, self.features.std, equal_nan=True)
            and np.allclose(start.targets.mean, self.targets.mean)
            and np.allclose(start.targets.std, self.targets.std)
        )
        return {
            "init": {
                "path": str(path),
                "best_validation_composite": start.training.get("best_validation_composite"),
                "epochs_run": start.training.get("epochs_run"),
                "same_scaling": same,
            }
        }

    def _predict(self, x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from .training import predict_network, stack_inputs

        self.net.to(self.device)
        with torch_threads(self.settings["threads"]):
            return predict_network(self.net, stack_inputs(x, mask), self.device)

    def _predict_with_embedding(
        self, x: np.ndarray, mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        from .training import predict_network_embedding, stack_inputs

        self.net.to(self.device)
        with torch_threads(self.settings["threads"]):
            return predict_network_embedding(self.net, stack_inputs(x, mask), self.device)

    def _export_weights(self) -> dict[str, bytes]:
        import torch

        buf = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in self.net.state_dict().items()}, buf)
        return {WEIGHTS_NAME: buf.getvalue()}

    def _import_weights(self, files: Mapping[str, bytes]) -> None:
        import torch

        if WEIGHTS_NAME not in files:
            raise InputFileError(f"cnn model file lacks weights {WEIGHTS_NAME!r}")
        try:
            with warnings.catch_warnings():  # torch warns about the pickle protocol first
                warnings.simplefilter("ignore")
                state = torch.load(
                    io.BytesIO(files[WEIGHTS_NAME]), map_location="cpu", weights_only=True
                )
        except Exception as exc:  # UnpicklingError for anything but tensors/containers
            raise InputFileError(
                f"cnn weights {WEIGHTS_NAME!r} cannot be loaded safely: they are not plain "
                f"tensors, and loading them could run code ({_unpickler_reason(exc)})"
            ) from exc
        net = self._network()
        try:
            net.load_state_dict(state, strict=True)
        except (RuntimeError, TypeError, AttributeError) as exc:
            raise InputFileError(
                f"cnn weights do not fit the saved architecture: {str(exc).splitlines()[0]}"
            ) from exc
        net.eval()
        self.net = net.to(self.device)


def _unpickler_reason(exc: Exception) -> str:
    """The reason in torch's weights-only refusal (its message is a long how-to with ANSI
    codes, and the reason is at its end), on one line."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    m = re.search(r"WeightsUnpickler error:\s*(.+?)(?:\.\s|\n\n|$)", text, flags=re.DOTALL)
    reason = m.group(1) if m else text
    reason = " ".join(reason.split())
    return reason if len(reason) <= 160 else reason[:157] + "..."
