// pager's dashboard: times in the viewer's time zone, copy buttons, schedule bars and day
// ticks, and live updates from the event stream (/api/v1/stream, authenticated by the
// session cookie), resumed with since= after a drop. No framework beyond htmx, which swaps
// the refreshed rows. Nothing here writes HTML: text goes in with textContent.
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

  // The 14-day chart: a tick at each local midnight, where the bars put that instant.
  function dayTicks(sched) {
    const start = Date.parse(sched.getAttribute("data-start"));
    const end = Date.parse(sched.getAttribute("data-end"));
    const days = sched.querySelector(".days");
    if (!days || isNaN(start) || isNaN(end) || end <= start) return;
    const ticks = document.createElement("div");
    ticks.className = "days ticks";
    ticks.setAttribute("aria-hidden", "true");
    const d = new Date(start);
    d.setHours(24, 0, 0, 0); // the first local midnight after the start
    for (; d.getTime() < end; d.setDate(d.getDate() + 1)) {
      const left = (d.getTime() - start) * 100 / (end - start);
      if (left > 96) break; // no room for a label at the very end
      const tick = document.createElement("span");
      tick.style.left = left + "%";
      tick.textContent = d.toLocaleDateString([], { weekday: "short" }) + " " + d.getDate();
      ticks.appendChild(tick);
    }
    days.replaceWith(ticks);
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
    root.querySelectorAll(".sched[data-start]").forEach(dayTicks);
  }

  document.addEventListener("click", function (ev) {
    const btn = ev.target.closest("[data-copy]");
    if (!btn) return;
    const input = btn.parentElement.querySelector("input");
    const label = btn.firstChild; // the visible word; the screen-reader words stay
    input.select();
    const done = function () {
      label.textContent = "Copied";
      setTimeout(function () { label.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {});
    } else if (document.execCommand("copy")) { // plain http: the older way still works
      done();
    }
  });

  // The rows are replaced when something changes: keep the keyboard where it was.
  let focused = null;
  document.addEventListener("htmx:beforeSwap", function () {
    const el = document.activeElement;
    const row = el && el.closest ? el.closest("li[id]") : null;
    focused = row ? { row: row.id, action: el.getAttribute("data-action") } : null;
  });
  document.addEventListener("htmx:afterSwap", function (ev) {
    localize(ev.target);
    if (!focused) return;
    const row = document.getElementById(focused.row);
    const el = row && (row.querySelector('[data-action="' + focused.action + '"]') || row.querySelector("a"));
    if (el) el.focus({ preventScroll: true });
    focused = null;
  });

  function live() {
    const status = document.getElementById("live");
    if (!status) return;
    let since = parseInt(status.getAttribute("data-since"), 10) || 0;
    const only = status.getAttribute("data-incident");
    let delay = 1000;
    let pending = null;
    function say(text, on) {
      status.textContent = text;
      status.className = "live " + (on ? "on" : "off");
    }
    // Changes arrive in bursts (an alert storm is hundreds a second): the page asks for the
    // rows again 150 ms after a change, and then at most once a second, so an open
    // dashboard costs pager one refresh a second, not one per event.
    let last = 0;
    function changed() {
      if (pending) return;
      const wait = Math.max(150, last + 1000 - Date.now());
      pending = setTimeout(function () {
        pending = null;
        last = Date.now();
        if (!only) {
          document.body.dispatchEvent(new Event("pager:changed"));
          return;
        }
        const note = document.getElementById("note-text");
        if (note && note.value) { // never lose a note being written: offer the reload
          say("This incident changed while you were writing. ", true);
          const again = document.createElement("button");
          again.type = "button";
          again.className = "link";
          again.textContent = "Reload to see it (add your note first: a reload empties the box)";
          again.addEventListener("click", function () { window.location.reload(); });
          status.appendChild(again);
          return;
        }
        window.location.reload();
      }, wait);
    }
    // A stream refused before it opened: if the session has ended, go and sign in again
    // (to come back here) instead of retrying for ever.
    function stillSignedIn() {
      fetch("/login", { redirect: "manual", credentials: "same-origin" }).then(function (r) {
        if (r.type !== "opaqueredirect") {
          window.location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
        }
      }, function () {});
    }
    function connect() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const ws = new WebSocket(scheme + location.host + "/api/v1/stream?since=" + since);
      let opened = false;
      ws.onopen = function () { opened = true; say("Live", true); delay = 1000; };
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
        say("Live updates lost: reconnecting…", false);
        if (!opened) stillSignedIn();
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      };
    }
    connect();
  }

  document.addEventListener("DOMContentLoaded", function () {
    localize(document);
    live();
    setInterval(function () {
      document.querySelectorAll("[data-ago]").forEach(function (el) {
        el.textContent = "(" + ago(el.getAttribute("data-ago")) + ")";
      });
    }, 30000);
  });
})();
