// The lead board: drag a card to another column to change its status (the same POST as the card's
// "move to" form, which stays for keyboards and for browsers without JavaScript).
(function () {
  var board = document.querySelector('[data-board]');
  if (!board || !window.Sortable) return;
  var token = document.querySelector('meta[name="csrf-token"]').getAttribute('content');
  function bump(column, by) {
    var el = column.querySelector('[data-count]');
    // "10,000+" stays as it is (the count stops there); an exact count moves by one.
    if (!el.hasAttribute('data-capped')) {
      el.setAttribute('data-count', String(Number(el.getAttribute('data-count')) + by));
      el.textContent = Number(el.getAttribute('data-count')).toLocaleString(document.documentElement.lang || undefined);
    }
    // The column's "load more" asks for the cards after those shown: one more or one less now.
    var more = column.querySelector('[hx-get*="offset="]');
    if (more) {
      more.setAttribute('hx-get', more.getAttribute('hx-get').replace(/offset=(\d+)/, function (_m, n) {
        return 'offset=' + Math.max(0, Number(n) + by);
      }));
      // htmx reads hx-get when it processes an element: process it again with the new value.
      if (window.htmx) window.htmx.process(more);
    }
  }
  board.querySelectorAll('[data-cards]').forEach(function (list) {
    window.Sortable.create(list, {
      group: 'board',
      animation: 150,
      // Mouse and touch events rather than native drag and drop: steadier across browsers and in tests.
      forceFallback: true,
      filter: 'select, button, a, input',
      preventOnFilter: false,
      onAdd: function (evt) {
        var card = evt.item;
        var from = evt.from.closest('[data-column]');
        var to = evt.to.closest('[data-column]');
        var status = to.getAttribute('data-status');
        fetch('/leads/' + card.getAttribute('data-id') + '/status', {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-csrf-token': token, 'HX-Request': 'true' },
          body: new URLSearchParams({ status: status }),
        }).then(function (res) {
          if (!res.ok) throw new Error(String(res.status));
          bump(from, -1);
          bump(to, 1);
          var select = card.querySelector('select[name="status"]');
          if (select) select.value = status;
        }).catch(function () {
          // Put the card back where it was and say why nothing changed.
          evt.from.insertBefore(card, evt.from.children[evt.oldIndex] || null);
          window.alert(board.getAttribute('data-error'));
        });
      },
    });
  });
})();
