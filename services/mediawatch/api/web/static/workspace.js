// The workspace's progressive enhancement: live alerts over the SSE stream, the query check
// as you type, and the charts. Every page works without it. No inline script anywhere (the
// Content-Security-Policy forbids it). Elements are built with textContent; the one exception
// is a live alert, which arrives as the server's own escaped rendering of the list item.
"use strict";

// -- live alerts ---------------------------------------------------------------------------
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
    const holder = document.createElement("template");
    holder.innerHTML = event.data; // _alert.html, rendered and escaped by the server
    const item = holder.content.querySelector("li.alert");
    if (!item || list.querySelector(`[data-alert-id="${CSS.escape(item.dataset.alertId)}"]`)) return;
    const empty = document.getElementById("no-alerts");
    if (empty) empty.remove();
    item.classList.add("fresh");
    list.prepend(item);
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
