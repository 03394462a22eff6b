"""Parsing XML from outside: no DTD, no entities, no network, a size limit before parsing."""

from __future__ import annotations

import re
from typing import Final

from lxml import etree

NS: Final = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
}
SAMLP: Final = "{urn:oasis:names:tc:SAML:2.0:protocol}"
SAML: Final = "{urn:oasis:names:tc:SAML:2.0:assertion}"
MD: Final = "{urn:oasis:names:tc:SAML:2.0:metadata}"
DS: Final = "{http://www.w3.org/2000/09/xmldsig#}"

# A DOCTYPE anywhere (the prolog is the only legal place, but be blunt) or an ENTITY
# declaration. SAML never needs either; refusing them before the parser sees them closes
# billion laughs, external entities and DTD-driven ID attributes in one step.
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class UnsafeXml(ValueError):
    """The bytes are not XML we parse: too large, a DTD or entity, not UTF-8, or malformed."""


def _parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers are not thread-safe.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        collect_ids=False,
    )


def parse(data: bytes, *, max_bytes: int) -> etree._Element:
    """Parse `data` as a standalone XML document or raise `UnsafeXml`.

    Refuses, before parsing: more than `max_bytes`, any `<!DOCTYPE`/`<!ENTITY`, an encoding
    other than UTF-8 (UTF-16 would hide a DOCTYPE from the byte check). After parsing, checks
    again that the tree has no DTD and no entity reference."""
    if len(data) > max_bytes:
        raise UnsafeXml("too large")
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00", b"\x4c\x6f\xa7\x94")) or (
        len(data) > 1 and data[1:2] == b"\x00"
    ):
        raise UnsafeXml("not UTF-8")
    if _DTD.search(data):
        raise UnsafeXml("DTD")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UnsafeXml("not UTF-8") from e
    head = data[:200].lower()
    if b"encoding=" in head and not re.search(rb"encoding=[\"']utf-?8[\"']", head):
        raise UnsafeXml("not UTF-8")
    try:
        root = etree.fromstring(data, parser=_parser())
    except (etree.XMLSyntaxError, ValueError) as e:
        raise UnsafeXml("malformed") from e
    if root is None:
        raise UnsafeXml("malformed")
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.doctype:
        raise UnsafeXml("DTD")
    for _ in root.iter(etree.Entity):
        raise UnsafeXml("entity")
    return root


def text(element: etree._Element | None) -> str | None:
    """The element's whole text content, stripped (all text nodes, not only the first: a
    comment must not cut a value short), or None when there is no element."""
    if element is None:
        return None
    return "".join(t for t in element.itertext() if isinstance(t, str)).strip()
