"""Option values without pydantic: typer's coercion, short-cut for the plain types we use.

typer (0.29) turns every option value through a pydantic ``TypeAdapter``, built the first
time a parameter is processed, and a command's parameters are all processed on every run,
even when they keep their defaults: importing pydantic for that costs 50-100 ms on each
command that has one ``str`` option. mcpcred's options are plain ``str``, ``int``,
``float``, ``Path``, enums, flags and lists of those, whose conversion needs no schema.

``install`` gives each such parameter of a built click command a ``RuntimeParam`` (typer's
own interface) that converts the obvious inputs itself, with typer's own helpers for paths
and choices, and hands everything else, errors included, to the adapter typer would have
built: the messages and edge cases stay typer's, and pydantic is imported only for them.
A test compares both conversions for every parameter of every command. If typer's
internals change shape, ``install`` leaves the command as typer built it (slower, never
wrong).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args, get_origin

if TYPE_CHECKING:
    from typer._click import Command, Context
    from typer._coercion import TypeDescriptor
    from typer.core import _TyperParameter

_INT = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_CONSTRAINTS = ("parser", "formats")  # each None unless the option sets it


class _Unhandled(Exception):
    """The value is not one of the obvious cases: typer's own adapter decides."""


def install(command: Command) -> None:
    """Give every plain parameter of ``command`` (not its subcommands) the stdlib conversion.

    ``--help`` is a parameter too, made by click when a context first asks for it: the
    command's ``get_help_option`` is wrapped so that it gets the same.
    """
    for param in command.params:
        _install_param(param)
    made = command.get_help_option

    def get_help_option(ctx: Context) -> Any:
        option = made(ctx)
        if option is not None:
            _install_param(option)
        return option

    setattr(command, "get_help_option", get_help_option)  # noqa: B010 (shadows the method)


def _install_param(param: Any) -> None:
    try:
        from typer._coercion import RuntimeParam, TypeDescriptor
    except ImportError:  # pragma: no cover - another typer layout: keep typer's way
        return
    descriptor = getattr(param, "type_descriptor", None)
    if not isinstance(descriptor, TypeDescriptor) or not hasattr(param, "_runtime_param"):
        return
    if param._runtime_param is None and _plain(descriptor):
        param._runtime_param = _runtime_class(RuntimeParam)(
            parameter_info=descriptor.parameter_info,
            annotation=descriptor.annotation,
            descriptor=descriptor,
        )


def _plain(descriptor: TypeDescriptor) -> bool:
    """Whether the annotation is one this module converts (with no typer constraint on it)."""
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None:
        return False
    if any(getattr(info, name, None) is not None for name in _CONSTRAINTS) or getattr(
        info, "clamp", False
    ):
        return False
    annotation: Any = descriptor.annotation
    if get_origin(annotation) is list:
        (annotation,) = get_args(annotation) or (None,)
    return annotation in (str, int, float, bool) or (
        isinstance(annotation, type) and issubclass(annotation, Path | Enum)
    )


_classes: dict[type, type] = {}


def _runtime_class(base: type) -> type:
    """The ``RuntimeParam`` subclass, made once (typer is imported by then, not before)."""
    if base not in _classes:

        @dataclass(frozen=True)
        class StdlibRuntimeParam(base):  # type: ignore[misc]
            """Converts plain values itself; anything else goes to typer's adapter."""

            descriptor: Any = None

            def _coerce_value(self, value: Any, param: _TyperParameter, ctx: Context) -> Any:
                try:
                    annotation: Any = self.annotation
                    if get_origin(annotation) is list:
                        if not isinstance(value, list | tuple):
                            raise _Unhandled
                        (leaf,) = get_args(annotation)
                        return [
                            _leaf(leaf, self.parameter_info, item, param, ctx) for item in value
                        ]
                    return _leaf(annotation, self.parameter_info, value, param, ctx)
                except (_Unhandled, ValueError, TypeError):
                    from typer._coercion import build_runtime_param

                    typer_way = build_runtime_param(self.descriptor)
                    return typer_way._coerce_value(value, param=param, ctx=ctx)

        _classes[base] = StdlibRuntimeParam
    return _classes[base]


def _leaf(annotation: Any, info: Any, value: Any, param: _TyperParameter, ctx: Context) -> Any:
    """One value of a plain type, or ``_Unhandled`` when typer's adapter must decide."""
    if annotation is str:
        if isinstance(value, str):
            return value
    elif annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return _within(value, info)
        if isinstance(value, str) and _INT.fullmatch(value):
            return _within(int(value), info)
    elif annotation is float:
        if isinstance(value, float):
            return _within(value, info)
        if isinstance(value, str) and _FLOAT.fullmatch(value):
            return _within(float(value), info)
    elif issubclass(annotation, Enum):
        if isinstance(value, annotation | str):
            from typer._param_types import coerce_cli_choice

            return coerce_cli_choice(
                value, choices=list(annotation), case_sensitive=info.case_sensitive, ctx=ctx
            )
    elif issubclass(annotation, Path) and isinstance(value, str | Path):
        from typer._param_types import coerce_cli_path

        path_type = info.path_type or annotation
        if path_type is not annotation:
            raise _Unhandled
        return coerce_cli_path(
            value if isinstance(value, Path) else annotation(value),
            info,
            path_type=path_type,
            param=param,
            ctx=ctx,
        )
    raise _Unhandled


def _within(number: float, info: Any) -> float:
    """``number`` if inside the option's ``min``/``max``; outside, typer says why."""
    if (info.min is not None and number < info.min) or (info.max is not None and number > info.max):
        raise _Unhandled
    return number
