import logging

from speedtrade.structured_logging import REDACTED, RedactSecretsFilter


def _emit(caplog, message, *args, **extra):
    logger = logging.getLogger("speedtrade.test")
    logger.addFilter(RedactSecretsFilter())
    try:
        with caplog.at_level(logging.INFO, logger="speedtrade.test"):
            logger.info(message, *args, extra=extra)
    finally:
        logger.filters.clear()
    return caplog.records[-1]


def test_secrets_in_messages_are_redacted(caplog):
    record = _emit(caplog, "login password=%s header Authorization: Bearer %s", "hunter2hunter2", "eyJhbGciOi.abc.def")
    text = record.getMessage()
    assert "hunter2hunter2" not in text and "eyJhbGciOi" not in text
    assert text.count(REDACTED) == 2


def test_secret_named_extra_fields_are_redacted(caplog):
    record = _emit(caplog, "broker configured", api_key="AKXXXX", venue="alpaca")
    assert record.api_key == REDACTED
    assert record.venue == "alpaca"
