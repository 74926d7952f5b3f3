use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    satang::telemetry::init();
    let cli = satang::cli::Cli::parse();
    match satang::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("satang: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
