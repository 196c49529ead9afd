//! Checks about the backends themselves rather than the contract: SQLite also runs in
//! memory.

#[tokio::test]
async fn an_in_memory_sqlite_database_works_for_demos() {
    use undersign_test_kit::seed_school;
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
