from urllib.parse import parse_qs

import pytest

from lossviz.i18n import load_texts, text
from lossviz.losses import LOSSES
from tests.app.conftest import english_words


def test_every_loss_has_a_section_in_order_with_links(open_page):
    at = open_page("theory")
    assert not at.exception
    assert [h.value for h in at.subheader][:len(LOSSES)] == [text(f"losses.{n}.title") for n in LOSSES]
    links = at.get("page_link")
    # CurricularFace has no decision-margin picture (its negatives depend on t): one link
    # the decision-margin page leaves out CurricularFace, MagFace and AdaFace
    assert len(links) == len(LOSSES) + sum(s.draws_decision_margins for s in LOSSES.values())
    arcface_curves = parse_qs(links[10].proto.query_string)
    assert arcface_curves == {"losses": ["arcface"], "s": ["64"], "arcface.m": ["0.5"]}
    arcface_margins = parse_qs(links[11].proto.query_string)
    assert arcface_margins == {"loss": ["arcface"], "arcface.m": ["0.5"]}  # no s there
    # every loss's formula, its parts (split at \qquad) each typeset, wrapping on a phone
    typeset = [latex.value.strip("$\n") for latex in at.latex]
    assert " \\qquad ".join(typeset) == " \\qquad ".join(
        section["formula"] for section in load_texts("theory")["sections"])


def test_inline_maths_is_written_for_typesetting(open_page):
    softmax = open_page("theory").markdown[1].value
    assert "$W_j^T x = \\|W_j\\|" in softmax and "W_j^T x = ||W_j||" not in softmax


def test_chinese_texts(open_page):
    at = open_page("theory", {"lang": "zh"})
    assert at.title[0].value.startswith("理论")
    assert "查看" in at.get("page_link")[0].proto.label
    assert at.caption[1].value.startswith("论文：Liu 等，《Large-Margin")  # title kept as published
    at.radio(key="lang").set_value("en").run()
    assert at.title[0].value.startswith("Theory")
    assert at.query_params == {}


@pytest.mark.parametrize("query", [{"lang": "zh"}, {"lang": "zh", "present": "1"}])
def test_chinese_page_has_no_english(open_page, query):
    at = open_page("theory", query)
    assert not at.exception
    assert english_words(at) == []
