//! `GET /openapi.json`: an OpenAPI 3.1 document of every route the HTTP service has (the Omise API, satang's
//! own additions, the health checks, the payer pages), built from [`OPERATIONS`], one row per method and
//! path. It cannot drift from the code unseen: a test scans every `.route(…)` in the crate's source and
//! fails naming each route the table lacks (or lists without a route), and another sends each documented
//! operation to the real router and fails if it is not routed. `scripts/schemathesis` fuzzes the served
//! document. `/metrics` is not here: it is served on its own port (`--metrics-listen`).
//!
//! Response schemas are deliberately open (`object` is checked, other fields are described in the Omise
//! documentation and satang's README): the document is for tools and fuzzers, not a second wire spec.

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Which key an operation takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// A secret key (`skey_…`).
    Secret,
    /// A public or a secret key.
    Any,
    /// None (health checks, payer pages, this document).
    None,
}

/// What a successful response is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// JSON whose `object` is this.
    Object(&'static str),
    /// `{"object":"list","data":[…]}` of this object.
    List(&'static str),
    /// Server-sent events.
    Events,
    Html,
    Css,
    Js,
    /// An image (SVG or icon).
    Image,
    /// The acquirer's own JSON (Antom's acknowledgement `{"result":{…}}`), not an Omise object.
    Acquirer,
    /// This document.
    OpenApi,
}

/// One method on one path.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub method: &'static str,
    /// As the router has it (`/charges/{id}`).
    pub path: &'static str,
    pub auth: Auth,
    pub summary: &'static str,
    /// Body (POST, PATCH) or query (GET) parameters: `name:type`, type one of [`schema_of`]'s, with a `!`
    /// when required.
    pub params: &'static [&'static str],
    pub body: Body,
}

const LIST: &[&str] = &["from:datetime", "to:datetime", "offset:integer", "limit:integer", "order:string"];

const fn op(
    method: &'static str,
    path: &'static str,
    auth: Auth,
    summary: &'static str,
    params: &'static [&'static str],
    body: Body,
) -> Operation {
    Operation { method, path, auth, summary, params, body }
}

use Auth::{Any, None as Open, Secret};
use Body::{Acquirer, Css, Events, Html, Image, Js, List, Object, OpenApi};

