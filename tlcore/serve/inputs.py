"""Reading a /predict request into raw inputs: image files from a multipart form, or texts from JSON,
with the app's limits. A request the service cannot take raises Refused with the HTTP status and a
sentence saying what was wrong and how to fix it."""
from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.requests import Request

from ..core.errors import TLCoreError
from ..core.settings import Limits, readable

MB = 1024**2
FORM, JSON = "multipart/form-data", "application/json"
IMAGE_HINT = "Send images as multipart/form-data in the field 'files', e.g. curl -F files=@cat.jpg .../predict."
TEXT_HINT = 'Send JSON like {"texts": ["first text", "second text"]} with Content-Type: application/json.'
JSON_TYPES = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true or false",
              type(None): "null"}
ImageFile = tuple[str, bytes]


class Refused(TLCoreError):
    """A request the service does not take: `status` is the HTTP status to answer with."""

    def __init__(self, status: int, user_message: str):
        super().__init__(user_message)
        self.status = status


def check_request(request: Request, task: str, limits: Limits) -> None:
    """The body is of the kind this run takes and no longer than its limits allow, before any of it is read."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    wanted, other = (FORM, JSON) if task == "image" else (JSON, FORM)
    hint = IMAGE_HINT if task == "image" else TEXT_HINT
    if kind == other and task == "text":
        raise Refused(415, f"This run classifies texts, sent as JSON, not a form (or images). {hint}")
    if kind == other:
        raise Refused(415, f"This run classifies images, not texts. {hint}")
    if kind != wanted:
        raise Refused(415, f"The body is {kind or 'of no stated type'}; this run takes {wanted}. {hint}")
    length = request.headers.get("content-length")
    if length in (None, "0") and request.method == "POST" and "transfer-encoding" not in request.headers:
        raise Refused(422 if length == "0" else 411, f"The request has no body. {hint}")
    if length is None or not (length.isascii() and length.isdigit()):
        raise Refused(411, "The request does not state its length (Content-Length). Send the body in one piece; "
                           "curl, browsers and most HTTP clients do.")
    most = body_limit(task, limits)
    if int(length) > most:
        items = "images" if task == "image" else "texts"
        raise Refused(413, f"The request is {readable(round(int(length) / MB, 1))} MB; at most "
                           f"{readable(round(most / MB, 1))} MB is read ({limits.max_request_items} {items} at the "
                           f"most, each within its limit). Send fewer or smaller {items} per request.")


def body_limit(task: str, limits: Limits) -> int:
    """The most bytes a request may hold: its limit of items, each as large as allowed, and 1 MB besides
    (JSON spells most characters in 1 to 6 bytes)."""
    each = limits.max_file_mb * MB if task == "image" else 6 * limits.max_text_chars
    return int(limits.max_request_items * each) + MB


def too_many(count: int | str, items: str, limits: Limits) -> Refused:
    return Refused(413, f"The request holds {count} {items}; {limits.says('max_request_items')}. "
                        f"Send them in several requests.")


async def read_images(request: Request, limits: Limits) -> tuple[list[ImageFile], dict[int, str]]:
    """The uploaded files in the field 'files', and {index: reason} of those over max_file_mb (not read)."""
    try:
        form = await request.form(max_files=limits.max_request_items, max_fields=limits.max_request_items)
    except HTTPException as exc:  # the multipart parser's refusal
        if str(exc.detail).startswith("Too many files"):
            raise too_many(f"more than {limits.max_request_items}", "files", limits) from None
        raise Refused(400, f"The multipart body cannot be read ({str(exc.detail).rstrip('.')}). {IMAGE_HINT}") from None
    try:
        return await _files(form.multi_items(), limits)
    finally:
        await form.close()


async def _files(fields: list, limits: Limits) -> tuple[list[ImageFile], dict[int, str]]:
    others = sorted({key for key, _ in fields if key != "files"})
    if others:
        raise Refused(422, f"The form has a field named {', '.join(map(repr, others))}; only 'files' is read. "
                           f"{IMAGE_HINT}")
    if not fields:
        raise Refused(422, f"No files were sent. {IMAGE_HINT}")
    if any(isinstance(value, str) for _, value in fields):
        raise Refused(422, f"The field 'files' holds text, not a file (each part needs a filename). {IMAGE_HINT}")
    files, too_large = [], {}
    for i, (_, upload) in enumerate(fields):
        name = upload.filename or f"file {i + 1}"
        if upload.size is not None and upload.size > limits.max_file_mb * MB:
            too_large[i] = f"too large ({readable(round(upload.size / MB, 1))} MB); {limits.says('max_file_mb')}."
            files.append((name, b""))
        else:
            files.append((name, await upload.read()))
    return files, too_large


def valid_unicode(text: str) -> bool:
    """False for a string JSON allowed but UTF-8 cannot hold (a lone surrogate, e.g. "\\ud800")."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_kind(value) -> str:
    """What a JSON value is, in words: 'a list', 'an object with the keys "text", "id"', ..."""
    if not isinstance(value, dict):
        return JSON_TYPES[type(value)]
    return f"an object with the keys {', '.join(map(json.dumps, sorted(value)[:5]))}" if value else "an empty object"


async def read_texts(request: Request, limits: Limits) -> list[str]:
    """The list "texts" of a JSON body, each a non-empty string within max_text_chars."""
    try:
        data = json.loads(await request.body())
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, or nested too deep
        reason = str(exc).split("\n")[0][:120] if isinstance(exc, ValueError) else "nested too deeply"
        raise Refused(400, f"The body is not valid JSON ({reason}). {TEXT_HINT}") from None
    if not isinstance(data, dict) or set(data) != {"texts"}:
        raise Refused(422, f'The JSON must be an object with the one key "texts", not {json_kind(data)}. {TEXT_HINT}')
    texts = data["texts"]
    if not isinstance(texts, list):
        raise Refused(422, f'"texts" must be a list of strings, not {json_kind(texts)}. {TEXT_HINT}')
    if not texts:
        raise Refused(422, f'"texts" is empty. Give at least one text. {TEXT_HINT}')
    if len(texts) > limits.max_request_items:
        raise too_many(len(texts), "texts", limits)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise Refused(422, f'"texts" must be a list of strings, but item {i + 1} is {json_kind(text)}. '
                               f"{TEXT_HINT}")
        if not valid_unicode(text):
            raise Refused(422, f"Text {i + 1} holds a lone surrogate (half of a \\uD800-\\uDFFF pair), which is not a "
                               "character. Send valid Unicode text.")
        if not text.strip():
            raise Refused(422, f"Text {i + 1} is empty. Send only texts with words in them.")
        if len(text) > limits.max_text_chars:
            raise Refused(413, f"Text {i + 1} has {len(text):,} characters; {limits.says('max_text_chars')}. "
                               "Send a shorter text.")
    return texts
