use std::collections::HashMap;

use leganto_shared::config::{Config, ConfigError};

#[test]
fn config_from_a_lookup_without_the_bucket_names_the_bucket_setting() {
    let vars = HashMap::from([
        ("ALMA_BASE_URL", "http://127.0.0.1:9"),
        ("EMAIL_FROM", "library@example.edu"),
        ("EMAIL_TO", "a@example.edu"),
    ]);
    let err = Config::from_lookup(|name| vars.get(name).map(|v| v.to_string())).unwrap_err();
    assert_eq!(err, ConfigError::Missing { name: "BUCKET" });
    assert!(err.to_string().contains("BUCKET"), "{err}");
}
