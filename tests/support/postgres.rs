//! A fresh PostgreSQL schema per test, in the database `JOURNEYC_TEST_POSTGRES_URL`
//! names (`.ci/test` makes one per run). Without that variable the PostgreSQL tests
//! say on the terminal that they were skipped.

#![allow(dead_code)]

use std::io::Write;

/// The variable that names the test database.
pub const URL_VAR: &str = "JOURNEYC_TEST_POSTGRES_URL";

/// A URL whose connections work in a new, empty schema named after `name`, or `None`
/// (having said so) when no test database is configured.
pub fn fresh_url(name: &str) -> Option<String> {
    fresh_url_from(URL_VAR, name)
}

/// `fresh_url` in the database the variable `var` names.
pub fn fresh_url_from(var: &str, name: &str) -> Option<String> {
    let Some(base) = std::env::var(var).ok().filter(|u| !u.trim().is_empty()) else {
        // Written to the terminal itself, past the test harness's capture: a skip
        // must never look like a pass.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED PostgreSQL part of `{name}`: {var} is not set"
        );
        return None;
    };
    let schema = schema_name(name);
    psql(
        &base,
        &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
    );
    Some(schema_url(&base, &schema))
}

/// The URL of `fresh_url(name)`'s schema again, as it is: for a second process or a
/// store opened anew.
pub fn same_url(name: &str) -> String {
    let base = std::env::var(URL_VAR).expect("a test that reopens has a database");
    let schema = schema_name(name);
    schema_url(&base, &schema)
}

fn schema_name(name: &str) -> String {
    format!(
        "t_{}",
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
    )
}

fn schema_url(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// Runs `sql` on the database at `url`.
pub fn psql(url: &str, sql: &str) {
    query(url, sql);
}

/// The rows `sql` gives on the database at `url`, each column as text (NULL as
/// "NULL"). It runs on a thread of its own, so async tests may call it too.
pub fn query(url: &str, sql: &str) -> Vec<Vec<String>> {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("{URL_VAR} does not connect: {e}"));
            let driver = tokio::spawn(conn);
            let messages = client
                .simple_query(&sql)
                .await
                .unwrap_or_else(|e| panic!("`{sql}` failed: {e}"));
            drop(client);
            let _ = driver.await;
            messages
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                        (0..r.len())
                            .map(|i| r.get(i).unwrap_or("NULL").to_string())
                            .collect(),
                    ),
                    _ => None,
                })
                .collect()
        })
    })
    .join()
    .unwrap()
}

/// The one number `sql` gives.
pub fn number(url: &str, sql: &str) -> i64 {
    query(url, sql)[0][0].parse().unwrap()
}
