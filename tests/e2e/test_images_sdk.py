"""Images through every official SDK, as base64 and as a URL, to the fake GigaChat and back.

The fake GigaChat names the file ids a chat request carried, and its ids are
the MD5 of the uploaded bytes, so each test knows the exact answer. URLs are
served by a local server on 127.0.0.1, which the gateway under test is
configured to allow (the default refuses it, as one test shows).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from tests.e2e.conftest import GatewayFactory
from tests.local_server import ThreadedServer

MODEL = "GigaChat-2-Max"
# A real 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
B64 = base64.b64encode(PNG).decode()
QUESTION = "What is in the picture?"
PNG_ID = str(uuid.UUID(hashlib.md5(PNG).hexdigest()))
PDF_ID = str(uuid.UUID(hashlib.md5(PDF).hexdigest()))
SAID = f"Hello from the fake GigaChat! You said: {QUESTION} [files: {PNG_ID}]"


@pytest.fixture(scope="module")
def images() -> Iterator[ThreadedServer]:
    with ThreadedServer(
        {"/cat.png": ("image/png", PNG), "/cat": ("application/octet-stream", PNG)}
    ) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(start_gateway: GatewayFactory) -> str:
    """A gateway that may fetch from the local image server (http, 127.0.0.1 only)."""
    return start_gateway(
        GPT2GIGA_ATTACHMENT_URL_ALLOW_HTTP="true",
        GPT2GIGA_ATTACHMENT_URL_ALLOWED_NETWORKS="127.0.0.1/32",
    ).url


@pytest.fixture(params=["", "/v2"], ids=["v1", "v2"])
def base(request: pytest.FixtureRequest, gateway: str) -> str:
    return gateway + request.param


def image_source(kind: str, images: ThreadedServer) -> str:
    return f"data:image/png;base64,{B64}" if kind == "base64" else images.url("/cat.png")


# --- OpenAI -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["base64", "url"])
def test_openai_chat_sends_an_image(base: str, images: ThreadedServer, kind: str) -> None:
    with openai.OpenAI(base_url=base, api_key="-", max_retries=0) as client:
        completion = client.chat.completions.create(
            model=MODEL,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": QUESTION},
                        {"type": "image_url", "image_url": {"url": image_source(kind, images)}},
                    ],
                }
            ],
        )
    assert completion.choices[0].message.content == SAID


def test_openai_chat_sends_a_pdf(base: str) -> None:
    data = "data:application/pdf;base64," + base64.b64encode(PDF).decode()
    with openai.OpenAI(base_url=base, api_key="-", max_retries=0) as client:
        completion = client.chat.completions.create(
            model=MODEL,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Summarize"},
                        {"type": "file", "file": {"file_data": data, "filename": "spec.pdf"}},
                    ],
                }
            ],
        )
    assert completion.choices[0].message.content == (
        f"Hello from the fake GigaChat! You said: Summarize [files: {PDF_ID}]"
    )


@pytest.mark.parametrize("kind", ["base64", "url"])
def test_openai_responses_sends_an_image(base: str, images: ThreadedServer, kind: str) -> None:
    with openai.OpenAI(base_url=base, api_key="-", max_retries=0) as client:
        response = client.responses.create(
            model=MODEL,
            input=[
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": QUESTION},
                        {
                            "type": "input_image",
                            "image_url": image_source(kind, images),
                            "detail": "auto",
                        },
                    ],
                }
            ],
        )
    assert response.output_text == SAID


def test_a_loopback_url_is_refused_by_default(
    start_gateway: GatewayFactory, images: ThreadedServer
) -> None:
    url = start_gateway(GPT2GIGA_ATTACHMENT_URL_ALLOW_HTTP="true").url
    before = len(images.paths)
    with (
        openai.OpenAI(base_url=url, api_key="-", max_retries=0) as client,
        pytest.raises(openai.BadRequestError) as refused,
    ):
        client.chat.completions.create(
            model=MODEL,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": images.url("/cat.png")}}
                    ],
                }
            ],
        )
    assert refused.value.status_code == 400
    assert refused.value.message.endswith(
        "messages[0].content[0]: cannot fetch the URL: 127.0.0.1 is a loopback address"
    )
    assert len(images.paths) == before


# --- Anthropic ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["base64", "url"])
def test_anthropic_sends_an_image(base: str, images: ThreadedServer, kind: str) -> None:
    source: dict[str, str] = (
        {"type": "base64", "media_type": "image/png", "data": B64}
        if kind == "base64"
        else {"type": "url", "url": images.url("/cat.png")}
    )
    with anthropic.Anthropic(base_url=base, api_key="-", max_retries=0) as client:
        message = client.messages.create(
            model=MODEL,
            max_tokens=64,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": source},  # type: ignore[misc, list-item]
                        {"type": "text", "text": QUESTION},
                    ],
                }
            ],
        )
    assert message.content[0].type == "text"
    assert message.content[0].text == SAID


# --- Gemini -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["base64", "url"])
def test_google_genai_sends_an_image(base: str, images: ThreadedServer, kind: str) -> None:
    picture = (
        types.Part.from_bytes(data=PNG, mime_type="image/png")
        if kind == "base64"
        else types.Part.from_uri(file_uri=images.url("/cat"), mime_type="image/png")
    )
    with genai.Client(api_key="-", http_options={"base_url": base}) as client:
        response = client.models.generate_content(
            model=MODEL,
            contents=[types.Content(role="user", parts=[types.Part(text=QUESTION), picture])],
        )
    assert response.text == SAID
