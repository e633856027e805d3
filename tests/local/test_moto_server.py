"""local/moto_server.py: moto over HTTP on 127.0.0.1, with S3's digest checks."""

from __future__ import annotations

import base64
import hashlib

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.moto_server import MotoServer


@pytest.mark.slow
def test_moto_server_refuses_a_body_that_does_not_match_its_digest_like_s3():
    with MotoServer() as server:
        s3 = boto3.client(
            "s3", endpoint_url=server.url, region_name="us-east-1", config=Config(s3={"addressing_style": "path"})
        )
        s3.create_bucket(Bucket="local-bucket")
        body = b"still"
        wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
        with pytest.raises(ClientError, match="BadDigest"):
            s3.put_object(Bucket="local-bucket", Key="k", Body=body, ChecksumSHA256=wrong)
        s3.put_object(
            Bucket="local-bucket",
            Key="k",
            Body=body,
            ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode(),
        )
        assert server.rejections() == ["/local-bucket/k"]
        assert s3.get_object(Bucket="local-bucket", Key="k")["Body"].read() == body
    assert server.process is None


@pytest.mark.slow
def test_a_port_already_taken_is_reported_not_mistaken_for_the_new_server(tmp_path):
    with MotoServer() as running:
        # The port is taken: the first server must not pass for the second one.
        second = MotoServer(running.port, log_path=tmp_path / "moto.log", start_timeout=20)
        with pytest.raises(RuntimeError, match=f"127.0.0.1:{running.port} is already in use"):
            second.start()
        assert second.process is None
