//! The `satang` command line: `serve`, `migrate`, `account create`.

use std::sync::Arc;

use clap::{Parser, Subcommand};
use satang_domain::{Clock, SystemClock};

use crate::accounts;
use crate::config::{DatabaseArgs, ServeArgs};
use crate::startup::{Application, shutdown_signal};
use crate::store;

#[derive(Debug, Parser)]
#[command(
    name = "satang",
    version,
    about = "A self-hostable, Omise-compatible payment gateway for Alipay and Alipay HK"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway (API and payer pages).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Manage merchant accounts.
    #[command(subcommand)]
    Account(AccountCommand),
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
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(db) => {
            store::open(&db.url).await?;
            println!("migrations applied to {}", store::redact_url(&db.url));
            Ok(())
        }
        Command::Account(AccountCommand::Create { name, database, json }) => {
            let store = store::open(&database.url).await?;
            let (record, shown) = accounts::new_account(&name, SystemClock.now());
            store.create_account(record).await?;
            if json {
                println!("{}", serde_json::to_string(&shown)?);
            } else {
                print_account(&shown, true);
            }
            Ok(())
        }
    }
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

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let store = store::open(&args.database.url).await?;
    tracing::info!(database = %store::redact_url(&args.database.url), backend = store.backend(), "database ready");
    if store.count_accounts().await? == 0 {
        let (record, shown) = accounts::new_account("Demo Shop", SystemClock.now());
        store.create_account(record).await?;
        println!("No account existed, so a demo account was created. Its test keys:");
        print_account(&shown, false);
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = Application::build(store, clock, args.listen, args.public_url.clone()).await?;
    let public = args.public_url(app.addr());
    tracing::info!(listen = %app.addr(), public_url = %public, "satang is serving");
    println!("satang listening on http://{} (public URL {public})", app.addr());
    app.run_until_stopped(shutdown_signal()).await
}
