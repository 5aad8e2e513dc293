"""The worker-side orchestrator: dedupe → classify → enrich → publish, for one batch.

It knows the order of the stages and nothing about Celery or Redis: the publisher is
injected (RedisPublisher in production, InMemoryPublisher in unit tests).

Dedupe is optimistic: each article is first offered to the store as "publish, assuming
no identity key and no near-duplicate candidate". The store applies it atomically when
that assumption holds (the common case: one round trip), or answers with its
:class:`StoreState`; :func:`resolve` then decides (update, duplicate, publish) and the
article is offered again with that state as the new assumption.

Exact copies skip classify and enrich: with a ``peek`` (one MGET of every identity key of
the batch) an article whose first identity hit makes it a duplicate is offered as that
duplicate, without topics, language or entities. Should the store have changed by the
time it is offered and now call for a publish or an update, it is reported unsettled and
offered again fully prepared (see :func:`_publish_settled`).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from services.core import dedupe
from services.core.classify import Classifier
from services.core.ids import article_id, short_hash
from services.core.models import SCHEMA_V1, Article, ArticleEvent, Enrichment, Story, TopicScore

Enricher = Callable[[str, str], Enrichment]
Peek = Callable[[Sequence[str]], list[str | None]]  # identity keys → their values (MGET)
Status = Literal["published", "updated", "duplicate", "near_duplicate", "replayed", "unsettled"]
Mode = Literal["publish", "update", "duplicate", "skip"]
MAX_ATTEMPTS = 6
SETTLE_ROUNDS = 5
HOT_BAND = 16  # a band field holding this many articles is frozen (recurring-series noise)


@dataclass(frozen=True)
class Publication:
    """One article ready to publish: identity keys, event, topics and near-dup fingerprint.

    ``identity_keys`` are most specific first; a key starting with ``hash:`` is a content
    key (a hit from another article there is an exact copy, not the same article).
    """

    event: ArticleEvent
    identity_keys: tuple[str, ...]
    topics: tuple[str, ...]
    signature: bytes = b""
    band_keys: tuple[str, ...] = ()
    first: Attempt | None = None  # set for a light (unclassified) exact copy: its only attempt

    @property
    def data(self) -> str:
        return self.event.model_dump_json()

    @property
    def kinds(self) -> str:
        """One letter per identity key: ``h`` for content keys, ``k`` for the others."""
        return "".join("h" if k.startswith("hash:") else "k" for k in self.identity_keys)

    @property
    def content_token(self) -> str:
        """What identity keys store of the content hash (16 hex: a short Redis string)."""
        return self.event.content_hash[:16]

    @property
    def handle(self) -> str:
        """Short fixed-width (12 hex) reference to this article in the near-dup index."""
        return short_hash(self.event.id, 12)

    @property
    def sig_value(self) -> bytes:
        """What the near-dup index stores: length-prefixed article id, then the signature."""
        aid = self.event.id.encode()
        return bytes([len(aid)]) + aid + self.signature


@dataclass(frozen=True)
class StoreState:
    """What the store holds for an item: its first identity-key hit and its candidates.

    ``identity`` is ``"<index>=<owner>|<hash>[|<story>]"`` (1-based key index) or ``""``;
    ``snapshot`` fingerprints the item's LSH band fields (``""`` when all are empty);
    ``candidates`` are the stored :attr:`Publication.sig_value` s of those fields.
    """

    identity: str = ""
    snapshot: str = ""
    candidates: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class Attempt:
    """What to apply if the store still matches ``expect`` (else it answers its state)."""

    mode: Mode
    expect: StoreState
    event: ArticleEvent | None = None
    near: bool = False  # a near-duplicate (vs an exact copy) when mode == "duplicate"


@dataclass(frozen=True)
class PublishOutcome:
    status: Status
    stream_ids: tuple[str, ...] = ()
    existing_id: str | None = None


@dataclass(frozen=True)
class Reply:
    """A store's answer to one attempt: ``state`` is set when status is ``"state"``."""

    status: Literal["published", "updated", "duplicate", "replayed", "state"]
    values: tuple[str, ...] = ()  # stream ids, or the owner for "replayed"
    state: StoreState | None = None


RoundTrip = Callable[[Sequence[tuple["Publication", Attempt]]], list[Reply]]


class Publisher(Protocol):
    def publish(self, items: Sequence[Publication]) -> list[PublishOutcome]:
        """Atomically dedupe, claim identity keys and append events, one outcome per item."""
        ...


