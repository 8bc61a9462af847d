"""The benchmark's scenarios: one entry per client request shape, with realistic bodies.

A scenario is the request a client sends to a gateway and the check that the
answer is right (run once per gateway before anything is measured). Adding a
dialect's scenario is one `Scenario(...)` entry in `SCENARIOS`; the stand-in
answers from the upstream body alone (streaming or not, functions or not).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# What the stand-in answers (benchmarks/standin.py): the text, and the function it calls.
ANSWER_START = "The failing test comes from the retry loop"
CALLED_FUNCTION = "read_file"
CALLED_PATH = "src/app/main.py"

SYSTEM_PROMPT = (
    "You are a senior Python engineer pairing with the user on a small web service. "
    "Answer precisely and briefly. Prefer concrete code over prose; when you change code, "
    "show the smallest diff that works and explain the one reason it is right. Never invent "
    "APIs: if you are unsure whether a function exists, say so and suggest how to check. "
    "The project uses Python 3.11, httpx, msgspec and pytest; tests must stay deterministic "
    "(no sleeping, no network) and every public function has type hints."
)

# About 2 KB of conversation: a coding assistant a few turns into a debugging session.
HISTORY: list[dict[str, Any]] = [
    {"role": "system", "content": SYSTEM_PROMPT},
    {
        "role": "user",
        "content": "Our client retries on 429 and 5xx. Since yesterday every request takes at "
        "least half a second, even against the local fake. The test log says:\n"
        "tests/test_client.py::test_chat_ok PASSED [0.52s]\n"
        "tests/test_client.py::test_models PASSED [0.51s]\n"
        "tests/test_client.py::test_stream PASSED [0.53s]\n"
        "tests/test_client.py::test_429_retries PASSED [1.58s]\n"
        "Where would you look first?",
    },
    {
        "role": "assistant",
        "content": "Look at the retry loop: a fixed delay on every request usually means the "
        "backoff runs before the first attempt. Can you paste `_send` from client.py?",
    },
    {
        "role": "user",
        "content": "Here it is:\n```python\nasync def _send(self, request):\n    attempt = 0\n"
        "    while True:\n        await asyncio.sleep(self._backoff(attempt))\n"
        "        response = await self.pool.send(request)\n"
        "        if response.status_code not in RETRY or attempt >= self.max_retries:\n"
        "            return response\n        attempt += 1\n```\n"
        "and `_backoff(0)` returns 0.5 * 2 ** 0 plus jitter.",
    },
    {
        "role": "assistant",
        "content": "That is it: the sleep is the first statement of the loop, so attempt 0 "
        "already waits `_backoff(0)` = 0.5 s plus jitter. The 429 test takes three times "
        "as long because it pays the same needless first wait on every attempt.",
    },
    {
        "role": "user",
        "content": "Right. What is the smallest fix, and what test would have caught it? "
        "Keep the jitter and the Retry-After handling as they are.",
    },
]

_STRING = {"type": "string"}


def _fn(name: str, description: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": props,
                "required": required,
                "additionalProperties": False,
            },
        },
    }


def _s(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _i(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "integer", "description": description, **extra}


# Twenty tools of the kind coding agents (Claude Code, Codex, Qwen Code) send.
TOOLS: list[dict[str, Any]] = [
    _fn("read_file", "Read a text file from the workspace, optionally a range of lines.",
        {"path": _s("Path relative to the workspace root."),
         "start_line": _i("First line, 1-based.", minimum=1),
         "end_line": _i("Last line, inclusive.", minimum=1)}, ["path"]),
    _fn("write_file", "Create or overwrite a file with the given content.",
        {"path": _s("Path relative to the workspace root."),
         "content": _s("The complete new content of the file.")}, ["path", "content"]),
    _fn("edit_file", "Replace exact occurrences of a string in a file.",
        {"path": _s("Path relative to the workspace root."),
         "old_string": _s("Text to replace; must match exactly, including whitespace."),
         "new_string": _s("Replacement text."),
         "replace_all": {"type": "boolean", "description": "Replace every occurrence.",
                         "default": False}}, ["path", "old_string", "new_string"]),
    _fn("list_directory", "List the entries of a directory.",
        {"path": _s("Directory path."), "recursive": {"type": "boolean", "default": False},
         "ignore": {"type": "array", "items": _STRING, "description": "Glob patterns to skip."}},
        ["path"]),
    _fn("glob", "Find files whose paths match a glob pattern, newest first.",
        {"pattern": _s("Glob such as `src/**/*.py`."), "path": _s("Directory to search in.")},
        ["pattern"]),
    _fn("grep", "Search file contents with a regular expression (ripgrep syntax).",
        {"pattern": _s("Regular expression."), "path": _s("File or directory."),
         "glob": _s("Only files matching this glob."),
         "output_mode": _s("What to return.", enum=["content", "files_with_matches", "count"]),
         "context_lines": _i("Lines of context around each match.", minimum=0, maximum=20),
         "case_insensitive": {"type": "boolean"}}, ["pattern"]),
    _fn("run_shell_command", "Run a shell command in the workspace and return its output.",
        {"command": _s("The command line."),
         "timeout_ms": _i("Kill the command after this long.", minimum=1000, maximum=600000),
         "description": _s("Five to ten words on what the command does."),
         "run_in_background": {"type": "boolean"}}, ["command"]),
    _fn("run_tests", "Run the project's tests, optionally a subset.",
        {"selector": _s("pytest node id or -k expression."),
         "fail_fast": {"type": "boolean", "default": True},
         "extra_args": {"type": "array", "items": _STRING}}, []),
    _fn("git_status", "Show the working tree status.",
        {"porcelain": {"type": "boolean", "default": True}}, []),
    _fn("git_diff", "Show changes between the working tree, the index or commits.",
        {"staged": {"type": "boolean"}, "paths": {"type": "array", "items": _STRING},
         "base": _s("Commit or branch to compare against.")}, []),
    _fn("git_commit", "Commit the staged changes.",
        {"message": _s("Commit message: a summary line, a blank line, then the body."),
         "amend": {"type": "boolean", "default": False}}, ["message"]),
    _fn("web_search", "Search the web and return titles, URLs and snippets.",
        {"query": _s("Search query."),
         "max_results": _i("How many results.", minimum=1, maximum=20, default=5),
         "allowed_domains": {"type": "array", "items": _STRING},
         "recency_days": _i("Only pages newer than this.", minimum=1)}, ["query"]),
    _fn("web_fetch", "Fetch a URL and return its content as Markdown.",
        {"url": _s("Absolute http(s) URL.", format="uri"),
         "prompt": _s("What to extract from the page."),
         "max_bytes": _i("Truncate after this many bytes.", minimum=1024)}, ["url"]),
    _fn("todo_write", "Replace the session's task list.",
        {"todos": {"type": "array", "items": {
            "type": "object",
            "properties": {"id": _STRING, "content": _s("What to do."),
                           "status": _s("State.", enum=["pending", "in_progress", "completed"]),
                           "priority": _s("Priority.", enum=["high", "medium", "low"])},
            "required": ["id", "content", "status"], "additionalProperties": False}}},
        ["todos"]),
    _fn("ask_user", "Ask the user a question and wait for the answer.",
        {"question": _s("One clear question."),
         "options": {"type": "array", "items": _STRING, "maxItems": 4,
                     "description": "Suggested answers, if the choice is closed."}},
        ["question"]),
    _fn("python_exec", "Execute a Python snippet in a sandbox and return stdout and stderr.",
        {"code": _s("Python source."), "timeout_s": {"type": "number", "minimum": 0.1,
                                                     "maximum": 120}}, ["code"]),
    _fn("http_request", "Send an HTTP request to a service under development.",
        {"method": _s("HTTP method.", enum=["GET", "POST", "PUT", "PATCH", "DELETE"]),
         "url": _s("Absolute URL.", format="uri"),
         "headers": {"type": "object", "additionalProperties": _STRING},
         "json_body": {"type": ["object", "array", "null"], "description": "JSON body."}},
        ["method", "url"]),
    _fn("search_docs", "Search the project's documentation and API reference.",
        {"query": _s("What to look for."),
         "section": _s("Limit to a section.", enum=["api", "guides", "changelog"])},
        ["query"]),
    _fn("create_pull_request", "Open a pull request from the current branch.",
        {"title": _s("Title, under 70 characters.", maxLength=70), "body": _s("Description."),
         "base": _s("Target branch.", default="main"), "draft": {"type": "boolean"},
         "labels": {"type": "array", "items": _STRING}}, ["title", "body"]),
    _fn("spawn_subagent", "Delegate a self-contained task to a sub-agent with its own context.",
        {"description": _s("Three to five words."), "prompt": _s("The full task."),
         "agent_type": _s("Which agent.", enum=["general", "explore", "review"]),
         "model": {"anyOf": [_STRING, {"type": "null"}], "description": "Model override."}},
        ["description", "prompt"]),
]  # fmt: skip

AGENT_HISTORY = [
    {"role": "system", "content": SYSTEM_PROMPT},
    {
        "role": "user",
        "content": "The service returns 500 on /orders when the cart is empty. Find the cause "
        "in src/app/main.py and fix it; run the tests afterwards.",
    },
]


def _body(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _json_of(body: bytes) -> Any:
    return json.loads(body)


def check_openai_text(body: bytes) -> str | None:
    message = _json_of(body)["choices"][0]["message"]
    if not str(message.get("content", "")).startswith(ANSWER_START):
        return f"unexpected content {message.get('content')!r:.80}"
    return None


def check_openai_tool_call(body: bytes) -> str | None:
    choice = _json_of(body)["choices"][0]
    calls = choice["message"].get("tool_calls") or []
    if choice.get("finish_reason") != "tool_calls" or not calls:
        return f"no tool call: {choice!r:.120}"
    function = calls[0]["function"]
    if function["name"] != CALLED_FUNCTION or json.loads(function["arguments"])["path"] != (
        CALLED_PATH
    ):
        return f"wrong tool call {function!r:.120}"
    return None


def check_openai_stream(body: bytes) -> str | None:
    datas = [line[6:] for line in body.split(b"\n") if line.startswith(b"data: ")]
    if not datas or datas[-1] != b"[DONE]":
        return "the stream does not end with data: [DONE]"
    text = "".join(
        (c["choices"][0]["delta"].get("content") or "")
        for c in map(json.loads, datas[:-1])
        if c.get("choices")
    )
    return None if text.startswith(ANSWER_START) else f"streamed text {text!r:.80}"


def _sse(body: bytes) -> list[tuple[str | None, Any]]:
    """(event, JSON data) pairs of an SSE body; `[DONE]` and comments skipped."""
    events: list[tuple[str | None, Any]] = []
    for block in body.replace(b"\r\n", b"\n").split(b"\n\n"):
        event, data = None, []
        for line in block.split(b"\n"):
            if line.startswith(b"event:"):
                event = line[6:].strip().decode()
            elif line.startswith(b"data:"):
                data.append(line[5:].strip())
        if data and data != [b"[DONE]"]:
            events.append((event, json.loads(b"\n".join(data))))
    return events


def _starts(text: str, what: str) -> str | None:
    return None if text.startswith(ANSWER_START) else f"{what} {text!r:.80}"


def check_anthropic_text(body: bytes) -> str | None:
    blocks = _json_of(body)["content"]
    return _starts("".join(b.get("text", "") for b in blocks if b["type"] == "text"), "text")


def check_anthropic_stream(body: bytes) -> str | None:
    events = _sse(body)
    if not events or events[-1][1].get("type") != "message_stop":
        return "the stream does not end with message_stop"
    text = "".join(
        d["delta"].get("text", "") for _, d in events if d.get("type") == "content_block_delta"
    )
    return _starts(text, "streamed text")


def check_gemini_text(body: bytes) -> str | None:
    parts = _json_of(body)["candidates"][0]["content"]["parts"]
    return _starts("".join(p.get("text", "") for p in parts if not p.get("thought")), "text")


def check_responses_stream(body: bytes) -> str | None:
    events = _sse(body)
    if not events or events[-1][1].get("type") != "response.completed":
        return "the stream does not end with response.completed"
    text = "".join(d["delta"] for _, d in events if d.get("type") == "response.output_text.delta")
    return _starts(text, "streamed text")


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    body: bytes
    check: Callable[[bytes], str | None]
    stream: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    # The upstream path the stand-in serves it on, for the direct (no gateway) baseline.
    upstream_path: str = "/api/v1/chat/completions"
    title: str = ""


OPENAI_HEADERS = {"Authorization": "Bearer sk-bench"}
CHAT = {"model": "GigaChat-2-Max", "messages": HISTORY, "temperature": 0.2, "max_tokens": 1024}
# The same conversation in each dialect's own shape.
_TURNS = [m for m in HISTORY if m["role"] != "system"]
ANTHROPIC_HEADERS = {"x-api-key": "sk-bench", "anthropic-version": "2023-06-01"}
MESSAGES = {
    "model": "GigaChat-2-Max",
    "system": SYSTEM_PROMPT,
    "messages": _TURNS,
    "temperature": 0.2,
    "max_tokens": 1024,
}
GENERATE = {
    "systemInstruction": {"parts": [{"text": SYSTEM_PROMPT}]},
    "contents": [
        {"role": "model" if m["role"] == "assistant" else "user", "parts": [{"text": m["content"]}]}
        for m in _TURNS
    ],
    "generationConfig": {"temperature": 0.2, "maxOutputTokens": 1024},
}
RESPONSES = {
    "model": "GigaChat-2-Max",
    "instructions": SYSTEM_PROMPT,
    "input": _TURNS,
    "temperature": 0.2,
    "max_output_tokens": 1024,
    "stream": True,
}

SCENARIOS: list[Scenario] = [
    Scenario(
        "openai-chat",
        "/v1/chat/completions",
        _body(CHAT),
        check_openai_text,
        headers=OPENAI_HEADERS,
        title="OpenAI chat, ~2 KB history",
    ),
    Scenario(
        "openai-chat-stream",
        "/v1/chat/completions",
        _body({**CHAT, "stream": True}),
        check_openai_stream,
        stream=True,
        headers=OPENAI_HEADERS,
        title="OpenAI chat stream, ~2 KB history, 20 chunks",
    ),
    Scenario(
        "openai-tools",
        "/v1/chat/completions",
        _body(
            {
                "model": "GigaChat-2-Max",
                "messages": AGENT_HISTORY,
                "tools": TOOLS,
                "tool_choice": "auto",
                "temperature": 0,
            }
        ),
        check_openai_tool_call,
        headers=OPENAI_HEADERS,
        title="OpenAI chat with 20 agent tools -> a tool call",
    ),
    Scenario(
        "anthropic-messages",
        "/v1/messages",
        _body(MESSAGES),
        check_anthropic_text,
        headers=ANTHROPIC_HEADERS,
        title="Anthropic messages, ~2 KB history",
    ),
    Scenario(
        "anthropic-messages-stream",
        "/v1/messages",
        _body({**MESSAGES, "stream": True}),
        check_anthropic_stream,
        stream=True,
        headers=ANTHROPIC_HEADERS,
        title="Anthropic messages stream, ~2 KB history, 20 chunks",
    ),
    Scenario(
        "gemini-generate",
        "/v1beta/models/GigaChat-2-Max:generateContent",
        _body(GENERATE),
        check_gemini_text,
        headers={"x-goog-api-key": "bench"},
        title="Gemini generateContent, ~2 KB history",
    ),
    Scenario(
        "responses-stream",
        "/v1/responses",
        _body(RESPONSES),
        check_responses_stream,
        stream=True,
        headers=OPENAI_HEADERS,
        title="OpenAI Responses stream, ~2 KB history, 20 chunks",
    ),
]


def by_name(names: list[str] | None) -> list[Scenario]:
    if not names:
        return SCENARIOS
    known = {s.name: s for s in SCENARIOS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in names]
