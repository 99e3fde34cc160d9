"""Every formula on the Theory and Lecture pages typesets in the browser, in both languages.
KaTeX draws a formula it cannot parse as red source text (class katex-error) instead of
failing, and only a browser runs KaTeX: AppTest sees the LaTeX source, never its rendering."""
import pytest

from lossviz.lecture import STEPS
from tests.e2e.conftest import assert_no_exception, wait_idle

ERRORS = """() => [...document.querySelectorAll('.katex-error')]
  .map(e => e.getAttribute('title') || e.textContent)"""


def typeset(tab, url: str) -> int:
    """Open url and wait until its formulas are drawn; how many there are. Fails, quoting
    KaTeX's own message, on any that did not parse."""
    tab.goto(url)
    wait_idle(tab)
    formulas = tab.locator("[data-testid='stMain'] .katex")
    formulas.first.wait_for()
    assert tab.evaluate(ERRORS) == [], url
    assert_no_exception(tab)
    return formulas.count()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_formula_typesets(page, app_url, lang):
    # the theory page: each loss's display formula and the inline maths of its text
    assert typeset(page, f"{app_url}/theory?lang={lang}") > 20
    for step in range(1, len(STEPS) + 1):
        typeset(page, f"{app_url}/lecture?step={step}&lang={lang}")
