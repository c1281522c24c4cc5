"""The PHP-style bracket parser that reads amoCRM webhook bodies."""

from __future__ import annotations

import time
from urllib.parse import quote_plus

import pytest

from console.amocrm.inbound.formparse import (
    MAX_DEPTH,
    MAX_FIELDS,
    FormParseError,
    as_list,
    parse_form,
    split_key,
)
from tests.fixtures.samples import SAMPLES


def encode(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in pairs)


def test_it_nests_bracket_keys_like_php() -> None:
    data = parse_form("leads[status][0][id]=7&leads[status][0][custom_fields][0][values][0][value]=x&a=1")
    assert data == {
        "leads": {"status": {"0": {"id": "7", "custom_fields": {"0": {"values": {"0": {"value": "x"}}}}}}},
        "a": "1",
    }


def test_it_appends_empty_brackets_with_the_next_integer_index() -> None:
    data = parse_form("tags[]=a&tags[]=b&tags[5]=c&tags[]=d")
    assert data["tags"] == {"0": "a", "1": "b", "5": "c", "6": "d"}


def test_appending_is_linear_a_120_kb_body_of_appends_parses_in_well_under_a_second() -> None:
    body = ("leads[status][]=" + "x" * 4 + "&") * 5_500  # about 120 KB, 5 500 appends to one group
    assert len(body) > 115_000
    started = time.perf_counter()
    data = parse_form(body.encode())
    assert time.perf_counter() - started < 0.5
    assert len(data["leads"]["status"]) == 5_500 and data["leads"]["status"]["5499"] == "xxxx"


def test_appending_follows_the_largest_integer_key_and_restarts_in_a_replaced_group() -> None:
    assert parse_form("a[7]=x&a[]=y&a[3]=z&a[]=w")["a"] == {"7": "x", "8": "y", "3": "z", "9": "w"}
    assert parse_form("a[]=1&a[]=2&a=s&a[]=3") == {"a": {"0": "3"}}
    assert parse_form("a[x][]=1&a[y][]=2&a[x][]=3") == {"a": {"x": {"0": "1", "1": "3"}, "y": {"0": "2"}}}


def test_only_ascii_digits_make_integer_keys() -> None:
    assert parse_form("a[²]=x&a[]=y")["a"] == {"²": "x", "0": "y"}
    assert parse_form("a[07]=x&a[]=y")["a"] == {"07": "x", "0": "y"}


def test_it_refuses_more_fields_than_the_limit() -> None:
    with pytest.raises(FormParseError, match="fields"):
        parse_form("a[]=1&" * (MAX_FIELDS + 1))


def test_it_decodes_percent_encoded_cyrillic_and_plus_as_space() -> None:
    body = encode([("leads[status][0][name]", "Свадьба в «Метрополе»"), ("note", "a b")])
    data = parse_form(body.encode())
    assert data["leads"]["status"]["0"]["name"] == "Свадьба в «Метрополе»"
    assert data["note"] == "a b"


def test_it_reads_raw_utf8_bytes_as_well_as_percent_escapes() -> None:
    assert parse_form("name=Сайт".encode())["name"] == "Сайт"


def test_it_keeps_a_key_with_an_unclosed_bracket_as_a_plain_name() -> None:
    assert split_key("a[b") == ["a_b"]
    assert parse_form("a[b=1") == {"a_b": "1"}


def test_it_ignores_text_after_the_last_closing_bracket() -> None:
    assert split_key("a[b]x") == ["a", "b"]


def test_a_later_value_replaces_an_earlier_one_scalar_or_group() -> None:
    assert parse_form("a=1&a[b]=2") == {"a": {"b": "2"}}
    assert parse_form("a[b]=2&a=1") == {"a": "1"}
    assert parse_form("a[b]=1&a[b]=2") == {"a": {"b": "2"}}


def test_empty_values_and_empty_chunks_are_kept_and_skipped() -> None:
    assert parse_form("a=&&b[c]=") == {"a": "", "b": {"c": ""}}


def test_it_rejects_bytes_that_are_not_utf8() -> None:
    with pytest.raises(FormParseError):
        parse_form(b"leads[status][0][name]=\xff\xfe")
    with pytest.raises(FormParseError):
        parse_form("name=%FF%FE")


def test_it_rejects_keys_nested_deeper_than_the_limit() -> None:
    with pytest.raises(FormParseError):
        parse_form("a" + "[x]" * (MAX_DEPTH + 1) + "=1")


def test_as_list_reads_indexed_groups_in_index_order_and_nothing_else() -> None:
    assert as_list({"1": "b", "0": "a", "10": "k", "x": "?"}) == ["a", "b", "k"]
    assert as_list("scalar") == []
    assert as_list({"01": "not an index"}) == []


def test_it_parses_several_entity_groups_in_one_body() -> None:
    body = encode(
        [
            ("leads[status][0][id]", "1"),
            ("leads[status][1][id]", "2"),
            ("leads[delete][0][id]", "3"),
            ("contacts[add][0][id]", "4"),
            ("contacts[add][0][type]", "company"),
            ("account[subdomain]", "demo"),
        ]
    )
    data = parse_form(body)
    assert [i["id"] for i in as_list(data["leads"]["status"])] == ["1", "2"]
    assert as_list(data["leads"]["delete"])[0]["id"] == "3"
    assert as_list(data["contacts"]["add"])[0]["type"] == "company"
    assert data["account"] == {"subdomain": "demo"}


@pytest.mark.parametrize("name", [f"webhook-{n}" for n in range(18, 25)])
def test_every_shared_real_sample_parses_into_items(name: str) -> None:
    files = sorted(SAMPLES.glob(f"{name}-*.txt")) if SAMPLES.is_dir() else []
    if not files:
        pytest.skip(f"shared amoCRM samples not found at {SAMPLES} (kept outside the repository)")
    data = parse_form(files[0].read_bytes())
    assert data["account"]["subdomain"] == "test000002"
    entity = "leads" if "lead" in name or name.endswith(("19", "20", "21", "22")) else "contacts"
    groups = data[entity]
    (action,) = groups
    (item,) = as_list(groups[action])
    assert item["id"].isdigit()
    assert item["last_modified"].isdigit()
