// Staff console live updates: SSE for the queue, a long poll for the open chat's transcript.
(function () {
  "use strict";
  var count = document.getElementById("queue-count");
  if (count && window.EventSource) {
    var known = null;
    var es = new EventSource("/staff/events");
    es.addEventListener("queue", function (e) {
      var data = JSON.parse(e.data);
      var ids = data.ids.join(",");
      if (known !== null && ids !== known) { location.reload(); }
      known = ids;
      count.textContent = data.queue;
    });
    // The session ended (logged out elsewhere, or idle): stop and go to the login page.
    es.addEventListener("logout", function () { es.close(); location.href = "/staff/login?next=/staff"; });
  }
  var t = document.getElementById("transcript");
  if (!t) { return; }
  var last = parseInt(t.dataset.last, 10) || 0;
  var names = { resident: "群众", bot: "机器人", staff: "工作人员", system: "系统", note: "内部备注" };
  // The open chat's transcript: a long poll the server holds until something changes.
  function poll() {
    var mode = document.getElementById("conv-mode");
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
        last = j.last_id;
        if (mode) { mode.textContent = j.mode; }
        poll();
      }).catch(function () { setTimeout(poll, 3000); });
  }
  poll();
})();
