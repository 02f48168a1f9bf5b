"""UI strings of the pages, one module per group of pages; ``dash_app.i18n`` merges them.

Each module holds ``STRINGS: dict[str, dict[str, str]]`` keyed ``"<prefix>.<name>"`` with ``zh``
(required) and ``en``; a key defined twice stops the app at import, naming the key.
"""