@dataclass(frozen=True)
class ArticleResult:
    """What happened to one article: the facts of its canonical log line."""

    article_id: str
    story_id: str
    status: str
    topics: tuple[tuple[str, float], ...]
    duplicate_of: str | None
    stream_ids: tuple[str, ...]
    fetched_at: datetime


@dataclass
class BatchReport:
    published: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    updated: int = 0
    replayed: int = 0
    unsettled: int = 0
    topics: Counter[str] = field(default_factory=Counter)
    stream_ids: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    results: list[ArticleResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "published": self.published,
            "duplicates": self.duplicates,
            "near_duplicates": self.near_duplicates,
            "updated": self.updated,
            "replayed": self.replayed,
            "topics": dict(self.topics),
        }


def first_attempt(item: Publication | None = None) -> Attempt:
    """What an item is first offered as: its own attempt if light, else an optimistic publish."""
    if item is not None and item.first is not None:
        return item.first
    return Attempt(mode="publish", expect=StoreState())


def parse_identity(token: str) -> tuple[int, str, str, str]:
    """``"<i>=<owner>|<hash>[|<story>]"`` → (i, owner, hash, story); story defaults to owner."""
    index, _, value = token.partition("=")
    owner, _, rest = value.partition("|")
    chash, _, story = rest.partition("|")
    return int(index), owner, chash, story or owner


def resolve(item: Publication, state: StoreState) -> Attempt:
    """Decide what to do with ``item`` given the store's current ``state`` (pure)."""
    if state.identity:
        return _resolve_identity(item, state)
    best = _best_candidate(item, state.candidates)
    if best is None:
        return Attempt(mode="publish", expect=state, event=item.event)
    owner, decision = best
    event = _as_duplicate(item.event, owner, owner, decision.score)
    return Attempt(mode="duplicate", expect=state, event=event, near=True)


def _resolve_identity(item: Publication, state: StoreState) -> Attempt:
    index, owner, _, story = parse_identity(state.identity)
    if item.kinds[index - 1] == "h" and owner != item.event.id:  # exact copy elsewhere
        return Attempt(
            mode="duplicate", expect=state, event=_as_duplicate(item.event, owner, story, 1.0)
        )
    if story != owner:  # the known article is itself a duplicate: its edits stay silent
        return Attempt(mode="skip", expect=state)
    update = {"type": "article.updated", "id": owner, "story": Story(id=story)}
    return Attempt(mode="update", expect=state, event=item.event.model_copy(update=update))


def run_attempts(items: Sequence[Publication], round_trip: RoundTrip) -> list[PublishOutcome]:
    """Offer every item to the store until each is settled (one round trip per pass).

    The first pass sends every item. Later passes send only items whose band keys do not
    overlap an earlier item of the same pass: a publish there would invalidate their state
    (copies of one story in one batch settle one per pass instead of never).
    """
    outcomes: dict[int, PublishOutcome] = {}
    pending = {i: first_attempt(items[i]) for i in range(len(items))}
    tries = dict.fromkeys(pending, 0)
    chosen = dict(pending)  # first pass: everything, in one round trip
    while chosen:
        if any(tries[i] >= MAX_ATTEMPTS for i in chosen):
            break  # still racing other workers: report them unsettled, the task retries them
        replies = round_trip([(items[i], chosen[i]) for i in chosen])
        for (i, attempt), reply in zip(chosen.items(), replies, strict=True):
            tries[i] += 1
            result = settle(items[i], attempt, reply)
            if isinstance(result, Attempt):
                pending[i] = result
            else:
                outcomes[i] = result
                del pending[i]
        chosen = _independent(items, pending)
    unsettled = PublishOutcome(status="unsettled")
    return [outcomes.get(i, unsettled) for i in range(len(items))]


def _independent(items: Sequence[Publication], pending: dict[int, Attempt]) -> dict[int, Attempt]:
    """Pending attempts, minus those sharing a band key with an earlier one."""
    taken: set[str] = set()
    chosen: dict[int, Attempt] = {}
    for i, attempt in pending.items():
        bands = set(items[i].band_keys)
        if not bands & taken:
            chosen[i] = attempt
            taken |= bands
    return chosen


