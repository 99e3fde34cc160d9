"""Every formula on the Theory page typesets in the browser, in both languages (AppTest sees
the LaTeX source, never its rendering). The Lecture's formulas are checked at every step of
its walk with the Next button, in both languages (test_lecture.py)."""
import pytest

from tests.e2e.conftest import assert_no_exception, formulas_typeset, open_app


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_theory_formula_typesets(page, app_url, lang):
    # each loss's display formula and the inline maths of its text
    open_app(page, app_url, f"theory?lang={lang}")
    assert formulas_typeset(page) > 20
    assert_no_exception(page)
