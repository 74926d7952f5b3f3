"""An example shop that takes AlipayHK and Alipay through satang, the way an Omise merchant does.

* The cart page creates the source in the payer's browser with Omise.js and the *public* key: either
  satang's drop-in (`<script src="<satang>/omise.js">`) or the stock script pointed at satang with
  `Omise.config.interfaceUrl` (`?script=stock`).
* The server creates the charge with the official omise-python client and the *secret* key, and sends the
  payer to the charge's `authorize_uri`.
* The return page never trusts the redirect: it reads the charge again from satang.
* Webhooks are accepted only with a valid `Omise-Signature`.

Standard library plus omise-python only. Configuration comes from the environment (see README.md):
SATANG_URL, SATANG_PUBLIC_URL, OMISE_PUBLIC_KEY, OMISE_SECRET_KEY, WEBHOOK_SECRET, SHOP_LISTEN, SHOP_URL,
STOCK_OMISE_JS (where the stock Omise.js is loaded from; https://cdn.omise.co/omise.js by default).
"""

import base64
import hashlib
import hmac
import html
import json
import os
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import omise

SATANG_URL = os.environ.get("SATANG_URL", "http://127.0.0.1:8080").rstrip("/")
SATANG_PUBLIC_URL = os.environ.get("SATANG_PUBLIC_URL", SATANG_URL).rstrip("/")
PUBLIC_KEY = os.environ["OMISE_PUBLIC_KEY"]
WEBHOOK_SECRET = os.environ.get("WEBHOOK_SECRET", "")
HOST, _, PORT = os.environ.get("SHOP_LISTEN", "127.0.0.1:8000").rpartition(":")
SHOP_URL = os.environ.get("SHOP_URL", f"http://{HOST}:{PORT}").rstrip("/")
STOCK_OMISE_JS = os.environ.get("STOCK_OMISE_JS", "https://cdn.omise.co/omise.js")

# The official client, pointed at satang (omise-wire.md §1.2).
omise.api_main = SATANG_URL
omise.api_secret = os.environ["OMISE_SECRET_KEY"]
omise.api_public = PUBLIC_KEY

# What a real shop keeps in its database.
ORDERS = {}  # order id -> {"charge": chrg_…, "amount": …, "currency": …}
EVENTS = []  # verified webhook events: {"id", "key", "charge", "status"}
LOCK = threading.Lock()