def settle(item: Publication, attempt: Attempt, reply: Reply) -> PublishOutcome | Attempt:
    """The outcome of an applied attempt, or the next attempt when the state differed."""
    if reply.state is not None:
        return _on_state(item, reply.state)
    if reply.status == "replayed":
        return PublishOutcome(status="replayed", existing_id=reply.values[0])
    if reply.status == "duplicate":
        of = attempt.event.story.duplicate_of if attempt.event else None
        status: Status = "near_duplicate" if attempt.near else "duplicate"
        return PublishOutcome(status=status, stream_ids=reply.values, existing_id=of)
    if reply.status == "updated":
        return PublishOutcome(status="updated", stream_ids=reply.values)
    return PublishOutcome(status="published", stream_ids=reply.values)


def _on_state(item: Publication, state: StoreState) -> PublishOutcome | Attempt:
    """The store held something else than expected: decide again from what it holds."""
    decided = resolve(item, state)
    if item.first is not None and decided.mode in ("publish", "update"):
        return PublishOutcome(status="unsettled")  # light: prepare fully, then offer again
    if decided.mode != "skip":
        return decided
    return PublishOutcome(status="replayed", existing_id=parse_identity(state.identity)[1])


def _best_candidate(
    item: Publication, candidates: Sequence[bytes]
) -> tuple[str, dedupe.DedupeDecision] | None:
    if not item.signature:
        return None
    mine = dedupe.Signature.from_bytes(item.signature)
    best: tuple[str, dedupe.DedupeDecision] | None = None
    for value in candidates:
        owner = value[1 : 1 + value[0]].decode()
        if owner == item.event.id:
            continue
        decision = dedupe.decide(mine, dedupe.Signature.from_bytes(value[1 + value[0] :]))
        if decision.duplicate and (best is None or decision.score > best[1].score):
            best = (owner, decision)
    return best


def _as_duplicate(event: ArticleEvent, owner: str, story: str, score: float) -> ArticleEvent:
    story_ref = Story(id=story, duplicate_of=owner, similarity=round(score, 3))
    return event.model_copy(update={"type": "article.duplicate", "story": story_ref})


def url_is_identity(article: Article) -> bool:
    """normalise() derives the id from the canonical URL unless the feed shares that link."""
    return article.id == article_id(f"url:{article.canonical_url}")


def identity_keys(article: Article) -> tuple[str, ...]:
    """Layered exact keys: trustworthy GUID, canonical URL (unless shared), content hash."""
    url = article.canonical_url if url_is_identity(article) else ""
    keys = dedupe.identity_keys(article.guid, url, article.content_hash, feed_id=article.feed.id)
    return keys.keys


def near_signature(article: Article) -> dedupe.Signature:
    url = article.canonical_url if url_is_identity(article) else None
    chash = article.content_hash if len(article.content_hash) == 32 else None  # else legacy
    return dedupe.signature(
        article.title,
        article.text,
        canonical_url=url,
        published_at=article.published_at,
        content_hash_hex=chash,
        outlet=dedupe.outlet_of(article.canonical_url) or dedupe.outlet_of(article.feed.url),
    )


def build_event(
    article: Article,
    topics: tuple[TopicScore, ...],
    enrichment: Enrichment,
    now: datetime,
) -> ArticleEvent:
    return ArticleEvent(
        schema_version=SCHEMA_V1,
        type="article.published",
        id=article.id,
        url=article.url,
        canonical_url=article.canonical_url,
        title=article.title,
        summary=article.summary,
        content_html=article.content_html,
        authors=article.authors,
        categories=article.categories,
        published_at=article.published_at,
        updated_at=article.updated_at,
        fetched_at=article.fetched_at,
        processed_at=now,
        feed=article.feed,
        language=enrichment.language,
        topics=topics,
        entities=enrichment.entities,
        keyphrases=enrichment.keyphrases,
        word_count=enrichment.word_count,
        story=Story(id=article.id),
        content_hash=article.content_hash,
    )


def first_hit(keys: Sequence[str], values: Sequence[str | None]) -> str:
    """The store's identity token for an item: ``"<i>=<value>"`` of its first held key."""
    for index, (_, value) in enumerate(zip(keys, values, strict=True), start=1):
        if value is not None:
            return f"{index}={value}"
    return ""


