// Loaded on every page (no inline script: the CSP forbids it).
(function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  // htmx requests carry the session's CSRF token as a header.
  document.body.addEventListener('htmx:configRequest', function (evt) {
    if (meta) evt.detail.headers['x-csrf-token'] = meta.getAttribute('content');
  });
  // htmx swaps nothing when a request fails: without this, a filter that answered 400 or a session that
  // expired (403) would leave the page as it was, silently. The server answers htmx with a short fragment
  // (views/errors/_htmx.njk, marked X-Error-Fragment), escaped like every page; a failure to reach it gets the
  // layout's own text.
  var errorBox = document.getElementById('htmx-error');
  // The element whose request failed: its next success clears the message (the bell's polling does not).
  var failedFrom = null;
  function showError(elt, html, text) {
    if (!errorBox) return;
    failedFrom = elt;
    if (html) errorBox.innerHTML = html;
    else errorBox.textContent = text;
    errorBox.classList.remove('hidden');
  }
  document.body.addEventListener('htmx:afterRequest', function (evt) {
    if (errorBox && evt.detail.successful && evt.detail.elt === failedFrom) errorBox.classList.add('hidden');
  });
  document.body.addEventListener('htmx:responseError', function (evt) {
    var xhr = evt.detail.xhr;
    // Only this app's own error fragment is put in as markup; anything else (a proxy's 502 page) as its status.
    var fragment = xhr.getResponseHeader('X-Error-Fragment') === '1' && /^text\/html/.test(xhr.getResponseHeader('content-type') || '');
    showError(evt.detail.elt, fragment ? xhr.responseText : '', xhr.status + ' ' + xhr.statusText);
  });
  document.body.addEventListener('htmx:sendError', function (evt) {
    showError(evt.detail.elt, '', errorBox ? errorBox.getAttribute('data-offline') : '');
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
