"""The documentation's table of checked fields is the declarations themselves."""

from __future__ import annotations

from pathlib import Path

from gradfree.core.schema import markdown_table

from .saved_models import concrete_estimators

DOC = Path(__file__).resolve().parents[2] / "docs" / "untrusted-files.md"


def test_the_table_of_checked_fields_matches_the_declarations():
    table = DOC.read_text().split("<!-- table -->\n", 1)[1]
    assert table == markdown_table(concrete_estimators()), (
        "docs/untrusted-files.md is stale: regenerate its table with gradfree.core.schema.markdown_table")
