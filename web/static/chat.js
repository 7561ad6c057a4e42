// Progressive enhancement of the chat form: without this file the plain form works.
// Vanilla JS, no build step, no CDN.
(function () {
  "use strict";
  var box = document.getElementById("chat");
  // An error the server answered (in the JSON error shape) is marked: it is final, never retried.
  function post(url, body) {
    return fetch(url, { method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) { var e = new Error((j.error && j.error.message) || r.status); e.answered = true; throw e; } return j; }); });
  }
  // Each chat message is named, so that its retry is answered once (the server keeps the reply).
  function newId() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12);
  }
  // One automatic retry, with the same body (and so the same client_msg_id), when the network failed.
  function postOnce(url, body) {
    return post(url, body).catch(function (err) {
      if (err.answered) { throw err; }
      return new Promise(function (resolve) { setTimeout(resolve, 1500); }).then(function () { return post(url, body); });
    });
  }
  // Taps on navigation and online links are counted (plate, item) — fire and forget.
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("[data-event]");
    if (!a) { return; }
    var plate = box ? box.dataset.plate : "";
    var body = { kind: a.dataset.event, plate: plate || null, detail: a.dataset.detail || null };
    if (navigator.sendBeacon) { navigator.sendBeacon("/api/events", new Blob([JSON.stringify(body)], { type: "application/json" })); }
  });
  var printBtn = document.querySelector("[data-print]");
  if (printBtn) { printBtn.addEventListener("click", function () { window.print(); }); }
  // 发到手机: copy the short text, or hand it to the phone's share sheet.
  function textOf(sel) { var el = sel && document.querySelector(sel); return el ? (el.value || el.textContent) : ""; }
  function say(msg) { var n = document.getElementById("copy-note"); if (n) { n.textContent = msg; } }
  document.querySelectorAll("[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var el = document.querySelector(b.dataset.copy);
      if (navigator.clipboard) { navigator.clipboard.writeText(textOf(b.dataset.copy)).then(function () { say("已复制，可以粘贴到微信或短信里。"); }, function () { el.select(); say("请长按文字复制。"); }); }
      else { el.select(); say("请长按文字复制。"); }
    });
  });
  document.querySelectorAll("[data-share]").forEach(function (b) {
    b.addEventListener("click", function () {
      var data = { title: b.dataset.title, text: textOf(b.dataset.textFrom), url: location.href };
      if (navigator.share) { navigator.share(data).catch(function () {}); }
      else if (navigator.clipboard) { navigator.clipboard.writeText(data.text || location.href); say("已复制，可以粘贴发给家人。"); }
    });
  });
  // The answer card's links (print, share, booking, pre-check) carry the door plate: the nearest hall is then the resident's.
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a[data-with-plate]");
    var plateCode = box ? box.dataset.plate : "";
    if (a && plateCode && a.href.indexOf("plate=") < 0) { a.href += (a.href.indexOf("?") < 0 ? "?" : "&") + "plate=" + encodeURIComponent(plateCode); }
  });
  // 朗读: the browser's own speech synthesis in Chinese; the buttons stay hidden where there is no Chinese voice.
  var synth = window.speechSynthesis;
  function zhVoice() {
    if (!synth) { return null; }
    var voices = synth.getVoices() || [];
    for (var i = 0; i < voices.length; i++) { if (/^zh[-_]CN$/i.test(voices[i].lang)) { return voices[i]; } }
    for (var j = 0; j < voices.length; j++) { if (/^zh/i.test(voices[j].lang)) { return voices[j]; } }
    return null;
  }
  function showSpeak() {
    var ok = !!zhVoice();
    document.querySelectorAll("[data-speak]").forEach(function (b) { b.hidden = !ok; });
  }
  function readable(root) {
    // The words a person reads: buttons, links' bars and hidden parts left out.
    var copy = root.cloneNode(true);
    copy.querySelectorAll(".no-read, button, script, style, [hidden], .sprite").forEach(function (n) { n.remove(); });
    return copy.textContent.replace(/\s+/g, " ").trim();
  }
  function chunks(text) {
    var parts = text.split(/(?<=[。；！？\n])/), out = [], cur = "";
    parts.forEach(function (p) { if ((cur + p).length > 120 && cur) { out.push(cur); cur = ""; } cur += p; });
    if (cur) { out.push(cur); }
    return out;
  }
  if (synth) {
    showSpeak();
    if (synth.addEventListener) { synth.addEventListener("voiceschanged", showSpeak); }
    document.addEventListener("click", function (e) {
      var b = e.target.closest && e.target.closest("[data-speak]");
      if (!b) { return; }
      if (synth.speaking) { synth.cancel(); b.classList.remove("speaking"); return; }
      var root = b.closest(".answer-card") || document.querySelector(b.dataset.speak || "#main") || document.body;
      var voice = zhVoice();
      chunks(readable(root)).forEach(function (c, i, all) {
        var u = new SpeechSynthesisUtterance(c);
        u.lang = "zh-CN"; u.rate = 0.9;
        if (voice) { try { u.voice = voice; } catch (err) { /* lang zh-CN still picks a Chinese voice */ } }
        if (i === all.length - 1) { u.onend = function () { b.classList.remove("speaking"); }; }
        synth.speak(u);
      });
      b.classList.add("speaking");
    });
  }
  if (!box) { return; }
  var log = box.querySelector(".chat-log");
  var form = box.querySelector(".chat-form");
  var input = form.querySelector("textarea");
  var modeLine = box.querySelector(".chat-mode");
  var session = box.dataset.session;
  var plate = box.dataset.plate || null;
  var lastId = 0;
  var polling = false;

  function add(cls, text, html) {
    var el = document.createElement(html ? "div" : "p");
    el.className = "msg " + cls;
    if (html) { el.innerHTML = html; } else { el.textContent = text; }
    log.appendChild(el);
    el.scrollIntoView({ behavior: "smooth", block: "start" });
    return el;
  }
  function setMode(mode) {
    box.dataset.mode = mode;
    if (mode === "bot") { modeLine.hidden = true; return; }
    modeLine.hidden = false;
    modeLine.textContent = mode === "waiting" ? "正在为您转接人工，请稍等…" : (mode === "agent" ? "工作人员正在为您服务" : "本次服务已结束");
    startPolling();
  }
  var LEVELS = [[5, "非常满意"], [4, "满意"], [3, "基本满意"], [2, "不满意"], [1, "非常不满意"]];
  function ratingRow(el, target, item) {
    var wrap = document.createElement("div");
    wrap.className = "rating";
    var label = document.createElement("p");
    label.textContent = target === "chat" ? "请为这次服务打个分：" : "这个回答对您有帮助吗？";
    wrap.appendChild(label);
    LEVELS.forEach(function (lv) {
      var b = document.createElement("button");
      b.type = "button"; b.textContent = lv[1]; b.dataset.level = lv[0];
      b.addEventListener("click", function () {
        post("/api/rate", { session: session, target: target, item: item || null, level: lv[0] })
          .then(function () { wrap.textContent = "谢谢您的评价！"; })
          .catch(function (err) { wrap.textContent = "评价没发出去：" + err.message; });
      });
      wrap.appendChild(b);
    });
    el.appendChild(wrap);
  }
  function leaveMessageForm(el) {
    var f = document.createElement("form");
    f.className = "stack leave-message";
    f.innerHTML = '<p>等不及？留下电话和留言，工作人员会回电。</p>' +
      '<label>手机号<input name="phone" inputmode="tel" maxlength="13" required></label>' +
      '<label>留言<textarea name="text" rows="2" maxlength="1000" required></textarea></label>' +
      '<button type="submit">留言回电</button>';
    f.addEventListener("submit", function (e) {
      e.preventDefault();
      post("/api/chat/" + session + "/leave-message", { phone: f.phone.value.trim(), text: f.text.value.trim() })
        .then(function (j) { f.textContent = "已收到留言，工作人员会回电。"; setMode(j.mode); })
        .catch(function (err) { var p = document.createElement("p"); p.className = "warn"; p.textContent = err.message; f.appendChild(p); });
    });
    el.appendChild(f);
  }
  function render(m) {
    if (m.kind === "answer" && m.html) { var a = add("bot", m.text, m.html); ratingRow(a, "answer", m.item); showSpeak(); return; }
    var el = add("bot", m.text);
    if (m.kind === "choices" && m.choices) {
      var wrap = document.createElement("div");
      wrap.className = "choices";
      m.choices.forEach(function (c) {
        var b = document.createElement("button");
        b.type = "button"; b.textContent = c.label;
        b.addEventListener("click", function () { send("", { kind: m.choice_kind, value: c.value, item: m.item || null, label: c.label }); });
        wrap.appendChild(b);
      });
      el.appendChild(wrap);
    }
    if (m.offer_message) { leaveMessageForm(el); }
    if (m.offer_human) {
      var h = document.createElement("button");
      h.type = "button"; h.className = "human"; h.textContent = "🙋 找人工帮办";
      h.addEventListener("click", function () { askPerson(); });
      el.appendChild(h);
    }
  }
  function send(text, choice, human) {
    add("me", text || (choice && choice.label) || (human ? "找人工帮办" : ""));
    var pending = add("bot", "正在查…");
    var body = { text: text || "", plate: plate, choice: choice || null, human: !!human, client_msg_id: newId() };
    if (session) { body.session = session; }  // else the server uses the session cookie's chat
    return postOnce("/api/chat", body)
      .then(function (reply) {
        session = reply.session;
        pending.remove();
        reply.messages.forEach(render);
        setMode(reply.mode);
      })
      .catch(function (err) { pending.textContent = "网络不好，没发出去（" + err.message + "）。请再试一次，或打12345。"; });
  }
  // The button asks for a person explicitly (the server does not read it from the words).
  function askPerson() { return send("", null, true); }
  // Live channel for staff replies: a long poll the server holds until something changes.
  function poll() {
    fetch("/api/chat/" + session + "/messages?wait=25&after=" + lastId + "&mode=" + box.dataset.mode,
          { headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (j) {
        j.messages.forEach(function (m) {
          var el = add(m.role === "staff" ? "staff" : "bot", m.text);
          if (m.kind === "rate") { ratingRow(el, "chat", null); }
        });
        lastId = j.last_id;
        if (j.mode !== box.dataset.mode) { setMode(j.mode); }
        if (j.mode === "bot" || j.mode === "resolved") { polling = false; return; }
        poll();
      }).catch(function () { setTimeout(poll, 3000); });  // offline for a moment: try again shortly
  }
  function startPolling() {
    if (polling) { return; }
    polling = true;
    fetch("/api/chat/" + session + "/messages?after=0").then(function (r) { return r.json(); })
      .then(function (j) { lastId = j.last_id; poll(); })
      .catch(function () { polling = false; });
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var human = e.submitter && e.submitter.classList.contains("human");
    if (human) { askPerson(); return; }
    var text = input.value.trim();
    if (!text) { input.focus(); return; }
    input.value = "";
    send(text);
  });
  document.querySelectorAll("[data-handoff]").forEach(function (a) {
    a.addEventListener("click", function (e) { e.preventDefault(); box.scrollIntoView(); askPerson(); });
  });
  if (box.dataset.mode !== "bot") { setMode(box.dataset.mode); }
})();
