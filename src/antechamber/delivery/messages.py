"""Message templates: what each template needs, and rendering it in a locale.

A template is one Jinja2 file, `templates/<name>.<channel>.j2`, with blocks:

- email: `subject`, `text` and `html` (all three);
- sms: `text`.

Its context keys are the variables it uses beyond the globals (`product_name`, `host`,
`base_url`, `locale`), found from the template's source, so the file is the whole contract:
`enqueue` refuses a context with a missing or an unknown key. Strings are written in English
inside `_()` / `ngettext()`; a locale is one module in `locales/` (see its docstring). Adding a
template or a locale is adding one file.

The `html` block is rendered with HTML autoescaping; `subject` and `text` without (they are not
HTML, and a link must stay a link).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jinja2
from jinja2 import meta

from antechamber.delivery import locales
from antechamber.delivery.errors import TemplateContractError
from antechamber.settings import Settings

Channel = Literal["email", "sms"]
CHANNELS: tuple[Channel, ...] = ("email", "sms")
TEMPLATE_DIR = Path(__file__).parent / "templates"
DEFAULT_LOCALE = "en"
GLOBALS = frozenset({"product_name", "host", "base_url", "locale"})
_GETTEXT = frozenset({"_", "gettext", "ngettext"})
BLOCKS: dict[Channel, tuple[str, ...]] = {"email": ("subject", "text", "html"), "sms": ("text",)}


@dataclass(frozen=True)
class TemplateInfo:
    name: str
    channel: Channel
    context_keys: frozenset[str]


@dataclass(frozen=True)
class Rendered:
    """A message ready to send. `subject` and `html` are None for SMS."""

    subject: str | None
    text: str
    html: str | None


@cache
def templates() -> dict[str, TemplateInfo]:
    """Every template, by name, from the files in `templates/`."""
    found: dict[str, TemplateInfo] = {}
    env = _environment(DEFAULT_LOCALE, html=False)
    for path in sorted(TEMPLATE_DIR.glob("*.j2")):
        name, _, channel = path.stem.rpartition(".")
        if channel not in CHANNELS or not name:
            continue
        source = path.read_text()
        keys = meta.find_undeclared_variables(env.parse(source)) - GLOBALS - _GETTEXT
        found[name] = TemplateInfo(name, channel, frozenset(keys))
    return found


@cache
def available_locales() -> frozenset[str]:
    names = {m.name for m in pkgutil.iter_modules(locales.__path__)}
    return frozenset(names | {DEFAULT_LOCALE})


def resolve_locale(locale: str | None) -> str:
    """The best locale we have for `locale`: `fr-CA` → `fr-ca`, else `fr`, else English."""
    if not locale:
        return DEFAULT_LOCALE
    wanted = locale.strip().lower().replace("-", "_")
    have = available_locales()
    if wanted in have:
        return wanted
    language = wanted.split("_", 1)[0]
    return language if language in have else DEFAULT_LOCALE


def check_contract(template: str, channel: str, context: Mapping[str, Any]) -> TemplateInfo:
    """The template's description, if `channel` and `context` fit it; else a programming error."""
    info = templates().get(template)
    if info is None:
        raise TemplateContractError(f"no message template named {template!r}")
    if info.channel != channel:
        raise TemplateContractError(f"template {template!r} is for {info.channel}, not {channel}")
    missing = info.context_keys - context.keys()
    unknown = context.keys() - info.context_keys
    if missing or unknown:
        raise TemplateContractError(
            f"template {template!r} takes {sorted(info.context_keys)}; "
            f"missing {sorted(missing)}, unknown {sorted(unknown)}"
        )
    return info


def render(
    template: str, context: Mapping[str, Any], *, locale: str, settings: Settings
) -> Rendered:
    """Render every block of `template` in `locale` (falling back to English)."""
    info = templates().get(template)
    if info is None:
        raise TemplateContractError(f"no message template named {template!r}")
    code = resolve_locale(locale)
    variables = {
        **context,
        "product_name": settings.product_name,
        "host": settings.public_host,
        "base_url": settings.public_base_url,
        "locale": code.replace("_", "-"),
    }
    parts: dict[str, str | None] = {}
    for block in BLOCKS[info.channel]:
        env = _environment(code, html=block == "html")
        tmpl = env.get_template(f"{template}.{info.channel}.j2")
        render_block = tmpl.blocks.get(block)
        if render_block is None:
            raise TemplateContractError(f"template {template!r} has no {block!r} block")
        parts[block] = "".join(render_block(tmpl.new_context(variables))).strip()
    if info.channel == "email":
        return Rendered(parts["subject"], (parts["text"] or "") + "\n", parts["html"])
    return Rendered(None, parts["text"] or "", None)


@cache
def _environment(locale: str, *, html: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=html,  # noqa: S701 (subject and text are not HTML; the html block is escaped)
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    gettext, ngettext = _translations(locale)
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    return env


def _translations(
    locale: str,
) -> tuple[Callable[[str], str], Callable[[str, str, int], str]]:
    if locale == DEFAULT_LOCALE:
        return (lambda s: s), (lambda s, p, n: s if n == 1 else p)
    module = importlib.import_module(f"{locales.__name__}.{locale}")
    messages: Mapping[str, str | tuple[str, ...]] = module.MESSAGES
    plural: Callable[[int], int] = module.plural

    def gettext(s: str) -> str:
        found = messages.get(s)
        return found if isinstance(found, str) else s

    def ngettext(s: str, p: str, n: int) -> str:
        found = messages.get(s)
        if isinstance(found, tuple):
            return found[min(plural(n), len(found) - 1)]
        return s if n == 1 else p

    return gettext, ngettext
