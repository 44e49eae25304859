"""Request dependencies: the database session, the model, and API-key checks.

REST calls send ``Authorization: Bearer KEY``; the tracking endpoints also take
HTTP Basic with the key as the user name (Segment's write key). A missing or
unknown key is 401, a key outside the endpoint's scope 403.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from leadgate.actions.playbooks import Playbooks
from leadgate.config import Settings
from leadgate.db.engine import Database
from leadgate.ingest.browser import AllowedOrigins, RateLimiter
from leadgate.ingest.live import LiveLeads
from leadgate.ingest.screening import ScreeningPolicy
from leadgate.ingest.writer import GroupWriter
from leadgate.keys.service import Scope, allows, authenticate, public_origins
from leadgate.leads.models import StageChange
from leadgate.qualification.handoff import HandoffPolicy, hand_off
from leadgate.scoring.nodes import ScoringModel
from leadgate.users.models import User
from leadgate.users.service import Viewer, viewer_for

__all__ = [
    "AdminKey",
    "Caller",
    "IngestKey",
    "KeyCache",
    "SalesKey",
    "ServiceState",
    "authorize",
    "require",
    "snapshot",
    "state",
    "transaction",
]


@dataclass(frozen=True)
class Caller:
    """The key behind a request: its id, name (the actor in history rows) and scope.

    A key that belongs to a user acts as that user: their role limits which leads it
    sees and moves, and history rows name the user.
    """

    key_id: str
    name: str
    scope: str
    viewer: Viewer | None = None
    #: the site origins of a public (browser) key; None for a server key
    origins: tuple[str, ...] | None = None

    @property
    def actor(self) -> str:
        if self.viewer is not None:
            return self.viewer.actor
        return f"key:{self.name}"


class KeyCache:
    """Keys already checked, by the digest of their secret.

    Only the tracking endpoints use it, and the ingest writer re-reads every
    key's revocation in each group's transaction, so a revoked key stops
    writing at once; REST endpoints look their key up on every call.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._callers: dict[str, Caller] = {}
        self._guard = threading.Lock()

    @staticmethod
    def _digest(secret: str) -> str:
        return hashlib.sha256(secret.encode("utf-8")).hexdigest()

    def get(self, secret: str) -> Caller | None:
        return self._callers.get(self._digest(secret))

    def put(self, secret: str, caller: Caller) -> None:
        with self._guard:
            if len(self._callers) >= self.capacity:
                self._callers.clear()
            self._callers[self._digest(secret)] = caller

    def forget(self, key_ids: Iterable[str]) -> None:
        gone = set(key_ids)
        with self._guard:
            for digest in [d for d, caller in self._callers.items() if caller.key_id in gone]:
                del self._callers[digest]


@dataclass
class ServiceState:
    """What every request shares: settings, database, model, event-name mapping."""

    settings: Settings
    database: Database
    model: ScoringModel
    event_names: dict[str, str]
    playbooks: Playbooks
    # SQLite has one writer: requests that write take turns instead of failing busy
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    # set after a commit that queued webhook messages: the delivery worker wakes up
    outbox_ready: threading.Event = field(default_factory=threading.Event)
    keys: KeyCache = field(default_factory=KeyCache)
    writer: GroupWriter = field(init=False)
    #: what a handoff runs: the playbooks and the fallback owner
    handoff_policy: HandoffPolicy = field(init=False)
    #: the same database through a pool of its own, for the read endpoints
    reads: Database = field(init=False)
    #: the ingest writer's own connection (its SQLite ``data_version`` counts the others')
    writes: Database = field(init=False)
    #: the origins a tracking preflight is answered for
    allowed_origins: AllowedOrigins = field(init=False)
    #: calls per public key and client address
    public_rate: RateLimiter = field(init=False)
    #: which tracking calls are kept (LEADGATE_SCREEN_BOTS, LEADGATE_CONSENT_REQUIRED)
    screening: ScreeningPolicy = field(init=False)

    def __post_init__(self) -> None:
        self.reads = self.database.with_own_pool()
        self.writes = self.database.with_own_pool(pool_size=1)
        self.writer = GroupWriter(self, live_leads=self.settings.live_leads)
        self.handoff_policy = HandoffPolicy(
            playbooks=self.playbooks, fallback_owner=self.settings.fallback_owner
        )
        self.allowed_origins = AllowedOrigins(self.settings.cors_origins, self._public_origins)
        self.public_rate = RateLimiter(self.settings.public_key_rate)
        self.screening = ScreeningPolicy.from_settings(self.settings)

    def _public_origins(self) -> set[str]:
        with self.reads.snapshot() as db_session:
            return public_origins(db_session)

    @property
    def live(self) -> LiveLeads:
        """The leads the ingest writer keeps in memory (it owns them)."""
        return self.writer.live

    def handoff(self, session: Session, changes: Sequence[StageChange], now: datetime) -> None:
        """Playbooks and stage-change messages for ``changes``, in the same transaction."""
        hand_off(session, changes=changes, policy=self.handoff_policy, now=now)


