"""Keep numba's on-disk kernel cache consistent with the kernel sources.

numba invalidates a cached kernel only when *its own* source file changes; a kernel in
``solver.py`` that calls a changed function in ``spheroidal.py`` would silently keep the old
code.  We therefore stamp the cache with a digest of all kernel sources and drop every cached
kernel of this package when the digest differs (a one-off recompilation of a few seconds).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

KERNEL_SOURCES = ("legendre.py", "spheroidal.py", "solver.py")
STAMP = "numba-kernels.sha256"


def sources_digest(folder: Path) -> str:
    """SHA-256 over the kernel source files (missing files count as empty)."""
    h = hashlib.sha256()
    for name in KERNEL_SOURCES:
        path = folder / name
        h.update(name.encode())
        h.update(path.read_bytes() if path.exists() else b"")
    return h.hexdigest()


def ensure_fresh_cache(folder: Path | None = None) -> bool:
    """Remove cached kernels compiled from other sources; return True if any were removed.

    Never raises: a read-only installation simply keeps numba's own behaviour.
    """
    folder = folder or Path(__file__).resolve().parent
    cache = folder / "__pycache__"
    digest = sources_digest(folder)
    stamp = cache / STAMP
    try:
        if stamp.read_text().strip() == digest:
            return False
    except OSError:
        pass
    removed = False
    try:
        for f in list(cache.glob("*.nbi")) + list(cache.glob("*.nbc")):
            f.unlink(missing_ok=True)
            removed = True
        cache.mkdir(exist_ok=True)
        tmp = cache / f".{STAMP}.{os.getpid()}"
        tmp.write_text(digest + "\n")
        os.replace(tmp, stamp)
    except OSError:
        pass
    return removed
