"""Built-in methods, one sub-package per task.

Importing a task package registers its methods (see :mod:`imagewizard.registry`).
Call them through :func:`imagewizard.denoise` and friends, or directly, e.g.
``imagewizard.methods.denoise.nlm.nlm(img, sigma=25)``.
"""
