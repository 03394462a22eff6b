"""The redirect URL allow-list: exact matches and exactly one default per type."""

from __future__ import annotations

import pytest

from antechamber.clock import FrozenClock
from antechamber.redirects import errors
from antechamber.redirects import service as redirects
from antechamber.services import Services
from tests.conftest import Credentials


def test_removing_the_default_promotes_the_oldest_other(
    services: Services, project: Credentials, clock: FrozenClock
) -> None:
    with services.scope(project.project_id, "test", "test") as scope:
        for url in ("https://a.example/cb", "https://b.example/cb", "https://c.example/cb"):
            redirects.add_redirect_url(scope, url)
            clock.advance(seconds=1)
        assert redirects.resolve(scope, "discovery", None) == "https://a.example/cb"
        redirects.remove_redirect_url(scope, "https://a.example/cb")
        assert redirects.resolve(scope, "discovery", None) == "https://b.example/cb"
        redirects.add_redirect_url(scope, "https://c.example/cb", default=True)
        assert redirects.resolve(scope, "discovery", None) == "https://c.example/cb"
        assert [r.is_default for r in redirects.list_redirect_urls(scope)] == [False, True]


@pytest.mark.parametrize(
    "url",
    [
        "https://a.example/cb?x=1",  # a query makes another URL
        "HTTPS://A.EXAMPLE/cb",  # no normalisation: exact
        "https://a.example/cb/../cb",
        "https://a.example:443/cb",
        "https://a.example\\@evil.example/cb",
    ],
)
def test_only_the_exact_url_matches(services: Services, project: Credentials, url: str) -> None:
    with services.scope(project.project_id, "test", "test") as scope:
        redirects.add_redirect_url(scope, "https://a.example/cb")
        with pytest.raises((errors.InvalidRedirectUrl, errors.NoMatchForRedirectUrl)):
            redirects.resolve(scope, "discovery", url)
