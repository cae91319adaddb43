"""Scale-out: run batch jobs on a Dask cluster (``imagewizard batch ... --cluster SPEC``).

``SPEC`` is either the address of a running scheduler (``tcp://host:8786``) or ``local:N`` for a
cluster of N single-threaded worker processes on this machine, bound to 127.0.0.1.

The client (the machine that runs ``imagewizard batch``) plans the jobs, writes the JSON-lines
log and prints progress; the workers read the inputs and write the outputs themselves, so every
worker must see the input and output folders at the same paths (a shared file system: NFS, a
cluster file system, a mounted bucket) and have ImageWizard installed. Models are cached per
worker process (:func:`imagewizard.models.zoo.load`), so each worker loads them once however many
images it processes. Outputs are written atomically by the workers, which keeps the resume rule
of local batches: an image is done when its output file exists.

Starting a cluster by hand on several machines::

    dask scheduler --port 8786                                  # on one machine
    dask worker tcp://SCHEDULER:8786 --nworkers 8 --nthreads 1  # on every worker machine
    imagewizard batch /shared/in /shared/out --method nlm --cluster tcp://SCHEDULER:8786

One thread per worker process is the right shape: every method already uses the cores its
process is given, and the GIL makes threads inside one worker contend.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Iterator

from imagewizard.core.errors import ImageWizardError, ParameterError

_LOCAL = re.compile(r"^local(?::(\d+))?$", re.I)
_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx|ws|wss)://\S+$", re.I)


def parse_cluster(spec: str) -> tuple[str, Any]:
    """``('local', n_workers)`` or ``('address', 'tcp://...')``; a one-line error otherwise.

    Examples
    --------
    >>> parse_cluster("local:2")
    ('local', 2)
    >>> parse_cluster("tcp://10.0.0.5:8786")
    ('address', 'tcp://10.0.0.5:8786')
    """
    text = str(spec).strip()
    m = _LOCAL.match(text)
    if m:
        n = int(m.group(1) or 0) or None
        if n is not None and n < 1:
            raise ParameterError(f"--cluster {spec}: local:N needs N >= 1")
        return "local", n
    if _ADDRESS.match(text):
        return "address", text
    raise ParameterError(f"--cluster {spec!r}: give a scheduler address such as tcp://host:8786, or local:N")


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ImageWizardError(
            "--cluster needs Dask's distributed scheduler: pip install 'imagewizard[cluster]'"
        ) from None
    return distributed


@contextmanager
def connect(spec: str, *, timeout: float = 30.0) -> Iterator[Any]:
    """A ``distributed.Client`` for ``spec``, closed (with its local cluster, if any) on exit."""
    kind, value = parse_cluster(spec)
    dd = _distributed()
    cluster = None
    try:
        if kind == "local":
            from imagewizard.run.jobs import usable_cores

            cluster = dd.LocalCluster(
                n_workers=value or usable_cores(),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
            client = dd.Client(cluster, timeout=timeout)
        else:
            client = dd.Client(value, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise ImageWizardError(f"--cluster {spec}: cannot reach the scheduler ({str(exc).splitlines()[0]})") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def n_workers(client) -> int:
    return len(client.scheduler_info().get("workers", {}))
