"""Model-agnostic learning pipeline: split, standardisation, the learner base class, metrics.

Everything here is independent of the learning library (torch, scikit-learn): a plugin
subclasses :class:`SpectraLearner` and implements four small hooks (``_fit``,
``_predict``, ``_export_weights``, ``_import_weights``); the base class does the rest —
checking the data, per-frequency standardisation with training statistics, target
standardisation, building the prediction Dataset, the frequency-grid check, and
``save``/``load`` through :mod:`ts_toolkit.modelfile`.

Units: frequency in Hz, TS in dB re 1 m², ``a``/``b``/``Req`` in metres and ``theta`` in
degrees everywhere in code; reports show ``a``/``b`` RMSE in mm and frequencies in kHz.

Only numpy is imported at module level (``ts-toolkit plugins`` imports this package through
the learner plugins and must stay fast); xarray, scipy and matplotlib are imported where
used.

Modules:

- :mod:`.data` — reading/checking labelled spectra (TS, kind, targets), the learning arrays
- :mod:`.split` — the seeded, kind-stratified 80/10/10 split
- :mod:`.scaling` — per-frequency TS standardisation with NaN masking; target scaling
- :mod:`.metrics` — accuracy, R², RMSE, the composite score
- :mod:`.base` — :class:`SpectraLearner`, the base class of the learner plugins
- :mod:`.training` — :func:`train_model` and plugin-option checks
- :mod:`.evaluation` — :func:`evaluate_model` and :class:`Evaluation`
- :mod:`.reports` — comparison tables (Markdown/CSV), Figure-3 PNG, outlier report

Every public name is re-exported here, so ``from ts_toolkit.learn import X`` works.
"""

from __future__ import annotations

from .base import SpectraLearner
from .data import (
    KINDS,
    TARGET_NAMES,
    LearnArrays,
    check_grid,
    dataset_fingerprint,
    fingerprint_matches,
    grid_summary,
    kind_index,
    target_array,
    truth_of,
    ts_array,
)
from .evaluation import Evaluation, add_db_noise, evaluate_model, evaluation_indices
from .metrics import (
    METRIC_LABELS,
    accuracy,
    composite_score,
    compute_metrics,
    metrics_from_arrays,
    r2_score,
    rmse,
)
from .reports import (
    comparison_csv,
    comparison_markdown,
    count_peaks,
    format_metric,
    outlier_report,
    peak_bins,
    plot_true_vs_predicted,
    target_errors,
)
from .scaling import FeatureScaler, TargetScaler
from .split import SPLIT_FRACTIONS, Split, make_split, split_dataset
from .training import accepted_options, check_options, train_model

__all__ = [
    "KINDS",
    "METRIC_LABELS",
    "SPLIT_FRACTIONS",
    "TARGET_NAMES",
    "Evaluation",
    "FeatureScaler",
    "LearnArrays",
    "SpectraLearner",
    "Split",
    "TargetScaler",
    "accepted_options",
    "accuracy",
    "add_db_noise",
    "check_grid",
    "check_options",
    "comparison_csv",
    "comparison_markdown",
    "composite_score",
    "compute_metrics",
    "count_peaks",
    "dataset_fingerprint",
    "fingerprint_matches",
    "evaluate_model",
    "evaluation_indices",
    "format_metric",
    "grid_summary",
    "kind_index",
    "make_split",
    "metrics_from_arrays",
    "outlier_report",
    "peak_bins",
    "plot_true_vs_predicted",
    "r2_score",
    "rmse",
    "split_dataset",
    "target_array",
    "target_errors",
    "train_model",
    "truth_of",
    "ts_array",
]
