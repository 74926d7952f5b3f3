// Progressive enhancement for the payer pages; every page also works without it.
(function () {
  'use strict';
  // Desktop QR page: notice completion by itself and move on to the shop.
  var qr = document.getElementById('qr-page');
  if (qr) {
    var statusUrl = qr.getAttribute('data-status-url');
    var returnUri = qr.getAttribute('data-return-uri');
    var poll = function () {
      fetch(statusUrl, { cache: 'no-store', credentials: 'same-origin' })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          if (s.status && s.status !== 'pending') {
            window.location.assign(returnUri || window.location.href);
          } else {
            setTimeout(poll, 1000);
          }
        })
        .catch(function () { setTimeout(poll, 3000); });
    };
    setTimeout(poll, 1000);
  }
  // Mobile hand-off: open the wallet app; the page stays as the fallback.
  var handoff = document.getElementById('handoff');
  if (handoff) {
    setTimeout(function () { window.location.assign(handoff.getAttribute('data-app-url')); }, 800);
  }
  // The time left to pay, counting down.
  var countdown = document.getElementById('countdown');
  if (countdown) {
    var deadline = Date.parse(countdown.getAttribute('data-expires'));
    var template = countdown.getAttribute('data-template') || '{}';
    var two = function (n) { return (n < 10 ? '0' : '') + n; };
    var tick = function () {
      var left = Math.max(0, Math.floor((deadline - Date.now()) / 1000));
      var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600);
      var m = Math.floor(left % 3600 / 60), s = left % 60;
      var text = (d > 0 ? d + 'd ' : '') + (d > 0 || h > 0 ? h + ':' : '') + two(m) + ':' + two(s);
      countdown.textContent = template.replace('{}', text);
      if (left > 0) { setTimeout(tick, 1000); }
    };
    if (!isNaN(deadline)) { tick(); }
  }
  // One submission per form: a second click does nothing.
  var forms = document.querySelectorAll('form.outcomes');
  Array.prototype.forEach.call(forms, function (form) {
    form.addEventListener('submit', function (e) {
      if (form.getAttribute('data-sent')) { e.preventDefault(); return; }
      form.setAttribute('data-sent', '1');
      // Keep the clicked button's value: disable the buttons only after the browser has read it.
      setTimeout(function () {
        Array.prototype.forEach.call(form.querySelectorAll('button'), function (b) { b.disabled = true; });
      }, 0);
    });
  });
})();
