"""The Typer application and its global options; the commands register themselves on it.

Imports only what ``--version`` and ``--help`` need (typer and the package's own light modules):
each command imports the stages it runs when it runs, so starting is as fast as typer itself.
"""

from __future__ import annotations

import re
import sys
from typing import Annotated, Any, Sequence

import typer
from typer.core import TyperGroup

from .. import __version__

EXIT_USAGE = 2
_CHOICE_MESSAGE = re.compile(r"^(?:Value error, )?(?P<value>'.*') is not one of .*$", re.DOTALL)


def usage_line(e: Any) -> str:
    """A usage error (click's) as one plain line: which option, what is wrong, the valid choices."""
    param = getattr(e, "param", None)
    message = str(getattr(e, "message", "") or e).strip()
    message = message.removeprefix("Value error, ").rstrip(".")
    if param is None:
        if message.startswith("No such command"):  # "No such command 'x'." -> the commands there are
            ctx = getattr(e, "ctx", None)
            names = sorted(n for n, c in getattr(ctx.command, "commands", {}).items() if not c.hidden) if ctx else []
            return f"{message[0].lower()}{message[1:]}; commands: {', '.join(names)}" if names else message
        return f"{message[0].lower()}{message[1:]}" if message else "usage error"
    name = "/".join(param.opts[:1]) if getattr(param, "param_type_name", "") == "option" else (param.name or "").upper()
    td = getattr(param, "type_descriptor", None)
    if type(e).__name__ == "MissingParameter":
        return f"missing {'option' if param.param_type_name == 'option' else 'argument'} {name}"
    m = _CHOICE_MESSAGE.match(message)
    if td is not None and getattr(td, "is_choice", False) and m:
        choices = ", ".join(str(getattr(c, "value", c)) for c in td.choices)
        return f"{name}: {m.group('value')} is not one of {choices}"
    return f"{name}: {message}"


class PlainErrors(TyperGroup):
    """The app's group: a usage error is one plain ``error: ...`` line on stderr (exit 2), never a
    boxed panel; everything else behaves as Typer's group does."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        from typer._click.exceptions import ClickException

        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except ClickException as e:
            if type(e).__name__ != "NoArgsIsHelpError":  # the help was printed; nothing to add
                sys.stderr.write(f"error: {usage_line(e)}\n")
            if not standalone_mode:
                raise
            sys.exit(e.exit_code)
        except typer.Abort:
            if not standalone_mode:
                raise
            sys.stderr.write("error: aborted\n")
            sys.exit(1)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
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
