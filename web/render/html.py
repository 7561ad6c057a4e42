"""An Answer as HTML: the one-time notification card (一次性告知单), for the widget and the guide page."""

from __future__ import annotations

from knowledge.answer import Answer
from web.render.pages import environment
from web.render.plain import review_text


def render_html(answer: Answer) -> str:
    """The answer as an HTML fragment (autoescaped, from web/templates/_answer.html)."""
    return environment().get_template("_answer.html").render(a=answer, review=review_text(answer))
