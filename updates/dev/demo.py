"""Sample topics and updates for development and demonstrations (`flask --app updates demo`)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from updates.extensions import db
from updates.models import Update
from updates.news.publishing import create_update
from updates.news.topics import add_topic, all_topics

TOPICS = (
    (
        "local-public-services",
        "Local Public Services",
        "News and opportunities from our Local Public Services programme: digital innovation "
        "in councils, the committee's reports and ways for suppliers to get involved.",
    ),
    (
        "social-care",
        "Social Care Working Group",
        "The working group's research, guidance and calls for evidence on technology in adult "
        "social care.",
    ),
    (
        "innovators-network",
        "Innovators Network",
        "Meet-ups, showcases and challenges connecting local government with innovative "
        "technology companies.",
    ),
    (
        "events",
        "Events and Summits",
        "Invitations to our summits, roundtables and webinars, with dates and booking links.",
    ),
)

UPDATES = (
    (
        "Creating a catalyst for change",
        "The Local Public Services Committee's report *Local Public Services Innovation: Creating "
        "a catalyst for change* sets out how councils and technology suppliers can work together "
        "to bring digital innovation to local services.\n\nOne theme runs through it: closing the "
        "**digital divide** between those who can reach digital services and those who cannot.",
        ["local-public-services"],
    ),
    (
        "The Innovators Network is open",
        "Born of the committee's report, the Innovators Network connects councils with "
        "innovators in a neutral forum, to share what works and to tackle the most pressing "
        "challenges together.\n\n- peer support from across local government\n- best practice "
        "from the tech supplier base\n- help to define problems before buying solutions",
        ["innovators-network", "local-public-services"],
    ),
    (
        "Local Public Services Innovation Summit: book now",
        "Our first Local Public Services Innovation Summit brings local authorities and industry "
        "together to ask what more it takes to harness innovation, and to showcase good practice.",
        ["events", "local-public-services"],
    ),
    (
        "Technology in adult social care: call for evidence",
        "The Social Care Working Group wants to hear from care providers and suppliers about what "
        "helps, and what gets in the way of, technology that supports people to live "
        "independently.",
        ["social-care"],
    ),
)


def load_demo(say: Callable[[str], None]) -> None:
    """Add the sample topics that are missing, and the sample updates if there are none."""
    existing = {topic.slug for topic in all_topics()}
    for slug, name, description in TOPICS:
        if slug not in existing:
            add_topic(slug, name, description)
            say(f"added topic {slug}")
    if db.session.scalar(select(func.count()).select_from(Update)) == 0:
        for title, body, topics in UPDATES:
            create_update(title, body, topics)
            say(f"published update {title!r}")
