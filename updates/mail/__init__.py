"""Mail: composing messages, the outbox of transactional email, and the one path to the relay.

It imports only the base modules (config, models, tokens, links, queues, ...), never the domain.
"""
