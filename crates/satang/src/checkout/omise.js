/* Omise.js for satang: a drop-in for the parts of https://cdn.omise.co/omise.js a wallet checkout uses.
 * Load it from your satang (<script src="https://pay.example/omise.js">) and keep your page's code:
 *   Omise.setPublicKey('pkey_test_…');
 *   Omise.createSource('alipay_hk', {amount: 100000, currency: 'HKD', platform_type: 'WEB'},
 *     function (status, json) { status === 200 ? send json.id to your server : show json.message });
 * Like the real one it POSTs `${Omise.config.interfaceUrl}/sources/` with the public key and calls back
 * (HTTP status, JSON), or (0, {code: 'create_source_error', error}) when the request could not be made.
 * It is already pointed at the satang that served it. Cards are not supported: createToken says so. */
(function (window) {
  'use strict';
  var script = window.document && window.document.currentScript;
  var servedFrom = script && script.src ? script.src.replace(/\/omise\.js(?:[?#].*)?$/, '') : SATANG_PUBLIC_URL;
  var publicKey = null;

  function later(callback, status, json) {
    window.setTimeout(function () { callback(status, json); }, 0);
  }

  function base() {
    return String(Omise.config.interfaceUrl).replace(/\/+$/, '');
  }

  function request(method, path, body, errorCode, callback) {
    if (typeof callback !== 'function') {
      throw new TypeError('Omise: a callback function (status, response) is required');
    }
    if (!publicKey) {
      return later(callback, 0, {
        object: 'error', code: errorCode, error: 'no public key',
        message: 'call Omise.setPublicKey("pkey_…") first'
      });
    }
    var init = {
      method: method,
      mode: 'cors',
      credentials: 'omit',
      headers: { 'Authorization': 'Basic ' + window.btoa(publicKey), 'Accept': 'application/json' }
    };
    if (body !== null) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    window.fetch(base() + path, init)
      .then(function (res) {
        return res.text().then(function (text) {
          var json;
          try { json = JSON.parse(text); } catch (e) {
            json = { object: 'error', code: errorCode, error: 'not JSON', message: text.slice(0, 300) };
          }
          callback(res.status, json);
        });
      })
      .catch(function (err) {
        callback(0, { code: errorCode, error: err && err.message ? err.message : String(err) });
      });
  }

  var Omise = {
    config: { interfaceUrl: servedFrom, vaultUrl: servedFrom },
    setPublicKey: function (key) {
      publicKey = key ? String(key) : null;
      return publicKey;
    },
    createSource: function (type, options, callback) {
      var body = {};
      var k;
      for (k in options || {}) {
        if (Object.prototype.hasOwnProperty.call(options, k)) { body[k] = options[k]; }
      }
      body.type = type;
      request('POST', '/sources/', body, 'create_source_error', callback);
    },
    retrieveSource: function (id, callback) {
      request('GET', '/sources/' + encodeURIComponent(id), null, 'retrieve_source_error', callback);
    },
    createToken: function (type, data, callback) {
      if (typeof callback !== 'function') {
        throw new TypeError('Omise: a callback function (status, response) is required');
      }
      later(callback, 400, {
        object: 'error', location: 'https://www.omise.co/api-errors#not-supported', code: 'not_supported',
        message: 'satang takes wallet payments (Alipay, AlipayHK) only: cards and tokens are not supported; ' +
          'use Omise.createSource'
      });
    }
  };

  window.Omise = Omise;
})(window);
