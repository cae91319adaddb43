"""The ``imagewizard`` command line (Typer + Rich).

Every error a user can cause is printed as one line on stderr (``error:
...``) with exit code 1, or 2 for usage errors; ``--verbose`` shows the
traceback. Task commands (denoise, deblur, inpaint, enhance) take their
methods and parameters from the registry.

The commands live in modules by theme (``tasks``, ``catalog``, ``damage``, ``measure``, ``runs``);
importing them registers them on :data:`app` in the order ``--help`` lists them.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import typer

# the command modules, imported for their registrations, in the order `imagewizard --help` lists them
from imagewizard.cli import tasks  # noqa: F401 - first: the task commands head the list
from imagewizard.cli import catalog, damage, measure, runs  # noqa: F401
from imagewizard.cli.app import _console, _task_epilog, app
from imagewizard.cli.tasks import _MOUNTED, _mount_task_commands, _task_commands  # noqa: F401


@app.command()
def demo(
    output: Path = typer.Option(Path("demo-output"), "--output", "-o", help="folder for the results"),
    quick: bool = typer.Option(False, "--quick", help="smaller image and only the fast methods"),
) -> None:
    """Degrade a bundled sample image several ways, restore it with every method, and write a report."""
    from imagewizard.demo import run_demo

    report = run_demo(output, quick=quick, console=_console())
    _console().print(f"\nreport: {report}  (and {report.with_suffix('.html')})")


#: Modules that add sub-commands: each has ``register(app)``. A new command group is one module
#: with that function and one line here (the task commands above come from the task declarations).
SUBCOMMAND_MODULES = (
    "imagewizard.cli.bench",
    "imagewizard.cli.train",
    "imagewizard.cli.generate",
    "imagewizard.cli.serve",
)


def _register_subcommands() -> None:
    import importlib

    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(app)


_register_subcommands()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: one-line errors, exit 1 (2 for usage errors)."""
    from imagewizard.core.errors import ImageWizardError

    try:  # Typer >= 0.29 vendors Click
        from typer._click import exceptions as click_exc
    except ImportError:  # pragma: no cover - older Typer on Click
        from click import exceptions as click_exc

    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in args or "-v" in args
    _mount_task_commands()  # tasks declared after this module was imported (plugins) get their command
    command = typer.main.get_command(app)
    if "--help" in args or "-h" in args:
        for name in _task_commands():
            if name in args and name in command.commands:
                command.commands[name].epilog = (command.commands[name].epilog or "") + "\n\n" + _task_epilog(name)
    from imagewizard.io.files import guard

    try:
        # every file named on the command line is an input: no write of this command may land on it
        with guard(command_line_inputs(args)), _warnings_one_line():
            # without standalone mode Click returns (not raises) the code of a typer.Exit
            rc = command.main(args=args, prog_name="imagewizard", standalone_mode=False)
        if isinstance(rc, int) and rc:
            return rc
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        return 130
    except click_exc.UsageError as exc:
        if verbose:
            raise
        hint = (
            f" (see 'imagewizard {exc.ctx.info_name} --help')" if exc.ctx and exc.ctx.info_name != "imagewizard" else ""
        )
        typer.echo(f"error: {exc.format_message()}{hint}", err=True)
        return 2
    except ImageWizardError as exc:
        if verbose:
            raise
        typer.echo(f"error: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        return 130
    except MemoryError:
        if verbose:
            raise
        typer.echo("error: out of memory (try a smaller image, or fewer workers)", err=True)
        return 1
    except OSError as exc:  # the system refused something no check foresaw (a full disk, a vanished folder)
        if verbose:
            raise
        from imagewizard.io.files import _os_reason

        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        typer.echo(f"error: {_os_reason(exc)}{where}", err=True)
        return 1
    except Exception as exc:  # a bug: still one line unless --verbose, and no internal names
        if verbose:
            raise
        typer.echo(
            f"error: internal error ({internal_summary(exc)}); run again with --verbose for the "
            f"traceback and report it",
            err=True,
        )
        return 1
    return 0


#: Options whose value is written, not read (or, for --resume, the command's own state that it
#: rewrites as it goes): their values are not inputs.
OUTPUT_OPTIONS = frozenset(
    {"-o", "--output", "--out", "--save-plan", "--resume", "--overlay", "--summary", "--boundaries"}
)


def command_line_inputs(args: list[str]) -> list[str]:
    """The files named on a command line, other than as an output option's value.

    Any argument that names an existing regular file is taken as an input: an image, a mask, a
    kernel, a reference, a pipeline. The guard then refuses every write onto one of them, by any
    spelling or link, whichever option or derived name (``{stem}-mask.png``) the write comes from.
    """
    import os

    found: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in OUTPUT_OPTIONS:
            skip = True
            continue
        if a.startswith("--") and "=" in a:
            name, a = a.split("=", 1)
            if name in OUTPUT_OPTIONS:
                continue
        elif a.startswith("-o") and len(a) > 2 and not a.startswith("--"):
            continue
        for candidate in {a, a.split(":", 1)[-1]}:  # a kernel given as file:path
            try:
                if candidate and len(candidate) < 4096 and os.path.isfile(candidate):
                    found.append(candidate)
            except (OSError, ValueError):
                pass
    return found


def internal_summary(exc: BaseException) -> str:
    """A bug's message in plain words for the one-line report: its first line, no class names."""
    from imagewizard.core.errors import plain_reason

    return plain_reason(exc, default="no details", limit=160)


@contextmanager
def _warnings_one_line():
    """ImageWizard's own warnings as one 'warning:' line each; libraries' warnings are not the user's business."""
    import warnings

    from imagewizard.core.errors import ImageWizardWarning

    said: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        if issubclass(category, ImageWizardWarning) and text not in said:  # once per command, not per image
            said.add(text)
            typer.echo(f"warning: {text}", err=True)

    saved = warnings.showwarning
    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = saved


if __name__ == "__main__":
    sys.exit(main())
