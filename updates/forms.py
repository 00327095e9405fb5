"""Form pieces every audience shares: the topic checkboxes and the one-button form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget


class TopicsField(SelectMultipleField):
    """One checkbox per topic, value = slug."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ButtonForm(FlaskForm):
    """One button; what it does is in the URL. Its CSRF token is checked for every POST."""
