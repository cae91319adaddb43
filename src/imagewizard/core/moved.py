"""Old module paths keep importing after the 0.2 re-layout (``imagewizard.degrade`` is now
``imagewizard.physics.degrade``, ``imagewizard.nn`` is ``imagewizard.models``, ...).

A finder at the front of ``sys.meta_path`` answers only for the old names (so that a submodule
of a moved package is not loaded a second time under its old name) and hands back the module at
its new path, so a user's ``from imagewizard.metrics import
psnr`` or ``import imagewizard.nn.zoo`` goes on working (with a DeprecationWarning).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

#: old dotted path below ``imagewizard.`` -> new one; the longest matching prefix wins
MOVED = {
    "errors": "core.errors",
    "arrays": "core.arrays",
    "registry": "core.registry",
    "quiet": "core.quiet",
    "files": "io.files",
    "degrade": "physics.degrade",
    "kernels": "physics.kernels",
    "estimate": "analysis.estimate",
    "metrics": "analysis.metrics",
    "plots": "analysis.plots",
    "pipeline": "run.pipeline",
    "wizard": "run.wizard",
    "tiling": "run.tiling",
    "batch": "run.batch",
    "cluster": "run.cluster",
    "nn.cli": "cli.train",
    "gen.cli": "cli.generate",
    "bench.cli": "cli.bench",
    "gen.dcgan": "models.archs.dcgan",
    "gen.ddpm": "models.archs.ddpm",
    "gen.vae": "models.archs.digits_vae",
    "gen.data": "models.digits",
    "gen.train": "models.train_generative",
    "gen.zoo": "models.generators",
    "gen": "models.generators",
    "nn": "models",
    "methods": "tasks",
}


def new_name(fullname: str) -> str | None:
    """``'imagewizard.nn.zoo'`` -> ``'imagewizard.models.zoo'``; None for names that did not move."""
    if not fullname.startswith("imagewizard."):
        return None
    rest = fullname[len("imagewizard.") :]
    for old in sorted(MOVED, key=len, reverse=True):
        if rest == old or rest.startswith(old + "."):
            return "imagewizard." + MOVED[old] + rest[len(old) :]
    return None


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        new = new_name(fullname)
        if new is None or importlib.util.find_spec(new) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        new = new_name(spec.name)
        warnings.warn(f"{spec.name} moved to {new}; import it from there", DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module):  # already executed under its new name
        pass


def install() -> None:
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())
