//! `satang backup --to FILE` and `satang restore --from FILE`, for SQLite.
//!
//! A backup uses SQLite's online backup API: it copies the database page by page while `satang serve`
//! keeps serving, and restarts a step when a write lands on a page already copied, so the file it leaves
//! is one consistent moment of the database (every charge with its events, ledger rows and outbox rows,
//! since they commit together). It is written beside the target as `FILE.partial`, checked
//! (`pragma integrity_check`, and the schema is satang's), fsynced and only then renamed to `FILE`, so a
//! crash mid-backup never leaves a file that looks complete.
//!
//! A restore checks the backup the same way and copies it into the database the URL names, through the
//! same API, so the target's WAL and its readers stay consistent. Stop `satang serve` and `satang worker`
//! first: a running node keeps caches (keys) of the database it had. An existing database is only
//! replaced with `--force`.
//!
//! PostgreSQL has its own tools, which are better than anything satang could do: `pg_dump -Fc` for a
//! consistent backup while serving, `pg_restore --clean` to restore (README, "Backups").

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rusqlite::{Connection, OpenFlags};

/// What a backup or restore copied.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Copied {
    pub file: String,
    pub bytes: u64,
    pub charges: i64,
    pub events: i64,
    pub schema_version: i64,
}

/// The SQLite file of a database URL, or a clear refusal for PostgreSQL.
pub fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        return Ok(PathBuf::from(path.trim_start_matches("//")));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        bail!(
            "satang backup and restore are for SQLite; for PostgreSQL use its own tools, which are consistent \
             while satang serves:\n  pg_dump -Fc -f satang.dump '{url}'\n  pg_restore --clean --if-exists -d '{url}' satang.dump",
            url = crate::store::redact_url(url)
        );
    }
    bail!("unsupported database URL (expected sqlite:PATH): {}", crate::store::redact_url(url))
}

/// Checks that `conn` is a sound satang database, and counts what it holds.
fn inspect(conn: &Connection, file: &Path) -> anyhow::Result<Copied> {
    let check: String = conn.query_row("pragma integrity_check", [], |r| r.get(0))?;
    if check != "ok" {
        bail!("{} is damaged: integrity_check says {check}", file.display());
    }
    let schema_version: i64 = conn
        .query_row("select coalesce(max(version), 0) from schema_migrations", [], |r| r.get(0))
        .with_context(|| format!("{} is not a satang database (it has no schema_migrations)", file.display()))?;
    let count = |table: &str| conn.query_row(&format!("select count(*) from {table}"), [], |r| r.get::<_, i64>(0));
    Ok(Copied {
        file: file.display().to_string(),
        bytes: std::fs::metadata(file).map(|m| m.len()).unwrap_or(0),
        charges: count("charges")?,
        events: count("events")?,
        schema_version,
    })
}

/// Pages copied per step; between steps the source is unlocked, so serving goes on.
const PAGES_PER_STEP: std::os::raw::c_int = 1024;

fn copy(src: &Connection, dst: &mut Connection) -> anyhow::Result<()> {
    let backup = rusqlite::backup::Backup::new(src, dst)?;
    backup.run_to_completion(PAGES_PER_STEP, std::time::Duration::from_millis(5), None)?;
    Ok(())
}

/// Copies the live database at `db_url` to `to`.
pub fn backup(db_url: &str, to: &Path, force: bool) -> anyhow::Result<Copied> {
    let from = sqlite_path(db_url)?;
    if !from.exists() {
        bail!("there is no database at {}", from.display());
    }
    if to.exists() && !force {
        bail!("{} exists; pass --force to overwrite it", to.display());
    }
    let src = Connection::open_with_flags(&from, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .with_context(|| format!("opening {}", from.display()))?;
    src.busy_timeout(std::time::Duration::from_secs(5))?;
    let partial = PathBuf::from(format!("{}.partial", to.display()));
    let _ = std::fs::remove_file(&partial);
    let mut dst = Connection::open(&partial).with_context(|| format!("creating {}", partial.display()))?;
    copy(&src, &mut dst)?;
    // One file: the copy is in rollback-journal mode, with nothing left in a WAL beside it.
    dst.pragma_update(None, "journal_mode", "delete")?;
    let copied = inspect(&dst, &partial)?;
    drop(dst);
    std::fs::File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, to).with_context(|| format!("moving the backup to {}", to.display()))?;
    Ok(Copied { file: to.display().to_string(), ..copied })
}

/// Replaces the database at `db_url` with the backup `from`.
pub fn restore(from: &Path, db_url: &str, force: bool) -> anyhow::Result<Copied> {
    let to = sqlite_path(db_url)?;
    let src = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening the backup {}", from.display()))?;
    inspect(&src, from).context("the backup cannot be restored")?;
    if to.exists() && std::fs::metadata(&to)?.len() > 0 && !force {
        bail!(
            "{} exists; stop satang, then pass --force to replace it with the backup (keep a copy first: satang backup)",
            to.display()
        );
    }
    let mut dst = crate::store::sqlite::connect(&to)?;
    copy(&src, &mut dst)?;
    dst.pragma_update(None, "journal_mode", "wal")?;
    inspect(&dst, &to)
}
