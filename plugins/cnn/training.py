"""Training loop of the hybrid CNN: loss, AdamW, warm-restart cosine schedule, early stopping.

Loss (weights configurable): ``w_ce·CE(kind) + w_reg·(Huber(theta) + MSE(a, b)) +
w_alpha·Huber(â/b̂, alpha)`` with theta, a, b z-scored and the aspect-ratio term computed
on de-normalised a and b (metres). The model kept is the one with the best validation
composite score (mean of accuracy, R²θ, R²a, R²b); training stops after ``patience``
epochs without improvement, or before an epoch that would end past ``max_minutes`` of
training at the mean pace of the epochs so far (a time budget, e.g. on a lent GPU machine
whose commands are killed at a fixed limit: the best model is kept and saved, not lost).
Ctrl-C or SIGTERM stops training the same way once an epoch has finished: the best epoch so
far is kept (before that, the interrupt goes through and nothing is saved).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ts_toolkit.learn.data import LearnArrays
from ts_toolkit.learn.metrics import metrics_from_arrays
from ts_toolkit.learn.scaling import TargetScaler
from ts_toolkit.signals import clear_pending_interrupt, handle_interrupts


@dataclass
class TrainConfig:
    """Optimisation settings (see :class:`ts_toolkit_plugins.cnn.learner.CNNLearner`)."""

    epochs: int = 100
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 2e-4
    t0_epochs: int = 3
    t_mult: int = 2
    eta_min: float = 1e-8
    grad_clip: float = 1.0
    patience: int = 30
    w_ce: float = 0.1
    w_reg: float = 2.0
    w_alpha: float = 0.5
    input_noise: float = 0.0
    noise_db: float = 0.0
    max_minutes: float = 0.0
    time_schedule: bool = False
    seed: int = 0


def stack_inputs(x: np.ndarray, mask: np.ndarray) -> torch.Tensor:
    """(n, 2, n_freq) float32 tensor: z-scored TS and measured mask."""
    return torch.from_numpy(np.ascontiguousarray(np.stack([x, mask], axis=1), np.float32))


@torch.no_grad()
def predict_network(
    net: nn.Module, inputs: torch.Tensor, device: torch.device, batch_size: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities (n, 2) and z-scored (theta, a, b) (n, 3), in eval mode."""
    probs, zs, _ = predict_network_embedding(net, inputs, device, batch_size)
    return probs, zs


