/* Menwei console: live events, alert banners, health refresh. No inline scripts (CSP).
 *
 * The pages are complete without this file; it only keeps them current:
 * - an element with data-feed polls the events feed (GET ?after=<cursor>) every 0.7 s
 *   while the page is visible, adds new rows to the gate cards (#live) and raises alert
 *   banners (#alerts) and a gate's questions for the guard ([data-prompts]; dropped when
 *   the feed no longer lists them open); the server renders every row, banner and
 *   question, this file only places them;
 * - alerts are acknowledged per browser (localStorage), never on the server; the stack's
 *   counter follows what is left;
 * - a new alert plays a chime made with WebAudio (no sound file), unless muted; the mute
 *   button's choice is remembered per browser (localStorage);
 * - an element with data-health refreshes its [data-cell] texts every 5 s;
 * - a form with data-once disables its button once submitted (the server's nonce is what
 *   really stops a double open; this only spares the guard the error message).
 */
(function () {
  "use strict";

  var VISIBLE_MS = 700;
  var HIDDEN_MS = 5000;
  var RETRY_MS = 3000;
  var HEALTH_MS = 5000;
  var ACK_KEY = "menwei.acked";
  var ACK_KEEP = 500;
  var CHIME_KEY = "menwei.chime";
  var audio = null;

  function setStatus(state) {
    var el = document.getElementById("feed-status");
    if (!el) return;
    el.textContent = el.getAttribute("data-" + state) || "";
    el.setAttribute("data-state", state);
  }

  // -- acknowledgements (per browser) ---------------------------------------------------
  function acked() {
    try {
      var list = JSON.parse(window.localStorage.getItem(ACK_KEY) || "[]");
      return Array.isArray(list) ? list : [];
    } catch (e) {
      return [];
    }
  }

  function acknowledge(id) {
    var list = acked().filter(function (x) { return x !== id; });
    list.push(id);
    try {
      window.localStorage.setItem(ACK_KEY, JSON.stringify(list.slice(-ACK_KEEP)));
    } catch (e) { /* private mode: acknowledged for this page only */ }
  }

  // -- the alert stack: counter and chime ----------------------------------------------
  function updateCount() {
    var stack = document.getElementById("alert-stack");
    var count = document.getElementById("alert-count");
    if (!stack || !count) return;
    var n = document.querySelectorAll("#alerts .alert-banner").length;
    count.textContent = String(n);
    stack.classList.toggle("quiet", n === 0);
  }

  function chimeOn() {
    try {
      return window.localStorage.getItem(CHIME_KEY) !== "off";
    } catch (e) {
      return true;
    }
  }

  function showChime() {
    var button = document.getElementById("chime");
    if (!button) return;
    var on = chimeOn();
    button.hidden = false;
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = button.getAttribute(on ? "data-on" : "data-off");
  }

  function audioContext() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!audio) audio = new Context();
    if (audio.state === "suspended") audio.resume();
    return audio;
  }

  function chime() {
    if (!chimeOn()) return;
    var ctx = audioContext();
    if (!ctx) return;
    // two falling tones, 0.9 s in all: heard across a gatehouse, not mistaken for a phone
    [[880, 0], [660, 0.35]].forEach(function (tone) {
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      var start = ctx.currentTime + tone[1];
      osc.type = "sine";
      osc.frequency.value = tone[0];
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.4, start + 0.03);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.5);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start);
      osc.stop(start + 0.55);
    });
  }

  function refreshAlarms() {
    var cards = document.querySelectorAll(".gate-card[data-gate]");
    Array.prototype.forEach.call(cards, function (card) {
      var gate = card.getAttribute("data-gate");
      var open = document.querySelector('.alert-banner[data-gate="' + cssEscape(gate) + '"]');
      card.classList.toggle("alarm", !!open);
    });
  }

  function cssEscape(text) {
    return window.CSS && CSS.escape ? CSS.escape(text) : String(text).replace(/["\\]/g, "\\$&");
  }

  function armBanner(banner) {
    var id = banner.getAttribute("data-alert-id");
    if (acked().indexOf(id) !== -1) {
      banner.parentNode.removeChild(banner);
      return;
    }
    var button = banner.querySelector("[data-ack]");
    if (button) button.hidden = false;
  }

  document.addEventListener("click", function (event) {
    audioContext();  // a page may start audio only after a user gesture: unlock it now
    var toggle = event.target.closest ? event.target.closest("#chime") : null;
    if (toggle) {
      try {
        window.localStorage.setItem(CHIME_KEY, chimeOn() ? "off" : "on");
      } catch (e) { /* private mode: the choice lasts for this page */ }
      showChime();
      return;
    }
    var button = event.target.closest ? event.target.closest("[data-ack]") : null;
    if (!button) return;
    var id = button.getAttribute("data-ack");
    acknowledge(id);
    var banner = button.closest(".alert-banner");
    if (banner) banner.parentNode.removeChild(banner);
    refreshAlarms();
    updateCount();
  });

  // -- the events feed ------------------------------------------------------------------
  function startFeed(source) {
    var url = source.getAttribute("data-feed");
    var cursor = source.getAttribute("data-cursor");
    var live = document.getElementById("live");
    var alerts = document.getElementById("alerts");
    var keep = live ? parseInt(live.getAttribute("data-keep"), 10) || 6 : 0;
    var timer = null;

    function place(item) {
      if (live && item.row_html) {
        var card = live.querySelector('[data-gate="' + cssEscape(item.gate_id) + '"]');
        var list = card && card.querySelector("[data-events]");
        if (list && !list.querySelector('[data-event-id="' + item.id + '"]')) {
          var empty = list.querySelector("[data-empty]");
          if (empty) list.removeChild(empty);
          list.insertAdjacentHTML("afterbegin", item.row_html);
          list.firstElementChild.classList.add("ev-new");
          while (list.children.length > keep) list.removeChild(list.lastElementChild);
        }
      }
      if (live && item.prompt_html) {
        var home = live.querySelector('[data-gate="' + cssEscape(item.gate_id) + '"] [data-prompts]');
        if (home && !home.querySelector('[data-event="' + item.id + '"]')) {
          home.insertAdjacentHTML("afterbegin", item.prompt_html);
        }
      }
      if (alerts && item.alert_html && acked().indexOf(item.id) === -1 &&
          !alerts.querySelector('[data-alert-id="' + item.id + '"]')) {
        alerts.insertAdjacentHTML("afterbegin", item.alert_html);
        var banner = alerts.firstElementChild;
        banner.classList.add("new");
        armBanner(banner);
        updateCount();
        chime();
      }
    }

    function dropAnswered(open) {
      Array.prototype.forEach.call(live.querySelectorAll("[data-prompt-id]"), function (el) {
        if (open.indexOf(parseInt(el.getAttribute("data-prompt-id"), 10)) === -1) {
          el.parentNode.removeChild(el);
        }
      });
    }

    function schedule(ms) {
      window.clearTimeout(timer);
      timer = window.setTimeout(poll, ms);
    }

    function poll() {
      var sep = url.indexOf("?") === -1 ? "?" : "&";
      fetch(url + sep + "after=" + encodeURIComponent(cursor), {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" }
      }).then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (response.redirected || type.indexOf("application/json") === -1) {
          setStatus("login");  // the session ended: the login page came back
          return null;
        }
        if (!response.ok) throw new Error("feed answered " + response.status);
        return response.json();
      }).then(function (data) {
        if (!data) return;
        data.events.forEach(place);
        if (live && data.open_prompts) dropAnswered(data.open_prompts);
        cursor = String(data.cursor);
        refreshAlarms();
        setStatus("ok");
        schedule(data.more ? 0 : (document.hidden ? HIDDEN_MS : VISIBLE_MS));
      }).catch(function () {
        setStatus("lost");
        schedule(RETRY_MS);
      });
    }

    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) schedule(0);
    });
    schedule(0);
  }

  // -- health ---------------------------------------------------------------------------
  function startHealth(source) {
    var url = source.getAttribute("data-health");
    function poll() {
      fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (response) {
        if (response.redirected || !response.ok) throw new Error("health " + response.status);
        return response.json();
      }).then(function (data) {
        Object.keys(data.cells).forEach(function (key) {
          var cell = source.querySelector('[data-cell="' + cssEscape(key) + '"]');
          if (!cell) return;
          cell.textContent = data.cells[key].text;
          // a diagnostic (the gate's own English words) keeps its marking
          if (!cell.hasAttribute("data-diagnostic")) cell.className = "lvl lvl-" + data.cells[key].level;
        });
        setStatus("ok");
      }).catch(function () {
        setStatus("lost");
      }).then(function () {
        window.setTimeout(poll, HEALTH_MS);
      });
    }
    window.setTimeout(poll, HEALTH_MS);
  }

  // -- forms ----------------------------------------------------------------------------
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-once")) return;
    var button = form.querySelector("button[type=submit]");
    if (!button) return;
    window.setTimeout(function () { button.disabled = true; }, 0);
  });

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll(".alert-banner"), armBanner);
    refreshAlarms();
    updateCount();
    showChime();
    var feed = document.querySelector("[data-feed]");
    if (feed) startFeed(feed);
    var health = document.querySelector("[data-health]");
    if (health) startHealth(health);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
