// leadgate's page script (our own code, no framework): SLA countdowns that run in
// the page, the live queue (server-sent events, then the rows fetched again),
// inline actions without a reload, and keyboard use of the queue.
"use strict";

(function () {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const announce = (text) => {
    const region = document.getElementById("announce");
    if (region) { region.textContent = ""; window.setTimeout(() => { region.textContent = text; }, 50); }
  };

  // --- SLA countdowns -------------------------------------------------------
  function countdown(due) {
    const seconds = (Date.parse(due) - Date.now()) / 1000;
    const minutes = Math.abs(seconds) / 60;
    const amount = minutes < 90 ? `${Math.round(minutes)} min` : `${(minutes / 60).toFixed(1)} h`;
    return { text: seconds >= 0 ? `due in ${amount}` : `overdue by ${amount}`, overdue: seconds < 0 };
  }
  function tick() {
    for (const el of document.querySelectorAll("[data-due]")) {
      const state = countdown(el.dataset.due);
      if (el.closest(".queue")) el.textContent = state.text;
      el.classList.toggle("overdue", state.overdue);
    }
  }

  // --- the live queue -------------------------------------------------------
  const table = document.getElementById("queue");
  let refreshing = null;
  let deferred = false;
  // a rep half-way through a reject or reassign form keeps it: the rows are swapped
  // once focus leaves the form's controls
  const choosing = () => {
    const active = document.activeElement;
    return Boolean(table && active && table.contains(active) && active.matches("select, input"));
  };
  async function refresh() {
    if (!table) return;
    if (choosing()) { deferred = true; return; }
    if (refreshing) { refreshing.again = true; return; }
    refreshing = { again: false };
    try {
      const response = await fetch(table.dataset.live, { headers: { "X-Requested-With": "fetch" } });
      if (response.status === 401) { window.location.assign("/login?next=/queue"); return; }
      if (!response.ok) return;
      const html = await response.text();
      if (choosing()) { deferred = true; return; }
      // read what the user is on only now, just before the swap: they may have moved
      // while the rows were on their way
      const before = new Set([...table.querySelectorAll("tr[data-lead]")].map((r) => r.dataset.lead));
      const active = document.activeElement;
      const focused = active && active.closest("tr[data-lead]");
      const control = focused && active !== focused && active.name ? active.name : null;
      document.getElementById("queue-rows").innerHTML = html;
      const rows = [...table.querySelectorAll("tr[data-lead]")];
      const fresh = rows.filter((r) => !before.has(r.dataset.lead));
      for (const row of fresh) row.classList.add("fresh");
      const count = document.getElementById("queue-count");
      const total = response.headers.get("X-Queue-Total");
      if (count && total !== null) count.textContent = total;
      if (fresh.length) announce(`${fresh.length} new MQL${fresh.length > 1 ? "s" : ""} in the queue`);
      if (focused) {
        const again = table.querySelector(`tr[data-lead="${CSS.escape(focused.dataset.lead)}"]`);
        const inner = again && control ? again.querySelector(`[name="${CSS.escape(control)}"]`) : null;
        if (inner) inner.focus(); else if (again) again.focus();
      }
      bindInline(table);
      tick();
    } finally {
      const again = refreshing.again;
      refreshing = null;
      if (again) refresh();
    }
  }
  function listen() {
    if (!table || !window.EventSource) return;
    table.addEventListener("focusout", () => {
      window.setTimeout(() => { if (deferred && !choosing()) { deferred = false; refresh(); } }, 0);
    });
    const source = new EventSource("/stream");
    source.addEventListener("queue", refresh);
    source.addEventListener("open", () => { document.body.dataset.live = "on"; });
    source.addEventListener("error", () => { document.body.dataset.live = "reconnecting"; });
  }

  // --- inline actions ---------------------------------------------------------
  function bindInline(root) {
    for (const form of root.querySelectorAll("form[data-inline]")) {
      if (form.dataset.bound) continue;
      form.dataset.bound = "1";
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const error = document.getElementById("queue-error");
        const response = await fetch(form.action, {
          method: "POST",
          body: new FormData(form),
          headers: { "X-Requested-With": "fetch", "X-CSRF-Token": csrf() },
        });
        const body = await response.json().catch(() => ({ detail: `error ${response.status}` }));
        if (response.ok) {
          if (error) error.hidden = true;
          const row = form.closest("tr[data-lead]");
          announce(body.stage ? `moved to ${body.stage}` : body.owner ? `reassigned to ${body.owner}` : "done");
          if (row && body.stage) row.remove();
          refresh();
        } else if (error) {
          error.textContent = body.detail || `error ${response.status}`;
          error.hidden = false;
          announce(error.textContent);
        }
      });
    }
  }

  // --- keyboard ---------------------------------------------------------------
  function keys(event) {
    if (!table || event.target.closest("input, select, textarea") || event.ctrlKey || event.metaKey || event.altKey) return;
    const rows = [...table.querySelectorAll("tr[data-lead]")];
    if (!rows.length) return;
    const current = document.activeElement && document.activeElement.closest("tr[data-lead]");
    const index = current ? rows.indexOf(current) : -1;
    if (event.key === "j" || event.key === "ArrowDown") {
      rows[Math.min(index + 1, rows.length - 1)].focus(); event.preventDefault();
    } else if (event.key === "k" || event.key === "ArrowUp") {
      rows[Math.max(index - 1, 0)].focus(); event.preventDefault();
    } else if (current && event.key === "a") {
      const accept = current.querySelector('[data-action="accept"]');
      if (accept) accept.click();
    } else if (current && event.key === "r") {
      const reason = current.querySelector('[data-action="reject"]');
      if (reason) { reason.focus(); event.preventDefault(); }
    } else if (current && event.key === "Enter" && event.target === current) {
      const link = current.querySelector("a");
      if (link) link.click();
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    tick();
    window.setInterval(tick, 1000);
    bindInline(document);
    listen();
    document.addEventListener("keydown", keys);
  });
})();
