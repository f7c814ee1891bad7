"""Reading a multipart/form-data request (a file upload, as a browser's form or `curl -F` sends it):
its files, and its other fields as the values a JSON body would hold ("5" -> 5, "true" -> true),
so they are checked by the same `Fields` as a JSON request."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import RequestError


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def is_form(request: Any) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


async def read_form(request: Any, example: str) -> tuple[dict[str, Any], dict[str, Upload]]:
    """(fields, files by field name) of a multipart request; `example`: a curl command that works."""
    if not is_form(request):
        got = request.headers.get("content-type") or "no content type"
        raise RequestError(415, f"this endpoint reads a multipart/form-data upload, got {got}",
                           f"upload the file as a form field, e.g. {example}")
    try:
        form = await request.form()
    except RequestError:
        raise
    except Exception as error:                    # starlette's parser: a malformed or cut-off body
        detail = getattr(error, "detail", None) or str(error)
        raise RequestError(400, f"the upload cannot be read as multipart/form-data ({detail})",
                           f"send it as a browser form or curl does, e.g. {example}") from None
    fields: dict[str, Any] = {}
    files: dict[str, Upload] = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            fields[name] = as_json_value(value)
        else:
            files[name] = Upload(value.filename or "", await value.read())
    return fields, files


def as_json_value(text: str) -> Any:
    """A form field's text as the JSON value it spells (numbers, true/false, null), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def one_file(files: dict[str, Upload], name: str, example: str) -> Upload:
    if name not in files:
        others = f" (the request has {', '.join(map(repr, files))})" if files else ""
        raise RequestError(422, f"the upload has no file field {name!r}{others}", f"send it as {name}=@FILE, "
                           f"e.g. {example}")
    if not files[name].data:
        raise RequestError(422, f"the uploaded file {files[name].filename!r} is empty", "upload a file with content")
    return files[name]
