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
    migration!("sqlite", 4, "0004_list_order"),
    migration!("sqlite", 5, "0005_list_counts"),
    migration!("sqlite", 6, "0006_idempotency"),
    migration!("sqlite", 7, "0007_connector"),
    migration!("sqlite", 8, "0008_refund_intents"),
    migration!("sqlite", 9, "0009_checkout"),
    migration!("sqlite", 10, "0010_dashboard"),
    migration!("sqlite", 11, "0011_support_url"),
    migration!("sqlite", 12, "0012_attempt_response"),
    migration!("sqlite", 13, "0013_dashboard_filters"),
    migration!("sqlite", 14, "0014_password_change"),
    migration!("sqlite", 15, "0015_index_upkeep"),
    migration!("sqlite", 16, "0016_charge_columns"),
    migration!("sqlite", 17, "0017_list_marks"),
    migration!("sqlite", 18, "0018_marks_fold_trigger"),
];

/// PostgreSQL's steps: the same tables as SQLite's, in PostgreSQL types.
pub const POSTGRES: &[Migration] = &[
    migration!("postgres", 1, "0001_initial"),
    migration!("postgres", 2, "0002_money"),
    migration!("postgres", 3, "0003_webhooks"),
    migration!("postgres", 4, "0004_list_order"),
    migration!("postgres", 5, "0005_list_counts"),
    migration!("postgres", 6, "0006_idempotency"),
    migration!("postgres", 7, "0007_connector"),
    migration!("postgres", 8, "0008_refund_intents"),
    migration!("postgres", 9, "0009_checkout"),
    migration!("postgres", 10, "0010_dashboard"),
    migration!("postgres", 11, "0011_support_url"),
    migration!("postgres", 12, "0012_attempt_response"),
    migration!("postgres", 13, "0013_dashboard_filters"),
    migration!("postgres", 14, "0014_password_change"),
    migration!("postgres", 15, "0015_index_upkeep"),
    migration!("postgres", 16, "0016_charge_columns"),
    migration!("postgres", 17, "0017_list_marks"),
    migration!("postgres", 18, "0018_marks_fold_trigger"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_dialects_have_the_same_steps() {
        let versions = |m: &[Migration]| m.iter().map(|m| (m.version, m.name)).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES));
        // The data tables are the same; the list positions and counters (0004, 0005) differ by design.
        for (a, b) in SQLITE.iter().zip(POSTGRES).take(3) {
            let tables = |sql: &str| sql.matches("create table").count();
            assert_eq!(tables(a.sql), tables(b.sql), "{}", a.name);
        }
    }
}
