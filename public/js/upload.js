// File uploads on record pages (views/records/_files.njk): a progress bar for htmx uploads, and refusals
// (409/413/422) swapped into the files section like a success, so the message shows next to the form.
// No inline script: the CSP forbids it; this file is included with <script src defer>.
(function () {
  function progressOf(el) {
    var form = el && el.closest ? el.closest('[data-upload-form]') : null;
    return form ? form.querySelector('[data-upload-progress]') : null;
  }

  document.body.addEventListener('htmx:beforeRequest', function (evt) {
    var bar = progressOf(evt.target);
    if (!bar) return;
    bar.value = 0;
    bar.hidden = false;
    var btn = evt.target.closest('[data-upload-form]').querySelector('[data-upload-submit]');
    if (btn) btn.disabled = true;
  });

  document.body.addEventListener('htmx:xhr:progress', function (evt) {
    var bar = progressOf(evt.target);
    if (!bar || !evt.detail || !evt.detail.lengthComputable || !evt.detail.total) return;
    bar.value = Math.round((evt.detail.loaded / evt.detail.total) * 100);
  });

  document.body.addEventListener('htmx:afterRequest', function (evt) {
    // On success or a shown refusal the section is replaced; this matters when nothing was swapped (network error).
    var bar = progressOf(evt.target);
    if (!bar) return;
    bar.hidden = true;
    var btn = evt.target.closest('[data-upload-form]').querySelector('[data-upload-submit]');
    if (btn) btn.disabled = false;
  });

  document.body.addEventListener('htmx:beforeSwap', function (evt) {
    var status = evt.detail.xhr && evt.detail.xhr.status;
    var target = evt.detail.target;
    if (target && target.hasAttribute && target.hasAttribute('data-files-section') && (status === 409 || status === 413 || status === 422)) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  });
})();
