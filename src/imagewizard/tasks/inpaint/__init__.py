"""Inpaint methods. This folder is the task: its declaration (``TASK``) and its methods' modules.

OpenCV's Telea, Navier-Stokes and frequency-selective reconstruction
(:mod:`.opencv`), and interpolation: biharmonic and k-nearest-neighbour
regression (:mod:`.interpolate`). All take a mask that is True where pixels
are missing and return the known pixels unchanged.
"""

from imagewizard.core.task import Input, Task, declare_task

MASK = Input(
    "mask",
    "mask, True (non-zero) where pixels are missing: an array or an image file",
    cli_help="mask image: non-zero where pixels are missing",
    cli_needs="--mask FILE (an image, non-zero where pixels are missing)",
    resolve="imagewizard.api:resolve_mask_input",
    required=True,
)

TASK = declare_task(
    Task(
        "inpaint",
        "Fill in missing or damaged pixels.",
        inputs=(MASK,),
        default_method="telea",
        made_by="mask",
        rank=30,
        example="imagewizard inpaint damaged.png --mask damaged-mask.png -o fixed.png --method fsr",
        modules=("imagewizard.tasks.inpaint.interpolate", "imagewizard.tasks.inpaint.opencv"),
    )
)