def state(request: Request) -> ServiceState:
    service: ServiceState = request.app.state.leadgate
    return service


@contextmanager
def transaction(request: Request) -> Iterator[Session]:
    """The request's transaction: committed when the block ends (before the response
    is sent), rolled back on any error."""
    service = state(request)
    with service.write_lock, service.database.session() as db_session:
        yield db_session
    service.outbox_ready.set()


@contextmanager
def snapshot(request: Request) -> Iterator[Session]:
    """A read endpoint's view: one moment of the database, read-only, without the write
    lock (reads never wait for the ingest writer, the scheduler or a REST write, and
    never make them wait)."""
    with state(request).reads.snapshot() as db_session:
        yield db_session


def _secret(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        return user or password or None
    return None


def _lookup(service: ServiceState, secret: str) -> Caller | None:
    with service.reads.snapshot() as db_session:
        key = authenticate(db_session, secret=secret)
        if key is None:
            return None
        if key.user_id is None:
            origins = None if key.origins is None else tuple(key.origins)
            return Caller(key.id, key.name, key.scope, origins=origins)
        user = db_session.get(User, key.user_id)
        if user is None or user.disabled_at is not None:
            return None  # a disabled user's keys stop working with them
        return Caller(key.id, key.name, key.scope, viewer_for(db_session, user))


async def authorize(
    request: Request, needed: Scope, *, secret: str | None = None, public: bool = False
) -> Caller:
    """The caller of ``request`` if its key grants ``needed`` (else 401 or 403).

    The key is the request's ``Authorization`` (else ``secret``: a browser SDK's
    ``writeKey`` in the body). A public key (one with origins) is refused unless
    ``public``: it only calls the tracking endpoints, whose answers say nothing
    about leads.
    """
    secret = _secret(request) or secret
    if secret is None:
        raise HTTPException(
            401,
            "missing API key: send Authorization: Bearer KEY",
            headers={"WWW-Authenticate": "Bearer"},
        )
    service = state(request)
    caller = service.keys.get(secret) if needed is Scope.INGEST else None
    if caller is None:
        caller = await run_in_threadpool(_lookup, service, secret)
        if caller is not None and needed is Scope.INGEST:
            service.keys.put(secret, caller)
    if caller is None:
        raise HTTPException(
            401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"}
        )
    if not allows(caller.scope, needed):
        raise HTTPException(
            403, f"a {caller.scope} key cannot call this endpoint (needs {needed.value})"
        )
    if caller.origins is not None and not public:
        raise HTTPException(
            403, "a public key (created with --origin) only calls the tracking endpoints under /v1"
        )
    return caller


def require(needed: Scope) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency admitting keys whose scope grants ``needed``."""

    async def check(request: Request) -> Caller:
        return await authorize(request, needed)

    return check


#: Dependencies per scope: ``caller: IngestKey`` in a handler's signature.
IngestKey = Annotated[Caller, Depends(require(Scope.INGEST))]
SalesKey = Annotated[Caller, Depends(require(Scope.SALES))]
AdminKey = Annotated[Caller, Depends(require(Scope.ADMIN))]
