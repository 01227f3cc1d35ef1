// Loaded on every page (no inline script: the CSP forbids it).
(function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  // htmx requests carry the session's CSRF token as a header.
  document.body.addEventListener('htmx:configRequest', function (evt) {
    if (meta) evt.detail.headers['x-csrf-token'] = meta.getAttribute('content');
  });
  // The small-screen menu toggle.
  document.querySelectorAll('[data-toggle]').forEach(function (btn) {
    btn.addEventListener('click', function () {
      var target = document.getElementById(btn.getAttribute('data-toggle'));
      if (!target) return;
      var open = target.classList.toggle('hidden') === false;
      btn.setAttribute('aria-expanded', String(open));
    });
  });
  // Forms that ask before they act (delete, convert): data-confirm="question".
  document.addEventListener('submit', function (evt) {
    var q = evt.target.getAttribute && evt.target.getAttribute('data-confirm');
    if (q && !window.confirm(q)) evt.preventDefault();
  });
})();
