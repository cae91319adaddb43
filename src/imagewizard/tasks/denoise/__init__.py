"""Denoise methods. This folder is the task: its declaration (``TASK``) and its methods' modules.

Classical methods, one module per family: local filters (:mod:`.filters`),
non-local means (:mod:`.nlm`), total variation (:mod:`.tv`), wavelet
shrinkage (:mod:`.wavelet`), Perona-Malik diffusion (:mod:`.diffusion`),
MAP with a Markov random field prior (:mod:`.mrf`) and BM3D
(:mod:`.blockmatch`, optional extra), and JPEG deblocking (:mod:`.deblock`). Noise-aware methods take their
automatic parameters from :func:`.rules.rule`.
"""

from imagewizard.core.task import Task, declare_task

TASK = declare_task(
    Task(
        "denoise",
        "Remove noise.",
        sigma=True,
        strength=True,
        default_method="unet",
        bench_fallback=True,
        rank=10,  # the flagship (was nlm: slower, 1.9 dB worse)
        example="imagewizard denoise noisy.png -o clean.png --sigma auto   # the flagship unet; --method nlm, bm3d, ...",
        # import order is listing order (imagewizard methods); the learned methods come last
        modules=tuple(
            f"imagewizard.tasks.denoise.{m}"
            for m in ("filters", "nlm", "tv", "wavelet", "diffusion", "mrf", "blockmatch", "deblock", "vst", "dust")
        )
        + ("imagewizard.models.methods",),
    )
)
