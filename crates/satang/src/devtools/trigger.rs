//! `satang trigger <event>`: makes an event happen in test mode, through the HTTP API with the secret key,
//! the way an app and a payer would: a charge with its source, then its completion, failure (with a seed
//! failure code), expiry or a refund. Prints the IDs it made.

use serde_json::{Value, json};

use super::{ApiArgs, api_error};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Trigger {
    /// A charge paid by the payer: `charge.create`, then `charge.complete` (successful).
    #[value(name = "charge.complete")]
    ChargeComplete,
    /// A charge the payer's wallet refused: `charge.create`, then `charge.complete` (failed).
    #[value(name = "charge.failed")]
    ChargeFailed,
    /// A charge that was never paid: `charge.create`, then `charge.expire`.
    #[value(name = "charge.expire")]
    ChargeExpire,
    /// A paid charge, then a refund of part of it: `refund.create`.
    #[value(name = "refund.create")]
    RefundCreate,
}

#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Examples:\n  satang trigger charge.complete\n  satang trigger refund.create --method alipay_hk --amount 150000 --currency SGD --json"
)]
pub struct TriggerArgs {
    /// The event to make happen.
    #[arg(value_enum)]
    pub event: Trigger,

    /// The payment method of the charge.
    #[arg(long, default_value = "alipay", value_parser = ["alipay", "alipay_hk"])]
    pub method: String,

    /// The amount in subunits (satang, cents).
    #[arg(long, default_value_t = 10_000)]
    pub amount: i64,

    /// The currency.
    #[arg(long, default_value = "THB")]
    pub currency: String,

    /// With charge.failed: the failure code.
    #[arg(long, default_value = "payment_rejected")]
    pub failure_code: String,

    #[command(flatten)]
    pub api: ApiArgs,

    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

async fn call(
    client: &reqwest::Client,
    args: &TriggerArgs,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let mut req = client.request(method.clone(), args.api.url(path)).basic_auth(&args.api.secret_key, Some(""));
    if method != reqwest::Method::GET {
        req = req.json(&body);
    }
    let res = req.send().await.map_err(|e| anyhow::anyhow!("cannot reach satang at {}: {e}", args.api.api_base))?;
    if !res.status().is_success() {
        return Err(api_error(res).await);
    }
    Ok(res.json().await?)
}

pub async fn run(args: TriggerArgs) -> anyhow::Result<()> {
    if !args.api.secret_key.starts_with("skey_test_") {
        anyhow::bail!("trigger works in test mode only: give a test secret key (skey_test_…)");
    }
    let client = reqwest::Client::new();
    let post = reqwest::Method::POST;
    let charge = call(
        &client,
        &args,
        post.clone(),
        "/charges",
        json!({
            "amount": args.amount,
            "currency": args.currency,
            "return_uri": "https://example.com/satang-trigger/complete",
            "source": {"type": args.method},
            "description": "satang trigger",
        }),
    )
    .await?;
    let id = charge["id"].as_str().unwrap_or_default().to_string();
    let mut refund = Value::Null;
    let charge = match args.event {
        Trigger::ChargeComplete | Trigger::RefundCreate => {
            call(&client, &args, post.clone(), &format!("/charges/{id}/mark_as_paid"), json!({})).await?
        }
        Trigger::ChargeFailed => {
            let body = json!({"failure_code": args.failure_code});
            call(&client, &args, post.clone(), &format!("/charges/{id}/mark_as_failed"), body).await?
        }
        Trigger::ChargeExpire => {
            call(&client, &args, post.clone(), &format!("/charges/{id}/expire"), json!({})).await?
        }
    };
    if args.event == Trigger::RefundCreate {
        let amount = (args.amount / 2).max(1);
        refund = call(&client, &args, post, &format!("/charges/{id}/refunds"), json!({"amount": amount})).await?;
    }
    let events = call(&client, &args, reqwest::Method::GET, &format!("/charges/{id}/events"), json!({})).await?;
    let events: Vec<Value> = events["data"]
        .as_array()
        .map(|a| a.iter().map(|e| json!({"id": e["id"], "key": e["key"]})).collect())
        .unwrap_or_default();
    if args.json {
        let out = json!({
            "object": "trigger",
            "source": charge["source"]["id"],
            "charge": id,
            "status": charge["status"],
            "failure_code": charge["failure_code"],
            "refund": refund.get("id"),
            "events": events,
        });
        println!("{out}");
    } else {
        println!("source {}", charge["source"]["id"].as_str().unwrap_or("-"));
        println!("charge {id} ({})", charge["status"].as_str().unwrap_or("-"));
        if let Some(r) = refund.get("id").and_then(Value::as_str) {
            println!("refund {r}");
        }
        for e in &events {
            println!("event  {} {}", e["id"].as_str().unwrap_or("-"), e["key"].as_str().unwrap_or("-"));
        }
    }
    Ok(())
}
