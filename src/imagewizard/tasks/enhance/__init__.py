"""Enhance methods. This folder is the task: its declaration (``TASK``) and its methods' modules.

Histogram methods (:mod:`.histogram`: equalization, CLAHE, contrast
stretching, histogram matching), tone curves (:mod:`.curves`: gamma, log,
sigmoid), sharpening (:mod:`.sharpen`: unsharp mask) and colour balance
(:mod:`.color`: gray world). Colour images keep their hues wherever the
luminance is what changes (:mod:`.luminance`).
"""

from imagewizard.core.task import Input, Task, declare_task

REFERENCE = Input(
    "reference",
    "reference image (histogram matching): an array or an image file",
    cli_help="reference image (histogram matching)",
    cli_needs="--reference FILE (an image)",
    resolve="imagewizard.api:resolve_reference_input",
    primary=False,
)

TASK = declare_task(
    Task(
        "enhance",
        "Improve an image: with no --method the wizard analyses it, plans the steps and runs them.",
        inputs=(REFERENCE,),
        strength=True,
        default_method="clahe",
        rank=40,
        cli="imagewizard.cli.tasks:enhance",  # the wizard's options (--dry-run, --explain, --save-plan) beside the methods
        example="imagewizard enhance photo.jpg -o better.jpg",
        modules=tuple(
            f"imagewizard.tasks.enhance.{m}" for m in ("color", "curves", "exposure", "histogram", "sharpen", "auto")
        ),
    )
)
