"""The API's OpenAPI 3.1 description, written by hand and served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

from flask import current_app

from updates import limits
from updates.models import Cadence, DigestKind, DigestStatus, SubscriberStatus
from updates.news.cadence import WEEKDAYS

from . import blueprint

JSON = "application/json"
ERRORS = {
    400: (
        "BadRequest",
        "The body is not a JSON object, a field is missing, of the wrong type or too long, "
        "or a topic or update named does not exist.",
    ),
    401: ("Unauthorized", "No valid API token; nothing was done."),
    403: ("Forbidden", "Only an admin's token may do this; nothing was done."),
    404: ("NotFound", "There is nothing at this address."),
    409: (
        "Conflict",
        "The topic exists already; the digest's status does not allow this, or it would reach "
        "nobody; or the update was withdrawn.",
    ),
    # 400 on the schedule calls also covers an unknown time zone, a time that is not HH:MM, a
    # weekday or day missing for its cadence or given for another.
    413: ("TooLarge", "The body is larger than the service accepts."),
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": schema}}}


def answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def errors(*codes: int) -> dict[str, Any]:
    """The error responses of a call: 401 always, and the ones named."""
    return {
        str(code): {"$ref": f"#/components/responses/{ERRORS[code][0]}"} for code in (401, *codes)
    }


def operation(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, **extra, "responses": responses}


DIGEST_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
    "description": "The digest's id, as answered by POST /api/digests.",
}


SCHEDULE_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
    "description": "The schedule's id, as answered by POST /api/schedules.",
}
UPDATE_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
    "description": "The update's id, as answered by POST /api/updates.",
}
GONE = {"204": {"description": "Done; there is no body."}}


def digest_action(summary: str) -> dict[str, Any]:
    return {
        "parameters": [DIGEST_ID],
        "post": operation(
            summary, {"202": answer("Done.", ref("DigestState")), **errors(404, 409)}
        ),
    }


PATHS: dict[str, Any] = {
    "/api/topics": {
        "get": operation(
            "List every topic, with its count of active subscribers.",
            {"200": answer("The topics.", {"type": "array", "items": ref("Topic")}), **errors()},
        ),
        "post": operation(
            "Add a topic (admins only).",
            {"201": answer("The new topic.", ref("Topic")), **errors(400, 403, 409, 413)},
            requestBody=body(ref("NewTopic")),
        ),
    },
    "/api/updates": {
        "post": operation(
            "Publish an update; its body is Markdown, rendered once to sanitised HTML.",
            {"201": answer("Published.", ref("CreatedUpdate")), **errors(400, 413)},
            requestBody=body(ref("NewUpdate")),
        ),
    },
    "/api/updates/{id}": {
        "parameters": [UPDATE_ID],
        "patch": operation(
            "Correct an update: any of its title, body and topics. Its page, the archive, the "
            "feeds and digests not yet sending show the correction; digests that started "
            "sending keep the copy they started with. Every revision is kept.",
            {"200": answer("The update as corrected.", ref("Update")), **errors(400, 404, 409)},
            requestBody=body(ref("UpdateCorrection")),
        ),
        "delete": operation(
            "Withdraw an update: its page answers 410, it leaves the archive and the feeds, "
            "and is taken out of every digest not yet sending (a scheduled one left with no "
            "update goes back to draft); digests that started sending keep their copy. "
            "Idempotent: withdrawing it again answers 204 and changes nothing.",
            {**GONE, **errors(404)},
        ),
    },
    "/api/updates/{id}/event/cancel": {
        "parameters": [UPDATE_ID],
        "post": operation(
            "Cancel the update's event: its page and the event lists say so, its `.ics` and "
            "the feeds carry it as cancelled (METHOD:CANCEL for its own file, same UID), and "
            "the next digest for its topics tells, once, the readers who were sent it. "
            "Idempotent. 409 when the update is no event or was withdrawn.",
            {"200": answer("The update.", ref("Update")), **errors(404, 409)},
        ),
    },
    "/api/digests": {
        "post": operation(
            "Compose a digest (a draft) of published updates, for followers of some topics.",
            {"201": answer("The new draft.", ref("CreatedDigest")), **errors(400, 413)},
            requestBody=body(ref("NewDigest")),
        ),
    },
    "/api/digests/{id}": {
        "parameters": [DIGEST_ID],
        "get": operation(
            "A digest's status and delivery counts.",
            {"200": answer("The digest.", ref("DigestProgress")), **errors(404)},
        ),
        "patch": operation(
            "Change a draft: any of its subject, intro, updates, topics and kind.",
            {"200": answer("Changed.", ref("DigestState")), **errors(400, 404, 409)},
            requestBody=body(ref("DigestChange")),
        ),
        "delete": operation(
            "Delete a draft; 409 for any other status.", {**GONE, **errors(404, 409)}
        ),
    },
    "/api/digests/{id}/send": {
        "parameters": [DIGEST_ID],
        "post": operation(
            "Send a draft or scheduled digest now, or schedule it for `at`. 409, and nothing "
            "sent, when it would reach nobody: no active subscriber follows its topics, or "
            "none of its updates is for any of its topics.",
            {"202": answer("Scheduled.", ref("DigestState")), **errors(400, 404, 409)},
            requestBody=body(ref("SendDigest"), required=False),
        ),
    },
    "/api/digests/{id}/pause": digest_action("Pause a scheduled or sending digest."),
    "/api/digests/{id}/resume": digest_action("Resume a paused digest where it stopped."),
    "/api/digests/{id}/cancel": digest_action(
        "Cancel a digest for good; what was not sent yet is skipped."
    ),
    "/api/schedules": {
        "get": operation(
            "List every schedule, with its next run and last digest.",
            {
                "200": answer("The schedules.", {"type": "array", "items": ref("Schedule")}),
                **errors(),
            },
        ),
        "post": operation(
            "Add a schedule: at its time it composes a digest of what is new for its topics and "
            "sends it; each reader's copy leaves out updates they were already sent.",
            {"201": answer("The new schedule.", ref("CreatedSchedule")), **errors(400, 413)},
            requestBody=body(ref("NewSchedule")),
        ),
    },
    "/api/schedules/{id}": {
        "parameters": [SCHEDULE_ID],
        "get": operation(
            "One schedule.", {"200": answer("The schedule.", ref("Schedule")), **errors(404)}
        ),
        "patch": operation(
            "Change a schedule; `active: false` pauses it, `true` resumes it from the next slot. "
            "A new cadence drops the weekday or day unless they are given again.",
            {"200": answer("The schedule.", ref("Schedule")), **errors(400, 404, 413)},
            requestBody=body(ref("ScheduleChange")),
        ),
        "delete": operation(
            "Delete a schedule; the digests it composed stay.",
            {"204": {"description": "Deleted."}, **errors(404)},
        ),
    },
    "/api/schedules/{id}/run": {
        "parameters": [SCHEDULE_ID],
        "post": operation(
            "Compose and send now the updates for its topics that its readers have not been "
            "sent; `digest` is null, and nothing is sent, when there is none. Its next run stays.",
            {"202": answer("Run.", ref("ScheduleRun")), **errors(404)},
        ),
    },
    "/api/subscribers": {
        "get": operation(
            "Look a subscriber up by address.",
            {"200": answer("The subscriber.", ref("Subscriber")), **errors(400, 404)},
            parameters=[
                {
                    "name": "email",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "format": "email"},
                }
            ],
        ),
    },
    "/api/openapi.json": {
        "get": operation(
            "This description.",
            {"200": {"description": "An OpenAPI 3.1 document.", "content": {JSON: {}}}},
            security=[],
        ),
    },
}

SLUG = {"type": "string", "pattern": "^[a-z0-9]+(?:-[a-z0-9]+)*$", "maxLength": 64}
SLUGS = {"type": "array", "items": {"type": "string"}, "minItems": 1}

CADENCE = {
    "cadence": {"enum": list(Cadence.ALL)},
    "weekday": {
        "description": "Weekly only: a day's name (or its first three letters), or 0 (Monday) "
        "to 6 (Sunday).",
        "oneOf": [
            {"type": "string", "enum": [*WEEKDAYS, *(w[:3] for w in WEEKDAYS)]},
            {"type": "integer", "minimum": 0, "maximum": 6},
        ],
    },
    "day": {
        "type": "integer",
        "minimum": 1,
        "maximum": 31,
        "description": "Monthly only; a month without that day runs on its last day.",
    },
    "time": {
        "type": "string",
        "pattern": "^([01]?[0-9]|2[0-3]):[0-5][0-9]$",
        "description": "Local time, HH:MM. A time the clocks skip runs as many minutes later "
        "as they skip; a time they repeat runs once, the first time.",
    },
    "timezone": {"type": "string", "description": "An IANA time zone, such as Europe/London."},
}
SCHEDULE_TEXT = {
    "name": {"type": "string", "minLength": 1, "maxLength": limits.SCHEDULE_NAME},
    "topics": {**SLUGS, "description": "Its readers: the followers of these topics."},
    "subject": {
        "type": "string",
        "minLength": 1,
        "maxLength": limits.DIGEST_SUBJECT,
        "description": "The digest's subject; may use {org}, {name} and {date} (the run's "
        "local date). Default: `{org} updates, {date}`.",
    },
    "intro": {"type": "string", "maxLength": limits.DIGEST_INTRO, "description": "Markdown."},
}
SCHEDULE_SCHEMAS: dict[str, Any] = {
    "NewSchedule": {
        "type": "object",
        "required": ["name", "topics", "cadence", "time", "timezone"],
        "properties": {**SCHEDULE_TEXT, **CADENCE},
    },
    "ScheduleChange": {
        "type": "object",
        "properties": {**SCHEDULE_TEXT, **CADENCE, "active": {"type": "boolean"}},
    },
    "CreatedSchedule": {
        "type": "object",
        "required": ["id", "next_run"],
        "properties": {
            "id": {"type": "integer"},
            "next_run": {"type": "string", "format": "date-time", "description": "In UTC."},
        },
    },
    "Schedule": {
        "type": "object",
        "required": ["id", "name", "topics", "cadence", "time", "timezone", "active", "next_run"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "topics": {"type": "array", "items": SLUG},
            "cadence": {"enum": list(Cadence.ALL)},
            "weekday": {"enum": [*WEEKDAYS, None]},
            "day": {"type": ["integer", "null"]},
            "time": {"type": "string"},
            "timezone": {"type": "string"},
            "subject": {"type": "string"},
            "intro": {"type": "string"},
            "active": {"type": "boolean", "description": "False while paused."},
            "next_run": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "In UTC; null while paused.",
            },
            "last_run": {"type": ["string", "null"], "format": "date-time"},
            "last_digest": {"type": ["integer", "null"]},
        },
    },
    "ScheduleRun": {
        "type": "object",
        "required": ["digest"],
        "properties": {"digest": {"type": ["integer", "null"]}},
    },
}

EVENT_PROPERTIES = {
    "start": {"type": "string", "example": "2026-03-03T10:00"},
    "end": {"type": "string", "example": "2026-03-03T12:30"},
    "timezone": {"type": "string", "example": "Europe/London"},
    "place": {"type": ["string", "null"], "maxLength": limits.EVENT_PLACE},
    "online_url": {"type": ["string", "null"], "format": "uri", "maxLength": limits.EVENT_URL},
    "booking_url": {"type": ["string", "null"], "format": "uri", "maxLength": limits.EVENT_URL},
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "What was wrong."}},
    },
    "Topic": {
        "type": "object",
        "required": ["slug", "name", "description", "public", "subscribers"],
        "properties": {
            "slug": SLUG,
            "name": {"type": "string"},
            "description": {"type": "string"},
            "public": {"type": "boolean", "description": "Offered on the sign-up form."},
            "subscribers": {"type": "integer", "description": "Active subscribers."},
        },
    },
    "NewTopic": {
        "type": "object",
        "required": ["slug", "name"],
        "properties": {
            "slug": SLUG,
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "description": {"type": "string", "maxLength": 2000, "default": ""},
            "public": {"type": "boolean", "default": True},
        },
    },
    "NewUpdate": {
        "type": "object",
        "required": ["title", "body", "topics"],
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": limits.UPDATE_TITLE},
            "body": {"type": "string", "minLength": 1, "maxLength": limits.UPDATE_BODY},
            "topics": {**SLUGS, "description": "Slugs of existing topics."},
            "announce": {
                "type": "boolean",
                "default": False,
                "description": "Announce it at once to the followers of its topics who chose "
                "every announcement (an `announcement` digest).",
            },
            "event": ref("Event"),
        },
    },
    "Event": {
        "type": "object",
        "description": "Makes the update an event. Times are wall-clock times in `timezone`; "
        "one the zone skips (clocks going forward) is refused, one it repeats is taken as the "
        "first. The event's page offers an `.ics`, and `/events.ics` lists it.",
        "required": ["start", "end", "timezone"],
        "properties": EVENT_PROPERTIES,
    },
    "CreatedUpdate": {
        "type": "object",
        "required": ["id", "url"],
        "properties": {
            "id": {"type": "integer"},
            "url": {"type": "string", "format": "uri", "description": "Its public page."},
            "announcement": {
                "type": ["integer", "null"],
                "description": "The announcement digest sending it, or null: not asked for, "
                "or no one follows its topics for every announcement.",
            },
        },
    },
    "UpdateCorrection": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": limits.UPDATE_TITLE},
            "body": {"type": "string", "minLength": 1, "maxLength": limits.UPDATE_BODY},
            "topics": {**SLUGS, "description": "Slugs of existing topics."},
            "event": {
                "oneOf": [ref("Event"), {"type": "null"}],
                "description": "Move or change its event (the calendar entry keeps its UID and "
                "its SEQUENCE goes up), make it one, or null: no longer an event.",
            },
        },
    },
    "Update": {
        "type": "object",
        "required": ["id", "url", "title", "body", "topics", "revisions"],
        "properties": {
            "id": {"type": "integer"},
            "url": {"type": "string", "format": "uri", "description": "Its public page."},
            "title": {"type": "string"},
            "body": {"type": "string", "description": "Markdown."},
            "topics": {"type": "array", "items": SLUG},
            "revisions": {"type": "integer", "description": "Revisions kept, the first included."},
            "event": {"oneOf": [ref("EventState"), {"type": "null"}]},
        },
    },
    "EventState": {
        "type": "object",
        "properties": {
            **EVENT_PROPERTIES,
            "cancelled": {"type": "boolean"},
        },
    },
    "DigestChange": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "subject": {"type": "string", "minLength": 1, "maxLength": limits.DIGEST_SUBJECT},
            "intro": {"type": "string", "maxLength": limits.DIGEST_INTRO},
            "updates": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "Ids of published updates, in order; replaces its list.",
            },
            "topics": SLUGS,
            "kind": {"enum": [DigestKind.DIGEST, DigestKind.ANNOUNCEMENT]},
        },
    },
    "NewDigest": {
        "type": "object",
        "required": ["subject", "updates", "topics"],
        "properties": {
            "subject": {"type": "string", "minLength": 1, "maxLength": limits.DIGEST_SUBJECT},
            "intro": {"type": "string", "maxLength": 20000, "description": "Markdown."},
            "updates": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "Ids of published updates, in the order they appear.",
            },
            "topics": {**SLUGS, "description": "Its audience: the followers of these topics."},
            "kind": {
                "enum": [DigestKind.DIGEST, DigestKind.ANNOUNCEMENT],
                "default": DigestKind.DIGEST,
            },
        },
    },
    "CreatedDigest": {
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"type": "integer"}},
    },
    "SendDigest": {
        "type": "object",
        "properties": {
            "at": {
                "type": "string",
                "format": "date-time",
                "description": "When to send (ISO 8601; without an offset, UTC). Absent: now.",
            }
        },
    },
    "DigestState": {
        "type": "object",
        "required": ["id", "status"],
        "properties": {"id": {"type": "integer"}, "status": ref("DigestStatus")},
    },
    "DigestStatus": {
        "enum": [
            DigestStatus.DRAFT,
            DigestStatus.SCHEDULED,
            DigestStatus.SENDING,
            DigestStatus.PAUSED,
            DigestStatus.SENT,
            DigestStatus.CANCELLED,
        ],
        "description": "`sent` once every delivery is sent, failed or skipped.",
    },
    "DigestProgress": {
        "type": "object",
        "required": ["id", "status", "recipients", "sent", "failed"],
        "properties": {
            "id": {"type": "integer"},
            "status": ref("DigestStatus"),
            "recipients": {"type": "integer", "description": "Deliveries in its ledger."},
            "sent": {"type": "integer"},
            "failed": {"type": "integer"},
            "already_sent": {
                "type": "integer",
                "description": "Readers left out because they had been sent every update in it.",
            },
        },
    },
    **SCHEDULE_SCHEMAS,
    "Subscriber": {
        "type": "object",
        "required": ["email", "status", "topics"],
        "properties": {
            "email": {"type": "string", "format": "email"},
            "status": {"enum": list(SubscriberStatus.ALL)},
            "topics": {"type": "array", "items": SLUG, "description": "Topics followed."},
        },
    },
}


def document(base_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "updates staff API",
            "version": "1",
            "description": "Topics, updates and digests for staff and their scripts. Every call "
            "but this description needs `Authorization: Bearer TOKEN`, from "
            "`flask --app updates api-token create EMAIL`. Errors answer `{error: message}`.",
        },
        "servers": [{"url": base_url}],
        "security": [{"bearerToken": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token made by `flask --app updates api-token create`.",
                }
            },
            "schemas": SCHEMAS,
            "responses": {
                name: answer(description, ref("Error")) for name, description in ERRORS.values()
            },
        },
    }


@blueprint.get("/openapi.json")
def openapi_document():
    return document(current_app.config["BASE_URL"])
