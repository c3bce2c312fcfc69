"""The Typer application and its global options; the commands register themselves on it.

Imports only what ``--version`` and ``--help`` need (typer and the package's own light modules):
each command imports the stages it runs when it runs, so starting is as fast as typer itself.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading
from typing import Annotated, Any, NoReturn, Sequence

import typer
from typer.core import TyperCommand, TyperGroup

from .. import __version__

EXIT_USAGE = 2
_NO_SUCH_COMMAND = re.compile(r"^No such command '(.*?)'")
_CHOICE_MESSAGE = re.compile(r"^(?:Value error, )?(?P<value>'.*') is not one of .*$", re.DOTALL)


def _given(args: Sequence[str], opts: Sequence[str]) -> str | None:
    """The value given on the command line to an option (``--opt VALUE`` or ``--opt=VALUE``)."""
    for i, a in enumerate(args):
        for o in opts:
            if a == o and i + 1 < len(args):
                return args[i + 1]
            if a.startswith(o + "="):
                return a[len(o) + 1:]
    return None


def usage_line(e: Any, args: Sequence[str] = ()) -> str:
    """A usage error (click's) as one plain line: which option, what is wrong, the valid choices."""
    param = getattr(e, "param", None)
    message = str(getattr(e, "message", "") or e).strip()
    message = message.removeprefix("Value error, ").rstrip(".")
    if param is None:
        unknown = _NO_SUCH_COMMAND.match(message)
        ctx = getattr(e, "ctx", None)
        if unknown and ctx is not None:
            import difflib

            names = sorted(n for n, c in getattr(ctx.command, "commands", {}).items() if not c.hidden)
            close = difflib.get_close_matches(unknown.group(1), names, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            return f"no command {unknown.group(1)!r}; {hint}commands: {', '.join(names)}"
        return f"{message[0].lower()}{message[1:]}" if message else "usage error"
    is_option = getattr(param, "param_type_name", "") == "option"
    name = param.opts[0] if is_option else (param.name or "").upper()
    if type(e).__name__ == "MissingParameter":
        return f"missing {'option' if is_option else 'argument'} {name}"
    td = getattr(param, "type_descriptor", None)
    m = _CHOICE_MESSAGE.match(message)
    if td is not None and getattr(td, "is_choice", False) and m:
        choices = ", ".join(str(getattr(c, "value", c)) for c in td.choices)
        return f"{name}: {m.group('value')} is not one of {choices}"
    given = _given(args, param.opts) if is_option else None
    if message.startswith("Input should be a valid integer") and given is not None:
        return f"{name}: {given!r} is not a whole number"
    least = re.match(r"Input should be greater than or equal to (\S+)$", message)
    if least and given is not None:
        return f"{name}: {given!r} is less than {least.group(1)}"
    return f"{name}: {message[0].lower()}{message[1:]}" if message else name


def leave(code: int) -> NoReturn:
    """End the program with ``code``: what ``sys.exit`` does for a program that is done (atexit
    handlers run -- among them weakref finalizers such as temporary directories' cleanup -- and
    the output is flushed), without the interpreter's teardown of every module and object, which
    a command that has finished has no use for. Where that cannot be done safely (a thread that
    is not a daemon still runs, the output cannot be flushed), it is ``sys.exit``."""
    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if run_exitfuncs is None or any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: the interpreter's own exit reports it
        sys.exit(code)
    os._exit(code)


class PlainCommand(TyperCommand):
    """A command whose parameters (the help option Typer adds too) get :mod:`.params`' plain
    coercion when its command line is parsed."""

    def get_params(self, ctx: Any) -> list[Any]:
        from .params import install

        found = super().get_params(ctx)
        install(self, found)
        return found


class PlainErrors(TyperGroup):
    """The app's group: a usage error is one plain ``error: ...`` line on stderr (exit 2), never a
    boxed panel; its parameters get plain coercion as its commands' do; everything else behaves
    as Typer's group does."""

    def get_params(self, ctx: Any) -> list[Any]:
        from .params import install

        found = super().get_params(ctx)
        install(self, found)  # --version and the options Typer adds here (--install-completion ...)
        return found

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        from typer._click.exceptions import ClickException

        given = list(sys.argv[1:] if args is None else args)
        # the program itself (not a caller passing arguments, like a test's runner) ends without teardown
        end = leave if args is None else sys.exit
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except ClickException as e:
            if type(e).__name__ != "NoArgsIsHelpError":  # the help was printed; nothing to add
                sys.stderr.write(f"error: {usage_line(e, given)}\n")
            if not standalone_mode:
                raise
            end(e.exit_code)
        except typer.Abort:
            if not standalone_mode:
                raise
            sys.stderr.write("error: aborted\n")
            end(1)
        if not standalone_mode:
            return rv
        end(rv if isinstance(rv, int) else 0)


class App(typer.Typer):
    """The Typer application whose commands are :class:`PlainCommand` unless told otherwise."""

    def command(self, *args: Any, cls: Any = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or PlainCommand, **kwargs)


app = App(
    name="mcpsniff",
    cls=PlainErrors,
    help="Record MCP HTTP traffic through mitmproxy and tell which client plane breaks the session contract.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        from ..capture.versions import mitmproxy_version

        typer.echo(f"mcpsniff {__version__} (mitmproxy {mitmproxy_version()}, Python {sys.version.split()[0]})")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show versions and exit.")] = False,
) -> None:
    """mcpsniff: record MCP HTTP traffic and tell which client plane breaks the session contract."""