@torch.no_grad()
def predict_network_embedding(
    net: nn.Module, inputs: torch.Tensor, device: torch.device, batch_size: int = 1024
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`predict_network`'s outputs and the neck features (n, 8·width), eval mode."""
    net.eval()
    probs, zs, hs = [], [], []
    for start in range(0, inputs.shape[0], batch_size):
        logits, theta, size, h = net.forward_with_embedding(
            inputs[start : start + batch_size].to(device)
        )
        probs.append(torch.softmax(logits.float(), dim=1).cpu())
        zs.append(torch.cat([theta, size], dim=1).float().cpu())
        hs.append(h.float().cpu())
    if not probs:
        return np.empty((0, 2)), np.empty((0, 3)), np.empty((0, 0))
    return (
        torch.cat(probs).double().numpy(),
        torch.cat(zs).double().numpy(),
        torch.cat(hs).double().numpy(),
    )


def hybrid_loss(
    logits: torch.Tensor,
    theta: torch.Tensor,
    size: torch.Tensor,
    kind: torch.Tensor,
    y: torch.Tensor,
    scale: dict[str, torch.Tensor],
    cfg: TrainConfig,
) -> torch.Tensor:
    """The weighted hybrid loss (see the module docstring); ``y`` is z-scored (B, 3)."""
    ce = F.cross_entropy(logits, kind)
    reg = F.huber_loss(theta[:, 0], y[:, 0]) + F.mse_loss(size, y[:, 1:3])
    a_hat = size[:, 0] * scale["std"][1] + scale["mean"][1]
    b_hat = (size[:, 1] * scale["std"][2] + scale["mean"][2]).clamp_min(scale["b_floor"])
    a_true = y[:, 1] * scale["std"][1] + scale["mean"][1]
    b_true = y[:, 2] * scale["std"][2] + scale["mean"][2]
    ratio = F.huber_loss(a_hat / b_hat, a_true / b_true)
    return cfg.w_ce * ce + cfg.w_reg * reg + cfg.w_alpha * ratio


def train_network(
    net: nn.Module,
    train: LearnArrays,
    validation: LearnArrays | None,
    targets: TargetScaler,
    feature_std: np.ndarray,
    cfg: TrainConfig,
    device: torch.device,
    progress: bool = True,
    band_masks: np.ndarray | None = None,
) -> dict[str, Any]:
    """Train ``net`` in place (best validation state restored); return the history.

    ``band_masks`` (n_sets, n_freq) boolean: each training spectrum of each batch is masked
    (TS and measured channel set to 0) outside a band set drawn at random, and validation
    spectra outside the sets in turn (spectrum i gets set i mod n_sets), so that the
    validation score that selects the model is the mean over the band sets.
    """
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    inputs = stack_inputs(train.x, train.mask)
    kind = torch.from_numpy(train.kind.astype(np.int64))
    y = torch.from_numpy(train.y.astype(np.float32))
    db_scale = torch.from_numpy((cfg.noise_db / feature_std).astype(np.float32))
    scale = {
        "mean": torch.tensor(targets.mean, dtype=torch.float32, device=device),
        "std": torch.tensor(targets.std, dtype=torch.float32, device=device),
        "b_floor": torch.tensor(0.25 * targets.minimum[2], dtype=torch.float32, device=device),
    }
    val_inputs = stack_inputs(validation.x, validation.mask) if validation else None
    sets = None if band_masks is None else torch.from_numpy(np.asarray(band_masks, np.float32))
    if sets is not None and val_inputs is not None:
        turn = torch.arange(val_inputs.shape[0]) % sets.shape[0]
        val_inputs = val_inputs * sets[turn][:, None, :]
    net.to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n = inputs.shape[0]
    steps = max(1, math.ceil(n / cfg.batch_size))
    by_time = cfg.time_schedule and cfg.max_minutes > 0
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        opt, T_0=max(1, cfg.t0_epochs * steps), T_mult=cfg.t_mult, eta_min=cfg.eta_min
    )

    def step_schedule() -> None:
        """Next learning rate: by steps (warm restarts), or by the time spent of the
        budget (one cosine decay from ``lr`` to ``eta_min`` over ``max_minutes``)."""
        if not by_time:
            sched.step()
            return
        done = min(1.0, (time.perf_counter() - t_start) / (60.0 * cfg.max_minutes))
        lr = cfg.eta_min + (cfg.lr - cfg.eta_min) * 0.5 * (1.0 + math.cos(math.pi * done))
        for group in opt.param_groups:
            group["lr"] = lr

    history: list[dict[str, float]] = []
    best_score, best_epoch, best_state = -math.inf, 0, None
    stopped = f"all {cfg.epochs} epochs"
    t_start = time.perf_counter()
    bar = _Bar(cfg.epochs, progress)

    def train_epoch() -> float:
        """One pass over the training set in shuffled mini-batches; the mean loss."""
        net.train()
        perm = torch.from_numpy(rng.permutation(n))
        total, count = 0.0, 0
        for start in range(0, n, cfg.batch_size):
            idx = perm[start : start + cfg.batch_size]
            if idx.numel() < 2:  # BatchNorm needs two samples
                continue
            xb = inputs[idx].clone()
            if sets is not None:
                pick = torch.randint(sets.shape[0], (idx.numel(),), generator=gen)
                xb *= sets[pick][:, None, :]
            m = xb[:, 1]
            if cfg.noise_db > 0:
                xb[:, 0] += torch.randn(xb[:, 0].shape, generator=gen) * db_scale * m
            if cfg.input_noise > 0:
                xb[:, 0] += torch.randn(xb[:, 0].shape, generator=gen) * cfg.input_noise * m
            xb = xb.to(device)
            logits, theta, size = net(xb)
            loss = hybrid_loss(
                logits, theta, size, kind[idx].to(device), y[idx].to(device), scale, cfg
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
            opt.step()
            step_schedule()
            total += float(loss.detach()) * idx.numel()
            count += idx.numel()
        return total / max(count, 1)

    with bar, handle_interrupts():
        try:
            for epoch in range(1, cfg.epochs + 1):
                epoch_lr = float(opt.param_groups[0]["lr"])  # the rate of the epoch's first step
                record: dict[str, float] = {
                    "epoch": epoch,
                    "loss": train_epoch(),
                    "lr": epoch_lr,
                }
                if validation is not None and val_inputs is not None and len(validation):
                    proba, z = predict_network(net, val_inputs, device)
                    metrics = metrics_from_arrays(
                        validation.kind,
                        targets.inverse(validation.y, clip=False),
                        proba,
                        targets.inverse(z),
                    )
                    record["val_composite"] = metrics["composite"]
                    score = metrics["composite"]
                else:
                    score = -record["loss"]
                # copy the state first (slow on a GPU), then record the epoch and, if it is the
                # best, keep it, back to back: an interrupt leaves history and best consistent
                state = _state_copy(net) if score > best_score else None
                history.append(record)
                if state is not None:
                    best_score, best_epoch, best_state = score, epoch, state
                bar.update(epoch, record, best_score)
                if epoch - best_epoch >= cfg.patience:
                    stopped = f"early stopping ({cfg.patience} epochs without a better score)"
                    break
                elapsed = time.perf_counter() - t_start
                if epoch < cfg.epochs and out_of_time(elapsed, epoch, cfg.max_minutes):
                    stopped = f"time limit ({cfg.max_minutes:g} min)"
                    break
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM: keep the best finished epoch
            if best_state is None:  # not one epoch finished: nothing worth keeping
                raise
            clear_pending_interrupt()  # handled here
            stopped = f"interrupted in epoch {len(history) + 1}"
    if best_state is not None:
        net.load_state_dict(best_state)
    return {
        "history": history,
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "best_validation_composite": best_score if validation is not None else None,
        "stopped": stopped,
        "train_seconds": round(time.perf_counter() - t_start, 2),
        "device": str(device),
    }


def _state_copy(net: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the network's weights and buffers on the CPU (not views of the live ones)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}


def out_of_time(elapsed_s: float, epochs_done: int, max_minutes: float) -> bool:
    """Whether one more epoch, at the mean pace so far, would end past ``max_minutes``
    (0 or less: no limit)."""
    if max_minutes <= 0 or epochs_done < 1:
        return False
    return elapsed_s + elapsed_s / epochs_done > 60.0 * max_minutes


class _Bar:
    """A rich progress bar over epochs showing loss and validation score (or nothing).

    When the output is not a terminal (a log file, a pipe) the bar is drawn only at the end,
    so each epoch also prints one line there, to follow a long run in its log.
    """

    def __init__(self, epochs: int, enabled: bool) -> None:
        self.enabled = enabled
        self.progress: Any = None
        self.task: Any = None
        self.epochs = epochs

    def __enter__(self) -> _Bar:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.progress = Progress(
                TextColumn("training"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
            )
            self.progress.__enter__()
            self.task = self.progress.add_task("", total=self.epochs)
        return self

    def update(self, epoch: int, record: dict[str, float], best: float) -> None:
        if self.progress is None:
            return
        text = f"loss {record['loss']:.4f}"
        if "val_composite" in record:
            text += f"  val {record['val_composite']:.4f}  best {best:.4f}"
        self.progress.update(self.task, completed=epoch, description=text)
        if not self.progress.console.is_terminal:
            elapsed = self.progress.tasks[0].elapsed or 0.0
            self.progress.console.print(
                f"epoch {epoch}/{self.epochs}  {text}  ({elapsed:.0f} s)", highlight=False
            )

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)
