"""BFCL's AST rules, one at a time, on small hand-made cases (agreement with BFCL's own module on
real model outputs is in test_bfcl_checker_agreement.py)."""

from __future__ import annotations

from agents.eval.bfcl_checker import check_ast, check_relevance, has_calls, is_call_format

AREA = {
    "name": "calc.area",
    "parameters": {
        "type": "dict",
        "properties": {
            "base": {"type": "integer"},
            "height": {"type": "float"},
            "unit": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "opts": {"type": "dict", "properties": {"exact": {"type": "boolean"}}},
        },
        "required": ["base", "height"],
    },
}
ANSWER = [{"calc.area": {"base": [10], "height": [5.0], "unit": ["meters", ""], "tags": ["", ["a b"]],
                         "opts": ["", {"exact": [True]}]}}]  # fmt: skip


def check(call: dict, category: str = "simple_python") -> tuple[bool, str | None]:
    verdict = check_ast([AREA], [{"calc.area": call}], ANSWER, category)
    return verdict.valid, verdict.error_type


def test_a_right_call_passes_with_optional_parameters_left_out() -> None:
    assert check({"base": 10, "height": 5.0}) == (True, None)


def test_an_int_passes_for_a_float_but_not_a_float_for_an_int() -> None:
    assert check({"base": 10, "height": 5}) == (True, None)
    assert check({"base": 10.0, "height": 5.0}) == (False, "type_error:simple")


def test_strings_are_compared_without_case_spaces_and_punctuation() -> None:
    assert check({"base": 10, "height": 5.0, "unit": "Me-ters."}) == (True, None)
    assert check({"base": 10, "height": 5.0, "unit": "feet"}) == (False, "value_error:string")


def test_list_items_are_standardised_too() -> None:
    assert check({"base": 10, "height": 5.0, "tags": ["A_B"]}) == (True, None)
    assert check({"base": 10, "height": 5.0, "tags": ["c"]}) == (False, "value_error:list/tuple")
    # an optional list ("" among its answers) skips the item type check, as in BFCL: the value fails
    assert check({"base": 10, "height": 5.0, "tags": [1]}) == (False, "value_error:list/tuple")


def test_dict_values_are_checked_key_by_key() -> None:
    assert check({"base": 10, "height": 5.0, "opts": {"exact": True}}) == (True, None)
    assert check({"base": 10, "height": 5.0, "opts": {"exact": False}}) == (False, "value_error:dict_value")
    assert check({"base": 10, "height": 5.0, "opts": {"fast": True}}) == (False, "value_error:dict_key")


def test_missing_unexpected_and_wrong_values() -> None:
    assert check({"base": 10}) == (False, "simple_function_checker:missing_required")
    assert check({"base": 10, "height": 5.0, "colour": "red"}) == (
        False,
        "simple_function_checker:unexpected_param",
    )
    assert check({"base": 11, "height": 5.0}) == (False, "value_error:others")


def test_wrong_name_and_wrong_count() -> None:
    verdict = check_ast([AREA], [{"area": {"base": 10, "height": 5.0}}], ANSWER, "simple_python")
    assert verdict.error_type == "simple_function_checker:wrong_func_name"
    verdict = check_ast([AREA], [], ANSWER, "simple_python")
    assert verdict.error_type == "simple_function_checker:wrong_count"
    verdict = check_ast([AREA], [{"calc.area": {"base": 10, "height": 5.0}}] * 2, ANSWER, "multiple")
    assert verdict.error_type == "multiple_function_checker:wrong_count"


def test_parallel_calls_match_in_any_order_but_all_must_match() -> None:
    answer = [{"calc.area": {"base": [1], "height": [2.0]}}, {"calc.area": {"base": [3], "height": [4.0]}}]
    both = [{"calc.area": {"base": 3, "height": 4.0}}, {"calc.area": {"base": 1, "height": 2.0}}]
    assert check_ast([AREA], both, answer, "parallel").valid
    wrong = [both[0], {"calc.area": {"base": 1, "height": 9.0}}]
    assert check_ast([AREA], wrong, answer, "parallel").error_type == (
        "parallel_function_checker_no_order:cannot_find_match"
    )
    assert check_ast([AREA], both[:1], answer, "parallel_multiple").error_type == (
        "parallel_function_checker_no_order:wrong_count"
    )


def test_output_that_is_not_a_list_of_calls_is_a_format_error() -> None:
    assert check_ast([AREA], [{"a": 1}], ANSWER, "simple_python").error_type == (
        "ast_decoder:decoder_wrong_output_format"
    )
    assert not is_call_format("text") and is_call_format([])


def test_relevance_rules() -> None:
    call = [{"calc.area": {"base": 1}}]
    assert check_relevance([], "irrelevance").valid
    assert check_relevance([{}], "live_irrelevance").valid, "[{}] is not a call"
    assert check_relevance(None, "irrelevance").valid, "undecodable output is not a call"
    assert check_relevance(call, "irrelevance").error_type == "irrelevance_error:decoder_success"
    assert check_relevance(call, "live_relevance").valid
    assert check_relevance([], "live_relevance").error_type == "relevance_error:decoder_failed"
    assert has_calls(call) and not has_calls([{}])
