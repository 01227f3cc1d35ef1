// The bell's unread count stays fresh: bell.js asks for the bell again (GET /notifications/bell, through htmx)
// every 30 s while the tab is visible, and at once when a tab hidden for longer is shown again. A hidden tab
// asks nothing. (htmx's own "every 30s" cannot pause, and its trigger filters need eval, which the CSP forbids.)
(function () {
  var PERIOD = 30000;
  var last = Date.now();
  var timer = null;
  function refresh() {
    var bell = document.getElementById('bell');
    if (!bell || !window.htmx) return;
    last = Date.now();
    window.htmx.trigger(bell, 'bell:refresh');
  }
  function schedule() {
    clearTimeout(timer);
    if (document.visibilityState !== 'visible') return;
    timer = setTimeout(function () {
      refresh();
      schedule();
    }, Math.max(0, PERIOD - (Date.now() - last)));
  }
  document.addEventListener('visibilitychange', schedule);
  schedule();
})();
