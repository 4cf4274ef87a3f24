"""SageMaker SDK plumbing for the launcher: see, record or answer AWS calls; quiet the SDK.

`AwsCallInterceptor` wraps botocore's single entry point for API calls, so the
launcher records the exact `CreateTrainingJob` request of a real launch and, in
a dry run, answers every call locally without changing the code path.
"""

import contextlib
import json
import logging
import os
import re
import sys


@contextlib.contextmanager
def sdk_telemetry_disabled():
    """Make the SDK's usage ping (an HTTPS GET after `fit`) a no-op while active.

    (The SDK's own switch, `TelemetryOptOut` in its defaults config, makes every
    config lookup re-validate a large JSON schema: seconds per launch.)
    """
    from sagemaker.telemetry import telemetry_logging

    original = getattr(telemetry_logging, "_send_telemetry_request", None)
    if original is None:
        yield
        return
    telemetry_logging._send_telemetry_request = lambda *args, **kwargs: None
    notice_logger = logging.getLogger(telemetry_logging.__name__)  # "will collect telemetry"
    level = notice_logger.level
    notice_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        telemetry_logging._send_telemetry_request = original
        notice_logger.setLevel(level)


class AwsCallInterceptor:
    """Sees every botocore API call made inside `active()`; records CreateTrainingJob.

    With `dry_run=True` no call leaves the process: CreateTrainingJob is validated
    against the botocore model and recorded, GetCallerIdentity answers with
    `account_id`, and every other call (S3 uploads, bucket checks) gets an empty
    success. With `dry_run=False` every call goes through unchanged.
    """

    def __init__(self, dry_run, account_id="000000000000"):
        self.dry_run = dry_run
        self.account_id = account_id
        self.calls = []
        self.create_training_job_request = None

    @contextlib.contextmanager
    def active(self):
        import botocore.client

        original = botocore.client.BaseClient._make_api_call
        interceptor = self

        def _make_api_call(client, operation_name, api_params):
            service = client.meta.service_model.service_name
            interceptor.calls.append((service, operation_name))
            if operation_name == "CreateTrainingJob":
                interceptor.create_training_job_request = _jsonable(api_params)
            if not interceptor.dry_run:
                return original(client, operation_name, api_params)
            return interceptor._answer(client, service, operation_name, api_params)

        botocore.client.BaseClient._make_api_call = _make_api_call
        try:
            yield self
        finally:
            botocore.client.BaseClient._make_api_call = original

    def _answer(self, client, service, operation_name, api_params):
        from botocore.validate import validate_parameters

        if operation_name == "CreateTrainingJob":
            model = client.meta.service_model.operation_model(operation_name)
            validate_parameters(api_params, model.input_shape)
            region = client.meta.region_name
            arn = (f"arn:aws:sagemaker:{region}:{self.account_id}:training-job/"
                   f"{api_params['TrainingJobName'].lower()}")
            return {"TrainingJobArn": arn}
        if operation_name == "GetCallerIdentity":
            return {"Account": self.account_id, "UserId": "DRYRUN",
                    "Arn": f"arn:aws:iam::{self.account_id}:user/dry-run"}
        if operation_name == "ListBuckets":
            return {"Buckets": []}
        return {}


@contextlib.contextmanager
def temporary_env(name, value):
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def account_from_role(role):
    match = re.match(r"^arn:aws[a-z-]*:iam::(\d{12}):", role or "")
    return match.group(1) if match else "000000000000"


class StderrHandler(logging.StreamHandler):
    """The launcher's handler for the SDK's logs (stdout carries only the dry-run JSON)."""


def send_sdk_logs_to_stderr():
    sdk_logger = logging.getLogger("sagemaker")
    for name in ("sagemaker", "sagemaker.config"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if getattr(handler, "stream", None) in (sys.stdout, sys.__stdout__):
                logger.removeHandler(handler)
        if name == "sagemaker.config":
            logger.propagate = True
    if not any(isinstance(h, StderrHandler) for h in sdk_logger.handlers):
        handler = StderrHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s %(levelname)s - %(message)s"))
        sdk_logger.addHandler(handler)
    if sdk_logger.level == logging.NOTSET:
        sdk_logger.setLevel(logging.INFO)
