"""Built-in methods, one sub-package per task.

Importing a task package registers its methods (see :mod:`imagewizard.core.registry`).
Call them through :func:`imagewizard.denoise` and friends, or directly, e.g.
``imagewizard.tasks.denoise.nlm.nlm(img, sigma=25)``.
"""