/// Every route of the HTTP service. Adding a route to the code without a row here fails
/// `every_route_in_the_code_is_documented`, which prints the row to add.
pub const OPERATIONS: &[Operation] = &[
    op(
        "post",
        "/sources",
        Any,
        "Create a source",
        &[
            "type:string",
            "amount:integer",
            "currency:string",
            "platform_type:string",
            "name:string",
            "email:string",
            "phone_number:string",
            "mobile_number:string",
            "ip:string",
            "promotion_code:string",
        ],
        Object("source"),
    ),
    op("get", "/sources/{id}", Any, "Retrieve a source", &[], Object("source")),
    op(
        "post",
        "/charges",
        Secret,
        "Create a charge",
        &[
            "amount:integer",
            "currency:string",
            "source:string",
            "return_uri:string",
            "description:string",
            "metadata:object",
            "expires_at:datetime",
            "webhook_endpoints:array",
            "ip:string",
        ],
        Object("charge"),
    ),
    op("get", "/charges", Secret, "List charges", LIST, List("charge")),
    op("get", "/charges/{id}", Secret, "Retrieve a charge", &[], Object("charge")),
    op(
        "patch",
        "/charges/{id}",
        Secret,
        "Update a charge's description or metadata",
        &["description:string", "metadata:object"],
        Object("charge"),
    ),
    op("post", "/charges/{id}/expire", Secret, "Expire a pending charge", &[], Object("charge")),
    op("post", "/charges/{id}/mark_as_paid", Secret, "Complete a test-mode charge as paid", &[], Object("charge")),
    op(
        "post",
        "/charges/{id}/mark_as_failed",
        Secret,
        "Complete a test-mode charge as failed",
        &["failure_code:string"],
        Object("charge"),
    ),
    op("get", "/charges/{id}/events", Secret, "List a charge's events", LIST, List("event")),
    op(
        "post",
        "/charges/{id}/refunds",
        Secret,
        "Refund a charge",
        &["amount:integer", "metadata:object"],
        Object("refund"),
    ),
    op("get", "/charges/{id}/refunds", Secret, "List a charge's refunds", LIST, List("refund")),
    op("get", "/charges/{id}/refunds/{refund}", Secret, "Retrieve a refund", &[], Object("refund")),
    op("get", "/refunds", Secret, "List refunds", LIST, List("refund")),
    op("get", "/transactions", Secret, "List transactions", LIST, List("transaction")),
    op("get", "/transactions/{id}", Secret, "Retrieve a transaction", &[], Object("transaction")),
    op("get", "/balance", Secret, "Retrieve the balance", &[], Object("balance")),
    op("get", "/events", Secret, "List events", LIST, List("event")),
    op(
        "get",
        "/events/stream",
        Secret,
        "Stream the account's events as they are committed (server-sent events; Last-Event-ID resumes)",
        &["events:string"],
        Events,
    ),
    op(
        "get",
        "/logs/stream",
        Secret,
        "Stream the account's API requests as they are served (server-sent events)",
        &[],
        Events,
    ),
    op("get", "/events/{id}", Secret, "Retrieve an event", &[], Object("event")),
    op("post", "/events/{id}/redeliver", Secret, "Deliver an event's webhooks again", &[], Object("event")),
    op("post", "/webhook_endpoints", Secret, "Add a webhook endpoint", &["url:uri!"], Object("webhook_endpoint")),
    op("get", "/webhook_endpoints", Secret, "List webhook endpoints", &[], List("webhook_endpoint")),
    op("get", "/webhook_endpoints/{id}", Secret, "Retrieve a webhook endpoint", &[], Object("webhook_endpoint")),
    op("delete", "/webhook_endpoints/{id}", Secret, "Remove a webhook endpoint", &[], Object("webhook_endpoint")),
    op(
        "post",
        "/webhook_endpoints/{id}/roll_secret",
        Secret,
        "Give a webhook endpoint a new secret",
        &[],
        Object("webhook_endpoint"),
    ),
    op(
        "get",
        "/webhook_signing_secret",
        Secret,
        "Retrieve the secret that signs deliveries to charges' own URLs",
        &[],
        Object("webhook_signing_secret"),
    ),
    op(
        "post",
        "/webhook_signing_secret/roll",
        Secret,
        "Roll the secret for charges' own URLs",
        &[],
        Object("webhook_signing_secret"),
    ),
    op("get", "/capability", Any, "Retrieve the payment methods on offer", &[], Object("capability")),
    op("get", "/account", Secret, "Retrieve the account", &[], Object("account")),
    op(
        "get",
        "/charges/{id}/provider_calls",
        Secret,
        "List the calls made to the acquirer for a live charge (satang extension)",
        &[],
        List("provider_call"),
    ),
    op(
        "post",
        "/antom/notify",
        Open,
        "Antom's payment notification, verified by its signature; answered with Antom's acknowledgement",
        &[],
        Acquirer,
    ),
    op(
        "get",
        "/antom/return/{charge}",
        Open,
        "The payer's return from the Antom wallet (paymentRedirectUrl): asks Antom, then redirects to return_uri",
        &[],
        Html,
    ),
    op("get", "/healthz", Open, "Liveness", &[], Object("health")),
    op("get", "/readyz", Open, "Readiness (the database answers)", &[], Object("health")),
    op("get", "/openapi.json", Open, "This document", &[], OpenApi),
    op("get", "/pay-assets/pay.css", Open, "The payer pages' style sheet", &[], Css),
    op("get", "/pay-assets/icon.svg", Open, "The payer pages' icon", &[], Image),
    op("get", "/favicon.ico", Open, "The payer pages' icon, where browsers look for it", &[], Image),
    op(
        "get",
        "/omise.js",
        Open,
        "A drop-in Omise.js, pointed at this satang (createSource with a public key)",
        &[],
        Js,
    ),
    op("get", "/pay-assets/pay.js", Open, "The payer pages' script", &[], Js),
    op("get", "/pay/{charge}/{token}", Open, "The payer's page of a charge (authorize_uri)", &[], Html),
    op(
        "post",
        "/pay/{charge}/{token}",
        Open,
        "The payer's answer on a test-mode charge's page",
        &["outcome:string", "csrf:string"],
        Html,
    ),
    op("get", "/pay/{charge}/{token}/wallet", Open, "The wallet's page of a charge", &[], Html),
    op(
        "get",
        "/search",
        Secret,
        "Search charges or refunds (Omise's Search API)",
        &["scope:string", "query:string", "filters:object", "page:integer", "per_page:integer", "order:string"],
        Object("search"),
    ),
    op("get", "/dashboard/assets/dashboard.css", Open, "The dashboard's style sheet", &[], Css),
    op("get", "/dashboard/login", Open, "Dashboard: the login form", &[], Html),
    op("post", "/dashboard/login", Open, "Dashboard: log in (form, CSRF)", &[], Html),
    op("post", "/dashboard/logout", Open, "Dashboard: log out (session cookie, CSRF)", &[], Html),
    op("post", "/dashboard/mode", Open, "Dashboard: switch test/live (session cookie, CSRF)", &[], Html),
    op("get", "/dashboard", Open, "Dashboard: charges, search and paging (session cookie)", &[], Html),
    op("get", "/dashboard/charges/{id}", Open, "Dashboard: a charge (session cookie)", &[], Html),
    op("post", "/dashboard/charges/{id}/refund", Open, "Dashboard: refund (admin, CSRF)", &[], Html),
    op("post", "/dashboard/charges/{id}/settle", Open, "Dashboard: test-mode outcome (admin, CSRF)", &[], Html),
    op("get", "/dashboard/webhooks", Open, "Dashboard: webhook endpoints and deliveries (session cookie)", &[], Html),
    op("post", "/dashboard/webhooks", Open, "Dashboard: add an endpoint (admin, CSRF)", &[], Html),
    op("post", "/dashboard/webhooks/{id}/roll", Open, "Dashboard: roll an endpoint's secret (admin, CSRF)", &[], Html),
    op("post", "/dashboard/webhooks/{id}/remove", Open, "Dashboard: remove an endpoint (admin, CSRF)", &[], Html),
    op("post", "/dashboard/events/{id}/redeliver", Open, "Dashboard: redeliver an event (admin, CSRF)", &[], Html),
    op("get", "/dashboard/money", Open, "Dashboard: balance and transactions (session cookie)", &[], Html),
    op("get", "/dashboard/export", Open, "Dashboard: CSV export, streamed (session cookie)", &[], Html),
    op("get", "/dashboard/keys", Open, "Dashboard: API keys (session cookie)", &[], Html),
    op("post", "/dashboard/keys/roll", Open, "Dashboard: roll the secret key (owner, CSRF)", &[], Html),
    op("get", "/dashboard/audit", Open, "Dashboard: the audit log (owner)", &[], Html),
    op("get", "/dashboard/password", Open, "Dashboard: change your password (a one-time one first)", &[], Html),
    op("post", "/dashboard/password", Open, "Dashboard: set a new password (CSRF, current password)", &[], Html),
    op("get", "/dashboard/settings", Open, "Dashboard: account settings and fees (session cookie)", &[], Html),
    op("post", "/dashboard/settings", Open, "Dashboard: change the account settings (admin, CSRF)", &[], Html),
    op("post", "/dashboard/settings/fees", Open, "Dashboard: change a fee schedule (owner, CSRF)", &[], Html),
    op("get", "/pay/{charge}/{token}/app", Open, "The app-redirect page of a charge", &[], Html),
    op(
        "get",
        "/pay/{charge}/{token}/status",
        Open,
        "A charge's status, for the payer page's polling",
        &[],
        Object("charge_status"),
    ),
];

