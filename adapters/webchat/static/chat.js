// Switchboard webchat client: plain JS, no dependencies.
// Protocol: see docs/webchat.md. Reconnects by itself, resumes the session and
// replays what it missed (hello carries the id of the last frame it showed).
(function () {
  "use strict";
  var SESSION_KEY = "switchboard.session";
  var GREETING_KEY = "switchboard.greeting";
  var FAILED = { rate_limited: 1, text_too_long: 1, empty_text: 1, missing_text: 1,
                 invalid_text: 1, invalid_id: 1 };
  var log = document.getElementById("log");
  var typing = document.getElementById("typing");
  var statusEl = document.getElementById("status");
  var form = document.getElementById("composer");
  var input = document.getElementById("input");
  var ws = null;
  var ready = false;
  var retry = 0;
  var lastId = null;        // id of the last server message frame shown: replay starts after it
  var outbox = [];          // frames typed while offline, sent after the welcome
  var pending = {};         // client id -> {li, frame} of our own messages awaiting the server
  var failed = {};          // client id -> {li, frame, reason} refused by the server
  var resend = {};          // client id -> {timer, attempt}: retries of "unavailable"
  var streaming = {};       // client id -> <li> of a bot answer arriving in deltas
  var answered = {};        // client id -> true once its final message arrived
  var shown = {};           // server frame id -> true (a replayed frame is shown once)
  var seq = 0;
  var LANGUAGE_KEY = "switchboard.language";
  // The page's own words, per language: the browser's at first, then the
  // conversation's (the hub puts the customer's detected language on its replies).
  var STRINGS = {
    en: { placeholder: "Type your message…", send: "Send", label: "Your message", connecting: "connecting…",
          reconnecting: "reconnecting…", offline: "offline, reconnecting…", online: "online",
          retry: "Retry", notSent: "Not sent: " },
    zh: { placeholder: "请输入消息…", send: "发送", label: "您的消息", connecting: "正在连接…",
          reconnecting: "正在重新连接…", offline: "已离线，正在重新连接…", online: "在线",
          retry: "重试", notSent: "未发送：" },
    fr: { placeholder: "Écrivez votre message…", send: "Envoyer", label: "Votre message",
          connecting: "connexion…", reconnecting: "reconnexion…", offline: "hors ligne, reconnexion…",
          online: "en ligne", retry: "Réessayer", notSent: "Non envoyé : " },
    de: { placeholder: "Nachricht eingeben…", send: "Senden", label: "Ihre Nachricht",
          connecting: "verbinde…", reconnecting: "verbinde erneut…", offline: "offline, verbinde erneut…",
          online: "online", retry: "Erneut senden", notSent: "Nicht gesendet: " },
    es: { placeholder: "Escribe tu mensaje…", send: "Enviar", label: "Tu mensaje",
          connecting: "conectando…", reconnecting: "reconectando…", offline: "sin conexión, reconectando…",
          online: "en línea", retry: "Reintentar", notSent: "No enviado: " },
  };
  var lang = pickLanguage(localStorage.getItem(LANGUAGE_KEY) || navigator.language || "en");
  var statusKey = "connecting";

  function pickLanguage(code) {
    var base = String(code || "").toLowerCase().split("-")[0];
    return STRINGS[base] ? base : "en";
  }

  function t(key) { return STRINGS[lang][key]; }

  // Re-label the page in ``code`` (unknown languages keep the current one).
  function setLanguage(code) {
    var base = String(code || "").toLowerCase().split("-")[0];
    if (!STRINGS[base]) return;
    lang = base;
    localStorage.setItem(LANGUAGE_KEY, lang);
    document.documentElement.lang = lang;
    input.placeholder = t("placeholder");
    document.getElementById("send").textContent = t("send");
    document.querySelector("label[for=input]").textContent = t("label");
    statusEl.textContent = t(statusKey);
    log.querySelectorAll(".msg__retry").forEach(function (b) { b.textContent = t("retry"); });
  }

  function newId() {
    seq += 1;
    var rnd = Math.random().toString(36).slice(2, 10);
    return "c" + Date.now().toString(36) + "-" + seq + "-" + rnd;
  }

  function setStatus(key, cls) {
    statusKey = key;
    statusEl.textContent = t(key);
    statusEl.className = "status status--" + cls;
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  // Only the newest message's buttons can be pressed; older ones are history.
  function retireButtons() {
    log.querySelectorAll(".buttons button").forEach(function (b) { b.disabled = true; });
  }

  function render(frame) {
    retireButtons();
    var li = document.createElement("li");
    var from = frame.from || "bot";
    li.className = "msg msg--" + from;
    li.dataset.id = frame.id || "";
    if (from === "agent" && frame.name) {
      var name = document.createElement("span");
      name.className = "msg__name";
      name.textContent = frame.name;
      li.appendChild(name);
    }
    var sources = frame.sources && frame.sources.length ? frame.sources : null;
    li.appendChild(document.createTextNode(sources ? withoutLastParagraph(frame.text) : frame.text || ""));
    if (sources) li.appendChild(sourcesLine(sources));
    if (frame.buttons && frame.buttons.length) {
      var row = document.createElement("div");
      row.className = "buttons";
      frame.buttons.forEach(function (b) {
        var btn = document.createElement("button");
        btn.type = "button";
        btn.textContent = b.label;
        btn.addEventListener("click", function () { sendText(b.value, b.label); });
        row.appendChild(btn);
      });
      li.appendChild(row);
    }
    log.appendChild(li);
    if (frame.rating && frame.id) log.appendChild(ratingWidget(frame.id, frame.rating));
    scrollDown();
    return li;
  }

  // With "sources", a message's last paragraph is their plain line: shown as links instead.
  function withoutLastParagraph(text) {
    var cut = (text || "").lastIndexOf("\n\n");
    return cut < 0 ? text || "" : text.slice(0, cut);
  }

  function sourcesLine(sources) {
    var line = document.createElement("div");
    line.className = "sources";
    var readMore = sources[0].n === null || sources[0].n === undefined;
    line.appendChild(document.createTextNode(readMore ? "Read more: " : "Sources: "));
    sources.forEach(function (s, i) {
      if (i) line.appendChild(document.createTextNode(", "));
      var label = (s.n === null || s.n === undefined ? "" : "[" + s.n + "] ") + s.title;
      if (!/^https?:\/\//i.test(s.url || "")) {  // never a javascript: or data: link
        line.appendChild(document.createTextNode(label));
        return;
      }
      var a = document.createElement("a");
      a.href = s.url;
      a.textContent = label;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      line.appendChild(a);
    });
    return line;
  }

  // A rating prompt under a message (a row of its own, not part of the message's
  // text): 👍/👎 on a bot answer, or 1-5 and a comment after a hand-off. It stays
  // usable when newer messages arrive; once pressed, it shows the choice.
  function ratingWidget(messageId, kind) {
    var box = document.createElement("li");
    box.className = "rating rating--" + kind;
    box.dataset.for = messageId;
    var comment = null;
    if (kind === "csat") {
      comment = document.createElement("input");
      comment.type = "text";
      comment.maxLength = 1000;
      comment.placeholder = "Anything to add? (optional)";
      comment.setAttribute("aria-label", "Comment");
      box.appendChild(comment);
    }
    // Words, not emoji: a browser without an emoji font would draw empty boxes.
    var lead = document.createElement("span");
    lead.className = "rating__lead";
    lead.textContent = kind === "csat" ? "Your rating:" : "Helpful?";
    box.appendChild(lead);
    var choices = kind === "csat" ? [["1", 1], ["2", 2], ["3", 3], ["4", 4], ["5", 5]]
                                  : [["Yes", 1], ["No", -1]];
    choices.forEach(function (choice) {
      var btn = document.createElement("button");
      btn.type = "button";
      btn.textContent = choice[0];
      btn.dataset.value = String(choice[1]);
      btn.setAttribute("aria-label", kind === "csat" ? "Rate " + choice[0] + " of 5"
                                                     : (choice[1] > 0 ? "Helpful" : "Not helpful"));
      btn.addEventListener("click", function () { rate(box, messageId, kind, choice[1], comment); });
      box.appendChild(btn);
    });
    return box;
  }

  function rate(box, messageId, kind, value, comment) {
    if (!ready) return;
    var frame = { type: "rating", message_id: messageId, value: value, kind: kind };
    if (comment && comment.value.trim()) frame.comment = comment.value.trim();
    ws.send(JSON.stringify(frame));
    box.querySelectorAll("button").forEach(function (b) {
      b.disabled = true;
      if (b.dataset.value === String(value)) b.classList.add("rating__chosen");
    });
    if (comment) comment.disabled = true;
    box.classList.add("rating--done");
  }

  function note(text) { render({ from: "system", text: text }).classList.add("msg--error"); }

  function transmit(frame) {
    ws.send(JSON.stringify({ type: "message", id: frame.id, text: frame.text }));
  }

  function sendText(text, shownAs) {
    text = (text || "").trim();
    if (!text) return;
    var frame = { type: "message", id: newId(), text: text, shown: shownAs || text };
    track(frame, null);
    if (ready) transmit(frame);
    else outbox.push(frame);
  }

  function track(frame, li) {
    li = li || render({ from: "customer", text: frame.shown, id: frame.id });
    li.classList.add("msg--pending");
    pending[frame.id] = { li: li, frame: frame };
    return li;
  }

  function settle(id) {
    if (pending[id]) pending[id].li.classList.remove("msg--pending");
    delete pending[id];
    stopResend(id);
  }

  function stopResend(id) {
    if (resend[id]) clearTimeout(resend[id].timer);
    delete resend[id];
  }

  // A message the server refused (rate limit, length): failed, with a retry button.
  function fail(id, reason) {
    var entry = pending[id] || failed[id];
    if (!entry) return;
    settle(id);
    var li = entry.li;
    li.classList.add("msg--failed");
    var old = li.querySelector(".msg__failure");
    if (old) old.remove();
    var box = document.createElement("span");
    box.className = "msg__failure";
    box.appendChild(document.createTextNode(t("notSent") + reason + " "));
    var again = document.createElement("button");
    again.type = "button";
    again.className = "msg__retry";
    again.textContent = t("retry");
    again.addEventListener("click", function () { retryFailed(id); });
    box.appendChild(again);
    li.appendChild(box);
    failed[id] = { li: li, frame: entry.frame, reason: reason };
  }

  function retryFailed(id) {
    var entry = failed[id];
    if (!entry) return;
    delete failed[id];
    entry.li.classList.remove("msg--failed");
    var box = entry.li.querySelector(".msg__failure");
    if (box) box.remove();
    track(entry.frame, entry.li);
    if (ready) transmit(entry.frame);
    else outbox.push(entry.frame);
  }

  // The hub could not take it for now: send it again with back-off, on this socket.
  function retryLater(id) {
    var state = resend[id] || { attempt: 0 };
    if (state.timer) clearTimeout(state.timer);
    var delay = Math.min(15000, 500 * Math.pow(2, state.attempt)) + Math.random() * 250;
    state.attempt += 1;
    state.timer = setTimeout(function () {
      state.timer = null;
      if (ready && pending[id]) transmit(pending[id].frame);
    }, delay);
    resend[id] = state;
  }

  // A token is "<session id>.<expiry>.<mac>"; every welcome renews it (sliding
  // expiry), so "the same session" compares the ids, not the tokens.
  function sessionId(token) {
    return token ? String(token).split(".")[0] : null;
  }

  function onWelcome(frame) {
    var resumed = sessionId(localStorage.getItem(SESSION_KEY)) === sessionId(frame.session);
    localStorage.setItem(SESSION_KEY, frame.session);
    if (!resumed) localStorage.removeItem(GREETING_KEY);
    log.textContent = "";
    pending = {};
    streaming = {};
    shown = {};
    var seen = {};
    var greeting = localStorage.getItem(GREETING_KEY);
    if (greeting) showServerFrame(JSON.parse(greeting));
    (frame.history || []).forEach(function (f) {
      seen[f.id] = true;
      if (f.from === "customer") render(f);
      else showServerFrame(f);
    });
    Object.keys(failed).forEach(function (id) {
      var entry = failed[id];
      delete failed[id];
      track(entry.frame, null);
      fail(id, entry.reason);
    });
    ready = true;
    retry = 0;
    setStatus("online", "online");
    var queued = outbox; outbox = [];
    queued.forEach(function (f) {
      if (seen[f.id]) return;  // the hub has it already; its answer is in the history
      track(f, null);
      transmit(f);
    });
  }

  function showServerFrame(frame) {
    if (frame.id && shown[frame.id]) return false;  // a replay of one we show already
    if (frame.id) shown[frame.id] = true;
    if (frame.id && frame.id !== "greeting") lastId = frame.id;
    if (frame.reply_to) answered[frame.reply_to] = true;
    render(frame);
    return true;
  }

  function onMessage(frame) {
    if (frame.reply_to && streaming[frame.reply_to]) {
      streaming[frame.reply_to].remove();  // the final message is authoritative
      delete streaming[frame.reply_to];
    }
    if (frame.reply_to) settle(frame.reply_to);
    if (frame.language) setLanguage(frame.language);
    typing.hidden = true;
    if (frame.id === "greeting") localStorage.setItem(GREETING_KEY, JSON.stringify(frame));
    showServerFrame(frame);
  }

  function onDelta(frame) {
    if (answered[frame.reply_to]) return;  // late: the final message is already here
    var bubble = streaming[frame.reply_to];
    if (!bubble) {
      bubble = streaming[frame.reply_to] = render({ from: "bot", text: "" });
      bubble.classList.add("msg--streaming");
    }
    typing.hidden = true;
    bubble.appendChild(document.createTextNode(frame.text || ""));
    scrollDown();
  }

  function onError(frame) {
    typing.hidden = true;
    var id = frame.reply_to;
    if (id && frame.code === "unavailable" && pending[id]) return retryLater(id);
    if (id && FAILED[frame.code] && (pending[id] || failed[id])) return fail(id, frame.message);
    if (frame.code !== "invalid_session") note(frame.message);
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "welcome": onWelcome(frame); break;
      case "delta": onDelta(frame); break;
      case "message": onMessage(frame); break;
      case "typing":
        typing.hidden = !frame.on;
        if (frame.on) scrollDown();
        break;
      case "error": onError(frame); break;
    }
  }

  function connect() {
    setStatus(retry ? "reconnecting" : "connecting", "connecting");
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + "/ws");
    ws.addEventListener("open", function () {
      ws.send(JSON.stringify({
        type: "hello", session: localStorage.getItem(SESSION_KEY), last_id: lastId,
      }));
    });
    ws.addEventListener("message", function (ev) {
      try { onFrame(JSON.parse(ev.data)); } catch (e) { /* ignore a frame we cannot read */ }
    });
    ws.addEventListener("close", function () {
      ready = false;
      typing.hidden = true;
      // Resend what never got an answer once we are back (ids make this safe);
      // refused messages stay failed until the customer presses Retry.
      Object.keys(pending).forEach(function (id) { stopResend(id); outbox.push(pending[id].frame); });
      pending = {};
      setStatus("offline", "offline");
      var delay = Math.min(10000, 500 * Math.pow(2, retry)) + Math.random() * 300;
      retry += 1;
      setTimeout(connect, delay);
    });
  }

  function grow() {
    input.style.height = "auto";
    input.style.height = input.scrollHeight + 2 + "px";  // max-height in the CSS caps it
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    sendText(input.value);
    input.value = "";
    grow();
    input.focus();
  });
  input.addEventListener("input", grow);
  grow();
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
  });
  window.switchboard = {
    get ready() { return ready; }, get language() { return lang; }, socket: function () { return ws; },
  };
  setLanguage(lang);
  connect();
})();
