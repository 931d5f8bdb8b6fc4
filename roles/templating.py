"""One Jinja environment for every role: strict, deterministic, no autoescape (config text)."""

from functools import lru_cache
from pathlib import Path

import jinja2

HEADER = "managed by televoc, edits will be overwritten"


@lru_cache(maxsize=None)
def _environment(templates: str) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
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
