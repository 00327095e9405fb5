// The digest composer offers only the updates for the topics ticked: the others are hidden and
// unticked; an update not yet sent to a topic is ticked when that topic is.
(function () {
  var choices = document.getElementById("update-choices");
  if (!choices) return;
  var form = choices.form || choices.closest("form");
  var topicBoxes = form.querySelectorAll('input[name="topics"]');
  var items = choices.querySelectorAll("li[data-topics]");
  var none = document.getElementById("no-updates");
  var before = chosen();

  function chosen() {
    var slugs = {};
    topicBoxes.forEach(function (box) { if (box.checked) slugs[box.value] = true; });
    return slugs;
  }

  function apply(first) {
    var now = chosen();
    var shown = 0;
    items.forEach(function (item) {
      var box = item.querySelector("input");
      var topics = item.dataset.topics.split(" ");
      var offered = topics.some(function (slug) { return now[slug]; });
      var newly = topics.some(function (slug) { return now[slug] && !before[slug]; });
      item.hidden = !offered;
      if (!offered) box.checked = false;
      else if (!first && newly && item.hasAttribute("data-unsent")) box.checked = true;
      if (offered) shown += 1;
    });
    none.hidden = shown > 0 || Object.keys(now).length === 0;
    before = now;
  }

  topicBoxes.forEach(function (box) {
    box.addEventListener("change", function () { apply(false); });
  });
  apply(true);

  // Enter in a field submits with the form's first button, which is "Find updates"; only in
  // the find box is that what is meant. Anywhere else, Enter saves the draft.
  var find = choices.querySelector('input[type="search"]');
  var save = form.querySelector('button[type="submit"]:not([value="find"])');
  form.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.key !== "Enter" || field === find || !save) return;
    if (!field.matches('input:not([type="checkbox"]):not([type="radio"])')) return;
    event.preventDefault();
    form.requestSubmit(save);
  });
})();
