"""Every request parameter of the official SDKs is applied, named or refused; README says which.

The cases and the table come from `tests/parameters.py` (generated from the
SDKs' parameter types); `make parameters-table` rewrites README's copy.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.parameter_dialects import DIALECTS
from tests.parameters import README, Gateway, Outcome, cases, observe, section, table

Results = list[tuple[str, dict[str, dict[str, Outcome]]]]


@pytest.fixture(scope="module")
def results() -> Results:
    """Each dialect's cases through the app and the fake GigaChat, once for the module."""

    async def run() -> Results:
        gateway = Gateway()
        return [(d.title, await observe(gateway, runner, d)) for d, runner in DIALECTS]

    return asyncio.run(run())


@pytest.mark.parametrize("dialect", [d for d, _ in DIALECTS], ids=lambda d: d.title.split(" (")[0])
def test_every_sdk_parameter_has_a_case(dialect: object) -> None:
    from tests.parameters import Dialect

    assert isinstance(dialect, Dialect)
    covered = {name for case in cases(dialect) for name in case.params}
    assert covered >= set(dialect.params)


def test_no_parameter_is_dropped_silently(results: Results) -> None:
    silent = [
        (title, name, contract, seen.detail)
        for title, by_name in results
        for name, by_contract in by_name.items()
        for contract, seen in by_contract.items()
        if seen.kind == "silent"
    ]
    assert silent == []


def test_a_refusal_says_why_in_the_clients_shape(results: Results) -> None:
    refused = [
        seen.detail
        for _, by_name in results
        for by_contract in by_name.values()
        for seen in by_contract.values()
        if seen.kind == "refused"
    ]
    assert refused
    for detail in refused:
        status, _, message = detail.partition(": ")
        assert status in ("400", "404"), detail
        assert len(message) > 20, detail


def test_the_gateways_own_choices_show_in_the_table(results: Results) -> None:
    """A few rows read back, so that a broken generator cannot pass as a table."""
    by_title = dict(results)
    chat = next(v for k, v in by_title.items() if k.startswith("OpenAI Chat"))
    assert chat["temperature"]["v1"] == Outcome("applied", "temperature")
    assert chat["temperature"]["v2"] == Outcome("applied", "model_options.temperature")
    assert chat["seed"]["v2"] == Outcome("ignored", "seed")
    assert chat["stop"]["v1"].kind == "gateway"
    giga = next(v for k, v in by_title.items() if k.startswith("GigaChat"))
    assert giga["profanity_check"]["v1"] == Outcome("applied", "profanity_check")
    assert giga["profanity_check"]["v2"] == Outcome("applied", "disable_filter")
    assert giga["filter_config.request_content"]["v1"] == Outcome(
        "ignored", "extra_body.filter_config"
    )


def test_readme_holds_the_generated_table(results: Results) -> None:
    expected = section([table(title, by_name) for title, by_name in results])
    assert expected in README.read_text(encoding="utf-8"), (
        "README.md's parameter table is out of date: run `make parameters-table`"
    )
