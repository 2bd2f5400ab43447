// Switchboard webchat client: plain JS, no dependencies.
// Protocol: see docs/webchat.md. Reconnects by itself and resumes the session.
(function () {
  "use strict";
  var SESSION_KEY = "switchboard.session";
  var log = document.getElementById("log");
  var typing = document.getElementById("typing");
  var statusEl = document.getElementById("status");
  var form = document.getElementById("composer");
  var input = document.getElementById("input");
  var ws = null;
  var ready = false;
  var retry = 0;
  var outbox = [];          // frames typed while offline, sent after the welcome
  var pending = {};         // client id -> <li> of our own messages awaiting the server
  var streaming = {};       // client id -> <li> of a bot answer arriving in deltas
  var seq = 0;

  function newId() {
    seq += 1;
    var rnd = Math.random().toString(36).slice(2, 10);
    return "c" + Date.now().toString(36) + "-" + seq + "-" + rnd;
  }

  function setStatus(text, cls) {
    statusEl.textContent = text;
    statusEl.className = "status status--" + cls;
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function render(frame) {
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
    li.appendChild(document.createTextNode(frame.text || ""));
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
    scrollDown();
    return li;
  }

  function note(text) { render({ from: "system", text: text }).classList.add("msg--error"); }

  function sendText(text, shown) {
    text = (text || "").trim();
    if (!text) return;
    var frame = { type: "message", id: newId(), text: text };
    frame.shown = shown || text;
    track(frame);
    if (ready) ws.send(JSON.stringify({ type: "message", id: frame.id, text: frame.text }));
    else outbox.push(frame);
  }

  function track(frame) {
    var li = render({ from: "customer", text: frame.shown, id: frame.id });
    li.classList.add("msg--pending");
    pending[frame.id] = { li: li, frame: frame };
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "welcome":
        localStorage.setItem(SESSION_KEY, frame.session);
        log.textContent = "";
        pending = {};
        streaming = {};
        var seen = {};
        (frame.history || []).forEach(function (f) { seen[f.id] = true; render(f); });
        ready = true;
        retry = 0;
        setStatus("online", "online");
        var queued = outbox; outbox = [];
        queued.forEach(function (f) {
          if (seen[f.id]) return;  // the hub has it already; its answer is in the history
          track(f);
          ws.send(JSON.stringify({ type: "message", id: f.id, text: f.text }));
        });
        break;
      case "delta":
        var bubble = streaming[frame.reply_to];
        if (!bubble) {
          bubble = streaming[frame.reply_to] = render({ from: "bot", text: "" });
          bubble.classList.add("msg--streaming");
        }
        typing.hidden = true;
        bubble.appendChild(document.createTextNode(frame.text || ""));
        scrollDown();
        break;
      case "message":
        if (frame.reply_to && streaming[frame.reply_to]) {
          streaming[frame.reply_to].remove();  // the final message is authoritative
          delete streaming[frame.reply_to];
        }
        if (frame.reply_to && pending[frame.reply_to]) {
          pending[frame.reply_to].li.classList.remove("msg--pending");
          delete pending[frame.reply_to];
        }
        typing.hidden = true;
        render(frame);
        break;
      case "typing":
        typing.hidden = !frame.on;
        if (frame.on) scrollDown();
        break;
      case "error":
        typing.hidden = true;
        if (frame.code !== "invalid_session") note(frame.message);
        break;
    }
  }

  function connect() {
    setStatus(retry ? "reconnecting…" : "connecting…", "connecting");
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + "/ws");
    ws.addEventListener("open", function () {
      ws.send(JSON.stringify({ type: "hello", session: localStorage.getItem(SESSION_KEY) }));
    });
    ws.addEventListener("message", function (ev) {
      try { onFrame(JSON.parse(ev.data)); } catch (e) { /* ignore a frame we cannot read */ }
    });
    ws.addEventListener("close", function () {
      ready = false;
      typing.hidden = true;
      // Resend what never got an answer once we are back (ids make this safe).
      Object.keys(pending).forEach(function (id) { outbox.push(pending[id].frame); });
      pending = {};
      setStatus("offline, reconnecting…", "offline");
      var delay = Math.min(10000, 500 * Math.pow(2, retry)) + Math.random() * 300;
      retry += 1;
      setTimeout(connect, delay);
    });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    sendText(input.value);
    input.value = "";
    input.focus();
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
  });
  window.switchboard = { get ready() { return ready; }, socket: function () { return ws; } };
  connect();
})();
