"""Attribution rules (pure): touches read from tracking contexts, the default channel
grouping, first and latest touch whatever the arrival order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadgate.leads.attribution import (
    LIMITS,
    Attribution,
    Channel,
    StoredTouch,
    Touch,
    channel_for,
    merge_touch,
    touch_from_context,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SITE = "https://www.acme.io/pricing"


def _page(url: str = SITE, referrer: str | None = None, **page: Any) -> dict[str, Any]:
    return {"page": {"url": url, **({"referrer": referrer} if referrer else {}), **page}}


class TestChannelFor:
    @pytest.mark.parametrize(
        ("source", "medium", "campaign", "channel"),
        [
            (None, None, None, Channel.DIRECT),
            ("google", "cpc", "brand", Channel.PAID_SEARCH),
            ("bing", "ppc", None, Channel.PAID_SEARCH),
            ("google.co.uk", "paidsearch", None, Channel.PAID_SEARCH),
            ("duckduckgo.com", "organic", None, Channel.ORGANIC_SEARCH),
            ("google", "organic", None, Channel.ORGANIC_SEARCH),
            ("newsletter", "organic", None, Channel.ORGANIC_SEARCH),
            ("linkedin", "paid_social", "q1", Channel.PAID_SOCIAL),
            ("facebook", "cpc", None, Channel.PAID_SOCIAL),
            ("linkedin", None, None, Channel.ORGANIC_SOCIAL),
            ("lnkd.in", "referral", None, Channel.ORGANIC_SOCIAL),
            ("t.co", "referral", None, Channel.ORGANIC_SOCIAL),
            ("x", "social", None, Channel.ORGANIC_SOCIAL),
            ("m.facebook.com", "referral", None, Channel.ORGANIC_SOCIAL),
            ("partner", "social-media", None, Channel.ORGANIC_SOCIAL),
            ("youtube", "cpv", None, Channel.PAID_VIDEO),
            ("youtube.com", "referral", None, Channel.ORGANIC_VIDEO),
            ("newsletter", "email", "march", Channel.EMAIL),
            ("hubspot", "e-mail", None, Channel.EMAIL),
            ("mail.google.com", "referral", None, Channel.EMAIL),
            ("adnet", "display", None, Channel.DISPLAY),
            ("adnet", "banner", None, Channel.DISPLAY),
            ("capterra", "cpm", None, Channel.DISPLAY),
            ("capterra", "paid", None, Channel.PAID_OTHER),
            ("partner.example", "referral", None, Channel.REFERRAL),
            ("partnerstack", "affiliate", None, Channel.AFFILIATE),
            ("podcast", "audio", None, Channel.OTHER),
            (None, None, "spring", Channel.OTHER),
            ("googleish.example.com", "referral", None, Channel.REFERRAL),
        ],
    )
    def test_the_default_grouping(
        self, source: str | None, medium: str | None, campaign: str | None, channel: Channel
    ) -> None:
        touch = Touch(at=T0, source=source, medium=medium, campaign=campaign)
        assert channel_for(touch) is channel
        assert touch.channel is channel


class TestTouchFromContext:
    def test_segment_campaign_object_wins_over_the_url_and_referrer(self) -> None:
        context = {
            "campaign": {
                "name": "Spring Launch",
                "source": "LinkedIn",
                "medium": "Paid_Social",
                "term": "crm",
                "content": "video-a",
            },
            **_page(SITE + "?utm_source=bing&utm_medium=cpc", "https://www.google.com/"),
        }
        touch = touch_from_context(context, T0)
        assert touch == Touch(
            at=T0,
            source="linkedin",
            medium="paid_social",
            campaign="Spring Launch",
            term="crm",
            content="video-a",
            referrer="https://www.google.com/",
            landing_url=SITE + "?utm_source=bing&utm_medium=cpc",
        )
        assert touch.channel is Channel.PAID_SOCIAL

    def test_utm_parameters_of_the_page_url_or_search(self) -> None:
        url = SITE + "?UTM_SOURCE=google&utm_medium=cpc&utm_campaign=brand%20eu&utm_term=a"
        touch = touch_from_context(_page(url), T0)
        assert touch is not None
        assert (touch.source, touch.medium, touch.campaign, touch.term) == (
            "google",
            "cpc",
            "brand eu",
            "a",
        )
        searched = touch_from_context(
            _page("https://acme.io/x", search="?utm_source=newsletter&utm_medium=email"), T0
        )
        assert searched is not None and searched.channel is Channel.EMAIL

    def test_ad_click_ids_are_paid_search(self) -> None:
        touch = touch_from_context(_page(SITE + "?gclid=abc"), T0)
        assert touch is not None and (touch.source, touch.medium) == ("google", "cpc")
        bing = touch_from_context(_page(SITE + "?msclkid=abc"), T0)
        assert bing is not None and bing.channel is Channel.PAID_SEARCH

    def test_referrers_without_utm(self) -> None:
        google = touch_from_context(_page(referrer="https://www.google.de/search?q=lead"), T0)
        assert google is not None
        assert (google.source, google.medium, google.channel) == (
            "google.de",
            "organic",
            Channel.ORGANIC_SEARCH,
        )
        blog = touch_from_context(_page(referrer="https://blog.partner.example/post"), T0)
        assert blog is not None and blog.channel is Channel.REFERRAL
        assert blog.source == "blog.partner.example"

    def test_own_site_and_odd_referrers_are_direct(self) -> None:
        for referrer in (
            "https://acme.io/blog",
            "https://www.acme.io/",
            "https://docs.acme.io/start",
            "android-app://com.google.android.gm",
            "not a url",
        ):
            touch = touch_from_context(_page(referrer=referrer), T0)
            assert touch is not None and touch.channel is Channel.DIRECT, referrer
            assert touch.referrer is None

    def test_a_server_side_call_is_no_touch(self) -> None:
        assert touch_from_context({}, T0) is None
        assert touch_from_context({"ip": "1.2.3.4", "page": "x", "campaign": []}, T0) is None

    @pytest.mark.parametrize(
        "context",
        [
            {"campaign": {"name": ["x"], "source": {"a": 1}, "medium": True}},
            {"campaign": {"source": "x" * 100_000, "medium": "\x00cpc\n", "name": 12}},
            {"page": {"url": "http://[::1", "referrer": "http://a:bad/", "search": 7}},
            {"page": {"url": "https://acme.io/?" + "a=1&" * 5_000, "referrer": ["x"]}},
            {"page": {"url": 5, "search": "?utm_source=" + "%ff" * 1000}},
            {"campaign": "spring", "page": None},
        ],
    )
    def test_garbage_is_cut_or_ignored_never_raised(self, context: dict[str, Any]) -> None:
        touch = touch_from_context(context, T0)
        if touch is not None:
            for name, limit in LIMITS.items():
                value = getattr(touch, name)
                assert value is None or (isinstance(value, str) and len(value) <= limit)
                assert value is None or "\x00" not in value
            channel_for(touch)

    @given(st.dictionaries(st.text(max_size=8), st.recursive(st.none() | st.text(), st.lists)))
    def test_any_context_gives_a_touch_or_none(self, page: dict[str, Any]) -> None:
        touch = touch_from_context({"page": page, "campaign": page}, T0)
        assert touch is not None and isinstance(touch.channel, Channel)


_touches = st.builds(
    Touch,
    at=st.integers(0, 50).map(lambda hours: T0 + timedelta(hours=hours)),
    source=st.sampled_from([None, "google", "linkedin", "partner.example"]),
    medium=st.sampled_from([None, "cpc", "referral", "email"]),
    campaign=st.sampled_from([None, "spring", "autumn"]),
)


class TestMergeTouch:
    @given(st.lists(_touches, min_size=1, max_size=12), st.randoms())
    def test_first_is_earliest_and_latest_is_last_non_direct_whatever_the_order(
        self, touches: list[Touch], random: Any
    ) -> None:
        shuffled = list(touches)
        random.shuffle(shuffled)
        results = []
        for order in (touches, shuffled):
            attribution = Attribution()
            for touch in order:
                attribution = merge_touch(attribution, touch)
            results.append(attribution)
        assert results[0] == results[1]
        result = results[0]
        assert result.first is not None and result.latest is not None
        assert result.first.at == min(touch.at for touch in touches)
        non_direct = [t for t in touches if t.channel is not Channel.DIRECT]
        if non_direct:
            assert result.latest.at == max(t.at for t in non_direct)
            assert not result.latest.direct
        else:
            assert result.latest.at == max(t.at for t in touches)

    def test_a_later_direct_visit_keeps_the_campaign(self) -> None:
        paid = Touch(at=T0, source="google", medium="cpc", campaign="brand")
        direct = Touch(at=T0 + timedelta(days=3))
        attribution = merge_touch(merge_touch(Attribution(), paid), direct)
        assert attribution.latest == StoredTouch.of(paid)
        assert attribution.first == StoredTouch.of(paid)
        earlier = Touch(at=T0 - timedelta(days=1))
        corrected = merge_touch(attribution, earlier)
        assert corrected.first == StoredTouch.of(earlier)
        assert corrected.first is not None and corrected.first.channel == "direct"
        assert corrected.latest == StoredTouch.of(paid)
