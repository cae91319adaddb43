"""The upscale task (super-resolution): an image ``scale`` times larger on each side.

The first task whose output is not the input's shape: ``output="image"``. The benchmark makes its
inputs the papers' way (``downscale`` degradation: modcrop, MATLAB bicubic) and scores the Y
channel with a border of ``scale`` pixels removed (:func:`imagewizard.tasks.upscale.score.score`).
"""

from imagewizard.core.task import Input, Task, declare_task

SCALE = Input(
    "scale",
    "upscaling factor per side: an integer 2-8 (the learned upscalers: 2, 3 or 4)",
    cli_help="upscaling factor per side: 2, 3, 4 (classical methods up to 8)",
    cli_needs="--scale N (e.g. --scale 2)",
    resolve="imagewizard.tasks.upscale.score:resolve_scale",
    files=False,
    primary=False,
    required=True,
    cli_short="-s",
    check="imagewizard.tasks.upscale.score:check_scale_field",
    example="2",
)

TASK = declare_task(
    Task(
        "upscale",
        "Enlarge an image (super-resolution) by an integer factor.",
        inputs=(SCALE,),
        output="image",
        metrics=("psnr", "ssim", "mse", "mae", "psnr_rgb"),
        score="imagewizard.tasks.upscale.score:score",
        made_by="downscale",
        default_method="bicubic",
        rank=45,
        example="imagewizard upscale small.png -o big.png --scale 2 --method learned",
        modules=("imagewizard.tasks.upscale.classical", "imagewizard.models.upscale", "imagewizard.models.foreign_sr"),
    )
)
