"""The segment task: a label map (int32, one integer per region, 1..n) for an image.

Scored against human segmentations (several per image, as BSDS500 has) with the BSDS500
benchmark's covering, probabilistic Rand index, variation of information and boundary F
(:mod:`imagewizard.analysis.segmentation`); the benchmark is ``imagewizard bench --task segment``
(:mod:`imagewizard.bench.segment`).
"""

from imagewizard.core.task import Input, Task, declare_task

SEEDS = Input(
    "seeds",
    "seeds of the interactive methods: a label/scribble image (0 or black unmarked, 1 background, "
    "2.. objects), an int array, or a box ``'box:x0,y0,x1,y1'`` (pixels or fractions)",
    cli_help="seeds: box:x0,y0,x1,y1 (pixels or fractions) or a scribble image (0 unmarked, 1 background, 2.. objects)",
    cli_needs="--seeds box:x0,y0,x1,y1 or --seeds SCRIBBLES.png (0 unmarked, 1 background, 2.. objects)",
    resolve="imagewizard.tasks.segment.seeds:resolve_seeds",
    files=False,
    primary=False,
    check="imagewizard.tasks.segment.seeds:check_seeds_field",
    example="box:0.2,0.2,0.8,0.8",
    upload=True,
)

TASK = declare_task(
    Task(
        "segment",
        "Split an image into regions: a label map.",
        inputs=(SEEDS,),
        output="label map",
        writer="label overlay",
        metrics=("covering", "pri", "vi"),
        score="imagewizard.tasks.segment.score:score",
        made_by=None,
        default_method="felzenszwalb",
        rank=60,
        cli="imagewizard.cli.segment:segment",  # label map + overlay, summary, boundaries, --truth
        example="imagewizard segment photo.jpg -o labels.png --method felzenszwalb",
        modules=(
            "imagewizard.tasks.segment.classical",
            "imagewizard.tasks.segment.interactive",
            "imagewizard.tasks.segment.learned",
        ),
    )
)
