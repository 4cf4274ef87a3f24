"""Shared helpers for the SageMaker tests (no AWS, no network)."""

import os
import socket

import pytest

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
}


@pytest.fixture
def fake_aws(monkeypatch, tmp_path):
    """Fake credentials, no user AWS/SageMaker config, SAGEMAKER_* launcher env cleared."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "SAGEMAKER_")):
            monkeypatch.delenv(key, raising=False)
    for key, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws_config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws_credentials"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def no_network(monkeypatch):
    """Refuse every non-loopback connection, and fail the test if one was attempted.

    (Code that swallows the refusal, like the SDK's telemetry, still fails the test.)
    """
    attempts = []
    real_connect = socket.socket.connect

    def guarded_connect(sock, address, *args, **kwargs):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1")):
            return real_connect(sock, address, *args, **kwargs)
        attempts.append(address)
        raise OSError(f"test: network access to {address!r} is not allowed")

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    yield attempts
    assert not attempts, f"the test tried to reach the network: {attempts}"
