"""Translations of message templates, one module per locale (`fr.py`, `pt_br.py` …).

English is the source text and needs no module. A locale module defines

    MESSAGES: dict[str, str | tuple[str, ...]]   # English text → translation
                                                 # (a tuple of plural forms for ngettext)
    def plural(n: int) -> int: ...               # which plural form n takes

A string missing from MESSAGES falls back to English. Adding a locale is adding one module.
"""
