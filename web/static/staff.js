// Staff console live updates: SSE for the queue (and push notifications), a long poll for the open chat.
(function () {
  "use strict";
  var baseTitle = document.title;
  var unseen = 0;
  var alertBox = document.getElementById("alert");
  var notifyOn = document.getElementById("notify-on");

  // ---- notifications: the desktop Notification (with permission), a short sound, the tab title
  if (notifyOn && window.Notification && Notification.permission === "default") {
    notifyOn.hidden = false;
    notifyOn.addEventListener("click", function () {
      Notification.requestPermission().then(function () { notifyOn.hidden = true; });
    });
  }
  function beep() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) { return; }
      var ctx = new Ctx();
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.15;
      osc.connect(gain); gain.connect(ctx.destination);
      osc.start(); osc.stop(ctx.currentTime + 0.35);
    } catch (e) { /* no sound: the title and the banner still tell */ }
  }
  function notify(title, body, href) {
    unseen += 1;
    document.title = "(" + unseen + ") " + title + " · " + baseTitle;
    if (alertBox) { alertBox.textContent = title + "：" + body; alertBox.hidden = false; }
    beep();
    if (window.Notification && Notification.permission === "granted") {
      try {
        var n = new Notification(title, { body: body, tag: href || title });
        if (href) { n.onclick = function () { window.focus(); location.href = href; }; }
      } catch (e) { /* some browsers only notify from a service worker: the title and banner still tell */ }
    }
    window.__notified = (window.__notified || 0) + 1; // read by the browser test
  }
  function seen() { unseen = 0; document.title = baseTitle; }
  window.addEventListener("focus", seen);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { seen(); } });

  // ---- the first-response clock: each waiting chat's wait counts on against the target
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".wait[data-since]").forEach(function (el) {
      if (!el.dataset.since) { return; }
      var s = Math.max(0, Math.floor((now - Date.parse(el.dataset.since)) / 1000));
      var m = Math.floor(s / 60), r = s % 60;
      el.textContent = "等了 " + (m ? m + "分" + (r < 10 ? "0" : "") + r + "秒" : r + "秒");
      el.classList.toggle("over", s > parseInt(el.dataset.target, 10));
    });
  }
  setInterval(tick, 1000);

  // ---- the live queue: the panel is fetched again when it changes; offers, messages, overdue notify
  var panel = document.getElementById("panel");
  if (window.EventSource && (panel || document.getElementById("alert"))) {
    var known = null, offered = null, unread = null, overdue = null;
    var es = new EventSource("/staff/events");
    es.addEventListener("queue", function (e) {
      var data = JSON.parse(e.data);
      var ids = data.ids.join(",") + "|" + data.mine.join(",") + "|" + data.offered.join(",");
      if (known !== null && ids !== known && panel) {
        fetch("/staff/panel", { headers: { "Accept": "text/html" } })
          .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
          .then(function (html) {
            var box = document.createElement("div");
            box.innerHTML = html;
            var fresh = box.querySelector("#panel");
            if (fresh) {
              var current = panel.querySelector("li.current");
              panel.replaceWith(fresh);
              panel = fresh;
              if (current) {
                var same = panel.querySelector('li[data-conv="' + current.dataset.conv + '"]');
                if (same) { same.classList.add("current"); }
              }
              tick();
            }
          }).catch(function () { /* the next change tries again */ });
      }
      known = ids;
      if (offered !== null) {
        data.offered.forEach(function (id) {
          if (offered.indexOf(id) < 0) { notify("新的转人工", "有群众在排队，已派给您", "/staff/c/" + id); }
        });
      }
      if (unread !== null) {
        Object.keys(data.unread).forEach(function (id) {
          if (unread[id] !== undefined && data.unread[id] > unread[id]) {
            notify("群众发来新消息", "您正在服务的会话有新消息", "/staff/c/" + id);
          }
        });
      }
      if (overdue !== null && data.overdue > overdue) { notify("有事项超期", "超期的整改任务或工单：" + data.overdue + " 件", null); }
      offered = data.offered; unread = data.unread; overdue = data.overdue;
      document.body.dataset.live = "1"; // the live channel is up (the browser test waits for it)
      var count = document.getElementById("queue-count");
      if (count) { count.textContent = data.queue; }
    });
    // The session ended (logged out elsewhere, or idle): stop and go to the login page.
    es.addEventListener("logout", function () { es.close(); location.href = "/staff/login?next=/staff"; });
  }

  // ---- the open chat's transcript: a long poll the server holds until something changes
  var t = document.getElementById("transcript");
  if (!t) { return; }
  t.scrollTop = t.scrollHeight;
  var last = parseInt(t.dataset.last, 10) || 0;
  var names = { resident: "群众", bot: "机器人", staff: "工作人员", system: "系统", note: "内部备注" };
  var modes = { bot: "智能助手", waiting: "排队等人工", agent: "人工服务中", resolved: "已办结" };
  function poll() {
    var mode = document.getElementById("conv-mode");
    var modeLabel = document.getElementById("conv-mode-label");
    fetch("/staff/c/" + t.dataset.conv + "/messages?wait=25&after=" + last + (mode ? "&mode=" + mode.textContent : ""),
          { headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (j) {
        j.messages.forEach(function (m) {
          var div = document.createElement("div");
          div.className = "line role-" + m.role;
          var who = document.createElement("span"); who.className = "who"; who.textContent = names[m.role] || m.role;
          var pre = document.createElement("pre"); pre.textContent = m.text;
          div.appendChild(who); div.appendChild(pre);
          if (m.image) {
            var img = document.createElement("img");
            img.className = "photo"; img.alt = "居民发来的图片"; img.src = "/staff/uploads/" + encodeURIComponent(m.image);
            div.appendChild(img);
          }
          t.appendChild(div);
        });
        if (j.messages.length) { t.scrollTop = t.scrollHeight; }
        last = j.last_id;
        if (mode) { mode.textContent = j.mode; }
        if (modeLabel) { modeLabel.textContent = modes[j.mode] || j.mode; }
        poll();
      }).catch(function () { setTimeout(poll, 3000); });
  }
  poll();
})();
