"""Small pure parts of the bridge: header rendering, annotations, message kinds, where-texts."""

from __future__ import annotations

from mcpcred.bridge.channel import describe_where
from mcpcred.bridge.messages import Incoming, one_line
from mcpcred.bridge.modern import header_value, param_headers, render_param


def test_header_values_that_would_not_survive_http_are_base64_wrapped() -> None:
    assert header_value("plain-value 1") == "plain-value 1"
    for raw in ("Zürich", " lead", "trail ", "a\tb", "=?base64?eA==?="):
        wrapped = header_value(raw)
        assert wrapped.startswith("=?base64?") and wrapped.endswith("?=")
    assert (
        render_param(True) == "true" and render_param(3) == "3" and render_param({"a": 1}) is None
    )


def test_x_mcp_header_annotations_are_found_or_the_tool_is_invalid() -> None:
    schema = {
        "type": "object",
        "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "opts": {
                "type": "object",
                "properties": {"tier": {"type": "integer", "x-mcp-header": "Tier"}},
            },
        },
    }
    assert param_headers(schema) == {("region",): "Region", ("opts", "tier"): "Tier"}
    assert param_headers({"type": "object"}) == {}
    bad_token = {"properties": {"a": {"type": "string", "x-mcp-header": "has space"}}}
    bad_type = {"properties": {"a": {"type": "array", "x-mcp-header": "A"}}}
    duplicate = {
        "properties": {
            "a": {"type": "string", "x-mcp-header": "X"},
            "b": {"type": "string", "x-mcp-header": "x"},
        }
    }
    for schema in (bad_token, bad_type, duplicate):
        assert param_headers(schema) is None


def test_message_kinds_small_and_large() -> None:
    assert Incoming(b'{"jsonrpc":"2.0","id":1,"result":{}}').kind == "response"
    assert Incoming(b'{"jsonrpc":"2.0","id":"a","method":"roots/list"}').kind == "request"
    assert Incoming(b'{"jsonrpc":"2.0","method":"notifications/progress"}').kind == "notification"
    big = (
        b'{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"'
        + b"x" * (2 << 20)
        + b'"}]}}'
    )
    large = Incoming(big)
    assert large.kind == "response" and large.id == 7 and large.message is None


def test_one_line_keeps_json_and_ends_in_one_newline() -> None:
    assert one_line(b'{\n  "a": "b"\r\n}\n') == b'{   "a": "b"  }\n'


def test_where_texts_name_origin_and_path_only() -> None:
    assert (
        describe_where("https://user:pw@host.example:8443/mcp?key=abc")
        == "https://host.example:8443/mcp"
    )
    assert (
        describe_where("https://h.example/mcp/sk1234567890abcdefXYZ/sse")
        == "https://h.example/mcp/.../sse"
    )
    assert describe_where("http://[::1]:9/x") == "http://[::1]:9/x"


def test_server_text_is_scrubbed_of_every_credential_value() -> None:
    from mcpcred.bridge.channel import Channel

    channel = Channel(
        "https://u:passw0rd@h.example/mcp?key=query-secret-123&x=1",
        {"Authorization": "Bearer tok-abcdefgh12345", "X-Api-Key": "apikey-987654321"},
        reauth=None,
        connect_timeout=1,
        read_timeout=1,
    )
    try:
        text = (
            "bad token tok-abcdefgh12345, key query-secret-123, apikey-987654321, pw passw0rd\x00"
        )
        scrubbed = channel.scrub(text)
        for secret in ("tok-abcdefgh12345", "query-secret-123", "apikey-987654321", "passw0rd"):
            assert secret not in scrubbed
        assert "\x00" not in scrubbed and scrubbed.startswith(
            "bad token [redacted], key [redacted]"
        )
    finally:
        channel.close()


def test_server_lines_that_are_not_json_rpc_objects_are_never_delivered() -> None:
    import httpx

    from mcpcred.bridge.streams import messages

    body = b'data: not json\n\ndata: [1,2\n\ndata: {"jsonrpc":"2.0","method":"notifications/x"}\n\n'
    resp = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)
    assert [m.kind for m in messages(resp)] == ["notification"]
    resp = httpx.Response(
        200,
        headers={"content-type": "application/json"},
        content=b'[1, {"jsonrpc":"2.0","id":1,"result":{}}]',
    )
    assert [m.kind for m in messages(resp)] == ["response"]
