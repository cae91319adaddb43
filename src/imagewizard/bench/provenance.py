"""What produced a benchmark's numbers: the code (git commit, or the version where there is no
checkout) and the exact weights of the learned methods (SHA-256 of each file), kept in run.json so
that a figure in docs/benchmarks.md can be traced to what made it."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parents[3]


def code_version() -> dict[str, Any]:
    """``{'version', 'commit', 'dirty'}``; commit and dirty are None outside a git checkout."""
    from imagewizard import __version__

    out: dict[str, Any] = {"version": __version__, "commit": None, "dirty": None}
    if not ((ROOT / ".git").exists() and (ROOT / "src" / "imagewizard" / "__init__.py").is_file()):
        return out  # an installed package: whatever repository surrounds site-packages is not ours
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        if head.returncode == 0:
            out["commit"] = head.stdout.strip()
            status = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no", "src"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=10,
            )
            out["dirty"] = bool(status.stdout.strip()) if status.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def weights_used(method_labels: Iterable[str]) -> dict[str, dict[str, str]]:
    """The weights files the learned methods among ``method_labels`` load: the zoo models whose card
    names the method, and any ``weights=...`` given in a label; name -> ``{'path', 'sha256'}``."""
    from imagewizard.models import zoo

    labels = list(method_labels)
    bases = {re.split(r"[(:\s]", label, maxsplit=1)[0] for label in labels}
    files: dict[str, Path] = {}
    for card in zoo.cards(family="restoration"):
        if card.get("method") in bases:
            files[card["name"]] = Path(card["path"])
    for label in labels:
        for given in re.findall(r"weights=([^,)\s]+)", label):
            p = Path(given)
            found = p if p.is_file() else zoo.find(given)
            if found is not None and Path(found).is_file():
                files[given] = Path(found)
    return {name: {"path": p.name, "sha256": file_sha256(p)} for name, p in sorted(files.items())}
