"""Two digests carrying one update at the same time: the one that started first sends it, the
other leaves it out, so a reader never gets it twice."""

from __future__ import annotations

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from tests.helpers import text_part
from updates.extensions import db
from updates.models import Digest, DigestStatus, utcnow
from updates.news import digests
from updates.worker import delivery


def test_a_digest_sent_while_another_is_still_sending_an_update_leaves_it_out(
    app, run_jobs, mail_server
):
    create_topics("lps")
    create_subscriber("ada@example.org", ["lps"])
    budgets = create_news("Council budgets", ["lps"])
    roads = create_news("Road works", ["lps"])
    first = create_test_digest([budgets], ["lps"], kind="announcement", subject="First")
    # The first has started: its ledger is written, its batch not yet sent.
    first.status, first.scheduled_at = DigestStatus.SCHEDULED, utcnow()
    db.session.commit()
    assert delivery._claim_start(first.id)
    assert delivery._materialise(first.id, first.kind) == 1

    second = create_test_digest([budgets, roads], ["lps"], subject="Second")
    digests.send(second)
    run_jobs()
    [message] = mail_server.messages_to("ada@example.org")
    assert message["Subject"] == "Second"
    assert "Road works" in text_part(message) and "Council budgets" not in text_part(message)

    delivery.enqueue_batches(first.id)
    run_jobs()
    assert [m["Subject"] for m in mail_server.messages_to("ada@example.org")] == [
        "Second",
        "First",
    ]
    db.session.expire_all()
    assert db.session.get(Digest, first.id).status == "sent"
    everything = [text_part(m) for m in mail_server.messages_to("ada@example.org")]
    assert sum(part.count("Council budgets") for part in everything) == 1
