"""Providers' bounce webhooks: Amazon SES through SNS (signatures made here with a key and
certificate of our own), and Mailgun (HMAC-signed events)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import uuid

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.certificates import self_signed
from tests.subscribers.bounce_samples import (
    deliver_digest,
    delivery_of,
    status_of,
    suppressions,
)
from updates.extensions import db
from updates.subscribers.soft_bounces import record_soft_bounce, soft_bounce_count

TOPIC = "arn:aws:sns:eu-west-2:123456789012:updates-ses"
CERT_URL = "https://sns.eu-west-2.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
SUBSCRIBE_URL = "https://sns.eu-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + TOPIC
MAILGUN_KEY = "key-mailgun-signing"

# The fields SNS signs, in the order its documentation gives.
SIGNED = {
    "Notification": ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
    "SubscriptionConfirmation": [
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ],
}


@pytest.fixture(scope="module")
def signer():
    """An RSA key and a certificate for it, standing in for SNS's."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, self_signed(key, "sns.amazonaws.com")


@pytest.fixture
def app_config(app_config, signer):
    app_config.update(
        SES_SNS_TOPIC_ARNS=(TOPIC,),
        SES_SNS_AUTO_CONFIRM=False,
        SNS_CERTIFICATES={CERT_URL: signer[1]},
        MAILGUN_WEBHOOK_SIGNING_KEY=MAILGUN_KEY,
    )
    return app_config


@pytest.fixture
def sent(app, run_jobs, mail_server):
    return deliver_digest(run_jobs, mail_server)


@pytest.fixture
def poster(app):
    client = app.test_client(use_cookies=False)

    def post(path: str, body: object):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return client.post(path, data=data, content_type="text/plain; charset=UTF-8")

    return post


def message_id_of(sent) -> str:
    return re.search(r"^Message-ID: (<[^>]+>)$", sent.returned, re.M | re.I).group(1)


def sns_message(signer, kind: str, version: str = "1", **fields) -> dict:
    """An SNS message signed as SNS signs it."""
    message = {
        "Type": kind,
        "MessageId": str(uuid.uuid4()),
        "TopicArn": TOPIC,
        "Timestamp": "2026-12-07T01:50:00.000Z",
        "SignatureVersion": version,
        "SigningCertURL": CERT_URL,
        **fields,
    }
    text = "".join(f"{name}\n{message[name]}\n" for name in SIGNED[kind] if name in message)
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = signer[0].sign(text.encode(), padding.PKCS1v15(), algorithm)
    message["Signature"] = base64.b64encode(signature).decode()
    return message


def ses_notification(signer, notification: dict, version: str = "1") -> dict:
    return sns_message(signer, "Notification", version, Message=json.dumps(notification))


def ses_mail(message_id: str, in_headers_only: bool = False) -> dict:
    """SES's `mail` object; SES may name its own Message-ID in commonHeaders."""
    common = "<0102019a-ses-own@eu-west-2.amazonses.com>" if in_headers_only else message_id
    return {
        "messageId": "0102019a0000-ses-id",
        "source": "updates@example.org",
        "commonHeaders": {"messageId": common, "subject": "Programme news"},
        "headers": [
            {"name": "From", "value": "Example Updates <updates@example.org>"},
            {"name": "Message-ID", "value": message_id},
        ],
    }


def ses_bounce(message_id: str, kind: str = "Permanent", to: str = "nobody@example.net", **kw):
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": kind,
            "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": to, "status": "5.1.1", "action": "failed"}],
        },
        "mail": ses_mail(message_id, **kw),
    }


# -- Amazon SES through SNS -----------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_permanent_bounce_suppresses_and_fails_the_delivery(sent, signer, poster, version):
    response = poster(
        "/webhooks/ses", ses_notification(signer, ses_bounce(message_id_of(sent)), version)
    )

    assert response.status_code == 200
    assert response.json == {"events": 1, "ours": 1}
    assert suppressions() == [("nobody@example.net", "bounce")]
    assert status_of("nobody@example.net") == "bounced"
    assert delivery_of(sent.digest, sent.nobody).status == "failed"
    assert status_of("ok@example.net") == "active"


