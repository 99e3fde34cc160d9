from urllib.parse import parse_qs

from lossviz.losses import LOSSES


def test_every_loss_has_a_section_in_order_with_links(open_page):
    at = open_page("theory")
    assert not at.exception
    assert [h.value for h in at.subheader][:7] == [spec.title for spec in LOSSES.values()]
    links = at.get("page_link")
    assert len(links) == 2 * len(LOSSES)
    arcface_curves = parse_qs(links[10].proto.query_string)
    assert arcface_curves == {"losses": ["arcface"], "arcface.s": ["64"], "arcface.m": ["0.5"]}
    assert len(at.get("latex")) == len(LOSSES)


def test_chinese_texts(open_page):
    at = open_page("theory", {"lang": "zh"})
    assert at.title[0].value.startswith("理论")
    assert "查看" in at.get("page_link")[0].proto.label
    at.radio(key="lang").set_value("en").run()
    assert at.title[0].value.startswith("Theory")
    assert at.query_params == {}
