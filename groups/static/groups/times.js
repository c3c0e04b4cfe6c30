// Times in the reader's time zone: each <time data-when> the server wrote in UTC (see
// groups/templatetags/times.py) is rewritten in the browser's zone, or kept in UTC when the user
// prefers it (<html data-times="utc">). data-when="ago" says how long ago instead, kept current;
// data-when="ms" keeps the milliseconds (record timestamps).
// The title always keeps the UTC value, so hovering shows what the logs and the API say.
(function () {
  "use strict";

  var REFRESH_MS = 15000;

  function pad(number) {
    return String(number).padStart(2, "0");
  }

  function millis(milliseconds, wanted) {
    return wanted ? "." + String(milliseconds).padStart(3, "0") : "";
  }

  function inUtc(date, withMillis) {
    return date.getUTCFullYear() + "-" + pad(date.getUTCMonth() + 1) + "-" + pad(date.getUTCDate()) + " " +
      pad(date.getUTCHours()) + ":" + pad(date.getUTCMinutes()) + ":" + pad(date.getUTCSeconds()) +
      millis(date.getUTCMilliseconds(), withMillis) + " UTC";
  }

  // The same shape as the UTC text, so columns of times still line up: '2026-12-01 20:00:00 GMT+9'.
  function inLocalZone(date, withMillis) {
    var zone = "";
    var parts = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" }).formatToParts(date);
    for (var i = 0; i < parts.length; i++) {
      if (parts[i].type === "timeZoneName") zone = parts[i].value;
    }
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + " " +
      pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds()) +
      millis(date.getMilliseconds(), withMillis) + (zone ? " " + zone : "");
  }

  function ago(date, now) {
    var seconds = Math.round((now - date) / 1000);
    var future = seconds < 0;
    seconds = Math.abs(seconds);
    var text;
    if (seconds < 10) return "just now";
    if (seconds < 60) text = seconds + " s";
    else if (seconds < 3600) text = Math.floor(seconds / 60) + " min";
    else if (seconds < 86400) text = Math.floor(seconds / 3600) + " h";
    else text = Math.floor(seconds / 86400) + " d";
    return future ? "in " + text : text + " ago";
  }

  function show(element, utcPreferred, now) {
    var date = new Date(element.getAttribute("datetime"));
    if (isNaN(date.getTime())) return;
    var withMillis = element.dataset.when === "ms";
    var absolute = utcPreferred ? inUtc(date, withMillis) : inLocalZone(date, withMillis);
    if (element.dataset.when === "ago") {
      element.textContent = ago(date, now);
      element.title = utcPreferred ? inUtc(date) : absolute + " (" + inUtc(date) + ")";
    } else {
      element.textContent = absolute;
      element.title = inUtc(date, withMillis);
    }
    element.dataset.shown = "1";
  }

  function showAll(root) {
    var utcPreferred = document.documentElement.dataset.times === "utc";
    var now = Date.now();
    var scope = root && root.querySelectorAll ? root : document;
    var times = scope.querySelectorAll("time[data-when]");
    for (var i = 0; i < times.length; i++) show(times[i], utcPreferred, now);
    if (scope.matches && scope.matches("time[data-when]")) show(scope, utcPreferred, now);
  }

  if (window.htmx) {
    // Called for the page once htmx starts, and for every fragment it swaps in (polled tables).
    window.htmx.onLoad(showAll);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { showAll(document); });
  } else {
    showAll(document);
  }
  window.setInterval(function () {
    if (document.visibilityState === "visible") showAll(document);
  }, REFRESH_MS);
})();
