"""Dedupe decisions on handwritten cases: identity layers, updates and near-duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.core.dedupe import (
    BANDS,
    DedupeItem,
    Signature,
    clean_title,
    compare,
    content_hash,
    identity_keys,
    is_material_change,
    lsh_band_keys,
    shared_links,
    signature,
    untrustworthy_guids,
)

T0 = datetime(2021, 9, 20, 8, 0, tzinfo=UTC)
STORY = (
    "Boris Johnson says market forces should be very swift in resolving issues caused by "
    "recent gas price rises, as ministers consider emergency loans for energy firms in Britain."
)


def test_clean_title_strips_outlet_suffix_and_case() -> None:
    assert clean_title("Gas price rise:  Loans  - BBC News") == "gas price rise: loans"
    assert clean_title("Gas price rise: Loans | CNN") == "gas price rise: loans"
    assert clean_title("Watch: Gas price rise") == "gas price rise"


def test_content_hash_ignores_cosmetics_only() -> None:
    base = content_hash("Gas price rise", STORY)
    assert content_hash("Gas  price rise - BBC News", STORY.upper()) == base
    assert content_hash("Gas price rise", STORY.replace("swift", "slow")) != base


def test_material_vs_cosmetic_change() -> None:
    assert not is_material_change(
        "Gas price rise", STORY, "Gas price rise - BBC News", f" {STORY} "
    )
    assert is_material_change("Gas price rise", STORY, "Gas price rise: loans agreed", STORY)
    assert is_material_change("Gas price rise", STORY, "Gas price rise", STORY + " More follows.")


def test_identity_layers_in_order() -> None:
    keys = identity_keys("g1", "https://bbc.com/news/1", "abc", feed_id="f_1")
    assert [k.split(":")[0] for k in keys.keys] == ["guid", "url", "hash"]
    assert keys.primary.startswith("guid:f_1:")
    other_feed = identity_keys("g1", "https://bbc.com/news/1", "abc", feed_id="f_2")
    assert other_feed.primary != keys.primary
    assert other_feed.keys[1:] == keys.keys[1:]


def test_identity_skips_shared_and_root_links() -> None:
    link = "https://example.com/section"
    keys = identity_keys(None, link, "abc", feed_id="f", shared_links=frozenset({link}))
    assert keys.keys == ("hash:abc",)
    root = identity_keys(None, "https://example.com/", "abc", feed_id="f")
    assert root.keys == ("hash:abc",)


def test_shared_links_and_reused_guids() -> None:
    home = "https://www.example.com/?utm_source=rss"
    assert shared_links([home, home, home, "https://example.com/a"]) == {"https://example.com/"}
    two = ["https://example.com/s", "https://example.com/s"]
    assert shared_links(two) == frozenset()
    assert shared_links(two, ["One story", "Another story"]) == {"https://example.com/s"}
    guids = ["same", "same", "own", None]
    links = ["https://e.com/1", "https://e.com/2", "https://e.com/3", "https://e.com/4"]
    assert untrustworthy_guids(guids, links) == {"same"}
    assert (
        untrustworthy_guids(["g", "g"], ["https://e.com/1?utm_source=x", "https://e.com/1"])
        == set()
    )


def _item(title: str, text: str, link: str | None = None, hours: float = 0) -> DedupeItem:
    return DedupeItem(title=title, text=text, link=link, published_at=T0 + timedelta(hours=hours))


def test_compare_url_variants() -> None:
    a = _item("Gas price rise", STORY, "https://www.bbc.co.uk/news/business-58620167?at_medium=RSS")
    b = _item("Other title", "", "https://www.bbc.com/news/business-58620167")
    assert compare(a, b).method == "url"
    assert compare(a, b).duplicate


def test_compare_retitled_copy() -> None:
    a = _item("Gas price rise: Government considering loans for energy firms", STORY)
    b = _item("Gas price rise: Government considering loans for energy firms - BBC News",
              STORY + " Follow us on Twitter.", hours=3)  # fmt: skip
    d = compare(a, b)
    assert d.duplicate and d.method == "content_hash"
    c = _item("Government considers loans for energy firms as gas prices rise", STORY, hours=2)
    assert compare(a, c).duplicate


def test_compare_same_headline_video_page() -> None:
    a = _item(
        "Tokyo Olympics: Max Whitlock defends Olympic pommel horse title",
        "Great Britain's Max Whitlock retains his Olympic pommel horse title with flair.",
    )
    b = _item("Tokyo Olympics: Max Whitlock defends Olympic pommel horse title",
              "Great Britain's Max Whitlock produces a sublime routine to defend his title.",
              hours=1)  # fmt: skip
    assert compare(a, b).duplicate


def test_series_titles_with_different_text_are_not_merged() -> None:
    a = _item("Week in pictures: 31 July - 6 August", "Protests in Paris and wildfires in Greece.")
    b = _item(
        "Week in pictures: 7 - 13 August", "Floods in Turkey and the Olympics closing.", hours=168
    )
    assert not compare(a, b).duplicate
    blurb = "A selection of powerful images from all over the globe, taken in the past seven days."
    c = _item("Week in pictures: 31 July - 6 August", blurb)
    d = _item("Week in pictures: 7 - 13 August", blurb, hours=168)
    assert not compare(c, d).duplicate
    e = _item("Ukraine conflict: your guide, day eight", "Russian forces shell Kharkiv.")
    f = _item(
        "Ukraine conflict: your guide, day nine", "Russian forces shell Kharkiv again.", hours=24
    )
    assert not compare(e, f).duplicate


def test_later_development_is_not_a_duplicate() -> None:
    a = _item(
        "Tanya Fear: British actress reported missing in LA",
        "Tanya Fear, 31, who has appeared in Doctor Who, has not been seen since last week.",
    )
    b = _item("Tanya Fear: Missing British actress found safe in LA",
              "Tanya Fear was reported missing by friends and family last week.",
              hours=11)  # fmt: skip
    assert not compare(a, b).duplicate


def test_unrelated_items_are_different() -> None:
    a = _item("Gas price rise: Government considering loans", STORY)
    b = _item("Emmy Awards 2021: The Crown wins", "The Crown and Ted Lasso sweep major categories.")
    assert compare(a, b).method == "different"


def test_signature_roundtrip_and_band_keys() -> None:
    sig = signature("Gas price rise: Government considering loans for energy firms", STORY,
                    canonical_url="https://bbc.com/news/1", published_at=T0)  # fmt: skip
    blob = sig.to_bytes()
    assert len(blob) < 300
    assert Signature.from_bytes(blob) == sig
    keys = lsh_band_keys(sig)
    assert BANDS + 1 + 4 < len(keys) <= BANDS + 1 + 4 + 6 and all(len(k) <= 10 for k in keys)
    assert keys == lsh_band_keys(signature("Gas price rise: Government considering loans for "
                                           "energy firms - BBC News", STORY))  # fmt: skip


def test_signature_reuses_a_given_content_hash_without_changing_the_result() -> None:
    from services.core.dedupe import signature

    text = "Rescue teams pulled 14 survivors from a collapsed hotel in Kathmandu on Tuesday."
    title = "Nepal earthquake: 14 pulled alive - BBC News"
    given = signature(title, text, content_hash_hex=content_hash(title, text))
    assert given == signature(title, text)
    assert signature(title, text, content_hash_hex="f" * 32).content != given.content


def test_templated_items_about_different_companies_are_not_merged() -> None:
    from services.core.dedupe import DedupeItem, compare

    template = (
        "The analyst Acme Research raised the price target for {name} from 95 to 120 dollars "
        "and kept the rating at Buy, citing strong demand."
    )
    a = DedupeItem(title="Nvidia Buy", text=template.format(name="Nvidia"))
    b = DedupeItem(title="Goldman Sachs Buy", text=template.format(name="Goldman Sachs"))
    assert compare(a, b).duplicate is False
    retold = DedupeItem(title="Nvidia: Buy", text=template.format(name="Nvidia") + " Shares rose.")
    assert compare(a, retold).duplicate is True


def test_two_outlets_reporting_one_event_are_merged() -> None:
    a = _at(
        "https://www.bbc.com/news/world-2",
        "Zorvian ferry Kestrel capsizes off Brellmouth, dozens rescued",
        "The Zorvian ferry Kestrel capsized off Brellmouth on Tuesday; coastguard Halvard Omsk "
        "said 40 passengers were rescued from the water near the Tessel lighthouse.",
        0,
    )
    b = _at(
        "https://edition.cnn.com/2021/09/20/europe/kestrel",
        "Dozens rescued after ferry Kestrel overturns off Brellmouth",
        "Coastguard chief Halvard Omsk said 40 people were pulled from the sea after the Kestrel, "
        "a Zorvian ferry, capsized off Brellmouth close to the Tessel lighthouse.",
        3,
    )
    d = compare(a, b)
    assert d.duplicate and d.method == "model"
    late = b.model_copy(update={"published_at": T0 + timedelta(hours=80)})
    assert not compare(a, late).duplicate  # same words, outside the window
    unknown = b.model_copy(update={"link": None})
    assert not compare(a, unknown).duplicate  # the model needs two known, different outlets


def test_explainer_of_an_event_is_not_a_report_of_it() -> None:
    a = _item(
        "Zorvian ferry Kestrel capsizes off Brellmouth, dozens rescued",
        "The Zorvian ferry Kestrel capsized off Brellmouth; coastguard Halvard Omsk said 40 were "
        "rescued near the Tessel lighthouse.",
    )
    b = _item(
        "Why did the Zorvian ferry Kestrel capsize off Brellmouth?",
        "Coastguard Halvard Omsk said 40 were rescued near the Tessel lighthouse; experts ask "
        "why the Kestrel, a Zorvian ferry, capsized.",
        hours=2,
    )
    assert not compare(a, b).duplicate
    sig = signature(b.title, b.text)
    assert sig.explainer and Signature.from_bytes(sig.to_bytes()) == sig


def test_outlet_and_page_kind_from_links() -> None:
    from services.core.dedupe import PAGE_COLLECTION, PAGE_VIDEO, outlet_of, page_kind

    assert outlet_of("https://www.bbc.co.uk/news/x") == "bbc.co.uk"
    assert outlet_of("https://edition.cnn.com/2021/a") == "cnn.com"
    assert outlet_of(None) == "" and outlet_of("not a url") == ""
    assert page_kind("https://bbc.com/sport/av/olympics/1") == PAGE_VIDEO
    assert page_kind("https://cnn.com/videos/world/2021/x") == PAGE_VIDEO
    assert page_kind("https://cnn.com/collections/intl-x") == PAGE_COLLECTION
    assert page_kind("https://cnn.com/2021/09/01/world/x/index.html") == 0


def test_version_1_blobs_still_decode() -> None:
    import struct

    from services.core.dedupe import NUM_PERM

    head = struct.Struct("<BBHIQQIBBBB").pack(1, 1, 7, 5, 9, 11, 13, 0, 1, 0, 0)
    sig = Signature.from_bytes(head + struct.pack(f"<{NUM_PERM + 1}H", *range(NUM_PERM + 1)))
    assert sig.series and sig.outlet == 0 and not sig.stems and sig.title_words == {NUM_PERM}


GAP_A = (
    "Armed robbers in Brazil tied hostages to the roofs of getaway cars as human shields "
    "during a string of overnight bank raids in the town of Varginha, police said."
)
TA = "Brazil robbers tie hostages to getaway cars"
TB = "Hostages strapped to cars by Brazil robbers"
GAP_B = (
    "Hostages were strapped to getaway cars as human shields when armed robbers raided "
    "banks in Varginha, Brazil, overnight, according to police."
)


def _at(link: str, title: str, text: str, hours: float) -> DedupeItem:
    return DedupeItem(title=title, text=text, link=link, published_at=T0 + timedelta(hours=hours))


def test_two_outlets_reporting_one_event_are_duplicates() -> None:
    a = _at("https://bbc.com/news/world-1", "Brazil robbers tie hostages to getaway cars", GAP_A, 0)
    b = _at(
        "https://cnn.com/2021/x", "Hostages strapped to getaway cars by Brazil robbers", GAP_B, 5
    )
    decision = compare(a, b)
    assert decision.duplicate and decision.method == "model"
    sa, sb = (signature(i.title, i.text, canonical_url=i.link) for i in (a, b))
    assert set(lsh_band_keys(sa)) & set(lsh_band_keys(sb))


def test_one_outlet_needs_more_than_shared_event_words() -> None:
    a = _at("https://cnn.com/2021/a", "Brazil robbers tie hostages to getaway cars", GAP_A, 0)
    b = _at(
        "https://cnn.com/2021/b", "Hostages strapped to getaway cars by Brazil robbers", GAP_B, 5
    )
    assert not compare(a, b).duplicate


def test_video_page_of_the_same_outlet_and_title_is_a_duplicate() -> None:
    text = "Karsten Warholm of Norway breaks his own world record in the 400m hurdles final."
    video = _at("https://bbc.com/sport/av/olympics/1", "Warholm sets 400m hurdles world record",
                "Watch as " + text, 0)  # fmt: skip
    body = "Norwegian Karsten Warholm wins gold in a record time at Tokyo 2020."
    article = _at("https://bbc.com/sport/olympics/2", "Warholm sets stunning 400m hurdles record",
                  body, 1)  # fmt: skip
    assert compare(video, article).method == "companion"
    late = article.model_copy(update={"published_at": T0 + timedelta(hours=100)})
    assert not compare(video, late).duplicate
