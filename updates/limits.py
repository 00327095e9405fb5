"""How large each thing may be, one number each: forms, the API and the domain check the same."""

MAX_ID = 2**31 - 1  # ids are 32-bit integer columns: a larger one in a URL or body names nothing

TOPIC_SLUG = 64
TOPIC_NAME = 200
TOPIC_DESCRIPTION = 2_000
UPDATE_TITLE = 300
UPDATE_BODY = 100_000  # Markdown
EVENT_PLACE = 300
EVENT_URL = 2_000  # an online-meeting or booking link
EVENT_DAYS = 31  # how long one event may last
TIMEZONE_NAME = 64  # an IANA zone name, "America/Argentina/ComodRivadavia" being among the longest
DIGEST_SUBJECT = 300
DIGEST_INTRO = 20_000  # Markdown
CONSENT_BASIS = 2_000  # what staff record as the basis of consent for people they add
PASSWORD = 1_024
AUDIT_DETAIL = 500
LOCAL_PART = 64  # octets in an address's local part (RFC 5321)
VERP_TOKEN = 30  # characters in a VERP token with the largest ids (updates/mail/verp.py)
SCHEDULE_AHEAD_DAYS = 366  # how far ahead staff may schedule a digest
# Bytes in a JSON body sent to /api/: room for an update's 100,000 characters of Markdown.
API_BODY = 256 * 1024
IMPORT_UPLOAD = 50 * 1024 * 1024  # bytes in a CSV uploaded for import: about a million rows
SCHEDULE_NAME = 200
SUBSCRIBER_NAME = 200  # a person's name, as an imported list gives it
SUBSCRIBER_ORGANISATION = 200
