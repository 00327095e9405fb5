"""Form pieces every audience shares: the topic checkboxes, the one-button form, a page number."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Form, IntegerField, SelectMultipleField
from wtforms.validators import NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from updates.paging import LAST_PAGE


class TopicsField(SelectMultipleField):
    """One checkbox per topic, value = slug."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ButtonForm(FlaskForm):
    """One button; what it does is in the URL. Its CSRF token is checked for every POST."""


class PagedForm(Form):
    """A list's filters, read from the query string (a GET: no CSRF), and the page asked for."""

    page = IntegerField(
        "Page", default=1, validators=[Optional(), NumberRange(1, LAST_PAGE, "No such page.")]
    )

    @property
    def page_number(self) -> int:
        return self.page.data or 1