fn schema_of(ty: &str) -> Value {
    match ty {
        "integer" => json!({"type": "integer"}),
        "amount" => {
            json!({"type": "integer", "description": "subunits (satang, cents)", "minimum": 2000, "maximum": 10_000_000})
        }
        "currency" => json!({"type": "string", "enum": ["THB", "SGD"]}),
        "method" => json!({"type": "string", "enum": ["alipay", "alipay_hk"]}),
        "source" => json!({"oneOf": [
            {"type": "string", "description": "a source ID (src_…)"},
            {"type": "object", "required": ["type"], "properties": {"type": {"type": "string", "enum": ["alipay", "alipay_hk"]}}},
        ]}),
        "uri" => json!({"type": "string", "format": "uri", "pattern": "^https?://"}),
        "object" => json!({"type": "object"}),
        "array" => json!({"type": "array", "items": {"type": "string"}}),
        "uris" => {
            json!({"type": "array", "maxItems": 2, "items": {"type": "string", "format": "uri", "pattern": "^https?://"}})
        }
        "ip" => json!({"type": "string", "format": "ipv4"}),
        "datetime" => json!({"type": "string", "format": "date-time", "description": "ISO 8601 UTC"}),
        _ => json!({"type": "string"}),
    }
}

fn success(body: Body) -> Value {
    let content = |ty: &str, schema: Value| json!({ ty: {"schema": schema} });
    let obj = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let (description, content) = match body {
        Object(name) => ("the object", content("application/json", obj(name))),
        List(name) => (
            "a page of objects",
            content(
                "application/json",
                json!({"type": "object", "required": ["object", "data"], "properties": {
                    "object": {"const": "list"}, "data": {"type": "array", "items": obj(name)},
                    "total": {"type": "integer"}, "offset": {"type": "integer"}, "limit": {"type": "integer"}}}),
            ),
        ),
        Events => ("server-sent events", content("text/event-stream", json!({"type": "string"}))),
        Html => ("an HTML page", content("text/html", json!({"type": "string"}))),
        Css => ("CSS", content("text/css", json!({"type": "string"}))),
        Js => ("JavaScript", content("text/javascript", json!({"type": "string"}))),
        Image => ("An image", content("image/svg+xml", json!({"type": "string"}))),
        OpenApi => ("OpenAPI 3.1", content("application/json", json!({"type": "object"}))),
        Acquirer => ("the acquirer's acknowledgement", content("application/json", json!({"type": "object"}))),
    };
    json!({"description": description, "content": content})
}

