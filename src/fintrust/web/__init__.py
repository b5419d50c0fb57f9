"""The merchant's HTTP side: the notification endpoint, the merchant API and customer pages."""

from fintrust.web.app import Services, create_app

__all__ = ["Services", "create_app"]
