"""Subscribers: sign-up and confirmation, their preferences and consent, suppression, imports
and the bounces that stop mail to them."""
