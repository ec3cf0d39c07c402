"""The agent's reply as A2A parts, whatever the agent sends.

Structured output a protobuf `Struct` cannot hold (numbers beyond a double,
NaN, lone surrogates, deep nesting) stays a text part, as sent; generated
file names are safe basenames and active media types are not advertised.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from agents_core.a2a.parts import Files, ReplyStream, reply_parts
from agents_core.files import media_type, safe_name
from agents_core.foundry.types import Annotation

FILES = Files("https://gw.example", "echo")
HUGE = "1" + "0" * 400


def _rpc(url: str, method: str, params: dict[str, Any], call_id: Any = 1) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": call_id, "method": method, "params": params}
    return httpx.post(url, json=body, timeout=30)


# 1. Structured output a data part cannot hold is a text part


@pytest.mark.parametrize(
    "text",
    [
        f'{{"a": {HUGE}}}',  # beyond a double's range
        '{"a": 9007199254740993}',  # a double would change it
        '{"a": NaN}',
        '{"a": [Infinity]}',
        '{"a": "\\ud800"}',  # a lone surrogate
        '{"\\udfff": 1}',
        '{"a": ' + "[" * 60 + "]" * 60 + "}",  # deeper than protobuf decodes
        '{"a": ' + "[" * 5000 + "]" * 5000 + "}",  # deeper than Python's json recursion
    ],
)
def test_json_a_struct_cannot_hold_stays_text(text: str) -> None:
    parts = reply_parts(text, [], FILES, json_output=True)
    assert [part.WhichOneof("content") for part in parts] == ["text"]
    assert parts[0].text == text
    stream = ReplyStream(FILES)
    stream.parts(text, [])
    assert stream.whole(json_output=True) is None  # the streamed text stands


def test_json_a_struct_holds_is_one_data_part() -> None:
    text = '{"a": 9007199254740992, "b": [1.5, {"c": null}], "d": "\\u00e9"}'
    parts = reply_parts(text, [], FILES, json_output=True)
    assert [part.WhichOneof("content") for part in parts] == ["data"]


def test_a_run_whose_json_reply_overflows_reads_back_as_text(emulated: str) -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"const": int(HUGE)}},
        "required": ["a"],
        "additionalProperties": False,
    }
    chat = httpx.post(
        f"{emulated}/v1/chat/completions",
        json={
            "model": "echo",
            "messages": [{"role": "user", "content": "hi"}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": schema},
            },
        },
        timeout=30,
    )
    assert chat.status_code == 200, chat.text
    thread_id = chat.json()["thread_id"]
    url = f"{emulated}/a2a/echo"
    listed = _rpc(
        url, "ListTasks", {"contextId": thread_id, "includeArtifacts": True}, call_id="list"
    )
    assert listed.status_code == 200, listed.text
    task = listed.json()["result"]["tasks"][0]
    for got in (
        task,
        _rpc(url, "GetTask", {"id": task["id"]}, call_id=7).json()["result"],
    ):
        (part,) = got["artifacts"][0]["parts"]
        assert json.loads(part["text"]) == {"a": int(HUGE)}
    legacy = _rpc(url, "tasks/get", {"id": task["id"]}).json()
    assert legacy["result"]["artifacts"][0]["parts"][0]["kind"] == "text"


# 6. Generated file names


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("..\\..\\evil.bat", "evil.bat"),
        ("../../etc/passwd", "passwd"),
        ("sandbox:/mnt/data/report.csv", "report.csv"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("a\r\nSet-Cookie: x.txt", "aSet-Cookie: x.txt"),
        ("tab\there\x00\x7f.txt", "tabhere.txt"),
        ("name\u200b\u2066.txt", "name.txt"),
        ("..", "file-1"),
        ("trailing. . ", "trailing"),
        ("", "file-1"),
    ],
)
def test_file_names_are_safe_basenames(given: str, expected: str) -> None:
    assert safe_name(given, "file-1") == expected


def test_long_file_names_keep_their_extension() -> None:
    name = safe_name("x" * 1000 + ".csv")
    assert len(name) == 200 and name.endswith(".csv")
    assert len(safe_name("y" * 1000)) == 200


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("page.html", "application/octet-stream"),
        ("page.htm", "application/octet-stream"),
        ("page.xhtml", "application/octet-stream"),
        ("logo.svg", "application/octet-stream"),
        ("app.js", "application/octet-stream"),
        ("app.mjs", "application/octet-stream"),
        ("data.xml", "application/octet-stream"),
        ("movie.swf", "application/octet-stream"),
        ("nothing", "application/octet-stream"),
        ("report.csv", "text/csv"),
        ("chart.png", "image/png"),
        ("notes.txt", "text/plain"),
        ("sheet.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("doc.pdf", "application/pdf"),
    ],
)
def test_active_media_types_are_not_advertised(name: str, expected: str) -> None:
    assert media_type(name) == expected


def test_a_generated_file_part_is_safe() -> None:
    annotation = Annotation(
        type="container_file_citation",
        file_id="cfile_1",
        container_id="cntr_1",
        filename="..\\..\\x\u202eloh.html",
    )
    part = Files("https://gw.example", "echo").part(annotation)
    assert (part.filename, part.media_type) == ("xloh.html", "application/octet-stream")
    classic = Annotation(type="file_path", file_id="assistant-1", text="sandbox:/mnt/data/\r\n")
    assert Files("https://gw.example", "echo").part(classic).filename == "assistant-1"


def test_a_generated_file_is_a_safe_part_and_an_inert_download(emulated: str) -> None:
    message = {
        "messageId": "tck-artifact-file-1",
        "role": "ROLE_USER",
        "parts": [{"text": "a file, please"}],
    }
    sent = _rpc(f"{emulated}/a2a/tck", "SendMessage", {"message": message})
    parts = sent.json()["result"]["task"]["artifacts"][0]["parts"]
    [file] = [part for part in parts if "url" in part]
    assert (file["filename"], file["mediaType"]) == ("output.txt", "text/plain")
    download = httpx.get(file["url"], timeout=30)
    assert download.status_code == 200
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-security-policy"].startswith("sandbox")


def test_the_openai_front_doors_hand_out_the_same_safe_names() -> None:
    from agents_core.foundry.types import Annotation
    from agents_core.openai.citations import chat_annotation, response_annotation

    item = Annotation(
        type="container_file_citation",
        start_index=0,
        end_index=5,
        file_id="cfile_1",
        container_id="cntr_1",
        filename="..\\..\\evil\u202etxt.bat",
    )
    chat = chat_annotation(item, "planner:1")
    assert chat["container_file_citation"]["filename"] == "eviltxt.bat"
    assert response_annotation(item, "planner:1")["filename"] == "eviltxt.bat"
