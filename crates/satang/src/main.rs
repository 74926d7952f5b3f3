use clap::Parser;

/// jemalloc instead of glibc's malloc: the request path allocates many small strings and maps, and glibc's
/// malloc showed up high in the profile. (mimalloc was tried first: its eager page purging cost more in
/// `madvise` TLB shootdowns on the SQLite writer thread than it saved.)
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