def test_our_message_id_among_the_original_headers_is_enough(sent, signer, poster):
    bounce = ses_bounce(message_id_of(sent), in_headers_only=True)
    assert poster("/webhooks/ses", ses_notification(signer, bounce)).json["ours"] == 1
    assert status_of("nobody@example.net") == "bounced"


def test_a_transient_bounce_counts_and_a_delivery_clears_the_count(sent, signer, poster):
    message_id = message_id_of(sent)
    poster("/webhooks/ses", ses_notification(signer, ses_bounce(message_id, "Transient")))
    assert soft_bounce_count(sent.nobody) == 1
    assert status_of("nobody@example.net") == "active"

    delivery = {
        "notificationType": "Delivery",
        "delivery": {"recipients": ["nobody@example.net"], "smtpResponse": "250 ok"},
        "mail": ses_mail(message_id),
    }
    assert poster("/webhooks/ses", ses_notification(signer, delivery)).json == {
        "events": 1,
        "ours": 1,
    }
    assert soft_bounce_count(sent.nobody) == 0


def test_a_notification_sent_again_counts_once(sent, signer, poster):
    message = ses_notification(signer, ses_bounce(message_id_of(sent), "Transient"))
    assert poster("/webhooks/ses", message).json == {"events": 1, "ours": 1}
    again = poster("/webhooks/ses", message)
    assert again.status_code == 200
    assert again.json == {"events": 1, "ours": 0, "repeated": True}
    assert soft_bounce_count(sent.nobody) == 1


def test_a_complaint_suppresses_as_complained(sent, signer, poster):
    complaint = {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "nobody@example.net"}],
            "complaintFeedbackType": "abuse",
        },
        "mail": ses_mail(message_id_of(sent)),
    }
    assert poster("/webhooks/ses", ses_notification(signer, complaint)).json["ours"] == 1
    assert suppressions() == [("nobody@example.net", "complaint")]
    assert status_of("nobody@example.net") == "complained"


def test_a_tampered_message_is_refused_and_changes_nothing(sent, signer, poster):
    message = ses_notification(signer, ses_bounce(message_id_of(sent)))
    other = json.loads(message["Message"])
    other["bounce"]["bouncedRecipients"][0]["emailAddress"] = "ok@example.net"
    message["Message"] = json.dumps(other)

    response = poster("/webhooks/ses", message)

    assert response.status_code == 403
    assert response.json["error"]
    assert suppressions() == []


@pytest.mark.parametrize(
    "cert_url",
    [
        "http://sns.eu-west-2.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem",
        "https://sns.eu-west-2.amazonaws.com.evil.example/cert.pem",
        "https://evil.example/sns.eu-west-2.amazonaws.com.pem",
        "https://sns.eu-west-2.amazonaws.com/not-a-certificate.txt",
        None,
    ],
)
def test_a_signing_certificate_off_snss_hosts_is_refused(sent, signer, poster, cert_url):
    message = ses_notification(signer, ses_bounce(message_id_of(sent)))
    message["SigningCertURL"] = cert_url
    assert poster("/webhooks/ses", message).status_code == 403
    assert suppressions() == []


@pytest.mark.parametrize("change", ["version", "signature", "topic", "unsigned"])
def test_messages_sns_did_not_sign_for_us_are_refused(sent, signer, poster, change):
    message = ses_notification(signer, ses_bounce(message_id_of(sent)))
    if change == "version":
        message["SignatureVersion"] = "3"
    elif change == "signature":
        message["Signature"] = "not base64!"
    elif change == "topic":
        message = sns_message(
            signer, "Notification", TopicArn="arn:aws:sns:eu-west-2:999:theirs", Message="{}"
        )
    else:
        del message["Signature"]
    assert poster("/webhooks/ses", message).status_code == 403
    assert suppressions() == []


def test_a_signed_bounce_naming_no_message_of_ours_changes_nothing(sent, signer, poster):
    guessed = message_id_of(sent).replace(f".{sent.nobody}.", f".{sent.ok}.")
    forged = ses_bounce(guessed, to="ok@example.net")
    assert poster("/webhooks/ses", ses_notification(signer, forged)).json == {
        "events": 1,
        "ours": 0,
    }
    elsewhere = ses_bounce(message_id_of(sent), to="someone-else@example.net")
    assert poster("/webhooks/ses", ses_notification(signer, elsewhere)).json["ours"] == 0
    assert suppressions() == []
    assert status_of("ok@example.net") == status_of("nobody@example.net") == "active"