fn operation_id(o: &Operation) -> String {
    format!("{}{}", o.method, o.path.replace(['/', '{', '}', '.', '-'], "_"))
}

fn operation(o: &Operation) -> Value {
    let mut parameters: Vec<Value> = o
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    let fields = || {
        let mut required = Vec::new();
        let props: Map<String, Value> = o
            .params
            .iter()
            .map(|p| {
                let (name, ty) = p.split_once(':').unwrap_or((p, "string"));
                if let Some(ty) = ty.strip_suffix('!') {
                    required.push(name);
                    return (name.to_string(), schema_of(ty));
                }
                (name.to_string(), schema_of(ty))
            })
            .collect();
        json!({"type": "object", "properties": props, "required": required})
    };
    let mut out = json!({
        "summary": o.summary,
        "operationId": operation_id(o),
        "responses": {
            "200": success(o.body),
            "default": {"description": "an Omise error object",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/error"}}}},
        },
    });
    // Links from a create to the operations on what it created, for stateful testing (schemathesis).
    let created = match (o.method, o.path) {
        ("post", "/charges") => Some(("/charges/{id}", "$response.body#/id")),
        ("post", "/sources") => Some(("/sources/{id}", "$response.body#/id")),
        ("post", "/webhook_endpoints") => Some(("/webhook_endpoints/{id}", "$response.body#/id")),
        _ => None,
    };
    if let Some((prefix, id)) = created {
        let links: Map<String, Value> = OPERATIONS
            .iter()
            .filter(|t| t.path == prefix || t.path.starts_with(&format!("{prefix}/")) && !t.path.contains("{refund}"))
            .map(|t| (operation_id(t), json!({"operationId": operation_id(t), "parameters": {"id": id}})))
            .collect();
        out["responses"]["200"]["links"] = Value::Object(links);
    }
    let html_page = matches!(o.body, Html | Css | Js);
    if html_page {
        // Payer pages answer errors with pages too.
        out["responses"]["default"] = json!({"description": "an error page or an Omise error object"});
    }
    if o.body == Acquirer {
        out["responses"]["default"] = json!({"description": "the acquirer's refusal (`result.resultStatus` F)",
            "content": {"application/json": {"schema": {"type": "object"}}}});
    }
    if o.method == "get" {
        for p in o.params {
            let (name, ty) = p.split_once(':').unwrap_or((p, "string"));
            parameters.push(json!({"name": name, "in": "query", "required": false, "schema": schema_of(ty)}));
        }
    } else if !o.params.is_empty() {
        out["requestBody"] = json!({"required": false, "content": {
            "application/json": {"schema": fields()},
            "application/x-www-form-urlencoded": {"schema": fields()},
        }});
    }
    if !parameters.is_empty() {
        out["parameters"] = Value::Array(parameters);
    }
    match o.auth {
        Secret => out["security"] = json!([{"secretKey": []}]),
        Any => out["security"] = json!([{"secretKey": []}, {"publicKey": []}]),
        Open => out["security"] = json!([]),
    }
    out
}

fn object_schema(name: &str) -> Value {
    json!({"type": "object", "required": ["object"], "properties": {"object": {"const": name}}})
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for o in OPERATIONS {
        let entry = paths.entry(o.path.to_string()).or_insert_with(|| json!({}));
        entry[o.method] = operation(o);
    }
    let mut schemas = Map::new();
    for o in OPERATIONS {
        if let Object(n) | List(n) = o.body {
            schemas.insert(n.to_string(), object_schema(n));
        }
    }
    schemas.insert(
        "error".into(),
        json!({"type": "object", "required": ["object", "code"], "properties": {
            "object": {"const": "error"}, "location": {"type": "string"}, "code": {"type": "string"},
            "message": {"type": "string"}, "request_id": {"type": "string"}}}),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "satang",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A self-hostable, Omise-compatible payment gateway. Omise's API (versions 2019-05-29 to 2014-07-27, \
                            chosen with the Omise-Version header) plus satang's own routes. Keys are sent as the HTTP Basic user name.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "secretKey": {"type": "http", "scheme": "basic", "description": "a secret key (skey_…) as the user name, no password"},
                "publicKey": {"type": "http", "scheme": "basic", "description": "a public key (pkey_…) as the user name, no password"},
            },
        },
    })
}

