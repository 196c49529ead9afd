//! The two stores share their query modules word for word (bar the store's name); what
//! differs between SQLite and PostgreSQL lives in each crate's `db.rs`, `errors.rs`,
//! `lib.rs` and migration. This keeps them from drifting apart.

use std::path::Path;

const SHARED: [&str; 5] = [
    "ledger.rs",
    "people.rs",
    "policies.rs",
    "schools.rs",
    "signing.rs",
];

#[test]
fn both_stores_run_the_same_queries() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for file in SHARED {
        let read = |krate: &str, name: &str| {
            std::fs::read_to_string(crates.join(krate).join("src").join(file))
                .unwrap()
                .replace(name, "Store")
        };
        let sqlite = read("store-sqlite", "SqliteStore");
        let postgres = read("store-postgres", "PostgresStore");
        let first_difference = sqlite
            .lines()
            .zip(postgres.lines())
            .position(|(a, b)| a != b)
            .map(|i| i + 1);
        assert!(
            sqlite == postgres,
            "src/{file} differs between store-sqlite and store-postgres (line {first_difference:?}); \
             keep backend differences in db.rs or errors.rs"
        );
    }
}
