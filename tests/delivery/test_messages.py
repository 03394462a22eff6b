"""Message templates: the contract other work relies on, and what a reader sees."""

from __future__ import annotations

import pytest

from antechamber.delivery import messages
from antechamber.settings import Settings

URL = "https://app.acme.example/authenticate?stytch_token_type=discovery&token=abc"


@pytest.fixture
def settings_() -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        public_base_url="https://auth.acme.example:8443",
        product_name="Acme Login",
    )


def test_the_contract_of_each_template() -> None:
    found = {
        name: (info.channel, set(info.context_keys)) for name, info in messages.templates().items()
    }
    assert found["discovery_magic_link"] == ("email", {"url", "expiration_minutes"})
    assert found["sms_otp"] == ("sms", {"code", "expiration_minutes"})


def test_magic_link_email(settings_: Settings) -> None:
    r = messages.render(
        "discovery_magic_link",
        {"url": URL, "expiration_minutes": 15},
        locale="en",
        settings=settings_,
    )
    assert r.subject == "Sign in to Acme Login"
    assert URL in r.text  # plain text keeps the link as it is
    assert "expires in 15 minutes" in r.text
    assert r.html is not None
    assert f'href="{URL.replace("&", "&amp;")}"' in r.html  # escaped only as HTML requires
    assert "Acme Login" in r.html


def test_html_body_escapes_what_it_is_given(settings_: Settings) -> None:
    hostile = settings_.model_copy(update={"product_name": "<script>x</script>"})
    r = messages.render(
        "discovery_magic_link",
        {"url": 'https://x.example/?a="><img src=x>', "expiration_minutes": 1},
        locale="en",
        settings=hostile,
    )
    assert r.html is not None
    assert "<script>" not in r.html
    assert '"><img' not in r.html
    assert "expires in 1 minute." in r.text  # singular


def test_sms_code_text(settings_: Settings) -> None:
    r = messages.render(
        "sms_otp", {"code": "482913", "expiration_minutes": 10}, locale="en", settings=settings_
    )
    assert r.subject is None
    assert r.html is None
    assert "482913" in r.text
    assert "Acme Login" in r.text
    assert "10 minutes" in r.text
    # The origin-bound one-time-code line: last, host without port.
    assert r.text.splitlines()[-1] == "@auth.acme.example #482913"
    assert len(r.text) <= 160  # one SMS segment


def test_a_locale_and_its_fallbacks(settings_: Settings) -> None:
    fr = messages.render(
        "sms_otp", {"code": "111111", "expiration_minutes": 1}, locale="fr-CA", settings=settings_
    )
    assert "111111 est votre code de vérification Acme Login." in fr.text
    assert "1 minute." in fr.text
    assert fr.text.endswith("@auth.acme.example #111111")
    for unknown in ("de", "", "xx-YY"):
        assert messages.resolve_locale(unknown) == "en"
    assert messages.resolve_locale("FR") == "fr"


def test_every_email_template_has_all_three_parts(settings_: Settings) -> None:
    for name, info in messages.templates().items():
        context = {
            key: 5 if "minutes" in key else "https://x.example/" for key in info.context_keys
        }
        for locale in messages.available_locales():
            r = messages.render(name, context, locale=locale, settings=settings_)
            assert r.text.strip()
            if info.channel == "email":
                assert r.subject
                assert r.html


TRICKY = [
    URL,
    "https://x.example/?a=\"><img src=x>&b='c'",
    "  spaces around  ",
    "%(num)d %s {{ url }} {% if %} M00 \ue000",
    "Ünïcödé & <b>bold</b>",
    "",
]


@pytest.mark.parametrize("value", TRICKY)
@pytest.mark.parametrize("locale", ["en", "fr", "ja", "ru"])
def test_rendering_once_per_template_gives_jinjas_own_text(
    settings_: Settings, value: str, locale: str
) -> None:
    """A block rendered once with markers, the values then put in their places (escaped in
    HTML), is the very text Jinja renders for the message, for every template and block."""
    hostile = settings_.model_copy(update={"product_name": 'Acme <&> "Login"'})
    for name, info in messages.templates().items():
        context: dict[str, object] = {}
        for key in info.context_keys:
            context[key] = 7 if key.endswith("_minutes") else value
        for minutes in (1, 2, 5):
            if "expiration_minutes" in context:
                context["expiration_minutes"] = minutes
            code = messages.resolve_locale(locale)
            variables = {
                **context,
                "product_name": hostile.product_name,
                "host": hostile.public_host,
                "base_url": hostile.public_base_url,
                "locale": code.replace("_", "-"),
            }
            for block in messages.BLOCKS[info.channel]:
                fast = messages._render_block(name, info.channel, block, code, variables)
                full = messages._full_render(name, info.channel, block, code, variables)
                assert fast == full, (name, block, locale, value)


def test_links_and_codes_are_put_in_place() -> None:
    """The link and the code (new in every message) are put in place, not rendered through
    Jinja each time: if a template starts using them otherwise, this says so (rendering stays
    correct, only slower)."""
    for name, info in messages.templates().items():
        secrets_ = info.context_keys & {"url", "code"}
        assert secrets_, name
        for block in messages.BLOCKS[info.channel]:
            used = messages._plain_names(name, info.channel, block)
            assert used <= info.context_keys, (name, block)
        printed = set().union(
            *(messages._plain_names(name, info.channel, b) for b in messages.BLOCKS[info.channel])
        )
        assert secrets_ <= printed, name


def test_a_new_link_or_code_renders_from_the_cache(settings_: Settings) -> None:
    """A message whose only new values are its link or code renders every block from the
    cached skeletons: no block is keyed by a value it does not read (an email's subject by
    the link), so no link or code sits in a cache key and none costs a full render."""
    for name, info in messages.templates().items():
        context: dict[str, object] = {
            key: 5 if key.endswith("_minutes") else f"{key}-value" for key in info.context_keys
        }
        messages.render(name, context, locale="en", settings=settings_)
        before = messages._skeleton.cache_info().misses
        for i in range(3):
            fresh = {
                **context,
                **{k: f"{k}-{i}-new" for k in info.context_keys & {"url", "code"}},
            }
            messages.render(name, fresh, locale="en", settings=settings_)
        assert messages._skeleton.cache_info().misses == before, name
