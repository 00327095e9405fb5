"""Whom a digest reaches, variant by variant: one counting statement, or Python for many topics."""

from __future__ import annotations

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from updates.news import reach


def test_variants_are_counted_by_the_topics_each_subscriber_follows(app):
    topics = create_topics("lps", "care", "events")
    create_subscriber("a@example.org", ["lps"])
    create_subscriber("b@example.org", ["lps", "care"])
    create_subscriber("c@example.org", ["lps", "care", "events"])
    create_subscriber("d@example.org", ["events"])
    create_subscriber("e@example.org", {"care": "digest"})
    create_subscriber("gone@example.org", ["lps"], status="unsubscribed")
    digest = create_test_digest([create_news("Budgets", ["lps"])], ["lps", "care"])
    lps, care = topics["lps"].id, topics["care"].id

    assert reach.variant_counts(digest) == {
        frozenset({lps}): 1,
        frozenset({lps, care}): 2,
        frozenset({care}): 1,
    }
    counted = reach.reach(digest)
    assert (counted.subscribers, counted.left_out) == (3, 1)
    assert [(len(v.topics), v.subscribers, v.empty) for v in counted.variants] == [
        (2, 2, False),
        (1, 1, False),
        (1, 1, True),
    ]
    announcement = create_test_digest([], ["care"], kind="announcement")
    assert reach.variant_counts(announcement) == {frozenset({care}): 2}  # b and c; e is digest-only


def test_a_digest_to_more_topics_than_the_bits_hold_is_counted_the_same(app):
    slugs = [f"t{n}" for n in range(reach.MASK_BITS + 8)]
    topics = create_topics(*slugs)
    create_subscriber("first@example.org", slugs[:3])
    create_subscriber("last@example.org", [slugs[0], slugs[-1]])
    create_subscriber("also@example.org", [slugs[0], slugs[-1]])
    digest = create_test_digest([create_news("All", slugs)], slugs)
    ids = [topics[s].id for s in slugs]

    assert reach.variant_counts(digest) == {
        frozenset(ids[:3]): 1,
        frozenset({ids[0], ids[-1]}): 2,
    }
    assert reach.refusal(digest) is None