def light(article: Article, token: str, now: datetime) -> Publication | None:
    """An exact copy (per ``token``) as a duplicate without classify/enrich, else None."""
    if not token:
        return None
    item = Publication(
        event=build_event(article, (), Enrichment(), now),
        identity_keys=identity_keys(article),
        topics=(),
    )
    _, owner, stored, _ = parse_identity(token)
    index = int(token.partition("=")[0])
    if stored == item.content_token and (item.kinds[index - 1] != "h" or owner == article.id):
        return None  # a replay: the store answers it, the full path is as cheap to send
    attempt = resolve(item, StoreState(identity=token))
    if attempt.mode != "duplicate":
        return None  # an update (or a silent edit): needs the full event
    return Publication(event=item.event, identity_keys=item.identity_keys, topics=(), first=attempt)


def prepare(
    article: Article, classifier: Classifier, enricher: Enricher, now: datetime
) -> Publication:
    """Fingerprint, classify and enrich one article into a Publication."""
    sig = near_signature(article)
    topics = classifier.classify(article.title, article.text)
    enrichment = enricher(article.title, article.text)
    return Publication(
        event=build_event(article, topics, enrichment, now),
        identity_keys=identity_keys(article),
        topics=tuple(t.slug for t in topics),
        signature=sig.to_bytes(),
        band_keys=dedupe.lsh_band_keys(sig),
    )


def process_batch(
    articles: Sequence[Article],
    *,
    classifier: Classifier,
    enricher: Enricher,
    publisher: Publisher,
    now: datetime | None = None,
    peek: Peek | None = None,
) -> BatchReport:
    """Run one batch through the stages; safe to repeat (publishing is idempotent)."""
    when = now or datetime.now(UTC)
    unique = list({a.id: a for a in articles}.values())  # in-batch exact duplicates
    started = time.perf_counter()
    tokens = _peek_tokens(unique, peek)

    def full(article: Article) -> Publication:
        return prepare(article, classifier, enricher, when)

    items = [light(a, t, when) or full(a) for a, t in zip(unique, tokens, strict=True)]
    prepared = time.perf_counter()
    outcomes = _publish_settled(publisher, items, lambda i: full(unique[i]))
    report = BatchReport(duplicates=len(articles) - len(items))
    report.stage_seconds = {
        "dedupe_classify_enrich": prepared - started,
        "publish": time.perf_counter() - prepared,
    }
    for item, outcome in zip(items, outcomes, strict=True):
        _count(report, item, outcome)
        report.results.append(_result(item, outcome))
    return report


def _peek_tokens(articles: Sequence[Article], peek: Peek | None) -> list[str]:
    """Each article's identity token in the store, from one peek ("" without a peek)."""
    if peek is None:
        return [""] * len(articles)
    keys = [identity_keys(a) for a in articles]
    values = iter(peek([k for ks in keys for k in ks]))
    return [first_hit(ks, [next(values) for _ in ks]) for ks in keys]


def _publish_settled(
    publisher: Publisher, items: list[Publication], full: Callable[[int], Publication]
) -> list[PublishOutcome]:
    """Publish; offer articles still racing other workers again after a short random pause.

    A light item left unsettled is prepared fully first (``full(i)``). What stays
    unsettled after SETTLE_ROUNDS is reported so the task retries it later.
    """
    outcomes = list(publisher.publish(items))
    for _ in range(SETTLE_ROUNDS):
        racing = [i for i, o in enumerate(outcomes) if o.status == "unsettled"]
        if not racing:
            break
        for i in racing:
            if items[i].first is not None:
                items[i] = full(i)
        time.sleep(random.uniform(0.005, 0.05))  # let the other worker finish its batch
        for i, outcome in zip(racing, publisher.publish([items[i] for i in racing]), strict=True):
            outcomes[i] = outcome
    return outcomes


def _result(item: Publication, outcome: PublishOutcome) -> ArticleResult:
    event = item.event
    return ArticleResult(
        article_id=event.id,
        story_id=event.story.id,
        status=outcome.status,
        topics=tuple((t.slug, round(t.score, 3)) for t in event.topics),
        duplicate_of=outcome.existing_id if outcome.status != "published" else None,
        stream_ids=outcome.stream_ids,
        fetched_at=event.fetched_at,
    )


def _count(report: BatchReport, item: Publication, outcome: PublishOutcome) -> None:
    if outcome.status == "published":
        report.published += 1
        report.topics.update(item.topics)
        report.stream_ids.extend(outcome.stream_ids)
    elif outcome.status == "updated":
        report.updated += 1
    elif outcome.status == "duplicate":
        report.duplicates += 1
    elif outcome.status == "near_duplicate":
        report.near_duplicates += 1
    elif outcome.status == "unsettled":
        report.unsettled += 1
    else:
        report.replayed += 1
