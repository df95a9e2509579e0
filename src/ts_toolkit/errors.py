"""Errors a user can cause.

Every error that bad input can trigger is a :class:`TsToolkitError`; the CLI prints its
message on one line (``error: ...``) and exits with status 2.
"""

from __future__ import annotations


class TsToolkitError(Exception):
    """Base class of all user-facing ts-toolkit errors."""


class PluginNotFoundError(TsToolkitError, LookupError):
    """No installed plugin provides the requested name."""


class InvalidParameterError(TsToolkitError, ValueError):
    """A model or simulator parameter is outside its valid range."""


class SpectraValidationError(TsToolkitError, ValueError):
    """A spectra dataset does not follow the ts-toolkit schema."""


class InputFileError(TsToolkitError, OSError):
    """An input file is missing, unreadable or of the wrong kind."""


class ModelMismatchError(TsToolkitError, ValueError):
    """A trained model does not fit the data it is applied to (e.g. frequency grid)."""


class OutputBusyError(TsToolkitError):
    """Another run is writing the same output (its lock file is held)."""


class Interrupted(Exception):  # noqa: N818 - reads as what happened
    """Work stopped by Ctrl-C or SIGTERM: not a user error. The CLI prints ``error:`` and the
    message (which says what was kept) and exits with status 130."""
