"""Client-side stop strings: the cut is exact and the matched string is reported."""

from __future__ import annotations

from graphs.models.transports.stops import StopScanner


def test_text_without_stops_passes_through_whole() -> None:
    scan = StopScanner(["="])
    assert scan.feed("abc ") + scan.feed("def") + scan.flush() == "abc def"
    assert scan.hit is None


def test_the_first_stop_cuts_and_is_named() -> None:
    scan = StopScanner(["=", "≈"])
    assert scan.feed("x ≈ 2 = 3") == "x "
    assert scan.hit == "≈"
    assert scan.feed("more") == ""


def test_a_stop_split_across_pieces_is_held_back_then_found() -> None:
    scan = StopScanner(["\\approx"])
    assert scan.feed("r \\ap") == "r "
    assert scan.feed("prox 0.2") == ""
    assert scan.hit == "\\approx"


def test_held_text_that_was_not_a_stop_comes_back() -> None:
    scan = StopScanner(["\\approx"])
    assert scan.feed("a \\ap") == "a "
    assert scan.feed("ple") == "\\apple"
    assert scan.feed(" \\a") == " "
    assert scan.flush() == "\\a"


def test_empty_stops_are_ignored() -> None:
    scan = StopScanner(["", "="])
    assert scan.stops == ["="]
    assert scan.feed("a=b") == "a"


def test_the_stop_string_can_end_the_text() -> None:
    scan = StopScanner(["\\approx"], include=True)
    assert scan.feed("r \\ap") + scan.feed("prox 0.2") == "r \\approx"
    assert scan.hit == "\\approx"
