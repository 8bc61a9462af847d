"""The admin traffic-logs API over a real PostgreSQL: the key, every endpoint and filter,
the FastAPI gpt2giga's shapes and error details, and what it got wrong done right."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
import msgspec
import pytest

from gpt2giga.gigachat.fake.server import FakeGigaChat
from gpt2giga.observe.store import SUMMARY
from tests.ops.conftest import ADMIN, ADMIN_KEY, PROXY_KEY, SEEDED, T0, admin_app, ids, record, seed

ROUTES = [
    ("GET", "/_admin/logs"),
    ("GET", "/_admin/logs/tail"),
    ("GET", "/_admin/logs/export.ndjson"),
    ("GET", "/_admin/logs/export.csv"),
    ("POST", "/_admin/logs/retention/purge"),
    ("GET", "/_admin/logs/00000000-0000-4000-8000-000000000000"),
    ("GET", "/_admin/logs/00000000-0000-4000-8000-000000000000/request"),
    ("GET", "/_admin/logs/00000000-0000-4000-8000-000000000000/response"),
    ("POST", "/_admin/logs/00000000-0000-4000-8000-000000000000/replay"),
    ("POST", "/_admin/logs/00000000-0000-4000-8000-000000000000/redact"),
]


def over(app: object, **headers: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://gateway", headers=headers)


# --- the key ------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_wants_the_admin_key_before_anything_else(
    fake: FakeGigaChat, method: str, path: str
) -> None:
    app = admin_app(fake, None, GPT2GIGA_ENABLE_API_KEY_AUTH="true", GPT2GIGA_API_KEY=PROXY_KEY)
    async with over(app) as c:
        bad_param = "?limit=0&cursor=x"  # the key is checked before the parameters
        for headers in (
            {},
            {"x-admin-api-key": "wrong"},
            {"authorization": "Bearer wrong"},
            {"x-api-key": PROXY_KEY},  # the proxy key opens nothing here
            {"authorization": f"Bearer {PROXY_KEY}"},
        ):
            answer = await c.request(method, path + bad_param, headers=headers)
            assert (answer.status_code, answer.json()) == (
                403,
                {"detail": "Invalid admin API key"},
            )
        for headers in (
            {"x-admin-api-key": f" {ADMIN_KEY} "},
            {"authorization": f"bearer {ADMIN_KEY}"},
        ):
            answer = await c.request(method, path, headers=headers)
            # Past the key: no PostgreSQL configured here.
            assert (answer.status_code, answer.json()) == (
                503,
                {"detail": "Postgres traffic log query store is not configured"},
            ) or (answer.status_code, answer.json()) == (404, {"detail": "Not Found"})


async def test_a_blank_admin_header_is_a_wrong_key_and_an_empty_one_is_no_header(
    fake: FakeGigaChat,
) -> None:
    async with over(admin_app(fake, None)) as c:
        bearer = {"authorization": f"Bearer {ADMIN_KEY}"}
        blank = await c.get("/_admin/logs", headers={**bearer, "x-admin-api-key": "  "})
        assert blank.status_code == 403  # as the FastAPI gpt2giga: no fallback from spaces
        empty = await c.get("/_admin/logs", headers={**bearer, "x-admin-api-key": ""})
        assert empty.status_code == 503


async def test_without_a_configured_admin_key_every_route_says_so(fake: FakeGigaChat) -> None:
    app = admin_app(fake, None, GPT2GIGA_ADMIN_API_KEY="")
    async with over(app, **ADMIN) as c:
        for method, path in ROUTES:
            answer = await c.request(method, path)
            assert (answer.status_code, answer.json()) == (
                403,
                {"detail": "Admin API key is required"},
            )


async def test_switched_off_the_routes_do_not_exist(fake: FakeGigaChat) -> None:
    app = admin_app(fake, None, GPT2GIGA_ADMIN_API_ENABLED="false")
    async with over(app, **ADMIN) as c:
        answer = await c.get("/_admin/logs")
    assert answer.status_code == 404 and "No route" in answer.json()["error"]["message"]


# --- list and filters ---------------------------------------------------------


async def test_the_list_is_newest_first_with_summary_records(seeded: httpx.AsyncClient) -> None:
    answer = await seeded.get("/_admin/logs")
    assert answer.status_code == 200
    body = answer.json()
    assert ids(answer) == ["f", "e", "d", "c", "b", "a"]
    assert (body["limit"], body["cursor"], body["next_cursor"]) == (100, None, None)
    newest = body["data"][0]
    assert list(newest) == [*SUMMARY, "has_request_body", "has_response_body"]
    assert (newest["has_request_body"], newest["has_response_body"]) == (True, True)
    assert newest["created_at"] == (T0 + timedelta(minutes=50)).isoformat()  # `+00:00`
    assert newest["id"] == SEEDED[5].id and newest["status_code"] == 500
    assert newest["metadata"]["lifecycle"] == "request_completed"  # jsonb as JSON, not text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # `from`/`to` are ISO-8601 and inclusive (the FastAPI gpt2giga answered them with a 500)
        ({"from": "2025-03-01T12:20:00Z"}, ["f", "e", "d", "c"]),
        ({"to": "2025-03-01T12:20:00+00:00"}, ["c", "b", "a"]),
        ({"from": "2025-03-01T15:10:00+03:00", "to": "2025-03-01T12:30:00Z"}, ["d", "c", "b"]),
        ({"from": "2025-03-01T12:40:00"}, ["f", "e"]),  # no offset: UTC
        ({"to": "2025-03-01"}, []),  # a date is its midnight
        ({"protocol": "openai"}, ["f", "d", "a"]),
        ({"route": "/messages"}, ["b"]),
        ({"model": "gpt-4o"}, ["a"]),  # the requested model...
        ({"model": "GigaChat-2-Max"}, ["a"]),  # ...or the effective one
        ({"status_code": "429"}, ["c"]),
        ({"has_error": "true"}, ["f", "c"]),
        ({"has_error": "false"}, ["e", "d", "b", "a"]),  # no status counts as no error
        ({"request_id": "d"}, ["d"]),
        ({"trace_id": "trace-b"}, ["b"]),
        ({"api_key_hash": "hmac-sha256:00000000000000dd"}, ["d"]),
        ({"protocol": "openai", "has_error": "false"}, ["d", "a"]),  # ANDed
        ({"protocol": "", "route": ""}, ["f", "e", "d", "c", "b", "a"]),  # empty: ignored
    ],
)
async def test_each_filter_finds_what_it_names(
    seeded: httpx.AsyncClient, query: dict[str, str], expected: list[str]
) -> None:
    answer = await seeded.get("/_admin/logs", params=query)
    assert answer.status_code == 200, answer.text
    assert ids(answer) == expected


async def test_an_unescaped_plus_in_a_time_is_read_as_the_offset(
    seeded: httpx.AsyncClient,
) -> None:
    answer = await seeded.get("/_admin/logs?to=2025-03-01T12:10:00+00:00")  # `+` sent as is
    assert ids(answer) == ["b", "a"]


async def test_bad_parameters_get_fastapis_422_list_all_at_once(
    seeded: httpx.AsyncClient,
) -> None:
    answer = await seeded.get(
        "/_admin/logs",
        params={"limit": "0", "status_code": "two", "has_error": "maybe", "from": "yesterday"},
    )
    assert answer.status_code == 422
    assert answer.json() == {
        "detail": [
            {
                "type": "bool_parsing",
                "loc": ["query", "has_error"],
                "msg": "Input should be a valid boolean, unable to interpret input",
                "input": "maybe",
            },
            {
                "type": "datetime_parsing",
                "loc": ["query", "from"],
                "msg": "Input should be an ISO-8601 date or date-time, e.g. 2026-01-31T12:00:00Z",
                "input": "yesterday",
            },
            {
                "type": "int_parsing",
                "loc": ["query", "status_code"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": "two",
            },
            {
                "type": "greater_than_equal",
                "loc": ["query", "limit"],
                "msg": "Input should be greater than or equal to 1",
                "input": "0",
                "ctx": {"ge": 1},
            },
        ]
    }
    too_many = await seeded.get("/_admin/logs", params={"limit": "501"})
    assert too_many.json()["detail"][0]["ctx"] == {"le": 500}
    for cursor in ("-1", "x", "k12_not-a-uuid"):
        answer = await seeded.get("/_admin/logs", params={"cursor": cursor})
        assert (answer.status_code, answer.json()) == (400, {"detail": "Invalid cursor"})


async def test_pages_follow_the_cursor_and_stay_put_while_records_arrive(
    seeded: httpx.AsyncClient, postgres_dsn: str
) -> None:
    first = await seeded.get("/_admin/logs", params={"limit": "2"})
    assert ids(first) == ["f", "e"] and first.json()["next_cursor"]
    await seed(postgres_dsn, [record("g", 60)])  # a newer record arrives between pages
    second = await seeded.get(
        "/_admin/logs", params={"limit": "2", "cursor": first.json()["next_cursor"]}
    )
    assert ids(second) == ["d", "c"]  # no row repeated, none skipped
    assert second.json()["cursor"] == first.json()["next_cursor"]
    third = await seeded.get(
        "/_admin/logs", params={"limit": "2", "cursor": second.json()["next_cursor"]}
    )
    assert ids(third) == ["b", "a"]
    last = await seeded.get(
        "/_admin/logs", params={"limit": "2", "cursor": third.json()["next_cursor"]}
    )
    assert (ids(last), last.json()["next_cursor"]) == ([], None)
    offset = await seeded.get("/_admin/logs", params={"limit": "3", "cursor": "2"})
    assert ids(offset) == ["e", "d", "c"]  # the FastAPI gpt2giga's offsets still work


async def test_tail_is_the_newest_records(seeded: httpx.AsyncClient) -> None:
    answer = await seeded.get("/_admin/logs/tail", params={"limit": "2"})
    assert answer.json()["limit"] == 2 and ids(answer) == ["f", "e"]
    assert set(answer.json()) == {"data", "limit"}


# --- one record -------------------------------------------------------------


async def test_one_record_its_request_and_its_response(seeded: httpx.AsyncClient) -> None:
    rid = SEEDED[5].id
    summary = (await seeded.get(f"/_admin/logs/{rid}")).json()
    assert summary["request_id"] == "f" and "request_body" not in summary
    request = (await seeded.get(f"/_admin/logs/{rid}/request")).json()
    assert request == {
        "id": rid,
        "request_headers": {"user-agent": "t"},
        "request_body": {"model": "GigaChat", "messages": []},
    }
    response = (await seeded.get(f"/_admin/logs/{rid}/response")).json()
    assert response == {"id": rid, "response_body": {"error": "x"}}
    empty = (await seeded.get(f"/_admin/logs/{SEEDED[0].id}/response")).json()
    assert empty == {"id": SEEDED[0].id, "response_body": None}


@pytest.mark.parametrize("suffix", ["", "/request", "/response"])
async def test_a_bad_or_unknown_id_is_a_400_or_a_404(
    seeded: httpx.AsyncClient, suffix: str
) -> None:
    bad = await seeded.get(f"/_admin/logs/not-a-uuid{suffix}")
    assert (bad.status_code, bad.json()) == (400, {"detail": "Invalid traffic log id"})
    unknown = await seeded.get(f"/_admin/logs/00000000-0000-4000-8000-000000000000{suffix}")
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Traffic log event not found"})


# --- exports ----------------------------------------------------------------


async def test_the_ndjson_export_is_full_records_one_per_line(seeded: httpx.AsyncClient) -> None:
    answer = await seeded.get("/_admin/logs/export.ndjson", params={"protocol": "openai"})
    assert answer.headers["content-type"] == "application/x-ndjson"
    assert answer.text.endswith("\n")
    rows = [msgspec.json.decode(line) for line in answer.text.splitlines()]
    assert [r["request_id"] for r in rows] == ["f", "d", "a"]
    assert rows[0]["request_body"] == {"model": "GigaChat", "messages": []}
    assert len(rows[0]) == 26 and rows[2]["request_headers"] is None
    page = await seeded.get("/_admin/logs/export.ndjson", params={"limit": "2", "cursor": "2"})
    assert [msgspec.json.decode(x)["request_id"] for x in page.text.splitlines()] == ["d", "c"]
    none = await seeded.get("/_admin/logs/export.ndjson", params={"protocol": "litellm"})
    assert (none.status_code, none.text) == (200, "")


async def test_an_export_larger_than_a_batch_comes_whole_and_in_order(
    seeded: httpx.AsyncClient, postgres_dsn: str
) -> None:
    await seed(postgres_dsn, [record(f"m{n:04}", 100 + n) for n in range(1200)])
    answer = await seeded.get("/_admin/logs/export.ndjson", params={"limit": "5000"})
    got = [msgspec.json.decode(line)["request_id"] for line in answer.text.splitlines()]
    assert got == [f"m{n:04}" for n in reversed(range(1200))] + ["f", "e", "d", "c", "b", "a"]
    capped = await seeded.get("/_admin/logs/export.ndjson", params={"limit": "700"})
    assert len(capped.text.splitlines()) == 700
    assert (await seeded.get("/_admin/logs/export.ndjson?limit=5001")).status_code == 422


async def test_the_csv_export_has_the_contract_columns(seeded: httpx.AsyncClient) -> None:
    answer = await seeded.get("/_admin/logs/export.csv", params={"to": "2025-03-01T12:10:00Z"})
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.text.count("\r\n") == 3  # CRLF, Python's csv default
    header, *rows = list(csv.reader(io.StringIO(answer.text)))
    assert header[:3] == ["id", "created_at", "request_id"] and len(header) == 22
    assert header[-2:] == ["has_request_body", "has_response_body"]
    b = dict(zip(header, rows[0], strict=True))
    assert (b["request_id"], b["protocol"], b["route"]) == ("b", "anthropic", "/messages")
    assert (b["span_id"], b["has_request_body"]) == ("", "False")  # null: empty; bool: False
    assert "metadata" not in header and "client_ip_hash" not in header


# --- retention -------------------------------------------------------------


async def test_purge_counts_by_default_and_deletes_when_asked(
    seeded: httpx.AsyncClient, postgres_dsn: str
) -> None:
    now = datetime.now(UTC)
    await seed(
        postgres_dsn, [record(f"old{n}", 0, created_at=now - timedelta(days=3)) for n in range(5)]
    )
    # Expired after 2 days: those 5 and the 6 seeded ones (a year old and more).
    dry = await seeded.post("/_admin/logs/retention/purge", params={"retention_days": "2"})
    body = dry.json()
    assert dry.status_code == 200
    assert (body["dry_run"], body["expired"], body["deleted"], body["batches"]) == (True, 11, 0, 0)
    assert body["complete"] is None and body["retention_days"] == 2
    assert datetime.fromisoformat(body["cutoff"]) < now - timedelta(days=2) + timedelta(minutes=1)
    run = await seeded.post(
        "/_admin/logs/retention/purge",
        params={"retention_days": "2", "dry_run": "false", "batch_size": "4", "max_batches": "2"},
    )
    assert {k: run.json()[k] for k in ("expired", "deleted", "batches", "complete")} == {
        "expired": None,
        "deleted": 8,
        "batches": 2,
        "complete": False,
    }
    rest = await seeded.post(
        "/_admin/logs/retention/purge",
        params={"retention_days": "2", "dry_run": "false", "batch_size": "4", "max_batches": "5"},
    )
    assert (rest.json()["deleted"], rest.json()["batches"], rest.json()["complete"]) == (3, 1, True)
    assert ids(await seeded.get("/_admin/logs")) == []
    bad = await seeded.post("/_admin/logs/retention/purge", params={"retention_days": "3651"})
    assert bad.status_code == 422


# --- redact ----------------------------------------------------------------


async def test_redact_clears_payloads_and_notes_it(seeded: httpx.AsyncClient) -> None:
    rid = SEEDED[5].id
    answer = await seeded.post(f"/_admin/logs/{rid}/redact", json={"fields": ["response_body"]})
    body = answer.json()
    assert (answer.status_code, body["id"], body["redacted_fields"]) == (
        200,
        rid,
        ["response_body"],
    )
    result = body["result"]
    assert (
        result["request_headers_redacted"],
        result["request_body_redacted"],
        result["response_body_redacted"],
    ) == (False, False, True)
    note = result["metadata"]["manual_redaction"]
    assert note["fields"] == ["response_body"] and datetime.fromisoformat(note["redacted_at"])
    assert result["metadata"]["lifecycle"] == "request_completed"  # merged, not replaced
    summary = (await seeded.get(f"/_admin/logs/{rid}")).json()
    assert (summary["has_request_body"], summary["has_response_body"]) == (True, False)
    everything = await seeded.post(f"/_admin/logs/{rid}/redact")  # no body: all three
    assert everything.json()["redacted_fields"] == [
        "request_body",
        "request_headers",
        "response_body",
    ]
    assert (await seeded.get(f"/_admin/logs/{rid}/request")).json()["request_body"] is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[1]", "Expected JSON object body"),
        (b"{not json", "Expected JSON object body"),
        (b'{"fields": "request_body"}', "Expected fields to be a list of payload field names"),
        (b'{"fields": [1]}', "Expected fields to be a list of payload field names"),
        (b'{"fields": ["secrets", "metadata"]}', "Unsupported redaction fields: metadata, secrets"),
        (b'{"fields": []}', "At least one redaction field is required"),
    ],
)
async def test_redact_refuses_what_it_cannot_do(
    seeded: httpx.AsyncClient, body: bytes, message: str
) -> None:
    answer = await seeded.post(f"/_admin/logs/{SEEDED[0].id}/redact", content=body)
    assert (answer.status_code, answer.json()) == (400, {"detail": message})


async def test_redact_of_an_unknown_record_is_a_404(seeded: httpx.AsyncClient) -> None:
    answer = await seeded.post("/_admin/logs/00000000-0000-4000-8000-000000000000/redact")
    assert (answer.status_code, answer.json()) == (404, {"detail": "Traffic log event not found"})


# --- the store down ---------------------------------------------------------


async def test_a_database_that_is_down_is_a_503_not_a_500(
    fake: FakeGigaChat, postgres_server: object, postgres_dsn: str
) -> None:
    app = admin_app(fake, postgres_dsn)
    postgres_server.stop()  # type: ignore[attr-defined]
    try:
        async with over(app, **ADMIN) as c:
            answer = await c.get("/_admin/logs")
    finally:
        postgres_server.start()  # type: ignore[attr-defined]
    assert (answer.status_code, answer.json()) == (
        503,
        {"detail": "Postgres traffic log query store is unavailable"},
    )
