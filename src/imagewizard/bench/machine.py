"""A description of the machine and software a benchmark ran on (for its reports)."""

from __future__ import annotations

import datetime as _dt
import os
import platform
from importlib import metadata

from imagewizard.run.jobs import usable_cores  # one definition (tests and scripts import it from here too)


def cpu_model() -> str:
    """The CPU model name (Linux /proc/cpuinfo, else :func:`platform.processor`)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def ram_gib() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (AttributeError, OSError, ValueError):
        return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict:
    """CPU, cores, RAM, OS, date and the versions of the libraries that set the speed."""
    versions = {}
    for label, dist in (
        ("imagewizard", "imagewizard"),
        ("numpy", "numpy"),
        ("scipy", "scipy"),
        ("scikit-image", "scikit-image"),
        ("opencv", "opencv-contrib-python-headless"),
        ("torch", "torch"),
        ("bm3d", "bm3d"),
        ("PyWavelets", "PyWavelets"),
    ):
        v = _version(dist)
        if v:
            versions[label] = v
    ram = ram_gib()
    return {
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "logical_cpus": os.cpu_count(),
        "ram_gib": None if ram is None else round(ram, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": versions,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def machine_line(info: dict) -> str:
    """One line for a report header."""
    ram = f", {info['ram_gib']:g} GiB RAM" if info.get("ram_gib") else ""
    vers = ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items())
    return (
        f"{info['cpu']} ({info['cores']} usable cores{ram}); {info['os']}, Python {info['python']}; "
        f"{vers}; {info['date']}"
    )
