"""A seeded generator of a believable B2B world: accounts, leads and their events.

Each lead carries a hidden buying intent drawn by channel (referrals and
organic search bring more serious people than display ads) and nudged by fit.
Intent drives how much a lead engages and, later, how sales outcomes go, so
scores and outcomes are correlated the way they are in real funnels: most
leads never engage again, a few engage a lot, and conversion differs by channel.
Everything is relative to ``end``, so the same seed gives the same world on any day.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["CHANNELS", "DemoAccount", "DemoEvent", "DemoLead", "World", "generate_world"]

INDUSTRIES = (
    ("manufacturing", 0.22),
    ("software", 0.16),
    ("logistics", 0.10),
    ("retail", 0.10),
    ("healthcare", 0.08),
    ("finance", 0.08),
    ("construction", 0.07),
    ("energy", 0.06),
    ("professional services", 0.08),
    ("education", 0.05),
)
COUNTRIES = (
    ("CZ", 0.24),
    ("SK", 0.10),
    ("DE", 0.18),
    ("AT", 0.07),
    ("PL", 0.10),
    ("GB", 0.09),
    ("US", 0.10),
    ("FR", 0.06),
    ("NL", 0.06),
)
#: channel -> (share of leads, mean buying intent, campaigns)
CHANNELS: dict[str, tuple[float, float, tuple[str, ...]]] = {
    "organic_search": (0.20, 0.34, ("seo-blog", "seo-product")),
    "paid_search": (0.14, 0.28, ("gads-brand", "gads-generic")),
    "linkedin_ads": (0.13, 0.18, ("li-lead-gen-q3", "li-ebook-mfg")),
    "display": (0.08, 0.09, ("display-retargeting",)),
    "referral": (0.07, 0.46, ("partner-referral", "customer-referral")),
    "events": (0.09, 0.33, ("trade-fair-brno", "hannover-messe")),
    "webinar": (0.10, 0.30, ("webinar-oee", "webinar-pricing-101")),
    "content_syndication": (0.08, 0.13, ("syndication-techtarget",)),
    "newsletter": (0.11, 0.15, ("newsletter-signup",)),
}
SENIORITY = (
    ("c-level", 0.07),
    ("vp", 0.07),
    ("director", 0.14),
    ("manager", 0.27),
    ("senior", 0.20),
    ("individual", 0.20),
    ("student", 0.05),
)
DEPARTMENTS = ("operations", "it", "finance", "sales", "marketing", "engineering", "procurement")
FIRST = (
    "Jana",
    "Petr",
    "Lucie",
    "Tomas",
    "Eva",
    "Martin",
    "Katerina",
    "Jakub",
    "Anna",
    "Pavel",
    "Lena",
    "Jonas",
    "Marta",
    "Lukas",
    "Zuzana",
    "Michal",
    "Sarah",
    "James",
    "Emma",
    "Oliver",
    "Hannah",
    "Felix",
    "Agnieszka",
    "Piotr",
    "Sophie",
    "Lucas",
    "Clara",
    "Maximilian",
    "Ewa",
    "David",
)
LAST = (
    "Novak",
    "Svoboda",
    "Novotna",
    "Dvorak",
    "Cerna",
    "Prochazka",
    "Kucera",
    "Vesela",
    "Horak",
    "Muller",
    "Schmidt",
    "Weber",
    "Wagner",
    "Kowalski",
    "Nowak",
    "Smith",
    "Brown",
    "Taylor",
    "Dubois",
    "Martin",
    "de Vries",
    "Jansen",
    "Bauer",
    "Huber",
    "Kovac",
    "Varga",
    "Fischer",
)
NAME_A = (
    "Tatra",
    "Morava",
    "Vltava",
    "Nordic",
    "Alpen",
    "Baltic",
    "Danube",
    "Carpat",
    "Iron",
    "Blue",
    "Silver",
    "Prime",
    "Vector",
    "Atlas",
    "Orbit",
    "Kestrel",
    "Falcon",
    "Granite",
    "Beskyd",
    "Krkonose",
    "Rhein",
    "Elbe",
    "Oder",
    "Summit",
    "Pioneer",
    "Zenith",
    "Helix",
)
NAME_B = (
    "Works",
    "Systems",
    "Logistics",
    "Metal",
    "Tech",
    "Industries",
    "Labs",
    "Group",
    "Machinery",
    "Solutions",
    "Components",
    "Retail",
    "Health",
    "Energy",
    "Build",
    "Data",
    "Foods",
    "Plast",
)
FREE_MAIL = ("gmail.com", "seznam.cz", "outlook.com", "yahoo.com", "gmx.de")
REPS = (
    "petra.kralova@sales.leadgate-demo.test",
    "ondrej.benes@sales.leadgate-demo.test",
    "julia.hoffmann@sales.leadgate-demo.test",
    "mark.evans@sales.leadgate-demo.test",
)
BLOG = ("/blog/oee-basics", "/blog/downtime-costs", "/blog/erp-integration", "/blog/industry-4-0")


@dataclass(frozen=True)
class DemoAccount:
    id: str
    domain: str
    name: str
    industry: str
    employees: int
    annual_revenue: float
    country: str
    tier: str | None
    owner: str | None


@dataclass(frozen=True)
class DemoEvent:
    event_id: str
    type: str
    ts: datetime
    channel: str | None = None
    campaign: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoLead:
    id: str
    email: str
    first_name: str
    last_name: str
    title: str
    seniority: str
    department: str
    country: str
    channel: str
    campaign: str
    account: DemoAccount | None
    created_at: datetime
    intent: float
    events: list[DemoEvent] = field(default_factory=list)

    @property
    def initial_stage(self) -> str:
        return "subscriber" if self.channel == "newsletter" else "lead"


@dataclass
class World:
    seed: int
    start: datetime
    end: datetime
    accounts: list[DemoAccount]
    leads: list[DemoLead]

    @property
    def event_count(self) -> int:
        return sum(len(lead.events) for lead in self.leads)


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    values, weights = zip(*weighted, strict=True)
    return str(rng.choices(values, weights)[0])


def _accounts(rng: random.Random, count: int) -> list[DemoAccount]:
    accounts: list[DemoAccount] = []
    used: set[str] = set()
    for index in range(count):
        while True:
            name = f"{rng.choice(NAME_A)} {rng.choice(NAME_B)}"
            slug = name.lower().replace(" ", "")
            if slug not in used:
                break
            name = f"{name} {rng.randint(2, 99)}"
            slug = name.lower().replace(" ", "")
            if slug not in used:
                break
        used.add(slug)
        country = _pick(rng, COUNTRIES)
        tld = {
            "CZ": "cz",
            "SK": "sk",
            "DE": "de",
            "AT": "at",
            "PL": "pl",
            "GB": "co.uk",
            "FR": "fr",
            "NL": "nl",
        }
        employees = max(3, int(math.exp(rng.gauss(4.6, 1.3))))
        tier_roll = rng.random()
        tier = "tier-1" if tier_roll < 0.05 else "tier-2" if tier_roll < 0.18 else None
        accounts.append(
            DemoAccount(
                id=f"ac_demo_{index:04d}",
                domain=f"{slug}.{tld.get(country, 'com')}",
                name=name,
                industry=_pick(rng, INDUSTRIES),
                employees=employees,
                annual_revenue=round(employees * rng.uniform(60_000, 220_000), -3),
                country=country,
                tier=tier,
                owner=rng.choice(REPS) if tier is not None else None,
            )
        )
    return accounts


def _fit_bonus(lead_seniority: str, account: DemoAccount | None) -> float:
    """Real prospects cluster where the ideal customer profile says they should."""
    bonus = 0.0
    if account is not None:
        if 50 <= account.employees <= 500:
            bonus += 0.06
        if account.industry == "manufacturing":
            bonus += 0.06
        if account.country in ("CZ", "SK"):
            bonus += 0.04
    else:
        bonus -= 0.08
    if lead_seniority in ("director", "vp", "c-level"):
        bonus += 0.05
    if lead_seniority == "student":
        bonus -= 0.2
    return bonus


def generate_world(
    *, seed: int = 7, leads: int = 2400, accounts: int = 360, end: datetime, days: int = 180
) -> World:
    """Generate the demo world; the same arguments always give the same world."""
    rng = random.Random(seed)
    start = end - timedelta(days=days)
    account_list = _accounts(rng, accounts)
    channel_items = tuple((name, spec[0]) for name, spec in CHANNELS.items())
    people: list[DemoLead] = []
    emails: set[str] = set()
    for index in range(leads):
        channel = _pick(rng, channel_items)
        _share, mean_intent, campaigns = CHANNELS[channel]
        account = rng.choice(account_list) if rng.random() < 0.86 else None
        seniority = _pick(rng, SENIORITY)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = f"{first}.{last}".lower().replace(" ", "")
        domain = account.domain if account is not None else rng.choice(FREE_MAIL)
        email = f"{local}@{domain}"
        suffix = 2
        while email in emails:
            email = f"{local}{suffix}@{domain}"
            suffix += 1
        emails.add(email)
        concentration = 6.0
        mean = min(0.95, max(0.02, mean_intent + _fit_bonus(seniority, account)))
        intent = rng.betavariate(mean * concentration, (1 - mean) * concentration)
        created = start + timedelta(seconds=rng.uniform(0, (days - 2) * 86_400))
        department = rng.choice(DEPARTMENTS)
        lead = DemoLead(
            id=f"ld_demo_{index:05d}",
            email=email,
            first_name=first,
            last_name=last,
            title=f"{seniority.title()} {department.title()}"
            if seniority != "individual"
            else department.title(),
            seniority=seniority,
            department=department,
            country=account.country if account is not None else _pick(rng, COUNTRIES),
            channel=channel,
            campaign=rng.choice(campaigns),
            account=account,
            created_at=created,
            intent=intent,
        )
        _engage(rng, lead, end)
        people.append(lead)
    return World(seed=seed, start=start, end=end, accounts=account_list, leads=people)


def _engage(rng: random.Random, lead: DemoLead, end: datetime) -> None:
    """Fill in a lead's events: the sign-up, newsletters, and sessions driven by intent."""
    counter = 0

    def add(
        type_: str,
        ts: datetime,
        channel: str | None = None,
        campaign: str | None = None,
        **props: Any,
    ) -> None:
        nonlocal counter
        if ts >= end:
            return
        counter += 1
        lead.events.append(
            DemoEvent(f"{lead.id}-{counter:04d}", type_, ts, channel, campaign, props)
        )

    signup_form = {
        "newsletter": "newsletter",
        "webinar": "webinar-registration",
        "events": "badge-scan",
    }
    if lead.channel == "webinar":
        add(
            "webinar.registered",
            lead.created_at,
            lead.channel,
            lead.campaign,
            webinar=lead.campaign,
        )
    add(
        "form.submitted",
        lead.created_at,
        lead.channel,
        lead.campaign,
        form=signup_form.get(lead.channel, "gated-content"),
        url="/lp/" + lead.campaign,
    )
    if lead.channel == "webinar" and rng.random() < 0.35 + 0.5 * lead.intent:
        add(
            "webinar.attended",
            lead.created_at + timedelta(days=rng.uniform(2, 9)),
            "webinar",
            lead.campaign,
        )
    # weekly newsletter: opens and occasional clicks, fading for the uninterested
    open_rate = 0.04 + 0.4 * lead.intent
    unsubscribed = False
    week = lead.created_at + timedelta(days=rng.uniform(1, 7))
    while week < end and not unsubscribed:
        if rng.random() < open_rate:
            opened = week + timedelta(hours=rng.uniform(0.2, 48))
            add("email.opened", opened, "email", "newsletter", subject="weekly")
            if rng.random() < 0.1 + 0.45 * lead.intent:
                add(
                    "email.clicked",
                    opened + timedelta(minutes=rng.uniform(0.5, 10)),
                    "email",
                    "newsletter",
                    url=rng.choice((*BLOG, "/case-studies/tatra-works", "/product")),
                )
        if rng.random() < 0.012 * (1.3 - lead.intent):
            add(
                "email.unsubscribed",
                week + timedelta(hours=rng.uniform(1, 30)),
                "email",
                "newsletter",
            )
            unsubscribed = True
        week += timedelta(days=7)
    # the dormant majority: one touch and nothing more
    if rng.random() < 0.62 - 0.6 * lead.intent:
        return
    sessions = int(rng.expovariate(1 / (1 + 14 * lead.intent**1.6)))
    # serious buyers research in a window of a few weeks
    window_start = lead.created_at + timedelta(days=rng.uniform(0, 60))
    window_days = rng.uniform(7, 40)
    for _ in range(sessions):
        at = window_start + timedelta(days=rng.uniform(0, window_days))
        pages = ["/", *rng.sample(["/product", "/integrations", *BLOG], k=2)]
        if rng.random() < 0.15 + 0.55 * lead.intent:
            pages.append("/pricing")
        if rng.random() < 0.1 + 0.4 * lead.intent:
            pages.append("/case-studies/tatra-works")
        if rng.random() < 0.05 * (1 - lead.intent):
            pages.append("/careers")
        for offset, page in enumerate(pages):
            add("page.viewed", at + timedelta(minutes=2 * offset), "web", None, url=page)
        if rng.random() < 0.12 + 0.3 * lead.intent:
            asset = rng.choice(("case_study", "whitepaper", "ebook"))
            add("content.downloaded", at + timedelta(minutes=15), "web", None, asset_type=asset)
        if rng.random() < 0.05 + 0.12 * lead.intent:
            reg = at + timedelta(minutes=30)
            add("webinar.registered", reg, "web", "webinar-oee", webinar="webinar-oee")
            if rng.random() < 0.4 + 0.4 * lead.intent:
                add(
                    "webinar.attended",
                    reg + timedelta(days=rng.uniform(3, 10)),
                    "webinar",
                    "webinar-oee",
                )
        if rng.random() < 0.04 + 0.25 * lead.intent**2:
            add(
                "form.submitted",
                at + timedelta(minutes=20),
                "web",
                None,
                form="demo-request",
                url="/demo",
            )
