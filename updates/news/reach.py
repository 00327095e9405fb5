"""Whom a digest would reach, variant by variant, counted before it is sent; and why a digest
that would reach nobody is refused."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import Select, case, func, select

from updates.extensions import db
from updates.mail.newsletter import sections_for
from updates.models import (
    Digest,
    DigestKind,
    Frequency,
    Subscriber,
    SubscriberStatus,
    Subscription,
    Topic,
)

MASK_BITS = 62  # topics counted in one statement: each is a bit of a 64-bit sum


@dataclass(frozen=True)
class VariantReach:
    """Subscribers who follow exactly these of the digest's topics, and whether their email
    would hold any update."""

    topics: list[Topic]
    subscribers: int
    empty: bool


@dataclass(frozen=True)
class Reach:
    variants: list[VariantReach]

    @property
    def subscribers(self) -> int:
        """Those who would get an email."""
        return sum(v.subscribers for v in self.variants if not v.empty)

    @property
    def left_out(self) -> int:
        """Those who follow its topics but whose email would hold no update."""
        return sum(v.subscribers for v in self.variants if v.empty)


def variant_counts(digest: Digest) -> dict[frozenset[int], int]:
    """Active subscribers the digest is for (as the ledger will be written), by the set of its
    topics each follows."""
    topic_ids = [topic.id for topic in digest.topics]
    if not topic_ids:
        return {}
    followed = (
        select(Subscription.subscriber_id, Subscription.topic_id)
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(Subscriber.status == SubscriberStatus.ACTIVE, Subscription.topic_id.in_(topic_ids))
    )
    if digest.kind == DigestKind.ANNOUNCEMENT:
        followed = followed.where(Subscription.frequency == Frequency.EVERY_ANNOUNCEMENT)
    if len(topic_ids) > MASK_BITS:
        return _counted_here(followed)
    # Each subscriber's topics summed as bits, then counted per sum: one statement, however
    # many subscribers.
    bit = case(*[(Subscription.topic_id == t, 1 << n) for n, t in enumerate(topic_ids)], else_=0)
    masks = (
        followed.with_only_columns(func.sum(bit).label("mask"))
        .group_by(Subscription.subscriber_id)
        .subquery()
    )
    rows = db.session.execute(select(masks.c.mask, func.count()).group_by(masks.c.mask))
    return {
        frozenset(t for n, t in enumerate(topic_ids) if int(mask) >> n & 1): count
        for mask, count in rows
    }


def _counted_here(followed: Select) -> dict[frozenset[int], int]:
    """The same count for a digest to more topics than the bits hold, grouped in Python."""
    topics_of: dict[int, set[int]] = defaultdict(set)
    for subscriber_id, topic_id in db.session.execute(followed):
        topics_of[subscriber_id].add(topic_id)
    return dict(Counter(frozenset(topics) for topics in topics_of.values()))


def reach(digest: Digest) -> Reach:
    """Per variant, how many subscribers the digest reaches, largest first."""
    by_id = {topic.id: topic for topic in digest.topics}
    variants = [
        VariantReach(
            topics=[by_id[t] for t in by_id if t in followed],
            subscribers=count,
            empty=not sections_for(digest, followed),
        )
        for followed, count in variant_counts(digest).items()
    ]
    variants.sort(key=lambda v: (-v.subscribers, [t.position for t in v.topics]))
    return Reach(variants)


def refusal(digest: Digest) -> str | None:
    """Why the digest must not be sent, or None: it carries no update for any of its topics,
    or no active subscriber would get it."""
    if not sections_for(digest, frozenset(topic.id for topic in digest.topics)):
        return "none of its updates is for any of its topics"
    if reach(digest).subscribers == 0:
        return "no active subscriber follows its topics"
    return None