CART = [("Thai silk scarf", 89000), ("Jasmine tea, 100 g", 26000)]  # THB subunits

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Example Shop</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem; color: #1d2330; }}
button {{ font: inherit; padding: .6rem 1rem; border-radius: 8px; border: 0; background: #1261d6; color: #fff; }}
.error {{ color: #b42318; }} td {{ padding: .2rem .5rem; }} label {{ display: block; margin: .3rem 0; }}
</style></head><body><h1>{title}</h1>{body}</body></html>"""


def cart_page(query):
    stock = query.get("script") == "stock"
    # A test knob for the error path: another amount or key than the cart's.
    amount = int(query.get("amount", sum(p for _, p in CART)))
    pkey = query.get("pkey", PUBLIC_KEY)
    rows = "".join(f"<tr><td>{html.escape(n)}</td><td>THB {p / 100:,.2f}</td></tr>" for n, p in CART)
    if stock:
        script = (f'<script src="{html.escape(STOCK_OMISE_JS)}"></script>\n'
                  f"<script>Omise.config.interfaceUrl = {json.dumps(SATANG_PUBLIC_URL)};</script>")
    else:
        script = f'<script src="{html.escape(SATANG_PUBLIC_URL)}/omise.js"></script>'
    body = f"""
<table>{rows}<tr><th>Total</th><th id="total">THB {amount / 100:,.2f}</th></tr></table>
<form id="pay-form" method="post" action="/checkout">
  <fieldset><legend>Pay with</legend>
    <label><input type="radio" name="method" value="alipay_hk" checked> AlipayHK</label>
    <label><input type="radio" name="method" value="alipay"> Alipay</label>
  </fieldset>
  <input type="hidden" name="source" id="source">
  <input type="hidden" name="amount" value="{amount}">
  <p><button type="submit" id="pay">Pay THB {amount / 100:,.2f}</button></p>
  <p class="error" id="error" role="alert"></p>
</form>
{script}
<script>
Omise.setPublicKey({json.dumps(pkey)});
var form = document.getElementById('pay-form');
// A phone's browser asks for the app; a computer's for the QR code.
var platform = /iPhone|iPad|iPod/.test(navigator.userAgent) ? 'IOS'
  : /Android/.test(navigator.userAgent) ? 'ANDROID' : 'WEB';
form.addEventListener('submit', function (e) {{
  if (document.getElementById('source').value) return;
  e.preventDefault();
  var type = form.querySelector('input[name=method]:checked').value;
  var options = {{ amount: {amount}, currency: 'THB' }};
  if (type === 'alipay_hk') options.platform_type = platform;
  Omise.createSource(type, options, function (status, json) {{
    if (status === 200) {{
      document.getElementById('source').value = json.id;
      form.submit();
    }} else {{
      document.getElementById('error').textContent =
        'Payment could not start (' + status + '): ' + (json.message || json.error || json.code);
    }}
  }});
}});
</script>"""
    return PAGE.format(title="Your cart", body=body)


def verify_signature(timestamp, header, body):
    if not WEBHOOK_SECRET or not timestamp or not header:
        return False
    try:
        if abs(time.time() - int(timestamp)) > 300:
            return False  # a replay
    except ValueError:
        return False
    expected = hmac.new(base64.b64decode(WEBHOOK_SECRET), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, s.strip()) for s in header.split(","))


class Shop(BaseHTTPRequestHandler):
    def send(self, status, body, content_type="text/html; charset=utf-8", headers=()):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        parts = url.path.strip("/").split("/")
        if url.path == "/":
            return self.send(200, cart_page(query))
        if len(parts) == 3 and parts[0] == "orders" and parts[2] == "complete":
            return self.order_page(parts[1])
        if url.path == "/webhooks/seen":
            with LOCK:
                return self.send(200, json.dumps(EVENTS), "application/json")
        return self.send(404, PAGE.format(title="Not found", body=""))

    def order_page(self, order_id):
        with LOCK:
            order = ORDERS.get(order_id)
        if order is None:
            return self.send(404, PAGE.format(title="Unknown order", body=""))
        # Never trust the redirect: ask satang what happened.
        charge = omise.Charge.retrieve(order["charge"])
        words = {
            "successful": "Thank you! Your payment was received.",
            "failed": "The payment failed and you were not charged.",
            "expired": "The payment expired and you were not charged.",
            "pending": "We are waiting for your payment.",
        }
        body = (f'<p id="order-status" data-status="{html.escape(charge.status)}">'
                f'{html.escape(words.get(charge.status, charge.status))}</p>'
                f'<p>Order {html.escape(order_id)}, charge <code id="charge-id">{html.escape(charge.id)}</code></p>'
                f'<p><a href="/">Back to the cart</a></p>')
        return self.send(200, PAGE.format(title="Your order", body=body))

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path == "/checkout":
            form = dict(urllib.parse.parse_qsl(raw.decode()))
            order_id = base64.b32encode(os.urandom(5)).decode().lower()
            try:
                charge = omise.Charge.create(
                    amount=int(form["amount"]),
                    currency="THB",
                    source=form["source"],
                    return_uri=f"{SHOP_URL}/orders/{order_id}/complete",
                    description=f"Example Shop order {order_id}",
                    metadata={"order_id": order_id},
                )
            except omise.errors.BaseError as e:
                return self.send(400, PAGE.format(title="Payment could not start", body=f'<p class="error">{html.escape(str(e))}</p>'))
            with LOCK:
                ORDERS[order_id] = {"charge": charge.id}
            return self.send(303, "", headers=[("Location", charge.authorize_uri)])
        if self.path == "/webhooks":
            ok = verify_signature(self.headers.get("Omise-Signature-Timestamp"), self.headers.get("Omise-Signature"), raw)
            if not ok:
                return self.send(400, "bad signature", "text/plain")
            event = json.loads(raw)
            data = event.get("data") or {}
            with LOCK:
                EVENTS.append({"id": event.get("id"), "key": event.get("key"), "charge": data.get("id"), "status": data.get("status")})
            return self.send(200, "ok", "text/plain")
        return self.send(404, "", "text/plain")

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer((HOST, int(PORT)), Shop)
    print(f"Example Shop on {SHOP_URL} (satang at {SATANG_PUBLIC_URL})", flush=True)
    server.serve_forever()
