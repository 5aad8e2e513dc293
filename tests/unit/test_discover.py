from services.discover import as_feed, feed_links

PAGE = b"""<!doctype html><html><head>
<link rel="alternate" type="application/rss+xml" title="All" href="/rss.xml">
<link rel="alternate stylesheet" type="text/css" href="/s.css">
<link rel="Alternate" type="application/atom+xml; charset=utf-8" href="https://cdn.example/atom">
<link rel="alternate" type="application/feed+json" href="feed.json">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
<link rel="alternate" type="application/rss+xml" href="/rss.xml">
</head><body></body></html>"""


def test_feed_links() -> None:
    found = feed_links(PAGE, "https://site.example/blog/")
    assert [(f.url, f.kind) for f in found] == [
        ("https://site.example/rss.xml", "rss"),
        ("https://cdn.example/atom", "atom"),
        ("https://site.example/blog/feed.json", "json"),
    ]
    assert found[0].title == "All"


def test_as_feed() -> None:
    rss = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>i</title></item></channel></rss>"
    )
    feed = as_feed(rss, "https://x.example/rss")
    assert feed is not None and feed.title == "T"
    assert as_feed(PAGE, "https://site.example/") is None
    assert as_feed(b"hello", "https://site.example/") is None
