import botocore
import pytest


def error_of(call, **kwargs):
    """Calls and returns the ClientError's response; fails if the call succeeds."""
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(**kwargs)
    return info.value.response


def expect_error(call, code, message=None, contains=None, **kwargs):
    response = error_of(call, **kwargs)
    assert response["Error"]["Code"] == code, response["Error"]
    if message is not None:
        assert response["Error"]["Message"] == message, response["Error"]["Message"]
    if contains is not None:
        assert contains in response["Error"]["Message"], response["Error"]["Message"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return response
