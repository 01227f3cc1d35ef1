// The owner filter when its people are too many for one select (src/modules/leads/leads.service.ts,
// OWNER_SELECT_MAX): typing in the box under it fills the select with the people found; picking one filters the
// list (the select's change, as always), Enter picks the first person found, and the down arrow moves to the
// select. Without JavaScript the box stays hidden. No inline script: the CSP forbids it.
(function () {
  var input = document.getElementById('f-owner-find');
  if (!input) return;
  var select = document.getElementById(input.getAttribute('aria-controls'));
  var status = document.getElementById('f-owner-find-status');
  var box = document.getElementById('f-owner-find-box');
  if (box) box.hidden = false;
  var timer = null;
  var pending = null;
  // Typing must not refilter the list (the filter form listens for change): only a person picked does.
  input.addEventListener('change', function (e) { e.stopPropagation(); });

  // Resolves to the first person found (an id), or null.
  function load() {
    if (pending) pending.abort();
    var controller = (pending = new AbortController());
    var url = input.getAttribute('data-url') + '?find=' + encodeURIComponent(input.value) + '&owner=' + encodeURIComponent(select.value);
    return fetch(url, { credentials: 'same-origin', signal: controller.signal, headers: { accept: 'application/json' } })
      .then(function (res) { if (!res.ok) throw new Error(res.status + ' ' + res.statusText); return res.json(); })
      .then(function (found) {
        // Chosen while this was on its way: keep it chosen if it is still offered.
        var chosen = select.value;
        select.innerHTML = found.html;
        for (var i = 0; i < select.options.length; i++) if (select.options[i].value === chosen) select.value = chosen;
        if (status) status.textContent = found.status;
        return found.first;
      })
      .catch(function (err) {
        if (err.name !== 'AbortError' && status) status.textContent = status.getAttribute('data-failed');
        return null;
      });
  }

  input.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(load, 250);
  });
  input.addEventListener('keydown', function (e) {
    if (e.key === 'ArrowDown') {
      e.preventDefault();
      select.focus();
      return;
    }
    if (e.key !== 'Enter') return;
    e.preventDefault();
    clearTimeout(timer);
    if (!input.value.trim()) return;
    var before = select.value;
    load().then(function (first) {
      // Nobody found, or the select was used meanwhile: nothing to pick.
      if (first == null || select.value !== before) return;
      select.value = String(first);
      select.dispatchEvent(new Event('change', { bubbles: true }));
    });
  });
})();
