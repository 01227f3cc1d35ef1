// The owner filter when its people are too many for one select (src/modules/leads/leads.service.ts,
// OWNER_SELECT_MAX): typing in the box beside it fills the select with the people found; picking one filters the
// list (the select's change, as always), and Enter picks the first person found. No inline script: the CSP forbids it.
(function () {
  var input = document.getElementById('f-owner-find');
  if (!input) return;
  var select = document.getElementById(input.getAttribute('aria-controls'));
  var status = document.getElementById('f-owner-find-status');
  var timer = null;
  var pending = null;
  // Typing must not refilter the list (the filter form listens for change): only a person picked does.
  input.addEventListener('change', function (e) { e.stopPropagation(); });

  function load() {
    if (pending) pending.abort();
    var controller = (pending = new AbortController());
    var url = input.getAttribute('data-url') + '?find=' + encodeURIComponent(input.value) + '&owner=' + encodeURIComponent(select.value);
    return fetch(url, { credentials: 'same-origin', signal: controller.signal, headers: { accept: 'application/json' } })
      .then(function (res) { if (!res.ok) throw new Error(res.status + ' ' + res.statusText); return res.json(); })
      .then(function (found) {
        select.innerHTML = found.html;
        if (status) status.textContent = found.status;
        return true;
      })
      .catch(function (err) {
        if (err.name !== 'AbortError' && status) status.textContent = status.getAttribute('data-failed');
        return false;
      });
  }

  input.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(load, 250);
  });
  input.addEventListener('keydown', function (e) {
    if (e.key !== 'Enter') return;
    e.preventDefault();
    clearTimeout(timer);
    load().then(function (ok) {
      var first = ok && select.querySelector('option[value]:not([value=""]):not([value="me"]):not([value="none"])');
      if (!first) return;
      select.value = first.value;
      select.dispatchEvent(new Event('change', { bubbles: true }));
    });
  });
})();
