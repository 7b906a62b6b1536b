"""Moving an instance's data to another: ``portico export`` / ``portico import``.

The format (NDJSON, one record per line, a header and an end line) is documented in
``docs/export-format.md``; ``records`` defines it, ``exporter`` writes it, ``importer`` reads
it (and Logto's user rows, mapped by ``logto``) into one transaction. This package sits above
``services`` and ``connectors``: it re-seals connector secrets, so it needs both.
"""
