"""Personal data is masked wherever it is written."""

import logging

from common.pii import PiiFilter, mask_id, mask_phone, mask_text


def test_mask_id_and_phone() -> None:
    assert mask_id("440823199001010027") == "4408**********0027"
    assert mask_phone("13812345678") == "138****5678"


def test_mask_text_finds_ids_and_phones() -> None:
    text = "身份证44082319900101002X，电话+86 138-1234-5678，户号12345"
    masked = mask_text(text)
    assert "44082319900101002X" not in masked and "4408**********002X" in masked
    assert "1234-5678" not in masked and "138****5678" in masked
    assert "12345" in masked  # short numbers are not personal data


def test_log_filter_masks_records(caplog) -> None:
    logger = logging.getLogger("pii-test")
    caplog.handler.addFilter(PiiFilter())
    with caplog.at_level(logging.INFO, logger="pii-test"):
        logger.info("sender wrote %s", "我的手机是13912345678")
    assert "13912345678" not in caplog.text
    assert "139****5678" in caplog.text


def test_every_record_is_masked_even_on_handlers_added_later(caplog) -> None:
    from common.logs import mask_every_record

    original = logging.getLogRecordFactory()
    try:
        mask_every_record()
        mask_every_record()  # idempotent: one wrapper, not two
        logger = logging.getLogger("pii-test.late")
        logger.propagate = True
        with caplog.at_level(logging.DEBUG, logger="pii-test.late"):
            logger.debug("Received user message '%s'", "身份证440823199001010027")
        assert "440823199001010027" not in caplog.text and "4408**********0027" in caplog.text
    finally:
        logging.setLogRecordFactory(original)
