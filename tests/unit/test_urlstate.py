from lossviz.urlstate import Field, loss_param_fields, parse_query, to_query

FIELDS = [
    Field("losses", ["arcface"], "multi", choices=("arcface", "cosface", "softmax")),
    Field("classes", 10, "int", 2, 12),
    Field("raw", True, "bool"),
    Field("lang", "en", "choice", choices=("en", "zh")),
    *loss_param_fields(["arcface"]),
]


def test_round_trip_keeps_only_what_differs_from_the_defaults():
    values = {"losses": ["cosface", "softmax"], "classes": 10, "raw": False, "lang": "zh",
              "arcface.m": 0.35, "arcface.s": 64.0}
    query = to_query(values, FIELDS)
    assert query == {"losses": "cosface,softmax", "raw": "0", "lang": "zh", "arcface.m": "0.35"}
    parsed, warnings = parse_query(query, FIELDS)
    assert warnings == []
    assert parsed == {"losses": ["cosface", "softmax"], "raw": False, "lang": "zh", "arcface.m": 0.35}


def test_out_of_range_values_are_clamped_with_a_warning():
    parsed, warnings = parse_query({"arcface.m": "9", "classes": "1"}, FIELDS)
    assert parsed == {"arcface.m": 1.5, "classes": 2}
    assert len(warnings) == 2 and "outside [0, 1.5]" in str(warnings[0])


def test_malformed_values_are_ignored_with_a_warning():
    query = {"arcface.s": "abc", "arcface.m": "nan", "raw": "maybe", "lang": "fr",
             "losses": "arcface,bogus,arcface", "zoom": "3", "classes": "4.6"}
    parsed, warnings = parse_query(query, FIELDS)
    assert parsed == {"losses": ["arcface"], "classes": 5}
    assert len(warnings) == 7
    assert any("Unknown setting 'zoom'" in str(w) for w in warnings)
    assert any("bogus" in str(w) for w in warnings)
