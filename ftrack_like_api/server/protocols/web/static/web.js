// ftrack-like's web page, progressively enhanced: changes in place (fetch) and live updates (EventSource).
// Every page works without this file; it never builds markup from event data (textContent only).
"use strict";
(function () {
  var body = document.body;
  var root = body.getAttribute("data-root") || "";
  var csrf = body.getAttribute("data-csrf") || "";
  var state = document.querySelector(".live-state");

  function say(text) {
    if (!state) { return; }
    state.textContent = text;
    state.hidden = !text;
  }

  // --- changes in place -------------------------------------------------------------------------
  function send(form) {
    var data = new FormData(form);
    form.classList.add("saving");
    return fetch(form.action, {
      method: "POST", body: new URLSearchParams(data), credentials: "same-origin",
      headers: {"Accept": "application/json", "X-CSRF-Token": csrf}
    }).then(function (response) {
      return response.json().catch(function () { return {ok: false, message: "The server answered " + response.status}; });
    }).then(function (answer) {
      form.classList.remove("saving");
      if (answer.ok) {
        form.classList.add("saved");
        setTimeout(function () { form.classList.remove("saved"); }, 1200);
        say("");
      } else {
        say(answer.message || "The change was refused");
      }
      return answer;
    }, function () {
      form.classList.remove("saving");
      say("The server could not be reached: nothing was changed");
    });
  }

  function enhance(scope) {
    scope.querySelectorAll("form[data-change]").forEach(function (form) {
      if (form.getAttribute("data-enhanced")) { return; }
      form.setAttribute("data-enhanced", "1");
      var select = form.querySelector("select");
      if (select) {
        var save = form.querySelector(".save");
        if (save) { save.hidden = true; }
        select.addEventListener("change", function () { send(form); });
      }
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        send(form);
      });
    });
  }

  // --- live updates -----------------------------------------------------------------------------
  function fetchHtml(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "text/html"}}).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.text();
    });
  }

  function refreshRow(id) {
    var row = document.querySelector('tr[data-id="' + CSS.escape(id) + '"]');
    if (!row || row.contains(document.activeElement) && document.activeElement.tagName === "SELECT" &&
        row.querySelector("form.saving")) { return; }
    fetchHtml(root + "/web/rows/" + encodeURIComponent(id)).then(function (html) {
      var holder = document.createElement("tbody");
      holder.innerHTML = html;  // this server's own rendering, escaped there
      var fresh = holder.querySelector("tr");
      if (fresh && row.parentNode) {
        if (document.body.getAttribute("data-live") === "rows" && row.children.length !== fresh.children.length) {
          // My tasks has its own columns: only the status cell is swapped.
          var cell = row.querySelector("td.status"), freshCell = fresh.querySelector("td.status");
          if (cell && freshCell) { cell.replaceWith(freshCell); row.className = fresh.className; }
        } else {
          row.replaceWith(fresh);
        }
        enhance(document);
      }
    }, function () {});
  }

  function refreshSections(ids) {
    fetchHtml(location.href).then(function (html) {
      var page = new DOMParser().parseFromString(html, "text/html");
      ids.forEach(function (selector) {
        var mine = document.querySelector(selector), fresh = page.querySelector(selector);
        if (mine && fresh && !mine.contains(document.activeElement)) { mine.replaceWith(document.importNode(fresh, true)); }
      });
      enhance(document);
    }, function () {});
  }

  function activityItem(update) {
    var item = document.createElement("li");
    item.setAttribute("data-seq", String(update.seq));
    var at = document.createElement("span");
    at.className = "muted";
    at.textContent = update.at + " ";
    var who = document.createElement("strong");
    who.textContent = update.user;
    item.appendChild(at);
    item.appendChild(who);
    item.appendChild(document.createTextNode(" " + update.topic + " "));
    (update.entities || []).forEach(function (entity) {
      var part = document.createElement("span");
      part.className = "entity";
      var changes = Object.keys(entity.changes || {}).map(function (key) { return " " + key + "=" + entity.changes[key]; });
      part.textContent = entity.action + " " + entity.type + changes.join("");
      item.appendChild(part);
    });
    return item;
  }

  function listen(mode) {
    var url = root + "/web/live";
    var after = body.getAttribute("data-after");
    var query = [];
    if (after) { query.push("after=" + encodeURIComponent(after)); }
    if (mode === "activity") { query.push("subscription=" + encodeURIComponent(body.getAttribute("data-subscription") || "")); }
    if (query.length) { url += "?" + query.join("&"); }
    var source = new EventSource(url);
    source.addEventListener("open", function () { body.setAttribute("data-listening", "1"); });
    source.addEventListener("update", function (message) {
      var update = JSON.parse(message.data);
      if (mode === "activity") {
        var list = document.querySelector("ol.activity");
        if (list) { list.insertBefore(activityItem(update), list.firstChild); }
        return;
      }
      var entity = body.getAttribute("data-entity");
      (update.entities || []).forEach(function (changed) {
        if (mode === "rows") {
          refreshRow(changed.id);
        } else if (changed.id === entity) {
          refreshSections(["#changes", "#attributes"]);
        } else if (changed.parent === entity) {  // a note on it, an assignment to it, a child
          refreshSections(["#changes", "#thread"]);
        }
      });
    });
  }

  enhance(document);
  var mode = body.getAttribute("data-live");
  if (mode && window.EventSource) { listen(mode); }
})();
