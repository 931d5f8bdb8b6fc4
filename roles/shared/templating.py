"""One Jinja environment for every role: strict, deterministic, no autoescape (config text);
and `gc_paused`, for the pure functions that build many small objects."""

import functools
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import jinja2

HEADER = "managed by televoc, edits will be overwritten"


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja's compiled templates, kept between runs in a directory of the user's own under the
    temporary directory (Jinja checks who owns it, writes each file whole and compiles a
    template whose source changed again): compiling televoc's templates took a tenth of a
    second of every run. A file it cannot read or write is compiled as if there were none."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except OSError:
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


@functools.cache
def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """The cache of compiled templates; None when no directory can be had for it (then every
    run compiles them)."""
    try:
        return _BytecodeCache()
    except (OSError, RuntimeError):
        return None


@functools.cache
def _environment(templates: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        bytecode_cache=_bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(role_file: str, template: str, **context) -> str:
    """Render `templates/<template>` next to the role module `role_file`."""
    templates = str(Path(role_file).resolve().parent / "templates")
    return _environment(templates).get_template(template).render(header=HEADER, **context)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Building thousands of small objects (YAML nodes, models, routes, lines) triggers the
    garbage collector again and again, each time scanning the event's whole model, for
    nothing: loading and rendering make no reference cycles. (At 10,000 phones: 0.1 s of
    0.5 s of rendering.)"""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def without_gc(function):
    """`function` run with the garbage collector paused (see gc_paused)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with gc_paused():
            return function(*args, **kwargs)

    return wrapper
