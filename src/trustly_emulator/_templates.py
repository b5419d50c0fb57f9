"""The Jinja environment of the emulator's HTML pages: the checkout's and the inspector's."""

from __future__ import annotations

from pathlib import Path

import jinja2

__all__ = ["template_environment"]

TEMPLATES_DIR = Path(__file__).parent / "templates"


def template_environment() -> jinja2.Environment:
    """A new environment over ``templates/``: everything escaped, an undefined name an error."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
