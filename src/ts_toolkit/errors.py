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


class OutputPathError(TsToolkitError, OSError):
    """An output path would destroy an input or replace a file the user did not ask to."""


class TsToolkitWarning(UserWarning):
    """Base class of the warnings a user should see; the CLI prints them on one line."""


class PluginWarning(TsToolkitWarning):
    """A plugin could not be loaded or failed in a hook; it was skipped."""


class OutputBusyError(TsToolkitError):
    """Another run is writing the same output (its lock file is held)."""


class Interrupted(Exception):  # noqa: N818 - reads as what happened
    """Work stopped by Ctrl-C or SIGTERM: not a user error. The CLI prints ``error:`` and the
    message (which says what was kept) and exits with status 130."""
