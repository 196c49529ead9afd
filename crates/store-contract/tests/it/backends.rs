//! Checks about the backends themselves rather than the contract: the two stores share
//! their query modules word for word (bar the store's name), with what differs kept in
//! each crate's `db.rs`, `errors.rs`, `lib.rs` and migration; and SQLite also runs in
//! memory.

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

#[tokio::test]
async fn an_in_memory_sqlite_database_works_for_demos() {
    use undersign_store_contract::seed_school;
    let store = undersign_store_sqlite::SqliteStore::open("sqlite::memory:")
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let seed = seed_school(&store, "memory").await;
    assert_eq!(
        undersign_core::store::Signing::obligations(&store, seed.school.id, seed.staff.id)
            .await
            .unwrap()
            .len(),
        1
    );
}
