"""The snapshot lists' search in any letter case, spelt out so no database's locale decides it."""

import re

from groups.snapshot.queries import caseless_pattern


def test_a_search_in_capitals_finds_lower_case_letters_of_any_script():
    pattern = caseless_pattern("GRÜN-Ø-∂")
    assert re.search(pattern, "team-grün-ø-∂-7")
    assert re.search(pattern, "Grün-ø-∂")
    assert not re.search(pattern, "grun-ø-∂")


def test_a_searchs_regex_characters_are_matched_as_themselves():
    pattern = caseless_pattern("é.(x)*")
    assert re.search(pattern, "É.(X)*")
    assert not re.search(pattern, "éa(x)")


def test_a_letter_whose_other_case_is_two_letters_is_matched_as_written():
    assert caseless_pattern("ß") == "ß"
    assert re.fullmatch(caseless_pattern("Ωß"), "ωß")
