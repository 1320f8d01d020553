// pager's dashboard: relative times, copy buttons, schedule bars, and live updates from
// the event stream (/api/v1/stream, authenticated by the session cookie), resumed with
// since= after a drop. No framework beyond htmx, which swaps the refreshed fragments.
(function () {
  "use strict";

  function ago(iso) {
    const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
    const a = Math.abs(s);
    let t;
    if (a < 60) t = a + " s";
    else if (a < 3600) t = Math.floor(a / 60) + " min";
    else if (a < 86400) t = Math.floor(a / 3600) + " h";
    else t = Math.floor(a / 86400) + " d";
    return s < 0 ? "in " + t : t + " ago";
  }

  function localize(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      const d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) el.textContent = d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
    });
    root.querySelectorAll("[data-ago]").forEach(function (el) {
      el.textContent = "(" + ago(el.getAttribute("data-ago")) + ")";
    });
    root.querySelectorAll(".bar[data-l]").forEach(function (el) {
      el.style.left = el.getAttribute("data-l") + "%";
      el.style.width = el.getAttribute("data-w") + "%";
    });
  }

  document.addEventListener("click", function (ev) {
    const btn = ev.target.closest("[data-copy]");
    if (!btn) return;
    const input = btn.parentElement.querySelector("input");
    input.select();
    if (navigator.clipboard) navigator.clipboard.writeText(input.value);
    btn.textContent = "Copied";
  });

  function live() {
    const status = document.getElementById("live");
    if (!status) return;
    let since = parseInt(status.getAttribute("data-since"), 10) || 0;
    const only = status.getAttribute("data-incident");
    let delay = 1000;
    let pending = null;
    function changed() {
      if (pending) return;
      pending = setTimeout(function () {
        pending = null;
        const note = document.getElementById("note-text");
        if (only && note && note.value) return; // never lose a note being written
        if (only) window.location.reload();
        else document.body.dispatchEvent(new Event("pager:changed"));
      }, 150);
    }
    function connect() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const ws = new WebSocket(scheme + location.host + "/api/v1/stream?since=" + since);
      ws.onopen = function () { status.textContent = "Live"; status.className = "live on"; delay = 1000; };
      ws.onmessage = function (m) {
        let rec;
        try { rec = JSON.parse(m.data); } catch (e) { return; }
        since = rec.seq + 1;
        const t = typeof rec.type === "string" ? rec.type : "";
        if (only) {
          if (rec.subject === only || (rec.data && rec.data.incident_id === only)) changed();
        } else if (t.indexOf("incident.") === 0 || t.indexOf("alerts.") === 0) {
          changed();
        }
      };
      ws.onclose = function () {
        status.textContent = "Live updates lost: reconnecting…";
        status.className = "live off";
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      };
    }
    connect();
  }

  document.addEventListener("DOMContentLoaded", function () {
    localize(document);
    live();
    setInterval(function () { localize(document); }, 30000);
  });
  document.addEventListener("htmx:afterSwap", function (ev) { localize(ev.target); });
})();
