//! Schema migrations for both dialects, embedded in the binary and applied in order at `serve` start and
//! by `satang migrate`. An applied migration is never edited; a change is a new file
//! (`migrations/<dialect>/NNNN_name.sql`).

/// One schema step.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migration {
    ($dialect:literal, $version:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $file,
            sql: include_str!(concat!("../../migrations/", $dialect, "/", $file, ".sql")),
        }
    };
}

/// SQLite's steps.
pub const SQLITE: &[Migration] = &[
    migration!("sqlite", 1, "0001_initial"),
    migration!("sqlite", 2, "0002_money"),
    migration!("sqlite", 3, "0003_webhooks"),
];
