// The workspace's progressive enhancement: live alerts over the SSE stream, the query check
// as you type, and the charts. Every page works without it. No inline script anywhere (the
// Content-Security-Policy forbids it); elements are built with textContent, never innerHTML.
"use strict";

function el(tag, attributes, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function when(iso) {
  const d = new Date(iso);
  return d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

// -- live alerts ---------------------------------------------------------------------------
function alertItem(alert) {
  const item = el("li", {
    class: `alert severity-${alert.severity} fresh`,
    "data-alert-id": alert.alert_id,
    "data-rule": alert.rule_id,
  });
  const head = el("div", { class: "alert-head" });
  head.append(
    el("span", { class: "badge" }, alert.severity),
    el("a", { class: "rule", href: `/alerts?rule=${encodeURIComponent(alert.rule_id)}` }, alert.rule_id),
    el("span", { class: "summary" }, alert.summary),
    el("time", {}, when(alert.fired_at)),
  );
  item.append(head);
  const articles = el("ul", { class: "alert-articles" });
  for (const a of (alert.articles || []).slice(0, 5)) {
    const row = el("li");
    row.append(el("a", { class: "article-link", href: `/articles/${encodeURIComponent(a.article_id)}` }, a.title || a.article_id));
    const meta = [a.source.name || a.source.id, a.source.country, a.genre].filter(Boolean).join(" · ");
    row.append(el("span", { class: "meta" }, ` ${meta}`));
    for (const e of (a.evidence || []).slice(0, 2)) row.append(el("blockquote", { class: "evidence" }, e.sentence || e.text));
    articles.append(row);
  }
  item.append(articles);
  const list = document.getElementById("alert-list");
  if (list && list.dataset.canEdit === "true") {
    const form = el("form", { method: "post", action: `/alerts/${encodeURIComponent(alert.alert_id)}/ack` });
    form.append(
      el("input", { type: "hidden", name: "csrf_token", value: csrfToken() }),
      el("input", { type: "hidden", name: "back", value: location.pathname + location.search }),
      el("button", { type: "submit", class: "ack" }, "Acknowledge"),
    );
    const triage = el("div", { class: "triage" });
    triage.append(form);
    item.append(triage);
  }
  return item;
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function startLiveAlerts() {
  const status = document.getElementById("live-status");
  const list = document.getElementById("alert-list");
  if (!status || !list || !window.EventSource) return;
  const source = new EventSource(status.dataset.stream);
  source.addEventListener("open", () => {
    status.textContent = "Live: new alerts appear at the top.";
    status.classList.add("connected");
  });
  source.addEventListener("error", () => {
    status.textContent = "Live stream interrupted; reconnecting…";
    status.classList.remove("connected");
  });
  source.addEventListener("alert", (event) => {
    const alert = JSON.parse(event.data);
    if (list.querySelector(`[data-alert-id="${CSS.escape(alert.alert_id)}"]`)) return;
    const empty = document.getElementById("no-alerts");
    if (empty) empty.remove();
    list.prepend(alertItem(alert));
  });
}

// -- query check as you type ---------------------------------------------------------------
function startQueryCheck() {
  const input = document.getElementById("q");
  const out = document.getElementById("query-check");
  if (!input || !out) return;
  let timer = null;
  let asked = 0;
  const check = async () => {
    const mine = ++asked;
    const response = await fetch(`${input.dataset.check}?q=${encodeURIComponent(input.value)}`, {
      credentials: "same-origin",
    });
    if (mine !== asked || !response.ok) return;
    const result = await response.json();
    out.classList.toggle("invalid", !result.valid);
    out.classList.toggle("valid", result.valid);
    if (result.valid) {
      out.textContent = input.value.trim() ? "query OK" : "";
      out.removeAttribute("data-position");
    } else {
      // The query with a caret under the position of the problem, then the message.
      out.textContent = `${input.value}\n${" ".repeat(result.position)}^\n${result.error}`;
      out.dataset.position = String(result.position);
    }
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(check, 200);
  });
}

// -- charts --------------------------------------------------------------------------------
const PALETTE = ["#1565c0", "#c62828", "#2e7d32", "#f9a825", "#6a1b9a", "#00838f", "#ef6c00", "#5d4037", "#757575"];
const STANCE_COLOURS = { mentions: "#1565c0", supportive: "#2e7d32", neutral: "#757575", critical: "#c62828" };

function drawCharts() {
  if (!window.uPlot) return;
  for (const box of document.querySelectorAll(".chart[data-chart]")) {
    const spec = JSON.parse(box.dataset.chart);
    const xs = spec.days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
    const series = [{}].concat(
      spec.series.map((s, n) => ({
        label: s.name,
        stroke: STANCE_COLOURS[s.name] || PALETTE[n % PALETTE.length],
        width: 2,
      })),
    );
    const width = Math.max(320, Math.min(box.clientWidth || 900, 1000));
    const chart = new uPlot(
      { title: box.dataset.title, width, height: 260, series, scales: { x: { time: true } } },
      [xs, ...spec.series.map((s) => s.values)],
      box,
    );
    box.dataset.drawn = String(chart.series.length - 1);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  startLiveAlerts();
  startQueryCheck();
  drawCharts();
});
