"""The segment task: a label map (int32, one integer per region, 1..n) for an image.

Scored against human segmentations (several per image, as BSDS500 has) with the BSDS500
benchmark's covering, probabilistic Rand index, variation of information and boundary F
(:mod:`imagewizard.analysis.segmentation`); the benchmark is ``benchmarks/suites/bsds_segment.py``.
"""

from imagewizard.core.task import Task, declare_task

TASK = declare_task(
    Task(
        "segment",
        "Split an image into regions: a label map.",
        inputs=(),
        output="label map",
        writer="label overlay",
        metrics=("covering", "pri", "vi"),
        score="imagewizard.tasks.segment.score:score",
        made_by=None,
        default_method="felzenszwalb",
        rank=60,
        cli="imagewizard.cli.segment:segment",  # label map + overlay, summary, boundaries, --truth
        example="imagewizard segment photo.jpg -o labels.png --method felzenszwalb",
        modules=("imagewizard.tasks.segment.classical", "imagewizard.tasks.segment.learned"),
    )
)
