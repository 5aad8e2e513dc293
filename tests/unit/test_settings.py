import pytest

from config.settings import load_settings
from services.core.errors import ConfigError


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSWIRE_REDIS_URL", raising=False)
    settings = load_settings()
    assert settings.redis_url is None
    assert settings.stream_prefix == "newswire"
    assert settings.fetch_allow_private_networks is False
    assert settings.stream_key("topic:refugees") == "newswire:topic:refugees"


def test_env_flat_and_nested(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWIRE_FETCH_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("NEWSWIRE_POLLER__BATCH_SIZE", "7")
    monkeypatch.setenv("NEWSWIRE_STREAM_PREFIX", "nw2")
    settings = load_settings()
    assert settings.fetch_allow_private_networks is True
    assert settings.poller.batch_size == 7
    assert settings.stream_key("articles") == "nw2:articles"


def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWIRE_POLLER__BATCH_SIZE", "many")
    with pytest.raises(ConfigError, match="NEWSWIRE_POLLER__BATCH_SIZE"):
        load_settings()


def test_invalid_prefix_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWIRE_STREAM_PREFIX", "bad prefix")
    with pytest.raises(ConfigError, match="NEWSWIRE_STREAM_PREFIX"):
        load_settings()
