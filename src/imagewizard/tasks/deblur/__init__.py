"""Deblur methods. This folder is the task: its declaration (``TASK``) and its methods' modules.

Non-blind deconvolution in the Fourier domain (:mod:`.fourier`: pseudo-inverse,
Wiener, unsupervised Wiener) and iterative Richardson-Lucy, non-blind and
blind (:mod:`.richardson_lucy`). All of them handle the image borders as
described in :mod:`.boundary`.
"""

from imagewizard.core.task import Input, Task, declare_task

KERNEL = Input(
    "kernel",
    "blur kernel: an array, a spec such as ``'gaussian:2'`` or ``'motion:15,30'``, or an image/.npy file",
    cli_help="blur kernel: spec (gaussian:2, motion:15,30, disk:4, box:5) or .npy/image file",
    cli_needs="--kernel SPEC|FILE (e.g. --kernel gaussian:2, --kernel motion:15,30, or a .npy/image file)",
    resolve="imagewizard.api:resolve_kernel_input",
    files=False,
    cli_short="-k",
    check="imagewizard.run.pipeline:_check_kernel_field",
    example="gaussian:2",
    upload=True,
)

TASK = declare_task(
    Task(
        "deblur",
        "Undo blur (deconvolution) given the blur kernel.",
        inputs=(KERNEL,),
        sigma=True,
        default_method="wiener",
        made_by="blur",
        rank=20,
        example="imagewizard deblur blurred.png -o sharp.png --kernel motion:15,30 --method wiener",
        modules=("imagewizard.tasks.deblur.fourier", "imagewizard.tasks.deblur.richardson_lucy"),
    )
)
