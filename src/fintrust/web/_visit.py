"""One request to a customer page: the app's services, the visitor's signed session, and
rendering with the pages' security headers (no framing of ours; the checkout page may frame only
the Trustly origin it shows; scripts and styles from our own origin only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jinja2
from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Row

from fintrust.web.forms import format_money
from fintrust.web.sessions import COOKIE_NAME, Session, SessionCodec

if TYPE_CHECKING:
    from fintrust.web.app import Services

__all__ = ["Visit", "origin_of", "security_headers"]

_TEMPLATES = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
)
_TEMPLATES.env.filters["money"] = format_money
_TEMPLATES.env.filters["when"] = lambda moment: moment.strftime("%d %b %Y, %H:%M UTC")
_TEMPLATES.env.filters["clock"] = lambda moment: moment.strftime("%H:%M:%S")


@dataclass
class Visit:
    """One request to a page: the app's services and the visitor's session."""

    request: Request
    services: Services
    codec: SessionCodec
    session: Session
    cookie_stale: bool  # the cookie must be (re)set on the response

    @classmethod
    def of(cls, request: Request) -> Visit:
        services: Services = request.app.state.services
        codec = SessionCodec(services.settings.session_secret.get_secret_value())
        session = codec.loads(request.cookies.get(COOKIE_NAME))
        if session is None:
            return cls(request, services, codec, Session.new(), cookie_stale=True)
        return cls(request, services, codec, session, cookie_stale=False)

    @property
    def posted_session(self) -> Session | None:
        """The session a form was posted in; a brand-new one cannot have issued its token."""
        return None if self.cookie_stale else self.session

    def customer(self) -> Row[Any] | None:
        if self.session.customer_id is None:
            return None
        with self.services.reader() as work:
            return work.customers.get(self.session.customer_id)

    def start_session(self, customer_id: int | None) -> None:
        self.session = Session.new(customer_id)
        self.cookie_stale = True

    def csrf_ok(self, token: str) -> bool:
        return self.codec.csrf_ok(self.posted_session, token)

    def posting_customer(self, csrf_token: str, back: str) -> Row[Any] | Response:
        """The signed-in customer of a form POST with a valid CSRF token, or the response that
        sends the visitor to sign in (no customer) or back to ``back`` (bad token)."""
        customer = self.customer()
        if customer is None:
            return self.redirect("/")
        if not self.csrf_ok(csrf_token):
            return self.refused(back)
        return customer

    def finish(self, response: Response, *, frame_origin: str | None = None) -> Response:
        if self.cookie_stale:
            response.set_cookie(
                COOKIE_NAME,
                self.codec.dumps(self.session),
                max_age=self.codec.max_age,
                httponly=True,
                secure=self.services.settings.public_base_url.startswith("https://"),
                samesite="lax",  # sent on the top-level return from Trustly's checkout
                path="/",
            )
        response.headers.update(security_headers(frame_origin))
        return response

    def page(
        self,
        template: str,
        *,
        status: int = 200,
        customer: Row[Any] | None = None,
        frame_origin: str | None = None,
        **context: Any,
    ) -> Response:
        settings = self.services.settings
        response = _TEMPLATES.TemplateResponse(
            self.request,
            template,
            {
                "customer": customer,
                "csrf_token": self.codec.csrf_token(self.session),
                "test_environment": settings.trustly_environment != "live",
                "root": self.request.scope.get("root_path", ""),
                **context,
            },
            status_code=status,
        )
        return self.finish(response, frame_origin=frame_origin)

    def redirect(self, path: str) -> Response:
        root = self.request.scope.get("root_path", "")
        return self.finish(RedirectResponse(f"{root}{path}", status_code=303))

    def refused(self, back: str) -> Response:
        """A POST without the session's CSRF token: nothing happens."""
        return self.page(
            "message.html",
            status=403,
            customer=self.customer(),
            title="This form has expired",
            body="For your security a form works only in the session it was opened in. "
            "Open the page again and send the form from there.",
            link=back,
            link_text="Open the page again",
            tone="bad",
        )

    def not_found(self, customer: Row[Any] | None) -> Response:
        return self.page(
            "message.html",
            status=404,
            customer=customer,
            title="Not found",
            body="There is nothing here for your account.",
            link="/wallet",
            link_text="Back to your wallet",
            tone="bad",
        )


def security_headers(frame_origin: str | None) -> dict[str, str]:
    frames = frame_origin or "'none'"
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self'; form-action 'self'; frame-src {frames}; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Cache-Control": "no-store",
    }


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