pub async fn serve_document() -> Response {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(|| document().to_string());
    let mut res = text.clone().into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `.route("path", method(…)…)` in the crate's source, as (method, path).
    fn routes_in_source() -> Vec<(String, String)> {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![src];
        let mut out = Vec::new();
        while let Some(p) = files.pop() {
            if p.is_dir() {
                // The benchmark's stand-in server and the acquirer simulators are not satang's HTTP service.
                if p.ends_with("bench") || p.ends_with("simulator") {
                    continue;
                }
                files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            // metrics.rs routes `/metrics` on its own port (`--metrics-listen`), not in the public service.
            if p.extension().is_none_or(|e| e != "rs") || p.ends_with("openapi.rs") || p.ends_with("metrics.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let mut rest = text.as_str();
            while let Some(at) = rest.find(".route(") {
                rest = &rest[at + ".route(".len()..];
                // The call's arguments, to its closing parenthesis.
                let mut depth = 1;
                let end = rest
                    .char_indices()
                    .find(|&(_, c)| {
                        depth += match c {
                            '(' => 1,
                            ')' => -1,
                            _ => 0,
                        };
                        depth == 0
                    })
                    .map(|(i, _)| i)
                    .unwrap_or(rest.len());
                let args = &rest[..end];
                let args = args.trim_start();
                let path = args.strip_prefix('"').and_then(|a| a.split('"').next());
                let Some(path) = path else {
                    panic!(
                        "{}: a route whose path is not a string literal: .route({args}); use a literal",
                        p.display()
                    );
                };
                let handlers = &args[path.len() + 2..];
                for m in ["get", "post", "patch", "put", "delete"] {
                    let found = handlers.match_indices(&format!("{m}(")).any(|(i, _)| {
                        i == 0
                            || !handlers.as_bytes()[i - 1].is_ascii_alphanumeric() && handlers.as_bytes()[i - 1] != b'_'
                    });
                    if found {
                        out.push((m.to_string(), path.to_string()));
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn every_route_in_the_code_is_documented() {
        let code = routes_in_source();
        assert!(code.len() > 30, "the scan found the routes: {code:?}");
        let documented: Vec<(String, String)> =
            OPERATIONS.iter().map(|o| (o.method.to_string(), o.path.to_string())).collect();
        let missing: Vec<String> = code
            .iter()
            .filter(|r| !documented.contains(r))
            .map(|(m, p)| {
                format!(
                    "    op(\"{m}\", \"{p}\", Secret|Any|Open, \"<summary>\", &[\"<param>:<type>\", …], \
                     Object(\"<object>\")|List(\"<object>\")|Html|Js|Css|Events),"
                )
            })
            .collect();
        assert!(
            missing.is_empty(),
            "routes served but missing from the OpenAPI document: add these rows to OPERATIONS in \
             crates/satang/src/api/openapi.rs (choose the key, the parameters and the response):\n{}",
            missing.join("\n")
        );
        let stale: Vec<&(String, String)> = documented.iter().filter(|r| !code.contains(r)).collect();
        assert!(stale.is_empty(), "documented in OPERATIONS but not routed; remove or route them: {stale:?}");
    }

    #[test]
    fn the_document_is_openapi_3_1_with_unique_operation_ids() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let mut ids: Vec<String> = Vec::new();
        for (_, item) in doc["paths"].as_object().unwrap() {
            for (_, op) in item.as_object().unwrap() {
                ids.push(op["operationId"].as_str().unwrap().to_string());
            }
        }
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "operation IDs are unique");
        assert_eq!(n, OPERATIONS.len());
    }
}
