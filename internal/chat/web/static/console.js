// Live updates: the server says which room changed; a page showing it
// reloads. A page is also told when its person is paged.
(function () {
  var es = new EventSource("/events");
  es.onmessage = function (m) {
    var e = JSON.parse(m.data);
    if (e.kind === "page") {
      var box = document.getElementById("paged");
      box.className = "page";
      box.setAttribute("role", "alert");
      box.innerHTML = "";
      var a = document.createElement("a");
      // A digest of several incidents has no room: the list shows them.
      a.href = e.room ? "/incidents/" + e.room.replace("incident-", "") : "/";
      a.textContent = e.text;
      box.appendChild(a);
      return;
    }
    var shown = document.querySelector("[data-room]");
    if (!shown) return;
    var room = shown.getAttribute("data-room");
    // A resync says this page missed events (the server was ahead of it).
    if (e.kind === "resync" || room === "*" || room === e.room) location.reload();
  };
  // A refused stream (429: too many tabs open; 401: signed out) is not
  // retried by the browser: say so, rather than leave a page that looks
  // live and is not. A stream that only dropped is retried by itself.
  es.onerror = function () {
    if (es.readyState !== EventSource.CLOSED || document.getElementById("live-off")) return;
    var p = document.createElement("p");
    p.id = "live-off";
    p.className = "notice";
    p.setAttribute("role", "status");
    p.textContent = "Live updates are off for this page (too many console tabs open, or signed out). Close a tab and reload.";
    var main = document.querySelector("main") || document.body;
    main.insertBefore(p, main.firstChild);
  };
})();
