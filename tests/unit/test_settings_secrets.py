"""Settings errors name the problem, never the secret values that were given."""

import pytest
from pydantic import ValidationError

from supportflow.settings import Settings


def test_settings_invalid_secret_combination_error_does_not_echo_the_secret(monkeypatch):
    monkeypatch.setenv("SUPPORTFLOW_WEBHOOK__API_KEY", "sekrit-api-key-1")
    monkeypatch.setenv("SUPPORTFLOW_WEBHOOK__PRIVILEGED_API_KEY", "sekrit-api-key-1")
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert "privileged_api_key" in str(caught.value)
    assert "sekrit-api-key-1" not in str(caught.value) and "sekrit-api-key-1" not in repr(caught.value)
