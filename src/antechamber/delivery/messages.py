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

import functools
import importlib
import pkgutil
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jinja2
import markupsafe
from jinja2 import meta, nodes

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
    if context.keys() != info.context_keys:
        missing = info.context_keys - context.keys()
        unknown = context.keys() - info.context_keys
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
        parts[block] = _render_block(template, info.channel, block, code, variables).strip()
    if info.channel == "email":
        return Rendered(parts["subject"], (parts["text"] or "") + "\n", parts["html"])
    return Rendered(None, parts["text"] or "", None)


def _full_render(
    template: str, channel: str, block: str, locale: str, variables: Mapping[str, Any]
) -> str:
    env = _environment(locale, html=block == "html")
    tmpl = env.get_template(f"{template}.{channel}.j2")
    render_block = tmpl.blocks.get(block)
    if render_block is None:
        raise TemplateContractError(f"template {template!r} has no {block!r} block")
    return "".join(render_block(tmpl.new_context(dict(variables))))


# Rendering once per template, not per message. Jinja costs 300 µs for an email's three blocks,
# and what changes from one message to the next is a few strings (the link, the code) that a
# block only prints, escaped in HTML. So a block is rendered once with a marker in place of
# each such string (its other values, numbers that choose a plural form, and the globals are
# the cache key), and a message is that text with its strings put in the markers' places,
# escaped like `{{ value }}` is in that block. A string is put in this way only if the block
# uses it nowhere but as `{{ name }}` or as a keyword of `_()`/`gettext()`/`ngettext()`
# (`_plain_names`), and only if a test render proves the block's text is the same as the
# marker text with the values put in (`_skeleton`); otherwise the block is rendered in full.
# The strings (a link's token, a code) are never part of a cache key.


def _render_block(
    template: str, channel: str, block: str, locale: str, variables: Mapping[str, Any]
) -> str:
    plain = _plain_names(template, channel, block)
    strings = sorted(k for k in plain if isinstance(variables.get(k), str))
    read = _names_read(template, channel, block)
    # A variable the block never reads is no part of its key: else an email's subject, which
    # prints no link, would be keyed by the link and rendered in full for every message.
    fixed = tuple(
        sorted(
            (k, v) for k, v in variables.items() if k not in strings and (read is None or k in read)
        )
    )
    try:
        skeleton = _skeleton(template, channel, block, locale, fixed, tuple(strings))
    except TypeError:  # a value that cannot be a cache key (a list, say)
        skeleton = None
    if skeleton is None:
        return _full_render(template, channel, block, locale, variables)
    html = block == "html"
    values = {k: str(markupsafe.escape(variables[k])) if html else variables[k] for k in strings}
    return "".join(part if index % 2 == 0 else values[part] for index, part in enumerate(skeleton))


@cache
def _plain_names(template: str, channel: str, block: str) -> frozenset[str]:
    """The variables `block` only prints as is (`{{ name }}`) or passes to gettext by keyword."""
    env = _environment(DEFAULT_LOCALE, html=False)
    source = (TEMPLATE_DIR / f"{template}.{channel}.j2").read_text()
    found = [b for b in env.parse(source).find_all(nodes.Block) if b.name == block]
    if len(found) != 1:
        return frozenset()
    plain: set[str] = set()
    other: set[str] = set()

    def walk(node: nodes.Node, fits: bool) -> None:
        if isinstance(node, nodes.Name):
            (plain if fits and node.ctx == "load" else other).add(node.name)
            return
        for child in node.iter_child_nodes():
            if isinstance(node, nodes.Output) or (
                isinstance(node, nodes.Keyword) and _is_gettext(parent_call[-1])
            ):
                walk(child, isinstance(child, nodes.Name))
            elif isinstance(node, nodes.Call):
                parent_call.append(node)
                walk(child, False)
                parent_call.pop()
            else:
                walk(child, False)

    parent_call: list[nodes.Node] = [found[0]]
    walk(found[0], False)
    return frozenset(plain - other - GLOBALS)


#: Nodes through which a block could read variables it does not name.
_OPAQUE = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends, nodes.CallBlock)


@cache
def _names_read(template: str, channel: str, block: str) -> frozenset[str] | None:
    """Every variable `block` names, or None when it may read others (an include, `self`...)."""
    env = _environment(DEFAULT_LOCALE, html=False)
    source = (TEMPLATE_DIR / f"{template}.{channel}.j2").read_text()
    found = [b for b in env.parse(source).find_all(nodes.Block) if b.name == block]
    if len(found) != 1 or any(True for _ in found[0].find_all(_OPAQUE)):
        return None
    names = frozenset(n.name for n in found[0].find_all(nodes.Name))
    return None if names & {"self", "super", "caller", "varargs", "kwargs"} else names


def _is_gettext(node: nodes.Node) -> bool:
    return (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Name)
        and node.node.name in _GETTEXT
    )


@functools.lru_cache(maxsize=256)
def _skeleton(
    template: str,
    channel: str,
    block: str,
    locale: str,
    fixed: tuple[tuple[str, Any], ...],
    strings: tuple[str, ...],
) -> tuple[str, ...] | None:
    """The block's text split at the markers of `strings`: literal, name, literal, … ; or None
    when a test render with other values does not come out as the markers' text with them."""
    html = block == "html"
    markers = {name: f"M{secrets.token_hex(12)}" for name in strings}
    try:
        text = _full_render(template, channel, block, locale, {**dict(fixed), **markers})
    except jinja2.UndefinedError:  # it reads a variable `_names_read` missed: render in full
        return None
    by_marker = {marker: name for name, marker in markers.items()}
    pieces = re.split(f"({'|'.join(by_marker)})", text) if by_marker else [text]
    skeleton = tuple(p if i % 2 == 0 else by_marker[p] for i, p in enumerate(pieces))
    # The proof: values with characters HTML escapes and spaces, put in the skeleton's places,
    # give exactly what Jinja renders with them.
    probes = {name: f" P{secrets.token_hex(6)}<&\"'> " for name in strings}
    expected = "".join(
        part if i % 2 == 0 else (str(markupsafe.escape(probes[part])) if html else probes[part])
        for i, part in enumerate(skeleton)
    )
    actual = _full_render(template, channel, block, locale, {**dict(fixed), **probes})
    return skeleton if actual == expected else None


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