DEEP = b"[" * 50_000 + b"]" * 50_000  # deeper than Python's JSON parser goes


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"\xff\xfe", b"[1, 2]", b'{"Type": "Notification"}', DEEP],
)
def test_a_body_that_is_no_sns_message_is_refused(app, poster, body):
    response = poster("/webhooks/ses", body)
    assert response.status_code in (400, 403)
    assert response.json["error"]


def test_a_signed_notification_that_is_no_ses_event_is_a_400(app, signer, poster):
    for text in ("not json", DEEP.decode()):
        message = sns_message(signer, "Notification", Message=text)
        assert poster("/webhooks/ses", message).status_code == 400
    message = sns_message(
        signer, "Notification", Message=json.dumps({"notificationType": "Bounce"})
    )
    assert poster("/webhooks/ses", message).status_code == 400


def test_a_subscription_is_left_for_the_operator_when_auto_confirm_is_off(
    app, signer, poster, caplog
):
    message = sns_message(
        signer,
        "SubscriptionConfirmation",
        Message="You have chosen to subscribe to the topic.",
        SubscribeURL=SUBSCRIBE_URL,
        Token="2336412f37fb687f5d51e6e2425f004a",
    )
    with caplog.at_level(logging.WARNING, logger="updates.webhooks.ses"):
        response = poster("/webhooks/ses", message)
    assert response.status_code == 200
    assert response.json == {"confirmed": False}
    assert TOPIC in caplog.text


def test_a_subscribe_url_off_snss_hosts_is_never_visited(app, signer, poster):
    message = sns_message(
        signer,
        "SubscriptionConfirmation",
        Message="You have chosen to subscribe to the topic.",
        SubscribeURL="https://evil.example/?Action=ConfirmSubscription",
        Token="2336412f37fb687f5d51e6e2425f004a",
    )
    response = poster("/webhooks/ses", message)
    assert response.status_code == 400
    assert response.json["error"]


def test_the_ses_webhook_is_not_there_unless_topics_are_configured(app, signer, poster):
    app.config.update(SES_SNS_TOPIC_ARNS=())
    assert (
        poster("/webhooks/ses", sns_message(signer, "Notification", Message="{}")).status_code
        == 404
    )


# -- Mailgun --------------------------------------------------------------------------------


def mailgun_event(sent, event: str, severity: str | None = None, key: str = MAILGUN_KEY) -> dict:
    timestamp, token = "1765072200", "5a8d3c2b9e1f4a7d6c0b8e2f1a3d5c7e9b0a2c4e6f8d0b1a"
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    data = {
        "id": uuid.uuid4().hex,
        "event": event,
        "recipient": "nobody@example.net",
        "message": {"headers": {"message-id": message_id_of(sent).strip("<>")}},
        "delivery-status": {"code": 550 if severity == "permanent" else 452},
    }
    if severity:
        data["severity"] = severity
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": data,
    }


def test_a_signed_permanent_failure_from_mailgun_suppresses(sent, poster):
    response = poster("/webhooks/mailgun", mailgun_event(sent, "failed", "permanent"))
    assert response.json == {"events": 1, "ours": 1}
    assert suppressions() == [("nobody@example.net", "bounce")]
    assert (delivery_of(sent.digest, sent.nobody).last_error) == "bounced: 550"


def test_mailgun_temporary_failures_count_and_a_delivery_clears_them(sent, poster):
    poster("/webhooks/mailgun", mailgun_event(sent, "failed", "temporary"))
    poster("/webhooks/mailgun", mailgun_event(sent, "failed", "temporary"))
    assert soft_bounce_count(sent.nobody) == 2
    assert status_of("nobody@example.net") == "active"

    poster("/webhooks/mailgun", mailgun_event(sent, "delivered"))
    assert soft_bounce_count(sent.nobody) == 0


def test_a_mailgun_event_sent_again_counts_once(sent, poster):
    event = mailgun_event(sent, "failed", "temporary")
    poster("/webhooks/mailgun", event)
    assert poster("/webhooks/mailgun", event).json["repeated"] is True
    assert soft_bounce_count(sent.nobody) == 1


