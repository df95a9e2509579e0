"""Keep every complete ping of a truncated or partly corrupt EK80 ``.raw`` file.

A recording cut by a power loss ends inside a datagram; a bad sector or a faulty copy leaves
a corrupt stretch in the middle. echopype rejects the first whole and reads the second
wrongly, and a file cut exactly between two datagrams of one ping gives that ping without
some of its channels (its targets then lose those channels' bands). :func:`plan_salvage`
decides, from the datagram walk (:func:`~.datagrams.scan_datagrams`), which pings are
complete; :func:`~.pieces.readable_parts` gives echopype files with only those.

Rules:

* A ping is the set of ``RAW3`` datagrams with one time stamp (one per channel).
* A ``RAW3`` directly after a damaged range is not used: the ``XML0`` Parameter datagram
  that describes its pulse may have been lost there. A ``RAW3`` whose header is readable
  in a damaged range names a ping that lost data.
* When the channels ping together (most pings have every channel of the file), a ping
  without every channel is incomplete. Otherwise (channels ping in turn: a ping
  sequence) a ping is incomplete only when one of its ``RAW3`` datagrams is damaged.
* Incomplete pings are dropped whole (their ``RAW3`` and ``XML0`` Parameter datagrams),
  never half-processed, and counted in a one-line warning with the bytes that could not
  be read.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path

from ts_toolkit.errors import InputFileError

from .datagrams import Frame, Scan


@dataclass
class SalvagePlan:
    """What to read of a file: the datagrams to keep and what was lost."""

    scan: Scan
    keep: list[Frame]
    n_pings: int  # pings seen (complete datagrams or readable headers)
    kept_pings: int
    incomplete: list[int] = field(default_factory=list)  # NT times of dropped pings
    missing_channels: dict[str, int] = field(default_factory=dict)  # channel -> pings

    @property
    def bytes_lost(self) -> int:
        """Bytes outside every complete datagram."""
        return sum(g.size for g in self.scan.gaps)

    @property
    def damaged(self) -> bool:
        """Something is lost: a damaged byte range or a dropped ping."""
        return bool(self.scan.gaps or self.incomplete)

    def describe_damage(self) -> str:
        """What is wrong with the file, in words."""
        parts = []
        gaps = self.scan.gaps
        middle = [g for g in gaps if g.end < self.scan.size]
        if middle:
            first = middle[0]
            parts.append(
                f"{len(middle)} corrupt stretch{'es' if len(middle) > 1 else ''} "
                f"(first at byte {first.start:,}, {first.size:,} bytes; resynchronised at "
                f"byte {first.end:,})"
            )
        if gaps and gaps[-1].end == self.scan.size:
            tail = gaps[-1]
            parts.append(
                f"the file ends inside a datagram (the last {tail.size:,} bytes, from byte "
                f"{tail.start:,})"
                if self.scan.truncated
                else f"corrupt data from byte {tail.start:,} to the end ({tail.size:,} bytes)"
            )
        if self.missing_channels and not gaps:
            chans = ", ".join(sorted(self.missing_channels))
            parts.append(f"a ping lacks the RAW3 datagram of channel(s) {chans}")
        return "; ".join(parts) or "intact"

    def warning(self) -> str | None:
        """One line naming what was lost (pings, bytes), or None for an intact file."""
        if not self.damaged:
            return None
        n_drop = len(self.incomplete)
        dropped = (
            f"{n_drop} incomplete ping{'s' if n_drop != 1 else ''} dropped"
            if n_drop
            else "no ping dropped"
        )
        return (
            f"{self.scan.path.name} is truncated or corrupt: {self.describe_damage()}; "
            f"kept {self.kept_pings} of {self.n_pings} pings ({dropped}), "
            f"{self.bytes_lost:,} bytes unreadable"
        )


def plan_salvage(scan: Scan) -> SalvagePlan:
    """Decide which datagrams of ``scan`` to keep (see the module doc for the rules)."""
    after_gap = {g.end for g in scan.gaps}
    raw3 = [f for f in scan.frames if f.kind == "RAW3"]
    channels = {f.channel for f in raw3}
    lost_times = {g.time for g in scan.gaps if g.kind == "RAW3"}
    lost_times |= {f.time for f in raw3 if f.offset in after_gap}
    usable: dict[int, set[str]] = {}  # in file order
    for f in raw3:
        if f.offset not in after_gap:
            usable.setdefault(f.time, set()).add(f.channel)
    together = _ping_together(scan, usable, channels, lost_times)
    incomplete = set(lost_times)
    missing: dict[str, int] = {}
    for time, chs in usable.items():
        if together and chs != channels:
            incomplete.add(time)
            for ch in channels - chs:
                missing[ch] = missing.get(ch, 0) + 1
    seen = set(usable) | lost_times
    keep = [
        f
        for f in scan.frames
        if not (
            (f.kind == "RAW3" and (f.time in incomplete or f.offset in after_gap))
            or (f.kind == "XML0" and f.xml_root == "Parameter" and f.time in incomplete)
        )
    ]
    return SalvagePlan(
        scan=scan,
        keep=keep,
        n_pings=len(seen),
        kept_pings=len(seen - incomplete),
        incomplete=sorted(incomplete),
        missing_channels=missing,
    )


def _ping_together(
    scan: Scan, usable: dict[int, set[str]], channels: set[str], lost: set[int]
) -> bool:
    """Whether the channels ping together: every ping away from the damage (not the last,
    not next to a damaged range, not one that lost a RAW3) has every channel."""
    raw3 = [f for f in scan.frames if f.kind == "RAW3"]
    offsets = [f.offset for f in raw3]
    touched = set(lost)
    for g in scan.gaps:
        i = bisect.bisect_left(offsets, g.end)
        touched |= {f.time for f in raw3[max(i - 1, 0) : i + 1]}
    away = [t for t in list(usable)[:-1] if t not in touched]
    return any(chs == channels for chs in usable.values()) and all(
        usable[t] == channels for t in away
    )


def relabel(
    exc: InputFileError, copy: Path, original: Path, plan: SalvagePlan | None = None
) -> InputFileError:
    """``exc`` with the temporary copy's path replaced by the original's, and the damage
    named when ``plan`` says the file is damaged."""
    text = str(exc).replace(str(copy), str(original))
    warning = plan.warning() if plan is not None else None
    if warning:
        text = f"{text} (and {warning})"
    return type(exc)(text) if text != str(exc) else exc
