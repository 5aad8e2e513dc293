// newswire dashboard: renders /events snapshots and prepends live articles.
// Everything from feeds is inserted as text (never HTML): titles are untrusted.
"use strict";

const MAX_ARTICLES = 10;
const liveCounts = {};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function safeHref(url) {
  return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
}

function ago(iso) {
  if (!iso) return "—";
  const s = Math.round((Date.parse(iso) - Date.now()) / 1000);
  const span = Math.abs(s) < 120 ? Math.abs(s) + "s" : Math.round(Math.abs(s) / 60) + "m";
  return s > 0 ? "in " + span : span + " ago";
}

function articleItem(a, live) {
  const link = el("a", { href: safeHref(a.url), target: "_blank", rel: "noopener noreferrer" }, a.title || a.id || "(untitled)");
  const score = typeof a.score === "number" ? " · score " + a.score.toFixed(2) : "";
  const meta = el("div", { class: "meta" }, (a.feed || "") + score + (a.published_at ? " · " + ago(a.published_at) : ""));
  const evidence = el("div", { class: "evidence" });
  for (const e of a.evidence || []) {
    evidence.append(el("span", { class: "ev", title: e.kind + (e.field ? " in " + e.field : "") }, e.kind + ": " + e.value));
  }
  const li = el("li", { class: live ? "article live" : "article", "data-id": a.id || "" }, link, meta, evidence);
  return li;
}

function topicCard(slug) {
  let card = document.getElementById("topic-" + slug);
  if (card) return card;
  card = el("article", { class: "card topic", id: "topic-" + slug, "data-topic": slug },
    el("h2", {}, slug),
    el("div", { class: "rate" }),
    el("ul", { class: "articles" }));
  document.getElementById("topics").append(card);
  return card;
}

function renderRate(card, t) {
  const rate = card.querySelector(".rate");
  rate.replaceChildren(
    el("b", {}, String(t.per_min_1m)), " events in the last minute · ",
    el("b", {}, String(t.per_min_15m)), "/min over 15 min · ",
    String(t.length), " total · ",
    el("span", { class: "live-count" }, String(liveCounts[t.slug] || 0)), " live");
}

function renderSnapshot(s) {
  for (const t of s.topics) {
    const card = topicCard(t.slug);
    renderRate(card, t);
    card.querySelector(".articles").replaceChildren(...t.latest.map((a) => articleItem(a, false)));
  }
  document.getElementById("totals").textContent =
    s.articles_total + " articles · " + s.duplicates_total + " duplicates";
  const rows = s.feeds.map((f) => el("tr", {},
    el("td", { title: f.url }, f.title),
    el("td", { class: "status-" + f.status }, f.status + (f.consecutive_errors ? " (" + f.consecutive_errors + ")" : "")),
    el("td", {}, ago(f.last_success_at)),
    el("td", { title: f.next_poll_reason || "" }, ago(f.next_poll_at))));
  document.querySelector("#feeds tbody").replaceChildren(...rows);
  const size = document.getElementById("dlq-size");
  size.textContent = String(s.dlq.size);
  size.className = s.dlq.size ? "pill off" : "pill on";
  document.getElementById("dlq").replaceChildren(...s.dlq.latest.map((d) =>
    el("li", {}, el("b", {}, d.type || "entry"), " " + (d.at || "") + ": " + d.error)));
}

function addLive(item) {
  const card = topicCard(item.topic);
  liveCounts[item.topic] = (liveCounts[item.topic] || 0) + 1;
  const count = card.querySelector(".live-count");
  if (count) count.textContent = String(liveCounts[item.topic]);
  const list = card.querySelector(".articles");
  list.prepend(articleItem(item.article, true));
  while (list.children.length > MAX_ARTICLES) list.lastElementChild.remove();
}

function connect() {
  const status = document.getElementById("connection");
  const source = new EventSource("/events");
  source.addEventListener("open", () => {
    status.textContent = "live";
    status.className = "pill on";
    status.dataset.state = "live";
  });
  source.addEventListener("error", () => {
    status.textContent = "reconnecting…";
    status.className = "pill off";
    status.dataset.state = "reconnecting";
  });
  source.addEventListener("snapshot", (e) => renderSnapshot(JSON.parse(e.data)));
  source.addEventListener("article", (e) => addLive(JSON.parse(e.data)));
}

connect();
