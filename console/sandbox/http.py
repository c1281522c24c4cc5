"""Small HTTP helpers for the sandbox's WSGI app: the request wrapper, responses and error types."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

HAL = "application/hal+json"
PROBLEM = "application/problem+json"
JSON = "application/json"
HTML = "text/html; charset=utf-8"

MSG_INT = "This value should be of type int."
MSG_STR = "This value should be of type string."
MSG_ARRAY = "This value should be of type array."
MSG_CHOICE = "The value you selected is not a valid choice."
MSG_BLANK = "This value should not be blank."

_REASONS = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}


def status_line(code: int) -> str:
    """``"200 OK"`` for 200 and so on."""
    return _REASONS.get(code, f"{code} Unknown")


class Response:
    """A status, headers and a byte body; ``drop`` asks the server to close the socket without answering."""

    __slots__ = ("status", "headers", "body", "drop")

    def __init__(self, status: int, body: bytes = b"", content_type: str | None = None) -> None:
        self.status = status
        self.body = body
        self.headers: list[tuple[str, str]] = []
        self.drop = False
        if content_type:
            self.headers.append(("Content-Type", content_type))


def json_response(status: int, obj: Any, content_type: str = HAL) -> Response:
    """A JSON body (UTF-8, Cyrillic unescaped as amoCRM sends it)."""
    return Response(status, json.dumps(obj, ensure_ascii=False).encode(), content_type)


def problem(status: int, detail: str, title: str | None = None, **extra: Any) -> Response:
    """An ``application/problem+json`` body with amoCRM's title/type/status/detail keys."""
    body: dict[str, Any] = dict(extra)
    body.update(
        title=title or HTTPStatus(status).phrase,
        type=f"https://httpstatus.es/{status}",
        status=status,
        detail=detail,
    )
    return json_response(status, body, PROBLEM)


def no_content() -> Response:
    """204 with an empty body."""
    return Response(204)


def html_response(status: int, text: str) -> Response:
    """An HTML page."""
    return Response(status, text.encode(), HTML)


def redirect(location: str, status: int = 302) -> Response:
    """A redirect to ``location``."""
    resp = Response(status)
    resp.headers.append(("Location", location))
    return resp


NGINX_403 = (
    "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n"
    "<center><h1>403 Forbidden</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def nginx_403() -> Response:
    """The HTML page amoCRM's gateway answers once a client is blocked."""
    return Response(403, NGINX_403.encode(), "text/html")


class HttpError(Exception):
    """Raise to answer with ``response`` at once."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


class ValidationFailed(Exception):
    """A 400 ``validation-errors`` answer; ``groups`` is ``[{"request_id", "errors": [...]}]``."""

    def __init__(self, groups: list[dict[str, Any]]) -> None:
        super().__init__("validation failed")
        self.groups = groups

    def response(self) -> Response:
        return problem(400, "Request validation failed", **{"validation-errors": self.groups})


def verror(path: str, code: str = "NotSupportedChoice", detail: str = MSG_CHOICE) -> dict[str, str]:
    """One item of a validation group."""
    return {"code": code, "path": path, "detail": detail}


def blank() -> HttpError:
    """400 for an empty request body."""
    return HttpError(problem(400, "Request data cannot be blank"))


def parse_nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """PHP-style bracket keys to nested dicts: ``a[b][]=1`` -> ``{"a": {"b": ["1"]}}``."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        if "[" not in key:
            root[key] = value
            continue
        head, _, rest = key.partition("[")
        parts = [head] + rest.rstrip("]").split("][")
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt = None if last else parts[i + 1]
            if isinstance(node, list):
                if last:
                    node.append(value)
                    break
                child: Any = [] if nxt == "" else {}
                node.append(child)
                node = child
                continue
            if last:
                node[part] = value
                break
            if part not in node or not isinstance(node[part], (dict, list)):
                node[part] = [] if nxt == "" else {}
            node = node[part]
    return root


def as_list(value: Any) -> list[Any]:
    """A filter value as a list: a scalar, a ``[]`` list or an indexed dict."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return [value]


class Request:
    """The parts of a WSGI environ the handlers use."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        self.method: str = environ["REQUEST_METHOD"].upper()
        self.path: str = environ.get("PATH_INFO") or "/"
        self.query_string: str = environ.get("QUERY_STRING", "")
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
        self.host: str = host
        self.base: str = f"http://{host}"
        self.pairs = parse_qsl(self.query_string, keep_blank_values=True) if self.query_string else []
        self._body: bytes | None = None
        self.request_id = ""
        self.client_id: str | None = None
        self.token: dict[str, Any] | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first query value of ``name``."""
        for k, v in self.pairs:
            if k == name:
                return v
        return default

    def nested(self) -> dict[str, Any]:
        """The query string as nested PHP-style structures."""
        return parse_nested(self.pairs)

    def header(self, name: str) -> str | None:
        """A request header by its HTTP name."""
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"))

    @property
    def body(self) -> bytes:
        if self._body is None:
            try:
                length = int(self.environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            self._body = self.environ["wsgi.input"].read(length) if length > 0 else b""
        return self._body

    def json(self) -> Any:
        """The JSON body; 400 "Request data cannot be blank" when empty, 400 when unparsable."""
        raw = self.body.strip()
        if not raw:
            raise blank()
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise HttpError(problem(400, "Request body is not valid JSON")) from exc
        if data in ([], {}, None, ""):
            raise blank()
        return data

    def form(self) -> dict[str, str]:
        """A form-encoded body (or a JSON object) as a flat dict of strings."""
        ctype = self.environ.get("CONTENT_TYPE", "")
        if "json" in ctype:
            try:
                data = json.loads(self.body or b"{}")
            except ValueError:
                return {}
            return {k: v for k, v in data.items()} if isinstance(data, dict) else {}
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))
