"""The documentation's table of checked fields is the declarations themselves.

After changing a declaration, regenerate the table with
``GRADFREE_REGEN_DOCS=1 python -m pytest tests/core/test_untrusted_docs.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

from gradfree.core.schema import markdown_table

from .saved_models import concrete_estimators

DOC = Path(__file__).resolve().parents[2] / "docs" / "untrusted-files.md"
MARK = "<!-- table -->\n"


def test_the_table_of_checked_fields_matches_the_declarations():
    head, table = DOC.read_text().split(MARK, 1)
    fresh = markdown_table(concrete_estimators())
    if os.environ.get("GRADFREE_REGEN_DOCS") == "1":
        DOC.write_text(head + MARK + fresh)
        table = fresh
    assert table == fresh, ("docs/untrusted-files.md is stale: regenerate it with "
                            "GRADFREE_REGEN_DOCS=1 python -m pytest tests/core/test_untrusted_docs.py")
