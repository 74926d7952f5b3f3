//! The `satang` command line: `serve`, `worker`, `migrate`, `account …`, `webhook …`, `connector …`,
//! `simulator …`.

pub mod connector;

use std::sync::Arc;

use clap::{Parser, Subcommand};
use satang_domain::{AccountId, Amount, Clock, Currency, EndpointId, FeeSchedule, PaymentMethod, Percent, SystemClock};

use crate::accounts;
use crate::app::App;
use crate::background;
use crate::config::{DatabaseArgs, ServeArgs, WorkerArgs};
use crate::startup::{Application, shutdown_signal};
use crate::store;
use crate::store::{CheckoutSettings, WebhookEndpoint};
use crate::webhooks;

/// `satang --version`: the release and the Omise API versions it speaks (the first is the default).
pub const VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (Omise API versions 2019-05-29, 2017-11-02, 2015-11-17, 2014-07-27)");

#[derive(Debug, Parser)]
#[command(
    name = "satang",
    version = VERSION,
    about = "A self-hostable, Omise-compatible payment gateway for Alipay and Alipay HK"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway (API and payer pages).
    #[command(
        after_help = "Examples:\n  satang serve --dev                      # a developer's laptop: temporary database, fixed test keys\n  satang serve --database sqlite:satang.db --public-url https://pay.example.com --metrics-listen 127.0.0.1:9090"
    )]
    Serve(ServeArgs),
    /// Run only the background work: webhook deliveries and the expiry sweeper.
    Worker(WorkerArgs),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Manage merchant accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage webhook endpoints, and verify a delivery's signature.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Manage dashboard users.
    #[command(subcommand)]
    User(UserCommand),
    /// Roll API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Configure an account's live acquirer (Antom), or make keys for it.
    #[command(subcommand)]
    Connector(connector::ConnectorCommand),
    /// Run a simulator of an acquirer, for tests and for trying live mode on one machine.
    #[command(subcommand)]
    Simulator(connector::SimulatorCommand),
    /// Forward the account's events to your app as signed webhooks, as they happen.
    Listen(crate::devtools::listen::ListenArgs),
    /// Make an event happen in test mode (a charge completed, failed or expired, a refund).
    Trigger(crate::devtools::trigger::TriggerArgs),
    /// Follow the account's API requests as they are served.
    #[command(subcommand)]
    Logs(crate::devtools::logs::LogsCommand),
    /// Measure throughput, latency, memory and growth against baselines (`satang bench seed` fills a database).
    Bench(crate::bench::BenchArgs),
    /// Copy a SQLite database to a file while satang serves (PostgreSQL: use pg_dump; see README).
    Backup {
        /// Where to write the backup.
        #[arg(long)]
        to: std::path::PathBuf,
        /// Overwrite the file if it exists.
        #[arg(long)]
        force: bool,
        /// The database to copy.
        #[arg(long = "database", env = "SATANG_DATABASE_URL", default_value = "sqlite:satang.db")]
        database: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Replace a SQLite database with a backup (stop satang first).
    Restore {
        /// The backup to restore.
        #[arg(long)]
        from: std::path::PathBuf,
        /// Replace a database that exists.
        #[arg(long)]
        force: bool,
        /// The database to replace.
        #[arg(long = "database", env = "SATANG_DATABASE_URL", default_value = "sqlite:satang.db")]
        database: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Test,
    Live,
}

impl Mode {
    fn live(self) -> bool {
        self == Mode::Live
    }

    fn of(livemode: bool) -> &'static str {
        if livemode { "live" } else { "test" }
    }
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Add an endpoint; every event of the account in that mode is delivered to it, signed with its secret.
    Add {
        #[arg(long)]
        account: String,
        #[arg(long, value_enum)]
        mode: Mode,
        /// Live endpoints must be https on a public address; test ones may be http and local.
        #[arg(long)]
        url: String,
        /// Let the URL be on loopback or a private network, in either mode (link-local and metadata
        /// addresses stay refused).
        #[arg(long)]
        allow_private: bool,
        #[command(flatten)]
        database: DatabaseArgs,
        /// Print one JSON object (`id`, `url`, `mode`, `secret`).
        #[arg(long)]
        json: bool,
    },
    /// List an account's endpoints and the secret for charges' own webhook URLs.
    List {
        #[arg(long)]
        account: String,
        #[arg(long, value_enum)]
        mode: Option<Mode>,
        #[command(flatten)]
        database: DatabaseArgs,
        #[arg(long)]
        json: bool,
    },
    /// Remove an endpoint; its pending deliveries are dropped.
    Remove {
        #[arg(long)]
        id: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Give an endpoint (`--id`), or the secret for charges' own URLs (`--account` and `--mode`), a new
    /// secret. For 24 hours deliveries carry both signatures.
    RollSecret {
        #[arg(long, conflicts_with_all = ["account", "mode"])]
        id: Option<String>,
        #[arg(long, requires = "mode")]
        account: Option<String>,
        #[arg(long, value_enum, requires = "account")]
        mode: Option<Mode>,
        #[command(flatten)]
        database: DatabaseArgs,
        #[arg(long)]
        json: bool,
    },
    /// Check a delivery's signature: the body on standard input; exits 0 when it matches, 1 when not.
    Verify {
        /// The endpoint's secret (base64).
        #[arg(long)]
        secret: String,
        /// The `Omise-Signature-Timestamp` header.
        #[arg(long)]
        timestamp: i64,
        /// The `Omise-Signature` header (one or two comma-separated signatures).
        #[arg(long)]
        signature: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Make a new secret key for one mode and print it (once); the old one keeps working for the overlap.
    Roll {
        /// The account ID (`acct_…`).
        #[arg(long)]
        account: String,
        #[arg(long, value_enum)]
        mode: Mode,
        /// Hours the old secret key keeps working (0 to 168).
        #[arg(long, default_value = "24")]
        overlap_hours: i64,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a dashboard user of an account. Without `--password-stdin` a random password is made and
    /// printed, once; give it to the user.
    Create {
        /// The account ID (`acct_…`).
        #[arg(long)]
        account: String,
        #[arg(long)]
        email: String,
        /// `owner` (everything, and the audit log), `admin` (refunds, webhooks) or `viewer` (read only).
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Read the password from the first line of standard input instead.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create a merchant account with a test and a live key pair. The secret keys are shown only now.
    Create {
        /// The merchant's name, shown to payers.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Set an account's fee schedule for one payment method and currency. Charges created from now on use
    /// it; existing charges keep the schedule they were created with.
    SetFee {
        /// The account ID (`acct_…`).
        #[arg(long)]
        account: String,
        /// The payment method (`alipay`, `alipay_hk`).
        #[arg(long = "type")]
        method: String,
        /// The currency (`THB`, `SGD`).
        #[arg(long)]
        currency: String,
        /// The fee as a percentage of the amount, e.g. `2.9`.
        #[arg(long)]
        rate: String,
        /// VAT as a percentage of the fee, e.g. `7`.
        #[arg(long, default_value = "0")]
        vat: String,
        /// A flat fee per charge in major units of the currency, e.g. `10.50`.
        #[arg(long, default_value = "0")]
        flat: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Set how the account's checkout meets browsers and payers. Options not given keep their value.
    SetCheckout {
        /// The account ID (`acct_…`).
        #[arg(long)]
        account: String,
        /// Web origins allowed to use the public key from a browser, comma-separated
        /// (`https://shop.example,https://www.shop.example`), or `any` (the default).
        #[arg(long)]
        allowed_origins: Option<String>,
        /// The shop's home page, linked from payer pages (`none` to remove).
        #[arg(long)]
        shop_url: Option<String>,
        /// An https image URL shown beside the merchant's name on payer pages (`none` to remove).
        #[arg(long)]
        logo_url: Option<String>,
        /// Where payers ask the shop for help, linked from payer pages (`none` to remove).
        #[arg(long)]
        support_url: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Account(AccountCommand::SetCheckout {
            account,
            allowed_origins,
            shop_url,
            logo_url,
            support_url,
            database,
        }) => {
            let account = parse_account(&account)?;
            let store = database.open().await?;
            let current = store.get_account(&account).await?.checkout;
            let urls =
                CheckoutUrls { shop: shop_url.as_deref(), logo: logo_url.as_deref(), support: support_url.as_deref() };
            let s = checkout_args(current, allowed_origins.as_deref(), urls)?;
            store.set_checkout_settings(&account, &s).await?;
            let origins = if s.allowed_origins.is_empty() { "any".to_string() } else { s.allowed_origins.join(", ") };
            println!("{account}: allowed origins {origins}");
            println!("  shop URL: {}", s.shop_url.as_deref().unwrap_or("none"));
            println!("  logo URL: {}", s.logo_url.as_deref().unwrap_or("none"));
            println!("  support URL: {}", s.support_url.as_deref().unwrap_or("none"));
            Ok(())
        }
        Command::Serve(args) => serve(args).await,
        Command::Worker(args) => worker(args).await,
        Command::Webhook(cmd) => webhook(cmd).await,
        Command::Bench(args) => crate::bench::run(args).await,
        Command::Listen(args) => crate::devtools::listen::run(args).await,
        Command::Trigger(args) => crate::devtools::trigger::run(args).await,
        Command::Logs(cmd) => crate::devtools::logs::run(cmd).await,
        Command::Backup { to, force, database, json } => {
            let done = tokio::task::spawn_blocking(move || crate::backup::backup(&database, &to, force)).await??;
            print_copied("backed up", &done, json);
            Ok(())
        }
        Command::Restore { from, force, database, json } => {
            let done = tokio::task::spawn_blocking(move || crate::backup::restore(&from, &database, force)).await??;
            print_copied("restored", &done, json);
            Ok(())
        }
        Command::Connector(cmd) => connector::connector(cmd).await,
        Command::Simulator(cmd) => connector::simulator(cmd).await,
        Command::Migrate(db) => {
            db.open().await?;
            println!("migrations applied to {}", store::redact_url(&db.url));
            Ok(())
        }
        Command::Key(KeyCommand::Roll { account, mode, overlap_hours, database }) => {
            let account: satang_domain::AccountId =
                account.parse().map_err(|_| anyhow::anyhow!("{account} is not an account ID"))?;
            let store = database.open().await?;
            let overlap =
                overlap_hours.checked_mul(3600).ok_or_else(|| anyhow::anyhow!("--overlap-hours is too large"))?;
            let key =
                accounts::roll_secret_key(&store, &account, mode.live(), overlap, "cli", SystemClock.now()).await?;
            println!("new secret key (shown only now): {key}");
            println!("the previous secret key keeps working for {overlap_hours} hours");
            Ok(())
        }
        Command::User(UserCommand::Create { account, email, role, password_stdin, database }) => {
            let role = crate::store::users::Role::parse(&role)
                .ok_or_else(|| anyhow::anyhow!("--role must be owner, admin or viewer"))?;
            let account: satang_domain::AccountId =
                account.parse().map_err(|_| anyhow::anyhow!("{account} is not an account ID"))?;
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                (line.trim_end_matches(['\r', '\n']).to_string(), false)
            } else {
                (satang_domain::id::random_base36(20), true)
            };
            let store = database.open().await?;
            let now = SystemClock.now();
            let user = if generated {
                crate::dashboard::auth::create_user_with_one_time_password(
                    &store, &account, &email, role, &password, now,
                )
                .await?
            } else {
                crate::dashboard::auth::create_user(&store, &account, &email, role, &password, now).await?
            };
            println!("user {} ({}) of {} created", user.email, user.role.as_str(), user.account);
            if generated {
                println!("one-time password (shown only now; they choose their own at first login): {password}");
            }
            Ok(())
        }
        Command::Account(AccountCommand::Create { name, database, json }) => {
            let store = database.open().await?;
            let (record, shown) = accounts::new_account(&name, SystemClock.now());
            store.create_account(record).await?;
            if json {
                println!("{}", serde_json::to_string(&shown)?);
            } else {
                print_account(&shown, true);
            }
            Ok(())
        }
        Command::Account(AccountCommand::SetFee { account, method, currency, rate, vat, flat, database }) => {
            let (account, m, currency, schedule) = fee_args(&account, &method, &currency, &rate, &vat, &flat)?;
            let store = database.open().await?;
            store.set_fee_schedule(&account, m.name, currency, schedule).await?;
            println!(
                "{} {} {}: fee {}% + VAT {}% on the fee + flat {} {}",
                account,
                m.name,
                currency,
                schedule.rate,
                schedule.vat_rate,
                currency.code(),
                currency.format_number(schedule.flat)
            );
            Ok(())
        }
    }
}

/// Applies `set-checkout`'s options to the current settings, validating each.
/// The payer-page URLs `account set-checkout` was given (each `None` when its flag was absent).
pub struct CheckoutUrls<'a> {
    pub shop: Option<&'a str>,
    pub logo: Option<&'a str>,
    pub support: Option<&'a str>,
}

/// The checkout settings after the flags; the URLs held to the dashboard's rule
/// ([`crate::dashboard::settings::payer_url`]: https, or http on localhost only).
pub fn checkout_args(
    mut current: CheckoutSettings,
    allowed_origins: Option<&str>,
    urls: CheckoutUrls<'_>,
) -> anyhow::Result<CheckoutSettings> {
    if let Some(list) = allowed_origins {
        current.allowed_origins = if list.trim().eq_ignore_ascii_case("any") {
            Vec::new()
        } else {
            list.split(',').map(str::trim).filter(|o| !o.is_empty()).map(origin).collect::<anyhow::Result<_>>()?
        };
    }
    let url = |flag: &str, v: &str| -> anyhow::Result<Option<String>> {
        let v = v.trim();
        if v.eq_ignore_ascii_case("none") || v.is_empty() {
            return Ok(None);
        }
        crate::dashboard::settings::payer_url(v).map_err(|_| {
            anyhow::anyhow!("--{flag} {v} must be an https URL (http only for localhost), without a user or password")
        })
    };
    if let Some(v) = urls.shop {
        current.shop_url = url("shop-url", v)?;
    }
    if let Some(v) = urls.logo {
        current.logo_url = url("logo-url", v)?;
    }
    if let Some(v) = urls.support {
        current.support_url = url("support-url", v)?;
    }
    Ok(current)
}

/// A web origin as browsers send it in `Origin`: scheme, host and port only (`https://shop.example`).
fn origin(s: &str) -> anyhow::Result<String> {
    let u = reqwest::Url::parse(s).map_err(|e| anyhow::anyhow!("--allowed-origins {s}: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
        anyhow::bail!("--allowed-origins {s}: an origin is http(s)://host[:port]");
    }
    let o = u.origin().ascii_serialization();
    if o.trim_end_matches('/') != s.trim_end_matches('/') {
        anyhow::bail!("--allowed-origins {s}: an origin has no path, query or user; did you mean {o}?");
    }
    Ok(o)
}

/// Validates `set-fee`'s arguments against the registry before anything is written.
fn fee_args(
    account: &str,
    method: &str,
    currency: &str,
    rate: &str,
    vat: &str,
    flat: &str,
) -> anyhow::Result<(AccountId, &'static PaymentMethod, Currency, FeeSchedule)> {
    let account: AccountId = account.parse().map_err(|e| anyhow::anyhow!("--account: {e}"))?;
    let m = PaymentMethod::lookup(method)
        .ok_or_else(|| anyhow::anyhow!("--type {method} is not a payment method satang supports"))?;
    let currency: Currency = currency.parse().map_err(|e| anyhow::anyhow!("--currency: {e}"))?;
    if m.limit(currency).is_none() {
        anyhow::bail!("--currency {currency} is not accepted by {}", m.name);
    }
    let rate: Percent = rate.parse().map_err(|e| anyhow::anyhow!("--rate: {e}"))?;
    let vat_rate: Percent = vat.parse().map_err(|e| anyhow::anyhow!("--vat: {e}"))?;
    let flat = parse_major(flat, currency).ok_or_else(|| {
        anyhow::anyhow!(
            "--flat {flat} must be a non-negative amount in {currency} with at most {} decimals",
            currency.exponent()
        )
    })?;
    Ok((account, m, currency, FeeSchedule { rate, vat_rate, flat }))
}

/// `10.5` THB → 1050 subunits; no floats.
fn parse_major(s: &str, currency: Currency) -> Option<Amount> {
    let (int, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
    let exp = currency.exponent() as usize;
    if int.is_empty() || frac.len() > exp || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let major: i64 = int.parse().ok()?;
    let minor: i64 = if exp == 0 { 0 } else { format!("{frac:0<exp$}").parse().ok()? };
    Amount::new(major.checked_mul(10i64.pow(exp as u32))?.checked_add(minor)?).ok()
}

fn print_account(a: &accounts::CreatedAccount, with_live: bool) {
    println!("account {} ({})", a.id, a.name);
    println!("  test public key: {}", a.test_public_key);
    println!("  test secret key: {}", a.test_secret_key);
    if with_live {
        println!("  live public key: {}", a.live_public_key);
        println!("  live secret key: {}", a.live_secret_key);
    }
    println!("  (secret keys are stored only as hashes: keep them now, they cannot be shown again)");
}

async fn serve(mut args: ServeArgs) -> anyhow::Result<()> {
    // --dev: a database in a temporary directory, removed when this returns.
    let mut dev_dir = None;
    if args.dev {
        let dir = tempfile::Builder::new().prefix("satang-dev-").tempdir()?;
        args.database.url = format!("sqlite:{}", dir.path().join("satang.db").display());
        dev_dir = Some(dir);
    }
    let store = args.database.open().await?;
    tracing::info!(database = %store::redact_url(&args.database.url), backend = store.backend(), "database ready");
    if args.dev {
        let (record, shown) =
            accounts::dev_account("Demo Shop", SystemClock.now(), &args.dev_public_key, &args.dev_secret_key)?;
        store.create_account(record).await?;
        println!("satang dev mode: temporary database, test mode only, webhooks and payer pages on");
        println!("account {} ({})", shown.id, shown.name);
        println!("  test public key: {}", shown.test_public_key);
        println!("  test secret key: {}", shown.test_secret_key);
        println!("  (fixed across restarts; set SATANG_DEV_PUBLIC_KEY / SATANG_DEV_SECRET_KEY to use others)");
    } else if store.count_accounts().await? == 0 {
        let (record, shown) = accounts::new_account("Demo Shop", SystemClock.now());
        store.create_account(record).await?;
        println!("No account existed, so a demo account was created. Its test keys:");
        print_account(&shown, false);
    }
    require_master_key(&store).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let stop = shutdown_signal();
    let tls = match (&args.http.tls_cert, &args.http.tls_key) {
        (Some(cert), Some(key)) => Some(crate::http::tls::acceptor(cert, key)?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let public = args.public_url(listener.local_addr()?);
    let mut app = Application::from_listener(listener, store, clock, Some(public.clone()))?
        .with_limits(args.http.limits())
        .with_rate_limits(args.http.rate_limits(), args.http.client_ip_header.clone())
        .with_webhook_policy(args.background.webhook_policy());
    let scheme = if tls.is_some() { "https" } else { "http" };
    if let Some(acceptor) = tls {
        app = app.with_tls(acceptor);
    }
    if let Some(addr) = args.http.redirect_http {
        let redirect = tokio::net::TcpListener::bind(addr).await?;
        let router = crate::http::tls::redirect_router(public.clone());
        tokio::spawn(crate::http::serve(
            redirect,
            router,
            args.http.limits(),
            None,
            std::future::pending(),
            std::time::Duration::ZERO,
        ));
        println!("redirecting http://{addr} to {public}");
    }
    if let Some(addr) = args.metrics_listen {
        let bound = crate::metrics::serve(addr, app.state()).await?;
        println!("metrics on http://{bound}/metrics");
    }
    tracing::info!(listen = %app.addr(), public_url = %public, "satang is serving");
    println!("satang listening on {scheme}://{} (public URL {public})", app.addr());
    let work = if args.no_worker {
        None
    } else {
        Some(background::start(app.state(), args.background.sweep_interval(), args.background.worker_config())?)
    };
    let served = app.run_until_stopped(stop).await;
    if let Some(w) = work {
        w.stop().await;
    }
    drop(dev_dir);
    served
}

/// `serve` and `worker` talk to the accounts' acquirers: once any account has a connector they need the
/// master key that opens its private key, and say how to make one.
async fn require_master_key(store: &store::DynStore) -> anyhow::Result<()> {
    if let Err(e) = crate::connector::vault::MasterKey::from_env()
        && store.count_connectors().await? > 0
    {
        anyhow::bail!("accounts have live connectors, and {e}");
    }
    Ok(())
}

async fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    let stop = shutdown_signal();
    let store = args.database.open().await?;
    require_master_key(&store).await?;
    let app = App::new(store, Arc::new(SystemClock), &args.public_url);
    let app = App::with_webhook_policy(app, args.background.webhook_policy());
    let work = background::start(app, args.background.sweep_interval(), args.background.worker_config())?;
    println!("satang worker running (webhooks and expiry) on {}", store::redact_url(&args.database.url));
    stop.await;
    work.stop().await;
    Ok(())
}

fn print_copied(what: &str, c: &crate::backup::Copied, json: bool) {
    if json {
        println!("{}", serde_json::to_string(c).unwrap_or_default());
    } else {
        println!(
            "{what} {} ({} bytes): {} charges, {} events, schema version {}",
            c.file, c.bytes, c.charges, c.events, c.schema_version
        );
    }
}

fn parse_account(s: &str) -> anyhow::Result<AccountId> {
    s.parse().map_err(|e| anyhow::anyhow!("--account: {e}"))
}

fn parse_endpoint(s: &str) -> anyhow::Result<EndpointId> {
    s.parse().map_err(|e| anyhow::anyhow!("--id: {e}"))
}

fn endpoint_json(e: &WebhookEndpoint) -> serde_json::Value {
    serde_json::json!({
        "id": e.id, "account": e.account, "url": e.url, "mode": Mode::of(e.livemode), "secret": e.secret,
        "previous_secret_valid_until": e.previous_until.map(|t| t.iso()), "created_at": e.created_at.iso(),
    })
}

async fn webhook(cmd: WebhookCommand) -> anyhow::Result<()> {
    let now = SystemClock.now();
    match cmd {
        WebhookCommand::Verify { secret, timestamp, signature } => {
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut body)?;
            if webhooks::sign::verify(&secret, timestamp, &body, &signature)? {
                println!("signature OK");
                Ok(())
            } else {
                eprintln!("signature does not match");
                std::process::exit(1);
            }
        }
        WebhookCommand::Add { account, mode, url, allow_private, database, json } => {
            let account = parse_account(&account)?;
            let store = database.open().await?;
            let policy = webhooks::ssrf::Policy { allow_private };
            let ep = webhooks::endpoints::add(&store, &account, mode.live(), &url, policy, now).await?;
            if json {
                println!("{}", endpoint_json(&ep));
            } else {
                println!(
                    "added {} ({} mode) -> {}\n  signing secret: {}",
                    ep.id,
                    Mode::of(ep.livemode),
                    ep.url,
                    ep.secret
                );
            }
            Ok(())
        }
        WebhookCommand::List { account, mode, database, json } => {
            let account = parse_account(&account)?;
            let store = database.open().await?;
            let eps = store.list_endpoints(&account, mode.map(Mode::live)).await?;
            let modes: Vec<bool> = match mode {
                Some(m) => vec![m.live()],
                None => vec![false, true],
            };
            let mut signing = Vec::new();
            for live in modes {
                let s = store.signing_secret(&store::Scope { account: account.clone(), livemode: live }, now).await?;
                signing.push((live, s));
            }
            if json {
                let out = serde_json::json!({
                    "endpoints": eps.iter().map(endpoint_json).collect::<Vec<_>>(),
                    "charge_url_secrets": signing.iter().map(|(l, s)| serde_json::json!({"mode": Mode::of(*l), "secret": s.secret})).collect::<Vec<_>>(),
                });
                println!("{out}");
            } else {
                for e in &eps {
                    println!("{}  {}  {}  secret {}", e.id, Mode::of(e.livemode), e.url, e.secret);
                }
                for (l, s) in &signing {
                    println!("secret for charges' own webhook_endpoints ({} mode): {}", Mode::of(*l), s.secret);
                }
            }
            Ok(())
        }
        WebhookCommand::Remove { id, database } => {
            let id = parse_endpoint(&id)?;
            let store = database.open().await?;
            store.delete_endpoint(&id, now).await?;
            println!("removed {id}");
            Ok(())
        }
        WebhookCommand::RollSecret { id, account, mode, database, json } => {
            let store = database.open().await?;
            let (secret, until) = match (id, account, mode) {
                (Some(id), _, _) => {
                    let ep = webhooks::endpoints::roll(&store, &parse_endpoint(&id)?, now).await?;
                    (ep.secret, ep.previous_until)
                }
                (None, Some(account), Some(mode)) => {
                    let scope = store::Scope { account: parse_account(&account)?, livemode: mode.live() };
                    let s = webhooks::endpoints::roll_signing(&store, &scope, now).await?;
                    (s.secret, s.previous_until)
                }
                _ => anyhow::bail!("give --id, or --account and --mode"),
            };
            let until = until.map(|t| t.iso()).unwrap_or_default();
            if json {
                println!("{}", serde_json::json!({"secret": secret, "previous_secret_valid_until": until}));
            } else {
                println!("new signing secret: {secret}\n  the previous secret also signs until {until}");
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_lists_every_api_version_satang_speaks() {
        use crate::api::version::ApiVersion;
        let listed: Vec<&str> = ApiVersion::ALL.iter().map(|v| v.as_str()).collect();
        assert!(VERSION.ends_with(&format!("(Omise API versions {})", listed.join(", "))), "{VERSION}");
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn flat_fees_parse_in_major_units_without_floats() {
        assert_eq!(parse_major("10.5", Currency::Thb), Amount::new(1050).ok());
        assert_eq!(parse_major("0", Currency::Thb), Amount::new(0).ok());
        assert_eq!(parse_major("3", Currency::Sgd), Amount::new(300).ok());
        assert_eq!(parse_major("1.234", Currency::Thb), None);
        assert_eq!(parse_major("-1", Currency::Thb), None);
        assert_eq!(parse_major("abc", Currency::Thb), None);
    }

    #[test]
    fn fee_arguments_are_checked_against_the_registry() {
        let acct = AccountId::generate(true).to_string();
        assert!(fee_args(&acct, "alipay_hk", "SGD", "2.9", "0", "0").is_ok());
        assert!(fee_args(&acct, "alipay", "SGD", "2.9", "0", "0").is_err());
        assert!(fee_args(&acct, "paypal", "THB", "2.9", "0", "0").is_err());
        assert!(fee_args(&acct, "alipay", "THB", "101", "0", "0").is_err());
        assert!(fee_args("nope", "alipay", "THB", "3", "7", "0").is_err());
    }
}
