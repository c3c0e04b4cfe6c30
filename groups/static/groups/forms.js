// Forms that fit the task. In a <form data-adaptive>, an element with data-show-when="NAME=V1 V2"
// shows only while the form's control NAME has one of those values (data-hide-when: the opposite),
// so a strategy shows only its own fields and hints. Without JavaScript every field shows and the
// server ignores what the chosen strategy does not use.
// A date-time picker (data-picker-for) writes the time picked into its typed ISO 8601 field, with
// the zone it was picked in: the browser's, or UTC for a user who reads times in UTC.
(function () {
  "use strict";

  function valueOf(form, name) {
    // A select's value, or the checked radio's through the RadioNodeList.
    var control = form.elements.namedItem(name);
    return control && typeof control.value === "string" ? control.value : "";
  }

  function holds(form, condition) {
    var split = condition.indexOf("=");
    var wanted = condition.slice(split + 1).trim().split(/\s+/);
    return wanted.indexOf(valueOf(form, condition.slice(0, split))) !== -1;
  }

  function adapt(form) {
    var shown = form.querySelectorAll("[data-show-when]");
    for (var i = 0; i < shown.length; i++) shown[i].hidden = !holds(form, shown[i].dataset.showWhen);
    var hidden = form.querySelectorAll("[data-hide-when]");
    for (var j = 0; j < hidden.length; j++) hidden[j].hidden = holds(form, hidden[j].dataset.hideWhen);
  }

  function pad(number) {
    return String(Math.floor(Math.abs(number))).padStart(2, "0");
  }

  // '+09:00': the browser's offset from UTC at that time (a wall-clock text is read in the browser's zone,
  // so the offset is the one of that date, summer time included).
  function browserZone(wallClock) {
    var minutes = -new Date(wallClock).getTimezoneOffset();
    return (minutes < 0 ? "-" : "+") + pad(minutes / 60) + ":" + pad(minutes % 60);
  }

  function pickedTime(picker, inUtc) {
    // Chromium leaves out ':00' seconds; the typed form needs them.
    var wallClock = picker.value.length === 16 ? picker.value + ":00" : picker.value;
    return wallClock + (inUtc ? "Z" : browserZone(wallClock));
  }

  function setUpPicker(picker) {
    var field = document.getElementById(picker.dataset.pickerFor);
    if (!field) return;
    var inUtc = document.documentElement.dataset.times === "utc";
    var zone = picker.parentNode.querySelector("[data-picker-zone]");
    if (zone) zone.textContent = inUtc ? "(UTC)" : "(your time zone, UTC" + browserZone(Date.now()) + ")";
    picker.addEventListener("change", function () {
      if (!picker.value) return;
      field.value = pickedTime(picker, inUtc);
      field.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }

  function setUp(root) {
    var forms = root.querySelectorAll ? root.querySelectorAll("form[data-adaptive]") : [];
    for (var i = 0; i < forms.length; i++) {
      var form = forms[i];
      if (form.dataset.adapting) continue;
      form.dataset.adapting = "1";
      form.addEventListener("change", adapt.bind(null, form));
      var pickers = form.querySelectorAll("input[data-picker-for]");
      for (var j = 0; j < pickers.length; j++) setUpPicker(pickers[j]);
      adapt(form);
    }
  }

  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  // A form htmx swaps in (sent back with its errors) adapts too.
  document.addEventListener("htmx:load", function (event) { setUp(event.target); });
})();
