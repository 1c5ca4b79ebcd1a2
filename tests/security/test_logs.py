"""Issue 9: logs carry no secret and no personal data in any form.

Before: httpx logged every URL at INFO (`?token=<RASA_AUTH_TOKEN>`, a preview's address),
a spaced ID number (`440802 19800312 0310`) and tracebacks were not masked."""

from __future__ import annotations

import io
import logging
from typing import Iterator, List

import httpx
import jwt
import pytest

from bot.rasa_client import RasaClient
from common.case_client import CaseClient
from common.logs import CLIENT_LIBRARIES, MaskingFormatter, configure_logging, mask_every_record

ID_FORMS = ["440802198003120310", "440802 19800312 0310", "440802-19800312-0310",
            "４４０８０２１９８００３１２０３１０", "４４０８０２　１９８００３１２　０３１０"]
PHONE_FORMS = ["13800138000", "138 0013 8000", "138-0013-8000", "+86 138 0013 8000", "１３８００１３８０００"]


@pytest.fixture()
def masked_factory() -> Iterator[None]:
    original = logging.getLogRecordFactory()
    mask_every_record()
    try:
        yield
    finally:
        logging.setLogRecordFactory(original)


def _capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"security-logs-{id(stream)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


@pytest.mark.parametrize("value", ID_FORMS + PHONE_FORMS)
def test_every_form_is_masked_in_messages_and_tracebacks(value: str, masked_factory: None) -> None:
    digits = "".join(c for c in value if c.isdigit())
    # A library's own handler and plain formatter (Rasa's, uvicorn's): the record factory masks.
    logger, stream = _capture(logging.Formatter("%(message)s"))
    logger.info("user said %s", f"我的号码是{value}")
    try:
        raise ValueError(f"cannot parse {value!s}")
    except ValueError:
        logger.exception("turn failed")
    logger.warning("where: %s", value, stack_info=True)
    written = stream.getvalue()
    assert "Traceback" in written and "cannot parse" in written
    assert value not in written
    import unicodedata

    assert unicodedata.normalize("NFKC", digits) not in written.replace(" ", "").replace("-", "")


def test_the_project_formatter_masks_the_whole_formatted_line() -> None:
    logger, stream = _capture(MaskingFormatter("%(name)s %(message)s %(custom)s"))
    logger.info("nothing here", extra={"custom": "440802 19800312 0310"})  # not in the message
    assert "19800312" not in stream.getvalue() and "4408**********0310" in stream.getvalue()


def test_client_libraries_log_at_warning_only() -> None:
    original = logging.getLogRecordFactory()
    try:
        configure_logging("DEBUG")
    finally:
        logging.setLogRecordFactory(original)
    for name in ("httpx", "httpcore", *CLIENT_LIBRARIES):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING, name


def test_nlu_server_quiets_client_libraries_before_rasa_starts() -> None:
    import inspect

    import nlu.server

    assert "quiet_client_libraries()" in inspect.getsource(nlu.server.main)


@pytest.mark.asyncio
async def test_the_gateway_sends_rasas_token_only_as_a_signed_header() -> None:
    seen: List[httpx.Request] = []

    def rasa(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"slots": {}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(rasa)) as http:
        client = RasaClient("http://rasa", http, token="the-rasa-secret-0123456789abcdef")
        assert await client.tracker("web:abc") == {"slots": {}}
    [request] = seen
    assert "the-rasa-secret" not in str(request.url) and "token" not in str(request.url)
    scheme, _, token = request.headers["authorization"].partition(" ")
    assert scheme == "Bearer" and "the-rasa-secret" not in token
    claims = jwt.decode(token, "the-rasa-secret-0123456789abcdef", algorithms=["HS256"])
    assert claims["user"]["role"] == "admin" and claims["exp"] - claims["iat"] <= 300


@pytest.mark.asyncio
async def test_the_address_preview_goes_in_a_post_body() -> None:
    seen: List[httpx.Request] = []

    def cases(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"process": {}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(cases)) as http:
        await CaseClient("http://cases", "key", http).preview("湛江市赤坎区人民大道中28号", "resident", 8)
    [request] = seen
    assert request.method == "POST" and request.url.path == "/processes/preview"
    assert "人民大道" not in str(request.url) and "%E4%BA%BA" not in str(request.url)
    assert "人民大道中28号" in request.content.decode()
