"""The web app and REST API (``imagewizard serve``): the wizard for people who do not use a terminal.

Layers, each in its own module:

:mod:`~imagewizard.web.settings`
    The limits (upload size, pixels, queue, run time, result lifetime) and who may call.
:mod:`~imagewizard.web.work`
    What a worker process does with one job: analyse, or run the wizard or a pipeline, then
    previews, histograms and scores. Plain functions on files; no web code.
:mod:`~imagewizard.web.pool`
    The worker processes (or a Dask cluster) and the job table: queue, progress, cancel, time
    limit, expiry. Jobs never run in a request handler.
:mod:`~imagewizard.web.forms`
    Turning a request's fields and uploads into a pipeline, from the task and method declarations.
:mod:`~imagewizard.web.app`
    The FastAPI application: routes, authentication, errors as JSON, the page.

Needs the ``web`` extra: ``pip install 'imagewizard[web]'``.
"""