def test_a_mailgun_complaint_suppresses_as_complained(sent, poster):
    assert poster("/webhooks/mailgun", mailgun_event(sent, "complained")).json["ours"] == 1
    assert status_of("nobody@example.net") == "complained"


@pytest.mark.parametrize("signature", ["wrong key", "missing", "tampered"])
def test_a_mailgun_event_without_a_good_signature_is_refused(sent, poster, signature):
    event = mailgun_event(sent, "failed", "permanent", key="another-key")
    if signature == "missing":
        del event["signature"]
    elif signature == "tampered":
        event = mailgun_event(sent, "failed", "permanent")
        event["signature"]["timestamp"] = "1765072201"
    response = poster("/webhooks/mailgun", event)
    assert response.status_code == 403
    assert response.json["error"]
    assert suppressions() == []


@pytest.mark.parametrize("body", [b"", b"not json", b"\xff", b"[]", b'{"signature": {}}', DEEP])
def test_a_body_that_is_no_mailgun_event_is_refused(app, poster, body):
    response = poster("/webhooks/mailgun", body)
    assert response.status_code in (400, 403)


def test_a_signed_mailgun_body_that_is_no_event_is_a_400(sent, poster):
    event = mailgun_event(sent, "failed", "permanent")
    event["event-data"]["message"] = ["not", "headers"]
    assert poster("/webhooks/mailgun", event).status_code == 400


def test_the_mailgun_webhook_is_not_there_unless_a_key_is_configured(sent, app, poster):
    app.config.update(MAILGUN_WEBHOOK_SIGNING_KEY="")
    assert poster("/webhooks/mailgun", mailgun_event(sent, "delivered")).status_code == 404


def test_a_delivery_reported_for_a_subscriber_clears_only_their_count(sent, poster):
    record_soft_bounce(sent.ok, "ok@example.net")
    db.session.commit()
    poster("/webhooks/mailgun", mailgun_event(sent, "delivered"))
    assert soft_bounce_count(sent.ok) == 1


ODD_SES = [
    [],
    {"notificationType": "Bounce", "bounce": []},
    {"notificationType": "Bounce", "bounce": {"bouncedRecipients": {"a": 1}}, "mail": "x"},
    {"notificationType": "Bounce", "bounce": {"bouncedRecipients": [None]}},
    {"notificationType": "Bounce", "bounce": {"bouncedRecipients": [{"emailAddress": 5}]}},
    {"notificationType": "Complaint", "complaint": {"complainedRecipients": "x"}},
    {"notificationType": "Delivery", "delivery": {"recipients": [None, "\u0000@x"]}},
    {"eventType": "Bounce", "bounce": {}, "mail": {"headers": ["x", {"name": None}]}},
    {
        "notificationType": "Bounce",
        "bounce": {"bouncedRecipients": [{"emailAddress": "é@ü"}]},
        "mail": {"commonHeaders": {"messageId": ["<a@b>"]}},
    },
]


@pytest.mark.parametrize("notification", ODD_SES)
def test_an_odd_ses_notification_never_answers_5xx(app, signer, poster, notification):
    message = sns_message(signer, "Notification", Message=json.dumps(notification))
    response = poster("/webhooks/ses", message)
    assert response.status_code < 500
    assert suppressions() == []


ODD_MAILGUN = [
    [],
    {"event": "failed"},
    {"event": "failed", "recipient": None, "message": {"headers": {"message-id": 5}}},
    {"event": "delivered", "recipient": "x", "message": {"headers": []}},
    {"event": "complained", "recipient": ["a"], "message": None},
    {"event": "failed", "severity": "permanent", "recipient": "\u0000", "message": {"headers": {}}},
]


@pytest.mark.parametrize("data", ODD_MAILGUN)
def test_an_odd_mailgun_event_never_answers_5xx(app, poster, data):
    timestamp, token = "1765072200", "odd-token"
    signature = hmac.new(MAILGUN_KEY.encode(), (timestamp + token).encode(), hashlib.sha256)
    body = {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature.hexdigest()},
        "event-data": data,
    }
    assert poster("/webhooks/mailgun", body).status_code < 500
    assert suppressions() == []
